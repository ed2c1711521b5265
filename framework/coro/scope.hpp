#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>

#include "framework/base/assert.hpp"
#include "framework/coro/detached.hpp"
#include "framework/coro/task.hpp"

namespace troupe::coro {

/// Owns tasks started without an awaiter and lets one coroutine wait until
/// all of them have finished. A scope must be joined before it is destroyed:
/// a started task is never abandoned mid-flight (asserted). The first
/// exception escaping a spawned task is kept and rethrown by join(); the
/// other tasks keep running.
/// Thread: one thread, the one the tasks run on.
class scope {
 public:
  scope() = default;
  scope(const scope&) = delete;
  scope& operator=(const scope&) = delete;
  ~scope() { TROUPE_ASSERT(active_ == 0, "scope destroyed while tasks it owns are running"); }

  /// Starts `t` now, on this thread; returns when it first suspends or ends.
  void spawn(task<void> t) {
    ++active_;
    run(std::move(t));
  }

  /// How many spawned tasks have not finished.
  [[nodiscard]] std::size_t active() const noexcept { return active_; }

  /// Suspends until every spawned task has finished, then rethrows the first
  /// exception one of them raised. Only one coroutine may join at a time.
  [[nodiscard]] auto join() noexcept {
    struct awaiter {
      scope& s;
      bool await_ready() const noexcept { return s.active_ == 0; }
      void await_suspend(std::coroutine_handle<> h) noexcept {
        TROUPE_ASSERT(!s.joiner_, "scope joined by two coroutines at once");
        s.joiner_ = h;
      }
      void await_resume() const {
        if (s.error_) std::rethrow_exception(std::exchange(s.error_, nullptr));
      }
    };
    return awaiter{*this};
  }

 private:
  detail::detached run(task<void> t) {
    try {
      co_await std::move(t);
    } catch (...) {
      if (!error_) error_ = std::current_exception();
    }
    if (--active_ == 0 && joiner_) std::exchange(joiner_, {}).resume();
  }

  std::size_t active_ = 0;
  std::coroutine_handle<> joiner_;
  std::exception_ptr error_;
};

}  // namespace troupe::coro
