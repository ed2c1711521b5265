"""spawn peer: Python multiprocessing starts and joins 50 children that do
nothing, with the spawn and the fork start method; ms per process."""
import json
import multiprocessing as mp
import sys
import time


def nothing():
    pass


def start_and_join(ctx, count):
    t0 = time.perf_counter()
    children = [ctx.Process(target=nothing) for _ in range(count)]
    for c in children:
        c.start()
    for c in children:
        c.join()
    return (time.perf_counter() - t0) * 1000 / count


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    for method, name in (("spawn", "spawn"), ("fork", "spawn_fork")):
        ctx = mp.get_context(method)
        start_and_join(ctx, 2)  # warm-up
        ms = start_and_join(ctx, count)
        print(json.dumps({"system": "python", "workload": name, "metric": "latency", "value": round(ms, 3),
                          "unit": "ms/process", "params": {"children": count}}), flush=True)


if __name__ == "__main__":
    main()
