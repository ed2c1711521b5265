#pragma once

// What every protocol actor shares: deadlines that the server enforces,
// requests that a stop token can withdraw without losing what the server
// already handed out, and noticing when a client's process dies.

#include <chrono>
#include <concepts>
#include <cstdint>
#include <limits>
#include <optional>
#include <deque>
#include <set>
#include <vector>
#include <stop_token>
#include <utility>

#include "framework/coro/task.hpp"
#include "framework/coro/when_all.hpp"
#include "framework/runtime/inbox.hpp"
#include "framework/runtime/messaging.hpp"
#include "framework/runtime/responder.hpp"
#include "framework/runtime/runtime.hpp"
#include "framework/uv/timer.hpp"
#include "framework/wire/codec.hpp"

namespace troupe::actors {

/// "No timeout" for the operations of protocol handles.
inline constexpr std::optional<std::chrono::nanoseconds> forever = std::nullopt;

/// Marks a protocol's client handle: a value that crosses processes as the
/// ref of its server (it has `ref()` and a constructor from actor_ref).
struct protocol_handle {};

namespace detail {

/// An absolute deadline on the host's monotonic clock (0: none). The
/// server, not the client, decides when a wait has timed out, so an item
/// or a lock is never handed to a waiter that has already given up.
inline std::uint64_t deadline_of(std::optional<std::chrono::nanoseconds> timeout) noexcept {
  if (!timeout) return 0;
  auto d = uv::deadline::after(*timeout).ns;
  return d == 0 ? 1 : d;
}

/// How long the client waits for the server's answer: the server's deadline
/// plus a margin, so the server's own timeout answer arrives first. A server
/// that is gone is reported at once (peer_down), not by this timeout.
inline std::chrono::nanoseconds local_timeout(std::optional<std::chrono::nanoseconds> timeout) noexcept {
  if (!timeout) return std::chrono::nanoseconds::max();
  constexpr auto margin = std::chrono::seconds(30);
  if (*timeout > std::chrono::nanoseconds::max() - margin) return std::chrono::nanoseconds::max();
  return *timeout + margin;
}

/// Tickets name one waiting operation of one client, so it can be withdrawn.
inline std::uint64_t next_ticket() noexcept {
  thread_local std::uint64_t n = 0;
  return ++n;
}

/// Sends `msg` as a request to `server`; if `stop` fires first, sends
/// `withdraw` and keeps waiting for the server's answer, which is then either
/// errc::cancelled or what the server had already handed out — so nothing
/// the server gave away is lost in flight.
template <class R, class M, class W>
coro::task<result<R>> ask(actor_ref server, M msg, W withdraw, std::chrono::nanoseconds timeout,
                          std::stop_token stop) {
  if (!stop.stop_possible()) co_return co_await server.request<R>(std::move(msg), timeout);
  if (stop.stop_requested()) co_return error{errc::cancelled, "cancelled before it started"};
  std::stop_source done;
  struct parts {
    static coro::task<result<R>> go(actor_ref s, M m, std::chrono::nanoseconds t, std::stop_source& finished) {
      auto r = co_await s.request<R>(std::move(m), t);
      finished.request_stop();
      co_return r;
    }
    static coro::task<void> watch(actor_ref s, W w, std::stop_token user, std::stop_token finished) {
      std::stop_source either;
      std::stop_callback on_user(user, [&either] { either.request_stop(); });
      std::stop_callback on_finished(finished, [&either] { either.request_stop(); });
      (void)co_await uv::sleep_for(runtime::current().loop(), std::chrono::nanoseconds::max(), either.get_token());
      if (!finished.stop_requested()) co_await s.send(std::move(w));
    }
  };
  auto [r, ignored] = co_await coro::when_all(parts::go(server, std::move(msg), timeout, done),
                                              parts::watch(server, std::move(withdraw), stop, done.get_token()));
  (void)ignored;
  co_return r;
}

/// The server's side of noticing dead clients: monitors the system actor of
/// each client node it has not seen before (a node's system actor lives as
/// long as its runtime), so a `down` for it means the client process is gone.
class client_watch {
 public:
  /// Call for each message's client node; `monitor` is the inbox's monitor.
  template <class Inbox>
  void see(Inbox& self, node_id client) {
    if (client == 0 || client == self.owner().node()) return;
    if (seen_.insert(client).second) self.monitor(runtime::system_actor(client));
  }
  /// The node a down refers to, if it is one of the watched clients.
  std::optional<node_id> gone(const down& d) {
    if (d.who.id() != runtime::system_actor_id) return std::nullopt;
    if (seen_.erase(d.who.node()) == 0) return std::nullopt;
    return d.who.node();
  }

 private:
  std::set<node_id> seen_;
};

/// Time left until `deadline_ns` (0: none) for a receive timeout.
inline std::chrono::nanoseconds until(std::uint64_t deadline_ns) noexcept {
  if (deadline_ns == 0) return std::chrono::nanoseconds::max();
  auto now = uv::loop::now_ns();
  return std::chrono::nanoseconds(deadline_ns > now ? deadline_ns - now : 0);
}

inline bool expired(std::uint64_t deadline_ns, std::uint64_t now) noexcept {
  return deadline_ns != 0 && deadline_ns <= now;
}

/// One waiting request at a server: who asked, which of their waits it is,
/// until when, and the duty to answer it.
struct waiter {
  responder reply;
  node_id client = 0;
  std::uint64_t ticket = 0;
  std::uint64_t deadline_ns = 0;
};

/// The earliest deadline among the waiters of some sequences (0: none).
template <class... Seqs>
std::uint64_t earliest_deadline(const Seqs&... seqs) noexcept {
  std::uint64_t d = 0;
  auto consider = [&d](const auto& seq) {
    for (const auto& w : seq)
      if (w.deadline_ns != 0 && (d == 0 || w.deadline_ns < d)) d = w.deadline_ns;
  };
  (consider(seqs), ...);
  return d;
}

/// Answers the waiter `ticket` of `client` with errc::cancelled and removes
/// it. Returns whether there was one.
template <class Seq>
bool withdraw(Seq& seq, node_id client, std::uint64_t ticket) {
  return std::erase_if(seq, [&](auto& w) {
           if (w.client != client || w.ticket != ticket) return false;
           w.reply.fail(error{errc::cancelled, "the wait was cancelled"});
           return true;
         }) != 0;
}

/// Removes the waiters whose deadline has passed, after `on_expired(w)`
/// answered each.
template <class Seq, class F>
void expire(Seq& seq, F on_expired) {
  if (seq.empty()) return;
  auto now = uv::loop::now_ns();
  std::erase_if(seq, [&](auto& w) {
    if (!expired(w.deadline_ns, now)) return false;
    on_expired(w);
    return true;
  });
}

/// Drops the waiters of a client whose process died (nobody to answer).
template <class Seq>
void forget_client(Seq& seq, node_id client) {
  std::erase_if(seq, [client](const auto& w) { return w.client == client; });
}

}  // namespace detail
}  // namespace troupe::actors

/// A protocol handle is encoded as its server's ref; the receiving process
/// rebuilds it from that ref (so an rlock handle becomes a new owner there).
template <class H>
  requires std::derived_from<H, troupe::actors::protocol_handle>
struct troupe::wire::codec<H> {
  static constexpr std::size_t min_size = 16;
  static void encode(writer& w, const H& h) { wire::encode(w, h.ref()); }
  static bool decode(reader& r, H& out) {
    actor_ref ref;
    if (!wire::decode(r, ref)) return false;
    out = H(ref);
    return true;
  }
};
