// The chaos run: a mixed workload across processes while a random non-root
// process is SIGKILLed every 100–200 ms. Producer processes feed a queue
// that the root drains; processes take turns on a lock; processes march
// through a barrier; actors in their own processes answer requests; a pool
// maps calls. Every role is restarted when it is killed. Afterwards the
// invariants are checked and a summary printed; the exit status is 0 only
// if no invariant was violated and nothing hung.
//   chaos [--seconds N] [--seed S]     (the test suite runs it for 8 s)
#include <troupe.hpp>

#include "tests/support/run_test.hpp"

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

using namespace std::chrono_literals;
using troupe::process;
using troupe::task;
using troupe::testing::eventually;

namespace {

constexpr int producers = 2;
constexpr int lockers = 2;
constexpr int marchers = 2;
constexpr int echoes = 2;
constexpr int pool_workers = 2;

struct item {
  int producer = 0;
  int incarnation = 0;
  int seq = 0;
};

// ---- the roles, each run in a process of its own ----

// Puts items until told to stop; after each acknowledged put, records in
// shared memory how many of this incarnation's items were acknowledged.
task<void> produce(troupe::queue<item> q, troupe::array<std::int64_t> acked, troupe::value<int> stop, int p,
                   int incarnation) {
  for (int seq = 0; stop.load() == 0;) {
    item it{p, incarnation, seq};
    auto r = co_await q.put(it, 200ms);
    if (r) {
      acked.store(static_cast<std::size_t>(p), ++seq);
    } else if (r.code() != troupe::errc::timeout) {
      co_return;  // closed
    }
  }
}

// Lock statistics, one slot each in a shared array.
enum lock_stat : std::size_t { sections, lock_violations, owner_died_repairs, lock_stat_count };

// Takes the lock in turns; inside, checks nobody else is. A holder that was
// killed inside leaves `inside` raised: its successor is told (owner_died)
// and repairs it, as a program guarding real data would.
task<void> take_turns(troupe::lock l, troupe::value<int> inside, troupe::array<std::int64_t> stats,
                      troupe::value<int> stop) {
  while (stop.load() == 0) {
    auto g = co_await l.scoped(200ms);
    if (!g) continue;
    if (g->owner_died()) {
      inside.store(0);
      stats.fetch_add(owner_died_repairs, 1);
    }
    if (inside.fetch_add(1) != 0) stats.fetch_add(lock_violations, 1);
    stats.fetch_add(sections, 1);
    inside.fetch_sub(1);
  }
}

// Before each wait a marcher records the round it arrives in; the barrier's
// action (in the root, before anyone is released) checks that every party
// arrived in the current round. When the barrier breaks (a waiting party
// was killed, or the root reset it) the marcher waits for the reset and
// arrives again.
task<void> march(troupe::barrier b, troupe::array<std::int64_t> arrived, troupe::value<std::int64_t> round,
                 troupe::value<int> stop, int p) {
  while (stop.load() == 0) {
    arrived.store(static_cast<std::size_t>(p), round.load());
    auto r = co_await b.wait(1s);
    if (r) continue;
    // A partner that has not come for a second is gone (and the run may be
    // ending): the timeout broke the barrier, so mend it and look again.
    if (r.code() == troupe::errc::timeout) {
      (void)co_await b.reset();
      continue;
    }
    for (;;) {
      auto broken = co_await b.broken();
      if (stop.load() != 0 || !broken || !*broken) break;
      (void)co_await troupe::sleep_for(1ms);
    }
  }
}

struct ping {
  using response = std::int64_t;
  std::int64_t n = 0;
};

class echo {
 public:
  using messages = troupe::message_list<ping>;
  std::int64_t on(ping p) const { return p.n * 2 + 1; }
};

std::int64_t square(std::int64_t x) { return x * x; }

// ---- the root ----

struct role {
  std::string kind;
  int index = 0;
  process proc;
  bool running = false;
  int kills = 0;
  int restarts = 0;
};

struct chaos {
  std::chrono::nanoseconds duration;
  std::mt19937_64 rng;
  bool stopping = false;

