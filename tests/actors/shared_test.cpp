// value<T> and array<T>: one object seen by every process, its lock's fast
// path, and a holder that dies on that fast path.
#include <doctest/doctest.h>

#include <signal.h>

#include <chrono>
#include <stdexcept>
#include <vector>

#include <troupe.hpp>

#include "tests/support/run_test.hpp"

using namespace std::chrono_literals;
using troupe::errc;
using troupe::process;
using troupe::task;

namespace {

using troupe::testing::run_test;

struct point {
  double x = 0;
  double y = 0;
  int tag = 0;
};

task<void> locked_adds(troupe::value<long> v, int count) {
  for (int i = 0; i < count; ++i) {
    auto g = (co_await v.get_lock().scoped()).value();
    v.store(v.load() + 1);
  }
}

void atomic_adds(troupe::value<long> v, int count) {
  for (int i = 0; i < count; ++i) v.fetch_add(1);
}

void fill_row(troupe::array<int> a, int row, int width) {
  for (int c = 0; c < width; ++c) a[static_cast<std::size_t>(row * width + c)] = row * 1000 + c;
}

// Takes the lock twice (the second time on the fast path), says so, and
// waits to be killed holding it.
task<void> die_holding(troupe::value<long> v, troupe::event held) {
  (void)(co_await v.get_lock().acquire()).value();
  (void)(co_await v.get_lock().release()).value();
  auto g = (co_await v.get_lock().scoped()).value();
  v.store(-1);  // half-done work the next holder must notice
  (void)co_await held.set();
  (void)co_await troupe::sleep_for(60s);
}

void write_point(troupe::value<point> p) { *p.get_obj() = point{1.5, -2.5, 7}; }

}  // namespace

TEST_SUITE("shared") {

TEST_CASE("a value and an array work in one process: atomics, bounds, raw has no lock") {
  run_test([]() -> task<void> {
    auto v = troupe::value<int>::make(5);
    CHECK(v.load() == 5);
    CHECK(v.fetch_add(3) == 5);
    CHECK(v.fetch_sub(1) == 8);
    CHECK(v.exchange(40) == 7);
    int expected = 40;
    CHECK(v.compare_exchange(expected, 41));
    CHECK(v.load() == 41);
    CHECK(v.has_lock());
    auto raw = troupe::value<double>::make_raw(0.5);
    CHECK(raw.load() == 0.5);
    CHECK_FALSE(raw.has_lock());
    CHECK_THROWS_AS((void)raw.get_lock(), troupe::error_exception);

    auto a = troupe::array<int>::make({1, 2, 3});
    CHECK(a.size() == 3);
    CHECK(a.to_vector() == std::vector<int>{1, 2, 3});
    a.store(1, 20);
    CHECK(a.fetch_add(2, 10) == 3);
    CHECK(a.load(2) == 13);
    CHECK_THROWS_AS((void)a.load(3), std::out_of_range);
    auto z = troupe::array<double>::make(1000);
    double sum = 0;
    for (double d : z) sum += d;
    CHECK(sum == 0.0);

    // The lock is an rlock: re-entrant for its owner.
    auto g1 = (co_await v.get_lock().scoped()).value();
    auto g2 = (co_await v.get_lock().scoped()).value();
    CHECK(g2.grant().depth == 2);
    co_return;
  });
}

TEST_CASE("processes adding under the value's lock or with fetch_add lose no update") {
  run_test([]() -> task<void> {
    auto locked = troupe::value<long>::make(0);
    auto atomic = troupe::value<long>::make_raw(0);
    std::vector<process> ps;
    for (int i = 0; i < 3; ++i) ps.emplace_back(locked_adds, locked, 20'000);
    for (int i = 0; i < 2; ++i) ps.emplace_back(atomic_adds, atomic, 50'000);
    for (auto& p : ps) p.start();
    for (auto& p : ps) CHECK(co_await p.join(60s));
    CHECK(locked.load() == 60'000);
    CHECK(atomic.load() == 100'000);
  });
}

TEST_CASE("children fill disjoint rows of a shared array and a struct value crosses whole") {
  run_test([]() -> task<void> {
    constexpr int rows = 4;
    constexpr int width = 500;
    auto a = troupe::array<int>::make(rows * width);
    auto p = troupe::value<point>::make();
    std::vector<process> ps;
    for (int r = 0; r < rows; ++r) ps.emplace_back(fill_row, a, r, width);
    ps.emplace_back(write_point, p);
    for (auto& c : ps) c.start();
    for (auto& c : ps) CHECK(co_await c.join(30s));
    bool all = true;
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < width; ++c) all = all && a[static_cast<std::size_t>(r * width + c)] == r * 1000 + c;
    CHECK(all);
    point got = *p.get_obj();
    CHECK(got.x == 1.5);
    CHECK(got.y == -2.5);
    CHECK(got.tag == 7);
  });
}

TEST_CASE("a holder killed while holding the lock on its fast path frees it, marked owner_died") {
  run_test([]() -> task<void> {
    auto v = troupe::value<long>::make(0);
    auto held = troupe::event::make();
    process holder(die_holding, v, held);
    holder.start();
    CHECK((co_await held.wait(10s)).value());
    CHECK(v.get_lock().locked());
    // Nobody waits at the server: the holder took the word by itself.
    auto before = (co_await v.get_lock().status()).value();
    CHECK(before.locked);
    CHECK(before.waiting == 0);
    auto t0 = std::chrono::steady_clock::now();
    holder.kill();
    auto grant = co_await v.get_lock().acquire(10s);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
    REQUIRE(grant.has_value());
    CHECK(grant->owner_died);
    CHECK(v.load() == -1);
    CHECK(took < 2s);
    MESSAGE("lock passed on " << took.count() << " ms after the holder was killed");
    (void)(co_await v.get_lock().release()).value();
    CHECK_FALSE(v.get_lock().locked());
    // The next acquire is an ordinary one again.
    auto again = (co_await v.get_lock().acquire()).value();
    CHECK_FALSE(again.owner_died);
    (void)(co_await v.get_lock().release()).value();
  });
}

}
