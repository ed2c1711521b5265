#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "framework/base/error.hpp"
#include "framework/base/result.hpp"
#include "framework/coro/task.hpp"
#include "framework/runtime/actor_ref.hpp"
#include "framework/runtime/envelope.hpp"
#include "framework/runtime/exit_reason.hpp"
#include "framework/runtime/link.hpp"
#include "framework/runtime/mailbox.hpp"
#include "framework/transport/frame_io.hpp"
#include "framework/uv/block_on.hpp"
#include "framework/uv/loop.hpp"
#include "framework/uv/timer_queue.hpp"

namespace troupe {

/// Settings of one runtime.
struct runtime_options {
  /// Messages an actor's mailbox holds before ordinary senders suspend.
  std::size_t mailbox_bound = 1024;
  /// The node id; 0 picks a fresh one (a child takes the one its parent
  /// assigned, so the parent can route to it from the start).
  node_id node = 0;
};

/// The value of a reply to a request whose response type is void.
struct ack {
  /// The message's fixed wire type id.
  static constexpr std::uint64_t troupe_type_id = 2;
};

namespace detail {

// Node ids: a process's pid above bit 20 keeps them distinct within one
// host, a counter below it across the runtimes of one process. Bits 48 and
// up name the host when the program spans several (rank + 1; 0 on one
// machine), so that ids stay distinct across hosts and every node of a host
// is reached through the link to it.
inline constexpr int host_shift = 48;
inline constexpr node_id host_mask = ~node_id{0} << host_shift;
/// The host part of a node id.
constexpr node_id host_of(node_id n) noexcept { return n & host_mask; }
/// The host part for rank `r` of a cluster.
constexpr node_id host_of_rank(int r) noexcept { return static_cast<node_id>(r + 1) << host_shift; }
/// A node id that stands for every node of one host (the host part alone),
/// as node_down notices use when a whole host is gone.
constexpr bool is_whole_host(node_id n) noexcept { return n != 0 && (n & ~host_mask) == 0; }
/// Whether losing `lost` loses `n`.
constexpr bool covers(node_id lost, node_id n) noexcept {
  return lost == n || (is_whole_host(lost) && host_of(n) == lost);
}

class link;
class link_handler;
struct process_state;
struct thread_state;

/// How a message type that arrived over a link becomes an envelope: decodes
/// `bytes` as the type and emplaces it. `decode` is null for types that
/// cannot cross processes (not encodable).
struct message_decoder {
  wire::type_id_t type = 0;
  result<void> (*decode)(std::span<const std::byte> bytes, envelope& slot, actor_ref sender,
                         reply_address reply) = nullptr;
};

template <class T>
result<void> decode_into(std::span<const std::byte> bytes, envelope& slot, actor_ref sender, reply_address reply) {
  auto v = wire::from_bytes<T>(bytes);
  if (!v) return v.error();
  slot.emplace(std::move(*v), sender, reply);
  return {};
}

template <class T>
constexpr message_decoder decoder_for() noexcept {
  if constexpr (wire::encodable<T>) return message_decoder{wire::type_id<T>(), &decode_into<T>};
  else return message_decoder{wire::type_id<T>(), nullptr};
}

/// One actor's state inside its runtime.
struct actor_cell {
  actor_cell(uv::loop& l, std::size_t bound) : box(l, bound) {}
  actor_id id = 0;
  mailbox box;
  std::span<const message_decoder> accepts;  ///< message types the actor handles
  std::vector<actor_ref> monitors;           ///< who gets `down` when it ends
  exit_reason reason;

  [[nodiscard]] const message_decoder* decoder(wire::type_id_t t) const noexcept {
    for (const auto& a : accepts)
      if (a.type == t) return &a;
    return nullptr;
  }
  [[nodiscard]] bool accepts_type(wire::type_id_t t) const noexcept { return decoder(t) != nullptr; }
};

/// A request waiting for its reply; lives in the request's awaiter.
struct pending_request : uv::timer_node {
  std::uint64_t correlation = 0;
  node_id node = 0;  ///< where the request went, to fail it when that node is lost
  /// The reply arrived: `value` points at a message of type `type`.
  void (*accept)(pending_request*, wire::type_id_t type, std::string_view name, void* value) noexcept = nullptr;
  /// The request failed (error reply, actor gone, link lost).
  void (*fail)(pending_request*, error e) noexcept = nullptr;
  /// The reply arrived over a link: decode `bytes` as the expected type.
  /// False if they do not decode (the link is then closed).
  bool (*accept_bytes)(pending_request*, wire::type_id_t type, std::span<const std::byte> bytes) noexcept = nullptr;
};

/// A monitor this runtime set on an actor of another node, so that a down
/// can be made up locally if that node is lost before it sends one.
struct remote_watch {
  actor_ref watcher;
  actor_ref target;
};

/// Ends the children still running when their runtime shuts down (defined
/// with the process layer).
void end_children(runtime& rt) noexcept;

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
  /// Makes this thread's runtime (at most one per thread) with a fresh loop.
  explicit runtime(runtime_options options = {});
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// The runtime of the calling thread; asserts that there is one.
  static runtime& current();
  /// The runtime of the calling thread, or nullptr.
  static runtime* current_or_null() noexcept;

