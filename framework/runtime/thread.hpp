#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "framework/coro/task.hpp"
#include "framework/runtime/actor_ref.hpp"
#include "framework/runtime/process.hpp"
#include "framework/runtime/runtime.hpp"

namespace troupe {

/// How a thread is started and treated.
struct thread_options {
  /// Shown in logs; "thread-N" when empty.
  std::string name;
  /// A daemon thread is asked to stop (see thread::request_stop) when its
  /// parent's main task ends; other threads are joined first.
  bool daemon = false;
  /// Mailbox bound of the thread's runtime.
  std::size_t mailbox_bound = runtime_options{}.mailbox_bound;
};

namespace detail {

struct thread_state;

// Runs on the new thread: calls the target with its arguments (moved) and
// turns what it returns into an exit code.
template <class F, class... Args>
coro::task<int> run_thread_target(std::shared_ptr<std::tuple<F, Args...>> bound) {
  using R = std::invoke_result_t<F&&, Args&&...>;
  auto call = [](F& f, Args&... a) -> R { return std::invoke(std::move(f), std::move(a)...); };
  if constexpr (std::is_same_v<R, coro::task<void>>) {
    coro::task<void> t = std::apply(call, *bound);
    co_await std::move(t);
    co_return 0;
  } else if constexpr (std::is_same_v<R, coro::task<int>>) {
    coro::task<int> t = std::apply(call, *bound);
    co_return co_await std::move(t);
  } else if constexpr (std::is_void_v<R>) {
    std::apply(call, *bound);
    co_return 0;
  } else {
    co_return std::apply(call, *bound);
  }
}

/// Ends the threads of `rt` at the end of its main task: asks the daemon
/// ones to stop, then waits for all of them.
coro::task<void> finish_threads(runtime& rt);

}  // namespace detail

/// A thread of this process running its own runtime, with the handle of a
/// process: start, join, is_alive, exitcode, spawn.
///
/// The thread's runtime is linked to the one that started it exactly as a
/// child process is (the same frames, through a pair of lock-free rings in
/// shared memory, with a doorbell rung only when the other side sleeps), so
/// refs, send, request, monitors and spawn work across threads as across
/// processes, and the same actor code runs in a coroutine, a thread or a
/// process, chosen where it is spawned. Messages between threads are
/// therefore encoded, as between processes.
///
/// The target is any callable (captures are fine: it stays in this
/// process) returning void, int, task<void> or task<int>, called on the new
/// thread with `args` moved there. It runs on the thread's runtime:
/// runtime::current() there is the thread's.
///
/// Destroying the handle does not stop the thread. When the runtime that
/// started it shuts down, the thread's actors are stopped (their receive()
/// returns errc::closed), its requests to other runtimes fail, a host
/// thread ends, and the runtime waits for the target to return.
/// Thread: the runtime's thread that started it.
class thread : public detail::remote_spawner<thread> {
 public:
  thread() = default;

  /// A thread that will run `target(args...)` on its own runtime when started.
  /// `target` is any callable (captures are fine: it stays in this process);
  /// it and `args` are moved into the thread. Nothing runs until start().
  template <class F, class... Args>
    requires(!std::is_same_v<std::decay_t<F>, thread_options>)
  explicit thread(F&& target, Args&&... args)
      : thread(thread_options{}, std::forward<F>(target), std::forward<Args>(args)...) {}

  /// As above, with a name and the daemon flag.
  template <class F, class... Args>
  thread(thread_options options, F&& target, Args&&... args) {
    using Bound = std::tuple<std::decay_t<F>, std::decay_t<Args>...>;
    using R = std::invoke_result_t<std::decay_t<F>&&, std::decay_t<Args>&&...>;
    static_assert(detail::valid_target_result<R>, "troupe: a thread target returns void, int, task<void> or task<int>");
    auto bound = std::make_shared<Bound>(std::forward<F>(target), std::forward<Args>(args)...);
    init(std::move(options),
         [bound] { return detail::run_thread_target<std::decay_t<F>, std::decay_t<Args>...>(bound); });
  }

  /// A thread with no target that serves actors spawned into it with
  /// spawn() until request_stop() or its parent's end (always a daemon).
  static thread host(thread_options options = {});

  /// The moved-from handle is empty; the thread is not affected.
  thread(thread&&) noexcept;
  /// Releases the handle held before (as the destructor does), then takes `other`'s.
  thread& operator=(thread&&) noexcept;
  ~thread();

  /// Starts the thread. Throws error_exception if it cannot be started
  /// (errc::system_error naming the call) or was started before.
  void start();

  /// Waits until the thread has ended, at most `timeout`: true if it ended.
  /// Rethrows the exception that escaped the target, as it was thrown.
  [[nodiscard]] coro::task<bool> join(std::optional<std::chrono::nanoseconds> timeout = std::nullopt);

  /// Started and not yet ended.
  [[nodiscard]] bool is_alive() const noexcept;
  /// The name given in thread_options, or "thread-N".
  [[nodiscard]] const std::string& name() const noexcept;
  /// Whether the thread is asked to stop (rather than joined) when the program's main returns.
  [[nodiscard]] bool daemon() const noexcept;
  /// Before start only.
  void set_daemon(bool d);
  /// nullopt while running or before start; then the target's int (0 for
  /// void), or 1 if it threw.
  [[nodiscard]] std::optional<int> exitcode() const noexcept;
  /// The node id of the thread's runtime (actor refs there carry it).
  [[nodiscard]] node_id node() const noexcept;

  /// Asks the thread's runtime to stop its actors (their receive() returns
  /// errc::closed); a host thread then ends. A target function is not
  /// interrupted: the thread ends when it returns. No effect once ended.
  void request_stop();

  using detail::remote_spawner<thread>::spawn;

 private:
  friend class detail::remote_spawner<thread>;
  void init(thread_options options, std::function<coro::task<int>()> body);
  coro::task<result<actor_ref>> spawn_remote(detail::raw_function entry, detail::raw_function target,
                                             wire::packed args);

  std::shared_ptr<detail::thread_state> state_;
};

}  // namespace troupe
