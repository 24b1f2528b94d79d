// The client's MessagePack framing (contract C) over a real loopback WebSocket whose server side decodes and answers
// with @msgpack/msgpack: binary frames only, the gateway.v1.msgpack subprotocol, the JSON envelope's keys, ids back in
// the type sent, bin and timestamps as Uint8Array and Date. The gateway's own MessagePack side is tested against the
// browser suite once it serves that format.
import { test } from "node:test";
import assert from "node:assert/strict";
import WebSocket, { WebSocketServer } from "ws";
import { encode, decode } from "@msgpack/msgpack";
import { GatewayClient, RpcError } from "../dist/index.js";
import { signal } from "./gateway.mjs";

test("format msgpack sends and reads one MessagePack map per binary frame", async (t) => {
  const frames = [];
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: (offered) => (offered.has("gateway.v1.msgpack") ? "gateway.v1.msgpack" : false) });
  // After the client (hooks run in order): ws's server.close waits for its connections to end.
  t.after(async () => {
    await client?.close();
    await new Promise((r) => server.close(r));
  });
  let client;
  await new Promise((r) => server.once("listening", r));
  const offered = signal("connection");
  server.on("connection", (socket, request) => {
    offered.resolve(request.headers["sec-websocket-protocol"]);
    socket.on("message", (data, isBinary) => {
      const m = decode(data);
      frames.push({ isBinary, m });
      if (m.path === "echo/echo") socket.send(encode({ id: m.id, result: m.input }));
      else if (m.path === "echo/count") {
        socket.send(encode({ id: m.id, data: { i: 0, at: new Date(Date.UTC(2026, 0, 2)), raw: new Uint8Array([1, 2, 3]) } }));
        socket.send(encode({ id: m.id, data: null, done: true }));
      } else if (m.path === "echo/fail") socket.send(encode({ id: m.id, error: { code: "NOT_FOUND", status: 404, message: "gone", retryable: false } }));
      else if (m.path === "$subscribe") {
        socket.send(encode({ id: m.id, result: { topic: m.input.topic, subscribed: true } }));
        socket.send(encode({ event: "ticker.tick", topic: m.input.topic, data: { seq: 7 } }));
      }
    });
  });
  const url = `ws://127.0.0.1:${server.address().port}/ws`;
  client = new GatewayClient(url, { WebSocket, format: "msgpack", token: "abc" });
  await client.ready({ timeoutMs: 10_000 });
  assert.deepEqual((await offered.promise).split(",").map((s) => s.trim()), ["gateway.v1.msgpack", "bearer.abc"]);

  assert.deepEqual(await client.call("echo/echo", { text: "hi", n: 1.5, list: [1, null] }), { text: "hi", n: 1.5, list: [1, null] });
  const items = [];
  for await (const item of client.stream("echo/count", { n: 1 })) items.push(item);
  assert.ok(items[0].at instanceof Date && items[0].at.toISOString() === "2026-01-02T00:00:00.000Z");
  assert.deepEqual([...items[0].raw], [1, 2, 3]);
  const error = await client.call("echo/fail").catch((e) => e);
  assert.ok(error instanceof RpcError && error.code === "NOT_FOUND" && error.message === "gone");
  const tick = signal("event");
  await client.subscribe("ticker", (d) => tick.resolve(d)).ready;
  assert.deepEqual(await tick.promise, { seq: 7 });

  assert.ok(frames.every((f) => f.isBinary), "every frame is binary");
  const call = frames.find((f) => f.m.path === "echo/echo").m;
  assert.equal(typeof call.id, "number");
  assert.deepEqual(Object.keys(call).sort(), ["id", "input", "path"]);
  const noInput = frames.find((f) => f.m.path === "echo/fail").m;
  assert.ok(!("input" in noInput), "an absent input is left out, not sent as nil");
});
