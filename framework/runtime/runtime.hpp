#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "framework/base/error.hpp"
#include "framework/base/result.hpp"
#include "framework/coro/task.hpp"
#include "framework/runtime/actor_ref.hpp"
#include "framework/runtime/envelope.hpp"
#include "framework/runtime/exit_reason.hpp"
#include "framework/runtime/mailbox.hpp"
#include "framework/uv/block_on.hpp"
#include "framework/uv/loop.hpp"
#include "framework/uv/timer_queue.hpp"

namespace troupe {

/// Settings of one runtime.
struct runtime_options {
  /// Messages an actor's mailbox holds before ordinary senders suspend.
  std::size_t mailbox_bound = 1024;
};

/// The value of a reply to a request whose response type is void.
struct ack {
  static constexpr std::uint64_t troupe_type_id = 2;
};

namespace detail {

/// One actor's state inside its runtime.
struct actor_cell {
  actor_cell(uv::loop& l, std::size_t bound) : box(l, bound) {}
  actor_id id = 0;
  mailbox box;
  std::span<const wire::type_id_t> accepts;  ///< message types the actor handles
  std::vector<actor_ref> monitors;           ///< who gets `down` when it ends
  exit_reason reason;

  [[nodiscard]] bool accepts_type(wire::type_id_t t) const noexcept {
    for (auto a : accepts)
      if (a == t) return true;
    return false;
  }
};

/// A request waiting for its reply; lives in the request's awaiter.
struct pending_request : uv::timer_node {
  std::uint64_t correlation = 0;
  /// The reply arrived: `value` points at a message of type `type`.
  void (*accept)(pending_request*, wire::type_id_t type, std::string_view name, void* value) noexcept = nullptr;
  /// The request failed (error reply, actor gone, link lost).
  void (*fail)(pending_request*, error e) noexcept = nullptr;
};

}  // namespace detail

/// One runtime: a libuv loop on one thread, the actors living there, the
/// requests waiting for replies. Each thread has at most one; send() and
/// request() on refs find it through runtime::current().
///
/// Lifetime: the runtime must outlive every inbox and task it runs. Its
/// destructor stops the actors still alive (their receive() returns
/// errc::closed), runs the loop until they have finished, and closes the
/// loop.
/// Thread: everything belongs to the thread that created it.
class runtime {
 public:
  explicit runtime(runtime_options options = {});
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// The runtime of the calling thread; asserts that there is one.
  static runtime& current();
  /// The runtime of the calling thread, or nullptr.
  static runtime* current_or_null() noexcept;

  [[nodiscard]] uv::loop& loop() noexcept { return loop_; }
  [[nodiscard]] node_id node() const noexcept { return node_; }
  [[nodiscard]] const runtime_options& options() const noexcept { return options_; }

  /// Runs `main` to completion on this thread, driving the loop, and
  /// returns its value or rethrows its exception.
  template <class T>
  T block_on(coro::task<T> main) {
    return uv::block_on(loop_, std::move(main));
  }

  /// Asks an actor to stop: its mailbox closes, so its receive() returns
  /// errc::closed and a well-behaved actor returns. Its exit reason is
  /// `stopped` unless it then throws.
  void stop(const actor_ref& ref);

  /// Has `watcher` receive one `down` when `target` ends. If the target does
  /// not exist, the down (reason no_actor) is sent at once.
  void monitor(const actor_ref& watcher, const actor_ref& target);

  /// Whether the actor exists and has not ended.
  [[nodiscard]] bool alive(const actor_ref& ref) const noexcept;
  /// Actors currently alive in this runtime.
  [[nodiscard]] std::size_t actor_count() const noexcept { return live_cells_; }

  /// Counters for diagnostics.
  struct counters {
    std::uint64_t dropped = 0;     ///< messages to actors that did not exist
    std::uint64_t unexpected = 0;  ///< messages of a type the actor does not accept
  };
  [[nodiscard]] const counters& stats() const noexcept { return stats_; }

  // ---- used by the messaging templates; not for application code ----

  detail::actor_cell* find(const actor_ref& ref) const noexcept;
  detail::actor_cell* create_cell(std::span<const wire::type_id_t> accepts);
  /// Ends an actor: closes its mailbox, fails the requests still in it,
  /// sends `down` to its monitors and frees its slot.
  void retire(detail::actor_cell* cell) noexcept;

  enum class post_outcome { delivered, full, dropped };
  /// Delivers a message to a local actor. `bounded` sends respect the
  /// mailbox bound (returning `full` when there is no room).
  template <class M>
  post_outcome post(const actor_ref& to, M&& msg, detail::reply_address reply, bool bounded);

  std::uint64_t register_request(detail::pending_request* p);
  void forget_request(std::uint64_t correlation) noexcept;

  template <class R>
  void deliver_reply(const detail::reply_address& to, R&& value);
  void deliver_error(const detail::reply_address& to, error e);

  void actor_started() noexcept { ++live_roots_; }
  void actor_finished() noexcept { --live_roots_; }

 private:
  void reject(detail::actor_cell* cell, const detail::reply_address& reply, std::string_view type_name);
  void shutdown() noexcept;

  struct slot {
    std::unique_ptr<detail::actor_cell> cell;
    std::uint32_t generation = 1;
  };

  runtime_options options_;
  uv::loop loop_;
  node_id node_;
  std::vector<slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::size_t live_cells_ = 0;
  std::size_t live_roots_ = 0;
  std::uint64_t next_correlation_ = 1;
  std::unordered_map<std::uint64_t, detail::pending_request*> pending_;
  counters stats_;
};

template <class M>
runtime::post_outcome runtime::post(const actor_ref& to, M&& msg, detail::reply_address reply,
                                    bool bounded) {
  using D = std::decay_t<M>;
  detail::actor_cell* cell = find(to);
  if (cell == nullptr || cell->box.closed()) {
    ++stats_.dropped;
    if (reply.correlation != 0)
      deliver_error(reply, error{errc::no_actor, to.to_string() + " does not exist"});
    return post_outcome::dropped;
  }
  if (!cell->accepts_type(wire::type_id<D>())) {
    reject(cell, reply, base::type_name<D>());
    return post_outcome::dropped;
  }
  if (bounded && cell->box.full()) return post_outcome::full;
  cell->box.tail().emplace(std::forward<M>(msg), actor_ref{}, reply);
  cell->box.commit();
  return post_outcome::delivered;
}

template <class R>
void runtime::deliver_reply(const detail::reply_address& to, R&& value) {
  using D = std::decay_t<R>;
  if (to.correlation == 0) return;
  if (to.node != node_) return;  // replies across processes arrive with the link layer
  auto it = pending_.find(to.correlation);
  if (it == pending_.end()) return;  // the requester gave up (timeout, cancel)
  detail::pending_request* p = it->second;
  pending_.erase(it);
  p->accept(p, wire::type_id<D>(), base::type_name<D>(), &value);
}

}  // namespace troupe
