// The demo page (clients/demo, served by the gateway itself through Gateway:StaticFiles:Path) in real headless
// Chromium (Debian's /usr/bin/chromium driven by playwright-core; no browser download). The page and the WebSocket
// share one loopback origin. On failure each page's screenshot goes to $TEST_OUTPUT_DIR (default test-output/).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { createHmac } from "node:crypto";
import { join, resolve } from "node:path";
import WebSocket from "ws";
import { chromium } from "playwright-core";
import { GatewayClient } from "../dist/index.js";
import { startGateway, repoRoot } from "./gateway.mjs";

const chromiumPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const outputDir = resolve(process.env.TEST_OUTPUT_DIR || "test-output");
const demoDir = join(repoRoot, "clients", "demo", "build");
const staticArgs = [`--Gateway:StaticFiles:Path=${demoDir}`];
const wait = { timeout: 20_000 };

let browser;
before(async () => {
  browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] });
});
after(async () => {
  await browser?.close();
});

/** Runs `body(open)`; `open(gateway, query)` opens the demo in a new page. Screenshots every page if it throws. */
async function withPages(t, body) {
  const context = await browser.newContext();
  const pages = [];
  const open = async (gateway, query = "") => {
    const page = await context.newPage();
    pages.push(page);
    page.on("pageerror", (e) => t.diagnostic(`page error: ${e.message}`));
    page.requested = [];
    page.on("request", (r) => page.requested.push(new URL(r.url()).pathname));
    page.framesSent = []; // "string" for a text frame, "object" (a Buffer) for a binary one
    page.on("websocket", (ws) => ws.on("framesent", (f) => page.framesSent.push(typeof f.payload)));
    await page.goto(`${gateway.http}/${query}`);
    await page.waitForSelector('#state[data-state="open"]', wait);
    return page;
  };
  try {
    await body(open);
  } catch (error) {
    mkdirSync(outputDir, { recursive: true });
    const slug = t.name.replace(/[^a-z0-9]+/gi, "-").slice(0, 80);
    for (const [i, page] of pages.entries()) {
      const file = join(outputDir, `${slug}-page${i + 1}.png`);
      await page.screenshot({ path: file, fullPage: true }).catch(() => {});
      t.diagnostic(`screenshot: ${file}`);
    }
    throw error;
  } finally {
    await context.close();
  }
}

async function joinRoom(page, room) {
  await page.fill("#room", room);
  await page.click("#join");
  await page.waitForSelector(`#rooms li[data-room="${room}"]`, wait);
}

async function say(page, room, text) {
  await page.selectOption("#send-room", room);
  await page.fill("#text", text);
  await page.click("#send");
}

const seen = (page, text) => page.waitForSelector(`#messages li:has-text(${JSON.stringify(text)})`, wait);

