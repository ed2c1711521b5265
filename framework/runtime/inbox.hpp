#pragma once

#include <array>
#include <chrono>
#include <coroutine>
#include <optional>
#include <stop_token>
#include <type_traits>
#include <utility>
#include <variant>

#include "framework/base/overloaded.hpp"
#include "framework/base/result.hpp"
#include "framework/runtime/messaging.hpp"
#include "framework/runtime/responder.hpp"
#include "framework/runtime/runtime.hpp"
#include "framework/uv/cancel.hpp"
#include "framework/uv/timer.hpp"

namespace troupe {

namespace detail {
template <class T, class... Ts>
inline constexpr bool one_of = (std::is_same_v<T, Ts> || ...);

template <class... Ts>
inline constexpr bool all_distinct = true;
template <class T, class... Ts>
inline constexpr bool all_distinct<T, Ts...> = !one_of<T, Ts...> && all_distinct<Ts...>;

template <class V, std::size_t I = 0>
V take_body(envelope& e) {
  using T = std::variant_alternative_t<I, V>;
  if constexpr (I + 1 == std::variant_size_v<V>) {
    return V(std::in_place_index<I>, std::move(e.get<T>()));
  } else {
    if (e.type() == wire::type_id<T>()) return V(std::in_place_index<I>, std::move(e.get<T>()));
    return take_body<V, I + 1>(e);
  }
}
}  // namespace detail

/// One received message of an actor accepting Ms..., with the means to
/// answer it if it is a request. Unanswered requests are answered with
/// errc::broken_promise when the letter is destroyed.
template <class... Ms>
class letter {
 public:
  /// The message: one of the accepted types.
  using body_type = std::variant<Ms...>;

  /// Made by receive(); `r` answers the sender if it is a request.
  letter(body_type body, responder r) : body_(std::move(body)), responder_(std::move(r)) {}

  template <class T>
  /// True when the message is a T.
  [[nodiscard]] bool is() const noexcept {
    return std::holds_alternative<T>(body_);
  }
  template <class T>
  /// The message as a T; throws std::bad_variant_access if it is not one.
  T& get() {
    return std::get<T>(body_);
  }
  /// The message, for std::visit.
  body_type& body() noexcept { return body_; }
  /// Which of the accepted types the message is (its position in Ms...).
  [[nodiscard]] std::size_t index() const noexcept { return body_.index(); }

  /// Whether the sender awaits a reply that has not been given yet.
  [[nodiscard]] bool is_request() const noexcept { return responder_.pending(); }

  template <class R>
  /// Answers the request with `value` (encoded if the sender is in another
  /// runtime); ignored when the letter is not a request or was answered.
  void reply(R&& value) {
    responder_.reply(std::forward<R>(value));
  }
  /// Answers a request whose response type is void (an ack).
  void reply() { responder_.reply(); }
  /// Answers the request with an error, which the requester's co_await returns.
  void fail(error e) { responder_.fail(std::move(e)); }
  /// Takes over the duty to reply, to answer later (a lock granted when
  /// it frees up, a queue item when one arrives).
  responder take_responder() noexcept { return std::move(responder_); }

  /// Calls the handler matching the message. For a request, a handler's
  /// non-void return value is sent as the reply; a void handler answers
  /// with an ack unless it replied itself. If the handler throws, the
  /// requester gets errc::remote_exception and the exception propagates.
  template <class... Fs>
  void visit(Fs&&... fs) {
    overloaded handler{std::forward<Fs>(fs)...};
    try {
      std::visit(
          [&](auto& m) {
            using Ret = std::invoke_result_t<decltype(handler)&, decltype(m)>;
            if constexpr (std::is_void_v<Ret>) {
              handler(m);
              if (is_request()) reply();
            } else {
              reply(handler(m));
            }
          },
          body_);
    } catch (...) {
      responder_.fail_with_current_exception();
      throw;
    }
  }

 private:
  body_type body_;
  responder responder_;
};

template <class... Ms>
class inbox;

/// Awaiter of inbox::receive.
template <class... Ms>
class [[nodiscard]] receive_awaiter : private detail::receive_waiter, private uv::timer_node {
 public:
  ///@{
  /// The awaiter protocol: made by inbox::receive() and driven by co_await,
  /// which gives the result<letter>; not called directly.
  receive_awaiter(inbox<Ms...>& box, std::chrono::nanoseconds timeout, std::stop_token stop)
      : box_(box), timeout_(timeout), stop_(std::move(stop)) {}
  receive_awaiter(const receive_awaiter&) = delete;
  receive_awaiter& operator=(const receive_awaiter&) = delete;

  bool await_ready() noexcept {
    if (stop_.stop_requested()) {
      outcome_ = errc::cancelled;
      return true;
    }
    auto& mb = box_.cell_->box;
    if (!mb.empty() || mb.closed()) return true;
    if (timeout_ <= std::chrono::nanoseconds::zero()) {
      outcome_ = errc::timeout;
      return true;
    }
    return false;
  }
  void await_suspend(std::coroutine_handle<> h) {
    waiting_ = h;
    wake = &receive_awaiter::on_wake;
    box_.cell_->box.wait_for_message(this);
    if (timeout_ != std::chrono::nanoseconds::max()) {
      deadline_ns = uv::deadline::after(timeout_).ns;
      fire = &receive_awaiter::on_timeout;
      loop().add_timer(this);
    }
    hook_.arm(stop_, this);
  }
  result<letter<Ms...>> await_resume() {
    if (outcome_ == errc::cancelled) return error{errc::cancelled, "receive cancelled"};
    if (outcome_ == errc::timeout) return error{errc::timeout, "no message within the timeout"};
    auto& mb = box_.cell_->box;
    if (mb.closed()) return error{errc::closed, "mailbox closed"};
    detail::envelope& e = mb.front();
    responder r(box_.rt_, e.reply());
    letter<Ms...> out(detail::take_body<std::variant<Ms...>>(e), std::move(r));
    mb.pop();
    return out;
  }

