// The typed-API generator (codegen/generate.mjs): the module it writes for a $describe of the JSON Schema contract
// type-checks, refuses wrong inputs at compile time, and its functions call the real gateway.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import WebSocket from "ws";
import { GatewayClient } from "../dist/index.js";
import { describeFrom, generateApi, typeBaseName } from "../codegen/generate.mjs";
import { startGateway } from "./gateway.mjs";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const fixture = JSON.parse(readFileSync(join(pkg, "test", "fixtures", "describe-contract-a.json"), "utf8"));
const tsc = join(pkg, "node_modules", ".bin", "tsc");
const tscArgs = ["--ignoreConfig", "--strict", "--target", "ES2022", "--module", "ES2022", "--moduleResolution", "bundler", "--lib", "ES2022,DOM", "--skipLibCheck", "--types", ""];

function workDir(name) {
  const dir = join(pkg, "test-output", `${name}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** tsc's diagnostics for the files (empty when they compile). */
function typeErrors(files, extra = []) {
  try {
    execFileSync(tsc, [...tscArgs, ...extra, ...files], { encoding: "utf8", stdio: "pipe" });
    return "";
  } catch (e) {
    return (e.stdout || "") + (e.stderr || "") || String(e);
  }
}

test("procedure names become type names", () => {
  assert.equal(typeBaseName("echo/count"), "EchoCount");
  assert.equal(typeBaseName("chat/send-now"), "ChatSendNow");
});

test("the generated module has one typed function per procedure and type-checks", async () => {
  const dir = workDir("codegen");
  const source = await generateApi(fixture, { importFrom: "../../src/index.js" });
  assert.match(source, /export type EchoCountInput = \{\s+n\?: number;\s+delayMs\?: number;\s+\} \| null;/);
  assert.match(source, /export type EchoCountItem = \{\s+i: number;\s+\} \| null;/);
  assert.match(source, /count: \(input: EchoCountInput, options\?: StreamOptions\): AsyncGenerator<EchoCountItem, void, undefined> => client\.stream<EchoCountItem>\("echo\/count", input, options\)/);
  assert.match(source, /log: \(input: EchoLogInput, options\?: \{ signal\?: AbortSignal \}\): Promise<void> => client\.notify\("echo\/log", input, options\)/);
  assert.match(source, /whoami: \(options\?: CallOptions\): Promise<ChatWhoamiOutput> => client\.call<ChatWhoamiOutput>\("chat\/whoami", undefined, options\)/);
  assert.match(source, /export type EchoEchoInput = unknown;/);
  assert.match(source, /children\?: EchoTreeInput\[\];/);
  assert.match(source, /Requires authentication; roles: member\./);
  assert.match(source, /Publishes chat\.message to room:\{room\}\./);
  assert.match(source, /export const topics = \["room:\*","ticker"\] as const;/);
  assert.doesNotMatch(source, /\$ping/, "built-ins have client methods of their own");
  const api = join(dir, "api.ts");
  writeFileSync(api, source);
  const good = join(dir, "good.ts");
  writeFileSync(good, `import { createApi } from "./api.js";
import { GatewayClient } from "../../src/index.js";
declare const client: GatewayClient;
const api = createApi(client);
export async function use(): Promise<number> {
  let sum = 0;
  for await (const item of api.echo.count({ n: 3, delayMs: 1 })) sum += item?.i ?? 0;
  const me = await api.chat.whoami();
  const sent = await api.chat.send({ room: "r", text: "t" });
  const times: string[] = await api.echo.tree({ name: "root", children: [{ name: "leaf" }] });
  await api.echo.log({ message: "m" });
  return sum + me!.connectionId.length + sent!.topic.length + times.length;
}
`);
  assert.equal(typeErrors([good], ["--noEmit"]), "");

  const bad = join(dir, "bad.ts");
  writeFileSync(bad, `import { createApi } from "./api.js";
import { GatewayClient } from "../../src/index.js";
declare const client: GatewayClient;
const api = createApi(client);
export async function use() {
  for await (const item of api.echo.count({ n: "three" })) item;
  const me = await api.chat.whoami();
  const n: number = me!.connectionId;
  await api.echo.tree({ children: [] });
  await api.echo.nothing();
}
`);
  const errors = typeErrors([bad], ["--noEmit"]);
  assert.match(errors, /bad\.ts\(6,.*Type 'string' is not assignable to type 'number'/);
  assert.match(errors, /bad\.ts\(8,.*Type 'string' is not assignable to type 'number'/);
  assert.match(errors, /bad\.ts\(9,.*Property 'name' is missing/);
  assert.match(errors, /bad\.ts\(10,.*Property 'nothing' does not exist/);
});

test("the generated functions call the real gateway", async (t) => {
  const dir = workDir("codegen-run");
  writeFileSync(join(dir, "api.ts"), await generateApi(fixture, { importFrom: "../../dist/index.js" }));
  assert.equal(typeErrors([join(dir, "api.ts")], ["--outDir", dir, "--rootDir", dir]), "");
  const { createApi, topics } = await import(pathToFileURL(join(dir, "api.js")).href);
  assert.deepEqual(topics, ["room:*", "ticker"]);
  const gateway = await startGateway();
  t.after(() => gateway.stop());
  const client = new GatewayClient(gateway.url, { WebSocket });
  t.after(() => client.close());
  const api = createApi(client);
  const items = [];
  for await (const item of api.echo.count({ n: 3, delayMs: 1 })) items.push(item);
  assert.deepEqual(items, [{ i: 0 }, { i: 1 }, { i: 2 }]);
  assert.equal(typeof (await api.chat.whoami()).connectionId, "string");
  assert.deepEqual(await api.echo.echo({ any: ["json"] }), { any: ["json"] });
  await api.echo.log({ message: "typed notification" });
});

test("the checked-in API of the sample plugin is what the gateway describes now", async (t) => {
  const gateway = await startGateway({ args: ["--Gateway:Auth:DescribeVisibleOnly=false"] });
  t.after(() => gateway.stop());
  const describe = await describeFrom(gateway.url, { WebSocket });
  const current = await generateApi(describe, { importFrom: "../src/index.js" });
  const checkedIn = readFileSync(join(pkg, "generated", "sample-api.ts"), "utf8");
  assert.equal(checkedIn, current, "clients/js/generated/sample-api.ts is stale: regenerate it with `make client-types-sample`");
});

test("the sample API type-checks and streams echo/count", async (t) => {
  const dir = workDir("sample-api");
  assert.equal(typeErrors([join(pkg, "generated", "sample-api.ts")], ["--outDir", dir, "--rootDir", pkg]), "");
  const { createApi } = await import(pathToFileURL(join(dir, "generated", "sample-api.js")).href);
  const gateway = await startGateway();
  t.after(() => gateway.stop());
  const client = new GatewayClient(gateway.url, { WebSocket });
  t.after(() => client.close());
  const api = createApi(client);
  const items = [];
  for await (const item of api.echo.count({ n: 3, delayMs: 1 })) items.push(item);
  assert.deepEqual(items, [{ i: 0 }, { i: 1 }, { i: 2 }]);
});
