#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace troupe::wire {

/// File descriptors travel beside a frame's bytes (SCM_RIGHTS on the link's
/// socket), never inside them: a codec that sends one (a shared-memory
/// handle) attaches it while encoding and writes the index it got; the
/// matching decoder reads the index and borrows the descriptor that arrived
/// with the frame. The carrier is the frame being encoded or decoded on
/// this thread, installed by whoever drives the codec for a link (scopes
/// below); encoding and decoding never suspend, so one per thread suffices.

/// While alive, fds attached by encoders on this thread are dup'd into
/// `out` (close-on-exec); the owner of `out` closes them once sent. Scopes
/// nest: the inner one wins until it ends.
class fd_encode_scope {
 public:
  explicit fd_encode_scope(std::vector<int>& out) noexcept;
  ~fd_encode_scope();
  fd_encode_scope(const fd_encode_scope&) = delete;
  fd_encode_scope& operator=(const fd_encode_scope&) = delete;

 private:
  std::vector<int>* previous_;
};

/// While alive, decoders on this thread may borrow `fds` (owned by the
/// caller, which closes them afterwards; a decoder that keeps one dups it).
class fd_decode_scope {
 public:
  explicit fd_decode_scope(std::span<const int> fds) noexcept;
  ~fd_decode_scope();
  fd_decode_scope(const fd_decode_scope&) = delete;
  fd_decode_scope& operator=(const fd_decode_scope&) = delete;

 private:
  std::span<const int> previous_;
};

/// Attaches a duplicate of `fd` to the frame being encoded and returns its
/// index. Throws std::logic_error when no link is encoding (a handle with a
/// descriptor written into a plain buffer) or the frame already carries the
/// most a frame may, and std::system_error when dup fails.
std::uint32_t attach_fd(int fd);

/// The descriptor at `index` of the frame being decoded, still owned by the
/// frame; -1 if there is none (the decoder reports a malformed frame).
int borrow_fd(std::uint32_t index) noexcept;

}  // namespace troupe::wire
