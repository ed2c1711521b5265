#include "framework/wire/frame.hpp"

#include <cstring>
#include <string>

namespace troupe::wire {

namespace {
template <class T>
void put(std::byte*& p, T v) noexcept {
  std::memcpy(p, &v, sizeof v);
  p += sizeof v;
}
template <class T>
T get(const std::byte*& p) noexcept {
  T v;
  std::memcpy(&v, p, sizeof v);
  p += sizeof v;
  return v;
}
error protocol(std::string msg) { return error{errc::protocol_error, std::move(msg)}; }
}  // namespace

void encode_header(const frame_header& h, std::span<std::byte, frame_header::wire_size> out) noexcept {
  std::byte* p = out.data();
  put(p, h.magic);
  put(p, h.version);
  put(p, static_cast<std::uint8_t>(h.kind));
  put(p, h.length);
  put(p, h.flags);
  put(p, h.fds);
  put(p, h.dest_node);
  put(p, h.dest_actor);
  put(p, h.src_node);
  put(p, h.src_actor);
  put(p, h.correlation);
  put(p, h.type);
}

result<frame_header> decode_header(std::span<const std::byte> in, std::uint32_t max_payload) {
  if (in.size() < frame_header::wire_size)
    return protocol("frame header truncated: " + std::to_string(in.size()) + " of 64 bytes");
  const std::byte* p = in.data();
  frame_header h;
  h.magic = get<std::uint16_t>(p);
  if (h.magic != frame_header::magic_value) return protocol("bad frame magic");
  h.version = get<std::uint8_t>(p);
  if (h.version != frame_header::current_version)
    return protocol("unsupported frame version " + std::to_string(h.version));
  auto kind = get<std::uint8_t>(p);
  if (kind == 0 || kind > max_frame_kind) return protocol("unknown frame kind " + std::to_string(kind));
  h.kind = static_cast<frame_kind>(kind);
  h.length = get<std::uint32_t>(p);
  if (h.length > max_payload)
    return protocol("frame payload of " + std::to_string(h.length) + " bytes exceeds the limit of " +
                    std::to_string(max_payload));
  h.flags = get<std::uint32_t>(p);
  if ((h.flags & ~static_cast<std::uint32_t>(known_frame_flags)) != 0)
    return protocol("unknown frame flags");
  h.fds = get<std::uint32_t>(p);
  if (h.fds > max_frame_fds)
    return protocol("frame claims " + std::to_string(h.fds) + " file descriptors, more than " +
                    std::to_string(max_frame_fds));
  h.dest_node = get<std::uint64_t>(p);
  h.dest_actor = get<std::uint64_t>(p);
  h.src_node = get<std::uint64_t>(p);
  h.src_actor = get<std::uint64_t>(p);
  h.correlation = get<std::uint64_t>(p);
  h.type = get<std::uint64_t>(p);
  if ((h.kind == frame_kind::request || h.kind == frame_kind::reply ||
       h.kind == frame_kind::error_reply) &&
      h.correlation == 0)
    return protocol("request or reply without a correlation id");
  return h;
}

}  // namespace troupe::wire
