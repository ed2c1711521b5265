#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <optional>
#include <stop_token>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "framework/coro/run_into.hpp"
#include "framework/coro/task.hpp"

namespace troupe::coro {

namespace detail {

// Shared by when_all and when_any: `pending_` counts unfinished children plus
// one for the parent's own start-up pass; whoever brings it to zero goes on.
// If that is the parent (every child finished synchronously) await_suspend
// returns false and nothing grows the stack.
class join_counter {
 public:
  explicit join_counter(std::size_t children) noexcept : pending_(children + 1) {}
  void child_done() noexcept {
    if (--pending_ == 0) parent_.resume();
  }
  bool parent_started(std::coroutine_handle<> parent) noexcept {
    parent_ = parent;
    return --pending_ != 0;
  }

 private:
  std::size_t pending_;
  std::coroutine_handle<> parent_;
};

// Tells the join counter that one child has finished.
struct child_finished {
  join_counter* counter;
  void operator()() const noexcept { counter->child_done(); }
};

template <class... Ts>
class when_all_awaiter {
 public:
  explicit when_all_awaiter(task<Ts>... ts) : tasks_(std::move(ts)...), counter_(sizeof...(Ts)) {}

  bool await_ready() const noexcept { return sizeof...(Ts) == 0; }
  bool await_suspend(std::coroutine_handle<> parent) {
    start(std::index_sequence_for<Ts...>{});
    return counter_.parent_started(parent);
  }
  std::tuple<slot_t<Ts>...> await_resume() { return take(std::index_sequence_for<Ts...>{}); }

 private:
  template <std::size_t... I>
  void start(std::index_sequence<I...>) {
    (run_into(std::get<I>(tasks_), std::get<I>(outcomes_), child_finished{&counter_}), ...);
  }
  template <std::size_t... I>
  std::tuple<slot_t<Ts>...> take(std::index_sequence<I...>) {
    std::exception_ptr first;
    ((first = first ? first : std::get<I>(outcomes_).error), ...);
    if (first) std::rethrow_exception(first);
    return std::tuple<slot_t<Ts>...>(std::move(*std::get<I>(outcomes_).value)...);
  }

  std::tuple<task<Ts>...> tasks_;
  std::tuple<outcome<Ts>...> outcomes_;
  join_counter counter_;
};

template <class T>
class when_all_vector_awaiter {
 public:
  explicit when_all_vector_awaiter(std::vector<task<T>> ts)
      : tasks_(std::move(ts)), outcomes_(tasks_.size()), counter_(tasks_.size()) {}

  bool await_ready() const noexcept { return tasks_.empty(); }
  bool await_suspend(std::coroutine_handle<> parent) {
    for (std::size_t i = 0; i < tasks_.size(); ++i) run_into(tasks_[i], outcomes_[i], child_finished{&counter_});
    return counter_.parent_started(parent);
  }
  std::vector<slot_t<T>> await_resume() {
    for (auto& o : outcomes_)
      if (o.error) std::rethrow_exception(o.error);
    std::vector<slot_t<T>> out;
    out.reserve(outcomes_.size());
    for (auto& o : outcomes_) out.push_back(std::move(*o.value));
    return out;
  }

 private:
  std::vector<task<T>> tasks_;
  std::vector<outcome<T>> outcomes_;
  join_counter counter_;
};

}  // namespace detail

/// Awaits all tasks, started in order on the awaiting thread, and gives their
/// results as a tuple (std::monostate for task<void>). Every task runs to its
/// end even if one throws; then the exception of the first task (in argument
/// order) that threw is rethrown.
template <class... Ts>
[[nodiscard]] auto when_all(task<Ts>... tasks) {
  return detail::when_all_awaiter<Ts...>(std::move(tasks)...);
}

/// Awaits all tasks of a vector; results in the same order.
template <class T>
[[nodiscard]] auto when_all(std::vector<task<T>> tasks) {
  return detail::when_all_vector_awaiter<T>(std::move(tasks));
}

}  // namespace troupe::coro
