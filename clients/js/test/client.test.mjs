// The client against a real gateway (published host + sample plugins): calls, errors, timeouts, aborts, progress,
// streams and their cancel, notifications, topics, events, user events and server-to-client calls.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { GatewayClient, RpcError } from "../dist/index.js";
import { startGateway, signal } from "./gateway.mjs";

/** `ws`'s WebSocket, recording what the client offers and sends. */
function spyWebSocket() {
  const spy = { protocols: [], sent: [] };
  spy.WebSocket = class extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      spy.protocols.push(protocols);
    }
    send(data) {
      spy.sent.push(typeof data === "string" ? JSON.parse(data) : data);
      super.send(data);
    }
  };
  return spy;
}

describe("GatewayClient against the sample plugin", () => {
  let gateway;
  const clients = [];
  const connect = async (options = {}) => {
    const client = new GatewayClient(gateway.url, { WebSocket, ...options });
    clients.push(client);
    await client.ready({ timeoutMs: 10_000 });
    return client;
  };

  before(async () => {
    gateway = await startGateway();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await gateway?.stop();
  });

  test("call resolves with the result", async () => {
    const client = await connect();
    assert.deepEqual(await client.call("echo/echo", { text: "hi", n: [1, 2] }), { text: "hi", n: [1, 2] });
    assert.equal(await client.call("echo/echo"), null);
    assert.equal(await client.call("$ping"), "pong");
  });

  test("an error reply rejects with an RpcError carrying code, status, retryable", async () => {
    const client = await connect();
    const error = await client.call("echo/fail", { code: "NOT_FOUND", message: "no such thing" }).catch((e) => e);
    assert.ok(error instanceof RpcError, String(error));
    assert.equal(error.code, "NOT_FOUND");
    assert.equal(error.status, 404);
    assert.equal(error.retryable, false);
    assert.equal(error.message, "no such thing");
    const unavailable = await client.call("echo/fail", { code: "UNAVAILABLE" }).catch((e) => e);
    assert.equal(unavailable.code, "UNAVAILABLE");
    assert.equal(unavailable.retryable, true);
    const missing = await client.call("nope/nothing").catch((e) => e);
    assert.equal(missing.code, "NOT_FOUND");
  });

  test("timeoutMs rejects with DEADLINE_EXCEEDED and cancels the call on the server", async () => {
    const spy = spyWebSocket();
    const client = await connect({ WebSocket: spy.WebSocket });
    const started = Date.now();
    const error = await client.call("echo/slow", { delayMs: 20_000 }, { timeoutMs: 200 }).catch((e) => e);
    assert.equal(error.code, "DEADLINE_EXCEEDED");
    assert.equal(error.retryable, true);
    assert.ok(Date.now() - started < 5_000);
    const sent = spy.sent.find((m) => m.path === "echo/slow");
    assert.ok(spy.sent.some((m) => m.id === sent.id && m.cancel === true), "cancel was sent for the timed-out call");
    assert.deepEqual(await client.call("echo/echo", 1), 1);
  });

  test("AbortSignal rejects with CANCELLED and sends cancel; an aborted signal sends nothing", async () => {
    const spy = spyWebSocket();
    const client = await connect({ WebSocket: spy.WebSocket });
    const controller = new AbortController();
    const progressed = signal("first progress");
    const call = client.call("echo/slow", { delayMs: 20_000 }, { signal: controller.signal, onProgress: progressed.resolve });
    await progressed.promise; // the server is running it
    controller.abort(new Error("user left"));
    const error = await call.catch((e) => e);
    assert.equal(error.code, "CANCELLED");
    assert.equal(error.cause.message, "user left");
    const id = spy.sent.find((m) => m.path === "echo/slow").id;
    assert.ok(spy.sent.some((m) => m.id === id && m.cancel === true));

    const before = spy.sent.length;
    const aborted = await client.call("echo/echo", 1, { signal: AbortSignal.abort() }).catch((e) => e);
    assert.equal(aborted.code, "CANCELLED");
    assert.equal(spy.sent.length, before, "nothing sent for an already aborted call");
  });

  test("progress callbacks see each progress message before the result", async () => {
    const client = await connect();
    const progress = [];
    const result = await client.call("echo/slow", { delayMs: 350 }, { onProgress: (p) => progress.push(p) });
    assert.deepEqual(result, { delayMs: 350 });
    assert.ok(progress.length >= 2, `progress messages: ${JSON.stringify(progress)}`);
  });

  test("stream yields every item, then ends", async () => {
    const client = await connect();
    const items = [];
    for await (const item of client.stream("echo/count", { n: 3, delayMs: 5 })) items.push(item);
    assert.deepEqual(items, [{ i: 0 }, { i: 1 }, { i: 2 }]);
  });

  test("breaking out of a stream sends cancel and the connection carries on", async () => {
    const spy = spyWebSocket();
    const client = await connect({ WebSocket: spy.WebSocket });
    const items = [];
    for await (const item of client.stream("echo/count", { n: 100_000, delayMs: 10 })) {
      items.push(item);
      if (items.length === 2) break;
    }
    assert.deepEqual(items, [{ i: 0 }, { i: 1 }]);
    const id = spy.sent.find((m) => m.path === "echo/count").id;
    assert.ok(spy.sent.some((m) => m.id === id && m.cancel === true), "cancel sent on break");
    assert.equal(await client.call("$ping"), "pong");
  });

  test("a stream's error is thrown by the loop; an aborted stream throws CANCELLED", async () => {
    const client = await connect();
    const missing = await (async () => { for await (const _ of client.stream("nope/stream")) { /* none */ } })().catch((e) => e);
    assert.equal(missing.code, "NOT_FOUND");
    const controller = new AbortController();
    const items = [];
    const error = await (async () => {
      for await (const item of client.stream("echo/count", { n: 100_000, delayMs: 10 }, { signal: controller.signal })) {
        items.push(item);
        if (items.length === 1) controller.abort();
      }
    })().catch((e) => e);
    assert.equal(error.code, "CANCELLED");
  });

  test("notify sends a notification with no id", async () => {
    const spy = spyWebSocket();
    const client = await connect({ WebSocket: spy.WebSocket });
    await client.notify("echo/log", { message: "from the js client" });
    const sent = spy.sent.find((m) => m.path === "echo/log");
    assert.equal(sent.id, undefined);
    assert.equal(await client.call("$ping"), "pong");
  });

  test("subscribe delivers a topic's events; on(eventName) too; unsubscribe stops them", async () => {
    const a = await connect();
    const b = await connect();
    const first = signal("chat.message in room:js1");
    const sub = a.subscribe("room:js1", (data, message) => first.resolve({ data, message }));
    await sub.ready;
    const byName = signal("on(chat.message)");
    const off = a.on("chat.message", (data) => byName.resolve(data));
    await b.call("chat/send", { room: "js1", text: "hello" });
    const { data, message } = await first.promise;
    assert.equal(data.text, "hello");
    assert.equal(message.topic, "room:js1");
    assert.equal(message.event, "chat.message");
    assert.equal((await byName.promise).text, "hello");
    off();

    await sub.unsubscribe();
    const later = [];
    a.subscribe("room:js1b", (d) => later.push(d));
    const second = signal("chat.message in room:js1b");
    a.on("chat.message", (d) => { if (d.room === "js1b") second.resolve(); });
    await a.call("$ping");
    await b.call("chat/send", { room: "js1", text: "after unsubscribe" });
    await b.call("chat/send", { room: "js1b", text: "other room" });
    await second.promise;
    assert.deepEqual(later.map((d) => d.text), ["other room"]);
  });

  test("a refused subscription rejects ready with the server's error", async () => {
    const client = await connect();
    const sub = client.subscribe("secret:stuff", () => {});
    const error = await sub.ready.catch((e) => e);
    assert.ok(error instanceof RpcError, String(error));
    assert.equal(error.code, "PERMISSION_DENIED");
  });

  test("user events reach on(eventName) without a topic", async () => {
    const ada = await connect();
    const bob = await connect();
    await ada.call("chat/login", { user: "ada-js" });
    const got = signal("chat.direct");
    ada.on("chat.direct", (data, message) => got.resolve({ data, message }));
    const result = await bob.call("chat/dm", { user: "ada-js", text: "psst" });
    assert.equal(result.delivered, true);
    const { data, message } = await got.promise;
    assert.equal(data.text, "psst");
    assert.equal(message.topic, undefined);
  });

  test("handle answers the server's calls; a thrown RpcError goes back as the error", async () => {
    const client = await connect();
    const remove = client.handle("client/echo", (input, ctx) => ({ got: input, path: ctx.path }));
    assert.deepEqual(await client.call("echo/callback", { x: 1 }), { got: { x: 1 }, path: "client/echo" });
    remove();
    client.handle("client/echo", () => {
      throw new RpcError("FAILED_PRECONDITION", "not now");
    });
    const error = await client.call("echo/callback", { x: 2 }).catch((e) => e);
    assert.equal(error.code, "FAILED_PRECONDITION");
  });

  test("the token is offered as a bearer. subprotocol entry next to gateway.v1.json", async () => {
    const spy = spyWebSocket();
    let asked = 0;
    const client = await connect({ WebSocket: spy.WebSocket, token: async () => `tok-${++asked}` });
    assert.equal(asked, 1);
    assert.deepEqual(spy.protocols[0], ["gateway.v1.json", "bearer.tok-1"]);
    assert.equal(await client.call("$ping"), "pong");
  });

  test("close rejects waiting calls as not retryable and stops", async () => {
    const client = await connect();
    const states = [];
    client.onState((s) => states.push(s.state));
    const progressed = signal("progress");
    const pending = client.call("echo/slow", { delayMs: 20_000 }, { onProgress: progressed.resolve }).catch((e) => e);
    await progressed.promise;
    await client.close();
    const error = await pending;
    assert.equal(error.code, "UNAVAILABLE");
    assert.equal(error.retryable, false);
    assert.equal(client.state, "closed");
    assert.deepEqual(states, ["closed"]);
    assert.equal((await client.call("$ping").catch((e) => e)).code, "UNAVAILABLE");
  });
});
