#!/usr/bin/env python3
"""Reads the load tool's JSON summaries written by bench-compare.sh (OUT/SERVER.CASE.REP-SCENARIO.json and
OUT/SERVER.CASE.REP.gc.json) and prints perf/results/compare.md: per case, the median over the repetitions for each
server, each figure's ratio to the TUNED Kestrel baseline (`kestrel`), Gen0/Gen2 per run, and the targets of
issues 16 and 12 checked. A run that did not happen (no JSON) shows as n/a. Stdlib only."""
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

out, reps = sys.argv[1], int(sys.argv[2])
CASES = os.environ.get("CASES", "rpc many stream large fanout fanout-mixed idle").split()
SERVERS = os.environ.get("SERVERS", "gateway gateway-msgpack kestrel kestrel-naive signalr").split()
BASE = "kestrel"

# case -> (tool scenario, title built from the run's own parameters, main figure label, higher is better)
SPEC = {
    "rpc": ("rpc", lambda p: f"small RPC: echo/echo, {p['connections']} connections × {p['inflight']} in flight, {p['payload']}-byte text", "requests/s", True),
    "many": ("rpc", lambda p: f"many clients: echo/echo, {int(p['connections']):,} connections × {p['inflight']} in flight (each request its own write), {p['payload']}-byte text", "requests/s", True),
    "stream": ("stream", lambda p: f"streams: echo/count, {p['connections']} connections × {p['inflight']} subscription of {int(p['items']):,} items at a time", "items/s", True),
    "large": ("large", lambda p: f"large messages: echo of a {int(p['payload']):,}-byte text, {p['connections']} connections × {p['inflight']} in flight", "MB/s (each way)", True),
    "fanout": ("fanout", lambda p: f"fan-out: {int(p['subscribers']):,} subscribers on {p['topic']}, {p['publishers']} publisher × {p['inflight']} chat/send in flight", "delivered events/s", True),
    "fanout-mixed": ("fanout", lambda p: f"fan-out to a mixed audience: as fan-out, every other subscriber on gateway.v1.msgpack ({int(p['subscribers']):,} subscribers)", "delivered events/s", True),
    "idle": ("connections", lambda p: f"idle connections: {int(p['count']):,} held, server RSS growth per connection", "bytes per connection", False),
    # Issue 17 (CASES=compressed): the same gateway, the load tool with and without permessage-deflate (gateway-deflate).
    "rpc-text": ("rpc", lambda p: f"RPC of chat text: echo/echo, {p['connections']} connections × {p['inflight']} in flight, {p['payload']}-byte chat-like text", "requests/s", True),
    "fanout-text": ("fanout", lambda p: f"fan-out of chat text: {int(p['subscribers']):,} subscribers on {p['topic']}, {p['publishers']} publisher × {p['inflight']} chat/send in flight, {p['payload']}-byte chat-like text"
                               + (f", every {p['inflateSample']}th subscriber inflates and reads each event (the others count them unread)" if int(p.get('inflateSample', 1)) > 1 else ""),
                               "delivered events/s", True),
}


