#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "actors/common/protocol.hpp"
#include "actors/manager/manager_actor.hpp"
#include "actors/manager/manager_messages.hpp"
#include "framework/runtime/messaging.hpp"
#include "framework/runtime/spawn.hpp"
#include "framework/wire/codec.hpp"

namespace troupe {

/// A list shared by any number of processes, as the list a Python Manager
/// serves (its ListProxy): the items live in a server actor — in a manager
/// process (manager::list) or in the runtime that made it (make) — and the
/// proxy is a small value that can be copied, passed to a child or sent in
/// a message.
///
/// Operations from one client (one coroutine) apply in the order it issued
/// them. Writes that cannot fail — append, extend — are pipelined: they
/// return once the message is on its way (suspending only while the link or
/// mailbox is full), not after a round trip, so a process can append
/// millions of items a second. Reads and writes that can fail wait for the
/// server's answer and see every earlier write of the same client.
/// sync() waits until every earlier write has been applied.
///
/// A pipelined write that reached the server is applied even if its sender
/// dies right after; one still in the sender's process when it dies is lost
/// with it. If the server's process is gone, pipelined writes are dropped
/// and the next read or sync reports errc::peer_down.
///
/// Indexes follow Python: negative ones count from the end; errc::out_of_range
/// when outside the list. Thread: any runtime's thread.
template <class T>
class list_proxy : public actors::protocol_handle {
  static_assert(wire::encodable<T>, "troupe: list items cross processes, so T must be encodable");

 public:
  /// The item type.
  using value_type = T;
  list_proxy() = default;
  /// Adopts the server at `server`; handles normally come from make(), a copy or a message.
  explicit list_proxy(actor_ref server) noexcept : server_(server) {}

  /// A list served by the current runtime.
  static list_proxy make(std::vector<T> initial = {}) {
    return list_proxy(spawn(runtime::current(), &actors::detail::list_server<T>, std::move(initial)));
  }

  /// Appends (pipelined: no reply is awaited).
  [[nodiscard]] send_awaiter<actors::detail::list_append<T>> append(T item) const {
    return server_.send(actors::detail::list_append<T>{std::move(item)});
  }
  /// Appends all of `items` in one message (pipelined).
  [[nodiscard]] send_awaiter<actors::detail::list_extend<T>> extend(std::vector<T> items) const {
    return server_.send(actors::detail::list_extend<T>{std::move(items)});
  }
  /// Waits until every write this client sent before has been applied, and
  /// answers the list's length then.
  [[nodiscard]] coro::task<result<std::size_t>> sync() const { co_return co_await len(); }

  /// l[index]; a negative index counts from the end; errc::out_of_range outside.
  [[nodiscard]] coro::task<result<T>> get(std::int64_t index) const {
    co_return co_await server_.request<T>(actors::detail::list_get<T>{index});
  }
  /// l[index] = item; errc::out_of_range outside the list.
  [[nodiscard]] coro::task<result<void>> set(std::int64_t index, T item) const {
    actors::detail::list_set<T> m{index, std::move(item)};
    co_return co_await server_.request<void>(std::move(m));
  }
  /// Inserts before `index` (clamped to the list, as Python's insert).
  [[nodiscard]] coro::task<result<void>> insert(std::int64_t index, T item) const {
    actors::detail::list_insert<T> m{index, std::move(item)};
    co_return co_await server_.request<void>(std::move(m));
  }
  /// Removes and returns the item at `index` (the last by default).
  [[nodiscard]] coro::task<result<T>> pop(std::int64_t index = -1) const {
    co_return co_await server_.request<T>(actors::detail::list_pop<T>{index});
  }
  /// len(l), after every write this client sent before.
  [[nodiscard]] coro::task<result<std::size_t>> len() const {
    auto n = co_await server_.request<std::uint64_t>(actors::detail::list_len{});
    if (!n) co_return n.error();
    co_return static_cast<std::size_t>(*n);
  }
  /// A copy of every item, for iterating (a snapshot: later writes do not
  /// show in it). A list bigger than a frame (64 MiB encoded) fails with
  /// errc::too_large; take it in slices then.
  [[nodiscard]] coro::task<result<std::vector<T>>> snapshot() const { co_return co_await slice(0, INT64_MAX); }
  /// A copy of items [start, stop), with Python's slice rules.
  [[nodiscard]] coro::task<result<std::vector<T>>> slice(std::int64_t start, std::int64_t stop) const {
    co_return co_await server_.request<std::vector<T>>(actors::detail::list_slice<T>{start, stop});
  }
  /// Removes every item.
  [[nodiscard]] coro::task<result<void>> clear() const {
    co_return co_await server_.request<void>(actors::detail::list_clear{});
  }

  /// Ends the server (its items are dropped).
  void shutdown() const { runtime::current().stop(server_); }
  /// The server's address (to monitor it, or send it on).
  [[nodiscard]] actor_ref ref() const noexcept { return server_; }

 private:
  actor_ref server_;
};

}  // namespace troupe
