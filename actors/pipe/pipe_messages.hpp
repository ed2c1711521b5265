#pragma once

// The wire types of the pipe protocol. The server stores payloads as bytes,
// so one server serves pipes of any types.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "framework/runtime/actor_ref.hpp"

namespace troupe::actors::detail {

struct pipe_send {
  using response = void;
  std::uint8_t side = 0;  ///< the sending end: 0 or 1
  node_id client = 0;
  std::vector<std::byte> payload;
};
/// Answered with the oldest payload for `side`, or errc::closed once the
/// other end is closed (or its process died) and nothing is left.
struct pipe_recv {
  using response = std::vector<std::byte>;
  std::uint8_t side = 0;
  node_id client = 0;
  std::uint64_t ticket = 0;
  std::uint64_t deadline_ns = 0;
};
/// Answered true when data (or EOF) is waiting for `side`, false at the
/// deadline; takes nothing.
struct pipe_poll {
  using response = bool;
  std::uint8_t side = 0;
  node_id client = 0;
  std::uint64_t ticket = 0;
  std::uint64_t deadline_ns = 0;
};
struct pipe_withdraw {
  node_id client = 0;
  std::uint64_t ticket = 0;
};
struct pipe_close {
  using response = void;
  std::uint8_t side = 0;
};

}  // namespace troupe::actors::detail
