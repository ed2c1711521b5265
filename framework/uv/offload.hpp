#pragma once

#include <uv.h>

#include <coroutine>
#include <exception>
#include <functional>
#include <optional>
#include <stop_token>
#include <type_traits>

#include "framework/base/result.hpp"
#include "framework/uv/cancel.hpp"
#include "framework/uv/loop.hpp"

namespace troupe::uv {

/// Awaiter of offload(): runs a blocking function on libuv's thread pool and
/// resumes on the loop's thread with its value. An exception thrown by the
/// function is rethrown at the co_await. A stop request cancels the work
/// only if it has not started yet (errc::cancelled); once running it runs
/// to the end, since a thread cannot be interrupted safely.
template <class Fn>
class [[nodiscard]] offload_awaiter {
 public:
  /// What the function returns.
  using value_type = std::invoke_result_t<Fn&>;
  /// Where the value waits for the loop's thread (char for void).
  using slot_type = std::conditional_t<std::is_void_v<value_type>, char, value_type>;

  ///@{
  /// The awaiter protocol: made by offload() and driven by co_await,
  /// which gives result<value_type>; not called directly.
  offload_awaiter(loop& l, Fn fn, std::stop_token stop)
      : loop_(l), fn_(std::move(fn)), stop_(std::move(stop)) {}
  offload_awaiter(const offload_awaiter&) = delete;
  offload_awaiter& operator=(const offload_awaiter&) = delete;

  bool await_ready() noexcept { return stop_.stop_requested(); }
  bool await_suspend(std::coroutine_handle<> h) noexcept {
    waiting_ = h;
    req_.data = this;
    int rc = uv_queue_work(loop_.native(), &req_, &offload_awaiter::work, &offload_awaiter::done);
    if (rc != 0) {
      status_ = rc;
      return false;
    }
    hook_.arm(stop_, this);
    return true;
  }
  result<value_type> await_resume() {
    if (stop_requested_before_start()) return error{errc::cancelled, "offload cancelled"};
    if (status_ != 0) return system_error("uv_queue_work", status_);
    if (exception_) std::rethrow_exception(exception_);
    if constexpr (std::is_void_v<value_type>) return {};
    else return std::move(*value_);
  }

  loop& owning_loop() noexcept { return loop_; }
  // Called on a stop request: uv_cancel succeeds only while the work is
  // queued; the done callback then reports UV_ECANCELED and resumes us.
  void cancel() noexcept { uv_cancel(reinterpret_cast<uv_req_t*>(&req_)); }
  ///@}

 private:
  bool stop_requested_before_start() const noexcept {
    return status_ == UV_ECANCELED || (waiting_ == nullptr && stop_.stop_requested());
  }
  static void work(uv_work_t* req) noexcept {
    auto* self = static_cast<offload_awaiter*>(req->data);
    try {
      if constexpr (std::is_void_v<value_type>) std::invoke(self->fn_);
      else self->value_.emplace(std::invoke(self->fn_));
    } catch (...) {
      self->exception_ = std::current_exception();
    }
  }
  static void done(uv_work_t* req, int status) noexcept {
    auto* self = static_cast<offload_awaiter*>(req->data);
    self->hook_.disarm();
    self->status_ = status;
    self->loop_.schedule(self->waiting_);
  }

  loop& loop_;
  Fn fn_;
  std::stop_token stop_;
  cancel_hook<offload_awaiter> hook_;
  uv_work_t req_{};
  std::coroutine_handle<> waiting_;
  std::optional<slot_type> value_;
  std::exception_ptr exception_;
  int status_ = 0;
};

/// Runs `fn` (a blocking call: file I/O, DNS, a heavy computation) on
/// libuv's thread pool; the awaiting coroutine resumes on the loop thread.
/// `fn` is moved into the awaiter and must not touch loop-thread state.
template <class Fn>
offload_awaiter<std::decay_t<Fn>> offload(loop& l, Fn&& fn, std::stop_token stop = {}) {
  return offload_awaiter<std::decay_t<Fn>>(l, std::forward<Fn>(fn), std::move(stop));
}

}  // namespace troupe::uv
