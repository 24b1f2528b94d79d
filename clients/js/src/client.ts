import { RpcError } from "./errors.js";
import { loadCodec, type Codec, type Envelope, type MessagePackFunctions, type WireFormat } from "./codec.js";
import { backoffDelay, defaultReconnect, type ReconnectOptions } from "./backoff.js";
import { OPEN, type WebSocketConstructor, type WebSocketLike } from "./websocket.js";

/** Where the connection is: `connecting` (first attempt), `open`, `reconnecting` (after a drop), `closed` (by {@link GatewayClient.close}). */
export type ConnectionState = "connecting" | "open" | "reconnecting" | "closed";

/** What {@link GatewayClient.onState} listeners get besides the state. */
export interface StateChange {
  state: ConnectionState;
  /** The close code of the connection that just dropped (on `reconnecting`). */
  code?: number;
  reason?: string;
  /** Failed attempts in a row so far. */
  attempt: number;
  /** How long the client waits before its next attempt (on `reconnecting`). */
  delayMs?: number;
}

/** A token, or a function asked for one before every connection attempt (so an expired token is refreshed on reconnect). */
export type TokenProvider = string | (() => string | null | undefined | Promise<string | null | undefined>);

export interface GatewayClientOptions {
  /** Wire format: `json` (default, no dependency) or `msgpack` (imports `@msgpack/msgpack` on first connect). */
  format?: WireFormat;
  /** The WebSocket implementation; defaults to `globalThis.WebSocket`. In Node 20 pass `WebSocket` from the `ws` package. */
  WebSocket?: WebSocketConstructor;
  /** Sent as the `bearer.<token>` entry of Sec-WebSocket-Protocol (browsers cannot set headers); asked on every attempt. */
  token?: TokenProvider;
  /** Reconnect after a drop (default true), with exponential backoff, jitter and a cap. */
  reconnect?: boolean | ReconnectOptions;
  /** Default timeout of {@link GatewayClient.call}, in ms; 0 or absent: none. */
  timeoutMs?: number;
  /** MessagePack functions to use instead of importing `@msgpack/msgpack`. */
  msgpack?: MessagePackFunctions;
  /** Errors that have no caller to go to (a handler that threw, a subscription the server refused on reconnect). */
  onError?: (error: unknown) => void;
}

export interface CallOptions {
  /** Rejects with DEADLINE_EXCEEDED (and cancels the call on the server) after this many ms. */
  timeoutMs?: number;
  /** Aborting rejects with CANCELLED and sends `cancel` for a call already sent. */
  signal?: AbortSignal;
  /** Called with each `progress` message of the call. */
  onProgress?: (progress: unknown) => void;
}

export interface StreamOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  onProgress?: (progress: unknown) => void;
}

/** An event pushed by the server: `{"event","topic"?,"data"}` (no topic for a direct or user event). */
export interface EventMessage<T = unknown> {
  event: string;
  topic?: string;
  data: T;
}

export type EventHandler<T = unknown> = (data: T, message: EventMessage<T>) => void;

/** A topic subscription; the client restores it after every reconnect until {@link Subscription.unsubscribe}. */
export interface Subscription {
  readonly topic: string;
  /** Settles when the server accepted (or refused) the first `$subscribe` of this topic. */
  readonly ready: Promise<void>;
  unsubscribe(): Promise<void>;
}

/** What a {@link GatewayClient.handle} handler gets besides the input. */
export interface ServerCallContext {
  path: string;
  /** Aborted when the server cancels the call or the connection drops. */
  signal: AbortSignal;
}

export type ServerCallHandler = (input: unknown, context: ServerCallContext) => unknown;

interface Pending {
  onResult(value: unknown): void;
  onError(error: RpcError): void;
  onData?(value: unknown): void;
  onProgress?: ((progress: unknown) => void) | undefined;
}

interface Waiter {
  resolve(socket: WebSocketLike): void;
  reject(error: unknown): void;
}

/** A timeout and a caller's signal combined into one signal whose reason is the RpcError the call fails with. */
class Deadline {
  readonly signal: AbortSignal;
  private readonly controller = new AbortController();
  private readonly timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onAbort: (() => void) | undefined;

