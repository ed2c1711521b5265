#pragma once

#include <chrono>
#include <cstdint>
#include <atomic>
#include <memory>
#include <optional>
#include <random>
#include <stop_token>
#include <utility>

#include "actors/common/protocol.hpp"
#include "actors/lock/lock_actor.hpp"
#include "actors/lock/lock_messages.hpp"
#include "actors/lock/lock_shared.hpp"
#include "framework/coro/ready_or.hpp"
#include "framework/runtime/spawn.hpp"
#include "framework/wire/codec.hpp"

namespace troupe {

template <class Lock>
class lock_guard;

namespace actors::detail {

std::uint64_t fresh_owner_id() noexcept;

/// Spins briefly for a free word before the caller falls back to the server:
/// a holder keeps a lock for nanoseconds in the common case, far less than a
/// message round trip. Returns whether the word was taken for `slot`.
bool spin_for(std::atomic<std::uint64_t>& word, std::uint64_t slot) noexcept;

}  // namespace actors::detail

/// What lock, rlock and condition share: the server's ref, the shared
/// word, and who this handle is (its owner id). Not made directly: use
/// lock, rlock or condition.
class lock_base {
 public:
  lock_base() = default;
  /// Adopts the server at `server` and its shared word's segment, as a new
  /// owner; handles normally come from make(), a copy or a message.
  lock_base(actor_ref server, std::shared_ptr<transport::shm_segment> segment) noexcept
      : server_(server), segment_(std::move(segment)), owner_(actors::detail::fresh_owner_id()) {}

  /// Takes the lock, waiting while someone else holds it. The grant says
  /// whether the previous holder died holding it (owner_died). Uncontended,
  /// this is a compare-and-swap in shared memory and completes without
  /// suspending. errc::timeout, errc::cancelled (stop), errc::peer_down
  /// (the server's process is gone and the lock is held).
  [[nodiscard]] coro::ready_or<result<lock_grant>> acquire(
      std::optional<std::chrono::nanoseconds> timeout = actors::forever, std::stop_token stop = {}) const {
    if (auto g = try_fast(true)) return result<lock_grant>(*g);
    return slow_acquire(server_, *this, actors::detail::deadline_of(timeout), actors::detail::local_timeout(timeout), std::move(stop), true);
  }
  /// Takes the lock only if it is free now: errc::timeout if it is held.
  [[nodiscard]] coro::ready_or<result<lock_grant>> try_acquire() const {
    if (auto g = try_fast(false)) return result<lock_grant>(*g);
    // Only a runtime with a slot knows the word says "held"; without a
    // shared word (a condition's lock) the server decides.
    if (segment_ && my_slot() != 0 && (shared().word.load(std::memory_order_relaxed) & actors::detail::lock_shared::died_bit) == 0)
      return result<lock_grant>(error{errc::timeout, "the lock is held"});
    return slow_acquire(server_, *this, 0, std::chrono::nanoseconds::max(), {}, false);
  }
  /// Releases it. errc::invalid_argument if it is not held (or, for an
  /// rlock, held by another owner). Completes without suspending unless
  /// someone waits for the lock.
  [[nodiscard]] coro::ready_or<result<void>> release() const {
    switch (release_fast()) {
      case released::done:
        return result<void>();
      case released::not_held:
        return result<void>(not_held_error());
      case released::ask_server:
        break;
    }
    return slow_release(server_, actors::detail::lock_release{runtime::current().node(), owner_});
  }
  /// Whether someone holds it now (a snapshot of the shared word).
  [[nodiscard]] bool locked() const noexcept {
    return segment_ && (shared().word.load(std::memory_order_acquire) & actors::detail::lock_shared::slot_mask) != 0;
  }
  /// The server's view: holder, depth, waiters.
  [[nodiscard]] coro::task<result<actors::detail::lock_state>> status() const {
    co_return co_await server_.request<actors::detail::lock_state>(actors::detail::lock_query{});
  }

  /// Releases without waiting for an answer (guards, destructors).
  void release_later() const {
    if (release_fast() == released::ask_server)
      runtime::current().post(server_, actors::detail::lock_release{runtime::current().node(), owner_}, {}, false);
  }
  /// Stops the server actor; later calls through any handle fail with errc::no_actor or errc::peer_down.
  void shutdown() const { runtime::current().stop(server_); }

  /// The server's address (to monitor it, or send it on).
  [[nodiscard]] actor_ref ref() const noexcept { return server_; }
  /// The shared memory holding the lock word (what a handle carries to other processes).
  [[nodiscard]] const std::shared_ptr<transport::shm_segment>& segment() const noexcept { return segment_; }
  /// This handle's owner id (an rlock's copies share it).
  [[nodiscard]] std::uint64_t owner() const noexcept { return owner_; }

  /// @cond TROUPE_INTERNAL
 protected:
  enum class released { done, not_held, ask_server };

  [[nodiscard]] actors::detail::lock_shared& shared() const noexcept { return *segment_->as<actors::detail::lock_shared>(); }
  // This runtime's slot, 0 if the server has not given it one yet.
  [[nodiscard]] std::uint64_t my_slot() const noexcept;
  [[nodiscard]] bool recursive() const noexcept { return recursive_; }
  std::optional<lock_grant> try_fast(bool spin) const noexcept;
  released release_fast() const noexcept;
  error not_held_error() const;

