#pragma once

// The shared word of a lock: what lets an uncontended acquire or release be
// one compare-and-swap in shared memory, with the server actor as arbiter
// for everything else (waiting, fairness, a holder that dies).

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "framework/runtime/actor_ref.hpp"
#include "framework/transport/shm_segment.hpp"

namespace troupe::actors::detail {

/// Lives at the start of a lock's segment. Every runtime that uses the lock
/// gets a slot (a small number the word can hold) from the server the first
/// time it asks; the server writes the slot table and monitors the runtime.
///
/// The word: bits 0–31 the holder's slot (0: free), bit 32 `waiting` (the
/// server has sleepers: a release tells it, so it wakes one), bit 35
/// `notified` (that message is in flight: one is enough), bit 33
/// `died` (free, and the last holder died holding it: the next acquire goes
/// through the server, which reports owner_died), bit 34 `spinning` (a
/// runtime spins for the lock: a release leaves it free for the spinner,
/// and the releaser lets the spinner have it before competing again — so
/// two processes in tight loops alternate instead of one starving).
/// Transitions:
///   free 0 → slot           acquirer, CAS (acquire)     fast path
///   slot → 0                holder, CAS (release)       fast path
///   slot → slot|spinning    spinner, CAS
///   slot|spinning → spinning  holder, CAS (release)     hand-off to spinners
///   spinning → slot         spinner, CAS (acquire)
///   slot → slot|waiting     server, CAS                 a sleeper queued
///   slot|waiting → waiting|notified  holder, CAS        release; tells the server
///   waiting… → slot|waiting…  anyone, CAS               take a free word
///   notified → cleared      server, CAS                 it woke a sleeper
///   slot → next / died      server, store               holder's node down
/// A woken sleeper competes for the free word like everyone else (as a
/// futex-based lock does), so the lock never waits for a process to wake.
struct lock_shared {
  static constexpr std::uint32_t max_slots = 1023;
  /// Held by a runtime that got no slot (more than max_slots users): the
  /// server alone knows which.
  static constexpr std::uint64_t overflow_slot = 0xFFFF'FFFFull;  // = detail::overflow_slot
  static constexpr std::uint64_t slot_mask = 0xFFFF'FFFFull;
  static constexpr std::uint64_t waiting_bit = 1ull << 32;
  static constexpr std::uint64_t died_bit = 1ull << 33;
  static constexpr std::uint64_t spinning_bit = 1ull << 34;
  static constexpr std::uint64_t notified_bit = 1ull << 35;

  /// CAS acquire in lock ↔ CAS release in unlock; the server's stores are
  /// release, its loads acquire.
  std::atomic<std::uint64_t> word;
  /// rlock: the owner id of the holder and its recursion depth. Written by
  /// the holder (or by the server when it hands over) before the word
  /// publishes the holder; read by the holder's own runtime and by the
  /// server after the holder died.
  std::atomic<std::uint64_t> holder_owner;
  std::atomic<std::uint32_t> depth;
  std::uint32_t unused;
  /// slots[k]: the node holding slot k (k ≥ 1), 0 if free. Written only by
  /// the server (release) before it answers the request that registered the
  /// node; read by that node's handles (acquire).
  std::atomic<std::uint64_t> slots[max_slots + 1];
};
static_assert(std::is_standard_layout_v<lock_shared>);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free);

/// The word protocol of the fast path, with no runtime involved (so it can
/// be tested on its own, also under ThreadSanitizer). `slot` is the
/// caller's slot (≥ 1), `owner` its owner id (rlock).

/// Takes the lock if it is free (spinning briefly when `spin`), or enters
/// it again (rlock, same slot and owner). Returns the depth now held, or 0
/// if the caller must ask the server. `polite`: the caller just handed the
/// lock to a spinner (fast_release said handed_off) and lets it take it
/// first.
std::uint32_t fast_acquire(lock_shared& s, std::uint64_t slot, std::uint64_t owner, bool recursive, bool spin,
                           bool polite = false) noexcept;

enum class fast_release_outcome { done, handed_off, notify_server, not_held, ask_server };
/// Releases the caller's hold. notify_server: released, and the server must
/// be told to wake a sleeper (send lock_notify). ask_server: the holder is
/// not the caller's runtime and a plain lock allows that (the server
/// checks and releases).
fast_release_outcome fast_release(lock_shared& s, std::uint64_t slot, std::uint64_t owner, bool recursive) noexcept;

using lock_segment = transport::segment_ref<transport::segment_kind::lock, sizeof(lock_shared)>;

}  // namespace troupe::actors::detail
