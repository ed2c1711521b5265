#!/usr/bin/env python3
"""Prints, per workload, the median of troupe's runs and of the peer's runs
from one file of benchmark JSON lines, their ratio (how many times troupe is
better, whichever direction the unit runs), and the target."""
import json
import statistics
import sys
from collections import defaultdict

TARGETS = {  # from the project's benchmark targets
    "actor_pingpong": (">=", 10e6),
    "actor_fanin": (">=", 10e6),
    "spawn": ("<=", 6),
    "remote_pingpong": (">=", 40e3),
    "queue_small": (">=", 10e6),
    "lock_contention": (">=", 10e6),
    "event_pingpong": (">=", 40e3),
    "barrier_rounds": (">=", 25e3),
    "value_lock": (">=", 10e6),
    "pipe_rtt": ("<=", 25),
    "condition_pingpong": (">=", 40e3),
    "manager_list": (">=", 1e6),
    "queue_64k": (">=", 5000),
    "pool_map_small": (">=", 20e6),
    "pool_apply_latency": ("<=", 30),
    "primes_speedup": (">=", 1.9),
    "file_merge": (">=", 1000),
    "scrape": (">=", 720),
}
# Targets relative to a peer measured in the same run: troupe's median
# within this factor of the peer's (latency).
RELATIVE = {
    "hosts_pingpong": ("mpi", 1.3),
}
PEERS = ("python", "boost", "mpi", "raw")


def fmt(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:,.2f}"


def main() -> None:
    runs = defaultdict(lambda: defaultdict(list))
    units = {}
    lower_is_better = {}
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            runs[r["workload"]][r["system"]].append(r["value"])
            units[r["workload"]] = r["unit"]
            lower_is_better[r["workload"]] = r["metric"] == "latency"
    head = "".join(f" {p:>12} {'ratio':>8}" for p in PEERS)
    print(f"{'workload':<18} {'runs':>4} {'troupe':>12}{head} {'unit':<14} {'target':>14} met")
    for w, systems in sorted(runs.items()):
        ours = systems.get("troupe", [])
        if not ours:
            continue
        med = statistics.median(ours)
        cols = []
        for peer in PEERS:
            vals = systems.get(peer)
            if not vals:
                cols += ["-", "-"]
                continue
            peer_med = statistics.median(vals)
            r = peer_med / med if lower_is_better[w] else med / peer_med
            cols += [fmt(peer_med), f"{r:,.1f}x"]
        op, target = TARGETS.get(w, (None, None))
        met = "-" if op is None else ("yes" if (med >= target if op == ">=" else med <= target) else "NO")
        tgt = "-" if op is None else f"{op} {fmt(target)}"
        if w in RELATIVE and systems.get(RELATIVE[w][0]):
            peer, factor = RELATIVE[w]
            limit = statistics.median(systems[peer]) * factor
            met = "yes" if med <= limit else "NO"
            tgt = f"<= {factor}x {peer}"
        cells = "".join(f" {cols[2 * i]:>12} {cols[2 * i + 1]:>8}" for i in range(len(PEERS)))
        print(f"{w:<18} {len(ours):>4} {fmt(med):>12}{cells} {units[w]:<14} {tgt:>14} {met}")
    print("ratio: how many times troupe beats that peer, medians measured in this run "
          "(python: multiprocessing; boost: Boost.Interprocess message_queue; mpi: raw MPI over TCP between "
          "two fake hosts; raw: the same work on the OS alone, forked children and a shared counter)")


if __name__ == "__main__":
    main()