  static coro::task<result<lock_grant>> slow_acquire(actor_ref server, lock_base self, std::uint64_t deadline,
                                                     std::chrono::nanoseconds wait, std::stop_token stop, bool block);
  static coro::task<result<void>> slow_release(actor_ref server, actors::detail::lock_release msg);
  // The slow path of scoped(): acquire through the server, then guard.
  template <class Lock>
  static coro::task<result<lock_guard<Lock>>> guarded(Lock l, std::optional<std::chrono::nanoseconds> timeout,
                                                     std::stop_token stop) {
    auto g = co_await slow_acquire(l.server_, l, actors::detail::deadline_of(timeout), actors::detail::local_timeout(timeout), std::move(stop), true);
    if (!g) co_return g.error();
    co_return lock_guard<Lock>(std::move(l), *g);
  }

  actor_ref server_;
  std::shared_ptr<transport::shm_segment> segment_;
  std::uint64_t owner_ = 0;
  bool recursive_ = false;
  mutable std::uint64_t slot_ = 0;  // cache of my_slot()
  /// @endcond
};


/// Holds a lock until destroyed (or release() is called), as a `with`
/// block in Python. Move-only.
template <class Lock>
class lock_guard {
 public:
  lock_guard() = default;
  /// A guard holding `l` as granted by `g`; made by scoped().
  lock_guard(Lock l, lock_grant g) : lock_(std::move(l)), grant_(g), held_(true) {}
  /// Takes over the hold; `o` releases nothing.
  lock_guard(lock_guard&& o) noexcept : lock_(o.lock_), grant_(o.grant_), held_(std::exchange(o.held_, false)) {}
  /// Releases the lock held before, then takes over `o`'s.
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
  /// How the lock was granted.
  [[nodiscard]] const lock_grant& grant() const noexcept { return grant_; }
  /// True when the previous holder's process died holding the lock:
  /// what it guarded may be half-updated.
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
class lock : public lock_base {
 public:
  lock() = default;
  /// Adopts the server at `server` and its shared word's segment; handles normally come from make(), a copy or a message.
  lock(actor_ref server, std::shared_ptr<transport::shm_segment> segment) noexcept
      : lock_base(server, std::move(segment)) {}
  /// Makes a lock served on the current runtime. Throws error_exception if
  /// its shared memory cannot be had.
  static lock make();
  /// Acquires and returns a guard that releases when it goes out of scope.
  /// Uncontended, completes without suspending (as acquire).
  [[nodiscard]] coro::ready_or<result<lock_guard<lock>>> scoped(
      std::optional<std::chrono::nanoseconds> timeout = actors::forever, std::stop_token stop = {}) const {
    if (auto g = try_fast(true)) return result<lock_guard<lock>>(lock_guard<lock>(*this, *g));
    return guarded(*this, timeout, std::move(stop));
  }
  /// Acquires without suspending if the lock is free (nullopt otherwise):
  /// the cheapest way to guard a few instructions.
  [[nodiscard]] std::optional<lock_guard<lock>> try_scoped() const {
    auto g = try_fast(false);
    if (!g) return std::nullopt;
    return lock_guard<lock>(*this, *g);
  }
};

/// A re-entrant lock, as Python's RLock: the owner may acquire it again and
/// must release it as many times; a release by anyone else is an error. The
/// owner is the handle: copies of one handle are one owner, and each process
/// that receives a handle (as an argument or in a message) is its own owner.
class rlock : public lock_base {
 public:
  rlock() = default;
  /// Adopts the server at `server` and its shared word's segment; handles normally come from make(), a copy or a message.
  rlock(actor_ref server, std::shared_ptr<transport::shm_segment> segment) noexcept
      : lock_base(server, std::move(segment)) {
    recursive_ = true;
  }
  /// Makes an rlock served on the current runtime. Throws error_exception if
  /// its shared memory cannot be had.
  static rlock make();
  /// A handle for a different owner of the same rlock (another task in
  /// this process that must not share ownership).
  [[nodiscard]] rlock another_owner() const { return rlock(server_, segment_); }
  /// Acquires (again, if this owner holds it) and returns a guard that
  /// releases once when it goes out of scope.
  [[nodiscard]] coro::ready_or<result<lock_guard<rlock>>> scoped(
      std::optional<std::chrono::nanoseconds> timeout = actors::forever, std::stop_token stop = {}) const {
    if (auto g = try_fast(true)) return result<lock_guard<rlock>>(lock_guard<rlock>(*this, *g));
    return guarded(*this, timeout, std::move(stop));
  }
  /// Acquires without suspending if the lock is free or held by this owner
  /// (nullopt otherwise).
  [[nodiscard]] std::optional<lock_guard<rlock>> try_scoped() const {
    auto g = try_fast(false);
    if (!g) return std::nullopt;
    return lock_guard<rlock>(*this, *g);
  }
};

}  // namespace troupe

/// @cond TROUPE_INTERNAL
/// A lock handle crosses processes as its server's ref plus its shared
/// word's segment; the receiving process maps the segment (once) and, for
/// an rlock, becomes a new owner.
template <class H>
  requires std::derived_from<H, troupe::lock_base>
struct troupe::wire::codec<H> {
  static constexpr std::size_t min_size = 17;
  static void encode(troupe::wire::writer& w, const H& h) {
    troupe::wire::encode(w, h.ref());
    troupe::wire::encode(w, static_cast<bool>(h.segment()));
    if (h.segment()) troupe::wire::encode(w, troupe::actors::detail::lock_segment{h.segment()});
  }
  static bool decode(troupe::wire::reader& r, H& out) {
    troupe::actor_ref ref;
    bool shared = false;
    troupe::actors::detail::lock_segment seg;
    if (!troupe::wire::decode(r, ref) || !troupe::wire::decode(r, shared)) return false;
    if (shared && !troupe::wire::decode(r, seg)) return false;
    out = H(ref, std::move(seg.segment));
    return true;
  }
};
/// @endcond
