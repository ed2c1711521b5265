// A queue lane's credit word on its own, as threads in one process: a
// producer out of credit sleeps on it and the server's raise wakes it, with
// no raise ever missed, and data races under ThreadSanitizer (which does not
// follow forks).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "actors/queue/queue_lane.hpp"

using namespace std::chrono_literals;
using troupe::actors::detail::lane_writer;
using troupe::actors::detail::make_lane;
using troupe::actors::detail::wake_for_credit;

TEST_SUITE("sync_words") {

TEST_CASE("a producer sleeping for lane credit is woken by every raise, never by its nap running out") {
  auto lane = make_lane();
  REQUIRE(lane);
  auto* control = lane->second.control;
  lane_writer w;
  w.control = control;
  // Each round the server raises the credit by one, at once or after the
  // producer fell asleep, whichever comes first. The naps are a second
  // long: a raise that failed to wake the producer shows as a nap that ran
  // out, and as a second lost.
  constexpr std::uint64_t rounds = 5'000;
  constexpr auto nap = 1s;
  std::atomic<std::uint64_t> taken{0};
  std::thread server([control, &taken] {
    for (std::uint64_t k = 1; k <= rounds; ++k) {
      while (taken.load() < k - 1) std::this_thread::yield();
      control->granted.store(k, std::memory_order_seq_cst);
      wake_for_credit(*control);
    }
  });
  std::uint64_t naps_run_out = 0;
  std::uint64_t sleeps = 0;
  for (std::uint64_t k = 1; k <= rounds; ++k) {
    w.used = k - 1;
    while (!w.has_credit() && naps_run_out < 3) {
      ++sleeps;
      const auto t0 = std::chrono::steady_clock::now();
      const bool credit = w.wait_for_credit(nap);
      if (!credit && std::chrono::steady_clock::now() - t0 >= nap) ++naps_run_out;
    }
    if (naps_run_out >= 3) break;  // broken: stop in seconds, not in hours
    taken.store(k);
  }
  taken.store(rounds);
  server.join();
  MESSAGE("rounds ", rounds, ", waits for credit ", sleeps);
  CHECK(naps_run_out == 0);
  CHECK(w.granted == rounds);
  CHECK(control->credit_wanted.load() == 0);
}

TEST_CASE("a producer waiting for lane credit that does not come gives up after its nap") {
  auto lane = make_lane();
  REQUIRE(lane);
  lane_writer w;
  w.control = lane->second.control;
  const auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(w.wait_for_credit(20ms));
  const auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(waited >= 20ms);
  CHECK(waited < 10s);
  CHECK(w.control->credit_wanted.load() == 0);
}

TEST_CASE("a producer on the server's core tries to leave it at most once per interval") {
  lane_writer w;
  const auto recent = std::chrono::steady_clock::now();
  w.core_move_at = recent;
  CHECK_FALSE(w.leave_server_core());  // too soon: not even tried
  CHECK(w.core_move_at == recent);
  w.core_move_at = recent - troupe::actors::detail::lane_core_move_interval;
  (void)w.leave_server_core();  // tried: whether it moved is the machine's
  CHECK(w.core_move_at > recent);
}

}  // TEST_SUITE