  constructor(timeoutMs: number | undefined, private readonly outer: AbortSignal | undefined) {
    this.signal = this.controller.signal;
    if (outer?.aborted) {
      this.controller.abort(new RpcError("CANCELLED", "the call was aborted", { cause: outer.reason }));
      return;
    }
    if (outer) {
      this.onAbort = () => this.controller.abort(new RpcError("CANCELLED", "the call was aborted", { cause: outer.reason }));
      outer.addEventListener("abort", this.onAbort, { once: true });
    }
    if (timeoutMs && timeoutMs > 0)
      this.timer = setTimeout(() => this.controller.abort(new RpcError("DEADLINE_EXCEEDED", `no answer within ${timeoutMs} ms`)), timeoutMs);
  }

  dispose(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.onAbort) this.outer?.removeEventListener("abort", this.onAbort);
  }
}

const unavailable = (message: string, retryable: boolean) => new RpcError("UNAVAILABLE", message, { retryable });

/**
 * A client of the gateway over one WebSocket that it keeps open: calls, notifications, streams, topic subscriptions,
 * events, and the server's calls to this client. It connects on construction and reconnects after a drop.
 */
export class GatewayClient {
  private readonly url: string;
  private readonly options: GatewayClientOptions;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly reconnect: Required<ReconnectOptions> | null;
  private codec: Codec | undefined;
  private socket: WebSocketLike | null = null;
  /** The socket of the attempt under way (not yet open), so close() can abandon it. */
  private pendingSocket: WebSocketLike | null = null;
  private currentState: ConnectionState = "connecting";
  private closed = false;
  private nextId = 1;
  private readonly pending = new Map<number | string, Pending>();
  private waiters: Waiter[] = [];
  private readonly topics = new Map<string, Set<EventHandler>>();
  private readonly events = new Map<string, Set<EventHandler>>();
  private readonly handlers = new Map<string, ServerCallHandler>();
  private readonly serverCalls = new Map<number | string, AbortController>();
  private readonly stateListeners = new Set<(change: StateChange) => void>();
  private wakeSleep: (() => void) | null = null;
  private socketClosed: Promise<void> = Promise.resolve();

