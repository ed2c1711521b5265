// Memory stays bounded behind a slow consumer, on every kind of channel: a
// local mailbox, a queue between processes, and a pool's imap stream. Each
// case pushes far more bytes than its bound and checks resident memory.
// (The link itself: ring_link_test, "a stalled consumer bounds...".)
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include <troupe.hpp>

#include "tests/support/proc_status.hpp"
#include "tests/support/run_test.hpp"
#include "tests/support/sanitizers.hpp"

using namespace std::chrono_literals;
using troupe::actor_ref;
using troupe::process;
using troupe::task;
using troupe::testing::run_test;

namespace {

constexpr bool asan = TROUPE_TEST_ASAN != 0;
// The documented bound on growth for each case below (README, Reliability).
constexpr std::int64_t bound_kib = 32 * 1024;

using troupe::testing::status_kib;

struct chunk {
  std::uint64_t n = 0;
  std::vector<std::uint8_t> bytes;
};
struct growth {
  std::int64_t kib = 0;
  std::uint64_t received = 0;
};

// The slow side: a few loop turns per message, so the sender always runs
// ahead and only the channel's bound holds it back.
task<void> slow_down() {
  for (int i = 0; i < 4; ++i) co_await troupe::uv::yield(troupe::runtime::current().loop());
}

task<void> slow_receiver(troupe::inbox<chunk> self, std::uint64_t* received) {
  for (;;) {
    auto l = co_await self.receive();
    if (!l) co_return;
    ++*received;
    co_await slow_down();
  }
}

// In a child of its own, so its peak resident memory is this case's alone:
// sends `count` KiB messages to a slow actor of the same runtime.
task<void> mailbox_flood(actor_ref report_to, int count) {
  const std::int64_t start = status_kib("VmRSS");
  std::uint64_t received = 0;
  actor_ref r = troupe::spawn(slow_receiver, &received);
  for (int i = 0; i < count; ++i) {
    chunk c{static_cast<std::uint64_t>(i), std::vector<std::uint8_t>(1024, static_cast<std::uint8_t>(i))};
    co_await r.send(std::move(c));
  }
  while (received < static_cast<std::uint64_t>(count)) co_await slow_down();
  growth g{status_kib("VmHWM") - start, received};
  co_await report_to.send(std::move(g));
}

// Puts `count` KiB items into a queue as fast as it is let.
task<void> queue_flood(troupe::queue<chunk> q, actor_ref report_to, int count) {
  const std::int64_t start = status_kib("VmRSS");
  for (int i = 0; i < count; ++i) {
    chunk c{static_cast<std::uint64_t>(i), std::vector<std::uint8_t>(1024, static_cast<std::uint8_t>(i))};
    (void)(co_await q.put(std::move(c))).value();
  }
  growth g{status_kib("VmHWM") - start, static_cast<std::uint64_t>(count)};
  co_await report_to.send(std::move(g));
}

std::vector<std::uint8_t> kib_of(int i) { return std::vector<std::uint8_t>(1024, static_cast<std::uint8_t>(i)); }

}  // namespace

TEST_CASE("a fast sender behind a slow actor grows by its mailbox's bound, not by what it sends") {
  run_test([]() -> task<void> {
    constexpr int count = asan ? 20'000 : 100'000;  // 100 MiB
    auto box = troupe::open_inbox<growth>(troupe::runtime::current());
    process p(mailbox_flood, box.ref(), count);
    p.start();
    auto g = co_await box.receive(120s);
    REQUIRE(g.has_value());
    CHECK(g->get<growth>().received == static_cast<std::uint64_t>(count));
    MESSAGE("sender and receiver grew by " << g->get<growth>().kib << " KiB while " << count << " KiB went through");
    if (!asan) CHECK(g->get<growth>().kib < bound_kib);
    CHECK(co_await p.join(30s));
  });
}

TEST_CASE("a producer process behind a slow queue consumer: both stay within the bound") {
  run_test([]() -> task<void> {
    constexpr int count = asan ? 10'000 : 50'000;  // 50 MiB
    auto q = troupe::queue<chunk>::make(64);
    auto box = troupe::open_inbox<growth>(troupe::runtime::current());
    const std::int64_t start = status_kib("VmRSS");
    std::int64_t peak = start;
    process p(queue_flood, q, box.ref(), count);
    p.start();
    bool ordered = true;
    for (int i = 0; i < count; ++i) {
      auto item = co_await q.get(30s);
      REQUIRE(item.has_value());
      ordered = ordered && item->n == static_cast<std::uint64_t>(i);
      co_await slow_down();
      if (i % 1000 == 0) peak = std::max(peak, status_kib("VmRSS"));
    }
    CHECK(ordered);
    auto g = co_await box.receive(30s);
    REQUIRE(g.has_value());
    MESSAGE("producer grew by " << g->get<growth>().kib << " KiB, consumer by " << (peak - start) << " KiB, while "
                                << count << " KiB went through");
    if (!asan) {
      CHECK(g->get<growth>().kib < bound_kib);
      CHECK(peak - start < bound_kib);
    }
    CHECK(co_await p.join(30s));
  });
}

TEST_CASE("a slow reader of a pool's imap holds the workers back: memory stays within the bound") {
  run_test([]() -> task<void> {
    constexpr int count = asan ? 5'000 : 40'000;  // 40 MiB of results
    std::vector<int> inputs(static_cast<std::size_t>(count));
    for (int i = 0; i < count; ++i) inputs[static_cast<std::size_t>(i)] = i;
    troupe::pool workers(troupe::pool_options{.processes = 2});
    const std::int64_t start = status_kib("VmRSS");
    std::int64_t peak = start;
    auto stream = workers.imap(kib_of, std::move(inputs));
    int got = 0;
    bool right = true;
    for (;;) {
      auto v = co_await stream.next();
      if (!v) break;
      right = right && v->size() == 1024 && (*v)[0] == static_cast<std::uint8_t>(got);
      ++got;
      co_await slow_down();
      if (got % 1000 == 0) peak = std::max(peak, status_kib("VmRSS"));
    }
    CHECK(got == count);
    CHECK(right);
    MESSAGE("the reader grew by " << (peak - start) << " KiB while " << count << " KiB of results came");
    if (!asan) CHECK(peak - start < bound_kib);
  });
}
