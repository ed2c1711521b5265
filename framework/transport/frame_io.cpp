#include "framework/transport/frame_io.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace troupe::transport {

void append_frame(std::vector<std::byte>& out, wire::frame_header header,
                  std::span<const std::byte> payload) {
  const std::size_t at = out.size();
  out.resize(at + wire::frame_header::wire_size + payload.size());
  header.length = static_cast<std::uint32_t>(payload.size());
  wire::encode_header(header, std::span<std::byte, wire::frame_header::wire_size>(
                                  out.data() + at, wire::frame_header::wire_size));
  if (!payload.empty())
    std::memcpy(out.data() + at + wire::frame_header::wire_size, payload.data(), payload.size());
}

void close_fds(std::vector<int>& fds) noexcept {
  for (int fd : fds) ::close(fd);
  fds.clear();
}

frame_reader::frame_reader(std::uint32_t max_payload) : buf_(16 * 1024), max_payload_(max_payload) {}

void frame_reader::compact() noexcept {
  if (start_ == 0) return;
  std::size_t pending = end_ - start_;
  if (pending != 0) std::memmove(buf_.data(), buf_.data() + start_, pending);
  start_ = 0;
  end_ = pending;
}

std::span<std::byte> frame_reader::prepare(std::size_t min_bytes) {
  // Move what is pending to the front, then grow only if the pending bytes
  // plus the request do not fit. The frame in progress was validated, so its
  // size is within the limit.
  compact();
  if (buf_.size() - end_ < min_bytes) buf_.resize(end_ + min_bytes);
  return std::span<std::byte>(buf_.data() + end_, buf_.size() - end_);
}

frame_reader::status frame_reader::next(frame_view& out) {
  if (failed_) return status::error;
  const std::size_t have = end_ - start_;
  if (have < wire::frame_header::wire_size) return status::need_more;
  auto header = wire::decode_header(
      std::span<const std::byte>(buf_.data() + start_, wire::frame_header::wire_size), max_payload_);
  if (!header) {
    failed_ = true;
    failure_ = header.error();
    return status::error;
  }
  const std::size_t total = wire::frame_header::wire_size + header->length;
  if (have < total) {
    // Make sure the whole frame will fit, so the caller's next prepare()
    // reads the rest of it in as few steps as possible.
    if (buf_.size() - start_ < total) {
      compact();
      if (buf_.size() < total) buf_.resize(total);
    }
    return status::need_more;
  }
  out.header = *header;
  out.payload = std::span<const std::byte>(buf_.data() + start_ + wire::frame_header::wire_size, header->length);
  start_ += total;
  if (start_ == end_) start_ = end_ = 0;
  return status::frame;
}

}  // namespace troupe::transport
