#!/usr/bin/env python3
"""Runs a program and checks that it exits 0 and that its output matches a regex."""
import re
import subprocess
import sys

def main() -> int:
    program, pattern = sys.argv[1], sys.argv[2]
    extra = sys.argv[3:]
    proc = subprocess.run([program, *extra], capture_output=True, text=True, timeout=120)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        print(f"check_output: {program} exited with {proc.returncode}", file=sys.stderr)
        return 1
    if not re.search(pattern, proc.stdout):
        print(f"check_output: output does not match {pattern!r}", file=sys.stderr)
        return 1
    return 0

if __name__ == "__main__":
    sys.exit(main())
