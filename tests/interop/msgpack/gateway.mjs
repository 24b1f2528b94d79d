// A real gateway (the published host, the sample plugins folder) on 127.0.0.1 and a port the OS picks, and a
// gateway.v1.msgpack client over `ws` that encodes and decodes with @msgpack/msgpack: nothing of the gateway's own code.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode, decode } from '@msgpack/msgpack';
import WebSocket from 'ws';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..', '..');
export const TIMEOUT_MS = 10_000;

/** Starts the host (GATEWAY_HOST_DLL, default publish/gateway) with the plugins in GATEWAY_PLUGINS (default ./plugins). */
export async function startGateway(settings = {}) {
  const hostDll = process.env.GATEWAY_HOST_DLL ?? join(repoRoot, 'publish', 'gateway', 'Gateway.Host.dll');
  const plugins = process.env.GATEWAY_PLUGINS ?? join(repoRoot, 'plugins');
  const workDir = mkdtempSync(join(tmpdir(), 'gateway-node-'));
  const args = [hostDll, '--Gateway:Listen:0=127.0.0.1:0', `--Gateway:Plugins:Path=${plugins}`];
  for (const [key, value] of Object.entries(settings)) args.push(`--${key}=${value}`);
  const env = { ...process.env, DOTNET_ENVIRONMENT: 'Production' };
  for (const key of Object.keys(env)) if (key.toLowerCase().startsWith('gateway__')) delete env[key];
  const child = spawn(process.env.DOTNET ?? 'dotnet', args, { cwd: workDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const port = await new Promise((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error('the gateway never logged its port:\n' + output)), 60_000);
    const onData = (chunk) => {
      output += chunk.toString();
      const match = /Listening on 127\.0\.0\.1:(\d+)/.exec(output);
      if (match) { clearTimeout(timer); resolvePort(Number(match[1])); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`the gateway exited (${code}):\n${output}`)); });
  });
  return {
    url: `ws://127.0.0.1:${port}/ws`,
    get output() { return output; },
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/** A message queue with awaitable, predicate-matched, time-bounded takes. */
class Inbox {
  #items = [];
  #waiters = [];
  #ended = null;
  push(item) {
    const i = this.#waiters.findIndex((w) => w.match(item));
    if (i >= 0) { const [w] = this.#waiters.splice(i, 1); clearTimeout(w.timer); w.resolve(item); return; }
    this.#items.push(item);
  }
  end(reason) {
    this.#ended = reason;
    for (const w of this.#waiters.splice(0)) { clearTimeout(w.timer); w.reject(new Error('connection ended: ' + reason)); }
  }
  take(match, what, timeoutMs = TIMEOUT_MS) {
    const i = this.#items.findIndex(match);
    if (i >= 0) return Promise.resolve(this.#items.splice(i, 1)[0]);
    if (this.#ended !== null) return Promise.reject(new Error('connection ended: ' + this.#ended));
    return new Promise((resolveTake, reject) => {
      const waiter = { match, resolve: resolveTake, reject };
      waiter.timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }
  get pending() { return this.#items.slice(); }
}

export class MsgPackClient {
  #ws;
  #inbox = new Inbox();
  #nextId = 0;
  frames = { binary: 0, text: 0 };
  closed;

  constructor(ws) {
    this.#ws = ws;
    ws.on('message', (data, isBinary) => {
      if (isBinary) this.frames.binary++; else this.frames.text++;
      this.#inbox.push(decode(data, { useBigInt64: true }));
    });
    this.closed = new Promise((resolveClose) => ws.on('close', (code, reason) => {
      this.#inbox.end(code);
      resolveClose({ code, reason: reason.toString() });
    }));
  }

  static connect(url, protocol = 'gateway.v1.msgpack') {
    return new Promise((resolveConnect, reject) => {
      const ws = new WebSocket(url, protocol);
      const client = new MsgPackClient(ws);
      ws.once('open', () => resolveConnect(client));
      ws.once('error', reject);
    });
  }

  get protocol() { return this.#ws.protocol; }
  newId() { return `n${++this.#nextId}`; }
  send(message) { this.#ws.send(encode(message)); }
  sendRaw(bytes, binary = true) { this.#ws.send(bytes, { binary }); }
  close() { this.#ws.close(1000); return this.closed; }

  /** The next message for an id (compared in its own type: 7 and "7" differ). */
  next(id, timeoutMs) {
    return this.#inbox.take((m) => !('event' in m) && !('path' in m) && sameId(m.id, id), `message for id ${String(id)}`, timeoutMs);
  }
  nextEvent(name, timeoutMs) { return this.#inbox.take((m) => 'event' in m && (name === undefined || m.event === name), `event ${name ?? ''}`, timeoutMs); }
  nextServerCall(timeoutMs) { return this.#inbox.take((m) => 'path' in m && !('event' in m), 'call from the server', timeoutMs); }

  async untilTerminal(id, timeoutMs = TIMEOUT_MS) {
    const deadline = Date.now() + timeoutMs;
    const list = [];
    for (;;) {
      const m = await this.next(id, Math.max(1, deadline - Date.now()));
      list.push(m);
      if ('result' in m || 'error' in m || m.done === true) return list;
    }
  }

  /** Sends a request and resolves with its terminal message. */
  async call(path, input, id = this.newId()) {
    const message = { id, path };
    if (input !== undefined) message.input = input;
    this.send(message);
    const list = await this.untilTerminal(id);
    return list[list.length - 1];
  }

  async result(path, input) {
    const reply = await this.call(path, input);
    if (!('result' in reply)) throw new Error(`expected a result from ${path}, got ${JSON.stringify(reply, replacer)}`);
    return reply.result;
  }

  async error(path, input) {
    const reply = await this.call(path, input);
    if (!reply.error) throw new Error(`expected an error from ${path}, got ${JSON.stringify(reply, replacer)}`);
    return reply.error;
  }
}

/** A gateway.v1.json client (text frames), to publish from JSON and to check the other format. */
export class JsonClient {
  #ws;
  #inbox = new Inbox();
  #nextId = 0;
  closed;
  constructor(ws) {
    this.#ws = ws;
    ws.on('message', (data) => this.#inbox.push(JSON.parse(data.toString())));
    this.closed = new Promise((r) => ws.on('close', (code, reason) => { this.#inbox.end(code); r({ code, reason: reason.toString() }); }));
  }
  static connect(url) {
    return new Promise((resolveConnect, reject) => {
      const ws = new WebSocket(url, 'gateway.v1.json');
      const client = new JsonClient(ws);
      ws.once('open', () => resolveConnect(client));
      ws.once('error', reject);
    });
  }
  sendRaw(data, binary = false) { this.#ws.send(data, { binary }); }
  nextEvent(name) { return this.#inbox.take((m) => m.event === name, `event ${name}`); }
  async result(path, input) {
    const id = `j${++this.#nextId}`;
    this.#ws.send(JSON.stringify({ id, path, input }));
    const reply = await this.#inbox.take((m) => m.id === id && ('result' in m || 'error' in m), `reply ${id}`);
    if (!('result' in reply)) throw new Error(`expected a result from ${path}, got ${JSON.stringify(reply)}`);
    return reply.result;
  }
  close() { this.#ws.close(1000); return this.closed; }
}

export function sameId(a, b) {
  if (typeof a === 'bigint' || typeof b === 'bigint') return (typeof a === 'bigint' || typeof a === 'number') && (typeof b === 'bigint' || typeof b === 'number') && BigInt(a) === BigInt(b);
  return typeof a === typeof b && a === b;
}

export function replacer(_key, value) {
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Uint8Array) return `bin(${Buffer.from(value).toString('hex')})`;
  return value;
}
