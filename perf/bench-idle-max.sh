#!/usr/bin/env bash
# As many idle gateway connections as this machine's descriptor limit allows (issue 16 asks for 100,000; a process
# here may open `ulimit -Hn` descriptors, 20,000 on the bench machine, and the load tool and the server each need one
# per connection). For each size in SIZES (default: half the maximum, then the maximum) a fresh gateway pinned to
# SERVER_CPU, the load tool's `connections` scenario on CLIENT_CPU spreading its sockets over several 127.0.0.x source
# addresses (PER_SOURCE each), and reports:
#   - connections held at the end of the hold, and failed connects;
#   - time to accept them all (the load tool's connect phase, CONCURRENCY connects in flight);
#   - server RSS per connection (RSS with the connections open minus RSS of the fresh server, over the count);
#   - heartbeat CPU per second while idle: the server's CPU time (utime + stime, /proc/PID/stat) over IDLE_SECONDS
#     with every connection open and nothing sent but keep-alives (the gateway's pings every
#     Timeouts:KeepAliveInterval, and the load tool's own keep-alive every 10 s), divided by IDLE_SECONDS;
# then an extrapolation to TARGET connections: RSS linear through the two sizes (slope = RSS per extra connection,
# intercept = the server's fixed cost), heartbeat CPU proportional to connections (per-connection cost at the largest
# size). Writes perf/results/idle.md. Loopback only; every load run is bounded by `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-18520}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
HARD=$(ulimit -Hn)
[ "$HARD" = unlimited ] && HARD=1048576
# The load tool holds one descriptor per connection plus its runtime's (~100) and a reserve; so does the server.
MAX=${MAX:-$(( HARD - 1000 ))}
SIZES=${SIZES:-"$(( MAX / 2 )) $MAX"}
PER_SOURCE=${PER_SOURCE:-5000}
CONCURRENCY=${CONCURRENCY:-100}
IDLE_SECONDS=${IDLE_SECONDS:-60}
TARGET=${TARGET:-100000}
OUT=perf/results/idle-max
export SERVER_CPU CLIENT_CPU

command -v taskset >/dev/null || { echo "taskset (util-linux) is required"; exit 1; }
ulimit -n "$HARD"
for n in $SIZES; do
  if [ "$n" -gt $(( HARD - 500 )) ]; then echo "SIZES: $n is above the descriptor limit ($HARD) minus 500"; exit 1; fi
done

. perf/bench-lib.sh
if port_open; then echo "port $PORT is already in use: set PORT=... to a free one"; exit 1; fi

echo "== building (Release)"
dotnet build src/Gateway.Host -c Release -nologo -v q >/dev/null
dotnet build perf/Gateway.LoadTest -c Release -nologo -v q >/dev/null
dotnet publish src/Gateway.Samples -c Release -nologo -v q -o plugins/Gateway.Samples >/dev/null
HOST_DLL=src/Gateway.Host/bin/Release/net10.0/Gateway.Host.dll
LOAD_DLL=perf/Gateway.LoadTest/bin/Release/net10.0/Gateway.LoadTest.dll
rm -rf "$OUT"; mkdir -p "$OUT"

TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime of the whole process, in clock ticks
rss_kb() { awk '/^VmRSS:/{print $2}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }

declare -A HELD FAILED ACCEPT_S RSS0 RSS1 CPU_S IDLE_RSS0 IDLE_RSS1
for n in $SIZES; do
  echo "== [$(date +%T)] $n idle connections (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  taskset -c "$SERVER_CPU" dotnet "$HOST_DLL" --Gateway:Listen:0=127.0.0.1:$PORT --Serilog:MinimumLevel:Default=Warning \
    --Samples:Ticker:Enabled=false >"$OUT/$n.server.log" 2>&1 &
  wait_for_server "$n"
  # The connect phase, then a hold long enough for the idle minute below plus margin on both sides.
  hold=$(( IDLE_SECONDS + 20 ))
  timeout --kill-after=10 $(( 600 + hold )) taskset -c "$CLIENT_CPU" dotnet "$LOAD_DLL" connections \
    --url "ws://127.0.0.1:$PORT/ws" --protocol gateway --count "$n" --per-source "$PER_SOURCE" --concurrency "$CONCURRENCY" \
    --hold "${hold}s" --settle 2s --server-pid "$SERVER_PID" --json --plain --label gateway --out "$OUT/gateway.$n" \
    >"$OUT/$n.log" 2>&1 &
  LOAD_PID=$!
  # Wait (bounded) until the tool says every connect is done and the hold began, then let the server settle.
  for _ in $(seq 1 1200); do
    grep -q "holding them for" "$OUT/$n.log" 2>/dev/null && break
    kill -0 "$LOAD_PID" 2>/dev/null || break
    sleep 0.5
  done
  sleep 5
  c0=$(cpu_ticks "$SERVER_PID"); fd0=$(fds "$SERVER_PID"); IDLE_RSS0[$n]=$(rss_kb "$SERVER_PID")
  sleep "$IDLE_SECONDS"
  c1=$(cpu_ticks "$SERVER_PID"); fd1=$(fds "$SERVER_PID"); IDLE_RSS1[$n]=$(rss_kb "$SERVER_PID")
  CPU_S[$n]=$(awk -v a="$c0" -v b="$c1" -v t="$TICK" -v s="$IDLE_SECONDS" 'BEGIN{printf "%.4f", (b - a) / t / s}')
  echo "   server descriptors $fd0 -> $fd1 over the idle ${IDLE_SECONDS} s; CPU $(( c1 - c0 )) ticks"
  wait "$LOAD_PID" || true
  stop_server
  json="$OUT/gateway.$n-connections.json"
  if [ ! -f "$json" ]; then echo "   no report from the load tool; see $OUT/$n.log"; tail -5 "$OUT/$n.log"; exit 1; fi
  read -r HELD[$n] FAILED[$n] ACCEPT_S[$n] RSS0[$n] RSS1[$n] < <(python3 - "$json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(r.get("connectionsOpen"), r.get("failed"), r.get("durationSeconds"), r.get("serverRssBeforeKb"), r.get("serverRssAfterKb"))
EOF
)
  echo "   held ${HELD[$n]}, failed ${FAILED[$n]}, connect phase ${ACCEPT_S[$n]} s, RSS fresh ${RSS0[$n]} KiB, idle minute ${IDLE_RSS0[$n]} -> ${IDLE_RSS1[$n]} KiB, end of hold ${RSS1[$n]} KiB, CPU ${CPU_S[$n]} s/s"
done

python3 - "$TARGET" "$IDLE_SECONDS" "$PER_SOURCE" $(for n in $SIZES; do echo "$n ${HELD[$n]} ${FAILED[$n]} ${ACCEPT_S[$n]} ${RSS0[$n]} ${IDLE_RSS0[$n]} ${IDLE_RSS1[$n]} ${CPU_S[$n]}"; done) \
  >perf/results/idle.md <<'EOF'
import sys, datetime
target, idle, per_source = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
a = sys.argv[4:]
rows = [tuple(a[i:i + 8]) for i in range(0, len(a), 8)]
f = lambda x: None if x in ("None", "", None) else float(x)
print(f"# Idle connections at the descriptor limit — {datetime.date.today()}\n")
print("One fresh gateway per size pinned to one core, the load tool's `connections` scenario on the other, sockets "
      f"spread over 127.0.0.x source addresses ({per_source:,} per address); reproduce with `perf/bench-idle-max.sh` "
      "(perf/README.md). RSS per connection: (RSS at the start of the idle minute − RSS of the fresh server) / held; "
      f"heartbeat CPU: the server's CPU time over the idle {idle} s / {idle}.\n")
print("| connections asked | held at the end | failed connects | time to accept all (s) | server RSS fresh → idle start → idle end (MiB) | RSS per connection (KiB) | heartbeat CPU while idle (ms per s) |")
print("|---:|---:|---:|---:|---:|---:|---:|")
pts = []
for n, held, failed, secs, r0, ra, rb, cpu in rows:
    held_f, r0, ra, rb, cpu, secs = f(held), f(r0), f(ra), f(rb), f(cpu), f(secs)
    per = (ra - r0) / held_f if held_f and r0 is not None and ra is not None else None
    mib = lambda x: "n/a" if x is None else f"{x / 1024:.1f}"
    print(f"| {int(n):,} | {int(held_f or 0):,} | {failed} | {'n/a' if secs is None else f'{secs:.1f}'} | "
          f"{mib(r0)} → {mib(ra)} → {mib(rb)} | {'n/a' if per is None else f'{per:.1f}'} | "
          f"{'n/a' if cpu is None else f'{cpu * 1000:.1f}'} |")
    pts.append((held_f, ra, cpu, secs))
print()
if len(pts) >= 2 and all(p[0] and p[1] for p in (pts[0], pts[-1])) and pts[-1][0] != pts[0][0]:
    (n1, r1, c1, s1), (n2, r2, c2, s2) = pts[0], pts[-1]
    slope = (r2 - r1) / (n2 - n1)            # KiB per extra connection
    fixed = r2 - slope * n2                  # KiB: the server without connections, on this line
    rss_t = fixed + slope * target
    print(f"Extrapolation to {target:,} connections (not measured: the descriptor limit stops this machine at the sizes above):")
    print(f"- RSS: linear through the two sizes (idle start), {slope:.2f} KiB per connection on top of {fixed / 1024:.0f} MiB → "
          f"**{rss_t / 1024:,.0f} MiB** at {target:,}.")
    if c2 is not None:
        cpu_per = c2 / n2
        print(f"- Heartbeat CPU: proportional to connections, {cpu_per * 1e6:.2f} µs of CPU per connection per second at "
              f"{int(n2):,} → **{cpu_per * target * 1000:.0f} ms per second** ({cpu_per * target * 100:.1f} % of a core) at {target:,}.")
    if s2:
        print(f"- Accepting: {n2 / s2:,.0f} connections/s at {int(n2):,} → about {target / (n2 / s2):.0f} s for {target:,} "
              f"if the rate held, over {-(-target // per_source)} source addresses.")
EOF
echo "== wrote perf/results/idle.md"
cat perf/results/idle.md
