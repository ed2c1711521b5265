#pragma once

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <stop_token>

#include "framework/base/result.hpp"
#include "framework/uv/cancel.hpp"
#include "framework/uv/loop.hpp"

namespace troupe::uv {

using clock_duration = std::chrono::nanoseconds;

/// A point on the loop's monotonic clock (uv_hrtime, nanoseconds).
struct deadline {
  /// Nanoseconds on uv_hrtime's clock; UINT64_MAX is never.
  std::uint64_t ns = 0;
  /// Now plus `d`; a negative `d` is now, and a sum past the clock's range
  /// saturates to "never".
  static deadline after(clock_duration d) noexcept {
    auto n = d.count() < 0 ? 0 : static_cast<std::uint64_t>(d.count());
    std::uint64_t now = loop::now_ns();
    return deadline{n > UINT64_MAX - now ? UINT64_MAX : now + n};
  }
  /// Whether the clock has reached it.
  [[nodiscard]] bool passed() const noexcept { return loop::now_ns() >= ns; }
};

/// Awaiter that suspends until a deadline. Resumes with an empty result when
/// the deadline passes, errc::cancelled when the stop token fires first.
class [[nodiscard]] sleep_awaiter : private timer_node {
 public:
  ///@{
  /// The awaiter protocol: made by sleep_for() and driven by co_await,
  /// which gives result<void>; not called directly.
  sleep_awaiter(loop& l, deadline d, std::stop_token stop) noexcept
      : loop_(l), stop_(std::move(stop)) {
    deadline_ns = d.ns;
    fire = &sleep_awaiter::on_fire;
  }
  sleep_awaiter(const sleep_awaiter&) = delete;
  sleep_awaiter& operator=(const sleep_awaiter&) = delete;

  bool await_ready() noexcept {
    if (stop_.stop_requested()) {
      outcome_ = errc::cancelled;
      return true;
    }
    return deadline_ns <= loop::now_ns();
  }
  void await_suspend(std::coroutine_handle<> h) {
    waiting_ = h;
    loop_.add_timer(this);
    hook_.arm(stop_, this);
  }
  result<void> await_resume() noexcept {
    if (outcome_ == errc::ok) return {};
    return error{outcome_, "wait cancelled"};
  }

  loop& owning_loop() noexcept { return loop_; }
  void cancel() noexcept {
    loop_.remove_timer(this);
    outcome_ = errc::cancelled;
    loop_.schedule(waiting_);
  }
  ///@}

 private:
  static void on_fire(timer_node* n) noexcept {
    auto* self = static_cast<sleep_awaiter*>(n);
    self->hook_.disarm();
    self->loop_.schedule(self->waiting_);
  }

  loop& loop_;
  std::stop_token stop_;
  cancel_hook<sleep_awaiter> hook_;
  std::coroutine_handle<> waiting_;
  errc outcome_ = errc::ok;
};

/// Suspends for `d`. Returns errc::cancelled if `stop` fires first.
inline sleep_awaiter sleep_for(loop& l, clock_duration d, std::stop_token stop = {}) noexcept {
  return sleep_awaiter(l, deadline::after(d), std::move(stop));
}

/// Suspends until `d`. Returns errc::cancelled if `stop` fires first.
inline sleep_awaiter sleep_until(loop& l, deadline d, std::stop_token stop = {}) noexcept {
  return sleep_awaiter(l, d, std::move(stop));
}

}  // namespace troupe::uv
