#!/usr/bin/env bash
# Every scenario of issue 16 against the gateway (JSON and MessagePack), the tuned Kestrel baseline, the naive Kestrel
# baseline and SignalR, in one go: each server pinned to core SERVER_CPU and the load tool to core CLIENT_CPU, a fresh
# server per run, WARMUP then DURATION measured, REPS repetitions interleaved (repetition 1 of every case and server,
# then repetition 2, ...), medians. Writes perf/results/compare.md (perf/compare.py) from the load tool's JSON
# summaries in perf/results/compare/. Loopback only; every load run is capped by `timeout` (RUN_LIMIT), every server
# is stopped (TERM, then KILL) after its run. Method and how to read the table: perf/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-30s}     # tiering on one pinned core: the tuned Kestrel baseline needs 20-25 s (perf/README.md, "Warm-up")
PORT=${PORT:-18500}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
RUN_LIMIT=${RUN_LIMIT:-240}   # seconds: the most one load run may take before it is stopped
# The cases (perf/README.md, "Scenarios"); a subset with CASES="rpc many".
CASES=${CASES:-rpc many stream large fanout fanout-mixed idle}
SERVERS_GIVEN=${SERVERS:-}
SERVERS=${SERVERS:-gateway gateway-msgpack kestrel kestrel-naive signalr}
RPC_CONNECTIONS=${RPC_CONNECTIONS:-50}; RPC_INFLIGHT=${RPC_INFLIGHT:-16}; PAYLOAD=${PAYLOAD:-64}
MANY=${MANY:-5000}
STREAM_CONNECTIONS=${STREAM_CONNECTIONS:-10}; STREAM_ITEMS=${STREAM_ITEMS:-1000}
LARGE_CONNECTIONS=${LARGE_CONNECTIONS:-4}; LARGE_PAYLOAD=${LARGE_PAYLOAD:-1048576}
SUBSCRIBERS=${SUBSCRIBERS:-1000}; PUB_INFLIGHT=${PUB_INFLIGHT:-1}
IDLE=${IDLE:-10000}; HOLD=${HOLD:-5s}
OUT=perf/results/compare
# Issue 17 (permessage-deflate): CASES=compressed runs rpc-text (echo of TEXT_PAYLOAD bytes of chat-like text), fanout-text
# (SUBSCRIBERS subscribers, TEXT_PAYLOAD-byte chat text) and idle against `gateway` (uncompressed) and `gateway-deflate`
# (the same gateway, the load tool offering permessage-deflate); compare.py adds the compressed-vs-plain table.
TEXT_PAYLOAD=${TEXT_PAYLOAD:-1024}
# fanout-text: every INFLATE_SAMPLE-th subscriber inflates and reads each event, the others check and count its frames,
# in both runs alike (the load tool's --inflate-sample): one core of client cannot inflate 1,000 copies of every event.
INFLATE_SAMPLE=${INFLATE_SAMPLE:-10}
# fanout / fanout-mixed: the same option for the plain fan-out cases, 1 (every subscriber reads every event) by default so
# SignalR (several events per message) runs too. FANOUT_SAMPLE=10 takes the load tool's event parsing off the critical
# path when its core, not the server's, is what limits the figure (client CPU near 100 % in the table); SignalR is
# then skipped, as the load tool refuses sampling for it.
FANOUT_SAMPLE=${FANOUT_SAMPLE:-1}
RESULT=perf/results/compare.md
if [[ " $CASES " == *" compressed "* ]]; then
  RESULT=perf/results/compare-compressed.md
  CASES=$(echo " $CASES " | sed 's/ compressed / rpc-text fanout-text idle /' | xargs)
  [ -n "$SERVERS_GIVEN" ] || SERVERS="gateway gateway-deflate"
fi
export SERVER_CPU CLIENT_CPU

command -v taskset >/dev/null || { echo "taskset (util-linux) is required"; exit 1; }
command -v python3 >/dev/null || { echo "python3 is required for the summary"; exit 1; }
command -v curl >/dev/null || { echo "curl is required (GC counts from each server's /metrics)"; exit 1; }
for project in Gateway.Baseline.KestrelTuned Gateway.Baseline.Kestrel Gateway.Baseline.SignalR; do
  [ -d "perf/baselines/$project" ] || { echo "missing baseline project perf/baselines/$project"; exit 1; }
done
# Each process holds one descriptor per connection: IDLE connections (plus a few hundred for the runtime) on each side.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
if [ "$(ulimit -n)" -lt $((IDLE + 512)) ]; then
  echo "the descriptor limit ($(ulimit -n)) is below IDLE + 512 = $((IDLE + 512)): raise it (ulimit -Hn) or lower IDLE"; exit 1
