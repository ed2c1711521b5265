#pragma once

#include <coroutine>
#include <exception>
#include <type_traits>
#include <utility>

#include "framework/base/assert.hpp"

namespace troupe::coro {

template <class T = void>
class task;

namespace detail {

// A task resumes its awaiter without symmetric transfer, because g++ 12 does
// not turn symmetric transfer into a tail call at -O0 or under sanitizers, and
// a loop over synchronously completing tasks would then grow the stack. The
// awaiter resumes the child inline; whichever of the two (the awaiter after
// resume() returns, or the child's final_suspend) sees `rendezvous_` already
// set knows the other side has finished its part:
// - the child finished inside resume(): await_suspend returns false, the
//   awaiter continues on the same stack frame, nothing grows;
// - the child suspended on something asynchronous: await_suspend returns
//   true and the child's final_suspend later resumes the awaiter.
// Tasks belong to one thread (their runtime's), so a plain bool suffices.
class promise_base {
 public:
  std::suspend_always initial_suspend() noexcept { return {}; }

  struct final_awaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) noexcept {
      promise_base& p = h.promise();
      if (p.rendezvous_) {
        // The awaiter is suspended: resume it. After this call the frame may
        // already be destroyed, so nothing is touched afterwards.
        p.continuation_.resume();
      } else {
        p.rendezvous_ = true;
      }
    }
    void await_resume() noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }

  void unhandled_exception() noexcept { exception_ = std::current_exception(); }

  // Starts (or resumes) the child and reports whether the caller must suspend.
  bool start(std::coroutine_handle<> self, std::coroutine_handle<> awaiting) {
    continuation_ = awaiting;
    self.resume();
    if (rendezvous_) return false;
    rendezvous_ = true;
    return true;
  }

  void rethrow_if_exception() {
    if (exception_) std::rethrow_exception(std::exchange(exception_, nullptr));
  }

 private:
  std::coroutine_handle<> continuation_;
  std::exception_ptr exception_;
  bool rendezvous_ = false;
};

template <class T>
class promise final : public promise_base {
 public:
  task<T> get_return_object() noexcept;

  template <class U>
    requires std::is_convertible_v<U&&, T>
  void return_value(U&& v) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    ::new (static_cast<void*>(&storage_)) T(std::forward<U>(v));
    has_value_ = true;
  }

  T take() {
    rethrow_if_exception();
    TROUPE_ASSERT(has_value_, "task finished without a value");
    return std::move(*std::launder(reinterpret_cast<T*>(&storage_)));
  }

  ~promise() {
    if (has_value_) std::launder(reinterpret_cast<T*>(&storage_))->~T();
  }

 private:
  alignas(T) unsigned char storage_[sizeof(T)];
  bool has_value_ = false;
};

template <class T>
class promise<T&> final : public promise_base {
 public:
  task<T&> get_return_object() noexcept;
  void return_value(T& v) noexcept { value_ = &v; }
  T& take() {
    rethrow_if_exception();
    return *value_;
  }

 private:
  T* value_ = nullptr;
};

template <>
class promise<void> final : public promise_base {
 public:
  task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void take() { rethrow_if_exception(); }
};

}  // namespace detail

/// A lazily started coroutine producing a T. Move-only; starts when awaited
/// and resumes its awaiter when done. An exception escaping the body is
/// rethrown at the co_await. Destroying a task that was never awaited is fine;
/// destroying one that has started and not finished is a bug (asserted by the
/// owners that detach tasks, see scope).
template <class T>
class [[nodiscard]] task {
 public:
  /// The coroutine promise (used by the compiler).
  using promise_type = detail::promise<T>;
  /// What co_await on the task gives.
  using value_type = T;

  task() noexcept = default;
  /// Takes ownership of a coroutine frame (used by the promise).
  explicit task(std::coroutine_handle<promise_type> h) noexcept : handle_(h) {}
  /// The moved-from task is empty (valid() is false).
  task(task&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  /// Destroys the task held before, then takes `other`'s.
  task& operator=(task&& other) noexcept {
    if (this != &other) {
      destroy();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() { destroy(); }

  /// True when the task owns a coroutine.
  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(handle_); }
  /// True when the coroutine has finished (its result is ready).
  [[nodiscard]] bool done() const noexcept { return handle_ && handle_.done(); }

  /// Starts the coroutine and suspends the awaiter until it finishes;
  /// gives its value or rethrows its exception. Awaitable once.
  auto operator co_await() && noexcept {
    struct awaiter {
      std::coroutine_handle<promise_type> h;
      bool await_ready() const noexcept { return false; }
      bool await_suspend(std::coroutine_handle<> awaiting) {
        return h.promise().start(h, awaiting);
      }
      decltype(auto) await_resume() { return h.promise().take(); }
    };
    TROUPE_ASSERT(handle_, "co_await on an empty task");
    return awaiter{handle_};
  }

  /// The coroutine handle, for drivers (sync_wait, when_all, the runtime).
  [[nodiscard]] std::coroutine_handle<promise_type> handle() const noexcept { return handle_; }

 private:
  void destroy() noexcept {
    if (handle_) std::exchange(handle_, {}).destroy();
  }
  std::coroutine_handle<promise_type> handle_;
};

namespace detail {
template <class T>
task<T> promise<T>::get_return_object() noexcept {
  return task<T>{std::coroutine_handle<promise<T>>::from_promise(*this)};
}
template <class T>
task<T&> promise<T&>::get_return_object() noexcept {
  return task<T&>{std::coroutine_handle<promise<T&>>::from_promise(*this)};
}
inline task<void> promise<void>::get_return_object() noexcept {
  return task<void>{std::coroutine_handle<promise<void>>::from_promise(*this)};
}
}  // namespace detail

/// What co_await on a task<T> gives back: T for values, void for task<void>.
template <class T>
using task_result_t = decltype(std::declval<detail::promise<T>&>().take());

}  // namespace troupe::coro
