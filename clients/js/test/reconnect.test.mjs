// Reconnect against a gateway that goes away: backoff with a cap, 1001 answered at once, calls in flight rejected as
// retryable, topic subscriptions restored, the token provider asked again.
import { test } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { GatewayClient } from "../dist/index.js";
import { backoffDelay } from "../dist/backoff.js";
import { startGateway, signal } from "./gateway.mjs";

function nextState(client, wanted, timeoutMs = 30_000) {
  const s = signal(`state ${wanted}`, timeoutMs);
  const off = client.onState((change) => {
    if (change.state === wanted) {
      off();
      s.resolve(change);
    }
  });
  return s.promise;
}

test("backoff grows exponentially, is jittered and capped", () => {
  const o = { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, maxAttempts: Infinity };
  assert.equal(backoffDelay(0, o, () => 0), 50);
  assert.equal(backoffDelay(0, o, () => 1), 100);
  assert.equal(backoffDelay(2, o, () => 1), 400);
  assert.equal(backoffDelay(10, o, () => 1), 1000);
  assert.equal(backoffDelay(10, o, () => 0), 500);
  assert.equal(backoffDelay(50, o, () => 0.5), 750);
});

test("a graceful stop (1001) reconnects at once; rooms and the token come back after the restart", async (t) => {
  let gateway = await startGateway();
  const port = gateway.port;
  t.after(() => gateway.stop());
  let asked = 0;
  const offered = [];
  class Spy extends WebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      offered.push(protocols);
    }
  }
  const client = new GatewayClient(gateway.url, {
    WebSocket: Spy,
    token: () => `t${++asked}`,
    reconnect: { initialDelayMs: 50, maxDelayMs: 400 },
    onError: () => {},
  });
  t.after(() => client.close());
  const publisher = new GatewayClient(gateway.url, { WebSocket, reconnect: { initialDelayMs: 50, maxDelayMs: 400 }, onError: () => {} });
  t.after(() => publisher.close());
  await client.ready({ timeoutMs: 10_000 });
  const messages = [];
  let arrived = signal("first message");
  await client.subscribe("room:restart", (d) => { messages.push(d.text); arrived.resolve(); }).ready;
  await publisher.call("chat/send", { room: "restart", text: "before" });
  await arrived.promise;

  const states = [];
  client.onState((s) => states.push(s));
  const dropped = nextState(client, "reconnecting");
  await gateway.stop();
  const change = await dropped;
  assert.equal(change.code, 1001);
  assert.equal(change.delayMs, 0, "1001 reconnects without waiting");

  gateway = await startGateway({ port });
  const reopened = await Promise.race([client.ready({ timeoutMs: 30_000 }), nextState(client, "open")]);
  void reopened;
  await publisher.ready({ timeoutMs: 30_000 });
  arrived = signal("message after the restart");
  await publisher.call("chat/send", { room: "restart", text: "after" });
  await arrived.promise;
  assert.deepEqual(messages, ["before", "after"]);
  assert.ok(asked >= 2, "token asked again on reconnect");
  assert.deepEqual(offered.at(-1), ["gateway.v1.json", `bearer.t${asked}`]);
  const waits = states.filter((s) => s.state === "reconnecting").map((s) => s.delayMs);
  assert.ok(waits.every((d) => d <= 400), `every wait within the cap: ${waits}`);
});

test("a dropped connection rejects calls in flight as retryable UNAVAILABLE and backs off while the gateway is down", async (t) => {
  let gateway = await startGateway();
  const port = gateway.port;
  t.after(() => gateway.stop());
  const client = new GatewayClient(gateway.url, { WebSocket, reconnect: { initialDelayMs: 100, maxDelayMs: 300 }, onError: () => {} });
  t.after(() => client.close());
  await client.ready({ timeoutMs: 10_000 });
  const progressed = signal("progress");
  const inFlight = client.call("echo/slow", { delayMs: 60_000 }, { onProgress: progressed.resolve }).catch((e) => e);
  await progressed.promise;
  const states = [];
  client.onState((s) => states.push(s));
  await gateway.kill();
  const error = await inFlight;
  assert.equal(error.code, "UNAVAILABLE");
  assert.equal(error.retryable, true);

  // Down: several attempts fail; each wait is jittered within the cap and they grow.
  const threeFailures = signal("three failed attempts", 20_000);
  client.onState((s) => { if (s.state === "reconnecting" && s.attempt >= 3) threeFailures.resolve(); });
  await threeFailures.promise;
  const waits = states.filter((s) => s.state === "reconnecting").map((s) => s.delayMs);
  assert.ok(waits.every((d) => d > 0 && d <= 300), `waits: ${waits}`);

  // A call made while down waits for the connection instead of failing.
  const queued = client.call("echo/echo", { queued: true }, { timeoutMs: 30_000 });
  gateway = await startGateway({ port });
  assert.deepEqual(await queued, { queued: true });
  assert.equal(client.state, "open");
});

test("close() abandons an attempt the server never answers", async (t) => {
  const { createServer } = await import("node:net");
  const sockets = [];
  const silent = createServer((s) => sockets.push(s)); // accepts, never answers the handshake
  await new Promise((r) => silent.listen(0, "127.0.0.1", r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const accepted = signal("the attempt's TCP connection");
  silent.on("connection", () => accepted.resolve());
  const client = new GatewayClient(`ws://127.0.0.1:${silent.address().port}/ws`, { WebSocket, onError: () => {} });
  await accepted.promise;
  assert.equal(client.state, "connecting");
  const closed = signal("close() to finish", 5_000);
  client.close().then(closed.resolve);
  await closed.promise;
  assert.equal(client.state, "closed");
});
