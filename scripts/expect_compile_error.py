#!/usr/bin/env python3
"""Compiles a source that must not compile and checks that the compiler's
message contains the expected text: usage COMPILER... -- SOURCE TEXT."""
import subprocess
import sys


def main() -> int:
    sep = sys.argv.index("--")
    compiler, source, expected = sys.argv[1:sep], sys.argv[sep + 1], sys.argv[sep + 2]
    proc = subprocess.run([*compiler, "-fsyntax-only", source], capture_output=True, text=True, timeout=300)
    if proc.returncode == 0:
        print(f"{source} compiled, but must not", file=sys.stderr)
        return 1
    if expected not in proc.stderr:
        sys.stderr.write(proc.stderr[-4000:])
        print(f"the error for {source} does not say {expected!r}", file=sys.stderr)
        return 1
    print(f"{source}: refused with {expected!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
