// Starts the real gateway (the published Gateway.Host with the sample plugins) as a child process on a loopback port
// picked by the OS, for the node:test suites and the browser tests.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** publish/gateway/Gateway.Host.dll (`make publish`), or GATEWAY_HOST_DLL. */
export function hostDll() {
  const dll = process.env.GATEWAY_HOST_DLL || join(repoRoot, "publish", "gateway", "Gateway.Host.dll");
  if (!existsSync(dll)) throw new Error(`the gateway is not published at ${dll}: run 'make publish plugins' (or set GATEWAY_HOST_DLL)`);
  return dll;
}

/** plugins/ (`make plugins`), or GATEWAY_PLUGINS. */
export function pluginsDir() {
  const dir = process.env.GATEWAY_PLUGINS || join(repoRoot, "plugins");
  if (!existsSync(join(dir, "Gateway.Samples", "Gateway.Samples.dll"))) throw new Error(`the sample plugin is not built under ${dir}: run 'make plugins'`);
  return dir;
}

/**
 * Starts a gateway. `port` 0 lets the OS pick (read back from the "Listening on" line); a restart passes the port it
 * had. `args` are extra --Gateway:... settings. Resolves once it listens (bounded by `timeoutMs`).
 */
export async function startGateway({ port = 0, args = [], timeoutMs = 60_000 } = {}) {
  const cwd = mkdtempSync(join(tmpdir(), "gateway-js-test-"));
  const env = { ...process.env, DOTNET_ENVIRONMENT: "Production" };
  for (const k of Object.keys(env)) if (k.toLowerCase().startsWith("gateway__")) delete env[k];
  const child = spawn("dotnet", [
    hostDll(),
    `--Gateway:Listen:0=127.0.0.1:${port}`,
    `--Gateway:Plugins:Path=${pluginsDir()}`,
    // A stop (restart tests) should not wait the production 30 s for in-flight calls.
    "--Gateway:Timeouts:Shutdown=00:00:02",
    "--Samples:Ticker:Enabled=false",
    ...args,
  ], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const exited = new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
  const bound = await new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`the gateway did not listen within ${timeoutMs} ms\n${output}`)), timeoutMs);
    const onData = (chunk) => {
      output += chunk;
      const m = /Listening on 127\.0\.0\.1:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolvePort(Number(m[1]));
      }
    };
    child.stdout.setEncoding("utf8").on("data", onData);
    child.stderr.setEncoding("utf8").on("data", onData);
    exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`the gateway exited (${code}) before listening\n${output}`));
    });
  });
  const gateway = {
    port: bound,
    url: `ws://127.0.0.1:${bound}/ws`,
    http: `http://127.0.0.1:${bound}`,
    output: () => output,
    /** SIGKILL: the process dies with its sockets (connections reset, no close frame). */
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGKILL");
      await exited;
      rmSync(cwd, { recursive: true, force: true });
    },
    /** SIGTERM: the graceful stop (drain, then 1001 to every session); resolves when the process is gone. */
    async stop(timeout = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), timeout);
      await exited;
      clearTimeout(timer);
      rmSync(cwd, { recursive: true, force: true });
    },
  };
  return gateway;
}

/** Resolves when `predicate()` holds, polling every 20 ms; rejects after `timeoutMs` with `what`. */
export async function until(predicate, what, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A promise with its resolve function, resolved by the first `resolve(value)`, rejected after `timeoutMs`. */
export function signal(what, timeoutMs = 10_000) {
  let resolveIt;
  const promise = new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`timed out waiting for ${what}`)), timeoutMs);
    resolveIt = (v) => {
      clearTimeout(timer);
      res(v);
    };
  });
  return { promise, resolve: (v) => resolveIt(v) };
}
