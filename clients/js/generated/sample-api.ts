// Generated from the gateway's $describe by clients/js/codegen/generate.mjs (types: json-schema-to-typescript).
// Do not edit: regenerate (make client-types) when the procedures change.
import type { CallOptions, GatewayClient, StreamOptions } from "../src/index.js";

export type AdminPingOutput = string;

export interface BlobEchoInput {
  data?: string;
  at?: string | null;
  name?: string | null;
}

export interface BlobEchoOutput {
  data?: string;
  at?: string | null;
  name?: string | null;
}

export interface BlobInfoInput {
  data?: string;
  at?: string | null;
  name?: string | null;
}

export interface BlobInfoOutput {
  length: string | number;
  sha256: string;
}

export interface ChatDmInput {
  user?: string | null;
  text?: string | null;
}

export interface ChatDmOutput {
  user: string;
  delivered: boolean;
}

export interface ChatJoinInput {
  room?: string | null;
}

export interface ChatJoinOutput {
  room: string;
  topic: string;
}

export interface ChatLeaveInput {
  room?: string | null;
}

export interface ChatLeaveOutput {
  room: string;
  topic: string;
}

export interface ChatLoginInput {
  user?: string | null;
}

export interface ChatLoginOutput {
  connectionId: string;
  userId: string | null;
  nodeId: string;
  roles: string[];
}

export interface ChatSendInput {
  room?: string | null;
  text?: string | null;
}

export interface ChatSendOutput {
  room: string;
  topic: string;
}

export interface ChatWhoamiOutput {
  connectionId: string;
  userId: string | null;
  nodeId: string;
  roles: string[];
}

export type EchoCallbackInput = unknown;

export type EchoCallbackOutput = unknown;

export interface EchoCountInput {
  n?: string | number;
  delayMs?: string | number;
}

export interface EchoCountItem {
  i: string | number;
}

export interface EchoCrashOutput {
  text?: string | null;
  number?: string | number | null;
}

export type EchoEchoInput = unknown;

export type EchoEchoOutput = unknown;

export interface EchoFailInput {
  code?: string | null;
  message?: string | null;
}

export interface EchoFailOutput {
  text?: string | null;
  number?: string | number | null;
}

export interface EchoLogInput {
  level?: string | null;
  message?: string | null;
}

export interface EchoSlowInput {
  delayMs?: string | number;
}

export interface EchoSlowOutput {
  delayMs: string | number;
}

export interface EchoTypedInput {
  text?: string | null;
  number?: string | number | null;
}

export interface EchoTypedOutput {
  text?: string | null;
  number?: string | number | null;
}

export interface GreeterCountdownInput {
  from: string | number;
  delayMs: string | number;
}

export type GreeterCountdownItem = string | number;

export interface GreeterHelloInput {
  name: string;
}

export interface GreeterHelloOutput {
  greeting: string;
}

/** Topic names and patterns clients may join with `client.subscribe` (Gateway:Topics:ClientSubscribe). */
export const topics = ["room:*","ticker"] as const;

