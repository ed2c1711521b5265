// The semaphore's shared-word protocol on its own, as threads in one
// process: the bound held by the fast path, the accounting of held permits,
// and data races under ThreadSanitizer (which does not follow forks).
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "actors/semaphore/semaphore_shared.hpp"
#include "framework/transport/shm_segment.hpp"

using namespace troupe;
using actors::detail::sem_fast_acquire;
using actors::detail::sem_fast_release;
using actors::detail::sem_release_outcome;
using actors::detail::semaphore_shared;

namespace {

auto make_semaphore(std::int64_t value, bool bounded) {
  auto seg = transport::shm_segment::create(transport::segment_kind::test, sizeof(semaphore_shared)).value();
  auto* s = seg->as<semaphore_shared>();
  s->initial = value;
  s->bounded = bounded ? 1 : 0;
  s->word.store(static_cast<std::uint64_t>(value));
  return seg;
}

struct room {
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
};

void hammer(semaphore_shared* s, room* r, std::uint64_t slot, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    while (!sem_fast_acquire(*s, slot)) std::this_thread::yield();  // no server here: try again
    int now = r->inside.fetch_add(1) + 1;
    int seen = r->most.load();
    while (now > seen && !r->most.compare_exchange_weak(seen, now)) {
    }
    r->inside.fetch_sub(1);
    std::int64_t uncounted = 0;
    REQUIRE(sem_fast_release(*s, slot, 1, uncounted) == sem_release_outcome::done);
  }
}

}  // namespace

TEST_SUITE("sync_words") {

TEST_CASE("the semaphore word lets at most its permits in, and every permit comes back") {
  auto seg = make_semaphore(2, true);
  auto* s = seg->as<semaphore_shared>();
  room r;
  constexpr int threads = 4;
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) ts.emplace_back(hammer, s, &r, static_cast<std::uint64_t>(t + 1), 20'000);
  for (auto& t : ts) t.join();
  CHECK(r.most.load() <= 2);
  CHECK(r.most.load() >= 1);
  CHECK(s->word.load() == 2);
  for (std::uint64_t k = 1; k <= threads; ++k) CHECK(s->held[k].load() == 0);
}

TEST_CASE("the semaphore word counts held permits per slot and refuses over-release when bounded") {
  auto seg = make_semaphore(2, true);
  auto* s = seg->as<semaphore_shared>();
  REQUIRE(sem_fast_acquire(*s, 1));
  REQUIRE(sem_fast_acquire(*s, 3));
  CHECK_FALSE(sem_fast_acquire(*s, 1));
  CHECK(s->held[1].load() == 1);
  CHECK(s->held[3].load() == 1);
  std::int64_t uncounted = 0;
  CHECK(sem_fast_release(*s, 1, 1, uncounted) == sem_release_outcome::done);
  CHECK(s->held[1].load() == 0);
  CHECK(sem_fast_release(*s, 1, 2, uncounted) == sem_release_outcome::over_release);
  CHECK(s->word.load() == 1);
  CHECK(s->held[1].load() == 0);
  // A release of a permit another slot took is allowed; its count stays
  // with the taker (who alone could have died holding it).
  CHECK(sem_fast_release(*s, 1, 1, uncounted) == sem_release_outcome::done);
  CHECK(s->word.load() == 2);
  CHECK(s->held[3].load() == 1);
}

TEST_CASE("with waiters at the server, the word sends acquires and releases there") {
  auto seg = make_semaphore(1, false);
  auto* s = seg->as<semaphore_shared>();
  REQUIRE(sem_fast_acquire(*s, 2));
  s->word.fetch_or(semaphore_shared::waiting_bit);
  CHECK_FALSE(sem_fast_acquire(*s, 1));
  std::int64_t uncounted = -1;
  CHECK(sem_fast_release(*s, 2, 1, uncounted) == sem_release_outcome::ask_server);
  CHECK(uncounted == 0);              // seen before touching the count: the server does it
  CHECK(s->held[2].load() == 1);
  CHECK(s->word.load() == semaphore_shared::waiting_bit);
  // A plain semaphore grows past its initial value on release, as Python's.
  s->word.store(0);
  CHECK(sem_fast_release(*s, 2, 1, uncounted) == sem_release_outcome::done);
  CHECK(sem_fast_release(*s, 2, 1, uncounted) == sem_release_outcome::done);
  CHECK(s->word.load() == 2);
  CHECK(s->held[2].load() == 0);
}

}  // TEST_SUITE
