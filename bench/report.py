#!/usr/bin/env python3
"""Turn bench/run's results.jsonl into bench/results/<date>.md and .json.

Each input line is {"kind": raw|route|latency|shovel, "name": ..., "data": <a raw tool's JSON
line>, ...}. Ratios: msgbridge / its ceiling at the same body size, and msgbridge / Shovel for
the routes Shovel can also do. The ceiling is the raw consumer and producer running at the same
time on the same cluster where bench/run measures that (Kafka -> Kafka: raw_kafka both), else
min(raw source consume rate, raw sink publish rate), each measured alone."""
import argparse
import json
import os
import platform
import statistics
import subprocess
import time

ROUTES = [  # name, label, source ceiling, sink ceiling
    # (CONCURRENT: the ceiling measured with source and sink clients running at once)
    ("m2m", "memory -> memory", "memory", "memory"),
    ("m2m.w100k", "memory -> memory, max_in_flight 100000", "memory", "memory"),
    ("k2k", "Kafka -> Kafka", "kafka_consume", "kafka_produce"),  # CONCURRENT: kafka_both
    ("k2r", "Kafka -> RabbitMQ", "kafka_consume", "rabbitmq_publish"),
    ("k2a", "Kafka -> AMQP 1.0", "kafka_consume", "amqp1_send"),
    ("r2k", "RabbitMQ -> Kafka", "rabbitmq_consume", "kafka_produce"),
    ("a2k", "AMQP 1.0 -> Kafka", "amqp1_receive", "kafka_produce"),
    ("r2r", "RabbitMQ -> RabbitMQ", "rabbitmq_consume", "rabbitmq_publish"),
    ("r2a", "RabbitMQ -> AMQP 1.0", "rabbitmq_consume", "amqp1_send"),
    ("s2k", "ActiveMQ (STOMP) -> Kafka", "stomp_receive", "kafka_produce"),
    ("k2s", "Kafka -> ActiveMQ (STOMP)", "kafka_consume", "stomp_send"),
]


CONCURRENT = {"k2k": "kafka_both"}


def machine(build):
    info = {"nproc": os.cpu_count(), "kernel": platform.release()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            info["memory_gib"] = round(kb / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    info["os"] = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    pkgs = {}
    for p in ("librdkafka1", "librabbitmq4", "libqpid-proton11", "rabbitmq-server"):
        try:
            v = subprocess.run(["dpkg-query", "-W", "-f=${Version}", p], capture_output=True,
                               text=True, check=False).stdout.strip()
            if v:
                pkgs[p] = v
        except OSError:
            pass
    info["packages"] = pkgs
    try:
        info["msgbridge"] = subprocess.run([os.path.join(build, "msgbridge"), "--version"],
                                           capture_output=True, text=True,
                                           check=False).stdout.strip().replace("\n", "; ")
        info["commit"] = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)),
                                         "rev-parse", "--short", "HEAD"], capture_output=True,
                                        text=True, check=False).stdout.strip()
    except OSError:
        pass
    return info


