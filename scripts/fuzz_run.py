#!/usr/bin/env python3
"""Runs one libFuzzer target: first over its stored corpus (seeds and every
input that once found a fault — the regression part), then for SECONDS of
fresh fuzzing. usage: fuzz_run.py TARGET STORED_CORPUS WORK_DIR SECONDS
New interesting inputs go to WORK_DIR; a crash leaves its input there as
crash-* and fails the run (copy it into the stored corpus once fixed)."""
import os
import subprocess
import sys


def main() -> int:
    target, stored, work, seconds = sys.argv[1:5]
    os.makedirs(work, exist_ok=True)
    common = ["-rss_limit_mb=2048", "-timeout=10", "-print_final_stats=1", f"-artifact_prefix={work}/"]
    # The stored inputs, each once: a fault found before must stay fixed.
    files = [os.path.join(stored, f) for f in sorted(os.listdir(stored))] if os.path.isdir(stored) else []
    if files:
        r = subprocess.run([target, *common, *files])
        if r.returncode != 0:
            return r.returncode
    if int(seconds) <= 0:
        return 0
    r = subprocess.run([target, *common, f"-max_total_time={seconds}", work, *( [stored] if files else [])])
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
