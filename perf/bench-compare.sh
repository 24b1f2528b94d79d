#!/usr/bin/env bash
# Runs the gateway and the two baselines (Kestrel + System.Net.WebSockets, SignalR) one after another on this
# machine with the same load, each server pinned to core 0 and the load tool to core 1, REPS repetitions each,
# and writes perf/results/compare.md with medians and ratios to the Kestrel baseline. Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${REPS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-15s}  # the JIT needs it on one pinned core (perf/README.md, "Warm-up")
CONNECTIONS=${CONNECTIONS:-50}
INFLIGHT=${INFLIGHT:-16}
PAYLOAD=${PAYLOAD:-64}
IDLE=${IDLE:-5000}
PORT=${PORT:-18500}
OUT=perf/results/compare
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

command -v taskset >/dev/null || { echo "taskset (util-linux) is required"; exit 1; }
for dll in perf/baselines/Gateway.Baseline.Kestrel perf/baselines/Gateway.Baseline.SignalR; do
  [ -d "$dll" ] || { echo "missing baseline project $dll: the comparison needs both baselines"; exit 1; }
done
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true

echo "== building (Release)"
dotnet build Gateway.sln -c Release -nologo -v q >/dev/null
dotnet publish src/Gateway.Samples -c Release -nologo -v q -o plugins/Gateway.Samples >/dev/null
HOST_DLL=src/Gateway.Host/bin/Release/net10.0/Gateway.Host.dll
KESTREL_DLL=perf/baselines/Gateway.Baseline.Kestrel/bin/Release/net10.0/Gateway.Baseline.Kestrel.dll
SIGNALR_DLL=perf/baselines/Gateway.Baseline.SignalR/bin/Release/net10.0/Gateway.Baseline.SignalR.dll
LOAD_DLL=perf/Gateway.LoadTest/bin/Release/net10.0/Gateway.LoadTest.dll
rm -rf "$OUT"; mkdir -p "$OUT"

. perf/bench-lib.sh

start_server() { # name
  case "$1" in
    gateway) taskset -c "$SERVER_CPU" dotnet "$HOST_DLL" --Gateway:Listen:0=127.0.0.1:$PORT --Serilog:MinimumLevel:Default=Warning \
               --Gateway:Limits:MaxMessageBytes=4194304 >"$OUT/$1.server.log" 2>&1 & ;;
    kestrel) taskset -c "$SERVER_CPU" dotnet "$KESTREL_DLL" --urls "http://127.0.0.1:$PORT" >"$OUT/$1.server.log" 2>&1 & ;;
    signalr) taskset -c "$SERVER_CPU" dotnet "$SIGNALR_DLL" --urls "http://127.0.0.1:$PORT" >"$OUT/$1.server.log" 2>&1 & ;;
  esac
  wait_for_server "$1"
}

url_for() { case "$1" in signalr) echo "ws://127.0.0.1:$PORT/hub" ;; *) echo "ws://127.0.0.1:$PORT/ws" ;; esac; }
proto_for() { case "$1" in signalr) echo signalr ;; *) echo gateway ;; esac; }

gc_counts() { # gen0 gen2 from the gateway's /metrics
  curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^dotnet_gc_collections_total\{generation="0"\}/{g0=$2} /^dotnet_gc_collections_total\{generation="2"\}/{g2=$2} END{print g0+0, g2+0}'
}

for server in gateway kestrel signalr; do
  for rep in $(seq 1 "$REPS"); do
    echo "== $server rpc, repetition $rep/$REPS"
    start_server "$server"
    [ "$server" = gateway ] && read -r g0a g2a < <(gc_counts)
    taskset -c "$CLIENT_CPU" dotnet "$LOAD_DLL" rpc --url "$(url_for $server)" --protocol "$(proto_for $server)" \
      --connections "$CONNECTIONS" --inflight "$INFLIGHT" --payload "$PAYLOAD" --duration "$DURATION" --warmup "$WARMUP" \
      --server-pid "$SERVER_PID" --label "$server" --json --plain --out "$OUT/$server.$rep" >"$OUT/$server.rpc.$rep.log" 2>&1
    if [ "$server" = gateway ]; then
      read -r g0b g2b < <(gc_counts)
      echo "{\"gen0\": $((g0b - g0a)), \"gen2\": $((g2b - g2a))}" >"$OUT/$server.gc.$rep.json"
    fi
    stop_server

    echo "== $server connections ($IDLE idle), repetition $rep/$REPS"
    start_server "$server"
    taskset -c "$CLIENT_CPU" dotnet "$LOAD_DLL" connections --url "$(url_for $server)" --protocol "$(proto_for $server)" \
      --count "$IDLE" --hold 3s --server-pid "$SERVER_PID" --label "$server" --json --plain \
      --out "$OUT/$server.$rep" >"$OUT/$server.connections.$rep.log" 2>&1
    stop_server
  done
done

python3 perf/compare.py "$OUT" "$REPS" > perf/results/compare.md
echo "== wrote perf/results/compare.md"
cat perf/results/compare.md
