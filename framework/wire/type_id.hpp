#pragma once

#include <cstdint>

#include "framework/base/type_name.hpp"

namespace troupe::wire {

/// Identifies a message type on the wire.
using type_id_t = std::uint64_t;

/// Framework messages reserve ids below this bound; user types hash their
/// name, which lands above it with overwhelming probability (and is checked
/// when an actor registers the types it accepts).
inline constexpr type_id_t reserved_type_ids = 1u << 16;

template <class T>
concept has_explicit_type_id = requires {
  { T::troupe_type_id } -> std::convertible_to<type_id_t>;
};

/// The id of message type T: `T::troupe_type_id` when the type declares one
/// (the framework's own messages do, append-only), otherwise a hash of the
/// type's name. Both sides of a link run the same binary (checked in the
/// handshake), so the name hash is stable between them.
template <class T>
constexpr type_id_t type_id() noexcept {
  if constexpr (has_explicit_type_id<T>) {
    return T::troupe_type_id;
  } else {
    constexpr type_id_t h = base::fnv1a(base::type_name<T>());
    return h < reserved_type_ids ? h + reserved_type_ids : h;
  }
}

}  // namespace troupe::wire
