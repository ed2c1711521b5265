#pragma once

// The wire types of the event protocol.

#include <cstdint>

#include "framework/runtime/actor_ref.hpp"

namespace troupe::actors::detail {

struct event_set {
  using response = void;
};
struct event_clear {
  using response = void;
};
struct event_is_set {
  using response = bool;
};
/// Answered true once the flag is set, false at the deadline.
struct event_wait {
  using response = bool;
  node_id client = 0;
  std::uint64_t ticket = 0;
  std::uint64_t deadline_ns = 0;
};
struct event_withdraw {
  node_id client = 0;
  std::uint64_t ticket = 0;
};

}  // namespace troupe::actors::detail
