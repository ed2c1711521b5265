#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stop_token>
#include <utility>

#include "actors/common/protocol.hpp"
#include "actors/semaphore/semaphore_actor.hpp"
#include "actors/semaphore/semaphore_messages.hpp"
#include "framework/runtime/spawn.hpp"
#include "framework/wire/codec.hpp"

namespace troupe {

/// A counting semaphore shared across processes, as Python's Semaphore.
/// Permits held by a process that dies are given back. Handles are small
/// values (copy, pass to children, send in messages).
/// Errors: errc::timeout, errc::cancelled, errc::peer_down, and
/// errc::invalid_argument for a release a bounded semaphore refuses.
class semaphore : public actors::protocol_handle {
 public:
  semaphore() = default;
  explicit semaphore(actor_ref server) noexcept : server_(server) {}
  static semaphore make(std::int64_t value = 1) {
    return semaphore(spawn(runtime::current(), &actors::detail::semaphore_server, value, false));
  }

  /// Takes a permit, waiting while none is free.
  [[nodiscard]] coro::task<result<void>> acquire(std::optional<std::chrono::nanoseconds> timeout = actors::forever,
                                                 std::stop_token stop = {}) const {
    auto ticket = actors::detail::next_ticket();
    node_id here = runtime::current().node();
    co_return co_await actors::detail::ask<void>(
        server_, actors::detail::sem_acquire{here, ticket, actors::detail::deadline_of(timeout), true},
        actors::detail::sem_withdraw{here, ticket}, actors::detail::local_timeout(timeout), std::move(stop));
  }
  /// Takes a permit only if one is free now (errc::timeout otherwise).
  [[nodiscard]] coro::task<result<void>> try_acquire() const {
    co_return co_await server_.request<void>(actors::detail::sem_acquire{runtime::current().node(), 0, 0, false},
                                             std::chrono::nanoseconds::max());
  }
  /// Gives `n` permits back.
  [[nodiscard]] coro::task<result<void>> release(std::int64_t n = 1) const {
    co_return co_await server_.request<void>(actors::detail::sem_release{runtime::current().node(), n},
                                             std::chrono::nanoseconds::max());
  }
  /// The free permits now (a snapshot).
  [[nodiscard]] coro::task<result<std::int64_t>> value() const {
    auto s = co_await status();
    if (!s) co_return s.error();
    co_return s->value;
  }
  [[nodiscard]] coro::task<result<actors::detail::sem_state>> status() const {
    co_return co_await server_.request<actors::detail::sem_state>(actors::detail::sem_query{});
  }
  /// Holds a permit until the guard is destroyed.
  class guard {
   public:
    guard() = default;
    explicit guard(actor_ref server) : server_(server) {}
    guard(guard&& o) noexcept : server_(std::exchange(o.server_, {})) {}
    guard& operator=(guard&& o) noexcept {
      if (this != &o) {
        reset();
        server_ = std::exchange(o.server_, {});
      }
      return *this;
    }
    ~guard() { reset(); }
    void reset() noexcept {
      if (!server_) return;
      try {
        runtime::current().post(std::exchange(server_, {}), actors::detail::sem_release{runtime::current().node(), 1},
                                {}, false);
      } catch (...) {
        // Only allocation can fail; the permit comes back when this process ends.
      }
    }

   private:
    actor_ref server_;
  };
  [[nodiscard]] coro::task<result<guard>> scoped(std::optional<std::chrono::nanoseconds> timeout = actors::forever,
                                                 std::stop_token stop = {}) const {
    auto r = co_await acquire(timeout, std::move(stop));
    if (!r) co_return r.error();
    co_return guard(server_);
  }
  void shutdown() const { runtime::current().stop(server_); }
  [[nodiscard]] actor_ref ref() const noexcept { return server_; }

 protected:
  actor_ref server_;
};

/// A semaphore that refuses to be released above its initial value, as
/// Python's BoundedSemaphore.
class bounded_semaphore : public semaphore {
 public:
  using semaphore::semaphore;
  static bounded_semaphore make(std::int64_t value = 1) {
    return bounded_semaphore(spawn(runtime::current(), &actors::detail::semaphore_server, value, true));
  }
};

}  // namespace troupe
