#!/usr/bin/env python3
"""Draws the ratios of one benchmark run (how many times troupe beats each
peer, per workload) as a bar chart with a log scale: bench_chart.py RUN.jsonl OUT.png"""
import json
import statistics
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    runs = defaultdict(lambda: defaultdict(list))
    lower_is_better = {}
    with open(sys.argv[1]) as f:
        for line in f:
            if line.startswith("{"):
                r = json.loads(line)
                runs[r["workload"]][r["system"]].append(r["value"])
                lower_is_better[r["workload"]] = r["metric"] == "latency"
    peers = ("python", "boost")
    rows = []
    for w in sorted(runs):
        ours = runs[w].get("troupe")
        if not ours:
            continue
        med = statistics.median(ours)
        ratios = {}
        for p in peers:
            if runs[w].get(p):
                pm = statistics.median(runs[w][p])
                ratios[p] = pm / med if lower_is_better[w] else med / pm
        if ratios:
            rows.append((w, ratios))
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.5))
    height = 0.38
    for i, p in enumerate(peers):
        ys = [k + i * height for k, (_, r) in enumerate(rows) if p in r]
        xs = [r[p] for _, r in rows if p in r]
        if not xs:
            continue
        ax.barh(ys, xs, height=height, label=f"vs {p}")
        for y, x in zip(ys, xs):
            ax.text(x, y, f" {x:,.1f}×" if x >= 1 else f" {x:.3f}×", va="center", fontsize=8)
    ax.set_yticks([k + height / 2 for k in range(len(rows))])
    ax.set_yticklabels([w for w, _ in rows])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(1.0, color="grey", linewidth=0.8)
    ax.set_xlabel("how many times troupe beats the peer (log scale; > 1 is better)")
    ax.set_title("troupe vs its peers, medians of one run")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
