#pragma once

#include <cstddef>
#include <exception>
#include <optional>
#include <stop_token>
#include <vector>

#include "framework/coro/when_all.hpp"

namespace troupe::coro {

/// What when_any gives back: which task finished first, and its value
/// (std::monostate for task<void>).
template <class T>
struct when_any_result {
  /// Which task finished first (its position in the call).
  std::size_t index;
  /// Its value; std::monostate for task<void>.
  detail::slot_t<T> value;
};

namespace detail {

template <class T>
class when_any_awaiter {
 public:
  when_any_awaiter(std::stop_source stop, std::vector<task<T>> ts)
      : stop_(std::move(stop)), tasks_(std::move(ts)), outcomes_(tasks_.size()), counter_(tasks_.size()) {}

  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> parent) {
    for (std::size_t i = 0; i < tasks_.size(); ++i) run_into(tasks_[i], outcomes_[i], finished{this, i});
    return counter_.parent_started(parent);
  }
  when_any_result<T> await_resume() {
    TROUPE_ASSERT(winner_.has_value(), "when_any needs at least one task");
    outcome<T>& w = outcomes_[*winner_];
    if (w.error) std::rethrow_exception(w.error);
    return when_any_result<T>{*winner_, std::move(*w.value)};
  }

 private:
  // The first task to finish wins and stops the others.
  struct finished {
    when_any_awaiter* self;
    std::size_t index;
    void operator()() const {
      if (!self->winner_) {
        self->winner_ = index;
        self->stop_.request_stop();
      }
      self->counter_.child_done();
    }
  };

  std::stop_source stop_;
  std::vector<task<T>> tasks_;
  std::vector<outcome<T>> outcomes_;
  std::optional<std::size_t> winner_;
  join_counter counter_;
};

}  // namespace detail

/// Awaits the first of several tasks to finish. The tasks must watch tokens
/// of `stop`: when the first finishes, when_any requests stop and then waits
/// for the others to wind down (a started task is never abandoned), so its
/// cost is that of the slowest task to notice cancellation. The winner's
/// exception, if it threw, is rethrown; the losers' outcomes are discarded.
template <class T>
[[nodiscard]] auto when_any(std::stop_source stop, std::vector<task<T>> tasks) {
  return detail::when_any_awaiter<T>(std::move(stop), std::move(tasks));
}

/// Variadic form of when_any for tasks of one result type.
template <class T, class... Ts>
[[nodiscard]] auto when_any(std::stop_source stop, task<T> first, task<Ts>... rest) {
  static_assert((std::is_same_v<T, Ts> && ...), "when_any: all tasks must have one result type");
  std::vector<task<T>> v;
  v.reserve(1 + sizeof...(Ts));
  v.push_back(std::move(first));
  (v.push_back(std::move(rest)), ...);
  return detail::when_any_awaiter<T>(std::move(stop), std::move(v));
}

}  // namespace troupe::coro
