// Links on shared-memory rings, across real processes: order over millions
// of frames, frames larger than a ring, descriptors beside ring frames, a
// producer killed mid-stream, the memory bound behind a stalled consumer,
// and no descriptors or mappings left after many links.

#include <doctest/doctest.h>

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <troupe.hpp>

#include "tests/support/proc_status.hpp"
#include "tests/support/run_test.hpp"
#include "tests/support/sanitizers.hpp"

#include "framework/runtime/link.hpp"

using namespace std::chrono_literals;
using troupe::actor_ref;
using troupe::process;
using troupe::task;
using troupe::testing::run_test;


namespace {

// AddressSanitizer makes every message many times dearer and keeps freed
// memory in quarantine (resident memory says nothing about the bound then).
constexpr bool asan = TROUPE_TEST_ASAN != 0;

struct seq_msg {
  std::uint64_t n = 0;
};
struct blob {
  std::uint64_t n = 0;
  std::vector<std::uint8_t> bytes;
};
struct report {
  std::int64_t value = 0;
  std::string what;
};

using troupe::testing::status_kib;

std::size_t count_dir(const char* path) {
  std::size_t n = 0;
  if (DIR* d = ::opendir(path)) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n;
}

std::size_t count_ring_mappings() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  std::size_t n = 0;
  while (std::getline(maps, line))
    if (line.find("memfd:troupe") != std::string::npos) ++n;
  return n;
}

// Sends `count` numbered messages (the first few over the socket, before
// the link moved to the ring), then says whether it sends through the ring.
task<void> send_sequence(actor_ref to, std::uint64_t count) {
  for (std::uint64_t i = 0; i < count; ++i) {
    seq_msg m{i};
    co_await to.send(m);
  }
  auto* l = troupe::runtime::current().parent_link();
  report r{l != nullptr && l->ring_out() ? 1 : 0, "ring_out"};
  co_await to.send(std::move(r));
}

// Sends blobs of growing size, the largest several times a ring's size.
task<void> send_blobs(actor_ref to) {
  const std::size_t sizes[] = {1, 4000, 70'000, 300'000, 1u << 20, 3u << 20, 5'000'017};
  std::uint64_t n = 0;
  for (std::size_t size : sizes) {
    blob b{n++, std::vector<std::uint8_t>(size)};
    for (std::size_t i = 0; i < size; ++i) b.bytes[i] = static_cast<std::uint8_t>(i * 7 + b.n);
    co_await to.send(std::move(b));
    seq_msg small{b.n};  // a small one right behind each big one
    co_await to.send(small);
  }
}

// Sends shared values (their descriptors go beside the ring frames).
struct shared_note {
  std::uint64_t n = 0;
  troupe::value<long> v;
};
task<void> send_shared(actor_ref to, int count) {
  for (int i = 0; i < count; ++i) {
    shared_note s{static_cast<std::uint64_t>(i), troupe::value<long>::make(i * 10)};
    co_await to.send(std::move(s));
    seq_msg m{static_cast<std::uint64_t>(i)};
    co_await to.send(m);
  }
}

// Streams messages until killed.
task<void> stream_forever(actor_ref to) {
  for (std::uint64_t i = 0;; ++i) {
    blob b{i, std::vector<std::uint8_t>(i % 3000, static_cast<std::uint8_t>(i))};
    co_await to.send(std::move(b));
  }
}

// Sends `count` KiB-sized messages as fast as it may, then reports its peak
// resident memory and its resident memory at the start.
task<void> flood(actor_ref to, int count) {
  const std::int64_t start = status_kib("VmRSS");
  for (int i = 0; i < count; ++i) {
    blob b{static_cast<std::uint64_t>(i), std::vector<std::uint8_t>(1024, static_cast<std::uint8_t>(i))};
    co_await to.send(std::move(b));
  }
  report r{status_kib("VmHWM") - start, "growth"};
  co_await to.send(std::move(r));
}

void nothing() {}

// ---- siblings ----

struct count_q {
  using response = std::uint64_t;
};
constexpr std::uint64_t out_of_order = ~std::uint64_t{0};

