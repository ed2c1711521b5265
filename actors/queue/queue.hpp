#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stop_token>
#include <type_traits>
#include <utility>

#include "actors/common/protocol.hpp"
#include "actors/queue/queue_actor.hpp"
#include "actors/queue/queue_messages.hpp"
#include "framework/coro/ready_or.hpp"
#include "framework/runtime/spawn.hpp"
#include "framework/wire/codec.hpp"

namespace troupe {

/// A FIFO queue shared by any number of producers and consumers in any
/// processes, as Python's multiprocessing.Queue: the items live in a server
/// actor in the runtime that made the queue; the handle is a small value
/// that can be copied, passed to a child as an argument or sent in a
/// message.
///
/// Items of one producer arrive in the order it put them. In the server's
/// own runtime, a put or get that need not wait touches the queue's state
/// directly, with no message. Elsewhere put() waits for
/// the server's answer only when it must: with each answer the server may
/// grant credit — room it reserves for this handle's next puts — and those
/// puts are sent without waiting for the server. With its first credit a
/// handle family also gets a lane (queue_lane.hpp): a shared-memory ring
/// straight into the server, with credit of its own that the server
/// renews as it reads, so a steady producer's put of a small item is one
/// record written there and completes without suspending. Either way put()
/// returns only once the item has left the producer's process (it is in
/// the server's runtime, in the kernel's socket buffer, or visible in a
/// shared-memory ring the server reads), so an item put is delivered even
/// if the producer is killed right after. A consumer
/// whose process dies while waiting in get() takes nothing with it. Every
/// wait takes an optional timeout (enforced by the
/// server, so an item is never handed to a waiter that already gave up) and
/// a stop token (the wait is withdrawn; an item the server handed out before
/// the withdrawal arrived is still returned).
///
/// Errors: errc::timeout, errc::cancelled, errc::full / errc::empty (the try_
/// variants), errc::closed (after close()), errc::peer_down (the server's
/// process is gone). Thread: any runtime's thread.
template <class T>
class queue : public actors::protocol_handle {
  static_assert(wire::encodable<T>, "troupe: queue items cross processes, so T must be encodable");

 public:
  /// The item type.
  using value_type = T;
  queue() = default;
  /// Adopts the server at `server`; handles normally come from make(), a copy or a message.
  explicit queue(actor_ref server) : server_(server), credit_(std::make_shared<credit_state>()) {}

  /// Makes a queue served on the current runtime. maxsize 0: unbounded up to
  /// 1,048,576 waiting items, past which put waits as if full.
  static queue make(std::size_t maxsize = 0) {
    return queue(spawn(runtime::current(), &actors::detail::queue_server<T>, std::uint64_t{maxsize}));
  }

  /// Puts an item, waiting for room while the queue is full (or sending it
  /// at once under credit). Completes without suspending when it need not
  /// wait: beside the server, or through this process's lane.
  [[nodiscard]] coro::ready_or<result<void>> put(T item,
                                                 std::optional<std::chrono::nanoseconds> timeout = actors::forever,
                                                 std::stop_token stop = {}) const {
    fast_put f = put_now(item, true, stop);
    if (f.done) return std::move(*f.done);
    if (f.wake_lane != 0) return send_wake(server_, f.wake_lane);
    return put_impl(std::move(item), true, timeout, std::move(stop));
  }
  /// Puts without waiting for room: errc::full if there is none (the answer
  /// comes from the server unless the handle holds credit).
  [[nodiscard]] coro::ready_or<result<void>> try_put(T item) const {
    fast_put f = put_now(item, false, {});
    if (f.done) return std::move(*f.done);
    if (f.wake_lane != 0) return send_wake(server_, f.wake_lane);
    return put_impl(std::move(item), false, actors::forever, {});
  }

  /// Takes the oldest item, waiting while the queue is empty. Completes
  /// without suspending when the server runs in this runtime and holds an
  /// item.
  [[nodiscard]] coro::ready_or<result<T>> get(std::optional<std::chrono::nanoseconds> timeout = actors::forever,
                                              std::stop_token stop = {}) const {
    if (auto* q = local_core(); q != nullptr && !stop.stop_requested()) {
      if (q->running_low()) q->drain_lanes();
      if (!q->items.empty()) return result<T>{q->take()};
    }
    return get_wait(server_, timeout, std::move(stop));
  }
  /// Takes an item without waiting: errc::empty if there is none.
  [[nodiscard]] coro::ready_or<result<T>> try_get() const {
    if (auto* q = local_core()) {
      if (q->running_low()) q->drain_lanes();
      if (!q->items.empty()) return result<T>{q->take()};
      if (q->closed) return result<T>{error{errc::closed, "the queue is closed and empty"}};
      return result<T>{error{errc::empty, "the queue is empty"}};
    }
    return try_get_remote(server_);
  }

