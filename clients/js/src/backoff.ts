/** How the client waits between reconnect attempts. */
export interface ReconnectOptions {
  /** Delay before the first retry, in ms (default 250). */
  initialDelayMs?: number;
  /** The cap: no wait is longer than this, in ms (default 10000). */
  maxDelayMs?: number;
  /** Growth per failed attempt (default 2). */
  factor?: number;
  /** Give up after this many failed attempts in a row (default: never). */
  maxAttempts?: number;
}

/**
 * "Equal jitter": half of the exponential delay is fixed, the other half random, so a crowd of clients dropped by one
 * restart spreads its reconnects out instead of arriving together, while none retries in a tight loop.
 */
export function backoffDelay(attempt: number, options: Required<ReconnectOptions>, random: () => number = Math.random): number {
  const exp = Math.min(options.maxDelayMs, options.initialDelayMs * Math.pow(options.factor, attempt));
  return Math.round(exp / 2 + random() * (exp / 2));
}

export const defaultReconnect: Required<ReconnectOptions> = {
  initialDelayMs: 250,
  maxDelayMs: 10_000,
  factor: 2,
  maxAttempts: Number.POSITIVE_INFINITY,
};
