"""Peer for queue_64k: one producer process puts 64 KiB payloads into a
multiprocessing.Queue, the main process gets them; megabytes per second."""
import json
import multiprocessing as mp
import sys
import time

SIZE = 64 * 1024


def produce(q, count):
    block = bytearray(SIZE)
    for i in range(count):
        block[0] = i & 0xFF
        q.put(bytes(block))


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 8_000
    ctx = mp.get_context("fork")
    q = ctx.Queue(64)
    p = ctx.Process(target=produce, args=(q, count))
    t0 = time.perf_counter()
    p.start()
    for i in range(count):
        b = q.get()
        assert len(b) == SIZE and b[0] == i & 0xFF
    dt = time.perf_counter() - t0
    p.join()
    print(json.dumps({"system": "python", "workload": "queue_64k", "metric": "throughput",
                      "value": round(count * SIZE / 1e6 / dt), "unit": "MB/s",
                      "params": {"items": count, "bytes": SIZE}}), flush=True)


if __name__ == "__main__":
    main()
