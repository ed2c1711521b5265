#include "actors/lock/lock.hpp"

#include "actors/common/slot_table.hpp"

#include <sched.h>

#include <random>
#include <utility>

namespace troupe {

namespace actors::detail {

std::uint64_t fresh_owner_id() noexcept {
  // Unique within a node is enough (the server pairs it with the node id);
  // random so that ids of a restarted process do not repeat.
  thread_local std::mt19937_64 gen{std::random_device{}()};
  std::uint64_t id = gen();
  return id == 0 ? 1 : id;
}

namespace {

// The lock this thread's runtime last left to a spinner (handles are
// copied freely — guards hold copies — so this is not per handle).
thread_local const lock_shared* handed_off_by_this_thread = nullptr;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}
}  // namespace

bool take_free(std::atomic<std::uint64_t>& word, std::uint64_t& w, std::uint64_t slot) noexcept {
  // Free (perhaps with sleepers, perhaps left for spinners): take it,
  // keeping what the server must know, clearing `spinning` (other spinners
  // set it again).
  const std::uint64_t keep = w & (lock_shared::waiting_bit | lock_shared::notified_bit);
  return word.compare_exchange_weak(w, slot | keep, std::memory_order_acquire, std::memory_order_relaxed);
}

bool spin_for(std::atomic<std::uint64_t>& word, std::uint64_t slot) noexcept {
  // A short busy spin catches a holder on another core finishing a short
  // critical section; then yields let a holder that shares our core run.
  // Past that, waiting belongs to the server (no CPU burnt).
  for (int round = 0; round < 64; ++round) {
    for (int i = 0; i < 64; ++i) {
      std::uint64_t w = word.load(std::memory_order_relaxed);
      // A dead holder's lock is the server's to give, with owner_died.
      if ((w & lock_shared::died_bit) != 0) return false;
      if ((w & lock_shared::slot_mask) == 0) {
        if (take_free(word, w, slot)) return true;
        continue;
      }
      if ((w & lock_shared::spinning_bit) == 0)
        word.compare_exchange_weak(w, w | lock_shared::spinning_bit, std::memory_order_relaxed);
      cpu_relax();
    }
    if (round >= 4) ::sched_yield();
  }
  return false;
}


std::uint32_t fast_acquire(lock_shared& s, std::uint64_t slot, std::uint64_t owner, bool recursive, bool spin,
                           bool polite) noexcept {
  std::uint64_t w = s.word.load(std::memory_order_relaxed);
  if (polite) {
    // We left the lock to a spinner: give it the chance to take it (a
    // bounded wait: the spinner may have moved on to the server).
    for (int i = 0; i < 4096 && w == lock_shared::spinning_bit; ++i) {
      cpu_relax();
      w = s.word.load(std::memory_order_relaxed);
    }
  }
  if (recursive && (w & lock_shared::slot_mask) == slot && s.holder_owner.load(std::memory_order_relaxed) == owner) {
    // Ours already: only this owner writes depth while it holds the lock.
    std::uint32_t d = s.depth.load(std::memory_order_relaxed) + 1;
    s.depth.store(d, std::memory_order_relaxed);
    return d;
  }
  bool taken = false;
  while (!taken && (w & lock_shared::slot_mask) == 0 && (w & (lock_shared::died_bit | lock_shared::spinning_bit)) == 0)
    taken = take_free(s.word, w, slot);
  // Spinning on a holder of this same runtime would only keep it from
  // running; that wait belongs to the server.
  if (!taken && spin && (w & lock_shared::slot_mask) != slot) taken = spin_for(s.word, slot);
  if (!taken) return 0;
  if (recursive) {
    s.holder_owner.store(owner, std::memory_order_relaxed);
    s.depth.store(1, std::memory_order_relaxed);
  }
  return 1;
}

fast_release_outcome fast_release(lock_shared& s, std::uint64_t slot, std::uint64_t owner, bool recursive) noexcept {
  std::uint64_t w = s.word.load(std::memory_order_relaxed);
  const std::uint64_t holder = w & lock_shared::slot_mask;
  if (holder == 0) return fast_release_outcome::not_held;
  if (recursive) {
    if (slot == 0 || holder != slot || s.holder_owner.load(std::memory_order_relaxed) != owner) {
      // Held through the server by a runtime without a slot: it judges.
      return holder == lock_shared::overflow_slot ? fast_release_outcome::ask_server : fast_release_outcome::not_held;
    }
    std::uint32_t d = s.depth.load(std::memory_order_relaxed);
    if (d > 1) {
      s.depth.store(d - 1, std::memory_order_relaxed);
      return fast_release_outcome::done;
    }
    // Cleared before the word is: once the word says free, another holder
    // may write its own owner id.
    s.holder_owner.store(0, std::memory_order_relaxed);
    s.depth.store(0, std::memory_order_relaxed);
  } else if (slot == 0 || holder != slot) {
    // A plain lock may be released by anyone (as in Python); the server
    // does it for holders other than this runtime.
    return fast_release_outcome::ask_server;
  }
  std::uint64_t expected = slot;
  if (s.word.compare_exchange_strong(expected, 0, std::memory_order_release, std::memory_order_relaxed))
    return fast_release_outcome::done;
  for (;;) {
    if ((expected & lock_shared::slot_mask) != slot) return fast_release_outcome::ask_server;
    // Leave the word free, keeping the flags for spinners and the server.
    const std::uint64_t flags = expected & ~lock_shared::slot_mask;
    const bool tell = (flags & lock_shared::waiting_bit) != 0 && (flags & lock_shared::notified_bit) == 0;
    const std::uint64_t next = flags | (tell ? lock_shared::notified_bit : 0);
    if (!s.word.compare_exchange_weak(expected, next, std::memory_order_release, std::memory_order_relaxed)) continue;
    if (tell) return fast_release_outcome::notify_server;
    return (flags & lock_shared::spinning_bit) != 0 ? fast_release_outcome::handed_off : fast_release_outcome::done;
  }
}

}  // namespace actors::detail

