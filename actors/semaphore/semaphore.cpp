#include "actors/semaphore/semaphore.hpp"

#include <algorithm>
#include <utility>

#include "actors/common/slot_table.hpp"

namespace troupe {

namespace actors::detail {

bool sem_fast_acquire(semaphore_shared& s, std::uint64_t slot) noexcept {
  std::uint64_t w = s.word.load(std::memory_order_relaxed);
  while ((w & semaphore_shared::waiting_bit) == 0 && (w & semaphore_shared::count_mask) > 0) {
    if (s.word.compare_exchange_weak(w, w - 1, std::memory_order_acquire, std::memory_order_relaxed)) {
      s.held[slot].fetch_add(1, std::memory_order_relaxed);
      return true;
    }
  }
  return false;
}

std::int64_t sem_uncount(semaphore_shared& s, std::uint64_t slot, std::int64_t n) noexcept {
  std::int64_t h = s.held[slot].load(std::memory_order_relaxed);
  for (;;) {
    const std::int64_t take = std::min(h, n);
    if (take <= 0) return 0;
    if (s.held[slot].compare_exchange_weak(h, h - take, std::memory_order_relaxed)) return take;
  }
}

sem_release_outcome sem_fast_release(semaphore_shared& s, std::uint64_t slot, std::int64_t n,
                                     std::int64_t& uncounted) noexcept {
  uncounted = 0;
  std::uint64_t w = s.word.load(std::memory_order_relaxed);
  if ((w & semaphore_shared::waiting_bit) != 0) return sem_release_outcome::ask_server;
  auto too_many = [&](std::uint64_t word) {
    const auto free_now = static_cast<std::int64_t>(word & semaphore_shared::count_mask);
    return (s.bounded != 0 && free_now + n > s.initial) ||
           free_now + n > static_cast<std::int64_t>(semaphore_shared::count_mask);
  };
  if (too_many(w)) return sem_release_outcome::over_release;
  // Off the held count first: a death in between loses the permits rather
  // than handing them back twice.
  uncounted = sem_uncount(s, slot, n);
  for (;;) {
    if ((w & semaphore_shared::waiting_bit) != 0) return sem_release_outcome::ask_server;
    if (too_many(w)) {
      s.held[slot].fetch_add(std::exchange(uncounted, 0), std::memory_order_relaxed);
      return sem_release_outcome::over_release;
    }
    if (s.word.compare_exchange_weak(w, w + static_cast<std::uint64_t>(n), std::memory_order_release,
                                     std::memory_order_relaxed))
      return sem_release_outcome::done;
  }
}

}  // namespace actors::detail

std::uint64_t semaphore::my_slot() const noexcept {
  slot_ = actors::detail::find_slot(shared().slots, runtime::current().node(), slot_);
  return slot_;
}

bool semaphore::try_fast() const noexcept {
  if (!segment_) return false;
  const std::uint64_t slot = my_slot();
  return slot != 0 && actors::detail::sem_fast_acquire(shared(), slot);
}

semaphore::released semaphore::release_fast(std::int64_t n, std::int64_t& uncounted) const noexcept {
  uncounted = 0;
  const std::uint64_t slot = segment_ ? my_slot() : 0;
  if (slot == 0) return released::ask_server;
  switch (actors::detail::sem_fast_release(shared(), slot, n, uncounted)) {
    case actors::detail::sem_release_outcome::done:
      return released::done;
    case actors::detail::sem_release_outcome::over_release:
      return released::over_release;
    case actors::detail::sem_release_outcome::ask_server:
      break;
  }
  return released::ask_server;
}

coro::task<result<void>> semaphore::slow_acquire(actor_ref server, std::uint64_t deadline,
                                                 std::chrono::nanoseconds wait, std::stop_token stop, bool block) {
  auto ticket = actors::detail::next_ticket();
  node_id here = runtime::current().node();
  co_return co_await actors::detail::ask<void>(server, actors::detail::sem_acquire{here, ticket, deadline, block},
                                               actors::detail::sem_withdraw{here, ticket}, wait, std::move(stop));
}

coro::task<result<void>> semaphore::slow_release(actor_ref server, actors::detail::sem_release msg) {
  co_return co_await server.request<void>(msg, std::chrono::nanoseconds::max());
}

error semaphore::over_release_error() {
  return error{errc::invalid_argument, "a bounded semaphore released more times than acquired"};
}

semaphore semaphore::make_with(std::int64_t value, bool bounded) {
  if (value < 0 || value > static_cast<std::int64_t>(actors::detail::semaphore_shared::count_mask))
    throw error_exception(error{errc::invalid_argument, "a semaphore's value must be between 0 and 2^32-1"});
  auto seg = transport::shm_segment::create(transport::segment_kind::semaphore,
                                            sizeof(actors::detail::semaphore_shared));
  if (!seg) throw error_exception(seg.error());
  auto& sh = *(*seg)->as<actors::detail::semaphore_shared>();
  sh.initial = value;
  sh.bounded = bounded ? 1 : 0;
  sh.word.store(static_cast<std::uint64_t>(value), std::memory_order_release);
  actor_ref server = spawn(runtime::current(), &actors::detail::semaphore_server, *seg);
  return semaphore(server, std::move(*seg));
}

}  // namespace troupe
