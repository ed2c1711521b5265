#!/usr/bin/env python3
"""Prints the median of each workload from a file of benchmark JSON lines."""
import json
import statistics
import sys
from collections import defaultdict

TARGETS = {  # from the project's benchmark targets
    "actor_pingpong": (">=", 10e6),
    "actor_fanin": (">=", 10e6),
}

def main() -> None:
    runs = defaultdict(list)
    units = {}
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            runs[r["workload"]].append(r["value"])
            units[r["workload"]] = r["unit"]
    print(f"{'workload':<20} {'runs':>4} {'median':>14} {'unit':<10} {'target':>12} met")
    for w, vals in runs.items():
        med = statistics.median(vals)
        op, target = TARGETS.get(w, (None, None))
        met = "-" if op is None else ("yes" if (med >= target if op == ">=" else med <= target) else "NO")
        tgt = "-" if op is None else f"{op} {target:,.0f}"
        print(f"{w:<20} {len(vals):>4} {med:>14,.0f} {units[w]:<10} {tgt:>12} {met}")

if __name__ == "__main__":
    main()
