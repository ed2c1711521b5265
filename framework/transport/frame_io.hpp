#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <vector>

#include "framework/base/error.hpp"
#include "framework/wire/codec.hpp"
#include "framework/wire/fd_carrier.hpp"
#include "framework/wire/frame.hpp"

namespace troupe::transport {

/// A decoded frame whose payload is borrowed from the reader's buffer:
/// valid until the reader is next prepared or advanced.
struct frame_view {
  wire::frame_header header;
  std::span<const std::byte> payload;
  /// Descriptors that came with the frame (header.fds of them), owned by
  /// the link that received it and closed after the frame was handled.
  std::span<const int> fds;
};

/// Closes every descriptor in `fds` and clears it.
void close_fds(std::vector<int>& fds) noexcept;

/// Appends a frame (header + payload) to `out`. The header's length field
/// is set from the payload.
void append_frame(std::vector<std::byte>& out, wire::frame_header header,
                  std::span<const std::byte> payload);

/// Appends a frame whose payload is the encoding of `msg`, encoded straight
/// into `out` behind the header (no intermediate buffer); the length is
/// patched in afterwards. Descriptors the encoding attaches (shared-memory
/// handles) are appended to `fds`, which must start empty; the header
/// counts them. If encoding throws, `out` is as before and `fds` is closed.
template <class T>
void append_message_frame(std::vector<std::byte>& out, wire::frame_header header, const T& msg,
                          std::vector<int>& fds) {
  const std::size_t at = out.size();
  out.resize(at + wire::frame_header::wire_size);
  try {
    wire::fd_encode_scope scope(fds);
    wire::writer w(out);
    wire::encode(w, msg);
  } catch (...) {
    out.resize(at);
    close_fds(fds);
    throw;
  }
  header.fds = static_cast<std::uint32_t>(fds.size());
  header.length = static_cast<std::uint32_t>(out.size() - at - wire::frame_header::wire_size);
  header.type = wire::type_id<T>();
  wire::encode_header(header, std::span<std::byte, wire::frame_header::wire_size>(out.data() + at,
                                                                                   wire::frame_header::wire_size));
}

/// As above, for a channel that carries no descriptors: a message that
/// would attach one throws std::logic_error and nothing is appended.
template <class T>
void append_message_frame(std::vector<std::byte>& out, wire::frame_header header, const T& msg) {
  std::vector<int> fds;
  const std::size_t at = out.size();
  append_message_frame(out, header, msg, fds);
  if (!fds.empty()) {
    out.resize(at);
    close_fds(fds);
    throw std::logic_error("this connection cannot carry shared-memory handles");
  }
}

/// Reassembles frames from a byte stream that arrives in pieces of any
/// size. Untrusted input: every header is validated before its payload is
/// waited for, and the buffer never grows beyond one header plus the
/// payload limit, whatever the peer claims. The first malformed header is a
/// sticky protocol error: the link it came from must be closed.
/// Thread: one thread at a time.
class frame_reader {
 public:
  explicit frame_reader(std::uint32_t max_payload = wire::default_max_payload);

  /// Free space to read into, at least `min_bytes` long.
  std::span<std::byte> prepare(std::size_t min_bytes = 16 * 1024);
  /// Marks `n` bytes of the prepared space as filled.
  void commit(std::size_t n) noexcept { end_ += n; }

  enum class status { frame, need_more, error };
  /// Takes the next complete frame out of what has arrived.
  status next(frame_view& out);

  /// The protocol error, after next() returned status::error.
  [[nodiscard]] const error& failure() const noexcept { return failure_; }
  /// Bytes received but not yet returned as frames.
  [[nodiscard]] std::size_t buffered() const noexcept { return end_ - start_; }
  /// Current buffer size, for tests of the memory bound.
  [[nodiscard]] std::size_t capacity() const noexcept { return buf_.size(); }

 private:
  // Moves the bytes not yet returned to the front of the buffer.
  void compact() noexcept;

  std::vector<std::byte> buf_;
  std::size_t start_ = 0;
  std::size_t end_ = 0;
  std::uint32_t max_payload_;
  error failure_;
  bool failed_ = false;
};

}  // namespace troupe::transport