fi

. perf/bench-lib.sh
if port_open; then echo "port $PORT is already in use: set PORT=... to a free one"; exit 1; fi

echo "== building (Release)"
dotnet build Gateway.sln -c Release -nologo -v q >/dev/null
dotnet publish src/Gateway.Samples -c Release -nologo -v q -o plugins/Gateway.Samples >/dev/null
HOST_DLL=src/Gateway.Host/bin/Release/net10.0/Gateway.Host.dll
TUNED_DLL=perf/baselines/Gateway.Baseline.KestrelTuned/bin/Release/net10.0/Gateway.Baseline.KestrelTuned.dll
NAIVE_DLL=perf/baselines/Gateway.Baseline.Kestrel/bin/Release/net10.0/Gateway.Baseline.Kestrel.dll
SIGNALR_DLL=perf/baselines/Gateway.Baseline.SignalR/bin/Release/net10.0/Gateway.Baseline.SignalR.dll
LOAD_DLL=perf/Gateway.LoadTest/bin/Release/net10.0/Gateway.LoadTest.dll
rm -rf "$OUT"; mkdir -p "$OUT"

start_server() { # server log-name
  case "$1" in
    gateway|gateway-msgpack|gateway-deflate)
      # The sample plugin (echo/echo, echo/count, chat/send); its ticker off so nothing else publishes.
      taskset -c "$SERVER_CPU" dotnet "$HOST_DLL" --Gateway:Listen:0=127.0.0.1:$PORT --Serilog:MinimumLevel:Default=Warning \
        --Gateway:Limits:MaxMessageBytes=4194304 --Samples:Ticker:Enabled=false >"$OUT/$2.server.log" 2>&1 & ;;
    kestrel) taskset -c "$SERVER_CPU" dotnet "$TUNED_DLL" --urls "http://127.0.0.1:$PORT" >"$OUT/$2.server.log" 2>&1 & ;;
    kestrel-naive) taskset -c "$SERVER_CPU" dotnet "$NAIVE_DLL" --urls "http://127.0.0.1:$PORT" >"$OUT/$2.server.log" 2>&1 & ;;
    signalr) taskset -c "$SERVER_CPU" dotnet "$SIGNALR_DLL" --urls "http://127.0.0.1:$PORT" >"$OUT/$2.server.log" 2>&1 & ;;
    *) echo "unknown server $1"; exit 1 ;;
  esac
  wait_for_server "$2"
}

url_for() { case "$1" in signalr) echo "ws://127.0.0.1:$PORT/hub" ;; *) echo "ws://127.0.0.1:$PORT/ws" ;; esac; }
protocol_args() {
  case "$1" in
    signalr) echo "--protocol signalr" ;;
    gateway-msgpack) echo "--protocol gateway --format msgpack" ;;
    gateway-deflate) echo "--protocol gateway --deflate" ;;
    *) echo "--protocol gateway" ;;
  esac
}

# Which servers run which case: fan-out needs topics (the naive baseline has none; SignalR's are groups); an idle
# connection of gateway-msgpack is the gateway's (the format is chosen per message, not per idle socket).
applies() { # case server
  case "$1:$2" in
    fanout:kestrel-naive) return 1 ;;
    fanout:signalr) [ "$FANOUT_SAMPLE" = 1 ] || return 1 ;;
    # Issue 12: the same fan-out to an audience half JSON, half MessagePack; only the gateway speaks both.
    fanout-mixed:gateway) return 0 ;;
    fanout-mixed:*) return 1 ;;
    idle:gateway-msgpack) return 1 ;;
    # Issue 17: the text cases compare the gateway with and without compression; gateway-deflate runs only those and idle.
    rpc-text:gateway|rpc-text:gateway-deflate|fanout-text:gateway|fanout-text:gateway-deflate|idle:gateway-deflate) return 0 ;;
    rpc-text:*|fanout-text:*|*:gateway-deflate) return 1 ;;
  esac
  return 0
}

gc_counts() { # "gen0 gen2" from the server's /metrics (every server here answers dotnet_gc_collections_total)
  curl -s -m 5 "http://127.0.0.1:$PORT/metrics" | awk '
    /^dotnet_gc_collections_total\{generation="0"\}/{g0=$2; seen=1}
    /^dotnet_gc_collections_total\{generation="2"\}/{g2=$2}
    END{ if (seen) print g0+0, g2+0; else print "null null" }'
}

