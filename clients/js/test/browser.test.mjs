// The demo page (clients/demo, served by the gateway itself through Gateway:StaticFiles:Path) in real headless
// Chromium (Debian's /usr/bin/chromium driven by playwright-core; no browser download). The page and the WebSocket
// share one loopback origin. On failure each page's screenshot goes to $TEST_OUTPUT_DIR (default test-output/).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
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
