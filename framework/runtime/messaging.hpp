#pragma once

#include <chrono>
#include <coroutine>
#include <optional>
#include <stop_token>
#include <type_traits>
#include <utility>

#include "framework/base/result.hpp"
#include "framework/runtime/actor_ref.hpp"
#include "framework/runtime/runtime.hpp"
#include "framework/uv/cancel.hpp"
#include "framework/uv/timer.hpp"

namespace troupe {

/// Awaiter of actor_ref::send. Completes at once when the mailbox has room
/// (or the actor is gone: the message is dropped); otherwise suspends until
/// the receiver takes a message, which moves this one in.
template <class M>
class [[nodiscard]] send_awaiter : private detail::blocked_sender {
 public:
  ///@{
  /// The awaiter protocol: made by actor_ref::send() and driven by
  /// co_await; not called directly.
  send_awaiter(actor_ref to, M msg) : to_(to), msg_(std::move(msg)) {}
  send_awaiter(const send_awaiter&) = delete;
  send_awaiter& operator=(const send_awaiter&) = delete;

  bool await_ready() {
    rt_ = &runtime::current();
    return rt_->post(to_, std::move(msg_), detail::reply_address{}, true) != runtime::post_outcome::full;
  }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    waiting = h;
    push = &send_awaiter::push_into;
    if (to_.node() != rt_->node()) {
      // The link to another process is backed up: wait until it drains,
      // then send regardless of the bound.
      remote_ = true;
      rt_->route(to_.node())->block(this);
    } else {
      rt_->find(to_)->box.block(this);
    }
  }
  void await_resume() {
    if (remote_ && !delivered) rt_->post(to_, std::move(msg_), detail::reply_address{}, false);
  }
  ///@}

 private:
  static void push_into(detail::blocked_sender* self, detail::envelope& slot) noexcept {
    auto* me = static_cast<send_awaiter*>(self);
    slot.emplace(std::move(me->msg_), actor_ref{}, detail::reply_address{});
  }
  actor_ref to_;
  M msg_;
  runtime* rt_ = nullptr;
  bool remote_ = false;
};

/// Awaiter of actor_ref::request: resumes with result<R>.
template <class R, class M>
class [[nodiscard]] request_awaiter : private detail::pending_request {
  using value_type = std::conditional_t<std::is_void_v<R>, ack, R>;

 public:
  ///@{
  /// The awaiter protocol: made by actor_ref::request() and driven by
  /// co_await, which gives the result; not called directly.
  request_awaiter(actor_ref to, M msg, std::chrono::nanoseconds timeout, std::stop_token stop)
      : to_(to), msg_(std::move(msg)), timeout_(timeout), stop_(std::move(stop)) {}
  request_awaiter(const request_awaiter&) = delete;
  request_awaiter& operator=(const request_awaiter&) = delete;

  bool await_ready() {
    if (stop_.stop_requested()) outcome_.emplace(error{errc::cancelled, "request cancelled"});
    return outcome_.has_value();
  }
  bool await_suspend(std::coroutine_handle<> h) {
    rt_ = &runtime::current();
    waiting_ = h;
    accept = &request_awaiter::on_accept;
    fail = &request_awaiter::on_fail;
    accept_bytes = &request_awaiter::on_accept_bytes;
    fire = &request_awaiter::on_timeout;
    std::uint64_t corr = rt_->register_request(this, to_.node());
    // Delivery may fail synchronously (no such actor, unexpected type), in
    // which case on_fail has already stored the outcome and scheduled us;
    // undo the scheduling by continuing inline instead.
    inline_ = true;
    rt_->post(to_, std::move(msg_), detail::reply_address{rt_->node(), corr}, false);
    inline_ = false;
    if (outcome_) return false;
    deadline_ns = uv::deadline::after(timeout_).ns;
    rt_->loop().add_timer(this);
    hook_.arm(stop_, this);
    return true;
  }
  result<R> await_resume() {
    if constexpr (std::is_void_v<R>) {
      if (outcome_->has_value()) return {};
      return outcome_->error();
    } else {
      return std::move(*outcome_);
    }
  }

