#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <utility>

#include "actors/common/protocol.hpp"
#include "actors/semaphore/semaphore_actor.hpp"
#include "actors/semaphore/semaphore_messages.hpp"
#include "actors/semaphore/semaphore_shared.hpp"
#include "framework/coro/ready_or.hpp"
#include "framework/runtime/spawn.hpp"
#include "framework/wire/codec.hpp"

namespace troupe {

class semaphore_guard;

/// A counting semaphore shared across processes, as Python's Semaphore.
/// The free count lives in shared memory: taking a free permit, or giving
/// one back while nobody waits, is a compare-and-swap and completes without
/// suspending; the server actor queues waiters (first come, first served),
/// hands them permits as they come back, and returns the permits a process
/// held when it dies (see semaphore_shared for the one instruction-wide
/// window in which a kill loses a permit instead). Handles are small values:
/// copy them, pass them to children, send them in messages.
/// Errors: errc::timeout, errc::cancelled, errc::peer_down, and
/// errc::invalid_argument for a release count ≤ 0 or a release a bounded
/// semaphore refuses. Thread: any runtime's thread.
class semaphore {
 public:
  /// An empty handle; assign one made by make() before use.
  semaphore() = default;
  /// Adopts the server at `server` and its shared word's segment; handles normally come from make(), a copy or a message.
  semaphore(actor_ref server, std::shared_ptr<transport::shm_segment> segment) noexcept
      : server_(server), segment_(std::move(segment)) {}
  /// Makes a semaphore with `value` permits, served on the current runtime.
  /// Throws error_exception if value is outside [0, 2^32) or its shared
  /// memory cannot be had.
  static semaphore make(std::int64_t value = 1) { return make_with(value, false); }

  /// Takes a permit, waiting while none is free.
  [[nodiscard]] coro::ready_or<result<void>> acquire(std::optional<std::chrono::nanoseconds> timeout = actors::forever,
                                                     std::stop_token stop = {}) const {
    if (try_fast()) return result<void>();
    return slow_acquire(server_, actors::detail::deadline_of(timeout), actors::detail::local_timeout(timeout),
                        std::move(stop), true);
  }
  /// Takes a permit only if one is free now (errc::timeout otherwise).
  [[nodiscard]] coro::ready_or<result<void>> try_acquire() const {
    if (try_fast()) return result<void>();
    return slow_acquire(server_, 0, std::chrono::nanoseconds::max(), {}, false);
  }
  /// Gives `n` permits back; suspends only when someone waits for them.
  [[nodiscard]] coro::ready_or<result<void>> release(std::int64_t n = 1) const {
    if (n <= 0) return result<void>(error{errc::invalid_argument, "release count must be positive"});
    std::int64_t uncounted = 0;
    switch (release_fast(n, uncounted)) {
      case released::done:
        return result<void>();
      case released::over_release:
        return result<void>(over_release_error());
      case released::ask_server:
        break;
    }
    return slow_release(server_, actors::detail::sem_release{runtime::current().node(), n, uncounted});
  }
  /// The free permits now (a snapshot of the shared word).
  [[nodiscard]] std::int64_t value() const noexcept {
    if (!segment_) return 0;
    return static_cast<std::int64_t>(shared().word.load(std::memory_order_acquire) &
                                     actors::detail::semaphore_shared::count_mask);
  }
  /// The server's view: free permits, initial value, waiters.
  [[nodiscard]] coro::task<result<actors::detail::sem_state>> status() const {
    co_return co_await server_.request<actors::detail::sem_state>(actors::detail::sem_query{});
  }

  /// Acquires and returns a guard that gives the permit back when it goes
  /// out of scope.
  [[nodiscard]] coro::task<result<semaphore_guard>> scoped(
      std::optional<std::chrono::nanoseconds> timeout = actors::forever, std::stop_token stop = {}) const;
  /// The guard scoped() returns.
  using guard = semaphore_guard;

  /// Stops the server actor; later calls through any handle fail with errc::no_actor or errc::peer_down.
  void shutdown() const { runtime::current().stop(server_); }
  /// The server's address (to monitor it, or send it on).
  [[nodiscard]] actor_ref ref() const noexcept { return server_; }
  /// The shared memory holding the permit count (what a handle carries to other processes).
  [[nodiscard]] const std::shared_ptr<transport::shm_segment>& segment() const noexcept { return segment_; }

