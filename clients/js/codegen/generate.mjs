#!/usr/bin/env node
// Generates a typed API module from the gateway's $describe (docs: README "Call it from the browser"):
// one function per procedure, grouped by service (`api.echo.count({ n: 3 })` is an async iterable of the item type),
// input and output types from the procedures' JSON Schemas through the npm package json-schema-to-typescript.
//
//   node codegen/generate.mjs --url ws://localhost:8080/ws [--token T] --out src/gateway-api.ts
//   node codegen/generate.mjs --describe describe.json --out src/gateway-api.ts
//   node codegen/generate.mjs --start [--plugins DIR] --out ...   (starts the published host with those plugins)
// Options: --import-from SPECIFIER (default "@gateway/client"), --format json|msgpack.
import { compile } from "json-schema-to-typescript";
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const compileOptions = { bannerComment: "", additionalProperties: false, unknownAny: true, format: true, strictIndexSignatures: true };

/** "echo/count" → "EchoCount"; "chat/send-now" → "ChatSendNow". */
export function typeBaseName(procedure) {
  return procedure
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0].toUpperCase() + w.slice(1))
    .join("");
}

/** A JSON identifier as a property key: bare when it can be, quoted otherwise. */
function key(name) {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : JSON.stringify(name);
}

/** A schema that says nothing about the value (any JSON): JSON Schema `true` or an object without constraints. */
function isAnything(schema) {
  if (schema === true) return true;
  if (schema === null || typeof schema !== "object") return false;
  const constraining = ["type", "properties", "items", "$ref", "anyOf", "oneOf", "allOf", "enum", "const", "not", "prefixItems"];
  return !constraining.some((k) => k in schema);
}

async function typeFor(schema, name) {
  if (isAnything(schema)) return `export type ${name} = unknown;\n`;
  const copy = structuredClone(schema);
  delete copy.title; // our names, so two procedures' types never collide on a title
  delete copy.$id;
  return compile(copy, name, compileOptions);
}

function jsDoc(text, indent) {
  if (!text) return "";
  const lines = String(text).trim().split(/\r?\n/).map((l) => (l ? `${indent} * ${l.replace(/\*\//g, "*\\/")}` : `${indent} *`));
  return `${indent}/**\n${lines.join("\n")}\n${indent} */\n`;
}

/**
 * The TypeScript module for a $describe result (contract: {"procedures":[{name, kind, input, output, summary, auth}],
 * "topics":[...]}). Built-ins (names starting with "$") are left out: the client has its own methods for them.
 */
