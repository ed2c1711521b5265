#pragma once

// The wire types of the barrier protocol.

#include <cstdint>

#include "framework/runtime/actor_ref.hpp"

namespace troupe::actors::detail {

/// Answered with the arrival index (0 .. parties-1) once all have arrived.
struct barrier_wait {
  using response = std::uint32_t;
  node_id client = 0;
  std::uint64_t ticket = 0;
  std::uint64_t deadline_ns = 0;  ///< passing it breaks the barrier, as in Python
};
struct barrier_withdraw {
  node_id client = 0;
  std::uint64_t ticket = 0;
};
struct barrier_abort {
  using response = void;
};
struct barrier_reset {
  using response = void;
};
struct barrier_state {
  std::uint32_t parties = 0;
  std::uint32_t waiting = 0;
  bool broken = false;
  std::uint64_t rounds = 0;
};
struct barrier_query {
  using response = barrier_state;
};

}  // namespace troupe::actors::detail
