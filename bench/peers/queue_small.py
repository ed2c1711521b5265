"""queue_small peer: one producer process puts small ints into a
multiprocessing.Queue, the main process gets them; items per second."""
import json
import multiprocessing as mp
import sys
import time


def produce(q, count):
    for i in range(count):
        q.put(i)


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    ctx = mp.get_context("fork")
    q = ctx.Queue(1024)
    p = ctx.Process(target=produce, args=(q, count))
    t0 = time.perf_counter()
    p.start()
    total = 0
    for _ in range(count):
        total += q.get()
    dt = time.perf_counter() - t0
    p.join()
    assert total == count * (count - 1) // 2
    print(json.dumps({"system": "python", "workload": "queue_small", "metric": "throughput", "value": round(count / dt),
                      "unit": "msgs/s", "params": {"items": count}}), flush=True)


if __name__ == "__main__":
    main()