  uv::loop& owning_loop() noexcept { return loop(); }
  void cancel() noexcept {
    box_.cell_->box.cancel_wait();
    loop().remove_timer(this);
    outcome_ = errc::cancelled;
    loop().schedule(waiting_);
  }
  ///@}

 private:
  uv::loop& loop() noexcept { return box_.rt_->loop(); }
  static void on_wake(detail::receive_waiter* w) noexcept {
    auto* self = static_cast<receive_awaiter*>(w);
    self->loop().remove_timer(self);
    self->hook_.disarm();
    self->loop().schedule(self->waiting_);
  }
  static void on_timeout(uv::timer_node* n) noexcept {
    auto* self = static_cast<receive_awaiter*>(n);
    self->box_.cell_->box.cancel_wait();
    self->hook_.disarm();
    self->outcome_ = errc::timeout;
    self->loop().schedule(self->waiting_);
  }

  inbox<Ms...>& box_;
  std::chrono::nanoseconds timeout_;
  std::stop_token stop_;
  uv::cancel_hook<receive_awaiter> hook_;
  std::coroutine_handle<> waiting_;
  errc outcome_ = errc::ok;
};

/// The receiving end of an actor that accepts the message types Ms...
/// A receive-loop actor gets one as its first parameter; other code (a main
/// task that wants replies or `down` notices) can open one with
/// runtime::open_inbox. Messages of other types sent to it are rejected at
/// the sender's side (a request gets errc::unexpected_message).
/// Lifetime: must not outlive its runtime; destroying a standalone inbox
/// ends its actor (monitors get `down`).
/// Thread: the runtime's thread.
template <class... Ms>
class inbox {
  static_assert(sizeof...(Ms) > 0, "an inbox accepts at least one message type");
  static_assert(detail::all_distinct<Ms...>, "an inbox lists each message type once");

 public:
  /// The accepted types, with how each is decoded when it arrives from
  /// another process.
  static constexpr std::array<detail::message_decoder, sizeof...(Ms)> accepted{detail::decoder_for<Ms>()...};

  /// Opens a mailbox on `rt`, not attached to an actor: for code that
  /// wants to receive messages itself. `rooted` is for the runtime's actor roots.
  explicit inbox(runtime& rt, bool rooted = false)
      : rt_(&rt), cell_(rt.create_cell(accepted)), rooted_(rooted) {}
  /// The runtime's system actor's inbox, in its reserved slot.
  struct system_slot {};
  /// The runtime's own system actor's mailbox; used by the runtime only.
  inbox(runtime& rt, system_slot) : rt_(&rt), cell_(rt.create_system_cell(accepted)), rooted_(true) {}
  /// Moves the mailbox; the moved-from inbox must not be used.
  inbox(inbox&& o) noexcept
      : rt_(o.rt_), cell_(std::exchange(o.cell_, nullptr)), rooted_(o.rooted_) {}
  inbox& operator=(inbox&&) = delete;
  inbox(const inbox&) = delete;
  ~inbox() {
    // An actor's own inbox is retired by the actor's root once it has
    // recorded the exit reason; a standalone one ends here.
    if (cell_ != nullptr && !rooted_) rt_->retire(cell_);
  }

  /// The address others send to.
  [[nodiscard]] actor_ref ref() const noexcept { return actor_ref(rt_->node(), cell_->id); }

  /// Suspends until a message arrives and returns it; errc::closed once the
  /// actor is stopped, errc::timeout after `timeout` (zero: do not wait),
  /// errc::cancelled on stop.
  receive_awaiter<Ms...> receive(std::chrono::nanoseconds timeout = std::chrono::nanoseconds::max(),
                                 std::stop_token stop = {}) {
    return receive_awaiter<Ms...>(*this, timeout, std::move(stop));
  }

  /// The actor was asked to stop (or its runtime is ending): receive()
  /// returns errc::closed from now on.
  [[nodiscard]] bool closed() const noexcept { return cell_->box.closed(); }

  /// Messages waiting to be received.
  [[nodiscard]] std::size_t size() const noexcept { return cell_->box.size(); }

  /// Has this actor receive `down` when `target` ends.
  void monitor(const actor_ref& target)
    requires detail::one_of<down, Ms...>
  {
    rt_->monitor(ref(), target);
  }

  /// The runtime the mailbox lives in; only its thread may use the inbox.
  [[nodiscard]] runtime& owner() const noexcept { return *rt_; }
  /// The runtime's record of this mailbox (for the runtime's own use).
  detail::actor_cell* cell() const noexcept { return cell_; }

 private:
  friend class receive_awaiter<Ms...>;
  runtime* rt_;
  detail::actor_cell* cell_;
  bool rooted_;
};

}  // namespace troupe