load_tool() { # log, then the tool's arguments
  local log=$1; shift
  local rc=0
  timeout --kill-after=10 "$RUN_LIMIT" taskset -c "$CLIENT_CPU" dotnet "$LOAD_DLL" "$@" --server-pid "$SERVER_PID" --json --plain >"$log" 2>&1 || rc=$?
  # 1 = some steps failed: the report counts them. Anything else: the run did not happen; recorded and skipped.
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then echo "   load tool exited with $rc; see $log:"; tail -5 "$log" | sed 's/^/   /'; fi
}

run_case() { # case server rep
  local case=$1 server=$2 rep=$3
  local name="$server.$case.$rep"
  local common=(--url "$(url_for "$server")" $(protocol_args "$server") --label "$server" --out "$OUT/$name")
  start_server "$server" "$name"
  local g0a g2a g0b g2b
  read -r g0a g2a < <(gc_counts)
  case "$case" in
    rpc) load_tool "$OUT/$name.log" rpc "${common[@]}" --connections "$RPC_CONNECTIONS" --inflight "$RPC_INFLIGHT" \
           --payload "$PAYLOAD" --duration "$DURATION" --warmup "$WARMUP" ;;
    # One request in flight per connection: each request is its own frame and its own write, as from a crowd of browsers.
    many) load_tool "$OUT/$name.log" rpc "${common[@]}" --connections "$MANY" --inflight 1 --payload "$PAYLOAD" \
            --duration "$DURATION" --warmup "$WARMUP" ;;
    stream) load_tool "$OUT/$name.log" stream "${common[@]}" --connections "$STREAM_CONNECTIONS" --inflight 1 \
              --items "$STREAM_ITEMS" --duration "$DURATION" --warmup "$WARMUP" ;;
    large) load_tool "$OUT/$name.log" large "${common[@]}" --connections "$LARGE_CONNECTIONS" --inflight 1 \
             --payload "$LARGE_PAYLOAD" --duration "$DURATION" --warmup "$WARMUP" ;;
    fanout) load_tool "$OUT/$name.log" fanout "${common[@]}" --subscribers "$SUBSCRIBERS" --publishers 1 \
              --inflight "$PUB_INFLIGHT" --topic room:bench --inflate-sample "$FANOUT_SAMPLE" --duration "$DURATION" --warmup "$WARMUP" ;;
    fanout-mixed) load_tool "$OUT/$name.log" fanout "${common[@]}" --mixed-formats --subscribers "$SUBSCRIBERS" --publishers 1 \
              --inflight "$PUB_INFLIGHT" --topic room:bench --inflate-sample "$FANOUT_SAMPLE" --duration "$DURATION" --warmup "$WARMUP" ;;
    idle) load_tool "$OUT/$name.log" connections "${common[@]}" --count "$IDLE" --hold "$HOLD" ;;
    rpc-text) load_tool "$OUT/$name.log" rpc "${common[@]}" --connections "$RPC_CONNECTIONS" --inflight "$RPC_INFLIGHT" \
           --payload "$TEXT_PAYLOAD" --payload-kind text --duration "$DURATION" --warmup "$WARMUP" ;;
    fanout-text) load_tool "$OUT/$name.log" fanout "${common[@]}" --subscribers "$SUBSCRIBERS" --publishers 1 \
              --inflight "$PUB_INFLIGHT" --topic room:bench --payload "$TEXT_PAYLOAD" --payload-kind text --inflate-sample "$INFLATE_SAMPLE" --duration "$DURATION" --warmup "$WARMUP" ;;
  esac
  read -r g0b g2b < <(gc_counts)
  if [ "$g0a" = null ] || [ "$g0b" = null ]; then
    echo '{"gen0": null, "gen2": null}' >"$OUT/$name.gc.json"
  else
    echo "{\"gen0\": $((g0b - g0a)), \"gen2\": $((g2b - g2a))}" >"$OUT/$name.gc.json"
  fi
  stop_server
}

START=$(date +%s)
for rep in $(seq 1 "$REPS"); do
  for case in $CASES; do
    for server in $SERVERS; do
      applies "$case" "$server" || continue
      echo "== [$(date +%T)] $case / $server, repetition $rep/$REPS"
      run_case "$case" "$server" "$rep"
    done
  done
done
echo "== all runs took $(( ($(date +%s) - START) / 60 )) min"

CASES="$CASES" SERVERS="$SERVERS" python3 perf/compare.py "$OUT" "$REPS" > "$RESULT"
echo "== wrote $RESULT"
cat "$RESULT"