def load(path):
    raw, routes, lat, shovel = {}, {}, {}, {}
    floor, reps = {}, {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            d = r.get("data") or {}
            if r["kind"] == "raw":
                raw.setdefault(r["name"], []).append(d)
            elif r["kind"] == "route":
                routes[(r["name"], r["size"])] = r
            elif r["kind"] == "route_rep":
                reps.setdefault((r["name"], r["size"]), []).append(r.get("data") or {})
            elif r["kind"] == "latency":
                lat[(r["name"], r["rate"])] = dict(d, load=r.get("load"))
            elif r["kind"] == "latency_floor":
                floor[(r["name"], r["rate"])] = dict(d, load=r.get("load"))
            elif r["kind"] == "shovel":
                shovel[r["name"]] = r
    # Further drains of the same backlog (bench/run route REP) go with the route's first.
    for k, more in reps.items():
        if k in routes:
            routes[k]["reps"] = more
    ceil = {}
    for k, runs in raw.items():
        rates = [x["msgs_per_s"] for x in runs if x.get("msgs_per_s")]
        mbs = [x["mb_per_s"] for x in runs if x.get("msgs_per_s")]
        if rates:
            ceil[k] = {"msgs_per_s": statistics.median(rates), "mb_per_s": statistics.median(mbs),
                       "samples": len(rates), "msgs": runs[0].get("msgs")}
    return ceil, routes, lat, shovel, floor


LAT_KEYS = ("samples", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "worst_at_s",
            "worst_run", "load")


def fmt(v, nd=0):
    if v is None:
        return "-"
    return f"{v:,.{nd}f}"


def build_rows(ceil, routes, lat, shovel):
    rows = []
    for name, label, src, dst in ROUTES:
        for size in (100, 1024):
            r = routes.get((name, size))
            if not r:
                continue
            d = r.get("data") or {}
            n = r["count"]
            rate = d.get("msgs_per_s") or None
            complete = d.get("reached", 0) >= n
            # Several drains: the median rate (CPU, RSS and allocations stay the first's).
            drains = [rate] + [x.get("msgs_per_s") for x in r.get("reps", [])]
            drains = [x for x in drains if x]
            if len(drains) > 1:
                rate = statistics.median(drains)
            sfx = "_100" if size == 100 else "_1k"
            cs, cd = ceil.get(src + sfx), ceil.get(dst + sfx)
            c = min(x["msgs_per_s"] for x in (cs, cd) if x) if (cs or cd) else None
            cc = ceil.get(CONCURRENT.get(name, "-") + sfx)
            separate = c
            if cc:
                c = cc["msgs_per_s"]
            sh = shovel.get(name) if size == 100 else None
            sh_rate = (sh.get("data") or {}).get("msgs_per_s") if sh else None
            row = {
                "route": name, "label": label, "size": size, "messages": n,
                "complete": complete, "reached": d.get("reached", 0),
                "msgs_per_s": rate, "mb_per_s": rate * size / 1e6 if rate else None,
                "drain_s": (d.get("t_done", 0) - d.get("t_first", 0)) if rate else None,
                "total_s": d.get("t_done"),
                "ceiling_msgs_per_s": c,
                "ceiling_ratio": rate / c if rate and c else None,
                "ceiling_kind": "concurrent" if cc else "separate",
                "separate_ceiling_msgs_per_s": separate,
                "shovel_msgs_per_s": sh_rate,
                "shovel_ratio": rate / sh_rate if rate and sh_rate else None,
                "peak_rss_mib": r.get("rss_kb", 0) / 1024,
                "cpu_s_per_m": r.get("cpu_s", 0) / n * 1e6 if n else None,
                "allocs_per_msg": r.get("allocs_per_msg"),
                "drain_rates": drains if len(drains) > 1 else None,
            }
            for rt in (1000, 10000):
                ld = lat.get((name, rt)) if size == 100 else None
                if ld:
                    row[f"lat_{rt}"] = {k: ld.get(k) for k in LAT_KEYS}
            rows.append(row)
    return rows


def lat_text(ld):
    if not ld or not ld.get("samples"):
        return "-"
    return " / ".join(f"{ld.get(k) or 0:.1f}" for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms"))


def lat_cell(row, rt):
    return lat_text(row.get(f"lat_{rt}"))


def markdown(rows, ceil, info, quick, when, floor=None):
    out = []
    w = out.append
    w(f"# msgbridge benchmark, {when}{' (--quick)' if quick else ''}\n")
    w(f"Machine: {info.get('nproc')} CPUs ({info.get('cpu', '?')}), "
      f"{info.get('memory_gib', '?')} GiB, {info.get('os', '?')}, kernel {info.get('kernel')}. "
      f"{info.get('msgbridge', '')} (commit {info.get('commit', '?')}), built with -O2. "
      "Packages: " + ", ".join(f"{k} {v}" for k, v in info.get("packages", {}).items()) + ".\n")
    w("Brokers on loopback on the same machine: librdkafka's mock cluster (3 brokers, in "
      "memory) for Kafka, RabbitMQ 3.10 (one node, durable queues, persistent messages) for "
      "AMQP 0-9-1 and, through its rabbitmq_amqp1_0 plugin, AMQP 1.0. msgbridge runs with its "
      "at-least-once defaults (max_in_flight 1000, Kafka-sourced routes 2 MiB and 5242 "
      "messages, 1000 to RabbitMQ, AMQP 1.0 and STOMP, acks=all + idempotence, publisher "
      "confirms, AMQP 1.0 unsettled sends)" +
      (f", and on every broker route `{info['route_keys']}` (BENCH_ROUTE_KEYS)"
       if info.get("route_keys") else "") + ".\n")
    w("## Routes\n")
    w("Throughput: draining a preloaded backlog, from the first message at the destination to "
      "the last. Ceiling: the raw consumer and producer running at the same time on the same "
      "cluster (Kafka -> Kafka, marked *), else min(raw source rate, raw sink rate) measured one "
      "at a time, with the same client library and body size. Latency: p50 / p90 / p99 / max in "
      "ms at a fixed offered rate, from a stamp in the body written by a raw producer at the "
      "source to a raw consumer at the destination (next to the same through each broker alone, "
      "below). RSS "
      "and CPU: msgbridge's peak resident memory (VmHWM) and user+system CPU seconds per million "
      "messages over the drain; allocations: heap allocations (malloc, calloc, realloc) per "
      "message from a tenth of the backlog to the end (bench/alloccount.so preloaded). "
      "memory -> memory has no broker: the core's own ceiling.\n")
    w("| route | body | messages | msg/s | MB/s | ceiling msg/s | / ceiling | Shovel msg/s | "
      "/ Shovel | latency @1k/s | latency @10k/s | peak RSS MiB | CPU s / M msgs | allocs / msg |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---:|")
    for r in rows:
        msgs = fmt(r["messages"]) if r["complete"] else f"{fmt(r['reached'])} of {fmt(r['messages'])}"
        w(f"| {r['label']} | {r['size']} B | {msgs} | {fmt(r['msgs_per_s'])} | "
          f"{fmt(r['mb_per_s'], 2)} | {fmt(r['ceiling_msgs_per_s'])}"
          f"{'*' if r['ceiling_kind'] == 'concurrent' else ''} | "
          f"{fmt(r['ceiling_ratio'], 2)} | {fmt(r['shovel_msgs_per_s'])} | "
          f"{fmt(r['shovel_ratio'], 2)} | {lat_cell(r, 1000)} | {lat_cell(r, 10000)} | "
          f"{fmt(r['peak_rss_mib'], 1)} | {fmt(r['cpu_s_per_m'], 1)} | "
          f"{fmt(r['allocs_per_msg'], 2)} |")
    for r in rows:
        if r.get("drain_rates"):
            w(f"\n{r['label']} {r['size']} B: {len(r['drain_rates'])} drains of the same backlog "
              f"({' / '.join(fmt(x) for x in r['drain_rates'])} msg/s); the table gives their "
              "median, and the first drain's RSS, CPU and allocations.")
    if floor:
        w("\n## Latency without msgbridge\n")
        w("The same producer and consumer through one broker with nothing between: the floor "
          "that a route's latency adds to (a route crosses its source's broker and its "
          "destination's). p50 / p90 / p99 / max in ms; the load average when the run ended.\n")
        w("| broker | @1k/s | load | @10k/s | load |")
        w("|---|---|---:|---|---:|")
        for b in ("kafka", "rabbitmq", "amqp1"):
            l1, l10 = floor.get((b, 1000)), floor.get((b, 10000))
            if l1 or l10:
                w(f"| {b} | {lat_text(l1)} | {(l1 or {}).get('load', '-')} | {lat_text(l10)} | "
                  f"{(l10 or {}).get('load', '-')} |")
    w("\n## Raw client ceilings\n")
    w("| tool | body | msg/s | MB/s | runs |")
    w("|---|---:|---:|---:|---:|")
    names = {"kafka_produce": "librdkafka produce (acks=all, idempotent)",
             "kafka_consume": "librdkafka consume (assign, no commits)",
             "rabbitmq_publish": "rabbitmq-c publish, confirms (window 1000), persistent",
             "rabbitmq_consume": "rabbitmq-c consume, manual acks (prefetch 1000)",
             "amqp1_send": "proton send, durable, settled on accepted",
             "amqp1_receive": "proton receive, accept (credit 1000)",
             "kafka_both": "librdkafka consume and produce at the same time (the smaller rate)",
             "stomp_send": "raw STOMP SEND to ActiveMQ, persistent, receipts (window 256)",
             "stomp_receive": "raw STOMP receive from ActiveMQ, ACK each (prefetch 1000)"}
    for k in sorted(ceil):
        base, sfx = k.rsplit("_", 1)
        w(f"| {names.get(base, base)} | {'100 B' if sfx == '100' else '1 KiB'} | "
          f"{fmt(ceil[k]['msgs_per_s'])} | {fmt(ceil[k]['mb_per_s'], 2)} | {ceil[k]['samples']} |")
    w("\n## Targets (issues 9 and 14)\n")
    w("Kafka -> Kafka at 0.6 of its concurrent ceiling (0.8 the aim), the other routes at 0.8; "
      "no heap allocation per message on memory -> memory, Kafka -> Kafka, Kafka -> RabbitMQ, "
      "RabbitMQ -> Kafka and RabbitMQ -> RabbitMQ (counted in the whole process: librdkafka's "
      "own included).\n")
    for r in rows:
        miss = []
        floor = 0.6 if r["route"] == "k2k" else 0.8
        if r["ceiling_ratio"] is not None and r["ceiling_ratio"] < floor:
            miss.append(f"ceiling ratio {r['ceiling_ratio']:.2f} < {floor}")
        a = r.get("allocs_per_msg")
        if (r["route"].split(".")[0] in ("m2m", "k2k", "k2r", "r2k", "r2r") and a is not None
                and a >= 0.005):
            miss.append(f"{a:.2f} allocations / msg > 0")
        if r["shovel_ratio"] is not None and r["shovel_ratio"] < 2:
            miss.append(f"Shovel ratio {r['shovel_ratio']:.2f} < 2")
        l1 = r.get("lat_1000")
        if l1 and l1.get("p99_ms") is not None and l1["p99_ms"] >= 10:
            miss.append(f"p99 at 1k/s {l1['p99_ms']:.1f} ms >= 10")
        if r["peak_rss_mib"] >= 32:
            miss.append(f"RSS {r['peak_rss_mib']:.1f} MiB >= 32")
        if r["route"].startswith("m2m") and (r["msgs_per_s"] or 0) < 2e6:
            miss.append(f"{fmt(r['msgs_per_s'])} msg/s < 2,000,000")
        if not r["complete"]:
            miss.append("backlog not fully delivered")
        w(f"- {r['label']} {r['size']} B: " + ("all met" if not miss else "; ".join(miss)))
    return "\n".join(out) + "\n"


def load_groups(path):
    """Kafka -> Kafka runs with several processes on one group (bench/run group_run)."""
    rows = []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r["kind"] != "group":
                continue
            d = r.get("data") or {}
            n = r["count"]
            rows.append({"route": r["name"], "processes": r["processes"],
                         "commit_ms": r["commit_ms"], "messages": n,
                         "complete": d.get("reached", 0) >= n,
                         "msgs_per_s": d.get("msgs_per_s"),
                         "cpu_s_per_m": r.get("cpu_s", 0) / n * 1e6 if n else None,
                         "load": r.get("load")})
    return rows


def groups_markdown(groups):
    if not groups:
        return ""
    out = ["\n## Kafka -> Kafka, processes on one consumer group\n",
           "Each run drains the same backlog (100 B records) with a new group; msg/s is the "
           "aggregate, from the first record at the destination to the last; CPU is all the "
           "processes' together.\n",
           "| run | processes | auto.commit.interval.ms | messages | msg/s | CPU s per M msgs "
           "| load at end |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for g in groups:
        out.append(f"| {g['route']} | {g['processes']} | {g['commit_ms']} | {fmt(g['messages'])}"
                   f"{'' if g['complete'] else ' (incomplete)'} | {fmt(g['msgs_per_s'])} | "
                   f"{fmt(g['cpu_s_per_m'], 1)} | {g['load']} |")
    # k2k.sync against k2k.nosync (alternated runs): the cost of failover support.
    rates = {k: [g["msgs_per_s"] for g in groups if g["route"] == k and g["msgs_per_s"]]
             for k in ("k2k.nosync", "k2k.sync")}
    if rates["k2k.nosync"] and rates["k2k.sync"]:
        off = sum(rates["k2k.nosync"]) / len(rates["k2k.nosync"])
        on = sum(rates["k2k.sync"]) / len(rates["k2k.sync"])
        out.append(f"\nOffset syncs and a group offset sync every second (k2k.sync) against the "
                   f"same route without (k2k.nosync), mean of {len(rates['k2k.sync'])} and "
                   f"{len(rates['k2k.nosync'])} alternated runs: {fmt(on)} vs {fmt(off)} msg/s, "
                   f"a cost of {(1 - on / off) * 100:.1f}% (target: 5% or less).")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--jsonl", required=True)
    ap.add_argument("--md", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--build", default="build/bench")
    ap.add_argument("--quick", type=int, default=0)
    a = ap.parse_args()
    ceil, routes, lat, shovel, floor = load(a.jsonl)
    rows = build_rows(ceil, routes, lat, shovel)
    info = machine(a.build)
    if os.environ.get("BENCH_ROUTE_KEYS"):
        info["route_keys"] = os.environ["BENCH_ROUTE_KEYS"]
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    groups = load_groups(a.jsonl)
    with open(a.md, "w") as f:
        f.write(markdown(rows, ceil, info, a.quick, when, floor))
        f.write(groups_markdown(groups))
    with open(a.json, "w") as f:
        json.dump({"when": when, "quick": bool(a.quick), "machine": info, "ceilings": ceil,
                   "routes": rows, "groups": groups,
                   "latency_floor": {f"{k[0]}@{k[1]}": v for k, v in floor.items()},
                   "shovel": {k: v.get("data") for k, v in shovel.items()}}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