  /// Items waiting (a snapshot: others may change it at once).
  [[nodiscard]] coro::task<result<std::size_t>> qsize() const {
    auto s = co_await server_.request<actors::detail::queue_status>(actors::detail::queue_query{});
    if (!s) co_return s.error();
    co_return static_cast<std::size_t>(s->size);
  }
  /// qsize() == 0 (a snapshot).
  [[nodiscard]] coro::task<result<bool>> empty() const {
    auto n = co_await qsize();
    if (!n) co_return n.error();
    co_return *n == 0;
  }
  /// Whether a put would wait now (a snapshot).
  [[nodiscard]] coro::task<result<bool>> full() const {
    auto s = co_await server_.request<actors::detail::queue_status>(actors::detail::queue_query{});
    if (!s) co_return s.error();
    co_return s->size + s->reserved >= (s->maxsize == 0 ? actors::detail::queue_memory_bound : s->maxsize);
  }

  /// The server's counters, for diagnostics and tests.
  [[nodiscard]] coro::task<result<actors::detail::queue_status>> status() const {
    co_return co_await server_.request<actors::detail::queue_status>(actors::detail::queue_query{});
  }

  /// Refuses further puts; waiting getters and putters get errc::closed.
  /// Items already in the queue can still be taken.
  [[nodiscard]] coro::task<result<void>> close() const {
    co_return co_await server_.request<void>(actors::detail::queue_close{});
  }

  /// Ends the server (items still in it are dropped).
  void shutdown() const { runtime::current().stop(server_); }

  /// The server's address (to monitor it, or send it on).
  [[nodiscard]] actor_ref ref() const noexcept { return server_; }

  /// This handle family's lane into the server in this process, once the
  /// server granted one (null before, or with lanes off): for diagnostics
  /// and tests.
  [[nodiscard]] actors::detail::lane_writer* lane() const noexcept {
    return credit_ ? credit_->lane.load(std::memory_order_acquire) : nullptr;
  }

  /// @cond TROUPE_INTERNAL
 protected:
  static node_id here() { return runtime::current().node(); }

  static coro::task<result<T>> get_wait(actor_ref server, std::optional<std::chrono::nanoseconds> timeout,
                                        std::stop_token stop) {
    auto ticket = actors::detail::next_ticket();
    actors::detail::queue_get<T> m{here(), ticket, actors::detail::deadline_of(timeout), true};
    actors::detail::queue_withdraw withdraw{here(), ticket};
    co_return co_await actors::detail::ask<T>(server, std::move(m), withdraw, actors::detail::local_timeout(timeout),
                                              std::move(stop));
  }
  static coro::task<result<T>> try_get_remote(actor_ref server) {
    actors::detail::queue_get<T> m{here(), 0, 0, false};
    co_return co_await server.request<T>(std::move(m), std::chrono::nanoseconds::max());
  }

  // A put that needs nothing awaited: beside the server, or one record in
  // the lane. Otherwise (done empty, wake_lane 0) the item is untouched and
  // put_impl takes over; wake_lane: written, but the server sleeps and the
  // wake-up could not be sent without waiting.
  struct fast_put {
    std::optional<result<void>> done;
    std::uint64_t wake_lane = 0;
  };
  fast_put put_now(T& item, bool wait, const std::stop_token& stop) const {
    if (auto* q = local_core()) {
      if (stop.stop_requested()) return {};
      if (q->closed) return {result<void>{error{errc::closed, "put on a closed queue"}}};
      if (!q->getters.empty() || q->room()) {
        q->deliver(std::move(item));
        return {result<void>{}};
      }
      if (!wait) return {result<void>{error{errc::full, "the queue is full"}}};
      return {};
    }
    actors::detail::lane_writer* lw = lane_here();
    if (lw == nullptr || credit_->ahead_msgs.load(std::memory_order_relaxed) != lw->clean_upto ||
        !lw->has_credit() || runtime::current().route(server_.node()) == nullptr)
      return {};
    using outcome = actors::detail::lane_writer::outcome;
    const outcome out = lw->put(item);
    if (out != outcome::written && out != outcome::written_wake) return {};
    lw->starved = false;
    if (out == outcome::written_wake && !server_.try_send(actors::detail::queue_lane_wake{lw->id})) return {{}, lw->id};
    return {result<void>{}};
  }
  static coro::task<result<void>> send_wake(actor_ref server, std::uint64_t lane) {
    actors::detail::queue_lane_wake wake{lane};
    co_await server.send(wake);
    co_return result<void>{};
  }

