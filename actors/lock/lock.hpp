#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <stop_token>
#include <utility>

#include "actors/common/protocol.hpp"
#include "actors/lock/lock_actor.hpp"
#include "actors/lock/lock_messages.hpp"
#include "framework/runtime/spawn.hpp"
#include "framework/wire/codec.hpp"

namespace troupe {

namespace actors::detail {

std::uint64_t fresh_owner_id() noexcept;

/// What lock and rlock share: the server's ref and who this handle is.
class lock_base : public protocol_handle {
 public:
  lock_base() = default;
  explicit lock_base(actor_ref server) noexcept : server_(server), owner_(fresh_owner_id()) {}

  /// Takes the lock, waiting while someone else holds it. The grant says
  /// whether the previous holder died holding it (owner_died).
  /// errc::timeout, errc::cancelled (stop), errc::peer_down (server gone).
  [[nodiscard]] coro::task<result<lock_grant>> acquire(std::optional<std::chrono::nanoseconds> timeout = forever,
                                                       std::stop_token stop = {}) const {
    auto ticket = next_ticket();
    node_id here = runtime::current().node();
    co_return co_await ask<lock_grant>(server_, lock_acquire{here, owner_, ticket, deadline_of(timeout), true},
                                       lock_withdraw{here, ticket}, local_timeout(timeout), std::move(stop));
  }
  /// Takes the lock only if it is free now: errc::timeout if it is held.
  [[nodiscard]] coro::task<result<lock_grant>> try_acquire() const {
    co_return co_await server_.request<lock_grant>(
        lock_acquire{runtime::current().node(), owner_, 0, 0, false}, std::chrono::nanoseconds::max());
  }
  /// Releases it. errc::invalid_argument if it is not held (or, for an
  /// rlock, held by another owner).
  [[nodiscard]] coro::task<result<void>> release() const {
    co_return co_await server_.request<void>(lock_release{runtime::current().node(), owner_},
                                             std::chrono::nanoseconds::max());
  }
  /// Whether someone holds it now (a snapshot).
  [[nodiscard]] coro::task<result<bool>> locked() const {
    auto s = co_await server_.request<lock_state>(lock_query{});
    if (!s) co_return s.error();
    co_return s->locked;
  }
  [[nodiscard]] coro::task<result<lock_state>> status() const {
    co_return co_await server_.request<lock_state>(lock_query{});
  }

  /// Releases without waiting for the answer (guards, destructors).
  void release_later() const {
    runtime::current().post(server_, lock_release{runtime::current().node(), owner_}, {}, false);
  }
  void shutdown() const { runtime::current().stop(server_); }

  [[nodiscard]] actor_ref ref() const noexcept { return server_; }
  [[nodiscard]] std::uint64_t owner() const noexcept { return owner_; }

 protected:
  actor_ref server_;
  std::uint64_t owner_ = 0;
};

}  // namespace actors::detail

/// Holds a lock until destroyed (or release() is called), as a `with`
/// block in Python. Move-only.
template <class Lock>
class lock_guard {
 public:
  lock_guard() = default;
  lock_guard(Lock l, lock_grant g) : lock_(std::move(l)), grant_(g), held_(true) {}
  lock_guard(lock_guard&& o) noexcept : lock_(o.lock_), grant_(o.grant_), held_(std::exchange(o.held_, false)) {}
  lock_guard& operator=(lock_guard&& o) noexcept {
    if (this != &o) {
      reset();
      lock_ = o.lock_;
      grant_ = o.grant_;
      held_ = std::exchange(o.held_, false);
    }
    return *this;
  }
  ~lock_guard() { reset(); }
  [[nodiscard]] const lock_grant& grant() const noexcept { return grant_; }
  [[nodiscard]] bool owner_died() const noexcept { return grant_.owner_died; }
  /// Releases now (the release is sent; the guard does not wait for it).
  void reset() noexcept {
    if (std::exchange(held_, false)) {
      try {
        lock_.release_later();
      } catch (...) {
        // Only allocation can fail here; the holder's death would free it.
      }
    }
  }

 private:
  Lock lock_;
  lock_grant grant_;
  bool held_ = false;
};

/// A mutual-exclusion lock shared across processes, as Python's
/// multiprocessing.Lock (any holder may release it). If the holder's process
/// dies, the lock passes to the next waiter within milliseconds, with
/// owner_died set on its grant. Handles are small values: copy them, pass
/// them to children, send them in messages. Thread: any runtime's thread.
class lock : public actors::detail::lock_base {
 public:
  using lock_base::lock_base;
  /// Makes a lock served on the current runtime.
  static lock make() { return lock(spawn(runtime::current(), &actors::detail::lock_server, false)); }
  /// Acquires and returns a guard that releases when it goes out of scope.
  [[nodiscard]] coro::task<result<lock_guard<lock>>> scoped(
      std::optional<std::chrono::nanoseconds> timeout = actors::forever, std::stop_token stop = {}) const {
    auto g = co_await acquire(timeout, std::move(stop));
    if (!g) co_return g.error();
    co_return lock_guard<lock>(*this, *g);
  }
};

/// A re-entrant lock, as Python's RLock: the owner may acquire it again and
/// must release it as many times; a release by anyone else is an error. The
/// owner is the handle: copies of one handle are one owner, and each process
/// that receives a handle (as an argument or in a message) is its own owner.
class rlock : public actors::detail::lock_base {
 public:
  using lock_base::lock_base;
  static rlock make() { return rlock(spawn(runtime::current(), &actors::detail::lock_server, true)); }
  /// A handle for a different owner of the same rlock (another task in
  /// this process that must not share ownership).
  [[nodiscard]] rlock another_owner() const { return rlock(server_); }
  [[nodiscard]] coro::task<result<lock_guard<rlock>>> scoped(
      std::optional<std::chrono::nanoseconds> timeout = actors::forever, std::stop_token stop = {}) const {
    auto g = co_await acquire(timeout, std::move(stop));
    if (!g) co_return g.error();
    co_return lock_guard<rlock>(*this, *g);
  }
};

}  // namespace troupe