export async function generateApi(describe, { importFrom = "@gateway/client" } = {}) {
  if (!describe || !Array.isArray(describe.procedures))
    throw new Error("$describe did not answer {procedures:[...]} (a gateway older than the JSON Schema contract?)");
  const procedures = describe.procedures.filter((p) => typeof p.name === "string" && !p.name.startsWith("$")).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const types = [];
  const services = new Map();
  for (const p of procedures) {
    const slash = p.name.indexOf("/");
    if (slash <= 0) throw new Error(`procedure name "${p.name}" is not service/method`);
    const service = p.name.slice(0, slash);
    const method = p.name.slice(slash + 1);
    const base = typeBaseName(p.name);
    const hasInput = p.input !== null && p.input !== undefined;
    const hasOutput = p.output !== null && p.output !== undefined;
    const inputType = hasInput ? `${base}Input` : null;
    const outputType = hasOutput ? (p.kind === "subscription" ? `${base}Item` : `${base}Output`) : null;
    if (inputType) types.push(await typeFor(p.input, inputType));
    if (outputType) types.push(await typeFor(p.output, outputType));

    const param = inputType ? `input: ${inputType}, ` : "";
    const arg = inputType ? "input" : "undefined";
    let fn;
    if (p.kind === "subscription")
      fn = `(${param}options?: StreamOptions): AsyncGenerator<${outputType ?? "unknown"}, void, undefined> => client.stream<${outputType ?? "unknown"}>(${JSON.stringify(p.name)}, ${arg}, options)`;
    else if (p.kind === "notification")
      fn = `(${param}options?: { signal?: AbortSignal }): Promise<void> => client.notify(${JSON.stringify(p.name)}, ${arg}, options)`;
    else if (p.kind === "request")
      fn = `(${param}options?: CallOptions): Promise<${outputType ?? "null"}> => client.call<${outputType ?? "null"}>(${JSON.stringify(p.name)}, ${arg}, options)`;
    else throw new Error(`procedure ${p.name} has an unknown kind "${p.kind}"`);

    const auth = p.auth && (p.auth.required || p.auth.roles?.length || p.auth.policies?.length)
      ? `Requires authentication${p.auth.roles?.length ? `; roles: ${p.auth.roles.join(", ")}` : ""}${p.auth.policies?.length ? `; policies: ${p.auth.policies.join(", ")}` : ""}.`
      : "";
    const doc = [p.summary, `\`${p.name}\` (${p.kind}).`, auth].filter(Boolean).join("\n\n");
    if (!services.has(service)) services.set(service, []);
    services.get(service).push(`${jsDoc(doc, "      ")}      ${key(method)}: ${fn},`);
  }

  const topics = Array.isArray(describe.topics) ? describe.topics : [];
  const body = [...services.entries()].map(([service, fns]) => `    ${key(service)}: {\n${fns.join("\n")}\n    },`).join("\n");
  return `// Generated from the gateway's $describe by clients/js/codegen/generate.mjs (types: json-schema-to-typescript).
// Do not edit: regenerate (make client-types) when the procedures change.
import type { CallOptions, GatewayClient, StreamOptions } from ${JSON.stringify(importFrom)};

${types.join("\n").trim()}

/** Topic names and patterns clients may join with \`client.subscribe\` (Gateway:Topics:ClientSubscribe). */
export const topics = ${JSON.stringify(topics)} as const;

/** One typed function per procedure of the gateway, grouped by service. */
export function createApi(client: GatewayClient) {
  return {
${body}
  } as const;
}

export type Api = ReturnType<typeof createApi>;
`;
}

/** $describe's result from a running gateway. */
export async function describeFrom(url, { token, format = "json", WebSocket } = {}) {
  const { GatewayClient } = await import("../dist/index.js");
  const WS = WebSocket ?? globalThis.WebSocket ?? (await import("ws")).default;
  const client = new GatewayClient(url, { WebSocket: WS, format, token, reconnect: false });
  try {
    return await client.call("$describe", undefined, { timeoutMs: 15_000 });
  } finally {
    await client.close();
  }
}

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) throw new Error(`unexpected argument ${a}`);
    const name = a.slice(2);
    if (name === "start") args.start = true;
    else args[name] = argv[++i];
  }
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!args.out) throw new Error("--out FILE is required");
  let describe;
  if (args.describe) describe = JSON.parse(readFileSync(args.describe, "utf8"));
  else if (args.url) describe = await describeFrom(args.url, { token: args.token, format: args.format });
  else if (args.start) {
    if (args.plugins) process.env.GATEWAY_PLUGINS = args.plugins;
    const { startGateway } = await import("../test/gateway.mjs");
    // The whole API, guarded procedures included: an anonymous $describe lists only what anonymous callers may call.
    const gateway = await startGateway({ args: ["--Gateway:Auth:DescribeVisibleOnly=false"] });
    try {
      describe = await describeFrom(gateway.url);
    } finally {
      await gateway.stop();
    }
  } else throw new Error("give --url WS_URL, --describe FILE or --start");
  writeFileSync(args.out, await generateApi(describe, { importFrom: args["import-from"] }));
  console.log(`wrote ${args.out}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(e.message ?? e);
    process.exit(1);
  });
}
