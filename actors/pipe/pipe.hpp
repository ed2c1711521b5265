#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stop_token>
#include <utility>
#include <vector>

#include "actors/common/protocol.hpp"
#include "actors/pipe/pipe_actor.hpp"
#include "actors/pipe/pipe_messages.hpp"
#include "framework/runtime/spawn.hpp"
#include "framework/wire/codec.hpp"

namespace troupe {

/// One end of a pipe, as a connection returned by Python's Pipe(): it sends
/// values of type Send and receives values of type Recv (both encodable).
/// A small value: copy it, pass it to a child, send it in a message.
/// When the other end is closed or its process dies, recv() returns
/// errc::closed (EOF) once what was sent before has been read — never a
/// hang. (An end belongs to the first process that sent or received on it;
/// the death of a process that never used its end cannot be noticed.) Errors: errc::timeout, errc::cancelled, errc::closed,
/// errc::invalid_argument (the wrong direction of a one-way pipe),
/// errc::peer_down (the pipe's server is gone).
template <class Send, class Recv>
class connection {
  static_assert(wire::encodable<Send> && wire::encodable<Recv>, "troupe: pipe values cross processes: make them encodable");

 public:
  connection() = default;
  /// End `side` (0 or 1) of the pipe served at `server`; ends normally come from
  /// make_pipe(), a copy or a message.
  connection(actor_ref server, std::uint8_t side) noexcept : server_(server), side_(side) {}

  /// Sends `value` to the other end; completes once the pipe holds it.
  /// errc::closed if the other end was closed, errc::peer_down if the server is gone.
  [[nodiscard]] coro::task<result<void>> send(const Send& value) const { return send_bytes(wire::to_bytes(value)); }
  /// The next value from the other end, in order. errc::closed at EOF (the
  /// other end closed and everything sent was read), errc::timeout,
  /// errc::cancelled on stop, errc::decode_error if the bytes are not a Recv.
  [[nodiscard]] coro::task<result<Recv>> recv(std::optional<std::chrono::nanoseconds> timeout = actors::forever,
                                              std::stop_token stop = {}) const {
    auto bytes = co_await recv_bytes(timeout, std::move(stop));
    if (!bytes) co_return bytes.error();
    auto v = wire::from_bytes<Recv>(*bytes);
    if (!v) co_return error{errc::decode_error, "pipe data did not decode: " + v.error().message};
    co_return std::move(*v);
  }
  /// send() for raw bytes, as Python's send_bytes; errors as send().
  [[nodiscard]] coro::task<result<void>> send_bytes(std::vector<std::byte> bytes) const {
    // A local, not a temporary inside co_await: g++ 12 would destroy the
    // temporary's vector twice.
    actors::detail::pipe_send m{side_, runtime::current().node(), std::move(bytes)};
    co_return co_await server_.request<void>(std::move(m), std::chrono::nanoseconds::max());
  }
  /// recv() of raw bytes, as Python's recv_bytes; errors as recv().
  [[nodiscard]] coro::task<result<std::vector<std::byte>>> recv_bytes(
      std::optional<std::chrono::nanoseconds> timeout = actors::forever, std::stop_token stop = {}) const {
    auto ticket = actors::detail::next_ticket();
    node_id here = runtime::current().node();
    co_return co_await actors::detail::ask<std::vector<std::byte>>(
        server_, actors::detail::pipe_recv{side_, here, ticket, actors::detail::deadline_of(timeout)},
        actors::detail::pipe_withdraw{here, ticket}, actors::detail::local_timeout(timeout), std::move(stop));
  }
  /// Whether there is something to recv (data, or EOF) within `timeout`
  /// (zero: right now), without taking it.
  [[nodiscard]] coro::task<result<bool>> poll(std::chrono::nanoseconds timeout = std::chrono::nanoseconds::zero(),
                                              std::stop_token stop = {}) const {
    auto ticket = actors::detail::next_ticket();
    node_id here = runtime::current().node();
    co_return co_await actors::detail::ask<bool>(
        server_, actors::detail::pipe_poll{side_, here, ticket, actors::detail::deadline_of(timeout)},
        actors::detail::pipe_withdraw{here, ticket}, actors::detail::local_timeout(timeout), std::move(stop));
  }
  /// Closes this end: the other end reads EOF after the data already sent.
  [[nodiscard]] coro::task<result<void>> close() const {
    co_return co_await server_.request<void>(actors::detail::pipe_close{side_});
  }
  /// Stops the pipe's server: both ends' later calls fail with errc::no_actor or errc::peer_down.
  void shutdown() const { runtime::current().stop(server_); }

  /// The server's address (to monitor it, or send it on).
  [[nodiscard]] actor_ref ref() const noexcept { return server_; }
  /// Which end this is (0 or 1).
  [[nodiscard]] std::uint8_t side() const noexcept { return side_; }

 private:
  actor_ref server_;
  std::uint8_t side_ = 0;
};

/// Makes a pipe served on the current runtime, as Python's Pipe(duplex):
/// the first connection sends A and receives B, the second the reverse.
/// One-way (duplex false): the first only receives, the second only sends.
template <class A, class B = A>
std::pair<connection<A, B>, connection<B, A>> make_pipe(bool duplex = true) {
  actor_ref server = spawn(runtime::current(), &actors::detail::pipe_server, duplex);
  return {connection<A, B>(server, 0), connection<B, A>(server, 1)};
}

/// Waits until at least one of `conns` has something to recv (or EOF), at
/// most `timeout`, and returns the indices of those that do (empty on
/// timeout), as Python's multiprocessing.connection.wait.
template <class Send, class Recv>
coro::task<result<std::vector<std::size_t>>> wait(std::span<const connection<Send, Recv>> conns,
                                                  std::optional<std::chrono::nanoseconds> timeout = actors::forever) {
  std::stop_source first;
  struct parts {
    static coro::task<result<bool>> one(connection<Send, Recv> c, std::optional<std::chrono::nanoseconds> t,
                                        std::stop_source& first) {
      auto r = co_await c.poll(t ? *t : std::chrono::nanoseconds::max(), first.get_token());
      if (r && *r) first.request_stop();  // the others can stop waiting
      co_return r;
    }
  };
  std::vector<coro::task<result<bool>>> polls;
  for (const auto& c : conns) polls.push_back(parts::one(c, timeout, first));
  auto answers = co_await coro::when_all(std::move(polls));
  std::vector<std::size_t> ready;
  for (std::size_t i = 0; i < answers.size(); ++i) {
    if (answers[i] && *answers[i]) ready.push_back(i);
    else if (!answers[i] && answers[i].code() != errc::cancelled) co_return answers[i].error();
  }
  co_return ready;
}

}  // namespace troupe

/// @cond TROUPE_INTERNAL
template <class S, class R>
struct troupe::wire::codec<troupe::connection<S, R>> {
  static constexpr std::size_t min_size = 17;
  static void encode(writer& w, const troupe::connection<S, R>& c) {
    wire::encode(w, c.ref());
    w.scalar(c.side());
  }
  static bool decode(reader& r, troupe::connection<S, R>& out) {
    actor_ref ref;
    std::uint8_t side = 0;
    if (!wire::decode(r, ref) || !r.scalar(side)) return false;
    if (side > 1) return r.fail("pipe side out of range");
    out = troupe::connection<S, R>(ref, side);
    return true;
  }
};
/// @endcond
