#pragma once

// Python's multiprocessing.connection Listener and Client: a Unix socket
// reachable by path, where a program accepts connections from other
// programs that prove they hold the authentication key, and exchanges
// typed messages with them.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stop_token>
#include <string>
#include <utility>
#include <vector>

#include "framework/base/result.hpp"
#include "framework/coro/task.hpp"
#include "framework/transport/auth.hpp"
#include "framework/transport/frame_io.hpp"
#include "framework/uv/stream.hpp"
#include "framework/wire/codec.hpp"

namespace troupe {

using transport::auth_key;
using transport::auth_key_from;
using transport::make_auth_key;

/// Options of a listener.
struct listener_options {
  /// How long a connecting peer has to complete the handshake.
  std::chrono::nanoseconds handshake_timeout = std::chrono::seconds(2);
  /// User ids allowed to connect (checked with SO_PEERCRED before a byte is
  /// read); empty: this process's own user only.
  std::vector<uid_t> allowed_uids;
  /// Pending connections the kernel queues before accept() takes them.
  int backlog = 128;
  /// Largest message accepted from a peer, in bytes.
  std::uint32_t max_message = 64u << 20;
};

/// What a listener has turned away, for diagnostics and tests.
struct listener_stats {
  std::uint64_t accepted = 0;        ///< connections that authenticated
  std::uint64_t refused_uid = 0;     ///< peers whose user is not allowed
  std::uint64_t refused_auth = 0;    ///< peers that sent something other than a valid proof
  std::uint64_t timed_out = 0;       ///< peers that did not finish the handshake in time
  std::uint64_t hung_up = 0;         ///< peers that closed during the handshake
};

namespace detail {

/// An authenticated connection's framed byte stream (the untyped core of
/// stream_connection): frames validated as untrusted input, at most
/// max_message bytes each.
class framed_stream {
 public:
  framed_stream(uv::stream s, std::uint32_t max_message, pid_t peer_pid, uid_t peer_uid);

  coro::task<result<void>> send(wire::type_id_t type, std::vector<std::byte> payload);
  /// The next frame's type and payload (copied out of the reader).
  coro::task<result<std::pair<wire::type_id_t, std::vector<std::byte>>>> recv(
      std::optional<std::chrono::nanoseconds> timeout, std::stop_token stop);
  void close() noexcept { stream_.close(); }
  [[nodiscard]] bool is_open() const noexcept { return stream_.is_open(); }
  [[nodiscard]] pid_t peer_pid() const noexcept { return peer_pid_; }
  [[nodiscard]] uid_t peer_uid() const noexcept { return peer_uid_; }

 private:
  uv::stream stream_;
  transport::frame_reader reader_;
  pid_t peer_pid_;
  uid_t peer_uid_;
};

class listener_core;

coro::task<result<std::unique_ptr<framed_stream>>> accept_stream(listener_core& core,
                                                                 std::optional<std::chrono::nanoseconds> timeout,
                                                                 std::stop_token stop);
coro::task<result<std::unique_ptr<framed_stream>>> connect_stream(std::string path, auth_key key,
                                                                  std::chrono::nanoseconds timeout,
                                                                  std::uint32_t max_message);
result<std::shared_ptr<listener_core>> open_listener(std::string path, auth_key key, listener_options options);
const listener_stats& stats_of(const listener_core& core) noexcept;
void close_listener(listener_core& core) noexcept;

}  // namespace detail

/// One end of an authenticated connection between two programs: sends Send
/// values, receives Recv values (the other end has them swapped). Move-only.
/// Thread: the runtime's thread that made it.
template <class Send, class Recv>
class stream_connection {
  static_assert(wire::encodable<Send> && wire::encodable<Recv>, "troupe: connection values must be encodable");

 public:
  /// An unconnected handle; connections come from listener::accept and connect_to.
  stream_connection() = default;
  /// Wraps an authenticated stream (used by accept and connect_to).
  explicit stream_connection(std::unique_ptr<detail::framed_stream> s) : stream_(std::move(s)) {}

  /// Sends `value`; suspends only while the socket's buffer is full.
  /// errc::closed once either end has closed, or a system error.
  [[nodiscard]] coro::task<result<void>> send(const Send& value) const {
    if (!stream_ || !stream_->is_open()) co_return error{errc::closed, "the connection is closed"};
    auto bytes = wire::to_bytes(value);
    co_return co_await stream_->send(wire::type_id<Send>(), std::move(bytes));
  }