def load(server, case, rep):
    path = os.path.join(out, f"{server}.{case}.{rep}-{SPEC[case][0]}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def load_gc(server, case, rep):
    path = os.path.join(out, f"{server}.{case}.{rep}.gc.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=0):
    return "n/a" if v is None else f"{v:,.{digits}f}"


def main_figure(case, r):
    case = SPEC[case][0] if SPEC[case][0] == "fanout" else case
    if case in ("rpc", "many", "rpc-text"):
        return r.get("okRps")
    if case == "stream":
        return r.get("itemsPerSecond")
    if case == "large":
        payload = float(r["parameters"].get("payload", 0))
        return r.get("okRps", 0) * payload / 1e6
    if case == "fanout":
        return r.get("deliveredEventsPerSecond")
    if case == "idle":
        return r.get("serverRssPerConnectionBytes")
    return None


def latency(case, r):
    key = {"stream": "itemLatencyUs", "fanout": "deliveryLatencyUs"}.get(SPEC[case][0], "latencyUs")
    lat = r.get(key) or {}
    return lat.get("p50"), lat.get("p99")


def per_unit(case, r, total):
    """Bytes per OK request (rpc) or per delivered event (fan-out); None for the idle case or a run without any."""
    if total is None:
        return None
    kind = SPEC[case][0]
    n = r.get("ok") if kind == "rpc" else r.get("deliveredEvents") if kind == "fanout" else None
    return total / n if n else None


rows = {}
for case in CASES:
    rows[case] = {}
    for s in SERVERS:
        runs = [load(s, case, rep) for rep in range(1, reps + 1)]
        gcs = [load_gc(s, case, rep) for rep in range(1, reps + 1)]
        done = [r for r in runs if r is not None]
        if not done:
            continue
        rows[case][s] = {
            "parameters": done[0].get("parameters", {}),
            "main": median([main_figure(case, r) for r in done]),
            "p50": median([latency(case, r)[0] for r in done]),
            "p99": median([latency(case, r)[1] for r in done]),
            "failed": sum(r.get("failed", 0) for r in done),
            "missing": sum(r.get("missingDeliveries", 0) for r in done) if SPEC[case][0] == "fanout" else None,
            "open": median([r.get("connectionsOpen") for r in done]) if case == "idle" else None,
            "cpu": median([r.get("serverCpuPercent") for r in done]),
            "clientCpu": median([r.get("clientCpuPercent") for r in done]),
            # Issue 17: server CPU time per delivered event (robust to a starved server) and the machine's other work.
            "serverUsPerEvent": median([r["serverCpuPercent"] / 100 * r.get("cores", 1) / r["deliveredEventsPerSecond"] * 1e6
                                        for r in done if r.get("serverCpuPercent") is not None and r.get("deliveredEventsPerSecond")]),
            "otherBusy": median([r.get("otherBusyCores") for r in done]),
            "gen0": median([g.get("gen0") for g in gcs if g]),
            "gen2": median([g.get("gen2") for g in gcs if g]),
            "gen2runs": [g.get("gen2") if g else None for g in gcs],
            "reps": len(done),
            # Issue 17: bytes on the wire per request (rpc) or per delivered event (fan-out), and without compression.
            "wireIn": median([per_unit(case, r, r.get("bytesIn")) for r in done]),
            "wireOut": median([per_unit(case, r, r.get("bytesOut")) for r in done]),
            "plainIn": median([per_unit(case, r, r.get("bytesInUncompressed", r.get("bytesIn"))) for r in done]),
            "plainOut": median([per_unit(case, r, r.get("bytesOutUncompressed", r.get("bytesOut"))) for r in done]),
            "deflateConnections": median([r.get("deflateConnections") for r in done]),
        }


def value(case, server, key):
    return rows.get(case, {}).get(server, {}).get(key)


def ratio(case, server, key, base=BASE):
    b, v = value(case, base, key), value(case, server, key)
    return v / b if b and v is not None else None


def fmt_ratio(x):
    return "n/a" if x is None else f"{x:.2f}×"


cpu = subprocess.run(["sh", "-c", "lscpu | grep 'Model name' | head -1 | sed 's/.*: *//'"], capture_output=True, text=True).stdout.strip()
print(f"# Gateway vs baselines — {datetime.date.today()}\n")
print(f"Machine: {os.cpu_count()} cores ({cpu or platform.processor()}), {platform.system()} {platform.release()}. "
      f"A fresh server per run pinned to core {os.environ.get('SERVER_CPU', '0')}, the load tool on core "
      f"{os.environ.get('CLIENT_CPU', '1')} (taskset); {reps} interleaved repetitions, medians. Ratios are against "
      f"**`kestrel`, the tuned Kestrel baseline** (perf/baselines/README.md); for latency and memory below 1.00× is better. "
      f"Gen0/Gen2: collections during the run (warm-up and connection set-up included), median per run, from each "
      f"server's /metrics. Reproduce: `make bench-compare`; how to read this: perf/README.md.\n")

for case in CASES:
    if not rows.get(case):
        continue
    _, describe, label, _ = SPEC[case]
    try:
        title = describe(next(iter(rows[case].values()))["parameters"])
    except (KeyError, ValueError):
        title = case
    print(f"## {case}: {title}\n")
    if case == "idle":
        print("| server | bytes per idle connection | KiB | vs kestrel | connections open | Gen0 / Gen2 | runs |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for s, r in rows[case].items():
            kib = None if r["main"] is None else r["main"] / 1024
            print(f"| {s} | {fmt(r['main'])} | {fmt(kib, 1)} | {fmt_ratio(ratio(case, s, 'main'))} | {fmt(r['open'])} | "
                  f"{fmt(r['gen0'])} / {fmt(r['gen2'])} | {r['reps']} |")
        print()
        continue
    fan = SPEC[case][0] == "fanout"
    extra = " | missing" if fan else ""
    # Only the gateway runs fanout-mixed (issue 12): its ratios are to the gateway's all-JSON fan-out of the same run.
    versus, rel = ("kestrel", lambda s, k: ratio(case, s, k)) if case != "fanout-mixed" else \
        ("gateway's all-JSON fanout", lambda s, k: (lambda b, v: v / b if b and v is not None else None)(value("fanout", "gateway", k), value(case, s, k)))
    print(f"| server | {label} | vs {versus} | p50 µs | p99 µs | p99 vs {versus} | failed{extra} | server CPU % | client CPU % | Gen0 / Gen2 | runs |")
    print("|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if fan else "") + "---:|---:|---:|---:|")
    for s, r in rows[case].items():
        digits = 1 if case == "large" else 0
        miss = f" | {fmt(r['missing'])}" if fan else ""
        print(f"| {s} | {fmt(r['main'], digits)} | {fmt_ratio(rel(s, 'main'))} | {fmt(r['p50'])} | {fmt(r['p99'])} | "
              f"{fmt_ratio(rel(s, 'p99'))} | {r['failed']}{miss} | {fmt(r['cpu'], 1)} | {fmt(r['clientCpu'], 1)} | "
              f"{fmt(r['gen0'])} / {fmt(r['gen2'])} | {r['reps']} |")
    print()


def verdict(ok):
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def check(x, op, target):
    if x is None:
        return None
    return x >= target if op == ">=" else x <= target


print("## Targets (issue 16: tuned Kestrel = 1.00×; issue 12: MessagePack)\n")
print("| target | measured | verdict |")
print("|---|---|---|")
targets = []
r = ratio("rpc", "gateway", "main"); targets.append(("small RPC requests/s ≥ 2.0× kestrel", fmt_ratio(r), check(r, ">=", 2.0)))
r = ratio("rpc", "gateway", "p99"); targets.append(("small RPC p99 ≤ 0.75× kestrel's", fmt_ratio(r), check(r, "<=", 0.75)))
r = ratio("many", "gateway", "main"); targets.append(("many clients requests/s ≥ 1.5× kestrel", fmt_ratio(r), check(r, ">=", 1.5)))
r = ratio("many", "gateway", "p99"); targets.append(("many clients p99 ≤ kestrel's", fmt_ratio(r), check(r, "<=", 1.0)))
r = ratio("stream", "gateway", "main", base="signalr"); targets.append(("stream items/s ≥ 1.5× SignalR's", fmt_ratio(r), check(r, ">=", 1.5)))
r = ratio("large", "gateway", "main"); targets.append(("1 MiB echo MB/s ≥ 1.2× kestrel", fmt_ratio(r), check(r, ">=", 1.2)))
r = ratio("fanout", "gateway", "main"); targets.append(("fan-out events/s ≥ 3× kestrel", fmt_ratio(r), check(r, ">=", 3.0)))
r = ratio("fanout", "gateway", "p99"); targets.append(("fan-out p99 ≤ kestrel's", fmt_ratio(r), check(r, "<=", 1.0)))
v = value("idle", "gateway", "main")
targets.append(("RSS per idle connection ≤ 4 KiB", "n/a" if v is None else f"{v / 1024:.1f} KiB", check(v, "<=", 4096)))
r = ratio("rpc", "gateway-msgpack", "main", base="gateway")
targets.append(("MessagePack small RPC ≥ 1.2× the gateway's JSON requests/s (issue 12)", fmt_ratio(r), check(r, ">=", 1.2)))
b, v = value("fanout", "gateway", "main"), value("fanout-mixed", "gateway", "main")
r = v / b if b and v is not None else None
targets.append(("fan-out to a mixed JSON/MessagePack audience within 10 % of all-JSON events/s (issue 12)", fmt_ratio(r), check(r, ">=", 0.9)))
for name, measured, ok in targets:
    print(f"| {name} | {measured} | {verdict(ok)} |")

print("\nGen2 collections per run of the gateway (each repetition, per case): " + "; ".join(
    f"{case} {', '.join('n/a' if g is None else str(g) for g in rows[case]['gateway']['gen2runs'])}"
    for case in CASES if rows.get(case, {}).get("gateway")) + ".")
print("A fresh gateway gets one early Gen2 whatever the load (perf/README.md, \"GC\"); the 1 MiB echo collects Gen2 in "
      "every server because the echo handler's copy of each message (its EncodedValue input) lands on the large-object heap. The "
      "gateway's own path allocates nothing per message (perf/Gateway.Benchmarks); what remains is the handlers'.")


# Issue 17: permessage-deflate, the same gateway with the load tool compressing (gateway-deflate) or not (gateway).
if any(rows.get(c, {}).get("gateway-deflate") for c in ("rpc-text", "fanout-text", "idle")):
    print("\n## Compression (issue 17): permessage-deflate vs uncompressed, the same gateway\n")
    print("Per request (rpc-text) or per delivered event (fan-out: bytes in = what the subscribers received per event); "
          "wire = what went over the socket, uncompressed = the same frames without compression (the load tool's counters). "
          "`gateway-deflate` offers `permessage-deflate; client_no_context_takeover; server_no_context_takeover`; the "
          "tool compresses and inflates with the gateway's own zlib code, on its own core.\n")
    print("| case | mode | main figure | vs uncompressed | wire bytes in | uncompressed in | wire bytes out | uncompressed out | wire/uncompressed in | deflate connections | server CPU % | client CPU % | server CPU µs per event | other busy cores |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case in ("rpc-text", "fanout-text"):
        for s in ("gateway", "gateway-deflate"):
            r = rows.get(case, {}).get(s)
            if not r:
                continue
            squeeze = r["wireIn"] / r["plainIn"] if r["wireIn"] is not None and r["plainIn"] else None
            print(f"| {case} | {s} | {fmt(r['main'])} {SPEC[case][2]} | {fmt_ratio(ratio(case, s, 'main', base='gateway'))} | "
                  f"{fmt(r['wireIn'], 1)} | {fmt(r['plainIn'], 1)} | {fmt(r['wireOut'], 1)} | {fmt(r['plainOut'], 1)} | "
                  f"{'n/a' if squeeze is None else f'{squeeze:.3f}'} | {fmt(r['deflateConnections'])} | {fmt(r['cpu'], 1)} | {fmt(r['clientCpu'], 1)} | "
                  f"{fmt(r['serverUsPerEvent'], 2) if case == 'fanout-text' else ''} | {fmt(r['otherBusy'], 2)} |")
    for s in ("gateway", "gateway-deflate"):
        r = rows.get("idle", {}).get(s)
        if r:
            print(f"| idle | {s} | {fmt(r['main'])} bytes per connection | {fmt_ratio(ratio('idle', s, 'main', base='gateway'))} | | | | | | "
                  f"{fmt(r['deflateConnections'])} | {fmt(r['cpu'], 1)} | {fmt(r['clientCpu'], 1)} | | {fmt(r['otherBusy'], 2)} |")
    busy = [r["otherBusy"] for c in ("rpc-text", "fanout-text", "idle") for r in rows.get(c, {}).values() if r.get("otherBusy") is not None]
    if busy and max(busy) > 0.5:
        print(f"\n**Not a quiet machine**: up to {max(busy):.2f} cores of other work during these runs (median per case and mode), so a "
              "starved server's events/s say more about the neighbours than about compression; its CPU time per event is the "
              "steadier figure.")
    print("\n| target (issue 17) | measured | verdict |")
    print("|---|---|---|")
    r = ratio("fanout-text", "gateway-deflate", "main", base="gateway")
    cost = [value("fanout-text", s, "serverUsPerEvent") for s in ("gateway", "gateway-deflate")]
    cost_shown = "" if None in cost else f"; server CPU per event {cost[1] / cost[0]:.2f}× ({cost[1]:.2f} vs {cost[0]:.2f} µs)"
    print(f"| fan-out to compressed subscribers within 20 % of uncompressed events/s (compress-once) | {fmt_ratio(r)}{cost_shown} | {verdict(check(r, '>=', 0.8))} |")
    b, v = value("idle", "gateway", "main"), value("idle", "gateway-deflate", "main")
    # "Unchanged": RSS growth is noisy at the KiB level, so within 10 % or 512 B of the uncompressed figure.
    ok = None if b is None or v is None else v <= max(b * 1.10, b + 512)
    shown = "n/a" if b is None or v is None else f"{v / 1024:.1f} KiB vs {b / 1024:.1f} KiB ({(v - b):+,.0f} B)"
    print(f"| idle RSS per compressed connection unchanged (≤ uncompressed + 10 % or 512 B) | {shown} | {verdict(ok)} |")
    r = ratio("rpc-text", "gateway-deflate", "main", base="gateway")
    wire = [value("rpc-text", s, "wireIn") for s in ("gateway", "gateway-deflate")]
    print(f"| rpc of 1 KiB text: requests/s and bytes on the wire, compressed vs not (reported, no target) | {fmt_ratio(r)} requests/s; "
          f"{'n/a' if None in wire or not wire[0] else f'{wire[1] / wire[0]:.2f}×'} bytes received per request | — |")
