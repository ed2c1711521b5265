#include <doctest/doctest.h>

#include <coroutine>
#include <functional>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <vector>

#include "framework/coro/scope.hpp"
#include "framework/coro/sync_wait.hpp"
#include "framework/coro/task.hpp"
#include "framework/coro/when_all.hpp"
#include "framework/coro/when_any.hpp"

using troupe::coro::task;
using troupe::coro::sync_wait;

namespace {

// A hand-driven suspension point: the test decides when waiters resume.
struct gate {
  std::vector<std::coroutine_handle<>> waiters;
  bool open = false;
  auto operator co_await() noexcept {
    struct awaiter {
      gate& g;
      bool await_ready() const noexcept { return g.open; }
      void await_suspend(std::coroutine_handle<> h) { g.waiters.push_back(h); }
      void await_resume() const noexcept {}
    };
    return awaiter{*this};
  }
  void release() {
    open = true;
    auto ws = std::move(waiters);
    for (auto h : ws) h.resume();
  }
};

task<int> forty_two() { co_return 42; }
task<int> add_one(task<int> t) { co_return (co_await std::move(t)) + 1; }
task<void> thrower() {
  throw std::runtime_error("boom");
  co_return;
}
task<int> count_sync(int n) {
  int total = 0;
  for (int i = 0; i < n; ++i) total += co_await forty_two() - 41;
  co_return total;
}
task<int> wait_then(gate& g, int v) {
  co_await g;
  co_return v;
}
task<std::string> move_only_result() { co_return std::string(100, 'x'); }

int& global_ref() {
  static int x = 7;
  return x;
}
task<int&> ref_task() { co_return global_ref(); }

}  // namespace

TEST_SUITE("coro") {

TEST_CASE("a task is lazy and runs only when awaited") {
  bool ran = false;
  auto make = [](bool& flag) -> task<void> {
    flag = true;
    co_return;
  };
  auto t = make(ran);
  CHECK_FALSE(ran);
  sync_wait(std::move(t));
  CHECK(ran);
}

TEST_CASE("a task returns its value through co_await") {
  CHECK(sync_wait(add_one(forty_two())) == 43);
  CHECK(sync_wait(move_only_result()).size() == 100);
  CHECK(&sync_wait(ref_task()) == &global_ref());
}

TEST_CASE("an exception escaping a task is rethrown at the co_await") {
  CHECK_THROWS_WITH_AS(sync_wait(thrower()), "boom", std::runtime_error);
}

TEST_CASE("a million synchronously completing tasks in a loop do not grow the stack") {
  // With symmetric transfer left to the optimiser this overflows at -O0.
  CHECK(sync_wait(count_sync(1'000'000)) == 1'000'000);
}

TEST_CASE("a destroyed task that never ran frees its frame without running") {
  bool ran = false;
  {
    auto make = [](bool& flag) -> task<void> {
      flag = true;
      co_return;
    };
    auto t = make(ran);
  }
  CHECK_FALSE(ran);
}

TEST_CASE("a task suspended on something asynchronous resumes its awaiter later") {
  gate g;
  int got = 0;
  troupe::coro::scope s;
  auto body = [](gate& gg, int& out) -> task<void> { out = co_await wait_then(gg, 5); };
  s.spawn(body(g, got));
  CHECK(got == 0);
  CHECK(s.active() == 1);
  g.release();
  CHECK(got == 5);
  CHECK(s.active() == 0);
}

TEST_CASE("when_all gives every result in order, also when they finish out of order") {
  gate a, b;
  std::tuple<int, int, std::monostate> out{};
  troupe::coro::scope s;
  auto body = [](gate& ga, gate& gb, std::tuple<int, int, std::monostate>& o) -> task<void> {
    auto unit = []() -> task<void> { co_return; };
    o = co_await troupe::coro::when_all(wait_then(ga, 1), wait_then(gb, 2), unit());
  };
  s.spawn(body(a, b, out));
  b.release();
  CHECK(std::get<0>(out) == 0);
  a.release();
  CHECK(std::get<0>(out) == 1);
  CHECK(std::get<1>(out) == 2);
}

TEST_CASE("when_all over a vector of synchronous tasks completes without suspending") {
  auto body = []() -> task<int> {
    std::vector<task<int>> ts;
    for (int i = 0; i < 1000; ++i) ts.push_back(forty_two());
    auto rs = co_await troupe::coro::when_all(std::move(ts));
    int sum = 0;
    for (int r : rs) sum += r;
    co_return sum;
  };
  CHECK(sync_wait(body()) == 42'000);
}

TEST_CASE("when_all waits for every task and then rethrows the first exception") {
  gate g;
  bool caught = false;
  bool other_finished = false;
  troupe::coro::scope s;
  auto body = [](gate& gg, bool& c, bool& done) -> task<void> {
    auto slow = [](gate& g2, bool& d) -> task<void> {
      co_await g2;
      d = true;
    };
    try {
      co_await troupe::coro::when_all(thrower(), slow(gg, done));
    } catch (const std::runtime_error&) {
      c = true;
    }
  };
  s.spawn(body(g, caught, other_finished));
  CHECK_FALSE(caught);  // still waiting for the slow one
  g.release();
  CHECK(caught);
  CHECK(other_finished);
}

TEST_CASE("when_any returns the first finisher and cancels the others through the stop token") {
  // The loser waits on a gate that only opens on stop, as a cancellable
  // wait would.
  struct stoppable_gate {
    gate g;
    std::optional<std::stop_callback<std::function<void()>>> cb;
  };
  gate winner;
  stoppable_gate loser;
  std::optional<troupe::coro::when_any_result<int>> out;
  std::stop_source src;
  loser.cb.emplace(src.get_token(), [&loser] { loser.g.release(); });
  troupe::coro::scope s;
  auto body = [](std::stop_source st, gate& w, gate& l,
                 std::optional<troupe::coro::when_any_result<int>>& o) -> task<void> {
    o = co_await troupe::coro::when_any(st, wait_then(w, 1), wait_then(l, 2));
  };
  s.spawn(body(src, winner, loser.g, out));
  CHECK_FALSE(out.has_value());
  winner.release();
  REQUIRE(out.has_value());
  CHECK(out->index == 0);
  CHECK(out->value == 1);
  CHECK(src.stop_requested());
  CHECK(s.active() == 0);
}

TEST_CASE("a scope joins its tasks and rethrows the first exception at join") {
  gate g;
  bool joined = false;
  bool threw = false;
  troupe::coro::scope inner;
  troupe::coro::scope outer;
  auto waiter = [](gate& gg) -> task<void> { co_await gg; };
  inner.spawn(waiter(g));
  inner.spawn(thrower());
  auto joiner = [](troupe::coro::scope& sc, bool& j, bool& t) -> task<void> {
    try {
      co_await sc.join();
    } catch (const std::runtime_error&) {
      t = true;
    }
    j = true;
  };
  outer.spawn(joiner(inner, joined, threw));
  CHECK_FALSE(joined);
  g.release();
  CHECK(joined);
  CHECK(threw);
}

}  // TEST_SUITE