  // put (wait) and try_put (!wait): beside the server the item is handed
  // over directly; elsewhere it goes ahead under credit, or asks the server.
  coro::task<result<void>> put_impl(T item, bool wait, std::optional<std::chrono::nanoseconds> timeout,
                                    std::stop_token stop) const {
    if (auto* q = local_core(); q != nullptr && !stop.stop_requested()) {
      if (q->closed) co_return error{errc::closed, "put on a closed queue"};
      if (!q->getters.empty() || q->room()) {
        q->deliver(std::move(item));
        co_return result<void>{};
      }
      if (!wait) co_return error{errc::full, "the queue is full"};
    }
    // A lane with credit: one record in shared memory, no message.
    actors::detail::lane_writer* lw = lane_here();
    if (lw != nullptr && credit_->ahead_msgs.load(std::memory_order_relaxed) != lw->clean_upto)
      lw = co_await clean_lane(lw);
    using outcome = actors::detail::lane_writer::outcome;
    if (lw != nullptr && !lw->has_credit() && !lw->starved) {
      // The consumers are behind: they read the lane (and so renew its
      // credit) a batch at a time. Waiting for that is far cheaper than the
      // message way; if it does not come within lane_credit_wait, the
      // message way it is, until the credit is back. It looks without
      // sleeping for a moment first (a consumer on another core renews the
      // credit within microseconds), then sleeps, and the server wakes it
      // as it renews the credit: the core goes to whoever wants it, and
      // the loop gets a turn between naps. When the server last ran on
      // this core, it moves to another core if one is likely free, or
      // else sleeps at once: only that lets the server run.
      const bool beside = lw->server_shares_core() && !lw->leave_server_core();
      const auto start = std::chrono::steady_clock::now();
      const auto until = start + actors::detail::lane_credit_wait;
      const auto spin_until = beside ? start : start + actors::detail::lane_credit_spin;
      while (!lw->has_credit()) {
        co_await uv::yield(runtime::current().loop());
        const auto now = std::chrono::steady_clock::now();
        if (now >= until) break;
        if (now < spin_until) continue;
        const auto left = std::chrono::duration_cast<std::chrono::microseconds>(until - now);
        if (lw->wait_for_credit(std::min(left, actors::detail::lane_credit_nap))) break;
      }
      if (!lw->has_credit()) lw->starved = true;
    }
    if (lw != nullptr && lw->has_credit()) {
      lw->starved = false;
      if (runtime::current().route(server_.node()) == nullptr)
        co_return error{errc::peer_down, "the queue's server was lost"};
      outcome out = lw->put(item);
      if (out == outcome::no_room && !lw->broken) {
        if (auto drained = co_await drain_lane(lw->id); !drained) co_return drained.error();
        out = lw->put(item);
        // Drained, the ring is empty: if it still has no room, messages
        // from now on cannot overtake anything in it.
        if (out == outcome::no_room) lw->broken = true;
      }
      if (out == outcome::unfit) ++lw->unfit_in_a_row;
      if (out == outcome::written_wake) {
        actors::detail::queue_lane_wake wake{lw->id};
        co_await server_.send(wake);
      }
      if (out == outcome::written || out == outcome::written_wake) co_return result<void>{};
    }
    bool ahead_ok = take_credit();
    if (!ahead_ok && credit_ && credit_->asking.load(std::memory_order_relaxed)) {
      // The answer to the ask sent at half credit is most likely already
      // in the link: one loop turn reads it, instead of a round trip.
      co_await uv::yield(runtime::current().loop());
      ahead_ok = take_credit();
    }
    if (ahead_ok) {
      actors::detail::queue_put_ahead<T> ahead{std::move(item), here()};
      if (lw != nullptr && !lw->broken && lw->unfit_in_a_row >= actors::detail::lane_unfit_before_close) {
        // This producer's items do not fit the lane: give it up (the server
        // reads the rest first), and with it the room reserved for it.
        lw->broken = true;
        actors::detail::queue_lane_close give_up{lw->id};
        co_await server_.send(give_up);
      }
      if (lw != nullptr && !lw->broken) {
        // Behind a mark in the lane, so it keeps its place among the
        // records written before and after it.
        std::optional<std::uint64_t> mark = lw->mark();
        if (!mark && !lw->broken) {
          if (auto drained = co_await drain_lane(lw->id); !drained) co_return drained.error();
          mark = lw->mark();
          if (!mark) lw->broken = true;
        }
        if (mark) {
          ahead.lane = lw->id;
          ahead.mark = *mark;
        }
      }
      // Sent as a message: a lane item written later must wait until the
      // server is known to have handled it (see clean_lane).
      if (ahead.lane == 0) credit_->ahead_msgs.fetch_add(1, std::memory_order_relaxed);
      co_await server_.send(std::move(ahead));
      refill_credit();
      // Acknowledged only once it has left this process: a kill after
      // put() returns must not lose it.
      troupe::detail::left_process_wait left{runtime::current(), server_.node()};
      if (!co_await left) co_return error{errc::peer_down, "the queue's server was lost before the item reached it"};
      co_return result<void>{};
    }
    result<std::uint32_t> granted = error{errc::cancelled, "not asked"};
    if (wait) {
      auto ticket = actors::detail::next_ticket();
      actors::detail::queue_put<T> m{std::move(item), here(), ticket, actors::detail::deadline_of(timeout), true};
      actors::detail::queue_withdraw withdraw{here(), ticket};
      granted = co_await actors::detail::ask<std::uint32_t>(server_, std::move(m), withdraw,
                                                            actors::detail::local_timeout(timeout), std::move(stop));
    } else {
      actors::detail::queue_put<T> m{std::move(item), here(), 0, 0, false};
      granted = co_await server_.request<std::uint32_t>(std::move(m), std::chrono::nanoseconds::max());
    }
    if (!granted) co_return granted.error();
    add_credit(*granted);
    if (*granted > 0) open_lane_once();
    co_return result<void>{};
  }

