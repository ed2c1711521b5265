// Lock, rlock, semaphore and event: in one process, across processes, and
// with a holder that dies.
#include <doctest/doctest.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include <troupe.hpp>

#include "tests/support/run_test.hpp"

using namespace std::chrono_literals;
using troupe::errc;
using troupe::process;
using troupe::task;

namespace {

using troupe::testing::run_test;

std::uint64_t now_ms() { return troupe::uv::loop::now_ns() / 1'000'000; }

// A register with separate read and write, so unprotected increments from
// several processes lose updates and protected ones do not. It also counts
// how many clients are "inside" at once.
struct read_reg {
  using response = int;
};
struct write_reg {
  using response = void;
  int value = 0;
};
struct enter {
  using response = int;  // how many are inside now
};
struct leave {
  using response = void;
};
struct max_inside {
  using response = int;
};
task<void> reg_server(troupe::inbox<read_reg, write_reg, enter, leave, max_inside> self) {
  int value = 0;
  int inside = 0;
  int most = 0;
  for (;;) {
    auto l = co_await self.receive();
    if (!l) co_return;
    l->visit([&](read_reg&) { return value; }, [&](write_reg& w) { value = w.value; },
             [&](enter&) {
               most = std::max(most, ++inside);
               return inside;
             },
             [&](leave&) { --inside; }, [&](max_inside&) { return most; });
  }
}

task<void> locked_increments(troupe::lock l, troupe::actor_ref reg, int count) {
  for (int i = 0; i < count; ++i) {
    auto g = (co_await l.scoped()).value();
    int v = (co_await reg.request(read_reg{})).value();
    (void)(co_await reg.request(write_reg{v + 1})).value();
  }
}

task<void> hold_lock_forever(troupe::lock l, troupe::event held) {
  auto g = (co_await l.scoped()).value();
  (void)co_await held.set();
  (void)co_await troupe::sleep_for(60s);
}

task<void> hold_permit_forever(troupe::semaphore s, troupe::event held) {
  (void)(co_await s.acquire()).value();
  (void)co_await held.set();
  (void)co_await troupe::sleep_for(60s);
}

// Takes both permits, the second time round on the fast path (the first
// acquire registered this process with the server), then waits to be killed.
task<void> hold_fast_permits_forever(troupe::semaphore s, troupe::event held) {
  (void)(co_await s.acquire()).value();
  (void)(co_await s.release()).value();
  (void)(co_await s.acquire()).value();
  (void)(co_await s.acquire()).value();
  (void)co_await held.set();
  (void)co_await troupe::sleep_for(60s);
}

task<void> bounded_worker(troupe::semaphore s, troupe::actor_ref reg, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    auto g = (co_await s.scoped()).value();
    (void)(co_await reg.request(enter{})).value();
    (void)co_await troupe::sleep_for(1ms);
    (void)(co_await reg.request(leave{})).value();
  }
}

task<int> wait_for_event(troupe::event e) { co_return (co_await e.wait(10s)).value() ? 0 : 1; }

// Says it is about to wait, then waits for the event until killed.
task<void> wait_for_event_until_killed(troupe::event e, troupe::event waiting) {
  (void)co_await waiting.set();
  (void)co_await e.wait();
}

task<int> barrier_party(troupe::barrier b) {
  auto r = co_await b.wait(10s);
  co_return r ? static_cast<int>(*r) : 100 + static_cast<int>(r.code());
}

// Waits on the condition until the register holds a positive value.
task<int> cond_consumer(troupe::condition c, troupe::actor_ref reg) {
  auto g = (co_await c.scoped()).value();
  struct check {
    static task<bool> positive(troupe::actor_ref r) { co_return (co_await r.request(read_reg{})).value() > 0; }
  };
  auto ok = co_await c.wait_for([reg] { return check::positive(reg); }, 10s);
  co_return ok && *ok ? 0 : 1;
}

task<int> cond_waiter(troupe::condition c) {
  auto g = (co_await c.scoped()).value();
  auto r = co_await c.wait(10s);
  co_return r && *r ? 0 : 1;
}

// Waits (with a deadline) until `pred(arg)` holds. Coroutine lambdas
// capture nothing, so the state comes as an argument.
template <class Pred, class Arg>
task<void> eventually(Pred pred, Arg arg) {
  auto t0 = std::chrono::steady_clock::now();
  while (!(co_await pred(arg)) && std::chrono::steady_clock::now() - t0 < 10s) (void)co_await troupe::sleep_for(1ms);
}

}  // namespace

