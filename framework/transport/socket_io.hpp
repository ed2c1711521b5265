#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "framework/base/result.hpp"

namespace troupe::transport {

/// Non-blocking I/O on a connected Unix stream socket that also carries
/// file descriptors (SCM_RIGHTS). The kernel hands the descriptors sent
/// with a sendmsg to the reader together with the first byte of that
/// sendmsg's data, and a recvmsg never returns the descriptors of two
/// sends at once, so a writer that starts each descriptor-carrying frame
/// with its own send keeps descriptors and frames in step.

/// Most descriptors one receive can return (one frame's worth).
inline constexpr std::size_t max_fds_per_receive = 16;

/// Sends a prefix of `bytes`, with `fds` attached when they are not empty.
/// Returns the bytes sent; 0 when the socket buffer is full (wait for
/// writability). Never raises SIGPIPE: a closed peer is errc::closed.
result<std::size_t> send_some(int fd, std::span<const std::byte> bytes, std::span<const int> fds) noexcept;

/// Receives into `buf`; descriptors that came along are appended to `fds`
/// (close-on-exec, now owned by the caller). Returns the bytes received;
/// 0 when nothing is available. errc::closed at end of stream;
/// errc::protocol_error if the peer sent more descriptors than one receive
/// takes (they were discarded by the kernel: the stream cannot continue).
result<std::size_t> receive_some(int fd, std::span<std::byte> buf, std::vector<int>& fds) noexcept;

/// Blocking variant for start-up handshakes: waits up to `timeout_ms` for
/// data, then receives as receive_some.
result<std::size_t> receive_blocking(int fd, std::span<std::byte> buf, std::vector<int>& fds,
                                     int timeout_ms) noexcept;

}  // namespace troupe::transport