// The handle side, on the shared word and the server.
using namespace actors::detail;

std::uint64_t lock_base::my_slot() const noexcept {
  slot_ = find_slot(shared().slots, runtime::current().node(), slot_);
  return slot_;
}

std::optional<lock_grant> lock_base::try_fast(bool spin) const noexcept {
  if (!segment_) return std::nullopt;
  const std::uint64_t slot = my_slot();
  if (slot == 0) return std::nullopt;  // the server registers us first
  const bool polite = handed_off_by_this_thread == &shared();
  handed_off_by_this_thread = nullptr;
  std::uint32_t depth = fast_acquire(shared(), slot, owner_, recursive_, spin, polite);
  if (depth == 0) return std::nullopt;
  return lock_grant{false, depth};
}

lock_base::released lock_base::release_fast() const noexcept {
  // Without a shared word (a condition's lock) the server holds the state.
  if (!segment_) return released::ask_server;
  switch (fast_release(shared(), my_slot(), owner_, recursive_)) {
    case fast_release_outcome::done:
      return released::done;
    case fast_release_outcome::handed_off:
      handed_off_by_this_thread = &shared();
      return released::done;
    case fast_release_outcome::notify_server:
      runtime::current().post(server_, lock_notify{}, {}, false);
      return released::done;
    case fast_release_outcome::not_held:
      return released::not_held;
    case fast_release_outcome::ask_server:
      break;
  }
  return released::ask_server;
}

error lock_base::not_held_error() const {
  return recursive_ ? error{errc::invalid_argument, "release of an rlock by a task that does not own it"}
                    : error{errc::invalid_argument, "release of a lock that is not held"};
}

coro::task<result<lock_grant>> lock_base::slow_acquire(actor_ref server, lock_base self, std::uint64_t deadline,
                                                        std::chrono::nanoseconds wait, std::stop_token stop,
                                                        bool block) {
  auto ticket = next_ticket();
  node_id here = runtime::current().node();
  for (;;) {
    lock_acquire msg{here, self.owner_, ticket, deadline, block};
    lock_withdraw withdraw{here, ticket};
    auto r = co_await ask<lock_grant>(server, msg, withdraw, wait, stop);
    if (!r || r->depth != 0) co_return r;
    // Woken: the lock was freed. Take it like anyone else, or sleep again.
    if (auto g = self.try_fast(true)) co_return *g;
    ticket = next_ticket();
  }
}

coro::task<result<void>> lock_base::slow_release(actor_ref server, lock_release msg) {
  co_return co_await server.request<void>(msg, std::chrono::nanoseconds::max());
}

namespace {
std::shared_ptr<transport::shm_segment> lock_segment_or_throw() {
  auto seg = transport::shm_segment::create(transport::segment_kind::lock, sizeof(actors::detail::lock_shared));
  if (!seg) throw error_exception(seg.error());
  return std::move(*seg);
}
}  // namespace

lock lock::make() {
  auto seg = lock_segment_or_throw();
  actor_ref server = spawn(runtime::current(), &actors::detail::lock_server, seg, false);
  return lock(server, std::move(seg));
}

rlock rlock::make() {
  auto seg = lock_segment_or_throw();
  actor_ref server = spawn(runtime::current(), &actors::detail::lock_server, seg, true);
  return rlock(server, std::move(seg));
}

}  // namespace troupe
