"""Peers for lock_contention (4 procs x 50k acquire/release of one Lock),
event_pingpong (2 procs alternate with two Events) and barrier_rounds (4
procs pass one Barrier 10k times), with Python multiprocessing."""
import json
import multiprocessing as mp
import time


def hammer(lock, start, rounds):
    start.wait()
    for _ in range(rounds):
        lock.acquire()
        lock.release()


def pong(ping, pong_ev, rounds):
    for _ in range(rounds):
        ping.wait()
        ping.clear()
        pong_ev.set()


def party(barrier, rounds):
    for _ in range(rounds):
        barrier.wait()


def emit(workload, value, unit, params):
    print(json.dumps({"system": "python", "workload": workload, "metric": "throughput", "value": round(value),
                      "unit": unit, "params": params}), flush=True)


def main():
    ctx = mp.get_context("fork")
    rounds = 50_000
    lock = ctx.Lock()
    start = ctx.Barrier(5)  # timing starts once all four are running
    procs = [ctx.Process(target=hammer, args=(lock, start, rounds)) for _ in range(4)]
    for p in procs:
        p.start()
    start.wait()
    t0 = time.perf_counter()
    for p in procs:
        p.join()
    emit("lock_contention", 4 * rounds / (time.perf_counter() - t0), "acq/s", {"processes": 4, "rounds": rounds})

    rounds = 10_000
    ping, pong_ev = ctx.Event(), ctx.Event()
    other = ctx.Process(target=pong, args=(ping, pong_ev, rounds))
    other.start()
    t0 = time.perf_counter()
    for _ in range(rounds):
        ping.set()
        pong_ev.wait()
        pong_ev.clear()
    dt = time.perf_counter() - t0
    other.join()
    emit("event_pingpong", rounds / dt, "round trips/s", {"rounds": rounds})

    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=party, args=(barrier, rounds)) for _ in range(4)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    emit("barrier_rounds", rounds / (time.perf_counter() - t0), "rounds/s", {"processes": 4, "rounds": rounds})


if __name__ == "__main__":
    main()
