export { GatewayClient } from "./client.js";
export type {
  CallOptions,
  ConnectionState,
  EventHandler,
  EventMessage,
  GatewayClientOptions,
  ServerCallContext,
  ServerCallHandler,
  StateChange,
  StreamOptions,
  Subscription,
  TokenProvider,
} from "./client.js";
export { RpcError } from "./errors.js";
export type { RpcErrorShape } from "./errors.js";
export type { Envelope, MessagePackFunctions, WireFormat } from "./codec.js";
export type { ReconnectOptions } from "./backoff.js";
export type { WebSocketConstructor, WebSocketLike } from "./websocket.js";
