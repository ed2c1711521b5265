#pragma once

#include <coroutine>
#include <exception>

namespace troupe::coro::detail {

// A fire-and-forget coroutine: starts eagerly, destroys its own frame at the
// end. Bodies must catch everything themselves; an escaping exception is a
// bug and terminates. Used as the root of drivers (sync_wait, when_all,
// scope, actors), never exposed to users.
struct detached {
  struct promise_type {
    detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    [[noreturn]] void unhandled_exception() noexcept { std::terminate(); }
  };
};

}  // namespace troupe::coro::detail
