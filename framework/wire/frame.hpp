#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "framework/base/result.hpp"
#include "framework/wire/type_id.hpp"

namespace troupe::wire {

/// What a frame carries. Append-only.
enum class frame_kind : std::uint8_t {
  message = 1,      ///< a one-way message to an actor
  request = 2,      ///< a message that expects a reply (correlation set)
  reply = 3,        ///< the reply to a request
  error_reply = 4,  ///< a request failed; payload is an encoded troupe::error
  control = 5,      ///< link-level traffic (handshake, monitors, down notices)
};
inline constexpr std::uint8_t max_frame_kind = 5;

/// Frame flag bits. Append-only; unknown bits are a protocol error.
enum frame_flags : std::uint32_t {
  frame_flag_none = 0,
  known_frame_flags = 0,
};

/// The fixed header in front of every frame, 64 bytes on the wire,
/// little-endian, in this field order.
struct frame_header {
  static constexpr std::uint16_t magic_value = 0x5254;  // "TR"
  static constexpr std::uint8_t current_version = 1;
  static constexpr std::size_t wire_size = 64;

  std::uint16_t magic = magic_value;
  std::uint8_t version = current_version;
  frame_kind kind = frame_kind::message;
  std::uint32_t length = 0;  ///< payload bytes after the header
  std::uint32_t flags = 0;
  std::uint32_t fds = 0;  ///< file descriptors sent along (SCM_RIGHTS), at most max_frame_fds
  std::uint64_t dest_node = 0;
  std::uint64_t dest_actor = 0;
  std::uint64_t src_node = 0;
  std::uint64_t src_actor = 0;
  std::uint64_t correlation = 0;
  type_id_t type = 0;

  friend bool operator==(const frame_header&, const frame_header&) = default;
};

/// Most file descriptors one frame may carry.
inline constexpr std::uint32_t max_frame_fds = 16;

/// Default ceiling on one frame's payload; links may set their own.
inline constexpr std::uint32_t default_max_payload = 64u << 20;

/// Writes the header's 64 bytes into `out` (which must hold at least 64).
void encode_header(const frame_header& h, std::span<std::byte, frame_header::wire_size> out) noexcept;

/// Parses and validates a header from untrusted bytes: magic, version, kind,
/// flags, the descriptor count and the payload length against `max_payload`.
/// Any violation is errc::protocol_error with a message naming the field.
result<frame_header> decode_header(std::span<const std::byte> in,
                                   std::uint32_t max_payload = default_max_payload);

}  // namespace troupe::wire