/** One typed function per procedure of the gateway, grouped by service. */
export function createApi(client: GatewayClient) {
  return {
    admin: {
      /**
       * Answers "pong": shows the caller holds the admin role.
       *
       * `admin/ping` (request).
       *
       * Requires authentication; roles: admin.
       */
      ping: (options?: CallOptions): Promise<AdminPingOutput> => client.call<AdminPingOutput>("admin/ping", undefined, options),
    },
    blob: {
      /**
       * Returns the blob unchanged.
       *
       * `blob/echo` (request).
       */
      echo: (input: BlobEchoInput, options?: CallOptions): Promise<BlobEchoOutput> => client.call<BlobEchoOutput>("blob/echo", input, options),
      /**
       * The length and SHA-256 of the bytes received.
       *
       * `blob/info` (request).
       */
      info: (input: BlobInfoInput, options?: CallOptions): Promise<BlobInfoOutput> => client.call<BlobInfoOutput>("blob/info", input, options),
    },
    chat: {
      /**
       * Sends chat.direct {from, text, sentAt} to every connection of a user, on every node.
       *
       * `chat/dm` (request).
       */
      dm: (input: ChatDmInput, options?: CallOptions): Promise<ChatDmOutput> => client.call<ChatDmOutput>("chat/dm", input, options),
      /**
       * Subscribes the caller to room:{room}; from then on it receives chat.message events of that room.
       *
       * `chat/join` (request).
       */
      join: (input: ChatJoinInput, options?: CallOptions): Promise<ChatJoinOutput> => client.call<ChatJoinOutput>("chat/join", input, options),
      /**
       * Unsubscribes the caller from room:{room}.
       *
       * `chat/leave` (request).
       */
      leave: (input: ChatLeaveInput, options?: CallOptions): Promise<ChatLeaveOutput> => client.call<ChatLeaveOutput>("chat/leave", input, options),
      /**
       * Lets an anonymous connection claim a user id; completes when every node knows. An authenticated connection already is its token's user and cannot claim another: FAILED_PRECONDITION.
       *
       * `chat/login` (request).
       */
      login: (input: ChatLoginInput, options?: CallOptions): Promise<ChatLoginOutput> => client.call<ChatLoginOutput>("chat/login", input, options),
      /**
       * Publishes chat.message {room, from, text, sentAt} to room:{room}: every member on every node gets it.
       *
       * `chat/send` (request).
       */
      send: (input: ChatSendInput, options?: CallOptions): Promise<ChatSendOutput> => client.call<ChatSendOutput>("chat/send", input, options),
      /**
       * The caller's connection id (valid on every node), user id, node and roles (from its token; none when anonymous).
       *
       * `chat/whoami` (request).
       */
      whoami: (options?: CallOptions): Promise<ChatWhoamiOutput> => client.call<ChatWhoamiOutput>("chat/whoami", undefined, options),
    },
    echo: {
      /**
       * A server-to-client call: calls the calling client at client/echo with this request's input and returns the client's answer (its result, or its error). The client has 10 seconds; cancelling this request cancels that call.
       *
       * `echo/callback` (request).
       */
      callback: (input: EchoCallbackInput, options?: CallOptions): Promise<EchoCallbackOutput> => client.call<EchoCallbackOutput>("echo/callback", input, options),
      /**
       * Streams {"i":0}…{"i":n-1}, waiting delayMs between items.
       *
       * `echo/count` (subscription).
       */
      count: (input: EchoCountInput, options?: StreamOptions): AsyncGenerator<EchoCountItem, void, undefined> => client.stream<EchoCountItem>("echo/count", input, options),
      /**
       * Throws a non-RPC exception: the client gets INTERNAL with a generic message, the log gets the details.
       *
       * `echo/crash` (request).
       */
      crash: (options?: CallOptions): Promise<EchoCrashOutput> => client.call<EchoCrashOutput>("echo/crash", undefined, options),
      /**
       * Returns its input unchanged, whatever JSON it is: an object with any members, an array, a string, a number, true, false or null (no input answers null). What every client author tries first.
       *
       * `echo/echo` (request).
       */
      echo: (input: EchoEchoInput, options?: CallOptions): Promise<EchoEchoOutput> => client.call<EchoEchoOutput>("echo/echo", input, options),
      /**
       * Fails with the protocol error code given in its input.
       *
       * `echo/fail` (request).
       */
      fail: (input: EchoFailInput, options?: CallOptions): Promise<EchoFailOutput> => client.call<EchoFailOutput>("echo/fail", input, options),
      /**
       * A notification: writes the client's text as a log line, never answers. What a client sends is untrusted, so this is what a handler that logs it should do: Debug or Information only, bounded length, no control characters (a "\n" would forge a second line), and a rate limit so a flood of calls is not a flood of lines.
       *
       * `echo/log` (notification).
       */
      log: (input: EchoLogInput, options?: { signal?: AbortSignal }): Promise<void> => client.notify("echo/log", input, options),
      /**
       * Waits delayMs, reporting progress every 100 ms; honours cancellation.
       *
       * `echo/slow` (request).
       */
      slow: (input: EchoSlowInput, options?: CallOptions): Promise<EchoSlowOutput> => client.call<EchoSlowOutput>("echo/slow", input, options),
      /**
       * The typed way to write a handler: the input is bound to Msg (members it does not know are ignored, a member of the wrong type is INVALID_ARGUMENT naming it) and returned.
       *
       * `echo/typed` (request).
       */
      typed: (input: EchoTypedInput, options?: CallOptions): Promise<EchoTypedOutput> => client.call<EchoTypedOutput>("echo/typed", input, options),
    },
    greeter: {
      /**
       * Streams from, from-1, … 0, waiting delayMs (0 to 10000) between numbers.
       *
       * `greeter/countdown` (subscription).
       */
      countdown: (input: GreeterCountdownInput, options?: StreamOptions): AsyncGenerator<GreeterCountdownItem, void, undefined> => client.stream<GreeterCountdownItem>("greeter/countdown", input, options),
      /**
       * Greets someone by name; INVALID_ARGUMENT for an empty name.
       *
       * `greeter/hello` (request).
       */
      hello: (input: GreeterHelloInput, options?: CallOptions): Promise<GreeterHelloOutput> => client.call<GreeterHelloOutput>("greeter/hello", input, options),
    },
  } as const;
}

export type Api = ReturnType<typeof createApi>;
