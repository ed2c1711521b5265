"""Peers for the pool workloads, with Python multiprocessing (fork):
pool_map_small (Pool(2).map of identity over 1,000,000 ints, default
chunksize), pool_apply_latency (apply_async + get one at a time, 2,000
calls), primes_speedup and primes_single (primes below 1,500,000 by trial
division, one process vs Pool(2) over 64 blocks). Pools are started and
warmed before the clock starts."""
import json
import multiprocessing as mp
import time


def identity(x):
    return x


def is_prime(n):
    if n < 2:
        return False
    d = 2
    while d * d <= n:
        if n % d == 0:
            return False
        d += 1
    return True


def count_range(block):
    lo, hi = block
    return sum(1 for i in range(lo, hi) if is_prime(i))


def emit(workload, metric, value, unit, params):
    print(json.dumps({"system": "python", "workload": workload, "metric": metric, "value": value,
                      "unit": unit, "params": params}), flush=True)


def main():
    ctx = mp.get_context("fork")
    with ctx.Pool(2) as p:
        p.apply(identity, (0,))
        n = 1_000_000
        xs = list(range(n))
        t0 = time.perf_counter()
        out = p.map(identity, xs)
        dt = time.perf_counter() - t0
        assert out[-1] == n - 1
        emit("pool_map_small", "throughput", round(n / dt), "tasks/s", {"processes": 2, "tasks": n})

        calls = 2_000
        t0 = time.perf_counter()
        for i in range(calls):
            assert p.apply_async(identity, (i,)).get() == i
        dt = time.perf_counter() - t0
        emit("pool_apply_latency", "latency", round(dt * 1e6 / calls, 2), "us/task", {"processes": 2, "tasks": calls})

        limit = 1_500_000
        t0 = time.perf_counter()
        single = count_range((0, limit))
        single_s = time.perf_counter() - t0
        step = limit // 64 + 1
        blocks = [(lo, min(limit, lo + step)) for lo in range(0, limit, step)]
        t0 = time.perf_counter()
        multi = sum(p.map(count_range, blocks, chunksize=1))
        multi_s = time.perf_counter() - t0
        assert single == multi
        emit("primes_speedup", "ratio", round(single_s / multi_s, 3), "x", {"processes": 2, "limit": limit, "primes": single})
        emit("primes_single", "latency", round(single_s, 3), "s", {"limit": limit})


if __name__ == "__main__":
    main()
