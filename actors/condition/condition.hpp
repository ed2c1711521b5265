#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <type_traits>
#include <utility>

#include "actors/common/protocol.hpp"
#include "actors/condition/condition_actor.hpp"
#include "actors/condition/condition_messages.hpp"
#include "actors/lock/lock.hpp"
#include "framework/runtime/spawn.hpp"
#include "framework/wire/codec.hpp"

namespace troupe {

/// A condition variable with its own re-entrant lock, as Python's
/// Condition(): acquire/release (or scoped()) the lock, then wait() inside
/// it — wait releases the lock, waits for notify(), and re-acquires it
/// before it returns. Ownership follows rlock's rule (the handle is the
/// owner; each process that receives a handle is its own owner).
/// A waiter whose process dies never swallows a notify meant for a living
/// one; a holder that dies passes the lock on, as a lock's does.
class condition : public lock_base {
 public:
  condition() = default;
  /// (The condition's lock lives in its server: it has no shared word.)
  explicit condition(actor_ref server, std::shared_ptr<transport::shm_segment> = nullptr) noexcept
      : lock_base(server, nullptr) {
    recursive_ = true;
  }
  /// A new condition with its own lock, served by the calling thread's runtime.
  static condition make() { return condition(spawn(runtime::current(), &actors::detail::condition_server)); }

  /// Whether someone holds the condition's lock (asks the server).
  [[nodiscard]] coro::task<result<bool>> locked() const {
    auto s = co_await status();
    if (!s) co_return s.error();
    co_return s->locked;
  }

  /// Waits for a notify (the caller must hold the lock): true if notified,
  /// false if `timeout` passed; the lock is held again either way.
  /// errc::invalid_argument if the caller does not hold the lock;
  /// errc::cancelled on stop (the lock is held again then too).
  [[nodiscard]] coro::task<result<bool>> wait(std::optional<std::chrono::nanoseconds> timeout = actors::forever,
                                              std::stop_token stop = {}) const {
    auto ticket = actors::detail::next_ticket();
    node_id here = runtime::current().node();
    co_return co_await actors::detail::ask<bool>(
        server_, actors::detail::cond_wait{here, owner_, ticket, actors::detail::deadline_of(timeout)},
        actors::detail::lock_withdraw{here, ticket}, actors::detail::local_timeout(timeout), std::move(stop));
  }

  /// Waits until `pred()` (a bool or task<bool>) holds, as Python's
  /// wait_for: true when it does, false if `timeout` passed first.
  template <class Pred>
  [[nodiscard]] coro::task<result<bool>> wait_for(Pred pred, std::optional<std::chrono::nanoseconds> timeout = actors::forever) const {
    auto deadline = timeout ? uv::deadline::after(*timeout).ns : 0;
    for (;;) {
      bool ok;
      if constexpr (std::is_same_v<std::invoke_result_t<Pred&>, coro::task<bool>>) ok = co_await pred();
      else ok = pred();
      if (ok) co_return true;
      std::optional<std::chrono::nanoseconds> left;
      if (timeout) {
        auto now = uv::loop::now_ns();
        if (now >= deadline) co_return false;
        left = std::chrono::nanoseconds(deadline - now);
      }
      auto r = co_await wait(left);
      if (!r) co_return r.error();
    }
  }

  /// Wakes up to `n` waiters (the caller must hold the lock).
  [[nodiscard]] coro::task<result<void>> notify(std::uint32_t n = 1) const {
    co_return co_await server_.request<void>(actors::detail::cond_notify{runtime::current().node(), owner_, n});
  }
  /// Wakes every waiter (the caller must hold the lock).
  [[nodiscard]] coro::task<result<void>> notify_all() const {
    co_return co_await server_.request<void>(actors::detail::cond_notify{runtime::current().node(), owner_, 0});
  }
  /// Acquires the condition's lock and returns a guard that releases it;
  /// errors as acquire().
  [[nodiscard]] coro::task<result<lock_guard<condition>>> scoped(
      std::optional<std::chrono::nanoseconds> timeout = actors::forever, std::stop_token stop = {}) const {
    auto g = co_await acquire(timeout, std::move(stop));
    if (!g) co_return g.error();
    co_return lock_guard<condition>(*this, *g);
  }
};

}  // namespace troupe