  troupe::value<int> stop = troupe::value<int>::make(0);
  std::vector<role> roles;

  // queue
  troupe::queue<item> q = troupe::queue<item>::make(64);
  troupe::array<std::int64_t> acked = troupe::array<std::int64_t>::make(producers);
  std::map<std::pair<int, int>, std::int64_t> acked_by_incarnation;
  std::set<std::tuple<int, int, int>> delivered;
  std::int64_t duplicates = 0;

  // lock
  troupe::lock lk = troupe::lock::make();
  troupe::value<int> inside = troupe::value<int>::make(0);
  troupe::array<std::int64_t> lock_stats = troupe::array<std::int64_t>::make(lock_stat_count);

  // barrier
  troupe::array<std::int64_t> arrived = troupe::array<std::int64_t>::make(marchers);
  troupe::value<std::int64_t> round = troupe::value<std::int64_t>::make(0);
  std::int64_t barrier_violations = 0;
  troupe::barrier bar;

  // actors
  std::vector<troupe::actor_ref> echo_refs = std::vector<troupe::actor_ref>(echoes);
  std::int64_t requests_answered = 0, requests_failed = 0, wrong_replies = 0;

  // pool
  std::int64_t maps = 0, results = 0, wrong_results = 0, failed_maps = 0;

  int kills = 0;
  int pool_kills = 0;

