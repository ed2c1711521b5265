#pragma once

// The wire types of the condition protocol. A condition serves its own
// re-entrant lock (lock_acquire / lock_release from the lock protocol).

#include <cstdint>

#include "actors/lock/lock_messages.hpp"

namespace troupe::actors::detail {

/// Releases the caller's hold on the lock, waits for a notify, re-acquires
/// the lock at the same depth; answered true if notified, false if the
/// deadline passed.
struct cond_wait {
  using response = bool;
  node_id client = 0;
  std::uint64_t owner = 0;
  std::uint64_t ticket = 0;
  std::uint64_t deadline_ns = 0;
};
struct cond_notify {
  using response = void;
  node_id client = 0;
  std::uint64_t owner = 0;
  std::uint32_t n = 1;  ///< 0: all
};

}  // namespace troupe::actors::detail
