#pragma once

#include <uv.h>

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "framework/uv/ready_queue.hpp"
#include "framework/uv/timer_queue.hpp"

namespace troupe::uv {

/// One libuv loop plus the queue of coroutines ready to run on it.
///
/// libuv callbacks never resume coroutines inline: they store their result
/// and schedule() the waiting coroutine; run_until() drains the ready queue
/// between loop turns. All timed waits share one libuv timer through a heap
/// of deadlines, so a timed wait needs no handle of its own.
///
/// Thread: everything but post() belongs to the thread that created the loop.
class loop {
 public:
  loop();
  ~loop();
  loop(const loop&) = delete;
  loop& operator=(const loop&) = delete;

  [[nodiscard]] uv_loop_t* native() noexcept { return &loop_; }

  /// Queues a coroutine to be resumed by the loop's thread. Loop thread only.
  void schedule(std::coroutine_handle<> h) { ready_.push(h); }

  /// Runs `fn` on the loop's thread at its next turn. Safe from any thread.
  void post(std::function<void()> fn);

  /// Keeps run_until() from reporting a stall while another thread may still
  /// post(). Counted; every hold() needs a release().
  void hold() noexcept;
  void release() noexcept;

  [[nodiscard]] bool on_loop_thread() const noexcept {
    return std::this_thread::get_id() == thread_;
  }

  /// Monotonic nanoseconds, the clock of every deadline.
  [[nodiscard]] static std::uint64_t now_ns() noexcept { return uv_hrtime(); }

  void add_timer(timer_node* n);
  void remove_timer(timer_node* n) noexcept;

  /// Runs coroutines and I/O until `done()` is true. Returns false if the
  /// loop stalled first: nothing ready to run and nothing that could make
  /// anything ready (no active handle, request, timer or hold), i.e. every
  /// coroutine waits for something that cannot happen.
  template <class Done>
  bool run_until(Done&& done) {
    while (!done()) {
      drain_ready();
      // Checked before polling: what just ran may have finished the wait,
      // and a poll with nothing ready would block on the open handles.
      if (done()) return true;
      if (!poll()) return done();
    }
    return true;
  }

  /// One turn: resume ready coroutines (bounded batch), then let libuv poll,
  /// blocking only if nothing is ready. Returns false when stalled.
  bool step() {
    drain_ready();
    return poll();
  }

  /// Handles open on this loop other than the loop's own, for leak checks.
  [[nodiscard]] std::size_t live_handles() noexcept;

  /// Number of coroutines waiting in the ready queue.
  [[nodiscard]] std::size_t ready_count() const noexcept { return ready_.size(); }

 private:
  static void on_timer(uv_timer_t* t) noexcept;
  static void on_async(uv_async_t* a) noexcept;
  void arm_timer() noexcept;
  void drain_ready() noexcept;
  bool poll();
  void drain_posted();

  uv_loop_t loop_{};
  uv_timer_t timer_{};
  uv_async_t async_{};
  ready_queue ready_;
  timer_queue timers_;
  std::uint64_t armed_for_ns_ = 0;  // deadline the libuv timer is set for, 0 = idle
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;       // guarded by posted_mutex_
  std::vector<std::function<void()>> posted_swap_;  // loop thread only
  std::atomic<std::size_t> holds_{0};
  static constexpr std::uint64_t spin_ns = 50'000;
  // Spins that find nothing this many times in a row stop spinning for
  // spin_rest_periods idle periods; then one spin probes again.
  static constexpr std::uint32_t spin_miss_limit = 8;
  static constexpr std::uint32_t spin_rest_periods = 16;
  std::uint64_t spin_budget_ns_ = 0;  // how long the next poll may spin first
  std::uint32_t spin_misses_ = 0;     // spins in a row that found nothing
  std::uint32_t spin_rest_ = 0;       // idle periods left without spinning
  std::thread::id thread_;
};

/// Suspends the calling coroutine until the loop's next turn through its
/// ready queue: what was scheduled before it (a link's writer, say) runs
/// first.
class [[nodiscard]] yield_awaiter {
 public:
  explicit yield_awaiter(loop& l) noexcept : loop_(l) {}
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) { loop_.schedule(h); }
  void await_resume() const noexcept {}

 private:
  loop& loop_;
};

inline yield_awaiter yield(loop& l) noexcept { return yield_awaiter(l); }

}  // namespace troupe::uv
