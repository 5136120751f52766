#!/usr/bin/env python3
"""bench/metrics_wait.py -u URL -r ROUTE -n N [-p PID] [-w WARM] [-T TIMEOUT_S]: wait until
msgbridge's /metrics shows N messages of ROUTE settled accepted (routes with no broker to count
at, memory -> memory), polling every 5 ms. With -p, send PID SIGUSR2 (bench/alloccount.so
writes its counts) when WARM messages are settled and again at N; the accepted count around
each signal is reported (warm_count, end_count) for allocations per message.
Prints one JSON line like the raw tools' wait mode (target, reached, first_count, t_first,
t_done, msgs_per_s)."""
import argparse
import json
import os
import re
import signal
import sys
import time
import urllib.request


def accepted(url, route):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    pat = re.compile(r'^msgbridge_route_settled_total\{route="%s",outcome="accepted"\} (\d+)'
                     % re.escape(route), re.M)
    m = pat.search(text)
    return int(m.group(1)) if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-u", required=True)
    ap.add_argument("-r", required=True)
    ap.add_argument("-n", type=int, required=True)
    ap.add_argument("-p", type=int, default=0)
    ap.add_argument("-w", type=int, default=0)
    ap.add_argument("-T", type=float, default=120)
    a = ap.parse_args()
    t0 = time.monotonic()
    first = t_first = None
    warm_count = end_count = None
    c = 0
    while time.monotonic() - t0 < a.T:
        v = accepted(a.u, a.r)
        now = time.monotonic() - t0
        if v is not None:
            c = v
            if first is None and c > 0:
                first, t_first = c, now
            if a.p and warm_count is None and a.w and c >= a.w:
                os.kill(a.p, signal.SIGUSR2)
                after = accepted(a.u, a.r) or c
                warm_count = (c + after) // 2
            if c >= a.n:
                t_done = now
                if a.p:
                    os.kill(a.p, signal.SIGUSR2)
                    end_count = c
                break
        time.sleep(0.005)
    else:
        t_done = time.monotonic() - t0
        if a.p and warm_count is not None:
            os.kill(a.p, signal.SIGUSR2)  # a partial run still gets its allocations per message
            end_count = c
    d = t_done - (t_first or 0)
    rate = (c - (first or 0)) / d if first is not None and d > 0 else 0
    out = {"tool": "metrics_wait", "mode": "wait", "target": a.n, "reached": c,
           "first_count": first or 0, "t_first": round(t_first or 0, 3),
           "t_done": round(t_done, 3), "msgs_per_s": round(rate)}
    if warm_count is not None:
        out["warm_count"], out["end_count"] = warm_count, end_count
    print(json.dumps(out))
    return 0 if c >= a.n else 1


if __name__ == "__main__":
    sys.exit(main())
