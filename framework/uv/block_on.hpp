#pragma once

#include <exception>
#include <optional>
#include <type_traits>

#include "framework/base/assert.hpp"
#include "framework/coro/detached.hpp"
#include "framework/coro/task.hpp"
#include "framework/uv/loop.hpp"

namespace troupe::uv {

namespace detail {
template <class T>
struct block_state {
  bool done = false;
  std::exception_ptr exception;
  std::optional<std::conditional_t<std::is_void_v<T>, char, T>> value;
};

template <class T>
coro::detail::detached block_driver(coro::task<T>& t, block_state<T>& s) {
  try {
    if constexpr (std::is_void_v<T>) co_await std::move(t);
    else s.value.emplace(co_await std::move(t));
  } catch (...) {
    s.exception = std::current_exception();
  }
  s.done = true;
}
}  // namespace detail

/// Drives the loop on the calling thread (which must be the loop's) until the
/// task finishes, then returns its value or rethrows its exception. If every
/// coroutine ends up waiting for something that can never happen, this
/// aborts with a message instead of hanging.
template <class T>
T block_on(loop& l, coro::task<T> t) {
  detail::block_state<T> state;
  detail::block_driver(t, state);
  bool finished = l.run_until([&] { return state.done; });
  TROUPE_ASSERT(finished,
                "block_on: the task waits for something that can never happen "
                "(nothing is ready, no handle, timer or request is active)");
  if (state.exception) std::rethrow_exception(state.exception);
  if constexpr (!std::is_void_v<T>) return std::move(*state.value);
}

}  // namespace troupe::uv
