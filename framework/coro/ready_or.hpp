#pragma once

#include <coroutine>
#include <optional>
#include <utility>

#include "framework/coro/task.hpp"

namespace troupe::coro {

/// An awaitable that is either a value already at hand or a task that will
/// produce it: the fast path of an operation (an uncontended lock) completes
/// without creating a coroutine frame, the slow path suspends on the task.
/// Awaited once, as a task.
template <class T>
class [[nodiscard]] ready_or {
 public:
  ready_or(T value) noexcept(std::is_nothrow_move_constructible_v<T>) : value_(std::move(value)) {}
  ready_or(task<T> slow) noexcept : slow_(std::move(slow)) {}
  ready_or(ready_or&&) noexcept = default;
  ready_or(const ready_or&) = delete;
  ready_or& operator=(const ready_or&) = delete;

  [[nodiscard]] bool await_ready() const noexcept { return value_.has_value(); }
  bool await_suspend(std::coroutine_handle<> awaiting) {
    auto h = slow_.handle();
    return h.promise().start(h, awaiting);
  }
  T await_resume() {
    if (value_) return std::move(*value_);
    return slow_.handle().promise().take();
  }

  /// The same operation as a task (for when_all and friends).
  task<T> as_task() && {
    if (value_) return from_value(std::move(*value_));
    return std::move(slow_);
  }

 private:
  static task<T> from_value(T v) { co_return v; }
  std::optional<T> value_;
  task<T> slow_;
};

}  // namespace troupe::coro
