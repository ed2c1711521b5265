#pragma once

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "framework/coro/detached.hpp"
#include "framework/coro/task.hpp"

namespace troupe::coro::detail {

/// How a task's value is stored once it has finished: std::monostate for
/// task<void>, a pointer for task<T&>, the value otherwise.
template <class T>
using slot_t = std::conditional_t<std::is_void_v<T>, std::monostate,
                                  std::conditional_t<std::is_reference_v<T>,
                                                     std::remove_reference_t<T>*, T>>;

/// Where a driven task's outcome goes: its value, or the exception it threw.
template <class T>
struct outcome {
  std::optional<slot_t<T>> value;
  std::exception_ptr error;

  /// The result as co_await on the task would give it; rethrows its exception.
  decltype(auto) take() {
    if (error) std::rethrow_exception(error);
    if constexpr (std::is_reference_v<T>) {
      return static_cast<T>(**value);
    } else if constexpr (!std::is_void_v<T>) {
      return T(std::move(*value));
    }
  }
};

/// The one driver under sync_wait, block_on, when_all and when_any: starts
/// `t` at once, stores its outcome in `out` when it ends, then calls done().
/// `t` and `out` must stay alive until done() has been called.
template <class T, class Done>
detached run_into(task<T>& t, outcome<T>& out, Done done) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(t);
      out.value.emplace();
    } else if constexpr (std::is_reference_v<T>) {
      out.value.emplace(&(co_await std::move(t)));
    } else {
      out.value.emplace(co_await std::move(t));
    }
  } catch (...) {
    out.error = std::current_exception();
  }
  done();
}

}  // namespace troupe::coro::detail
