#include "framework/uv/loop.hpp"

#include <sched.h>

#include <cstdio>

#include "framework/base/assert.hpp"

namespace troupe::uv {

namespace {
// The loop's own handles carry this in their data field, so leak checks can
// tell them apart from user handles.
char own_handle_tag;
}  // namespace

loop::loop() : thread_(std::this_thread::get_id()) {
  int rc = uv_loop_init(&loop_);
  TROUPE_ASSERT(rc == 0, "uv_loop_init failed");
  loop_.data = this;
  uv_timer_init(&loop_, &timer_);
  timer_.data = &own_handle_tag;
  uv_async_init(&loop_, &async_, &loop::on_async);
  async_.data = &own_handle_tag;
  // Neither keeps the loop alive by itself: the timer is referenced while a
  // deadline is pending (libuv does that), the async only while held.
  uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
}

loop::~loop() {
  // Run what is still ready so no coroutine is left half-way, then close.
  drain_posted();
  drain_ready();
  std::size_t leaked = live_handles();
  if (leaked != 0) {
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
          if (h->data == &own_handle_tag || uv_is_closing(h)) return;
          std::fprintf(stderr, "troupe: a %s handle was left open on a loop being destroyed\n",
                       uv_handle_type_name(h->type));
        },
        nullptr);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);
  int rc = uv_loop_close(&loop_);
  if (rc != 0) std::fprintf(stderr, "troupe: uv_loop_close: %s\n", uv_strerror(rc));
}

void loop::post(std::function<void()> fn) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(fn));
  }
  uv_async_send(&async_);
}

void loop::hold() noexcept {
  if (holds_.fetch_add(1, std::memory_order_relaxed) == 0) {
    // hold() may come from another thread; referencing a handle must happen
    // on the loop thread, so that part is posted.
    if (on_loop_thread()) uv_ref(reinterpret_cast<uv_handle_t*>(&async_));
    else post([this] { uv_ref(reinterpret_cast<uv_handle_t*>(&async_)); });
  }
}

void loop::release() noexcept {
  if (holds_.fetch_sub(1, std::memory_order_relaxed) == 1) {
    if (on_loop_thread()) uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
    else post([this] { uv_unref(reinterpret_cast<uv_handle_t*>(&async_)); });
  }
}

void loop::on_async(uv_async_t* a) noexcept {
  auto* self = static_cast<loop*>(a->loop->data);
  self->drain_posted();
}

void loop::drain_posted() {
  {
    std::lock_guard lock(posted_mutex_);
    posted_swap_.swap(posted_);
  }
  for (auto& fn : posted_swap_) fn();
  posted_swap_.clear();
}

void loop::add_timer(timer_node* n) {
  timers_.add(n);
  if (timers_.top() == n) arm_timer();
}

void loop::remove_timer(timer_node* n) noexcept {
  bool was_top = timers_.top() == n;
  timers_.remove(n);
  if (was_top) arm_timer();
}

void loop::arm_timer() noexcept {
  timer_node* top = timers_.top();
  if (top == nullptr) {
    if (armed_for_ns_ != 0) uv_timer_stop(&timer_);
    armed_for_ns_ = 0;
    return;
  }
  if (armed_for_ns_ == top->deadline_ns) return;
  std::uint64_t now = now_ns();
  std::uint64_t left = top->deadline_ns > now ? top->deadline_ns - now : 0;
  std::uint64_t ms = left / 1'000'000 + (left % 1'000'000 != 0 ? 1 : 0);  // round up, never overflow
  // libuv measures from its cached loop time, which may lag the real clock;
  // refresh it so the timer is not due early by the lag.
  uv_update_time(&loop_);
  uv_timer_start(&timer_, &loop::on_timer, ms, 0);
  armed_for_ns_ = top->deadline_ns;
}

void loop::on_timer(uv_timer_t* t) noexcept {
  auto* self = static_cast<loop*>(t->loop->data);
  self->armed_for_ns_ = 0;
  std::uint64_t now = now_ns();
  bool fired = false;
  while (timer_node* top = self->timers_.top()) {
    if (top->deadline_ns > now) break;
    self->timers_.pop();
    top->fire(top);
    fired = true;
  }
  self->arm_timer();
  // libuv runs due timers before it polls, and would then block in the
  // poll although the coroutines just scheduled are ready: make this turn's
  // poll return at once.
  if (fired) uv_stop(t->loop);
}

void loop::drain_ready() noexcept {
  // A bounded batch, so a busy set of coroutines cannot starve I/O.
  for (std::size_t budget = 4096; budget != 0 && !ready_.empty(); --budget) ready_.pop().resume();
}

bool loop::poll() {
  TROUPE_ASSERT(on_loop_thread(), "a loop is driven by the thread that created it");
  if (!ready_.empty()) {
    uv_run(&loop_, UV_RUN_NOWAIT);
    return true;
  }
  // Falling asleep and being woken costs a peer on another core tens of
  // microseconds; when work just ran, a reply is often that close. So poll
  // without blocking for a short while first, but only right after
  // activity, so an idle loop sleeps at once — and only while spinning
  // pays: a loop whose spins keep finding nothing (work arrives every few
  // milliseconds, say a pool's parent waiting for long calls) would only
  // take the core from the processes doing the work, so it rests from
  // spinning and probes again now and then.
  if (spin_budget_ns_ != 0 && spin_rest_ != 0) {
    spin_budget_ns_ = 0;
    if (--spin_rest_ == 0) spin_misses_ = spin_miss_limit - 1;  // one miss rests again
  }
  if (spin_budget_ns_ != 0) {
    std::uint64_t until = now_ns() + spin_budget_ns_;
    spin_budget_ns_ = 0;
    do {
      int alive = uv_run(&loop_, UV_RUN_NOWAIT);
      if (!ready_.empty()) {
        spin_budget_ns_ = spin_ns;
        spin_misses_ = 0;
        return true;
      }
      if (alive == 0) return false;
      // Cooperative: another process runnable on this core gets it now
      // rather than after our spin (what matters when they outnumber cores).
      sched_yield();
    } while (now_ns() < until);
    if (++spin_misses_ >= spin_miss_limit) {
      spin_misses_ = 0;
      spin_rest_ = spin_rest_periods;
    }
  }
  int alive = uv_run(&loop_, UV_RUN_ONCE);
  if (!ready_.empty()) spin_budget_ns_ = spin_ns;
  return alive != 0 || !ready_.empty();
}

std::size_t loop::live_handles() noexcept {
  std::size_t count = 0;
  uv_walk(
      &loop_,
      [](uv_handle_t* h, void* arg) {
        if (h->data != &own_handle_tag && !uv_is_closing(h)) ++*static_cast<std::size_t*>(arg);
      },
      &count);
  return count;
}

}  // namespace troupe::uv