  explicit chaos(std::chrono::nanoseconds d, std::uint64_t seed) : duration(d), rng(seed) {
    for (int i = 0; i < producers; ++i) roles.push_back({"producer", i});
    for (int i = 0; i < lockers; ++i) roles.push_back({"locker", i});
    for (int i = 0; i < marchers; ++i) roles.push_back({"marcher", i});
    for (int i = 0; i < echoes; ++i) roles.push_back({"echo", i});
  }
};

// Starts role `r` (again) and restarts it whenever it dies, until the run stops.
task<void> supervise(chaos& c, role& r) {
  for (int incarnation = 0;; ++incarnation) {
    if (r.kind == "producer") {
      c.acked.store(static_cast<std::size_t>(r.index), 0);
      r.proc = process(produce, c.q, c.acked, c.stop, r.index, incarnation);
    } else if (r.kind == "locker") {
      r.proc = process(take_turns, c.lk, c.inside, c.lock_stats, c.stop);
    } else if (r.kind == "marcher") {
      r.proc = process(march, c.bar, c.arrived, c.round, c.stop, r.index);
    } else {
      r.proc = process::host();
    }
    r.proc.start();
    r.running = true;
    if (r.kind == "echo") {
      auto ref = co_await r.proc.spawn<echo>();
      if (ref) c.echo_refs[static_cast<std::size_t>(r.index)] = *ref;
    }
    co_await r.proc.join();
    r.running = false;
    if (r.kind == "producer")
      c.acked_by_incarnation[{r.index, incarnation}] = c.acked.load(static_cast<std::size_t>(r.index));
    if (r.kind == "echo") c.echo_refs[static_cast<std::size_t>(r.index)] = {};
    if (c.stopping) co_return;
    ++r.restarts;
    // A marcher killed while others waited broke the barrier: mend it before
    // its replacement arrives.
    if (r.kind == "marcher") (void)co_await c.bar.reset();
  }
}

// The root's consumer: drains the queue until it is closed and empty.
task<void> consume(chaos& c) {
  for (;;) {
    auto it = co_await c.q.get();
    if (!it) co_return;
    if (!c.delivered.emplace(it->producer, it->incarnation, it->seq).second) ++c.duplicates;
  }
}

task<void> ask_echoes(chaos& c) {
  for (std::int64_t n = 0; !c.stopping; ++n) {
    troupe::actor_ref to = c.echo_refs[static_cast<std::size_t>(n % echoes)];
    if (!to) {
      (void)co_await troupe::sleep_for(1ms);
      continue;
    }
    ping m{n};
    auto r = co_await to.request(m, 2s);
    if (!r) ++c.requests_failed;
    else if (*r != n * 2 + 1) ++c.wrong_replies;
    else ++c.requests_answered;
  }
}

task<void> map_repeatedly(chaos& c, troupe::pool& pool) {
  std::vector<std::int64_t> xs(500);
  for (std::size_t i = 0; i < xs.size(); ++i) xs[i] = static_cast<std::int64_t>(i);
  while (!c.stopping) {
    std::vector<std::int64_t> out;
    try {
      out = co_await pool.map(square, xs);
    } catch (const std::exception& e) {
      ++c.failed_maps;
      std::fprintf(stderr, "chaos: a map failed: %s\n", e.what());
      continue;
    }
    ++c.maps;
    c.results += static_cast<std::int64_t>(out.size());
    if (out.size() != xs.size()) ++c.wrong_results;
    for (std::size_t i = 0; i < out.size() && i < xs.size(); ++i)
      if (out[i] != xs[i] * xs[i]) ++c.wrong_results;
  }
}

// SIGKILLs a random non-root process (a role's, or a pool worker) every
// 100–200 ms until the run's time is up.
task<void> kill_randomly(chaos& c, troupe::pool& pool) {
  const auto end = std::chrono::steady_clock::now() + c.duration;
  std::uniform_int_distribution<int> pause(100, 200);
  while (std::chrono::steady_clock::now() < end) {
    (void)co_await troupe::sleep_for(std::chrono::milliseconds(pause(c.rng)));
    auto pids = pool.worker_pids();
    std::uniform_int_distribution<std::size_t> pick(0, c.roles.size() + pids.size() - 1);
    std::size_t k = pick(c.rng);
    if (k < c.roles.size()) {
      role& r = c.roles[k];
      if (!r.running) continue;
      r.proc.kill();
      ++r.kills;
    } else {
      if (::kill(pids[k - c.roles.size()], SIGKILL) != 0) continue;
      ++c.pool_kills;
    }
    ++c.kills;
  }
}

task<int> run_chaos(std::chrono::nanoseconds duration, std::uint64_t seed) {
  // The hard deadline: a run that has not finished a minute after its time
  // is up has hung somewhere; say so and fail (children die with the root).
  std::thread([deadline = std::chrono::steady_clock::now() + duration + 60s] {
    std::this_thread::sleep_until(deadline);
    std::fprintf(stderr, "chaos: HUNG (not finished 60 s after the kills stopped)\n");
    std::_Exit(3);
  }).detach();
  chaos c(duration, seed);
  troupe::value<std::int64_t> round = c.round;
  troupe::array<std::int64_t> arrived = c.arrived;
  std::int64_t* early = &c.barrier_violations;
  c.bar = troupe::barrier::make(marchers, [round, arrived, early] {
    for (std::size_t p = 0; p < arrived.size(); ++p)
      if (arrived.load(p) != round.load()) ++*early;
    round.fetch_add(1);
  });

  troupe::pool_options options;
  options.processes = pool_workers;
  options.retries = 50;
  troupe::pool pool(options);

  const auto started = std::chrono::steady_clock::now();
  troupe::scope work;
  for (auto& r : c.roles) work.spawn(supervise(c, r));
  troupe::scope clients;
  clients.spawn(consume(c));
  clients.spawn(ask_echoes(c));
  clients.spawn(map_repeatedly(c, pool));
  co_await kill_randomly(c, pool);

  // Back to full strength: every role running again, the pool at its size.
  auto full = [&c, &pool] {
    for (const auto& r : c.roles)
      if (!r.running || (r.kind == "echo" && !c.echo_refs[static_cast<std::size_t>(r.index)])) return false;
    return pool.stats().workers_alive == pool_workers;
  };
  const auto kills_done = std::chrono::steady_clock::now();
  bool recovered = co_await eventually(full, 10s);
  const auto recovery = std::chrono::steady_clock::now() - kills_done;

  // Stop: roles end their loops, the barrier's waiters are released broken,
  // echo hosts are ended; then the queue is closed and drained.
  c.stopping = true;
  c.stop.store(1);
  (void)co_await c.bar.abort();
  for (auto& r : c.roles)
    if (r.kind == "echo" && r.running) r.proc.terminate();
  co_await work.join();
  (void)co_await c.q.close();
  co_await clients.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  // Every acknowledged item was delivered, and none twice.
  std::int64_t acked_total = 0, lost = 0;
  for (const auto& [key, n] : c.acked_by_incarnation) {
    acked_total += n;
    for (int seq = 0; seq < n; ++seq)
      if (!c.delivered.count({key.first, key.second, seq})) ++lost;
  }
  int restarts = 0;
  std::map<std::string, int> kills_by_kind;
  for (const auto& r : c.roles) {
    restarts += r.restarts;
    kills_by_kind[r.kind] += r.kills;
  }
  kills_by_kind["pool worker"] = c.pool_kills;

  const std::int64_t violations = lost + c.duplicates + c.lock_stats.load(lock_violations) + c.barrier_violations +
                                  c.wrong_replies + c.wrong_results + c.failed_maps + (recovered ? 0 : 1);
  std::printf("chaos: %.1f s, seed %llu, %d processes killed (", seconds, static_cast<unsigned long long>(seed),
              c.kills);
  bool first = true;
  for (const auto& [kind, n] : kills_by_kind) {
    std::printf("%s%s %d", first ? "" : ", ", kind.c_str(), n);
    first = false;
  }
  std::printf("), %d roles restarted, pool workers replaced %llu\n", restarts,
              static_cast<unsigned long long>(pool.stats().workers_died));
  std::printf("  queue:   %lld items acknowledged, %zu delivered, %lld lost, %lld duplicated\n",
              static_cast<long long>(acked_total), c.delivered.size(), static_cast<long long>(lost),
              static_cast<long long>(c.duplicates));
  std::printf("  lock:    %lld sections, %lld taken over from a killed holder, %lld exclusion violations\n",
              static_cast<long long>(c.lock_stats.load(sections)),
              static_cast<long long>(c.lock_stats.load(owner_died_repairs)),
              static_cast<long long>(c.lock_stats.load(lock_violations)));
  std::printf("  barrier: %lld rounds, %lld released early\n", static_cast<long long>(c.round.load()),
              static_cast<long long>(c.barrier_violations));
  std::printf("  actors:  %lld requests answered, %lld failed by a kill, %lld wrong replies\n",
              static_cast<long long>(c.requests_answered), static_cast<long long>(c.requests_failed),
              static_cast<long long>(c.wrong_replies));
  std::printf("  pool:    %lld maps, %lld results, %lld wrong or missing, %lld maps failed, %llu calls re-run\n",
              static_cast<long long>(c.maps), static_cast<long long>(c.results),
              static_cast<long long>(c.wrong_results), static_cast<long long>(c.failed_maps),
              static_cast<unsigned long long>(pool.stats().calls_retried));
  std::printf("  back to full strength %s (%.0f ms after the last kill)\n", recovered ? "yes" : "NO",
              std::chrono::duration<double, std::milli>(recovery).count());
  std::printf("violations: %lld\n", static_cast<long long>(violations));
  c.q.shutdown();
  c.bar.shutdown();
  c.lk.shutdown();
  co_return violations == 0 && c.kills > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 8;
  std::uint64_t seed = std::random_device{}();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
    else if (std::strcmp(argv[i], "--seed") == 0) seed = std::strtoull(argv[i + 1], nullptr, 10);
  }
  const auto duration = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(seconds));
  return troupe::run(argc, argv, [duration, seed]() { return run_chaos(duration, seed); });
}
