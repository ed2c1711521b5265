#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stop_token>
#include <utility>

#include "actors/barrier/barrier_actor.hpp"
#include "actors/barrier/barrier_messages.hpp"
#include "actors/common/protocol.hpp"
#include "framework/runtime/spawn.hpp"
#include "framework/wire/codec.hpp"

namespace troupe {

/// A barrier for a fixed number of parties in any processes, as Python's
/// Barrier. wait() returns the arrival index (0 for the first to arrive);
/// the optional action runs once per round, in the process that made the
/// barrier, before anyone is released. A timeout, abort(), a cancelled wait,
/// an action that throws, or the death of a waiting party breaks it:
/// every waiter gets errc::broken, and so does every later wait until
/// reset(). Handles are small values (copy, pass to children, send).
class barrier : public actors::protocol_handle {
 public:
  barrier() = default;
  /// Adopts the server at `server`; handles normally come from make(), a copy or a message.
  explicit barrier(actor_ref server) noexcept : server_(server) {}
  /// Throws error_exception (errc::invalid_argument) if parties is 0.
  static barrier make(std::uint32_t parties, std::function<void()> action = {}) {
    if (parties == 0) throw error_exception(error{errc::invalid_argument, "a barrier needs at least one party"});
    return barrier(spawn(runtime::current(), &actors::detail::barrier_server, parties, std::move(action)));
  }

  /// Waits until `parties` processes wait, then releases them all and
  /// returns this waiter's arrival index (0 .. parties-1, as Python).
  /// errc::broken when the barrier breaks or is broken, errc::timeout
  /// (which also breaks it), errc::cancelled on stop (also breaks it).
  [[nodiscard]] coro::task<result<std::uint32_t>> wait(std::optional<std::chrono::nanoseconds> timeout = actors::forever,
                                                       std::stop_token stop = {}) const {
    auto ticket = actors::detail::next_ticket();
    node_id here = runtime::current().node();
    co_return co_await actors::detail::ask<std::uint32_t>(
        server_, actors::detail::barrier_wait{here, ticket, actors::detail::deadline_of(timeout)},
        actors::detail::barrier_withdraw{here, ticket}, actors::detail::local_timeout(timeout), std::move(stop));
  }
  /// Breaks the barrier: current and later waits get errc::broken.
  [[nodiscard]] coro::task<result<void>> abort() const {
    co_return co_await server_.request<void>(actors::detail::barrier_abort{});
  }
  /// Back to the empty, unbroken state (current waiters get errc::broken).
  [[nodiscard]] coro::task<result<void>> reset() const {
    co_return co_await server_.request<void>(actors::detail::barrier_reset{});
  }
  /// The barrier's state as the server sees it now.
  [[nodiscard]] coro::task<result<actors::detail::barrier_state>> status() const {
    co_return co_await server_.request<actors::detail::barrier_state>(actors::detail::barrier_query{});
  }
  /// Whether the barrier is broken.
  [[nodiscard]] coro::task<result<bool>> broken() const {
    auto s = co_await status();
    if (!s) co_return s.error();
    co_return s->broken;
  }
  /// How many parties wait now.
  [[nodiscard]] coro::task<result<std::uint32_t>> n_waiting() const {
    auto s = co_await status();
    if (!s) co_return s.error();
    co_return s->waiting;
  }
  /// Stops the server actor; later calls through any handle fail with errc::no_actor or errc::peer_down.
  void shutdown() const { runtime::current().stop(server_); }
  /// The server's address (to monitor it, or send it on).
  [[nodiscard]] actor_ref ref() const noexcept { return server_; }

 private:
  actor_ref server_;
};

}  // namespace troupe
