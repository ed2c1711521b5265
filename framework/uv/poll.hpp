#pragma once

#include <uv.h>

#include <coroutine>
#include <stop_token>

#include "framework/base/result.hpp"
#include "framework/uv/cancel.hpp"
#include "framework/uv/handle.hpp"
#include "framework/uv/loop.hpp"

namespace troupe::uv {

/// Readiness of a file descriptor the caller keeps owning (an eventfd, a
/// socket driven by hand). wait() resumes with the ready events
/// (UV_READABLE / UV_WRITABLE), errc::cancelled, or a system error.
/// Thread: the owning loop's thread. One wait at a time.
class poller {
 public:
  static result<poller> open(loop& l, int fd);

  poller() = default;
  poller(poller&&) noexcept = default;
  poller& operator=(poller&&) noexcept = default;
  ~poller() { close(); }

  class [[nodiscard]] awaiter {
   public:
    awaiter(poller& p, int events, std::stop_token stop) noexcept
        : poller_(p), events_(events), stop_(std::move(stop)) {}
    awaiter(const awaiter&) = delete;
    awaiter& operator=(const awaiter&) = delete;
    bool await_ready() noexcept { return stop_.stop_requested(); }
    bool await_suspend(std::coroutine_handle<> h) noexcept;
    result<int> await_resume() noexcept;
    loop& owning_loop() noexcept { return *poller_.state_->owner; }
    void cancel() noexcept;

   private:
    friend class poller;
    poller& poller_;
    int events_;
    std::stop_token stop_;
    cancel_hook<awaiter> hook_;
    std::coroutine_handle<> waiting_;
    int status_ = 0;
    int ready_ = 0;
    bool cancelled_ = false;
  };

  /// Suspends until the fd is ready for any of `events`.
  awaiter wait(int events, std::stop_token stop = {}) noexcept {
    return awaiter(*this, events, std::move(stop));
  }
  /// Stops watching; does not close the fd. A pending wait ends cancelled.
  void close() noexcept;

 private:
  struct state {
    uv_poll_t handle{};
    loop* owner = nullptr;
    awaiter* waiter = nullptr;
  };
  static void on_poll(uv_poll_t* h, int status, int events) noexcept;
  handle_owner<state> state_;
};

/// Delivery of one signal to the loop. Signals that arrive while nobody
/// waits are counted and handed to the next wait(), so none is lost.
/// Thread: the owning loop's thread. One wait at a time.
class signal_watcher {
 public:
  static result<signal_watcher> open(loop& l, int signum);

  signal_watcher() = default;
  signal_watcher(signal_watcher&&) noexcept = default;
  signal_watcher& operator=(signal_watcher&&) noexcept = default;
  ~signal_watcher() { close(); }

  class [[nodiscard]] awaiter {
   public:
    awaiter(signal_watcher& w, std::stop_token stop) noexcept : watcher_(w), stop_(std::move(stop)) {}
    awaiter(const awaiter&) = delete;
    awaiter& operator=(const awaiter&) = delete;
    bool await_ready() noexcept;
    void await_suspend(std::coroutine_handle<> h) noexcept;
    result<int> await_resume() noexcept;
    loop& owning_loop() noexcept { return *watcher_.state_->owner; }
    void cancel() noexcept;

   private:
    friend class signal_watcher;
    signal_watcher& watcher_;
    std::stop_token stop_;
    cancel_hook<awaiter> hook_;
    std::coroutine_handle<> waiting_;
    bool cancelled_ = false;
  };

  /// Suspends until the signal arrives; resumes with its number.
  awaiter wait(std::stop_token stop = {}) noexcept { return awaiter(*this, std::move(stop)); }
  void close() noexcept;

 private:
  struct state {
    uv_signal_t handle{};
    loop* owner = nullptr;
    awaiter* waiter = nullptr;
    int signum = 0;
    unsigned pending = 0;
  };
  static void on_signal(uv_signal_t* h, int signum) noexcept;
  handle_owner<state> state_;
};

/// A wake-up another thread can trigger: notify() from any thread resumes
/// the coroutine in wait() on the loop's thread. Notifications coalesce: any
/// number of notify() calls before the wait resumes count as one.
class async_event {
 public:
  static result<async_event> open(loop& l);

  async_event() = default;
  async_event(async_event&&) noexcept = default;
  async_event& operator=(async_event&&) noexcept = default;
  ~async_event() { close(); }

  /// Safe from any thread, as long as the event is open.
  void notify() noexcept;

  class [[nodiscard]] awaiter {
   public:
    awaiter(async_event& e, std::stop_token stop) noexcept : event_(e), stop_(std::move(stop)) {}
    awaiter(const awaiter&) = delete;
    awaiter& operator=(const awaiter&) = delete;
    bool await_ready() noexcept;
    void await_suspend(std::coroutine_handle<> h) noexcept;
    result<void> await_resume() noexcept;
    loop& owning_loop() noexcept { return *event_.state_->owner; }
    void cancel() noexcept;

   private:
    friend class async_event;
    async_event& event_;
    std::stop_token stop_;
    cancel_hook<awaiter> hook_;
    std::coroutine_handle<> waiting_;
    bool cancelled_ = false;
  };

  /// Suspends until notify() is called (or was called since the last wait).
  awaiter wait(std::stop_token stop = {}) noexcept { return awaiter(*this, std::move(stop)); }
  void close() noexcept;

 private:
  struct state {
    uv_async_t handle{};
    loop* owner = nullptr;
    awaiter* waiter = nullptr;
    std::atomic<bool> signalled{false};  // store in notify ↔ exchange in wait/on_async
  };
  static void on_async(uv_async_t* h) noexcept;
  handle_owner<state> state_;
};

}  // namespace troupe::uv
