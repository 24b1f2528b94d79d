#!/usr/bin/env python3
"""Reads the load tool's JSON summaries written by bench-compare.sh and prints perf/results/compare.md:
medians over the repetitions for each server, each figure's ratio to the Kestrel baseline, and the
issue's targets checked."""
import json, statistics, sys, os, platform, subprocess, datetime

out, reps = sys.argv[1], int(sys.argv[2])
servers = ["gateway", "kestrel", "signalr"]

def load(server, rep, scenario):
    path = os.path.join(out, f"{server}.{rep}-{scenario}.json")
    with open(path) as f:
        return json.load(f)

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None

rows = {}
for s in servers:
    rpc = [load(s, r, "rpc") for r in range(1, reps + 1)]
    con = [load(s, r, "connections") for r in range(1, reps + 1)]
    rows[s] = {
        "rps": median([x["okRps"] for x in rpc]),
        "p50": median([x["latencyUs"]["p50"] for x in rpc]),
        "p99": median([x["latencyUs"]["p99"] for x in rpc]),
        "failed": sum(x["failed"] for x in rpc),
        "cpu": median([x.get("serverCpuPercent") for x in rpc]),
        "clientCpu": median([x.get("clientCpuPercent") for x in rpc]),
        "bytesPerConn": median([x.get("serverRssPerConnectionBytes") for x in con]),
    }
gc = []
for r in range(1, reps + 1):
    with open(os.path.join(out, f"gateway.gc.{r}.json")) as f:
        gc.append(json.load(f))
gw_requests = median([load("gateway", r, "rpc")["requests"] for r in range(1, reps + 1)])

def ratio(s, key):
    base = rows["kestrel"][key]
    v = rows[s][key]
    return f"{v / base:.2f}×" if base and v is not None else "n/a"

def fmt(v, digits=0):
    return "n/a" if v is None else f"{v:,.{digits}f}"

cpu = subprocess.run(["sh", "-c", "lscpu | grep 'Model name' | head -1"], capture_output=True, text=True).stdout.strip()
print(f"# Gateway vs baselines — {datetime.date.today()}\n")
print(f"Machine: {os.cpu_count()} cores ({cpu or platform.processor()}), {platform.system()} {platform.release()}. "
      f"Each server pinned to core {os.environ.get('SERVER_CPU', '0')}, the load tool to core {os.environ.get('CLIENT_CPU', '1')} (taskset). "
      f"{reps} repetitions, medians. Reproduce: `make bench-compare`.\n")
print("## rpc: echo/echo, 50 connections × 16 in flight, 64-byte payload\n")
print("| server | requests/s | vs Kestrel | p50 µs | p99 µs | vs Kestrel p99 | failed | server CPU % | client CPU % |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for s in servers:
    r = rows[s]
    print(f"| {s} | {fmt(r['rps'])} | {ratio(s, 'rps')} | {fmt(r['p50'])} | {fmt(r['p99'])} | {ratio(s, 'p99')} | {r['failed']} | {fmt(r['cpu'], 1)} | {fmt(r['clientCpu'], 1)} |")
print("\n## connections: idle connections, server RSS growth per connection\n")
print("| server | bytes per idle connection | vs Kestrel |")
print("|---|---:|---:|")
for s in servers:
    print(f"| {s} | {fmt(rows[s]['bytesPerConn'])} | {ratio(s, 'bytesPerConn')} |")

g0 = median([x["gen0"] for x in gc]); g2 = median([x["gen2"] for x in gc])
per100k = g0 / gw_requests * 100_000 if gw_requests else None
print("\n## Targets (issue 5)\n")
def check(ok):
    return "met" if ok else "**missed**"
k, sr, gw = rows["kestrel"], rows["signalr"], rows["gateway"]
print("| target | measured | verdict |")
print("|---|---|---|")
print(f"| rpc requests/s ≥ 2× Kestrel | {ratio('gateway', 'rps')} | {check(gw['rps'] >= 2 * k['rps'])} |")
print(f"| rpc requests/s ≥ 5× SignalR | {gw['rps'] / sr['rps']:.2f}× | {check(gw['rps'] >= 5 * sr['rps'])} |")
print(f"| rpc p99 ≤ Kestrel's | {fmt(gw['p99'])} µs vs {fmt(k['p99'])} µs | {check(gw['p99'] <= k['p99'])} |")
if gw['bytesPerConn'] and k['bytesPerConn']:
    print(f"| memory per idle connection ≤ ½ Kestrel's | {fmt(gw['bytesPerConn'])} B vs {fmt(k['bytesPerConn'])} B | {check(gw['bytesPerConn'] <= k['bytesPerConn'] / 2)} |")
g2_runs = ", ".join(str(x["gen2"]) for x in gc)
print(f"| zero Gen2 GCs during rpc | {g2} (per repetition: {g2_runs}; counted from the fresh gateway's start, warm-up included) | {check(g2 == 0)} |")
print(f"| ≤ 1 Gen0 GC per 100,000 requests | {fmt(per100k, 2)} (Gen0 {g0} over {fmt(gw_requests)} requests) | {check(per100k is not None and per100k <= 1)} |")
if g2 > 0:
    print()
    print("Gen2: the one Gen2 of a fresh gateway is the runtime's 14th collection, whatever the load (blocking, reason")
    print("AllocSmall, no condemn reason; the same with server GC, non-concurrent GC or a 128 MB gen0 budget); a 75 s run")
    print("allocating 5.2 GB had no other. See perf/README.md, \"GC during the rpc run\".")
