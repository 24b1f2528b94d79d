#!/usr/bin/env python3
"""Reads the load tool's JSON summaries written by bench-fanout.sh (OUT/gateway.N-rpc.json and
OUT/gateway.N-fanout.json for N = 1..REPS) and prints perf/results/fanout.md: each repetition, the medians,
and the ratio of delivered events/s (fanout) to echo requests/s (rpc) against the 5x target. Stdlib only."""
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

TARGET = 5.0

out, reps = sys.argv[1], int(sys.argv[2])


def load(rep, scenario):
    with open(os.path.join(out, f"gateway.{rep}-{scenario}.json")) as f:
        return json.load(f)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=0):
    return "n/a" if v is None else f"{v:,.{digits}f}"


rpc = [load(r, "rpc") for r in range(1, reps + 1)]
fan = [load(r, "fanout") for r in range(1, reps + 1)]

cpu = subprocess.run(["sh", "-c", "lscpu | grep 'Model name' | head -1 | sed 's/.*: *//'"], capture_output=True, text=True).stdout.strip()
p = fan[0]["parameters"]
r0 = rpc[0]["parameters"]
print(f"# Fan-out vs unary RPC — {datetime.date.today()}\n")
print(f"Machine: {os.cpu_count()} cores ({cpu or platform.processor()}), {platform.system()} {platform.release()}. "
      f"A fresh gateway (Release, sample plugin, ticker off) per scenario and repetition, pinned to core "
      f"{os.environ.get('SERVER_CPU', '0')}; the load tool on core {os.environ.get('CLIENT_CPU', '1')} (taskset). "
      f"{reps} repetitions, medians. Reproduce: `make bench-fanout`.\n")
print(f"- **rpc** (baseline): echo/echo, {r0['connections']} connections × {r0['inflight']} in flight, {r0['payload']}-byte payload, "
      f"{r0['duration']} after a {r0['warmup']} warm-up.")
print(f"- **fanout**: {p['subscribers']} subscribers on `{p['topic']}` (via {p['subscribe']}), {p['publishers']} publisher × "
      f"{p['inflight']} `chat/send` in flight, {p['payload']}-byte text, {p['duration']} after a {p['warmup']} warm-up; "
      f"every event is one delivery.\n")

