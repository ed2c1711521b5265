"""Peer for manager_list: 4 processes append 10,000 items each to a
Manager().list(), with Python multiprocessing (fork)."""
import json
import multiprocessing as mp
import time


def appender(lst, start, ident, count):
    start.wait()
    for i in range(count):
        lst.append(ident * count + i)


def main():
    ctx = mp.get_context("fork")
    procs_n, count = 4, 10_000
    with ctx.Manager() as m:
        lst = m.list()
        start = ctx.Barrier(procs_n + 1)
        procs = [ctx.Process(target=appender, args=(lst, start, i, count)) for i in range(procs_n)]
        for p in procs:
            p.start()
        start.wait()
        t0 = time.perf_counter()
        for p in procs:
            p.join()
        dt = time.perf_counter() - t0
        assert len(lst) == procs_n * count
    print(json.dumps({"system": "python", "workload": "manager_list", "metric": "throughput",
                      "value": round(procs_n * count / dt), "unit": "appends/s",
                      "params": {"processes": procs_n, "items": count}}), flush=True)


if __name__ == "__main__":
    main()
