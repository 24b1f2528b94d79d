// The demo page: a chat over the sample plugin, written against the client package only.
// Query parameters: ?format=msgpack (default json), ?token=T (offered as the bearer.T subprotocol entry),
// ?ws=/other-path (default /ws on the page's own host).
import { GatewayClient, RpcError } from "@gateway/client";

const params = new URLSearchParams(location.search);
const format = params.get("format") === "msgpack" ? "msgpack" : "json";
const token = params.get("token");
const wsUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${params.get("ws") || "/ws"}`;
const $ = (id) => document.getElementById(id);

const client = new GatewayClient(wsUrl, {
  format,
  token: token ? () => token : undefined,
  reconnect: { initialDelayMs: 200, maxDelayMs: 3000 },
  onError: (e) => log("system", `error: ${e.message ?? e}`),
});

// What the browser tests read (and a curious developer in the console).
const demo = { client, format, received: [], rooms: new Map(), user: null };
window.demo = demo;
$("format").textContent = `format: ${format}`;

function log(kind, text) {
  const li = document.createElement("li");
  li.className = kind;
  li.textContent = text;
  $("messages").append(li);
  li.scrollIntoView({ block: "nearest" });
}

function showState(state, attempt, delayMs) {
  $("state").textContent = state;
  $("state").dataset.state = state;
  $("attempt").textContent = state === "reconnecting" || (state === "connecting" && attempt) ? `attempt ${attempt}, next in ${delayMs ?? 0} ms` : "";
}
client.onState(({ state, attempt, delayMs }) => showState(state, attempt, delayMs));
client.ready().then(() => showState(client.state, 0), () => {});

// The user name lives on the connection (chat/login), so a new connection after a restart needs it again;
// topic subscriptions the client restores by itself.
client.onState(async ({ state }) => {
  if (state === "open" && demo.user) {
    try { await client.call("chat/login", { user: demo.user }); } catch (e) { log("system", `login again failed: ${e.message}`); }
  }
});

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const user = $("user").value.trim();
  try {
    const me = await client.call("chat/login", { user });
    demo.user = user;
    $("whoami").textContent = `logged in as ${me.userId} on ${me.nodeId}`;
  } catch (err) {
    $("whoami").textContent = `${err.code}: ${err.message}`;
  }
});

function renderRooms() {
  const list = $("rooms");
  const select = $("send-room");
  list.replaceChildren();
  select.replaceChildren();
  for (const room of demo.rooms.keys()) {
    const li = document.createElement("li");
    li.textContent = `#${room}`;
    li.dataset.room = room;
    const leave = document.createElement("button");
    leave.textContent = "leave";
    leave.onclick = async () => {
      await demo.rooms.get(room)?.unsubscribe();
      demo.rooms.delete(room);
      renderRooms();
    };
    li.append(leave);
    list.append(li);
    const option = document.createElement("option");
    option.value = option.textContent = room;
    select.append(option);
  }
}

$("join-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const room = $("room").value.trim();
  if (demo.rooms.has(room)) return;
  const subscription = client.subscribe(`room:${room}`, (m) => {
    demo.received.push({ kind: "room", ...m });
    log("room", `[#${m.room}] ${m.from}: ${m.text}`);
  });
  try {
    await subscription.ready;
    demo.rooms.set(room, subscription);
    renderRooms();
    log("system", `joined #${room}`);
  } catch (err) {
    log("system", `cannot join #${room}: ${err.code} ${err.message}`);
  }
});

$("send-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const room = $("send-room").value;
  const text = $("text").value;
  if (!room) return log("system", "join a room first");
  try {
    await client.call("chat/send", { room, text }, { timeoutMs: 10_000 });
    $("text").value = "";
  } catch (err) {
    log("system", `not sent: ${err.code} ${err.message}${err.retryable ? " (retry)" : ""}`);
  }
});

client.on("chat.direct", (m) => {
  demo.received.push({ kind: "direct", ...m });
  log("direct", `[dm] ${m.from}: ${m.text}`);
});

$("dm-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const r = await client.call("chat/dm", { user: $("dm-user").value.trim(), text: $("dm-text").value });
    $("dm-result").textContent = r.delivered ? "delivered" : `${r.user} is not connected`;
  } catch (err) {
    $("dm-result").textContent = `${err.code}: ${err.message}`;
  }
});

// Server-to-client: echo/callback makes the gateway call client/echo on this page.
client.handle("client/echo", (input) => {
  $("callback-log").textContent += `the server called client/echo with ${JSON.stringify(input)}\n`;
  if (input && input.fail) throw new RpcError("FAILED_PRECONDITION", "the page refused");
  return { answeredBy: "the page", input, at: new Date().toISOString() };
});
$("callback").addEventListener("click", async () => {
  try {
    const answer = await client.call("echo/callback", { question: "who answers?", n: Math.floor(Math.random() * 100) });
    $("callback-log").textContent += `echo/callback returned ${JSON.stringify(answer)}\n`;
  } catch (err) {
    $("callback-log").textContent += `echo/callback failed: ${err.code} ${err.message}\n`;
  }
});

let slow = null;
$("slow").addEventListener("click", async () => {
  slow = new AbortController();
  $("slow").disabled = true;
  $("slow-cancel").disabled = false;
  $("progress").value = 0;
  $("slow-result").textContent = "running";
  try {
    const r = await client.call("echo/slow", { delayMs: 2000 }, {
      signal: slow.signal,
      onProgress: (p) => ($("progress").value = p.elapsedMs),
    });
    $("progress").value = r.delayMs;
    $("slow-result").textContent = `done after ${r.delayMs} ms`;
  } catch (err) {
    $("slow-result").textContent = `${err.code}: ${err.message}`;
  } finally {
    $("slow").disabled = false;
    $("slow-cancel").disabled = true;
  }
});
$("slow-cancel").addEventListener("click", () => slow?.abort());
