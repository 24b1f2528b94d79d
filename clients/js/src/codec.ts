/** One envelope of the wire protocol, as an object (JSON text frame or MessagePack binary frame). */
export interface Envelope {
  id?: string | number;
  path?: string;
  input?: unknown;
  result?: unknown;
  error?: unknown;
  data?: unknown;
  done?: boolean;
  progress?: unknown;
  cancel?: boolean;
  event?: string;
  topic?: string;
  meta?: Record<string, unknown>;
}

/** Turns envelopes into frames and back; one per wire format. */
export interface Codec {
  readonly subprotocol: string;
  readonly binary: boolean;
  encode(envelope: Envelope): string | Uint8Array;
  /** Returns undefined for a frame of the wrong kind or one that does not parse as an object. */
  decode(frame: unknown): Envelope | undefined;
}

export type WireFormat = "json" | "msgpack";

/** The two functions of `@msgpack/msgpack` this client uses (pass your own through the `msgpack` option). */
export interface MessagePackFunctions {
  encode(value: unknown): Uint8Array;
  decode(data: ArrayLike<number> | ArrayBuffer | ArrayBufferView): unknown;
}

export const jsonCodec: Codec = {
  subprotocol: "gateway.v1.json",
  binary: false,
  encode: (envelope) => JSON.stringify(envelope),
  decode(frame) {
    if (typeof frame !== "string") return undefined;
    try {
      const value: unknown = JSON.parse(frame);
      return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Envelope) : undefined;
    } catch {
      return undefined;
    }
  },
};

export function messagePackCodec(msgpack: MessagePackFunctions): Codec {
  return {
    subprotocol: "gateway.v1.msgpack",
    binary: true,
    encode(envelope) {
      // undefined members would become nil on the wire; the protocol means "absent" by leaving them out.
      const clean: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(envelope)) if (v !== undefined) clean[k] = v;
      return msgpack.encode(clean);
    },
    decode(frame) {
      let bytes: Uint8Array;
      if (frame instanceof ArrayBuffer) bytes = new Uint8Array(frame);
      else if (ArrayBuffer.isView(frame)) bytes = new Uint8Array(frame.buffer, frame.byteOffset, frame.byteLength);
      else return undefined;
      try {
        const value = msgpack.decode(bytes);
        return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Uint8Array) ? (value as Envelope) : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/** The codec of a format; MessagePack's library is imported only here, only when that format is chosen. */
export async function loadCodec(format: WireFormat, msgpack?: MessagePackFunctions): Promise<Codec> {
  if (format === "json") return jsonCodec;
  if (format !== "msgpack") throw new TypeError(`unknown format "${String(format)}" (json or msgpack)`);
  if (msgpack) return messagePackCodec(msgpack);
  const specifier = "@msgpack/msgpack";
  // A variable specifier keeps bundlers from pulling the library into JSON-only builds.
  const lib = (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as MessagePackFunctions;
  return messagePackCodec(lib);
}
