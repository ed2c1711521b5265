#pragma once

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
/// puts are sent without waiting for the server. Either way put() returns
/// only once the item has left the producer's process (it is in the
/// server's runtime, in the kernel's socket buffer, or visible in the
/// server's shared-memory ring), so an item put is delivered even if the
/// producer is killed right after. A consumer
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
  /// at once under credit).
  [[nodiscard]] coro::task<result<void>> put(T item, std::optional<std::chrono::nanoseconds> timeout = actors::forever,
                                             std::stop_token stop = {}) const {
    return put_impl(std::move(item), true, timeout, std::move(stop));
  }
  /// Puts without waiting for room: errc::full if there is none (the answer
  /// comes from the server unless the handle holds credit).
  [[nodiscard]] coro::task<result<void>> try_put(T item) const {
    return put_impl(std::move(item), false, actors::forever, {});
  }

  /// Takes the oldest item, waiting while the queue is empty.
  [[nodiscard]] coro::task<result<T>> get(std::optional<std::chrono::nanoseconds> timeout = actors::forever,
                                          std::stop_token stop = {}) const {
    if (auto* q = local_core(); q != nullptr && !q->items.empty() && !stop.stop_requested()) co_return q->take();
    auto ticket = actors::detail::next_ticket();
    actors::detail::queue_get<T> m{here(), ticket, actors::detail::deadline_of(timeout), true};
    co_return co_await actors::detail::ask<T>(server_, std::move(m), actors::detail::queue_withdraw{here(), ticket},
                                              actors::detail::local_timeout(timeout), std::move(stop));
  }
  /// Takes an item without waiting: errc::empty if there is none.
  [[nodiscard]] coro::task<result<T>> try_get() const {
    if (auto* q = local_core()) {
      if (!q->items.empty()) co_return q->take();
      if (q->closed) co_return error{errc::closed, "the queue is closed and empty"};
      co_return error{errc::empty, "the queue is empty"};
    }
    actors::detail::queue_get<T> m{here(), 0, 0, false};
    co_return co_await server_.request<T>(std::move(m), std::chrono::nanoseconds::max());
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

  /// @cond TROUPE_INTERNAL
 protected:
  static node_id here() { return runtime::current().node(); }

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
    bool ahead_ok = take_credit();
    if (!ahead_ok && credit_ && credit_->asking.load(std::memory_order_relaxed)) {
      // The answer to the ask sent at half credit is most likely already
      // in the link: one loop turn reads it, instead of a round trip.
      co_await uv::yield(runtime::current().loop());
      ahead_ok = take_credit();
    }
    if (ahead_ok) {
      actors::detail::queue_put_ahead<T> ahead{std::move(item), here()};
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
