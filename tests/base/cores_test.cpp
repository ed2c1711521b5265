// Moving the calling thread to another core: never for a thread pinned to
// one, never changing its affinity mask, and only to a core it may use.
#include <doctest/doctest.h>

#include <sched.h>

#include <chrono>
#include <thread>

#include "framework/base/cores.hpp"

namespace {

cpu_set_t mask_now() {
  cpu_set_t m;
  CPU_ZERO(&m);
  REQUIRE(::sched_getaffinity(0, sizeof m, &m) == 0);
  return m;
}

}  // namespace

TEST_SUITE("base") {

TEST_CASE("the machine's runnable threads count the caller") {
  // Read while this thread runs, so the kernel counts it.
  CHECK(troupe::base::runnable_threads() >= 1);
}

TEST_CASE("a thread pinned to one core is never moved, and keeps its mask") {
  std::thread t([] {
    const int here = ::sched_getcpu();
    REQUIRE(here >= 0);
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(here, &one);
    REQUIRE(::sched_setaffinity(0, sizeof one, &one) == 0);
    CHECK_FALSE(troupe::base::move_to_other_core());
    CHECK(::sched_getcpu() == here);
    cpu_set_t after = mask_now();
    CHECK(CPU_EQUAL(&after, &one));
  });
  t.join();
}

TEST_CASE("a thread free to use several cores moves to another one, and keeps its mask") {
  std::thread t([] {
    const cpu_set_t before = mask_now();
    if (CPU_COUNT(&before) < 2) {
      CHECK_FALSE(troupe::base::move_to_other_core());
      MESSAGE("one core allowed: nothing to move to");
      return;
    }
    // It moves only while no more threads are runnable than it has cores,
    // which other tests running beside this one may deny for a while: it
    // tries until it moved 20 times, at most for 5 s, pacing its tries.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    int moves = 0;
    int tries = 0;
    int seen_free = 0;  // tries just after the machine had a core to spare
    while (moves < 20 && std::chrono::steady_clock::now() < deadline) {
      if (troupe::base::runnable_threads() <= CPU_COUNT(&before)) ++seen_free;
      const int from = ::sched_getcpu();
      ++tries;
      if (troupe::base::move_to_other_core()) {
        ++moves;
        const int to = ::sched_getcpu();
        CHECK(to != from);
        CHECK(CPU_ISSET(to, &before));
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      cpu_set_t after = mask_now();
      CHECK(CPU_EQUAL(&after, &before));
    }
    MESSAGE(moves, " moves in ", tries, " tries, ", seen_free, " with a core to spare just before");
    // A machine kept busy the whole time leaves nothing to move to.
    if (seen_free >= 10) CHECK(moves > 0);
  });
  t.join();
}

}
