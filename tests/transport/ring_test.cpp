// The shared-memory ring: records in order across wrap-around, full and
// empty, the largest record, doorbells that are never lost, and a producer
// that corrupts the shared indices.
#include <doctest/doctest.h>

#include <linux/membarrier.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "framework/transport/ring.hpp"
#include "framework/transport/shm_segment.hpp"

using namespace troupe;
using transport::ring_reader;
using transport::ring_writer;

namespace {

struct ring_memory {
  std::shared_ptr<transport::shm_segment> seg;
  transport::ring_view view;
};

ring_memory make_ring(std::size_t capacity) {
  auto seg = transport::shm_segment::create(transport::segment_kind::test, transport::ring_region_size(capacity)).value();
  transport::ring_init(seg->payload(), capacity);
  auto view = transport::ring_open(seg->payload(), seg->payload_size()).value();
  return {seg, view};
}

// A record's bytes: its sequence number, then a pattern derived from it.
std::size_t size_of(std::uint64_t seq) { return 8 + (seq * 37) % 200; }

bool write_record(ring_writer& w, std::uint64_t seq) {
  auto n = size_of(seq);
  auto room = w.reserve(n).value();
  if (room.empty()) return false;
  std::memcpy(room.data(), &seq, 8);
  for (std::size_t i = 8; i < n; ++i) room[i] = static_cast<std::byte>(seq + i);
  w.commit(n);
  return true;
}

bool record_ok(std::span<const std::byte> r, std::uint64_t seq) {
  if (r.size() != size_of(seq)) return false;
  std::uint64_t got = 0;
  std::memcpy(&got, r.data(), 8);
  if (got != seq) return false;
  for (std::size_t i = 8; i < r.size(); ++i)
    if (r[i] != static_cast<std::byte>(seq + i)) return false;
  return true;
}

bool mentions(const error& e, const char* what) { return e.message.find(what) != std::string::npos; }

void ring_doorbell(int fd) {
  std::uint64_t one = 1;
  REQUIRE(::write(fd, &one, 8) == 8);
}
// Waits (at most 10 s: a lost wake-up fails instead of hanging) and drains.
void wait_doorbell(int fd) {
  pollfd p{fd, POLLIN, 0};
  REQUIRE(::poll(&p, 1, 10'000) == 1);
  std::uint64_t n = 0;
  REQUIRE(::read(fd, &n, 8) == 8);
}

// A consumer's and a producer's doorbell (eventfds), closed at the end.
struct doorbells {
  int consumer = ::eventfd(0, EFD_CLOEXEC);
  int producer = ::eventfd(0, EFD_CLOEXEC);
  doorbells() {
    REQUIRE(consumer >= 0);
    REQUIRE(producer >= 0);
  }
  doorbells(const doorbells&) = delete;
  doorbells& operator=(const doorbells&) = delete;
  ~doorbells() {
    if (consumer >= 0) ::close(consumer);
    if (producer >= 0) ::close(producer);
  }
};

// Reads `total` records in sequence, sleeping on the doorbell when the ring
// is empty; returns room to the producer every `release_every` records (0:
// only when empty). Counts the sleeps; false if a record was wrong.
struct consumed {
  bool ok = true;
  std::uint64_t records = 0;
  std::uint64_t sleeps = 0;
};
consumed consume_all(ring_reader& r, std::uint64_t total, const doorbells& bells, std::uint64_t release_every) {
  consumed c;
  while (c.records < total) {
    auto rec = r.peek().value();
    if (rec) {
      c.ok = c.ok && record_ok(*rec, c.records);
      r.consume();
      ++c.records;
      if (release_every != 0 && c.records % release_every == 0 && r.release()) ring_doorbell(bells.producer);
      continue;
    }
    if (r.release()) ring_doorbell(bells.producer);
    if (r.prepare_sleep()) {
      ++c.sleeps;
      wait_doorbell(bells.consumer);
      r.woke();
    }
  }
  return c;
}

}  // namespace

TEST_SUITE("transport") {

TEST_CASE("a ring hands records over in order across many wrap-arounds") {
  auto m = make_ring(4096);
  ring_writer w(m.view);
  ring_reader r(m.view);
  std::uint64_t written = 0, read = 0;
  while (read < 20'000) {
    while (written < 20'000 && write_record(w, written)) ++written;
    (void)w.publish();
    for (;;) {
      auto rec = r.peek().value();
      if (!rec) break;
      REQUIRE(record_ok(*rec, read));
      r.consume();
      ++read;
    }
    (void)r.release();
  }
  CHECK(read == 20'000);
}

TEST_CASE("a full ring refuses a record until the consumer releases room; an empty one has nothing") {
  auto m = make_ring(4096);
  ring_writer w(m.view);
  ring_reader r(m.view);
  CHECK_FALSE(r.peek().value().has_value());
  int n = 0;
  while (write_record(w, 1)) ++n;
  CHECK(n > 0);
  CHECK_FALSE(r.peek().value().has_value());  // nothing published yet
  (void)w.publish();
  REQUIRE(r.peek().value().has_value());
  r.consume();
  CHECK_FALSE(write_record(w, 1));  // consumed, but its room not yet released
  (void)r.release();
  CHECK(write_record(w, 1));
}

TEST_CASE("the largest record fits exactly; a larger one is too_large") {
  auto m = make_ring(4096);
  ring_writer w(m.view);
  ring_reader r(m.view);
  const std::size_t big = w.max_payload();
  for (int round = 0; round < 10; ++round) {
    auto room = w.reserve(big).value();
    REQUIRE(room.size() == big);
    std::memset(room.data(), round, big);
    w.commit(big);
    (void)w.publish();
    auto rec = r.peek().value();
    REQUIRE(rec.has_value());
    CHECK(rec->size() == big);
    CHECK((*rec)[big - 1] == static_cast<std::byte>(round));
    r.consume();
    (void)r.release();
  }
  CHECK(w.reserve(big + 1).error().code == errc::too_large);
}

TEST_CASE("two threads stream a million records through a small ring, sleeping on doorbells") {
  auto m = make_ring(8192);
  doorbells bells;
  constexpr std::uint64_t total = 1'000'000;
  std::thread producer([&] {
    ring_writer w(m.view);
    for (std::uint64_t seq = 0; seq < total;) {
      if (write_record(w, seq)) {
        ++seq;
        if (seq % 64 == 0 && w.publish()) ring_doorbell(bells.consumer);
        continue;
      }
      if (w.publish()) ring_doorbell(bells.consumer);
      if (w.prepare_sleep(size_of(seq))) {
        wait_doorbell(bells.producer);
        w.woke();
      }
    }
    if (w.publish()) ring_doorbell(bells.consumer);
  });
  ring_reader r(m.view);
  const consumed c = consume_all(r, total, bells, 64);
  producer.join();
  CHECK(c.ok);
  CHECK(c.records == total);
}

TEST_CASE("a producer publishing lightly never leaves a sleeping consumer unwoken") {
  // Every record is published alone and the producer pauses often, so the
  // consumer goes to sleep again and again right as records arrive: the
  // window where a missing barrier would lose a doorbell (and this test
  // would fail at wait_doorbell's deadline).
  auto m = make_ring(8192);
  doorbells bells;
  constexpr std::uint64_t total = 200'000;
  ring_writer w(m.view);
  const bool light = w.publish_lightly();
  MESSAGE("asymmetric barriers available: " << light);
  CHECK(w.publish_lightly() == light);  // asking again changes nothing
  CHECK((m.view.control->producer_light.load() != 0) == light);
  std::thread producer([&] {
    for (std::uint64_t seq = 0; seq < total;) {
      if (write_record(w, seq)) {
        ++seq;
        if (w.publish()) ring_doorbell(bells.consumer);
        if (seq % 16 == 0) std::this_thread::yield();
        continue;
      }
      if (w.prepare_sleep(size_of(seq))) {
        wait_doorbell(bells.producer);
        w.woke();
      }
    }
  });
  ring_reader r(m.view);
  const consumed c = consume_all(r, total, bells, 0);
  producer.join();
  CHECK(c.ok);
  CHECK(c.records == total);
  MESSAGE("consumer slept " << c.sleeps << " times");
}

TEST_CASE("a child forked after its parent published lightly is registered for the barrier too") {
  auto m = make_ring(8192);
  ring_writer parent_side(m.view);
  if (!parent_side.publish_lightly()) {
    MESSAGE("no asymmetric barriers on this kernel: nothing to check");
    return;
  }
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The parent registered before the fork; the child relies on having
    // inherited it (its flag says registered without asking again).
    ring_writer w(m.view);
    if (!w.publish_lightly()) ::_exit(1);
    const long regs = ::syscall(__NR_membarrier, 1 << 9 /* MEMBARRIER_CMD_GET_REGISTRATIONS, Linux 6.3 */, 0, 0);
    if (regs >= 0 && (regs & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0) ::_exit(2);
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("impossible indices or record headers are reported, never followed") {
  auto m = make_ring(4096);
  auto* c = m.view.control;
  {
    ring_reader r(m.view);
    c->head.store(8192);  // more than a ring's worth ahead
    CHECK(mentions(r.peek().error(), "index is impossible"));
  }
  {
    c->head.store(0);
    ring_writer w(m.view);
    ring_reader r(m.view);
    REQUIRE(write_record(w, 3));
    (void)w.publish();
    // The producer scribbles over the header after publishing.
    auto* data = reinterpret_cast<std::byte*>(c) + sizeof(transport::ring_control);
    transport::ring_record_header bad{5000, transport::ring_record_header::data};
    std::memcpy(data, &bad, sizeof bad);
    CHECK(mentions(r.peek().error(), "past the written end"));
    bad = {8, 77};
    std::memcpy(data, &bad, sizeof bad);
    CHECK(mentions(r.peek().error(), "unknown record kind"));
  }
  {
    c->head.store(0);
    c->tail.store(4096 + 8);  // the consumer claims to have read more than was written
    ring_writer w(m.view);
    for (int i = 0; i < 100 && w.reserve(100).has_value(); ++i) w.commit(100);
    CHECK(mentions(w.reserve(100).error(), "index is impossible"));
  }
  // A control block that is not a ring's is refused before use.
  c->magic = 0;
  CHECK(mentions(transport::ring_open(m.seg->payload(), m.seg->payload_size()).error(), "bad magic"));
  transport::ring_init(m.seg->payload(), 4096);
  c->capacity = 5000;
  CHECK(mentions(transport::ring_open(m.seg->payload(), m.seg->payload_size()).error(), "bad capacity"));
  c->capacity = 1u << 20;
  CHECK(mentions(transport::ring_open(m.seg->payload(), m.seg->payload_size()).error(), "larger than its region"));
}

}  // TEST_SUITE

TEST_CASE("a record in parts is seen part by part, more() telling which continue") {
  auto m = make_ring(4096);
  ring_writer w(m.view);
  ring_reader r(m.view);
  for (int round = 0; round < 50; ++round) {
    for (int part = 0; part < 3; ++part) {
      auto room = w.reserve(100).value();
      REQUIRE(room.size() == 100);
      std::memset(room.data(), part, 100);
      w.commit(100, part < 2);
    }
    (void)w.publish();
    for (int part = 0; part < 3; ++part) {
      auto rec = r.peek().value();
      REQUIRE(rec.has_value());
      CHECK(rec->size() == 100);
      CHECK((*rec)[99] == static_cast<std::byte>(part));
      CHECK(r.more() == (part < 2));
      r.consume();
    }
    (void)r.release();
  }
}

TEST_CASE("reserve_contiguous offers the room up to the ring's end, never past it, and never a wrap") {
  auto m = make_ring(4096);
  ring_writer w(m.view);
  ring_reader r(m.view);
  std::uint64_t written = 0;
  std::uint64_t read = 0;
  for (int round = 0; round < 2000; ++round) {
    auto room = w.reserve_contiguous().value();
    if (room.size() >= 8 + size_of(written)) {
      const std::size_t n = size_of(written);
      std::memcpy(room.data(), &written, 8);
      for (std::size_t i = 8; i < n; ++i) room[i] = static_cast<std::byte>(written + i);
      w.commit(n);
      ++written;
    } else if (!write_record(w, written)) {
      // Full: drain and go on.
    } else {
      ++written;
    }
    CHECK(room.size() <= w.max_payload());
    (void)w.publish();
    if (round % 3 == 0) {
      while (auto rec = r.peek().value()) {
        REQUIRE(record_ok(*rec, read));
        r.consume();
        ++read;
      }
      (void)r.release();
    }
  }
  while (auto rec = r.peek().value()) {
    REQUIRE(record_ok(*rec, read));
    r.consume();
    ++read;
  }
  CHECK(read == written);
  CHECK(written > 1000);
}
