// Node's ws client with permessage-deflate on, against the gateway's echo endpoint.
// Usage: node echo-client.js <ws-url> '<perMessageDeflate options as JSON>'
// Sends text and binary messages of several sizes (some fragmented, some repeated so context takeover matters),
// checks every echo byte for byte, and prints one JSON line: {"ok":true,"extensions":"<the server's
// Sec-WebSocket-Extensions answer>","messages":N} or
// {"ok":false,"error":"..."}. Exits 1 on any failure; gives up after 20 s.
'use strict';
const WebSocket = require('ws');
const crypto = require('crypto');

const [url, optionsJson] = process.argv.slice(2);
const perMessageDeflate = JSON.parse(optionsJson || '{}');
const timer = setTimeout(() => fail('timed out after 20 s'), 20000);

function fail(error) {
  console.log(JSON.stringify({ ok: false, error: String(error) }));
  process.exit(1);
}

function json(i, size) {
  const items = [];
  let text = '';
  for (let n = 0; text.length < size; n++) {
    items.push({ id: n, user: 'user-' + (n % 7), text: 'the quick brown fox ' + (i * 31 + n), tags: ['a', 'b', 'c'] });
    text = JSON.stringify({ seq: i, items });
  }
  return text;
}

const messages = [];
for (let i = 0; i < 6; i++) messages.push({ data: json(i, 1024), binary: false });
messages.push({ data: json(99, 1024), binary: false });
messages.push({ data: json(99, 1024), binary: false }); // the same again: context takeover makes it tiny
messages.push({ data: 'tiny', binary: false });
messages.push({ data: '', binary: false });
messages.push({ data: 'h\u00e9llo w\u00f6rld \u{1F600} '.repeat(200), binary: false });
messages.push({ data: crypto.randomBytes(4096), binary: true });
messages.push({ data: Buffer.alloc(64 * 1024, 7), binary: true });
messages.push({ data: json(7, 200 * 1024), binary: false });
messages.push({ data: json(8, 3000), binary: false, fragments: 3 });

const ws = new WebSocket(url, { perMessageDeflate });
let index = 0;
let extensions = '';
ws.on('upgrade', (response) => { extensions = response.headers['sec-websocket-extensions'] || ''; });
ws.on('error', fail);
ws.on('close', (code) => { if (index < messages.length) fail('closed early with ' + code); });
ws.on('open', () => {
  if (!ws.extensions.includes('permessage-deflate')) fail('permessage-deflate was not negotiated: "' + extensions + '"');
  sendNext();
});
ws.on('message', (data, isBinary) => {
  const expected = messages[index];
  const want = Buffer.isBuffer(expected.data) ? expected.data : Buffer.from(expected.data, 'utf8');
  if (isBinary !== expected.binary) fail(`message ${index}: binary=${isBinary}, expected ${expected.binary}`);
  if (!Buffer.from(data).equals(want)) fail(`message ${index}: echo differs (${data.length} bytes, expected ${want.length})`);
  index++;
  if (index === messages.length) {
    clearTimeout(timer);
    console.log(JSON.stringify({ ok: true, extensions, messages: index }));
    ws.close(1000, 'done');
  } else {
    sendNext();
  }
});

function sendNext() {
  const m = messages[index];
  if (!m.fragments) {
    ws.send(m.data, { binary: m.binary, compress: true });
    return;
  }
  const buffer = Buffer.from(m.data, 'utf8');
  const size = Math.ceil(buffer.length / m.fragments);
  for (let k = 0; k < m.fragments; k++) {
    const part = buffer.subarray(k * size, Math.min(buffer.length, (k + 1) * size));
    ws.send(part, { binary: m.binary, compress: true, fin: k === m.fragments - 1 });
  }
}