  uv::loop& owning_loop() noexcept { return rt_->loop(); }
  void cancel() noexcept {
    rt_->forget_request(correlation);
    rt_->loop().remove_timer(this);
    outcome_.emplace(error{errc::cancelled, "request cancelled"});
    rt_->loop().schedule(waiting_);
  }
  ///@}

 private:
  void finish() noexcept {
    if (inline_) return;
    rt_->loop().remove_timer(this);
    hook_.disarm();
    rt_->loop().schedule(waiting_);
  }
  static void on_accept(detail::pending_request* p, wire::type_id_t type, std::string_view name,
                        void* value) noexcept {
    auto* self = static_cast<request_awaiter*>(p);
    if (type == wire::type_id<value_type>()) {
      self->outcome_.emplace(std::move(*static_cast<value_type*>(value)));
    } else {
      self->outcome_.emplace(error{errc::unexpected_message,
                                   "reply of type " + std::string(name) + " where " +
                                       std::string(base::type_name<value_type>()) + " was expected"});
    }
    self->finish();
  }
  static bool on_accept_bytes(detail::pending_request* p, wire::type_id_t type,
                              std::span<const std::byte> bytes) noexcept {
    auto* self = static_cast<request_awaiter*>(p);
    bool ok = true;
    if (type != wire::type_id<value_type>()) {
      self->outcome_.emplace(error{errc::unexpected_message, "reply of type id " + std::to_string(type) + " where " +
                                                                 std::string(base::type_name<value_type>()) +
                                                                 " was expected"});
    } else if constexpr (wire::encodable<value_type>) {
      auto v = wire::from_bytes<value_type>(bytes);
      if (v) {
        self->outcome_.emplace(std::move(*v));
      } else {
        ok = false;
        self->outcome_.emplace(error{errc::protocol_error, "reply did not decode: " + v.error().message});
      }
    } else {
      self->outcome_.emplace(error{errc::invalid_argument, "a reply of type " +
                                                               std::string(base::type_name<value_type>()) +
                                                               " cannot come from another process"});
    }
    self->finish();
    return ok;
  }
  static void on_fail(detail::pending_request* p, error e) noexcept {
    auto* self = static_cast<request_awaiter*>(p);
    self->outcome_.emplace(std::move(e));
    self->finish();
  }
  static void on_timeout(uv::timer_node* n) noexcept {
    auto* self = static_cast<request_awaiter*>(n);
    self->rt_->forget_request(self->correlation);
    self->hook_.disarm();
    self->outcome_.emplace(error{errc::timeout, "no reply from " + self->to_.to_string() + " within " +
                                                    std::to_string(self->timeout_.count() / 1'000'000) + " ms"});
    self->rt_->loop().schedule(self->waiting_);
  }

  actor_ref to_;
  M msg_;
  std::chrono::nanoseconds timeout_;
  std::stop_token stop_;
  uv::cancel_hook<request_awaiter> hook_;
  runtime* rt_ = nullptr;
  std::coroutine_handle<> waiting_;
  std::optional<result<value_type>> outcome_;
  bool inline_ = false;
};

template <class M>
send_awaiter<std::decay_t<M>> actor_ref::send(M&& msg) const {
  static_assert(!std::is_pointer_v<std::decay_t<M>>, "troupe: send a value, not a pointer");
  return send_awaiter<std::decay_t<M>>(*this, std::forward<M>(msg));
}

template <class M>
bool actor_ref::try_send(M&& msg) const {
  return runtime::current().post(*this, std::forward<M>(msg), detail::reply_address{}, true) !=
         runtime::post_outcome::full;
}

template <class R, class M>
auto actor_ref::request(M&& msg, std::chrono::nanoseconds timeout, std::stop_token stop) const {
  using D = std::decay_t<M>;
  using Reply = std::conditional_t<std::is_void_v<R>, response_t<D>, R>;
  return request_awaiter<Reply, D>(*this, std::forward<M>(msg), timeout, std::move(stop));
}

}  // namespace troupe
