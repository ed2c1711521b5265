#pragma once

#include <condition_variable>
#include <exception>
#include <mutex>
#include <optional>
#include <type_traits>

#include "framework/coro/detached.hpp"
#include "framework/coro/task.hpp"

namespace troupe::coro {

namespace detail {
template <class T>
struct sync_state {
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
  std::exception_ptr exception;
  std::optional<std::conditional_t<std::is_void_v<T>, char, std::remove_reference_t<T>*>> ptr;
  std::optional<std::conditional_t<std::is_void_v<T> || std::is_reference_v<T>, char, T>> value;

  void finish() {
    std::lock_guard lock(mutex);
    done = true;
    cv.notify_all();
  }
};

template <class T>
detached sync_driver(task<T>& t, sync_state<T>& s) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(t);
    } else if constexpr (std::is_reference_v<T>) {
      s.ptr.emplace(&(co_await std::move(t)));
    } else {
      s.value.emplace(co_await std::move(t));
    }
  } catch (...) {
    s.exception = std::current_exception();
  }
  s.finish();
}
}  // namespace detail

/// Runs a task to completion on the calling thread and returns its result
/// (or rethrows its exception). Blocks the thread while the task is
/// suspended, so whatever resumes the task must run on another thread; on a
/// runtime's own thread use runtime::block_on instead, which drives the loop.
template <class T>
T sync_wait(task<T> t) {
  detail::sync_state<T> state;
  detail::sync_driver(t, state);
  {
    std::unique_lock lock(state.mutex);
    state.cv.wait(lock, [&] { return state.done; });
  }
  if (state.exception) std::rethrow_exception(state.exception);
  if constexpr (std::is_reference_v<T>) {
    return **state.ptr;
  } else if constexpr (!std::is_void_v<T>) {
    return std::move(*state.value);
  }
}

}  // namespace troupe::coro