print("## fanout\n")
print("| rep | delivered events/s | publishes/s | p50 µs | p99 µs | expected | received | missing | server dropped | client CPU % (kernel) | server CPU % (kernel) | other work, cores | events/read |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for i, f in enumerate(fan, 1):
    lat = f["deliveryLatencyUs"]
    print(f"| {i} | {fmt(f['deliveredEventsPerSecond'])} | {fmt(f['okRps'])} | {fmt(lat['p50'])} | {fmt(lat['p99'])} | "
          f"{fmt(f['expectedDeliveries'])} | {fmt(f['deliveredEvents'])} | {fmt(f['missingDeliveries'])} | {fmt(f.get('serverSlowConsumerDrops'))} | "
          f"{fmt(f['clientCpuPercent'], 1)} ({fmt(f.get('clientCpuSystemPercent'), 1)}) | {fmt(f.get('serverCpuPercent'), 1)} ({fmt(f.get('serverCpuSystemPercent'), 1)}) | "
          f"{fmt(f.get('otherBusyCores'), 2)} | {fmt(f.get('eventsPerRead'), 1)} |")
fm = {
    "eps": median([f["deliveredEventsPerSecond"] for f in fan]),
    "pps": median([f["okRps"] for f in fan]),
    "p50": median([f["deliveryLatencyUs"]["p50"] for f in fan]),
    "p99": median([f["deliveryLatencyUs"]["p99"] for f in fan]),
    "pubp50": median([f["latencyUs"]["p50"] for f in fan]),
    "pubp99": median([f["latencyUs"]["p99"] for f in fan]),
    "client": median([f["clientCpuPercent"] for f in fan]),
    "server": median([f.get("serverCpuPercent") for f in fan]),
}
missing = sum(f["missingDeliveries"] for f in fan)
print(f"| **median** | **{fmt(fm['eps'])}** | {fmt(fm['pps'])} | **{fmt(fm['p50'])}** | **{fmt(fm['p99'])}** | | | {fmt(missing)} (sum) | | "
      f"{fmt(fm['client'], 1)} | {fmt(fm['server'], 1)} | | |")
print("\nOther work = the machine's busy CPU over the window (/proc/stat) less the gateway's and the load tool's.")
print(f"\nPublish → receive latency is from just before the publish is queued for sending (its stamp) to the subscriber's "
      f"socket read that returned the event. The publisher's own chat/send round trip: p50 {fmt(fm['pubp50'])} µs, p99 {fmt(fm['pubp99'])} µs (median).\n")

print("## rpc (baseline)\n")
print("| rep | echo requests/s | p50 µs | p99 µs | failed | client CPU % | server CPU % (kernel) | other work, cores |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for i, r in enumerate(rpc, 1):
    print(f"| {i} | {fmt(r['okRps'])} | {fmt(r['latencyUs']['p50'])} | {fmt(r['latencyUs']['p99'])} | {r['failed']} | "
          f"{fmt(r['clientCpuPercent'], 1)} | {fmt(r.get('serverCpuPercent'), 1)} ({fmt(r.get('serverCpuSystemPercent'), 1)}) | "
          f"{fmt(r.get('otherBusyCores'), 2)} |")
rm = median([r["okRps"] for r in rpc])
print(f"| **median** | **{fmt(rm)}** | {fmt(median([r['latencyUs']['p50'] for r in rpc]))} | {fmt(median([r['latencyUs']['p99'] for r in rpc]))} | "
      f"{sum(r['failed'] for r in rpc)} (sum) | {fmt(median([r['clientCpuPercent'] for r in rpc]), 1)} | {fmt(median([r.get('serverCpuPercent') for r in rpc]), 1)} | |")

def cpu_us_per(run, count, key="serverCpuPercent"):
    """CPU time (µs) the process spent per unit of work over the measured window; None without the figures."""
    pct = run.get(key)
    if pct is None or not count:
        return None
    return pct / 100.0 * run["cores"] * run["durationSeconds"] * 1e6 / count


srv_us_event = median([cpu_us_per(f, f["deliveredEvents"]) for f in fan])
cli_us_event = median([cpu_us_per(f, f["deliveredEvents"], "clientCpuPercent") for f in fan])
srv_us_request = median([cpu_us_per(r, r["ok"]) for r in rpc])
cpu_ratio = srv_us_request / srv_us_event if srv_us_event and srv_us_request else None

ratio = fm["eps"] / rm if rm else None
print("\n## Result\n")
print("| figure | value |")
print("|---|---:|")
print(f"| delivered events/s (median) | {fmt(fm['eps'])} |")
print(f"| publish → receive p50 / p99 (median) | {fmt(fm['p50'])} / {fmt(fm['p99'])} µs |")
print(f"| echo/echo requests/s (median) | {fmt(rm)} |")
verdict = "n/a" if ratio is None else ("met" if ratio >= TARGET else "**missed**")
print(f"| delivered events/s ÷ echo requests/s | **{fmt(ratio, 2)}×** (target ≥ {TARGET:g}×: {verdict}) |")
print(f"| gateway CPU per delivered event / per echo request | {fmt(srv_us_event, 3)} / {fmt(srv_us_request, 3)} µs |")
print(f"| the same ratio from CPU cost (echo request µs ÷ delivery µs) | {fmt(cpu_ratio, 2)}× |")
print(f"| load tool CPU per delivered event | {fmt(cli_us_event, 3)} µs |")
print("\nThe CPU-cost ratio divides the gateway's CPU time per echo request by its CPU time per delivered event (both over "
      "the measured window): it is what the throughput ratio would be if the gateway had its core to itself and were the "
      "bottleneck in both scenarios, so it is the steadier figure on a shared machine; the throughput ratio is the one measured.")

notes = []
other = [x.get("otherBusyCores") for x in rpc + fan if x.get("otherBusyCores") is not None]
if other and max(other) >= 0.2:
    notes.append(f"the machine was not quiet: processes other than the gateway and the load tool kept up to {max(other):.2f} cores busy "
                 f"during the measured windows (column \"other work\"); those repetitions' figures are low and noisy.")
if missing:
    notes.append(f"{missing:,} expected deliveries did not arrive (summed over the repetitions): see the server's slow-consumer drops above and each run's report.")
if fm["client"] is not None and fm["client"] >= 90:
    notes.append(f"the load tool used {fm['client']:.0f} % of its core during fanout: it may be what limits the fanout figure (client-bound, not server-bound).")
if fm["server"] is not None and fm["server"] < 90:
    notes.append(f"the gateway used {fm['server']:.0f} % of its core during fanout: it was not saturated, or it shared its core "
                 f"with other work (on a shared machine, see the CPU-cost ratio).")
if notes:
    print("\nNotes:\n")
    for n in notes:
        print(f"- {n}")
print(f"\nRaw reports (Markdown, CSV, JSON per run) and the gateway's /metrics after each fanout run: `{out}/`.")