  // The queue's state when its server runs in this runtime: puts and gets
  // that need not wait then touch it directly, as the server would, in the
  // same order as the server's own handling (both run on this thread).
  actors::detail::queue_core<T>* local_core() const {
    return server_.node() == here() ? actors::detail::local_queue_core<T>(server_) : nullptr;
  }

  // Credit the server granted this handle (and its copies in this
  // process): puts it may send without waiting. It belongs to the runtime
  // it was granted to.
  struct credit_state {
    std::atomic<node_id> node{0};
    std::atomic<std::uint32_t> left{0};
    std::atomic<std::uint32_t> last_grant{0};
    std::atomic<bool> asking{false};  // a queue_credit_ask is on its way
    // The lane (queue_lane.hpp), once the server granted one; and the puts
    // sent ahead as messages outside it, so far.
    std::atomic<bool> lane_asked{false};
    std::atomic<actors::detail::lane_writer*> lane{nullptr};
    std::unique_ptr<actors::detail::lane_writer> lane_owner;
    std::atomic<std::uint64_t> ahead_msgs{0};
  };
  bool take_credit() const noexcept {
    if (!credit_ || credit_->node.load(std::memory_order_relaxed) != here()) return false;
    std::uint32_t n = credit_->left.load(std::memory_order_relaxed);
    while (n > 0 && !credit_->left.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) {
    }
    return n > 0;
  }
  void add_credit(std::uint32_t granted) const noexcept { add_credit(*credit_, granted); }
  static void add_credit(credit_state& c, std::uint32_t granted) noexcept {
    if (granted == 0) return;
    c.last_grant.store(granted, std::memory_order_relaxed);
    if (c.node.exchange(here(), std::memory_order_relaxed) != here())
      c.left.store(granted, std::memory_order_relaxed);
    else
      c.left.fetch_add(granted, std::memory_order_relaxed);
  }
  // Once half of the last grant is used, asks for more in the background,
  // so a producer that keeps putting rarely stops for an answer.
  void refill_credit() const {
    const std::uint32_t left = credit_->left.load(std::memory_order_relaxed);
    if (left > credit_->last_grant.load(std::memory_order_relaxed) / 2) return;
    if (credit_->asking.exchange(true, std::memory_order_relaxed)) return;
    (void)spawn(runtime::current(), &queue::ask_credit, server_, credit_);
  }
  static coro::task<void> ask_credit(inbox<down> self, actor_ref server, std::shared_ptr<credit_state> c) {
    (void)self;
    auto granted = co_await server.request<std::uint32_t>(actors::detail::queue_credit_ask{here()});
    if (granted) add_credit(*c, *granted);
    c->asking.store(false, std::memory_order_relaxed);
  }