  constructor(url: string, options: GatewayClientOptions = {}) {
    this.url = url;
    this.options = options;
    const impl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!impl) throw new TypeError("no WebSocket implementation: pass options.WebSocket (e.g. WebSocket from the 'ws' package in Node 20)");
    this.WebSocketImpl = impl;
    this.reconnect = options.reconnect === false ? null : { ...defaultReconnect, ...(typeof options.reconnect === "object" ? options.reconnect : {}) };
    void this.run();
  }

  /** The connection's current state. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** Resolves once the connection is open (subscriptions restored); rejects if the client is closed or the signal aborts. */
  async ready(options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<void> {
    const deadline = new Deadline(options.timeoutMs, options.signal);
    try {
      await this.whenOpen(deadline.signal);
    } finally {
      deadline.dispose();
    }
  }

  /** Calls a request procedure; resolves with its result, rejects with an {@link RpcError}. */
  async call<T = unknown>(path: string, input?: unknown, options: CallOptions = {}): Promise<T> {
    const deadline = new Deadline(options.timeoutMs ?? this.options.timeoutMs, options.signal);
    try {
      const socket = await this.whenOpen(deadline.signal);
      return (await this.request(socket, path, input, deadline.signal, options.onProgress)) as T;
    } finally {
      deadline.dispose();
    }
  }

  /** Sends a notification (no id, never answered); resolves once it is handed to the socket. */
  async notify(path: string, input?: unknown, options: { signal?: AbortSignal } = {}): Promise<void> {
    const deadline = new Deadline(undefined, options.signal);
    try {
      const socket = await this.whenOpen(deadline.signal);
      this.sendOn(socket, { path, input });
    } finally {
      deadline.dispose();
    }
  }

  /**
   * Calls a subscription procedure: an async iterable of its items, ending at `done` and throwing its error. Leaving
   * the loop early (break, return, throw) or aborting the signal sends `cancel`. The request goes out when iteration starts.
   */
  async *stream<T = unknown>(path: string, input?: unknown, options: StreamOptions = {}): AsyncGenerator<T, void, undefined> {
    const deadline = new Deadline(options.timeoutMs, options.signal);
    const items: T[] = [];
    let finished = false;
    let failure: RpcError | undefined;
    let wake: (() => void) | null = null;
    let id: number | undefined;
    const onAbort = () => {
      if (id !== undefined && this.pending.delete(id)) this.trySend({ id, cancel: true });
      failure = deadline.signal.reason as RpcError;
      finished = true;
      wake?.();
    };
    try {
      const socket = await this.whenOpen(deadline.signal);
      id = this.nextId++;
      this.pending.set(id, {
        onData: (value) => { items.push(value as T); wake?.(); },
        onResult: () => { finished = true; wake?.(); },
        onError: (error) => { failure = error; finished = true; wake?.(); },
        onProgress: options.onProgress,
      });
      deadline.signal.addEventListener("abort", onAbort, { once: true });
      this.sendOn(socket, { id, path, input });
      while (true) {
        if (items.length > 0) {
          yield items.shift() as T;
          continue;
        }
        if (failure) throw failure;
        if (finished) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    } finally {
      deadline.signal.removeEventListener("abort", onAbort);
      // Still pending: the consumer left early; tell the server to stop the handler.
      if (id !== undefined && this.pending.delete(id)) this.trySend({ id, cancel: true });
      deadline.dispose();
    }
  }

  /**
   * Joins a topic (`$subscribe`) and calls the handler with each event published to it. The client re-joins after
   * every reconnect. Several handlers of one topic share one server subscription.
   */
  subscribe<T = unknown>(topic: string, handler: EventHandler<T>): Subscription {
    let handlers = this.topics.get(topic);
    const first = handlers === undefined;
    if (!handlers) {
      handlers = new Set();
      this.topics.set(topic, handlers);
    }
    const set = handlers;
    set.add(handler as EventHandler);
    let ready: Promise<void>;
    if (first) {
      ready = this.call("$subscribe", { topic }).then(
        () => undefined,
        (error: unknown) => {
          // Refused: forget it, or every reconnect would ask again.
          if (this.topics.get(topic) === set) this.topics.delete(topic);
          throw error;
        },
      );
      // The caller may never look at `ready`; a refusal must not become an unhandled rejection.
      ready.catch(() => undefined);
    } else {
      ready = Promise.resolve();
    }
    return {
      topic,
      ready,
      unsubscribe: async () => {
        set.delete(handler as EventHandler);
        if (set.size > 0 || this.topics.get(topic) !== set) return;
        this.topics.delete(topic);
        if (this.currentState === "open") await this.call("$unsubscribe", { topic });
      },
    };
  }

  /** Calls the handler with every event of that name (topic or direct); returns the function that removes it. */
  on<T = unknown>(eventName: string, handler: EventHandler<T>): () => void {
    let set = this.events.get(eventName);
    if (!set) this.events.set(eventName, (set = new Set()));
    const handlers = set;
    handlers.add(handler as EventHandler);
    return () => {
      handlers.delete(handler as EventHandler);
    };
  }

  /**
   * Answers the server's calls to `path` (server-to-client calls) with the handler's result; a thrown {@link RpcError}
   * goes back as that error, anything else as INTERNAL. Returns the function that removes the handler.
   */
  handle(path: string, handler: ServerCallHandler): () => void {
    this.handlers.set(path, handler);
    return () => {
      if (this.handlers.get(path) === handler) this.handlers.delete(path);
    };
  }

  /** Calls the listener on every state change; returns the function that removes it. */
  onState(listener: (change: StateChange) => void): () => void {
    this.stateListeners.add(listener);
    return () => {
      this.stateListeners.delete(listener);
    };
  }

  /** Closes the connection for good (1000): pending calls fail with UNAVAILABLE (not retryable); no reconnect. */
  async close(): Promise<void> {
    if (this.closed) return this.socketClosed;
    this.closed = true;
    this.setState({ state: "closed", attempt: 0 });
    this.wakeSleep?.();
    const socket = this.socket ?? this.pendingSocket;
    this.failPending(unavailable("the client was closed", false));
    for (const w of this.waiters.splice(0)) w.reject(unavailable("the client was closed", false));
    if (socket && socket.readyState <= OPEN) socket.close(1000, "client closed");
    return this.socketClosed;
  }

  // ---- connection loop ----

  private async run(): Promise<void> {
    let attempt = 0;
    let everOpened = false;
    try {
      this.codec = await loadCodec(this.options.format ?? "json", this.options.msgpack);
    } catch (error) {
      this.report(error);
      await this.close();
      return;
    }
    while (!this.closed) {
      let token: string | null | undefined;
      try {
        const t = this.options.token;
        token = typeof t === "function" ? await t() : t;
      } catch (error) {
        this.report(error);
      }
      if (this.closed) return;
      const outcome = await this.connectOnce(token);
      if (this.closed) return;
      if (outcome.opened) {
        everOpened = true;
        attempt = 0;
      }
      if (!this.reconnect || attempt >= this.reconnect.maxAttempts) {
        await this.close();
        return;
      }
      // 1001: the server is going away (restart, drain): another node or the new process can take us at once.
      const delayMs = outcome.opened && outcome.code === 1001 ? 0 : backoffDelay(attempt, this.reconnect);
      if (!outcome.opened) attempt++;
      this.setState({ state: everOpened ? "reconnecting" : "connecting", code: outcome.code, reason: outcome.reason, attempt, delayMs });
      if (delayMs > 0) await this.sleep(delayMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeSleep = () => {
        this.wakeSleep = null;
        done();
      };
    });
  }

  private connectOnce(token: string | null | undefined): Promise<{ opened: boolean; code: number; reason: string }> {
    const codec = this.codec!;
    const protocols = [codec.subprotocol];
    if (token) protocols.push("bearer." + token);
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocketImpl(this.url, protocols);
    } catch (error) {
      // A bad URL or a token that is not a valid subprotocol token: report it and let the backoff pace the retries.
      this.report(error);
      return Promise.resolve({ opened: false, code: 1006, reason: String(error) });
    }
    socket.binaryType = "arraybuffer";
    this.pendingSocket = socket;
    let opened = false;
    let resolveClosed!: () => void;
    this.socketClosed = new Promise<void>((r) => (resolveClosed = r));
    return new Promise((resolve) => {
      socket.onopen = () => {
        if (this.closed) {
          socket.close(1000, "client closed");
          return;
        }
        opened = true;
        this.pendingSocket = null;
        this.socket = socket;
        void this.restore(socket);
      };
      socket.onmessage = (event) => {
        const envelope = codec.decode(event.data);
        if (envelope) this.dispatch(socket, envelope);
        else this.report(new Error("the gateway sent a frame that is not an envelope of this format"));
      };
      socket.onerror = () => {
        // Always followed by a close event, which carries what there is to know.
      };
      socket.onclose = (event) => {
        if (this.socket === socket) this.socket = null;
        if (this.pendingSocket === socket) this.pendingSocket = null;
        this.failPending(unavailable(`the connection dropped (${event.code}${event.reason ? " " + event.reason : ""})`, true));
        for (const controller of this.serverCalls.values()) controller.abort();
        this.serverCalls.clear();
        resolveClosed();
        resolve({ opened, code: event.code, reason: event.reason });
      };
    });
  }

  /** Re-joins every topic on a new connection, then declares it open (so a caller that waited sees its rooms back). */
  private async restore(socket: WebSocketLike): Promise<void> {
    const joins = [...this.topics.keys()].map((topic) =>
      this.request(socket, "$subscribe", { topic }, undefined, undefined).catch((error: unknown) => {
        if (error instanceof RpcError && error.code === "UNAVAILABLE") return; // dropped again: the next attempt retries
        this.topics.delete(topic);
        this.report(error);
      }),
    );
    await Promise.all(joins);
    if (this.socket !== socket || this.closed) return;
    this.setState({ state: "open", attempt: 0 });
    for (const w of this.waiters.splice(0)) w.resolve(socket);
  }

  private whenOpen(signal: AbortSignal): Promise<WebSocketLike> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.closed) return Promise.reject(unavailable("the client was closed", false));
    if (this.currentState === "open" && this.socket?.readyState === OPEN) return Promise.resolve(this.socket);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(signal.reason);
      };
      const waiter: Waiter = {
        resolve: (s) => {
          signal.removeEventListener("abort", onAbort);
          resolve(s);
        },
        reject: (e) => {
          signal.removeEventListener("abort", onAbort);
          reject(e);
        },
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private request(socket: WebSocketLike, path: string, input: unknown, signal: AbortSignal | undefined, onProgress: ((p: unknown) => void) | undefined): Promise<unknown> {
    if (this.closed) return Promise.reject(unavailable("the client was closed", false));
    if (socket.readyState !== OPEN || this.socket !== socket) return Promise.reject(unavailable("the connection dropped", true));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        if (!this.pending.delete(id)) return;
        this.trySend({ id, cancel: true });
        reject(signal!.reason);
      };
      const settle = () => signal?.removeEventListener("abort", onAbort);
      this.pending.set(id, {
        onResult: (value) => { settle(); resolve(value); },
        onError: (error) => { settle(); reject(error); },
        onProgress,
      });
      signal?.addEventListener("abort", onAbort, { once: true });
      this.sendOn(socket, { id, path, input });
    });
  }

  // ---- incoming ----

  private dispatch(socket: WebSocketLike, m: Envelope): void {
    if (typeof m.path === "string") {
      void this.serve(socket, m);
      return;
    }
    if (m.id !== undefined && m.id !== null) {
      if (m.cancel === true) {
        this.serverCalls.get(m.id)?.abort();
        return;
      }
      const p = this.pending.get(m.id);
      if (!p) return; // late answer to a call we already gave up on (cancel, timeout)
      if (m.error !== undefined && m.error !== null) {
        this.pending.delete(m.id);
        p.onError(RpcError.fromWire(m.error));
      } else if (m.done === true) {
        this.pending.delete(m.id);
        p.onResult(undefined);
      } else if ("result" in m) {
        this.pending.delete(m.id);
        p.onResult(m.result ?? null);
      } else if ("data" in m) {
        p.onData?.(m.data);
      } else if ("progress" in m) {
        this.safely(() => p.onProgress?.(m.progress));
      }
      return;
    }
    if (typeof m.event === "string") {
      const message: EventMessage = { event: m.event, data: m.data ?? null };
      if (typeof m.topic === "string") message.topic = m.topic;
      if (message.topic !== undefined) for (const h of [...(this.topics.get(message.topic) ?? [])]) this.safely(() => h(message.data, message));
      for (const h of [...(this.events.get(message.event) ?? [])]) this.safely(() => h(message.data, message));
    }
  }

  private async serve(socket: WebSocketLike, m: Envelope): Promise<void> {
    const path = m.path!;
    const id = m.id;
    const handler = this.handlers.get(path);
    const answer = id !== undefined && id !== null;
    if (!handler) {
      if (answer) this.sendIfCurrent(socket, { id, error: new RpcError("NOT_FOUND", `this client has no handler for ${path}`).toWire() });
      return;
    }
    const controller = new AbortController();
    if (answer) this.serverCalls.set(id, controller);
    let reply: Envelope;
    try {
      const result = await handler(m.input ?? null, { path, signal: controller.signal });
      reply = { id, result: result ?? null };
    } catch (error) {
      if (error instanceof RpcError) reply = { id, error: error.toWire() };
      else {
        this.report(error);
        reply = { id, error: new RpcError("INTERNAL", "the client's handler failed").toWire() };
      }
    } finally {
      if (answer) this.serverCalls.delete(id);
    }
    // Cancelled by the server: it expects nothing more for that id.
    if (answer && !controller.signal.aborted) this.sendIfCurrent(socket, reply);
  }

  // ---- helpers ----

  private sendOn(socket: WebSocketLike, envelope: Envelope): void {
    socket.send(this.codec!.encode(envelope));
  }

  private sendIfCurrent(socket: WebSocketLike, envelope: Envelope): void {
    if (this.socket === socket && socket.readyState === OPEN) this.sendOn(socket, envelope);
  }

  private trySend(envelope: Envelope): void {
    const socket = this.socket;
    if (socket && socket.readyState === OPEN) this.sendOn(socket, envelope);
  }

  private failPending(error: RpcError): void {
    const entries = [...this.pending.values()];
    this.pending.clear();
    for (const p of entries) p.onError(error);
  }

  private setState(change: StateChange): void {
    if (this.closed && change.state !== "closed") return;
    this.currentState = change.state;
    for (const l of [...this.stateListeners]) this.safely(() => l(change));
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.report(error);
    }
  }

  private report(error: unknown): void {
    if (this.options.onError) this.options.onError(error);
    else console.warn("[gateway client]", error);
  }
}
