#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <string>

#include "framework/wire/codec.hpp"

namespace troupe {

/// Identifies a runtime (one per process or thread).
using node_id = std::uint64_t;
/// Identifies an actor within its runtime: slot index in the low 32 bits,
/// the slot's generation in the high 32, so a stale id never reaches a new
/// actor that reuses the slot.
using actor_id = std::uint64_t;

template <class M>
class send_awaiter;
template <class R, class M>
class request_awaiter;

/// Default deadline of request(): long enough for any sane reply, short
/// enough that a lost one is noticed.
inline constexpr std::chrono::milliseconds default_request_timeout{30'000};

namespace detail {
template <class M>
concept has_response = requires { typename M::response; };
template <class M>
struct response_of {
  using type = void;
};
template <class M>
  requires has_response<M>
struct response_of<M> {
  using type = typename M::response;
};
}  // namespace detail

/// The reply type of message M: M::response when declared.
template <class M>
using response_t = typename detail::response_of<M>::type;

/// The address of an actor: which runtime, which actor. A small value:
/// copyable, comparable, hashable, and encodable, so refs travel inside
/// messages to other processes. A default-constructed ref addresses nobody.
///
/// send() and request() use the runtime of the calling thread
/// (runtime::current()); they are location-transparent.
class actor_ref {
 public:
  actor_ref() = default;
  /// Names actor `id` of runtime `node`; refs normally come from spawn() or a message.
  actor_ref(node_id node, actor_id id) noexcept : node_(node), id_(id) {}

  /// The runtime (process or thread) the actor lives in.
  [[nodiscard]] node_id node() const noexcept { return node_; }
  /// The actor's number within its runtime; never reused while the runtime lives.
  [[nodiscard]] actor_id id() const noexcept { return id_; }
  /// False for a default-made ref, which addresses nobody.
  explicit operator bool() const noexcept { return id_ != 0; }

  /// Sends `msg` (moved, never copied or encoded within a process). Suspends
  /// while the receiver's mailbox is full (backpressure). A message to an
  /// actor that no longer exists is dropped, as in Erlang; use a monitor or
  /// request() to learn about it.
  template <class M>
  [[nodiscard]] send_awaiter<std::decay_t<M>> send(M&& msg) const;

  /// Sends without suspending: false if the mailbox is full (nothing was
  /// sent) — the call for code that is not a coroutine.
  template <class M>
  bool try_send(M&& msg) const;

  /// Sends `msg` and awaits the reply of type R (M::response by default).
  /// Resumes with the value, or an error: errc::timeout after `timeout`,
  /// errc::cancelled on stop, errc::no_actor / peer_down when the actor is
  /// or goes away, errc::unexpected_message when it does not accept M,
  /// errc::remote_exception when its handler threw, errc::broken_promise
  /// when it dropped the request. Requests are not held back by a full
  /// mailbox: each waiting requester has at most one outstanding.
  template <class R = void, class M>
  [[nodiscard]] auto request(M&& msg, std::chrono::nanoseconds timeout = default_request_timeout,
                             std::stop_token stop = {}) const;

  /// Ordered by node, then id (for maps and sets).
  friend auto operator<=>(const actor_ref&, const actor_ref&) = default;
  /// Equal when node and id are.
  friend bool operator==(const actor_ref&, const actor_ref&) = default;

  /// "actor 3@node 1a2b0001", for logs.
  [[nodiscard]] std::string to_string() const;

 private:
  node_id node_ = 0;
  actor_id id_ = 0;
};

}  // namespace troupe

/// @cond TROUPE_INTERNAL
template <>
struct std::hash<troupe::actor_ref> {
  std::size_t operator()(const troupe::actor_ref& r) const noexcept {
    return std::hash<std::uint64_t>{}(r.node() * 0x9e3779b97f4a7c15ULL ^ r.id());
  }
};
/// @endcond

/// @cond TROUPE_INTERNAL
template <>
struct troupe::wire::codec<troupe::actor_ref> {
  static constexpr std::size_t min_size = 16;
  static void encode(writer& w, const actor_ref& r) {
    w.scalar(r.node());
    w.scalar(r.id());
  }
  static bool decode(reader& r, actor_ref& out) {
    std::uint64_t node = 0;
    std::uint64_t id = 0;
    if (!r.scalar(node) || !r.scalar(id)) return false;
    out = actor_ref(node, id);
    return true;
  }
};
/// @endcond
