#pragma once

#include <uv.h>

#include "framework/base/result.hpp"
#include "framework/uv/handle.hpp"
#include "framework/uv/loop.hpp"

namespace troupe::uv {

/// Receives readiness from an fd_watch. Called from libuv callbacks on the
/// loop's thread: a sink may schedule coroutines but never resumes one
/// inline, and it may change the watched events or close the watch.
class fd_watch_sink {
 public:
  /// `events` are the ready ones (fd_watch::readable / writable); `status`
  /// is 0 or a negative libuv error.
  virtual void on_ready(int events, int status) noexcept = 0;

 protected:
  ~fd_watch_sink() = default;
};

/// Continuous readiness notifications for a descriptor driven by hand (a
/// socket that passes fds, an eventfd doorbell). The watch owns the fd:
/// it is closed after libuv has let go of it, never while libuv polls it.
/// Level-triggered: a sink that leaves data unread is called again on the
/// next loop turn. Thread: the owning loop's thread.
class fd_watch {
 public:
  static constexpr int readable = UV_READABLE;
  static constexpr int writable = UV_WRITABLE;

  /// Takes ownership of `fd` (closed on failure too).
  static result<fd_watch> open(loop& l, int fd, fd_watch_sink* sink);

  fd_watch() = default;
  fd_watch(fd_watch&&) noexcept = default;
  fd_watch& operator=(fd_watch&&) noexcept = default;
  ~fd_watch() { close(); }

  /// Watches exactly `events` from now on (0 pauses). errc on a libuv error.
  result<void> watch(int events) noexcept;
  [[nodiscard]] int events() const noexcept { return state_ ? state_->events : 0; }
  [[nodiscard]] int fd() const noexcept { return state_ ? state_->fd : -1; }
  [[nodiscard]] explicit operator bool() const noexcept { return static_cast<bool>(state_); }
  /// Stops watching; no sink call follows; the fd is closed once libuv
  /// has released the handle.
  void close() noexcept;

 private:
  struct state {
    uv_poll_t handle{};
    fd_watch_sink* sink = nullptr;
    int fd = -1;
    int events = 0;
    ~state();
  };
  static void on_poll(uv_poll_t* h, int status, int events) noexcept;
  handle_owner<state> state_;
};

}  // namespace troupe::uv
