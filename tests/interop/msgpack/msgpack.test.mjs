// gateway.v1.msgpack driven by an independent implementation: @msgpack/msgpack over ws against the real host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { encode } from '@msgpack/msgpack';
import { startGateway, MsgPackClient, JsonClient } from './gateway.mjs';

let gateway;
const clients = [];

before(async () => {
  gateway = await startGateway({
    'Gateway:Topics:ClientSubscribe:0': 'room:*',
    'Gateway:Limits:MaxBadMessages': '3',
    'Gateway:Json:MaxDepth': '16',
    'Gateway:Limits:MaxMessageBytes': '65536',
  });
});

after(async () => {
  for (const c of clients) c.close();
  await gateway?.stop();
});

async function connect() {
  const c = await MsgPackClient.connect(gateway.url);
  clients.push(c);
  return c;
}

test('the handshake selects gateway.v1.msgpack and every reply is a binary frame', async () => {
  const c = await connect();
  assert.equal(c.protocol, 'gateway.v1.msgpack');
  assert.equal(await c.result('$ping'), 'pong');
  assert.equal(c.frames.text, 0);
  assert.ok(c.frames.binary >= 1);
});

test('ids come back in the type they were sent: strings and integers', async () => {
  const c = await connect();
  for (const id of ['a', '7', 7, 0, -12, 2 ** 40, 'é😀']) {
    const reply = await c.call('$ping', undefined, id);
    assert.equal(reply.result, 'pong');
    assert.equal(typeof reply.id === 'bigint' ? Number(reply.id) : reply.id, id);
    assert.equal(typeof reply.id === 'string', typeof id === 'string');
  }
});

test('$describe is a MessagePack value naming the procedures', async () => {
  const c = await connect();
  const described = JSON.stringify(await c.result('$describe'));
  assert.match(described, /"echo\/echo"/);
  assert.match(described, /"blob\/echo"/);
});

test('echo/echo returns any value unchanged', async () => {
  const c = await connect();
  const value = { text: 'héllo', n: 42, neg: -7, f: 1.25, yes: true, no: false, none: null, list: [1, 'two', [3]], nested: { a: { b: 'c' } } };
  assert.deepEqual(await c.result('echo/echo', value), value);
  assert.equal(await c.result('echo/echo', 'plain'), 'plain');
  assert.equal(await c.result('echo/echo'), null);
});

test('binary payloads are bin both ways, times are timestamps', async () => {
  const c = await connect();
  const data = new Uint8Array(256).map((_, i) => i);
  const at = new Date(Date.UTC(2026, 11, 6, 7, 8, 9, 123));
  const echoed = await c.result('blob/echo', { data, at, name: 'n' });
  assert.ok(echoed.data instanceof Uint8Array);
  assert.deepEqual(Buffer.from(echoed.data), Buffer.from(data));
  assert.ok(echoed.at instanceof Date);
  assert.equal(echoed.at.getTime(), at.getTime());

  const big = randomBytes(40_000);
  const info = await c.result('blob/info', { data: new Uint8Array(big) });
  assert.equal(info.length, big.length);
  assert.equal(info.sha256, createHash('sha256').update(big).digest('hex'));
});

test('a stream sends data items then data nil and done', async () => {
  const c = await connect();
  c.send({ id: 5, path: 'echo/count', input: { n: 3 } });
  const list = await c.untilTerminal(5);
  assert.deepEqual(list.map((m) => m.data), [{ i: 0 }, { i: 1 }, { i: 2 }, null]);
  assert.equal(list[3].done, true);
});

test('progress comes before the result', async () => {
  const c = await connect();
  c.send({ id: 'slow', path: 'echo/slow', input: { delayMs: 250 } });
  const list = await c.untilTerminal('slow');
  assert.ok(list.length >= 2);
  assert.equal(typeof list[0].progress.elapsedMs, 'number');
  assert.deepEqual(list.at(-1).result, { delayMs: 250 });
});

test('cancel stops a stream by its id', async () => {
  const c = await connect();
  c.send({ id: 77, path: 'echo/count', input: { n: 100000, delayMs: 20 } });
  await c.next(77);
  c.send({ id: 77, cancel: true });
  assert.equal(await c.result('$ping'), 'pong');
  // No terminal message for the cancelled id: wait a while for one (bounded), expecting none.
  await assert.rejects(c.untilTerminal(77, 400), /no message for id 77/);
});

test('notifications get no answer', async () => {
  const c = await connect();
  c.send({ path: 'echo/log', input: { message: 'from node' } });
  c.send({ path: 'no/such' });
  const reply = await c.call('$ping', undefined, 'after');
  assert.equal(reply.id, 'after');
});

