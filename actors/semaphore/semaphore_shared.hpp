#pragma once

// The shared word of a semaphore: what lets an acquire with a permit free,
// or a release with nobody waiting, be one compare-and-swap in shared
// memory, with the server actor as arbiter for waiting, fairness and the
// permits of a process that dies.

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "framework/transport/shm_segment.hpp"

namespace troupe::actors::detail {

/// Lives at the start of a semaphore's segment.
///
/// The word: bits 0–31 the free permits, bit 32 `waiting` (the server has
/// waiters: permits then go through the server, first come first served;
/// set by the server only while the count is 0). held[k]: the permits the
/// runtime in slot k holds, which the server returns if it dies.
/// Transitions:
///   n → n-1 (n > 0, !waiting)   acquirer, CAS, then held[slot] += 1   fast
///   n → n+k (!waiting)          releaser, held[slot] -= k, then CAS   fast
///   0 → 0|waiting               server, CAS (a waiter queued)
///   n|waiting → n±k             server only (grants, releases, deaths)
///   waiting → cleared           server, CAS (no waiter left)
/// A process killed between the CAS and its held update (a few
/// instructions) loses that one operation's permits instead of returning
/// them: the count can only come out lower than it should, never higher,
/// so the semaphore's bound always holds.
struct semaphore_shared {
  static constexpr std::uint32_t max_slots = 1023;
  static constexpr std::uint64_t count_mask = 0xFFFF'FFFFull;
  static constexpr std::uint64_t waiting_bit = 1ull << 32;

  /// CAS acquire in take ↔ CAS release in give; the server's CASes are
  /// acq_rel.
  std::atomic<std::uint64_t> word;
  /// Set once by the creator before any handle exists.
  std::int64_t initial;
  std::uint32_t bounded;
  std::uint32_t unused;
  /// slots[k]: the node in slot k (k ≥ 1), 0 if free; written by the server
  /// only (see slot_table).
  std::atomic<std::uint64_t> slots[max_slots + 1];
  /// held[k]: permits held by the runtime in slot k. Changed by that
  /// runtime (fast path) and by the server (grants, deaths): atomic RMW.
  std::atomic<std::int64_t> held[max_slots + 1];
};
static_assert(std::is_standard_layout_v<semaphore_shared>);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::int64_t>::is_always_lock_free);

/// The word protocol of the fast path, with no runtime involved (tested on
/// its own, also under ThreadSanitizer). `slot` ≥ 1.

/// Takes a permit if one is free and nobody waits at the server.
bool sem_fast_acquire(semaphore_shared& s, std::uint64_t slot) noexcept;

enum class sem_release_outcome {
  done,          ///< the permits are free again
  over_release,  ///< a bounded semaphore would exceed its initial value
  ask_server,    ///< someone waits: the server must hand the permits on
};
/// Gives `n` permits back. On ask_server, `uncounted` says how many of them
/// were already taken off held[slot] (the server must not do it again).
sem_release_outcome sem_fast_release(semaphore_shared& s, std::uint64_t slot, std::int64_t n,
                                     std::int64_t& uncounted) noexcept;

/// Takes up to `n` off held[slot] (never below 0); returns how many.
std::int64_t sem_uncount(semaphore_shared& s, std::uint64_t slot, std::int64_t n) noexcept;

using semaphore_segment = transport::segment_ref<transport::segment_kind::semaphore, sizeof(semaphore_shared)>;

}  // namespace troupe::actors::detail
