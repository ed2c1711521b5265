// Several processes hammer each primitive at once; afterwards the
// invariants are checked: no queue item lost or duplicated, mutual
// exclusion held, the semaphore's bound held, no barrier party ahead of a
// round, nothing consumed that was not produced.
#include <doctest/doctest.h>

#include <chrono>
#include <set>
#include <utility>
#include <vector>

#include <troupe.hpp>

#include "tests/support/run_test.hpp"

using namespace std::chrono_literals;
using troupe::process;
using troupe::task;

namespace {

using troupe::testing::run_test;

struct item {
  int producer = 0;
  int seq = 0;
};

task<void> produce(troupe::queue<item> q, int producer, int count) {
  for (int i = 0; i < count; ++i) {
    item it{producer, i};
    (void)(co_await q.put(it)).value();
  }
}

// Takes items until the queue is closed and empty; reports each one, and
// counts order violations per producer (items of one producer must come out
// in the order they went in, to any one consumer).
task<void> consume(troupe::queue<item> q, troupe::list_proxy<item> seen, troupe::value<int> violations) {
  std::vector<int> last(16, -1);
  for (;;) {
    auto it = co_await q.get();
    if (!it) break;
    if (it->seq <= last[static_cast<std::size_t>(it->producer)]) violations.fetch_add(1);
    last[static_cast<std::size_t>(it->producer)] = it->seq;
    co_await seen.append(*it);
  }
  (void)co_await seen.sync();
}

// Enters the critical section `rounds` times; inside, a non-atomic
// read-modify-write of `counter` and a check that nobody else is inside.
void inside_section(troupe::value<long> counter, troupe::value<int> inside, troupe::value<int> violations) {
  if (inside.fetch_add(1) != 0) violations.fetch_add(1);
  counter.store(counter.load() + 1);
  inside.fetch_sub(1);
}

task<void> exclude(troupe::lock l, troupe::value<long> counter, troupe::value<int> inside,
                   troupe::value<int> violations, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    auto g = (co_await l.scoped()).value();
    inside_section(counter, inside, violations);
  }
}

task<void> exclude_reentrant(troupe::rlock l, troupe::value<long> counter, troupe::value<int> inside,
                             troupe::value<int> violations, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    auto g = (co_await l.scoped()).value();
    auto again = (co_await l.scoped()).value();  // re-entered by its owner
    inside_section(counter, inside, violations);
  }
}

task<void> bounded(troupe::semaphore s, troupe::value<int> inside, troupe::value<int> most, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    auto g = (co_await s.scoped()).value();
    int now = inside.fetch_add(1) + 1;
    for (int seen = most.load(); now > seen && !most.compare_exchange(seen, now);) {
    }
    if (i % 16 == 0) (void)co_await troupe::sleep_for(0ms);  // let others run while inside
    inside.fetch_sub(1);
  }
}

// Each round: announce it, wait, then check every party announced it.
task<void> march(troupe::barrier b, troupe::array<int> rounds_done, troupe::value<int> violations, int party,
                 int rounds) {
  for (int r = 1; r <= rounds; ++r) {
    rounds_done.store(static_cast<std::size_t>(party), r);
    (void)(co_await b.wait(30s)).value();
    for (std::size_t p = 0; p < rounds_done.size(); ++p)
      if (rounds_done.load(p) < r) violations.fetch_add(1);
  }
}

task<void> cond_produce(troupe::condition c, troupe::value<int> stock, int count) {
  for (int i = 0; i < count; ++i) {
    auto g = (co_await c.scoped()).value();
    stock.store(stock.load() + 1);
    (void)(co_await c.notify()).value();
  }
}

task<void> cond_consume(troupe::condition c, troupe::value<int> stock, troupe::value<int> violations, int count) {
  for (int i = 0; i < count; ++i) {
    auto g = (co_await c.scoped()).value();
    auto ready = [stock] { return stock.load() > 0; };
    auto w = c.wait_for(ready, 30s);
    if (!(co_await std::move(w)).value()) violations.fetch_add(1);
    if (stock.load() <= 0) violations.fetch_add(1);
    stock.store(stock.load() - 1);
  }
}

}  // namespace