test('errors carry code, status, message, retryable, retryAfterMs and details', async () => {
  const c = await connect();
  const notFound = await c.call('no/such', undefined, 9);
  assert.equal(notFound.id, 9);
  assert.equal(notFound.error.code, 'NOT_FOUND');
  assert.equal(notFound.error.status, 404);
  const exhausted = await c.error('echo/fail', { code: 'RESOURCE_EXHAUSTED' });
  assert.deepEqual({ ...exhausted, message: undefined }, { code: 'RESOURCE_EXHAUSTED', status: 429, message: undefined, retryable: true, retryAfterMs: 1000, details: { requested: 'RESOURCE_EXHAUSTED' } });
  const crash = await c.error('echo/crash');
  assert.equal(crash.code, 'INTERNAL');
  assert.doesNotMatch(crash.message, /sample crash/);
  const invalid = await c.error('blob/info', { data: 'not base64 !!' });
  assert.equal(invalid.code, 'INVALID_ARGUMENT');
});

test('a call from the server is answered in MessagePack (result and error)', async () => {
  const c = await connect();
  c.send({ id: 'cb', path: 'echo/callback', input: { n: 1, bytes: 'x' } });
  const call = await c.nextServerCall();
  assert.equal(call.path, 'client/echo');
  assert.equal(typeof call.id === 'number' || typeof call.id === 'bigint', true);
  assert.deepEqual(call.input, { n: 1, bytes: 'x' });
  c.send({ id: call.id, result: { got: call.input, list: [1, 2] } });
  const [reply] = await c.untilTerminal('cb');
  assert.deepEqual(reply.result, { got: { n: 1, bytes: 'x' }, list: [1, 2] });

  c.send({ id: 'cb2', path: 'echo/callback', input: 2 });
  const second = await c.nextServerCall();
  c.send({ id: second.id, error: { code: 'PERMISSION_DENIED', status: 403, message: 'declined', retryable: false } });
  const [failed] = await c.untilTerminal('cb2');
  assert.equal(failed.error.code, 'PERMISSION_DENIED');
  assert.equal(failed.error.message, 'declined');
});

test('$subscribe, a topic event published from a JSON connection, $unsubscribe', async () => {
  const c = await connect();
  const json = await JsonClient.connect(gateway.url);
  try {
    assert.deepEqual(await c.result('$subscribe', { topic: 'room:node' }), { topic: 'room:node', subscribed: true });
    await json.result('$subscribe', { topic: 'room:node' });
    for (let i = 0; i < 3; i++) await json.result('chat/send', { room: 'node', text: `t${i}` });
    for (let i = 0; i < 3; i++) {
      const event = await c.nextEvent('chat.message');
      assert.equal(event.topic, 'room:node');
      assert.equal(event.data.text, `t${i}`);
      assert.equal(event.data.room, 'node');
      assert.equal((await json.nextEvent('chat.message')).data.text, `t${i}`);
    }
    assert.deepEqual(await c.result('$unsubscribe', { topic: 'room:node' }), { topic: 'room:node', subscribed: false });
    const denied = await c.error('$subscribe', { topic: 'closed' });
    assert.equal(denied.code, 'PERMISSION_DENIED');
  } finally {
    await json.close();
  }
});

test('malformed MessagePack is INVALID_ARGUMENT and the connection goes on', async () => {
  const c = await connect();
  for (const bytes of [[0xc1], [0x93, 1, 2, 3], [0x83, 0xa2, 0x69, 0x64], [0xdf, 0xff, 0xff, 0xff, 0xff]]) {
    c.sendRaw(new Uint8Array(bytes));
    const reply = await c.next(null);
    assert.equal(reply.error.code, 'INVALID_ARGUMENT');
    assert.equal(await c.result('$ping'), 'pong'); // resets the bad-message count
  }
  c.send({ id: 1.5, path: '$ping' });
  assert.match((await c.next(null)).error.message, /id must be a string or an integer/);
});

test('too many bad messages in a row close with 1008', async () => {
  const c = await connect();
  for (let i = 0; i < 3; i++) c.sendRaw(new Uint8Array([0xc1]));
  const { code } = await c.closed;
  assert.equal(code, 1008);
});

test('nesting deeper than Gateway:Json:MaxDepth is refused', async () => {
  const c = await connect();
  let ok = 1;
  for (let i = 0; i < 15; i++) ok = [ok];
  assert.ok('result' in (await c.call('echo/echo', ok)));
  let deep = ok;
  deep = [deep];
  const reply = await c.call('echo/echo', deep, 'deep');
  assert.equal(reply.error.code, 'INVALID_ARGUMENT');
  assert.match(reply.error.message, /deeper than 16/);
});

test('a message over Gateway:Limits:MaxMessageBytes closes with 1009', async () => {
  const c = await connect();
  c.send({ id: 'big', path: 'blob/info', input: { data: new Uint8Array(70_000) } });
  const { code } = await c.closed;
  assert.equal(code, 1009);
});

test('a text frame on a msgpack connection closes with 1003', async () => {
  const c = await connect();
  c.sendRaw(JSON.stringify({ id: 1, path: '$ping' }), false);
  const { code, reason } = await c.closed;
  assert.equal(code, 1003);
  assert.match(reason, /binary frames/);
});

test('a binary frame on a JSON connection closes with 1003', async () => {
  const json = await JsonClient.connect(gateway.url);
  json.sendRaw(encode({ id: 1, path: '$ping' }), true);
  const { code } = await json.closed;
  assert.equal(code, 1003);
});