  /// The libuv loop the runtime drives.
  [[nodiscard]] uv::loop& loop() noexcept { return loop_; }
  /// This runtime's node id, which refs to its actors carry.
  [[nodiscard]] node_id node() const noexcept { return node_; }
  /// The options it was made with.
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
  /// Stops every actor of this runtime but its system actor.
  void stop_actors() noexcept;

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
    std::uint64_t forwarded = 0;   ///< frames relayed between two other runtimes
    std::uint64_t brokered = 0;    ///< direct links set up between two children
    std::uint64_t lost_notices = 0;  ///< notices of lost nodes received from other runtimes
  };
  /// The counters so far.
  [[nodiscard]] const counters& stats() const noexcept { return stats_; }

  /// @cond TROUPE_INTERNAL
  // ---- used by the messaging templates; not for application code ----

  detail::actor_cell* find(const actor_ref& ref) const noexcept;
  detail::actor_cell* create_cell(std::span<const detail::message_decoder> accepts);
  /// Ends an actor: closes its mailbox, fails the requests still in it,
  /// sends `down` to its monitors and frees its slot.
  void retire(detail::actor_cell* cell) noexcept;

  enum class post_outcome { delivered, full, dropped };
  /// Delivers a message to a local actor. `bounded` sends respect the
  /// mailbox bound (returning `full` when there is no room).
  template <class M>
  post_outcome post(const actor_ref& to, M&& msg, detail::reply_address reply, bool bounded);

  /// Delivers a message to an actor in another runtime, encoded into the
  /// link that leads there.
  template <class M>
  post_outcome post_remote(const actor_ref& to, const M& msg, detail::reply_address reply, bool bounded);

  std::uint64_t register_request(detail::pending_request* p, node_id target);
  void forget_request(std::uint64_t correlation) noexcept;

  template <class R>
  void deliver_reply(const detail::reply_address& to, R&& value);
  void deliver_error(const detail::reply_address& to, error e);

  /// Forgets the runtime of this thread without touching it: what a forked
  /// child does with the copy of its parent's runtime it inherited.
  static void forget_after_fork() noexcept;

  void actor_started() noexcept { ++live_roots_; }
  void actor_finished() noexcept { --live_roots_; }

  // ---- links to other runtimes (framework internals) ----

  /// The actor every runtime with links runs to serve spawn, monitor and
  /// stop requests from other nodes; always in slot 1.
  static constexpr actor_id system_actor_id = (actor_id{1} << 32) | 1;
  [[nodiscard]] static actor_ref system_actor(node_id n) noexcept { return actor_ref(n, system_actor_id); }
  detail::actor_cell* create_system_cell(std::span<const detail::message_decoder> accepts);

  /// Adopts a connected stream as a link to `peer`, routes `peer` through it
  /// and starts it. A link marked `to_parent` is also the default route.
  /// Takes ownership of `socket_fd`.
  result<detail::link*> add_link(int socket_fd, node_id peer, detail::link_handler* handler, bool to_parent,
                                 bool hold = false);
  /// Adopts a connected TCP socket as a link to `peer`, the root runtime
  /// of another host: every node of that host is reached through it, and
  /// losing it loses them all. Takes ownership of `socket_fd`.
  result<detail::link*> add_host_link(int socket_fd, node_id peer, detail::link_handler* handler);
  /// Whether this runtime has been told that node `n` is lost (itself, or
  /// as part of a whole host).
  [[nodiscard]] bool known_lost(node_id n) const noexcept;
  /// The link that leads to node `n`, or nullptr.
  [[nodiscard]] detail::link* route(node_id n) const noexcept;
  [[nodiscard]] detail::link* parent_link() const noexcept { return parent_link_; }
  /// Routes `n` through `l` and tells the parent about it.
  void announce_node(detail::link& l, node_id n);
  void on_frame(detail::link& l, const transport::frame_view& f) noexcept;
  void link_lost(detail::link& l, const exit_reason& why) noexcept;
  void release_link(detail::link* l) noexcept;
  /// Fails requests to `nodes`, reports their monitored actors down, and
  /// tells the other links (except `from`).
  void nodes_lost(std::span<const node_id> nodes, const exit_reason& why, detail::link* from) noexcept;

