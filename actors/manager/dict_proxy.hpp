#pragma once

#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "actors/common/protocol.hpp"
#include "actors/manager/manager_actor.hpp"
#include "actors/manager/manager_messages.hpp"
#include "framework/runtime/messaging.hpp"
#include "framework/runtime/spawn.hpp"
#include "framework/wire/codec.hpp"

namespace troupe {

/// A dict shared by any number of processes, as the dict a Python Manager
/// serves (its DictProxy), with the same ordering and failure rules as
/// list_proxy: set and update are pipelined, everything else waits for the
/// server's answer; operations of one client apply in order. Keys are kept
/// in key order (K must be ordered by <), so keys()/items() come sorted —
/// unlike Python, which keeps insertion order. A missing key is
/// errc::not_found. Thread: any runtime's thread.
template <class K, class V>
class dict_proxy : public actors::protocol_handle {
  static_assert(wire::encodable<K> && wire::encodable<V>, "troupe: dict keys and values must be encodable");

 public:
  /// The key type.
  using key_type = K;
  /// The value type.
  using mapped_type = V;
  dict_proxy() = default;
  /// Adopts the server at `server`; handles normally come from make(), a copy or a message.
  explicit dict_proxy(actor_ref server) noexcept : server_(server) {}

  /// A dict served by the current runtime.
  static dict_proxy make(std::map<K, V> initial = {}) {
    return dict_proxy(spawn(runtime::current(), &actors::detail::dict_server<K, V>, std::move(initial)));
  }

  /// d[key] = value (pipelined: no reply is awaited).
  [[nodiscard]] send_awaiter<actors::detail::dict_set<K, V>> set(K key, V value) const {
    return server_.send(actors::detail::dict_set<K, V>{std::move(key), std::move(value)});
  }
  /// Sets every entry of `entries` in one message (pipelined).
  [[nodiscard]] send_awaiter<actors::detail::dict_update<K, V>> update(std::vector<std::pair<K, V>> entries) const {
    return server_.send(actors::detail::dict_update<K, V>{std::move(entries)});
  }
  /// update() from a std::map.
  [[nodiscard]] send_awaiter<actors::detail::dict_update<K, V>> update(const std::map<K, V>& entries) const {
    return update(std::vector<std::pair<K, V>>(entries.begin(), entries.end()));
  }
  /// Waits until every write this client sent before has been applied.
  [[nodiscard]] coro::task<result<std::size_t>> sync() const { co_return co_await len(); }

  /// d[key]: errc::not_found if absent.
  [[nodiscard]] coro::task<result<V>> get(K key) const {
    actors::detail::dict_get<K, V> m{std::move(key)};
    co_return co_await server_.request<V>(std::move(m));
  }
  /// d.get(key, fallback).
  [[nodiscard]] coro::task<result<V>> get_or(K key, V fallback) const {
    actors::detail::dict_get<K, V> m{std::move(key)};
    auto r = co_await server_.request<V>(std::move(m));
    if (!r && r.code() == errc::not_found) co_return std::move(fallback);
    co_return r;
  }
  /// Inserts `value` if `key` is absent; returns the value stored now.
  [[nodiscard]] coro::task<result<V>> setdefault(K key, V value) const {
    actors::detail::dict_setdefault<K, V> m{std::move(key), std::move(value)};
    co_return co_await server_.request<V>(std::move(m));
  }
  /// Removes `key` and returns its value: errc::not_found if absent.
  [[nodiscard]] coro::task<result<V>> pop(K key) const {
    actors::detail::dict_pop<K, V> m{std::move(key)};
    co_return co_await server_.request<V>(std::move(m));
  }
  /// key in d.
  [[nodiscard]] coro::task<result<bool>> contains(K key) const {
    actors::detail::dict_contains<K, V> m{std::move(key)};
    co_return co_await server_.request<bool>(std::move(m));
  }
  /// len(d), after every write this client sent before.
  [[nodiscard]] coro::task<result<std::size_t>> len() const {
    auto n = co_await server_.request<std::uint64_t>(actors::detail::dict_len{});
    if (!n) co_return n.error();
    co_return static_cast<std::size_t>(*n);
  }
  /// Snapshots (later writes do not show in them), in key order.
  [[nodiscard]] coro::task<result<std::vector<K>>> keys() const {
    co_return co_await server_.request<std::vector<K>>(actors::detail::dict_keys<K, V>{});
  }
  /// The values, in key order (a snapshot).
  [[nodiscard]] coro::task<result<std::vector<V>>> values() const {
    co_return co_await server_.request<std::vector<V>>(actors::detail::dict_values<K, V>{});
  }
  /// The entries, in key order (a snapshot).
  [[nodiscard]] coro::task<result<std::vector<std::pair<K, V>>>> items() const {
    co_return co_await server_.request<std::vector<std::pair<K, V>>>(actors::detail::dict_items<K, V>{});
  }
  /// The whole dict as a std::map (a snapshot).
  [[nodiscard]] coro::task<result<std::map<K, V>>> copy() const {
    auto all = co_await items();
    if (!all) co_return all.error();
    co_return std::map<K, V>(std::make_move_iterator(all->begin()), std::make_move_iterator(all->end()));
  }
  /// Removes every entry.
  [[nodiscard]] coro::task<result<void>> clear() const {
    co_return co_await server_.request<void>(actors::detail::dict_clear{});
  }

  /// Ends the server (its entries are dropped).
  void shutdown() const { runtime::current().stop(server_); }
  /// The server's address (to monitor it, or send it on).
  [[nodiscard]] actor_ref ref() const noexcept { return server_; }

 private:
  actor_ref server_;
};

}  // namespace troupe