 protected:
  /// make() for semaphore and bounded_semaphore.
  static semaphore make_with(std::int64_t value, bool bounded);

 private:
  friend class semaphore_guard;
  enum class released { done, over_release, ask_server };
  [[nodiscard]] actors::detail::semaphore_shared& shared() const noexcept {
    return *segment_->as<actors::detail::semaphore_shared>();
  }
  [[nodiscard]] std::uint64_t my_slot() const noexcept;
  [[nodiscard]] bool try_fast() const noexcept;
  released release_fast(std::int64_t n, std::int64_t& uncounted) const noexcept;
  void release_later() const {
    std::int64_t uncounted = 0;
    if (release_fast(1, uncounted) == released::ask_server)
      runtime::current().post(server_, actors::detail::sem_release{runtime::current().node(), 1, uncounted}, {},
                              false);
  }
  static error over_release_error();
  static coro::task<result<void>> slow_acquire(actor_ref server, std::uint64_t deadline,
                                               std::chrono::nanoseconds wait, std::stop_token stop, bool block);
  static coro::task<result<void>> slow_release(actor_ref server, actors::detail::sem_release msg);

  actor_ref server_;
  std::shared_ptr<transport::shm_segment> segment_;
  mutable std::uint64_t slot_ = 0;  // cache of my_slot()
};

/// Holds a permit of a semaphore until destroyed (or reset()). Move-only.
class semaphore_guard {
 public:
  semaphore_guard() = default;
  /// Takes over one permit of `s` that the caller acquired.
  explicit semaphore_guard(semaphore s) : sem_(std::move(s)), held_(true) {}
  /// Takes over the permit; `o` gives back nothing.
  semaphore_guard(semaphore_guard&& o) noexcept : sem_(o.sem_), held_(std::exchange(o.held_, false)) {}
  /// Gives back the permit held before, then takes over `o`'s.
  semaphore_guard& operator=(semaphore_guard&& o) noexcept {
    if (this != &o) {
      reset();
      sem_ = o.sem_;
      held_ = std::exchange(o.held_, false);
    }
    return *this;
  }
  ~semaphore_guard() { reset(); }
  /// Gives the permit back now (without waiting for the server, if it must
  /// be told).
  void reset() noexcept {
    if (!std::exchange(held_, false)) return;
    try {
      sem_.release_later();
    } catch (...) {
      // Only allocation can fail; the permit comes back when this process ends.
    }
  }

 private:
  semaphore sem_;
  bool held_ = false;
};

inline coro::task<result<semaphore_guard>> semaphore::scoped(std::optional<std::chrono::nanoseconds> timeout,
                                                             std::stop_token stop) const {
  auto r = co_await acquire(timeout, std::move(stop));
  if (!r) co_return r.error();
  co_return semaphore_guard(*this);
}

/// A semaphore that refuses to be released above its initial value, as
/// Python's BoundedSemaphore.
class bounded_semaphore : public semaphore {
 public:
  /// The semaphore constructors.
  using semaphore::semaphore;
  /// A bounded view of `s` (the server enforces the bound it was made with).
  bounded_semaphore(semaphore s) noexcept : semaphore(std::move(s)) {}
  /// Makes a bounded semaphore with `value` permits, served on the current runtime;
  /// errors as semaphore::make().
  static bounded_semaphore make(std::int64_t value = 1) { return bounded_semaphore(make_with(value, true)); }
};

}  // namespace troupe

/// @cond TROUPE_INTERNAL
/// A semaphore handle crosses processes as its server's ref plus its
/// shared word's segment, which the receiving process maps (once).
template <class H>
  requires std::derived_from<H, troupe::semaphore>
struct troupe::wire::codec<H> {
  static constexpr std::size_t min_size = 17;
  static void encode(troupe::wire::writer& w, const H& h) {
    troupe::wire::encode(w, h.ref());
    troupe::wire::encode(w, troupe::actors::detail::semaphore_segment{h.segment()});
  }
  static bool decode(troupe::wire::reader& r, H& out) {
    troupe::actor_ref ref;
    troupe::actors::detail::semaphore_segment seg;
    if (!troupe::wire::decode(r, ref) || !troupe::wire::decode(r, seg)) return false;
    out = H(ref, std::move(seg.segment));
    return true;
  }
};
/// @endcond
