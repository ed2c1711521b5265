"""Peer for value_lock: 2 processes each increment one shared Value 200,000
times under its lock, with Python multiprocessing (fork)."""
import json
import multiprocessing as mp
import time


def add(v, start, rounds):
    start.wait()
    for _ in range(rounds):
        with v.get_lock():
            v.value += 1


def main():
    ctx = mp.get_context("fork")
    rounds = 200_000
    v = ctx.Value("l", 0)
    start = ctx.Barrier(3)
    procs = [ctx.Process(target=add, args=(v, start, rounds)) for _ in range(2)]
    for p in procs:
        p.start()
    start.wait()
    t0 = time.perf_counter()
    for p in procs:
        p.join()
    dt = time.perf_counter() - t0
    assert v.value == 2 * rounds
    print(json.dumps({"system": "python", "workload": "value_lock", "metric": "throughput",
                      "value": round(2 * rounds / dt), "unit": "incr/s",
                      "params": {"processes": 2, "rounds": rounds}}), flush=True)


if __name__ == "__main__":
    main()
