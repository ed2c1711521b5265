#pragma once

#include <chrono>
#include <coroutine>
#include <optional>

#include "framework/uv/loop.hpp"
#include "framework/uv/timer_queue.hpp"

namespace troupe::detail {

/// One coroutine waiting for a child (process or thread) to end; a node of
/// the child's intrusive list of waiters, so waiting allocates nothing.
struct exit_waiter : uv::timer_node {
  exit_waiter* next = nullptr;
  std::coroutine_handle<> waiting;
};

/// Resumes every waiter of `waiters` (at the end of a child).
inline void wake_exit_waiters(uv::loop& l, exit_waiter*& waiters) noexcept {
  while (exit_waiter* w = waiters) {
    waiters = w->next;
    l.remove_timer(w);
    l.schedule(w->waiting);
  }
}

/// Awaits the end of a child record `State` (a process's or a thread's:
/// `status` set once it ended, `waiters`, `rt`), at most `timeout`;
/// resumes with whether it ended.
template <class State>
class join_awaiter : exit_waiter {
 public:
  join_awaiter(State& st, std::optional<std::chrono::nanoseconds> timeout) : st_(st), timeout_(timeout) {}
  bool await_ready() const noexcept { return st_.status.has_value() || (timeout_ && timeout_->count() <= 0); }
  void await_suspend(std::coroutine_handle<> h) {
    waiting = h;
    next = st_.waiters;
    st_.waiters = this;
    if (timeout_) {
      deadline_ns = uv::deadline::after(*timeout_).ns;
      fire = &join_awaiter::on_timeout;
      st_.rt->loop().add_timer(this);
    }
  }
  bool await_resume() const noexcept { return st_.status.has_value(); }

 private:
  static void on_timeout(uv::timer_node* n) noexcept {
    auto* self = static_cast<join_awaiter*>(n);
    for (exit_waiter** p = &self->st_.waiters; *p != nullptr; p = &(*p)->next) {
      if (*p == self) {
        *p = self->next;
        break;
      }
    }
    self->st_.rt->loop().schedule(self->waiting);
  }
  State& st_;
  std::optional<std::chrono::nanoseconds> timeout_;
};

}  // namespace troupe::detail