  // This runtime's lane into the server, if it has a usable one.
  // The lane, once nothing sent ahead as a message can still be on its way
  // (else a record would overtake it): one round trip confirms the server
  // has handled them. Null: send a message this time.
  actors::detail::lane_writer* lane_here() const noexcept {
    if (!credit_) return nullptr;
    actors::detail::lane_writer* lw = credit_->lane.load(std::memory_order_acquire);
    return lw != nullptr && lw->node == here() && !lw->broken ? lw : nullptr;
  }
  coro::task<actors::detail::lane_writer*> clean_lane(actors::detail::lane_writer* lw) const {
    const std::uint64_t sent = credit_->ahead_msgs.load(std::memory_order_relaxed);
    if (auto drained = co_await drain_lane(lw->id); !drained) co_return nullptr;
    lw->clean_upto = std::max(lw->clean_upto, sent);
    co_return credit_->ahead_msgs.load(std::memory_order_relaxed) == lw->clean_upto && !lw->broken ? lw : nullptr;
  }
  coro::task<result<void>> drain_lane(std::uint64_t lane) const {
    actors::detail::queue_lane_drain m{lane};
    co_return co_await server_.request<void>(m);
  }
  // With its first credit, a handle family asks the server for a lane.
  void open_lane_once() const {
    if (!actors::detail::lanes_enabled() || credit_->lane_asked.exchange(true, std::memory_order_relaxed)) return;
    (void)spawn(runtime::current(), &queue::open_lane, server_, credit_);
  }
  static coro::task<void> open_lane(inbox<down> self, actor_ref server, std::shared_ptr<credit_state> c) {
    (void)self;
    actors::detail::queue_lane_open m{here()};
    auto grant = co_await server.request<actors::detail::queue_lane_grant>(m);
    if (!grant || !grant->ring.segment) co_return;
    const std::shared_ptr<transport::shm_segment>& seg = grant->ring.segment;
    auto parts = actors::detail::lane_open(*seg);
    if (!parts) co_return;
    seg->keep_from_forks();
    auto lw = std::make_unique<actors::detail::lane_writer>();
    lw->node = here();
    lw->id = grant->lane;
    lw->segment = seg;
    lw->control = parts->control;
    lw->ring = transport::ring_writer(parts->ring);
    // Items are small and many: the server pays for wake-up safety when
    // it sleeps, not the producer at every put.
    (void)lw->ring.publish_lightly();
    c->lane_owner = std::move(lw);
    c->lane.store(c->lane_owner.get(), std::memory_order_release);
  }

  actor_ref server_;
  std::shared_ptr<credit_state> credit_;
  /// @endcond
};

/// A queue whose consumers report each item done, as Python's JoinableQueue:
/// join() waits until every item put has been matched by a task_done().
template <class T>
class joinable_queue : public queue<T> {
 public:
  using queue<T>::queue;
  /// Makes a joinable queue served on the current runtime (maxsize as queue::make).
  static joinable_queue make(std::size_t maxsize = 0) { return joinable_queue(queue<T>::make(maxsize).ref()); }

  /// Marks one item taken with get() as processed. errc::invalid_argument if
  /// called more times than items were put.
  [[nodiscard]] coro::task<result<void>> task_done() const {
    co_return co_await this->server_.template request<void>(actors::detail::queue_task_done{});
  }
  /// Waits until every item put so far is done.
  [[nodiscard]] coro::task<result<void>> join(std::optional<std::chrono::nanoseconds> timeout = actors::forever,
                                              std::stop_token stop = {}) const {
    auto ticket = actors::detail::next_ticket();
    actors::detail::queue_join m{queue<T>::here(), ticket, actors::detail::deadline_of(timeout)};
    co_return co_await actors::detail::ask<void>(this->server_, m,
                                                 actors::detail::queue_withdraw{queue<T>::here(), ticket},
                                                 actors::detail::local_timeout(timeout), std::move(stop));
  }
};

/// The simplest queue, as Python's SimpleQueue: unbounded (up to the memory
/// bound), put, get, empty.
template <class T>
class simple_queue : public queue<T> {
 public:
  using queue<T>::queue;
  /// Makes a simple queue served on the current runtime.
  static simple_queue make() { return simple_queue(queue<T>::make(0).ref()); }
};

}  // namespace troupe