TEST_SUITE("sync") {

TEST_CASE("a lock is exclusive, times out when held, and refuses the release of an unheld lock") {
  run_test([]() -> task<void> {
    auto l = troupe::lock::make();
    CHECK((co_await l.release()).code() == errc::invalid_argument);
    auto g = co_await l.acquire();
    REQUIRE(g.has_value());
    CHECK_FALSE(g->owner_died);
    CHECK(l.locked());
    CHECK((co_await l.try_acquire()).code() == errc::timeout);
    CHECK((co_await l.acquire(20ms)).code() == errc::timeout);
    CHECK((co_await l.release()).has_value());
    CHECK_FALSE(l.locked());
    {
      auto guard = (co_await l.scoped()).value();
      CHECK(l.locked());
    }
    // The guard's release is a message; the next request queues behind it.
    CHECK_FALSE(l.locked());
    l.shutdown();
  });
}

TEST_CASE("an acquire cancelled by its stop token is withdrawn") {
  run_test([]() -> task<void> {
    auto l = troupe::lock::make();
    (void)(co_await l.acquire()).value();
    struct parts {
      static task<errc> waiter(troupe::lock l, std::stop_token st) { co_return (co_await l.acquire(troupe::actors::forever, st)).code(); }
      static task<void> stopper(std::stop_source& s) {
        (void)co_await troupe::sleep_for(10ms);
        s.request_stop();
      }
    };
    std::stop_source stop;
    auto [code, _] = co_await troupe::when_all(parts::waiter(l, stop.get_token()), parts::stopper(stop));
    CHECK(code == errc::cancelled);
    CHECK((co_await l.status()).value().waiting == 0);
    l.shutdown();
  });
}

TEST_CASE("an rlock is re-entrant for its owner and refuses a release by another") {
  run_test([]() -> task<void> {
    auto r = troupe::rlock::make();
    CHECK((co_await r.acquire()).value().depth == 1);
    CHECK((co_await r.acquire()).value().depth == 2);
    auto other = r.another_owner();
    CHECK((co_await other.try_acquire()).code() == errc::timeout);
    CHECK((co_await other.release()).code() == errc::invalid_argument);
    CHECK((co_await r.release()).has_value());
    CHECK(r.locked());
    CHECK((co_await r.release()).has_value());
    CHECK_FALSE(r.locked());
    CHECK((co_await other.acquire()).has_value());
    r.shutdown();
  });
}

TEST_CASE("processes incrementing under the lock lose no update") {
  run_test([]() -> task<void> {
    auto l = troupe::lock::make();
    auto reg = troupe::spawn(reg_server);
    std::vector<process> workers;
    for (int i = 0; i < 3; ++i) workers.emplace_back(locked_increments, l, reg, 100);
    for (auto& w : workers) w.start();
    for (auto& w : workers) co_await w.join();
    CHECK((co_await reg.request(read_reg{})).value() == 300);
    l.shutdown();
  });
}

TEST_CASE("a lock whose holder is killed passes to the next waiter, marked owner_died") {
  run_test([]() -> task<void> {
    auto l = troupe::lock::make();
    auto held = troupe::event::make();
    process holder(hold_lock_forever, l, held);
    holder.start();
    CHECK((co_await held.wait(10s)).value());
    struct parts {
      static task<troupe::result<troupe::lock_grant>> waiter(troupe::lock l) { co_return co_await l.acquire(10s); }
      static task<std::uint64_t> killer(process& p, troupe::lock l) {
        // Kill once the waiter sleeps at the server (with a deadline).
        auto t0 = std::chrono::steady_clock::now();
        while ((co_await l.status()).value().waiting == 0 && std::chrono::steady_clock::now() - t0 < 10s)
          (void)co_await troupe::sleep_for(1ms);
        std::uint64_t at = now_ms();
        p.kill();
        co_return at;
      }
    };
    auto [grant, killed_at] = co_await troupe::when_all(parts::waiter(l), parts::killer(holder, l));
    auto took = now_ms() - killed_at;
    REQUIRE(grant.has_value());
    CHECK(grant->owner_died);
    CHECK(took < 100);
    MESSAGE("lock passed on " << took << " ms after the holder was killed");
    l.shutdown();
  });
}

TEST_CASE("a semaphore holds its bound across processes") {
  run_test([]() -> task<void> {
    auto s = troupe::semaphore::make(3);
    auto reg = troupe::spawn(reg_server);
    std::vector<process> workers;
    for (int i = 0; i < 6; ++i) workers.emplace_back(bounded_worker, s, reg, 10);
    for (auto& w : workers) w.start();
    for (auto& w : workers) co_await w.join();
    int most = (co_await reg.request(max_inside{})).value();
    CHECK(most <= 3);
    CHECK(most >= 1);
    CHECK(s.value() == 3);
    s.shutdown();
  });
}

TEST_CASE("a dead holder's permits come back; a bounded semaphore refuses over-release") {
  run_test([]() -> task<void> {
    auto s = troupe::semaphore::make(1);
    auto held = troupe::event::make();
    process holder(hold_permit_forever, s, held);
    holder.start();
    CHECK((co_await held.wait(10s)).value());
    CHECK((co_await s.try_acquire()).code() == errc::timeout);
    holder.kill();
    CHECK((co_await s.acquire(5s)).has_value());
    s.shutdown();

    auto b = troupe::bounded_semaphore::make(2);
    (void)(co_await b.acquire()).value();
    CHECK((co_await b.release()).has_value());
    CHECK((co_await b.release()).code() == errc::invalid_argument);
    CHECK(b.value() == 2);
    b.shutdown();
  });
}

TEST_CASE("permits a process took on the fast path come back when it is killed, and go to waiters first") {
  run_test([]() -> task<void> {
    auto s = troupe::semaphore::make(2);
    auto held = troupe::event::make();
    process holder(hold_fast_permits_forever, s, held);
    holder.start();
    CHECK((co_await held.wait(10s)).value());
    CHECK(s.value() == 0);
    CHECK((co_await s.try_acquire()).code() == errc::timeout);
    struct parts {
      static task<bool> waiter(troupe::semaphore s) { co_return (co_await s.acquire(10s)).has_value(); }
      static task<bool> killer(process& p, troupe::semaphore s) {
        // Kill only once the waiter sleeps at the server.
        auto t0 = std::chrono::steady_clock::now();
        while ((co_await s.status()).value().waiting == 0 && std::chrono::steady_clock::now() - t0 < 10s)
          (void)co_await troupe::sleep_for(1ms);
        p.kill();
        co_await p.join();
        co_return true;
      }
    };
    auto [got, killed] = co_await troupe::when_all(parts::waiter(s), parts::killer(holder, s));
    CHECK(got);
    CHECK(killed);
    // One permit went to the waiter, the other is free again.
    CHECK(s.value() == 1);
    CHECK((co_await s.release()).has_value());
    CHECK(s.value() == 2);
    s.shutdown();
    held.shutdown();
  });
}

TEST_CASE("an event wakes a waiter in another process; wait times out with false") {
  run_test([]() -> task<void> {
    auto e = troupe::event::make();
    CHECK_FALSE((co_await e.wait(20ms)).value());
    process waiter(wait_for_event, e);
    waiter.start();
    (void)co_await e.set();
    CHECK((co_await e.is_set()).value());
    co_await waiter.join();
    CHECK(waiter.exitcode() == 0);
    (void)co_await e.clear();
    CHECK_FALSE((co_await e.is_set()).value());
    e.shutdown();
  });
}

TEST_CASE("an event waiter killed while waiting leaves the event working for the living") {
  run_test([]() -> task<void> {
    auto e = troupe::event::make();
    auto waiting = troupe::event::make();
    process doomed(wait_for_event_until_killed, e, waiting);
    doomed.start();
    CHECK((co_await waiting.wait(10s)).value());
    doomed.kill();
    co_await doomed.join();
    CHECK(doomed.exitcode() == -9);
    process living(wait_for_event, e);
    living.start();
    (void)co_await e.set();
    co_await living.join();
    CHECK(living.exitcode() == 0);
    CHECK((co_await e.is_set()).value());
    e.shutdown();
    waiting.shutdown();
  });
}

TEST_CASE("a semaphore acquire times out, a cancelled one is withdrawn, and the permit goes to the next") {
  run_test([]() -> task<void> {
    auto s = troupe::semaphore::make(1);
    CHECK((co_await s.acquire()).has_value());
    auto t0 = std::chrono::steady_clock::now();
    CHECK((co_await s.acquire(30ms)).code() == errc::timeout);
    CHECK(std::chrono::steady_clock::now() - t0 >= 30ms);
    struct parts {
      static task<errc> waiter(troupe::semaphore s, std::stop_token st) {
        co_return (co_await s.acquire(troupe::actors::forever, st)).code();
      }
      static task<void> stopper(std::stop_source& src) {
        (void)co_await troupe::sleep_for(10ms);
        src.request_stop();
      }
    };
    std::stop_source stop;
    auto [code, _] = co_await troupe::when_all(parts::waiter(s, stop.get_token()), parts::stopper(stop));
    CHECK(code == errc::cancelled);
    CHECK((co_await s.status()).value().waiting == 0);
    CHECK(s.value() == 0);
    CHECK((co_await s.release()).has_value());
    CHECK(s.value() == 1);
    CHECK((co_await s.acquire(1s)).has_value());
    CHECK((co_await s.release(0)).code() == errc::invalid_argument);
    s.shutdown();
  });
}

TEST_CASE("a barrier releases all parties with distinct indices and runs its action once per round") {
  run_test([]() -> task<void> {
    int rounds = 0;
    auto b = troupe::barrier::make(3, [&rounds] { ++rounds; });
    std::vector<process> parties;
    for (int i = 0; i < 2; ++i) parties.emplace_back(barrier_party, b);
    for (auto& p : parties) p.start();
    auto mine = co_await b.wait(10s);
    REQUIRE(mine.has_value());
    std::vector<int> seen{static_cast<int>(*mine)};
    for (auto& p : parties) {
      co_await p.join();
      seen.push_back(*p.exitcode());
    }
    std::sort(seen.begin(), seen.end());
    CHECK(seen == std::vector<int>{0, 1, 2});
    CHECK(rounds == 1);
    b.shutdown();
  });
}

TEST_CASE("a barrier wait that times out breaks it until reset; zero parties is refused") {
  run_test([]() -> task<void> {
    CHECK_THROWS_AS(troupe::barrier::make(0), troupe::error_exception);
    auto b = troupe::barrier::make(2);
    CHECK((co_await b.wait(20ms)).code() == errc::broken);
    CHECK((co_await b.broken()).value());
    CHECK((co_await b.wait(1s)).code() == errc::broken);
    (void)co_await b.reset();
    CHECK_FALSE((co_await b.broken()).value());
    b.shutdown();
  });
}

TEST_CASE("a barrier breaks for every waiter when a waiting party is killed") {
  run_test([]() -> task<void> {
    auto b = troupe::barrier::make(3);
    process victim(barrier_party, b);
    process survivor(barrier_party, b);
    victim.start();
    survivor.start();
    co_await eventually([](troupe::barrier x) -> task<bool> { co_return (co_await x.n_waiting()).value() == 2; }, b);
    victim.kill();
    co_await survivor.join();
    CHECK(*survivor.exitcode() == 100 + static_cast<int>(errc::broken));
    b.shutdown();
  });
}

TEST_CASE("a condition's lock answers try_acquire through its server") {
  run_test([]() -> task<void> {
    auto c = troupe::condition::make();
    auto other = troupe::condition(c.ref());  // another owner
    auto g = (co_await c.try_acquire()).value();
    CHECK(g.depth == 1);
    CHECK((co_await other.try_acquire()).code() == errc::timeout);
    (void)(co_await c.release()).value();
    CHECK((co_await other.try_acquire()).has_value());
    (void)(co_await other.release()).value();
    c.shutdown();
  });
}

TEST_CASE("a condition wakes a consumer in another process once the predicate holds") {
  run_test([]() -> task<void> {
    auto c = troupe::condition::make();
    auto reg = troupe::spawn(reg_server);
    process consumer(cond_consumer, c, reg);
    consumer.start();
    co_await eventually([](troupe::condition x) -> task<bool> { co_return (co_await x.status()).value().waiting == 1; }, c);
    {
      auto g = (co_await c.scoped()).value();
      (void)co_await reg.request(write_reg{5});
      (void)(co_await c.notify_all()).value();
    }
    co_await consumer.join();
    CHECK(consumer.exitcode() == 0);
    CHECK((co_await c.wait(1s)).code() == errc::invalid_argument);  // not holding the lock
    c.shutdown();
  });
}

TEST_CASE("a condition waiter that dies does not swallow a notify meant for a living one") {
  run_test([]() -> task<void> {
    auto c = troupe::condition::make();
    process dead(cond_waiter, c);
    process alive(cond_waiter, c);
    dead.start();
    co_await eventually([](troupe::condition x) -> task<bool> { co_return (co_await x.status()).value().waiting == 1; }, c);
    alive.start();
    co_await eventually([](troupe::condition x) -> task<bool> { co_return (co_await x.status()).value().waiting == 2; }, c);
    dead.kill();
    co_await dead.join();
    {
      auto g = (co_await c.scoped()).value();
      (void)(co_await c.notify(1)).value();
    }
    CHECK(co_await alive.join(5s));
    CHECK(alive.exitcode() == 0);
    c.shutdown();
  });
}

}  // TEST_SUITE
