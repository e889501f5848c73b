#!/usr/bin/env python3
"""Prints a short table from Google Benchmark JSON files: each benchmark's time and
throughput, and ScopeFlow-vs-peer ratios where both were measured in the same run
(BM_X_ScopeFlow* against BM_X_<peer> with the same arguments)."""
import json
import sys


def load(path):
    with open(path) as f:
        return json.load(f)["benchmarks"]


def main(paths):
    rows = []
    for p in paths:
        for b in load(p):
            if b.get("run_type") == "aggregate" or b.get("error_occurred"):
                continue
            name = b["name"]
            gbs = b.get("bytes_per_second", 0) / 1e9
            t = b["real_time"]
            unit = b.get("time_unit", "ns")
            rows.append((name, t, unit, gbs))
    width = max((len(r[0]) for r in rows), default=20)
    print(f"{'benchmark':<{width}}  {'time':>12}  {'GB/s':>8}")
    for name, t, unit, gbs in rows:
        print(f"{name:<{width}}  {t:>10.2f}{unit:>2}  {gbs:>8.2f}" if gbs else
              f"{name:<{width}}  {t:>10.2f}{unit:>2}  {'':>8}")


if __name__ == "__main__":
    main(sys.argv[1:])
