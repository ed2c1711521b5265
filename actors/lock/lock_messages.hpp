#pragma once

// The wire types of the lock protocol (lock and rlock share one server).

#include <cstdint>

#include "framework/runtime/actor_ref.hpp"

namespace troupe {

/// What a successful acquire says.
struct lock_grant {
  /// The previous holder's process died holding the lock: whatever it
  /// protected may be half-updated. Check it before relying on it.
  bool owner_died = false;
  /// Recursion depth after this acquire (1 for a plain lock).
  std::uint32_t depth = 1;
};

namespace actors::detail {

/// A grant with depth 0 from the lock server means "woken: the lock was
/// freed, try to take it" (a real grant has depth ≥ 1).
struct lock_acquire {
  using response = lock_grant;
  node_id client = 0;
  std::uint64_t owner = 0;
  std::uint64_t ticket = 0;
  std::uint64_t deadline_ns = 0;
  bool block = true;
};
struct lock_release {
  using response = void;
  node_id client = 0;
  std::uint64_t owner = 0;
};
/// Holder → server: it freed a word that has sleepers; wake one. (At
/// most one is in flight: the `notified` bit of the word.)
struct lock_notify {};

struct lock_withdraw {
  node_id client = 0;
  std::uint64_t ticket = 0;
};
struct lock_state {
  bool locked = false;
  node_id holder_node = 0;
  std::uint32_t depth = 0;
  std::uint64_t waiting = 0;
};
struct lock_query {
  using response = lock_state;
};

}  // namespace actors::detail
}  // namespace troupe
