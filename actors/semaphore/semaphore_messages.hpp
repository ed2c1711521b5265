#pragma once

// The wire types of the semaphore protocol.

#include <cstdint>

#include "framework/runtime/actor_ref.hpp"

namespace troupe::actors::detail {

struct sem_acquire {
  using response = void;
  node_id client = 0;
  std::uint64_t ticket = 0;
  std::uint64_t deadline_ns = 0;
  bool block = true;
};
/// Gives n permits back through the server (someone waits, or the client
/// has no slot). `uncounted`: how many the client already took off its
/// held count.
struct sem_release {
  using response = void;
  node_id client = 0;
  std::int64_t n = 1;
  std::int64_t uncounted = 0;
};
struct sem_withdraw {
  node_id client = 0;
  std::uint64_t ticket = 0;
};
struct sem_state {
  std::int64_t value = 0;
  std::int64_t initial = 0;
  bool bounded = false;
  std::uint64_t waiting = 0;
};
struct sem_query {
  using response = sem_state;
};

}  // namespace troupe::actors::detail
