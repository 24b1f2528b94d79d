/** The error object of the wire protocol: `{"code","status","message","retryable","retryAfterMs","details"}`. */
export interface RpcErrorShape {
  code: string;
  status?: number;
  message?: string;
  retryable?: boolean;
  retryAfterMs?: number | null;
  details?: unknown;
}

/** Default HTTP-like status and retryability of each protocol error code (docs/protocol.md, "Error codes"). */
const DEFAULTS: Record<string, [status: number, retryable: boolean]> = {
  INVALID_ARGUMENT: [400, false],
  UNAUTHENTICATED: [401, false],
  PERMISSION_DENIED: [403, false],
  NOT_FOUND: [404, false],
  ALREADY_EXISTS: [409, false],
  ABORTED: [409, true],
  FAILED_PRECONDITION: [412, false],
  RESOURCE_EXHAUSTED: [429, true],
  CANCELLED: [499, false],
  INTERNAL: [500, false],
  UNIMPLEMENTED: [501, false],
  UNAVAILABLE: [503, true],
  DEADLINE_EXCEEDED: [504, true],
};

/**
 * An error reply of the gateway, or one the client made up for the same situations (timeout, abort, lost connection),
 * so that callers handle every failure of a call in one way. Throw one from a {@link GatewayClient.handle} handler to
 * answer the server's call with that error.
 */
export class RpcError extends Error {
  /** The protocol error code, e.g. `NOT_FOUND`, `UNAVAILABLE`. */
  readonly code: string;
  /** The HTTP-like status of the code (404, 503, ...). */
  readonly status: number;
  /** Whether the same call may succeed when made again (after {@link retryAfterMs} when given). */
  readonly retryable: boolean;
  /** How long the server asks the caller to wait before a retry, when it knows. */
  readonly retryAfterMs: number | undefined;
  /** Structured details the server attached, if any. */
  readonly details: unknown;

  constructor(code: string, message?: string, init: Partial<Omit<RpcErrorShape, "code" | "message">> & { cause?: unknown } = {}) {
    const [status, retryable] = DEFAULTS[code] ?? [500, false];
    super(message ?? code, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "RpcError";
    this.code = code;
    this.status = init.status ?? status;
    this.retryable = init.retryable ?? retryable;
    this.retryAfterMs = init.retryAfterMs ?? undefined;
    this.details = init.details;
  }

  /** Builds an RpcError from the wire's error object (tolerating a malformed one). */
  static fromWire(error: unknown): RpcError {
    if (error === null || typeof error !== "object") return new RpcError("INTERNAL", "malformed error reply");
    const e = error as Partial<RpcErrorShape>;
    return new RpcError(typeof e.code === "string" ? e.code : "INTERNAL", typeof e.message === "string" ? e.message : undefined, {
      status: typeof e.status === "number" ? e.status : undefined,
      retryable: typeof e.retryable === "boolean" ? e.retryable : undefined,
      retryAfterMs: typeof e.retryAfterMs === "number" ? e.retryAfterMs : undefined,
      details: e.details,
    });
  }

  /** The wire's error object for this error. */
  toWire(): RpcErrorShape {
    const shape: RpcErrorShape = { code: this.code, status: this.status, message: this.message, retryable: this.retryable };
    if (this.retryAfterMs !== undefined) shape.retryAfterMs = this.retryAfterMs;
    if (this.details !== undefined) shape.details = this.details;
    return shape;
  }
}
