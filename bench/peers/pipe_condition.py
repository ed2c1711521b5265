"""Peers for pipe_rtt (ping-pong of small ints over a duplex Pipe) and
condition_pingpong (a producer and a consumer hand a turn back and forth
through one Condition and a shared Value), with Python multiprocessing."""
import json
import multiprocessing as mp
import time


def echo(conn):
    while True:
        v = conn.recv()
        if v is None:  # (a forked child holds both ends: no EOF to wait for)
            return
        conn.send(v + 1)


def take_turns(cond, turn, mine, rounds):
    for _ in range(rounds):
        with cond:
            cond.wait_for(lambda: turn.value == mine)
            turn.value = 1 - mine
            cond.notify()


def emit(workload, metric, value, unit, params):
    print(json.dumps({"system": "python", "workload": workload, "metric": metric, "value": round(value, 2),
                      "unit": unit, "params": params}), flush=True)


def main():
    ctx = mp.get_context("fork")
    rounds = 20_000
    mine, theirs = ctx.Pipe()
    p = ctx.Process(target=echo, args=(theirs,))
    p.start()
    mine.send(0)
    mine.recv()
    t0 = time.perf_counter()
    for i in range(rounds):
        mine.send(i)
        mine.recv()
    dt = time.perf_counter() - t0
    mine.send(None)
    p.join()
    emit("pipe_rtt", "latency", dt * 1e6 / rounds, "us/round trip", {"rounds": rounds})

    rounds = 5_000
    cond = ctx.Condition()
    turn = ctx.Value("i", 0, lock=False)
    p = ctx.Process(target=take_turns, args=(cond, turn, 1, rounds))
    p.start()
    t0 = time.perf_counter()
    take_turns(cond, turn, 0, rounds)
    p.join()
    emit("condition_pingpong", "throughput", 2 * rounds / (time.perf_counter() - t0), "handoffs/s",
         {"rounds": rounds})


if __name__ == "__main__":
    main()