TEST_SUITE("stress") {

TEST_CASE("four producers and three consumers: every item delivered exactly once, each producer's in order") {
  run_test([]() -> task<void> {
    constexpr int producers = 4, consumers = 3, per_producer = 4000;
    auto q = troupe::queue<item>::make(64);
    auto seen = troupe::list_proxy<item>::make();
    auto violations = troupe::value<int>::make(0);
    std::vector<process> ps;
    for (int p = 0; p < producers; ++p) ps.emplace_back(produce, q, p, per_producer);
    std::vector<process> cs;
    for (int c = 0; c < consumers; ++c) cs.emplace_back(consume, q, seen, violations);
    for (auto& c : cs) c.start();
    for (auto& p : ps) p.start();
    for (auto& p : ps) co_await p.join();
    (void)co_await q.close();  // consumers drain what is left, then stop
    for (auto& c : cs) {
      co_await c.join();
      CHECK(c.exitcode() == 0);
    }
    auto all = (co_await seen.snapshot()).value();
    CHECK(all.size() == std::size_t{producers} * per_producer);
    std::set<std::pair<int, int>> distinct;
    for (const auto& it : all) distinct.emplace(it.producer, it.seq);
    CHECK(distinct.size() == all.size());
    CHECK(violations.load() == 0);
    q.shutdown();
    seen.shutdown();
  });
}

TEST_CASE("four processes take a lock and an rlock in turns: mutual exclusion never broken, no update lost") {
  run_test([]() -> task<void> {
    constexpr int procs = 4, rounds = 20000;
    auto counter = troupe::value<long>::make_raw(0);
    auto inside = troupe::value<int>::make_raw(0);
    auto violations = troupe::value<int>::make_raw(0);
    auto l = troupe::lock::make();
    std::vector<process> ps;
    for (int p = 0; p < procs; ++p) ps.emplace_back(exclude, l, counter, inside, violations, rounds);
    for (auto& p : ps) p.start();
    for (auto& p : ps) co_await p.join();
    CHECK(counter.load() == long{procs} * rounds);
    CHECK(violations.load() == 0);
    CHECK_FALSE(l.locked());

    counter.store(0);
    auto r = troupe::rlock::make();
    ps.clear();
    for (int p = 0; p < procs; ++p) ps.emplace_back(exclude_reentrant, r, counter, inside, violations, rounds / 2);
    for (auto& p : ps) p.start();
    for (auto& p : ps) co_await p.join();
    CHECK(counter.load() == long{procs} * (rounds / 2));
    CHECK(violations.load() == 0);
    CHECK_FALSE(r.locked());
    l.shutdown();
    r.shutdown();
  });
}

TEST_CASE("six processes through a semaphore of three: the bound holds and every permit comes back") {
  run_test([]() -> task<void> {
    auto s = troupe::bounded_semaphore::make(3);
    auto inside = troupe::value<int>::make_raw(0);
    auto most = troupe::value<int>::make_raw(0);
    std::vector<process> ps;
    for (int p = 0; p < 6; ++p) ps.emplace_back(bounded, s, inside, most, 20000);
    for (auto& p : ps) p.start();
    for (auto& p : ps) {
      co_await p.join();
      CHECK(p.exitcode() == 0);
    }
    CHECK(most.load() <= 3);
    CHECK(most.load() >= 1);
    CHECK(s.value() == 3);
    CHECK((co_await s.status()).value().waiting == 0);
    s.shutdown();
  });
}

TEST_CASE("four processes pass a barrier 1000 times: no party ever gets ahead of a round") {
  run_test([]() -> task<void> {
    constexpr int parties = 4, rounds = 1000;
    auto b = troupe::barrier::make(parties);
    auto done = troupe::array<int>::make_raw(parties);
    auto violations = troupe::value<int>::make_raw(0);
    std::vector<process> ps;
    for (int p = 0; p < parties; ++p) ps.emplace_back(march, b, done, violations, p, rounds);
    for (auto& p : ps) p.start();
    for (auto& p : ps) {
      co_await p.join();
      CHECK(p.exitcode() == 0);
    }
    CHECK(violations.load() == 0);
    for (std::size_t p = 0; p < parties; ++p) CHECK(done.load(p) == rounds);
    b.shutdown();
  });
}

TEST_CASE("two producers and two consumers meet through a condition: nothing consumed that was not produced") {
  run_test([]() -> task<void> {
    constexpr int per_process = 1000;
    auto c = troupe::condition::make();
    auto stock = troupe::value<int>::make_raw(0);
    auto violations = troupe::value<int>::make_raw(0);
    process p1(cond_produce, c, stock, per_process), p2(cond_produce, c, stock, per_process);
    process c1(cond_consume, c, stock, violations, per_process), c2(cond_consume, c, stock, violations, per_process);
    for (auto* p : {&c1, &c2, &p1, &p2}) p->start();
    for (auto* p : {&c1, &c2, &p1, &p2}) {
      co_await p->join();
      CHECK(p->exitcode() == 0);
    }
    CHECK(violations.load() == 0);
    CHECK(stock.load() == 0);
    c.shutdown();
  });
}

}  // TEST_SUITE