test("two pages chat through the gateway: rooms, direct messages, a call from the server, a progress bar", async (t) => {
  const gateway = await startGateway({ args: staticArgs });
  t.after(() => gateway.stop());
  await withPages(t, async (open) => {
    const ada = await open(gateway);
    const bob = await open(gateway);
    await joinRoom(ada, "lobby");
    await joinRoom(bob, "lobby");
    await say(ada, "lobby", "hello from ada's page");
    await seen(bob, "hello from ada's page");
    await seen(ada, "hello from ada's page");

    for (const [page, name] of [[ada, "ada"], [bob, "bob"]]) {
      await page.fill("#user", name);
      await page.click("#login");
      await page.waitForSelector(`#whoami:has-text("logged in as ${name}")`, wait);
    }
    await bob.fill("#dm-user", "ada");
    await bob.fill("#dm-text", "psst, ada");
    await bob.click("#dm-send");
    await seen(ada, "[dm] bob: psst, ada");
    await bob.waitForSelector('#dm-result:has-text("delivered")', wait);

    await ada.click("#callback");
    await ada.waitForSelector('#callback-log:has-text("echo/callback returned")', wait);
    const log = await ada.textContent("#callback-log");
    assert.match(log, /the server called client\/echo with \{"question":"who answers\?"/);
    assert.match(log, /returned \{"answeredBy":"the page"/);

    await bob.click("#slow");
    await bob.waitForFunction(() => document.getElementById("progress").value > 0 && document.getElementById("slow-result").textContent === "running", null, wait);
    await bob.waitForSelector('#slow-result:has-text("done after 2000 ms")', wait);

    // A JSON page never fetches the MessagePack library.
    assert.ok(ada.requested.includes("/lib/client/index.js"), `requests: ${ada.requested}`);
    assert.deepEqual(ada.requested.filter((p) => p.startsWith("/lib/msgpack/")), []);
  });
});

test("a page keeps its rooms across a gateway restart and shows the connection state meanwhile", async (t) => {
  let gateway = await startGateway({ args: staticArgs });
  const port = gateway.port;
  t.after(() => gateway.stop());
  await withPages(t, async (open) => {
    const page = await open(gateway);
    await joinRoom(page, "restart");
    await joinRoom(page, "other");
    const states = [];
    await page.exposeFunction("recordState", (s) => states.push(s));
    await page.evaluate(() => window.demo.client.onState((c) => window.recordState(c.state)));

    await gateway.stop();
    await page.waitForSelector('#state[data-state="reconnecting"]', wait);
    gateway = await startGateway({ port, args: staticArgs });
    await page.waitForSelector('#state[data-state="open"]', { timeout: 30_000 });
    assert.ok(states.includes("reconnecting"), `states seen: ${states}`);

    const publisher = new GatewayClient(gateway.url, { WebSocket });
    try {
      await publisher.call("chat/send", { room: "restart", text: "after the restart" });
      await publisher.call("chat/send", { room: "other", text: "in the other room too" });
    } finally {
      await publisher.close();
    }
    await seen(page, "after the restart");
    await seen(page, "in the other room too");
    assert.deepEqual(await page.$$eval("#rooms li", (lis) => lis.map((li) => li.dataset.room)), ["restart", "other"]);
  });
});

test("a MessagePack page and a JSON page see the same events", async (t) => {
  const gateway = await startGateway({ args: staticArgs });
  t.after(() => gateway.stop());
  await withPages(t, async (open) => {
    const binary = await open(gateway, "?format=msgpack");
    const text = await open(gateway);
    await joinRoom(binary, "mixed");
    await joinRoom(text, "mixed");
    await say(text, "mixed", "from the json page");
    await say(binary, "mixed", "from the msgpack page");
    for (const page of [binary, text]) {
      await seen(page, "from the json page");
      await seen(page, "from the msgpack page");
    }
    const events = (page) =>
      page.evaluate(() => window.demo.received.map((m) => ({ room: m.room, from: m.from, text: m.text, sentAt: new Date(m.sentAt).getTime() })));
    const fromBinary = await events(binary);
    assert.equal(fromBinary.length, 2);
    assert.ok(fromBinary.every((m) => Number.isFinite(m.sentAt)), JSON.stringify(fromBinary));
    assert.deepEqual(fromBinary, await events(text));
    t.diagnostic(`sentAt on the MessagePack page: ${await binary.evaluate(() => Object.prototype.toString.call(window.demo.received[0].sentAt))}`);
    assert.equal(await binary.evaluate(() => window.demo.format), "msgpack");
    assert.ok(binary.requested.includes("/lib/msgpack/index.mjs"), `requests: ${binary.requested}`);
    assert.ok(binary.framesSent.length > 0 && binary.framesSent.every((k) => k === "object"), `msgpack page frames: ${binary.framesSent}`);
    assert.ok(text.framesSent.length > 0 && text.framesSent.every((k) => k === "string"), `json page frames: ${text.framesSent}`);
  });
});

/** An HS256 JWT (RFC 7519) for the gateway's Gateway:Auth:Jwt settings below. */
function jwt(claims, secret) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const head = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
  return `${head}.${createHmac("sha256", secret).update(head).digest("base64url")}`;
}

test("the page's bearer. token reaches the gateway in Required auth mode", async (t) => {
  const secret = "browser-test-secret-0123456789-0123456789";
  const gateway = await startGateway({
    args: [...staticArgs, "--Gateway:Auth:Mode=Required", "--Gateway:Auth:Jwt:Issuer=browser-test", "--Gateway:Auth:Jwt:Audience=gateway",
      `--Gateway:Auth:Jwt:Secret=${secret}`],
  });
  t.after(() => gateway.stop());
  const now = Math.floor(Date.now() / 1000);
  const token = jwt({ sub: "ada-from-token", iss: "browser-test", aud: "gateway", iat: now, nbf: now - 5, exp: now + 600 }, secret);
  await withPages(t, async (open) => {
    const page = await open(gateway, `?token=${token}`);
    const me = await page.evaluate(() => window.demo.client.call("chat/whoami"));
    assert.equal(me.userId, "ada-from-token");

    // Without a token the same page is refused at the handshake (401) and keeps retrying, never open.
    const context = page.context();
    const anonymous = await context.newPage();
    await anonymous.goto(`${gateway.http}/`);
    await anonymous.waitForSelector('#attempt:has-text("attempt 2")', wait);
    assert.equal(await anonymous.getAttribute("#state", "data-state"), "connecting");
    await anonymous.close();
  });
});
