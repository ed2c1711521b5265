"""Peer for file_merge: 8 files of 262,144 lines x 64 bytes are read by 4
reader processes, which send whole lines in blocks of 64 KiB through one
multiprocessing.Queue to the main process; it writes them to one merged
file. Inputs are generated before the clock starts; megabytes per second."""
import json
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time

FILES = 8
READERS = 4
BLOCK = 64 * 1024
LINE = 64


def generate(path, k, lines):
    tail = b"abcdefghijklmnopqrstuvwxyz0123456789"
    with open(path, "wb") as f:
        f.write(b"".join((b"%02d:%08d:" % (k, i) + tail).ljust(LINE - 1, b"x") + b"\n" for i in range(lines)))


def read_files(first, paths, q):
    for k in range(first, FILES, READERS):
        carry = b""
        with open(paths[k], "rb", buffering=0) as f:
            while True:
                got = f.read(BLOCK)
                if not got:
                    break
                cut = got.rfind(b"\n")
                if cut < 0:
                    carry += got
                    continue
                q.put((k, carry + got[:cut + 1], False))
                carry = got[cut + 1:]
        q.put((k, carry, True))


def merged_correctly(path, lines):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) != FILES * lines * LINE:
        return False
    nxt = [0] * FILES
    for at in range(0, len(data), LINE):
        k, i = int(data[at:at + 2]), int(data[at + 3:at + 11])
        if data[at + LINE - 1] != 10 or not 0 <= k < FILES or i != nxt[k]:
            return False
        nxt[k] += 1
    return all(n == lines for n in nxt)


def main():
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 262_144
    d = tempfile.mkdtemp(prefix="peer-file-merge-")
    paths = [os.path.join(d, f"input-{k}.txt") for k in range(FILES)]
    for k, p in enumerate(paths):
        generate(p, k, lines)
    merged = os.path.join(d, "merged.txt")

    ctx = mp.get_context("fork")
    t0 = time.perf_counter()
    q = ctx.Queue(64)
    procs = [ctx.Process(target=read_files, args=(r, paths, q)) for r in range(READERS)]
    for p in procs:
        p.start()
    with open(merged, "wb", buffering=0) as out:
        ended = 0
        while ended < FILES:
            _, data, last = q.get()
            out.write(data)
            ended += last
    dt = time.perf_counter() - t0
    for p in procs:
        p.join()

    ok = merged_correctly(merged, lines)
    shutil.rmtree(d)
    assert ok, "the merged file does not hold every line exactly once"
    print(json.dumps({"system": "python", "workload": "file_merge", "metric": "throughput",
                      "value": round(FILES * lines * LINE / 1e6 / dt), "unit": "MB/s",
                      "params": {"files": FILES, "lines": lines, "readers": READERS, "block": BLOCK}}),
          flush=True)


if __name__ == "__main__":
    main()
