// The lock's shared-word protocol on its own, as threads in one process:
// the fast path that processes use, checked for mutual exclusion here and
// for data races under ThreadSanitizer (which does not follow forks).
#include <doctest/doctest.h>

#include <thread>
#include <vector>

#include "actors/lock/lock_shared.hpp"
#include "framework/transport/shm_segment.hpp"

using namespace troupe;
using actors::detail::fast_acquire;
using actors::detail::fast_release;
using actors::detail::fast_release_outcome;
using actors::detail::lock_shared;

namespace {

struct shared_counter {
  lock_shared lock;
  long counter;  // plain: only ever touched under the lock
};

void hammer(shared_counter* s, std::uint64_t slot, bool recursive, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    // No server here: a give-up after spinning simply tries again.
    while (fast_acquire(s->lock, slot, slot * 100, recursive, true) == 0) {
    }
    if (recursive) REQUIRE(fast_acquire(s->lock, slot, slot * 100, true, false) == 2);
    s->counter = s->counter + 1;
    if (recursive) REQUIRE(fast_release(s->lock, slot, slot * 100, true) == fast_release_outcome::done);
    auto out = fast_release(s->lock, slot, slot * 100, recursive);
    REQUIRE((out == fast_release_outcome::done || out == fast_release_outcome::handed_off));
  }
}

void run(bool recursive) {
  auto seg = transport::shm_segment::create(transport::segment_kind::test, sizeof(shared_counter)).value();
  auto* s = seg->as<shared_counter>();
  constexpr int threads = 4;
  constexpr int rounds = 20'000;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) ts.emplace_back(hammer, s, static_cast<std::uint64_t>(t + 1), recursive, rounds);
  for (auto& t : ts) t.join();
  CHECK(s->counter == long{threads} * rounds);
  CHECK(s->lock.word.load() == 0);
}

}  // namespace

TEST_SUITE("sync_words") {

TEST_CASE("the shared word excludes four threads from each other") { run(false); }

TEST_CASE("the rlock word is re-entrant for its owner and exclusive between owners") { run(true); }

TEST_CASE("release by a runtime that does not hold it: a plain lock asks the server, an rlock refuses") {
  auto seg = transport::shm_segment::create(transport::segment_kind::test, sizeof(lock_shared)).value();
  auto* s = seg->as<lock_shared>();
  CHECK(fast_release(*s, 1, 7, false) == fast_release_outcome::not_held);
  REQUIRE(fast_acquire(*s, 1, 7, false, false) == 1);
  CHECK(fast_acquire(*s, 2, 8, false, false) == 0);
  CHECK(fast_release(*s, 2, 8, false) == fast_release_outcome::ask_server);
  // Sleepers at the server: the release frees the word and says to tell
  // the server, once — a second release before it answered does not.
  s->word.fetch_or(lock_shared::waiting_bit);
  CHECK(fast_release(*s, 1, 7, false) == fast_release_outcome::notify_server);
  CHECK(s->word.load() == (lock_shared::waiting_bit | lock_shared::notified_bit));
  REQUIRE(fast_acquire(*s, 1, 7, false, false) == 1);  // a free word with sleepers can be taken
  CHECK(fast_release(*s, 1, 7, false) == fast_release_outcome::done);
  // A dead holder's lock is the server's to give (with owner_died).
  s->word.store(lock_shared::died_bit);
  CHECK(fast_acquire(*s, 1, 7, false, true) == 0);
  s->word.store(0);
  REQUIRE(fast_acquire(*s, 1, 7, true, false) == 1);
  CHECK(fast_release(*s, 1, 8, true) == fast_release_outcome::not_held);  // another owner, same runtime
  CHECK(fast_release(*s, 2, 7, true) == fast_release_outcome::not_held);
  CHECK(fast_release(*s, 1, 7, true) == fast_release_outcome::done);
}

}