  /// The next value from the other end. errc::closed at its end,
  /// errc::timeout, errc::cancelled on stop, errc::protocol_error if it sent
  /// something that is not a frame or not a Recv (the connection is closed),
  /// errc::decode_error if the bytes do not decode as a Recv.
  [[nodiscard]] coro::task<result<Recv>> recv(std::optional<std::chrono::nanoseconds> timeout = std::nullopt,
                                              std::stop_token stop = {}) const {
    if (!stream_ || !stream_->is_open()) co_return error{errc::closed, "the connection is closed"};
    auto frame = co_await stream_->recv(timeout, std::move(stop));
    if (!frame) co_return frame.error();
    if (frame->first != wire::type_id<Recv>()) {
      stream_->close();
      co_return error{errc::protocol_error, "the peer sent a message of another type"};
    }
    auto v = wire::from_bytes<Recv>(frame->second);
    if (!v) co_return error{errc::decode_error, v.error().message};
    co_return std::move(*v);
  }

  /// Closes this end; the other end's recv returns errc::closed.
  void close() noexcept {
    if (stream_) stream_->close();
  }
  /// The peer's process id and user id, as the kernel reported them.
  [[nodiscard]] pid_t peer_pid() const noexcept { return stream_ ? stream_->peer_pid() : -1; }
  /// The peer's user id (see peer_pid).
  [[nodiscard]] uid_t peer_uid() const noexcept { return stream_ ? stream_->peer_uid() : static_cast<uid_t>(-1); }

 private:
  std::unique_ptr<detail::framed_stream> stream_;
};

/// A Unix socket at a path, accepting connections from other programs (or
/// processes) that hold `key`, as Python's Listener(address, authkey=...).
/// Each accepted connection sends Send values and receives Recv values.
/// Before one byte from a peer is read, its user id is checked
/// (SO_PEERCRED); then it must complete the mutual HMAC-SHA256 handshake
/// within handshake_timeout, reading no more than the handshake's bytes.
/// Peers that fail are closed and counted in stats(), and accept() goes on
/// to the next. The socket file is made with mode 0600 and removed by
/// close() or the destructor. Thread: the runtime's thread that opened it.
template <class Send, class Recv>
class listener {
 public:
  listener() = default;

  /// Listens at `path` (a stale socket file there is replaced; any other
  /// file is an error). errc::invalid_argument for a path too long for a
  /// Unix socket, or a system error naming the call.
  static result<listener> open(std::string path, auth_key key, listener_options options = {}) {
    auto core = detail::open_listener(std::move(path), std::move(key), std::move(options));
    if (!core) return core.error();
    listener l;
    l.core_ = std::move(*core);
    return l;
  }

  /// The next peer that authenticates. Handshakes run one after another,
  /// each bounded by handshake_timeout. errc::timeout when `timeout` passes
  /// first, errc::cancelled on stop, errc::closed after close().
  [[nodiscard]] coro::task<result<stream_connection<Send, Recv>>> accept(
      std::optional<std::chrono::nanoseconds> timeout = std::nullopt, std::stop_token stop = {}) const {
    auto s = co_await detail::accept_stream(*core_, timeout, std::move(stop));
    if (!s) co_return s.error();
    co_return stream_connection<Send, Recv>(std::move(*s));
  }

  /// What has been accepted and refused so far.
  [[nodiscard]] const listener_stats& stats() const noexcept { return detail::stats_of(*core_); }

  /// Stops listening and removes the socket file; connections already
  /// accepted stay open.
  void close() noexcept {
    if (core_) detail::close_listener(*core_);
  }

 private:
  std::shared_ptr<detail::listener_core> core_;
};

/// Connects to the listener at `path` and authenticates with `key`, as
/// Python's Client(address, authkey=...). The result sends Send values
/// and receives Recv values: a listener<A, B> pairs with connect_to<B, A>.
/// errc::protocol_error if the listener refused the key (or is not a troupe
/// listener), errc::timeout, or a system error naming the call (ENOENT: no
/// listener at that path).
template <class Send, class Recv>
[[nodiscard]] coro::task<result<stream_connection<Send, Recv>>> connect_to(
    std::string path, auth_key key, std::chrono::nanoseconds timeout = std::chrono::seconds(5),
    std::uint32_t max_message = 64u << 20) {
  auto s = co_await detail::connect_stream(std::move(path), std::move(key), timeout, max_message);
  if (!s) co_return s.error();
  co_return stream_connection<Send, Recv>(std::move(*s));
}

}  // namespace troupe
