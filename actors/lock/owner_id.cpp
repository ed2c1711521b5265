#include <random>

#include "actors/lock/lock.hpp"

namespace troupe::actors::detail {

std::uint64_t fresh_owner_id() noexcept {
  // Unique within a node is enough (the server pairs it with the node id);
  // random so that ids of a restarted process do not repeat.
  thread_local std::mt19937_64 gen{std::random_device{}()};
  std::uint64_t id = gen();
  return id == 0 ? 1 : id;
}

}  // namespace troupe::actors::detail