  std::vector<std::shared_ptr<detail::process_state>>& children() noexcept { return children_; }
  std::vector<std::shared_ptr<detail::thread_state>>& threads() noexcept { return threads_; }
  /// @endcond

 private:
  void send_reply_frame(detail::link& l, const transport::frame_view& request, error e) noexcept;
  void report_send_failure(const actor_ref& to, std::string_view type, const error& e) noexcept;
  void deliver_frame(detail::link& l, const transport::frame_view& f) noexcept;
  void accept_reply(detail::link& l, const transport::frame_view& f) noexcept;
  void forward_frame(detail::link& from, const transport::frame_view& f) noexcept;
  void handle_control(detail::link& l, const transport::frame_view& f) noexcept;
  // Direct sibling links: asked for by a child that sends to a sibling
  // through its parent, brokered by the parent, switched to with route_end.
  void ask_direct(node_id peer) noexcept;
  void broker_direct(detail::link& from, node_id peer) noexcept;
  void adopt_direct(detail::link& from, const transport::frame_view& f) noexcept;
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
  std::vector<std::unique_ptr<detail::link>> links_;
  std::unordered_map<node_id, detail::link*> routes_;
  std::unordered_map<node_id, detail::link*> host_routes_;  ///< host part → link to that host
  detail::link* parent_link_ = nullptr;
  std::unordered_set<node_id> direct_asked_;
  std::unordered_set<node_id> lost_;  ///< nodes already reported lost
  std::vector<detail::remote_watch> remote_watches_;
  std::vector<std::shared_ptr<detail::process_state>> children_;
  std::vector<std::shared_ptr<detail::thread_state>> threads_;
};

/// @cond TROUPE_INTERNAL
template <class M>
runtime::post_outcome runtime::post(const actor_ref& to, M&& msg, detail::reply_address reply,
                                    bool bounded) {
  using D = std::decay_t<M>;
  if (to.node() != node_) return post_remote<D>(to, msg, reply, bounded);
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

template <class M>
runtime::post_outcome runtime::post_remote(const actor_ref& to, const M& msg, detail::reply_address reply,
                                           bool bounded) {
  detail::link* l = route(to.node());
  if (l != nullptr && l == parent_link_ && to.node() != l->peer()) ask_direct(to.node());
  if (l == nullptr) {
    ++stats_.dropped;
    if (reply.correlation != 0)
      deliver_error(reply, error{errc::peer_down, "no link leads to the node of " + to.to_string()});
    return post_outcome::dropped;
  }
  if constexpr (!wire::encodable<M>) {
    error e{errc::invalid_argument, "a " + std::string(base::type_name<M>()) +
                                        " cannot be sent to another process: it is not encodable"};
    if (reply.correlation != 0) deliver_error(reply, std::move(e));
    else report_send_failure(to, base::type_name<M>(), e);
    return post_outcome::dropped;
  } else {
    if (bounded && l->congested()) return post_outcome::full;
    wire::frame_header h;
    h.kind = reply.correlation != 0 ? wire::frame_kind::request : wire::frame_kind::message;
    h.dest_node = to.node();
    h.dest_actor = to.id();
    h.src_node = node_;
    h.correlation = reply.correlation;
    if (auto r = l->append(h, msg); !r) {
      if (reply.correlation != 0) deliver_error(reply, r.error());
      else report_send_failure(to, base::type_name<M>(), r.error());
      return post_outcome::dropped;
    }
    return post_outcome::delivered;
  }
}

template <class R>
void runtime::deliver_reply(const detail::reply_address& to, R&& value) {
  using D = std::decay_t<R>;
  if (to.correlation == 0) return;
  if (to.node != node_) {
    detail::link* l = route(to.node);
    if (l == nullptr) return;  // the requester's node is gone
    if constexpr (!wire::encodable<D>) {
      deliver_error(to, error{errc::invalid_argument, "a reply of type " + std::string(base::type_name<D>()) +
                                                          " cannot be sent to another process"});
    } else {
      wire::frame_header h;
      h.kind = wire::frame_kind::reply;
      h.dest_node = to.node;
      h.src_node = node_;
      h.correlation = to.correlation;
      if (auto r = l->append(h, value); !r) deliver_error(to, r.error());
    }
    return;
  }
  auto it = pending_.find(to.correlation);
  if (it == pending_.end()) return;  // the requester gave up (timeout, cancel)
  detail::pending_request* p = it->second;
  pending_.erase(it);
  if constexpr (std::is_lvalue_reference_v<R>) {
    // The requester takes the value by moving it; a replier that passed an
    // lvalue (an item it keeps) must not find it emptied.
    D copy(value);
    p->accept(p, wire::type_id<D>(), base::type_name<D>(), &copy);
  } else {
    p->accept(p, wire::type_id<D>(), base::type_name<D>(), &value);
  }
}

/// @endcond
}  // namespace troupe
