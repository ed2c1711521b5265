#pragma once

#include <chrono>
#include <optional>
#include <stop_token>
#include <utility>

#include "actors/common/protocol.hpp"
#include "actors/event/event_actor.hpp"
#include "actors/event/event_messages.hpp"
#include "framework/runtime/spawn.hpp"
#include "framework/wire/codec.hpp"

namespace troupe {

/// A flag processes can wait for, as Python's Event. Handles are small
/// values (copy, pass to children, send in messages).
class event : public actors::protocol_handle {
 public:
  event() = default;
  /// Adopts the server at `server`; handles normally come from make(), a copy or a message.
  explicit event(actor_ref server) noexcept : server_(server) {}
  /// A new event, cleared, served by the calling thread's runtime.
  static event make() { return event(spawn(runtime::current(), &actors::detail::event_server)); }

  /// Sets the flag and wakes every waiter.
  [[nodiscard]] coro::task<result<void>> set() const { co_return co_await server_.request<void>(actors::detail::event_set{}); }
  /// Clears the flag: later waits block until the next set().
  [[nodiscard]] coro::task<result<void>> clear() const {
    co_return co_await server_.request<void>(actors::detail::event_clear{});
  }
  /// Whether the flag is set now.
  [[nodiscard]] coro::task<result<bool>> is_set() const {
    co_return co_await server_.request<bool>(actors::detail::event_is_set{});
  }
  /// Waits until the flag is set: true, or false when `timeout` passes
  /// first (as Python). errc::cancelled on stop, errc::peer_down if the
  /// event's process is gone.
  [[nodiscard]] coro::task<result<bool>> wait(std::optional<std::chrono::nanoseconds> timeout = actors::forever,
                                              std::stop_token stop = {}) const {
    auto ticket = actors::detail::next_ticket();
    node_id here = runtime::current().node();
    co_return co_await actors::detail::ask<bool>(
        server_, actors::detail::event_wait{here, ticket, actors::detail::deadline_of(timeout)},
        actors::detail::event_withdraw{here, ticket}, actors::detail::local_timeout(timeout), std::move(stop));
  }
  /// Stops the server actor; later calls through any handle fail with errc::no_actor or errc::peer_down.
  void shutdown() const { runtime::current().stop(server_); }
  /// The server's address (to monitor it, or send it on).
  [[nodiscard]] actor_ref ref() const noexcept { return server_; }

 private:
  actor_ref server_;
};

}  // namespace troupe
