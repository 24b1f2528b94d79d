#!/usr/bin/env bash
# Topic fan-out vs unary RPC on the same gateway build, in one run: for each of REPS repetitions, a freshly started
# gateway (pinned to core SERVER_CPU) gets the `rpc` scenario (echo/echo, 50 connections × 16 in flight, 64-byte
# payload: the baseline), then another fresh gateway gets `fanout` (1 publisher × 16 in flight, 1000 subscribers on
# room:bench), the load tool pinned to core CLIENT_CPU. Writes perf/results/fanout.md (medians, and the ratio of
# delivered events/s to echo requests/s) from the JSON summaries in perf/results/fanout/. Loopback only, bounded:
# every load run is capped by `timeout`, every server is stopped (TERM, then KILL) when its scenario ends.
# Issue 17: DEFLATE=1 makes the load tool offer permessage-deflate on every connection; PAYLOAD_KIND=text fills the
# payloads with chat-like text (e.g. DEFLATE=1 PAYLOAD_KIND=text PAYLOAD=1024) so compression ratios are honest.
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-3}
DURATION=${DURATION:-10s}
# Longer than bench-compare's 2 s: on a busy 2-core machine the JIT's tiering (TieredPGO) of the gateway and the
# tool takes several seconds under load; a profile 8 s into a run still showed the gateway's delivery path at the
# instrumented tier, and a 12-15 s warm-up gave 1.5-3x the figures of a 2 s one, for rpc and fanout alike.
WARMUP=${WARMUP:-15s}
CONNECTIONS=${CONNECTIONS:-50}
INFLIGHT=${INFLIGHT:-16}
PAYLOAD=${PAYLOAD:-64}
SUBSCRIBERS=${SUBSCRIBERS:-1000}
PUBLISHERS=${PUBLISHERS:-1}
PUB_INFLIGHT=${PUB_INFLIGHT:-16}
TOPIC=${TOPIC:-room:bench}
PORT=${PORT:-18600}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
RUN_LIMIT=${RUN_LIMIT:-180}   # seconds: the most one load run may take before it is stopped
OUT=perf/results/fanout

command -v taskset >/dev/null || { echo "taskset (util-linux) is required"; exit 1; }
command -v python3 >/dev/null || { echo "python3 is required for the summary"; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

. perf/bench-lib.sh
if port_open; then echo "port $PORT is already in use: set PORT=... to a free one"; exit 1; fi

echo "== building (Release)"
dotnet build Gateway.sln -c Release -nologo -v q >/dev/null
dotnet publish src/Gateway.Samples -c Release -nologo -v q -o plugins/Gateway.Samples >/dev/null
HOST_DLL=src/Gateway.Host/bin/Release/net10.0/Gateway.Host.dll
LOAD_DLL=perf/Gateway.LoadTest/bin/Release/net10.0/Gateway.LoadTest.dll
rm -rf "$OUT"; mkdir -p "$OUT"

start_server() { # log name
  # The sample plugin brings echo/echo and chat/send; its ticker is off so that nothing else publishes.
  taskset -c "$SERVER_CPU" dotnet "$HOST_DLL" --Gateway:Listen:0=127.0.0.1:$PORT --Serilog:MinimumLevel:Default=Warning \
    --Samples:Ticker:Enabled=false >"$OUT/$1.server.log" 2>&1 &
  wait_for_server "$1"
}

load_tool() { # log, then the tool's arguments
  local log=$1; shift
  local rc=0
  timeout --kill-after=10 "$RUN_LIMIT" taskset -c "$CLIENT_CPU" dotnet "$LOAD_DLL" "$@" \
    --url "ws://127.0.0.1:$PORT/ws" --server-pid "$SERVER_PID" --json --plain $([ "${DEFLATE:-0}" = 1 ] && echo --deflate) ${PAYLOAD_KIND:+--payload-kind "$PAYLOAD_KIND"} >"$log" 2>&1 || rc=$?
  # 1 = some steps failed: the report says which, and the summary shows it. Anything else: the run did not happen.
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then echo "load tool exited with $rc; see $log:"; tail -20 "$log"; exit 1; fi
}

for rep in $(seq 1 "$REPS"); do
  echo "== rpc (echo/echo, $CONNECTIONS × $INFLIGHT, ${PAYLOAD} B), repetition $rep/$REPS"
  start_server "rpc.$rep"
  load_tool "$OUT/rpc.$rep.log" rpc --connections "$CONNECTIONS" --inflight "$INFLIGHT" --payload "$PAYLOAD" \
    --duration "$DURATION" --warmup "$WARMUP" --label gateway --out "$OUT/gateway.$rep"
  stop_server

  echo "== fanout ($PUBLISHERS publisher × $PUB_INFLIGHT, $SUBSCRIBERS subscribers on $TOPIC), repetition $rep/$REPS"
  start_server "fanout.$rep"
  load_tool "$OUT/fanout.$rep.log" fanout --subscribers "$SUBSCRIBERS" --publishers "$PUBLISHERS" --inflight "$PUB_INFLIGHT" \
    --topic "$TOPIC" --duration "$DURATION" --warmup "$WARMUP" --label gateway --out "$OUT/gateway.$rep"
  # The server's own counters after the run (events published/delivered, slow-consumer drops), for the record.
  if command -v curl >/dev/null; then curl -s -m 5 "http://127.0.0.1:$PORT/metrics" >"$OUT/fanout.$rep.metrics.txt" || true; fi
  stop_server
done

python3 perf/fanout.py "$OUT" "$REPS" > perf/results/fanout.md
echo "== wrote perf/results/fanout.md"
cat perf/results/fanout.md