// Counts numbered messages, checking their order; answers count_q with the
// count (out_of_order once one came out of order).
task<void> sequence_receiver(troupe::inbox<seq_msg, count_q> self) {
  std::uint64_t next = 0;
  bool ordered = true;
  for (;;) {
    auto l = co_await self.receive();
    if (!l) co_return;
    if (l->is<seq_msg>()) {
      ordered = ordered && l->get<seq_msg>().n == next;
      ++next;
    } else {
      l->reply(ordered ? next : out_of_order);
    }
  }
}

// Sends `count` numbered messages to `to` (the switch from the route
// through the parent to the direct link happens early in the stream),
// asks it how many arrived in order, and answers count_q with that.
task<void> sequence_sender(troupe::inbox<count_q> self, actor_ref to, std::uint64_t count) {
  for (std::uint64_t i = 0; i < count; ++i) {
    seq_msg m{i};
    co_await to.send(m);
  }
  auto got = co_await to.request(count_q{}, 60s);
  const std::uint64_t answer = got ? *got : 0;
  for (;;) {
    auto l = co_await self.receive();
    if (!l) co_return;
    l->reply(answer);
  }
}

}  // namespace

TEST_SUITE("ring_link") {
TEST_CASE("ten million messages from a child arrive through the ring in order") {
  run_test([]() -> task<void> {
    constexpr std::uint64_t count = asan ? 1'000'000 : 10'000'000;
    auto box = troupe::open_inbox<seq_msg, report>(troupe::runtime::current());
    process p(send_sequence, box.ref(), count);
    p.start();
    std::uint64_t expected = 0;
    bool ordered = true;
    const auto t0 = std::chrono::steady_clock::now();
    while (expected < count) {
      auto m = co_await box.receive(30s);
      if (!m) break;
      const std::uint64_t n = m->get<seq_msg>().n;
      if (n != expected) {
        ordered = false;
        break;
      }
      ++expected;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    MESSAGE(count << " messages in " << s << " s");
    CHECK(ordered);
    CHECK(expected == count);
    auto last = co_await box.receive(10s);
    REQUIRE(last.has_value());
    REQUIRE(last->is<report>());
    CHECK(last->get<report>().value == 1);
    CHECK(co_await p.join(30s));
    CHECK(p.exitcode() == 0);
  });
}

TEST_CASE("frames larger than the ring travel in parts, in order with small ones") {
  run_test([]() -> task<void> {
    auto box = troupe::open_inbox<seq_msg, blob>(troupe::runtime::current());
    process p(send_blobs, box.ref());
    p.start();
    for (std::uint64_t n = 0; n < 7; ++n) {
      auto m = co_await box.receive(30s);
      REQUIRE(m.has_value());
      REQUIRE(m->is<blob>());
      const blob& b = m->get<blob>();
      CHECK(b.n == n);
      bool intact = true;
      for (std::size_t i = 0; i < b.bytes.size(); ++i)
        intact = intact && b.bytes[i] == static_cast<std::uint8_t>(i * 7 + b.n);
      CHECK(intact);
      auto s = co_await box.receive(30s);
      REQUIRE(s.has_value());
      REQUIRE(s->is<seq_msg>());
      CHECK(s->get<seq_msg>().n == n);
    }
    CHECK(co_await p.join(30s));
  });
}

TEST_CASE("shared-memory handles cross a ring link with their descriptors, in order") {
  run_test([]() -> task<void> {
    auto box = troupe::open_inbox<seq_msg, shared_note>(troupe::runtime::current());
    process p(send_shared, box.ref(), 300);
    p.start();
    bool ok = true;
    for (int i = 0; i < 300 && ok; ++i) {
      auto m = co_await box.receive(30s);
      REQUIRE(m.has_value());
      REQUIRE(m->is<shared_note>());
      ok = m->get<shared_note>().n == static_cast<std::uint64_t>(i) && m->get<shared_note>().v.load() == i * 10;
      auto s = co_await box.receive(30s);
      REQUIRE(s.has_value());
      ok = ok && s->is<seq_msg>() && s->get<seq_msg>().n == static_cast<std::uint64_t>(i);
    }
    CHECK(ok);
    CHECK(co_await p.join(30s));
  });
}

TEST_CASE("a producer killed mid-stream leaves no torn frame: the link reports it down, not corrupt") {
  run_test([]() -> task<void> {
    for (int round = 0; round < 5; ++round) {
      auto box = troupe::open_inbox<blob, troupe::down>(troupe::runtime::current());
      process p(stream_forever, box.ref());
      p.start();
      std::uint64_t expected = 0;
      bool intact = true;
      // Let a few thousand through, then kill it while it writes.
      while (expected < 3000 + static_cast<std::uint64_t>(round) * 1000) {
        auto m = co_await box.receive(30s);
        REQUIRE(m.has_value());
        const blob& b = m->get<blob>();
        intact = intact && b.n == expected && b.bytes.size() == expected % 3000;
        ++expected;
      }
      ::kill(p.pid(), SIGKILL);
      // What it published before it died still arrives, whole and in order.
      for (;;) {
        auto m = co_await box.receive(200ms);
        if (!m) break;
        if (!m->is<blob>()) continue;
        const blob& b = m->get<blob>();
        intact = intact && b.n == expected && b.bytes.size() == expected % 3000;
        ++expected;
      }
      CHECK(intact);
      CHECK(co_await p.join(10s));
      CHECK(p.exitcode() == -SIGKILL);
      CHECK(troupe::runtime::current().route(p.node()) == nullptr);
    }
  });
}

TEST_CASE("a stalled consumer bounds a flooding producer's memory") {
  run_test([]() -> task<void> {
    constexpr int count = 100'000;  // 100 MiB of payload
    auto box = troupe::open_inbox<blob, report>(troupe::runtime::current());
    process p(flood, box.ref(), count);
    p.start();
    // Stall this whole runtime (not just one actor) for a while: nothing is
    // read, so the producer fills the ring and its backlog, then waits.
    auto first = co_await box.receive(10s);
    REQUIRE(first.has_value());
    std::this_thread::sleep_for(1s);  // the stall itself, not synchronisation
    int got = 1;
    std::int64_t growth = -1;
    while (growth < 0) {
      auto m = co_await box.receive(60s);
      REQUIRE(m.has_value());
      if (m->is<report>()) growth = m->get<report>().value;
      else ++got;
    }
    CHECK(got == count);
    MESSAGE("producer grew by " << growth << " KiB while sending " << count << " KiB");
    // Ring (1 MiB) + unsent backlog (1 MiB) + codec buffers: well under 16 MiB.
    if (!asan) CHECK(growth < 16 * 1024);
    CHECK(co_await p.join(30s));
  });
}

TEST_CASE("200 link set-ups and tear-downs leave no descriptor and no mapping behind") {
  run_test([]() -> task<void> {
    // One first, so lazily created things (the system actor, loops) exist.
    {
      process warm(nothing);
      warm.start();
      CHECK(co_await warm.join(10s));
    }
    const std::size_t fds = count_dir("/proc/self/fd");
    const std::size_t maps = count_ring_mappings();
    for (int i = 0; i < 200; ++i) {
      process p(nothing);
      p.start();
      REQUIRE(co_await p.join(10s));
      REQUIRE(p.exitcode() == 0);
    }
    // Links are released by their writers once they stop: give the loop
    // the turns it needs, up to a deadline.
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    // (The baseline may still hold a previous test's last descriptors,
    // closing meanwhile: fewer is fine, more is a leak.)
    while ((count_dir("/proc/self/fd") > fds || count_ring_mappings() > maps) &&
           std::chrono::steady_clock::now() < deadline)
      (void)co_await troupe::sleep_for(10ms);
    CHECK(count_dir("/proc/self/fd") <= fds);
    CHECK(count_ring_mappings() <= maps);
  });
}

TEST_CASE("siblings get a direct link: order holds across the switch and the parent stops relaying") {
  run_test([]() -> task<void> {
    constexpr std::uint64_t count = asan ? 200'000 : 1'000'000;
    auto a = process::host();
    auto b = process::host();
    a.start();
    b.start();
    auto& rt = troupe::runtime::current();
    const auto relayed_before = rt.stats().forwarded;
    const auto brokered_before = rt.stats().brokered;
    auto receiver = (co_await b.spawn(sequence_receiver)).value();
    auto sender = (co_await a.spawn(sequence_sender, receiver, count)).value();
    auto got = co_await sender.request(count_q{}, 60s);
    REQUIRE(got.has_value());
    CHECK(*got == count);  // all of them, in order
    const auto relayed = rt.stats().forwarded - relayed_before;
    MESSAGE("the parent relayed " << relayed << " of " << count << " frames, those sent before the switch");
    CHECK(rt.stats().brokered - brokered_before == 1);
    // The sender runs ahead until the links' bounds stop it (a ring and a
    // backlog of 1 MiB each, about 14 k of these 72-byte frames apiece):
    // that much, not a share of the stream, goes the long way.
    CHECK(relayed < 60'000);
    // With the direct link in place, a second stream between the two
    // processes does not touch the parent at all.
    const auto relayed_again = rt.stats().forwarded;
    auto receiver2 = (co_await b.spawn(sequence_receiver)).value();
    auto sender2 = (co_await a.spawn(sequence_sender, receiver2, count)).value();
    auto got2 = co_await sender2.request(count_q{}, 60s);
    REQUIRE(got2.has_value());
    CHECK(*got2 == count);
    CHECK(rt.stats().forwarded - relayed_again == 0);
    CHECK(rt.stats().brokered - brokered_before == 1);
    a.terminate();
    b.terminate();
    CHECK(co_await a.join(10s));
    CHECK(co_await b.join(10s));
  });
}

TEST_CASE("a sibling that dies is reported down with its real reason over a direct link") {
  run_test([]() -> task<void> {
    auto a = process::host();
    auto b = process::host();
    a.start();
    b.start();
    auto receiver = (co_await b.spawn(sequence_receiver)).value();
    auto sender = (co_await a.spawn(sequence_sender, receiver, std::uint64_t{1000})).value();
    auto got = co_await sender.request(count_q{}, 60s);
    REQUIRE(got.has_value());
    CHECK(*got == 1000);
    CHECK(troupe::runtime::current().stats().brokered >= 1);
    // Kill the receiver: the sender's side, linked to it directly, still
    // learns why from the parent, and its requests there fail.
    auto box = troupe::open_inbox<troupe::down>(troupe::runtime::current());
    box.monitor(receiver);
    b.kill();
    auto d = co_await box.receive(10s);
    REQUIRE(d.has_value());
    CHECK(d->get<troupe::down>().reason.describe().find("signal 9") != std::string::npos);
    CHECK(a.is_alive());
    a.terminate();
    CHECK(co_await a.join(10s));
    CHECK(co_await b.join(10s));
  });
}
}

TEST_CASE("a process lost while two siblings are linked directly is reported once, not round the cycle for ever") {
  run_test([]() -> task<void> {
    auto a = process::host();
    auto b = process::host();
    auto c = process::host();
    a.start();
    b.start();
    c.start();
    // A and B link directly: parent, A and B now form a cycle of links.
    auto receiver = (co_await b.spawn(sequence_receiver)).value();
    auto sender = (co_await a.spawn(sequence_sender, receiver, std::uint64_t{1000})).value();
    REQUIRE((co_await sender.request(count_q{}, 60s)).has_value());
    auto& rt = troupe::runtime::current();
    CHECK(rt.stats().brokered >= 1);
    auto victim = (co_await c.spawn(sequence_receiver)).value();
    auto box = troupe::open_inbox<troupe::down>(rt);
    box.monitor(victim);
    const auto notices_before = rt.stats().lost_notices;
    c.kill();
    REQUIRE((co_await box.receive(10s)).has_value());
    // Round trips to both siblings: whatever they passed on about C has
    // arrived here after them (each link keeps order).
    for (int round = 0; round < 3; ++round) {
      REQUIRE((co_await sender.request(count_q{}, 10s)).has_value());
      REQUIRE((co_await receiver.request(count_q{}, 10s)).has_value());
    }
    const auto notices = rt.stats().lost_notices - notices_before;
    MESSAGE("notices of C's loss that came back to the parent: " << notices);
    CHECK(notices <= 2);
    REQUIRE((co_await sender.request(count_q{}, 10s)).has_value());
    REQUIRE((co_await receiver.request(count_q{}, 10s)).has_value());
    CHECK(rt.stats().lost_notices - notices_before == notices);
    a.terminate();
    b.terminate();
    CHECK(co_await a.join(10s));
    CHECK(co_await b.join(10s));
    CHECK(co_await c.join(10s));
  });
}

