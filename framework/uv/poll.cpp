#include "framework/uv/poll.hpp"

namespace troupe::uv {

// ---- poller

result<poller> poller::open(loop& l, int fd) {
  auto* s = new state;
  s->owner = &l;
  int rc = uv_poll_init(l.native(), &s->handle, fd);
  if (rc != 0) {
    delete s;
    return system_error("uv_poll_init", rc);
  }
  poller p;
  p.state_ = handle_owner<state>(s);
  return p;
}

void poller::close() noexcept {
  if (!state_) return;
  if (awaiter* w = std::exchange(state_->waiter, nullptr)) w->cancel();
  state_.reset();
}

bool poller::awaiter::await_suspend(std::coroutine_handle<> h) noexcept {
  TROUPE_ASSERT(poller_.state_ && poller_.state_->waiter == nullptr, "poller: one wait at a time");
  waiting_ = h;
  int rc = uv_poll_start(&poller_.state_->handle, events_, &poller::on_poll);
  if (rc != 0) {
    status_ = rc;
    return false;
  }
  poller_.state_->waiter = this;
  hook_.arm(stop_, this);
  return true;
}

void poller::on_poll(uv_poll_t* h, int status, int events) noexcept {
  auto* s = static_cast<state*>(h->data);
  uv_poll_stop(h);
  awaiter* w = std::exchange(s->waiter, nullptr);
  if (w == nullptr) return;
  w->hook_.disarm();
  w->status_ = status;
  w->ready_ = events;
  s->owner->schedule(w->waiting_);
}

void poller::awaiter::cancel() noexcept {
  if (poller_.state_) {
    uv_poll_stop(&poller_.state_->handle);
    poller_.state_->waiter = nullptr;
  }
  cancelled_ = true;
  owning_loop().schedule(waiting_);
}

result<int> poller::awaiter::await_resume() noexcept {
  if (cancelled_ || (status_ == 0 && ready_ == 0)) return error{errc::cancelled, "poll cancelled"};
  if (status_ < 0) return system_error("poll", status_);
  return ready_;
}

// ---- signal_watcher

result<signal_watcher> signal_watcher::open(loop& l, int signum) {
  auto* s = new state;
  s->owner = &l;
  s->signum = signum;
  uv_signal_init(l.native(), &s->handle);
  signal_watcher w;
  w.state_ = handle_owner<state>(s);
  int rc = uv_signal_start(&s->handle, &signal_watcher::on_signal, signum);
  if (rc != 0) return system_error("uv_signal_start", rc);
  return w;
}

void signal_watcher::close() noexcept {
  if (!state_) return;
  if (awaiter* w = std::exchange(state_->waiter, nullptr)) w->cancel();
  state_.reset();
}

void signal_watcher::on_signal(uv_signal_t* h, int) noexcept {
  auto* s = static_cast<state*>(h->data);
  if (awaiter* w = std::exchange(s->waiter, nullptr)) {
    w->hook_.disarm();
    s->owner->schedule(w->waiting_);
  } else {
    ++s->pending;
  }
}

bool signal_watcher::awaiter::await_ready() noexcept {
  if (stop_.stop_requested()) {
    cancelled_ = true;
    return true;
  }
  if (watcher_.state_->pending > 0) {
    --watcher_.state_->pending;
    return true;
  }
  return false;
}

void signal_watcher::awaiter::await_suspend(std::coroutine_handle<> h) noexcept {
  TROUPE_ASSERT(watcher_.state_->waiter == nullptr, "signal_watcher: one wait at a time");
  waiting_ = h;
  watcher_.state_->waiter = this;
  hook_.arm(stop_, this);
}

void signal_watcher::awaiter::cancel() noexcept {
  if (watcher_.state_) watcher_.state_->waiter = nullptr;
  cancelled_ = true;
  owning_loop().schedule(waiting_);
}

result<int> signal_watcher::awaiter::await_resume() noexcept {
  if (cancelled_) return error{errc::cancelled, "signal wait cancelled"};
  return watcher_.state_->signum;
}

// ---- async_event

result<async_event> async_event::open(loop& l) {
  auto* s = new state;
  s->owner = &l;
  int rc = uv_async_init(l.native(), &s->handle, &async_event::on_async);
  if (rc != 0) {
    delete s;
    return system_error("uv_async_init", rc);
  }
  async_event e;
  e.state_ = handle_owner<state>(s);
  return e;
}

void async_event::notify() noexcept {
  state_->signalled.store(true, std::memory_order_release);
  uv_async_send(&state_->handle);
}

void async_event::close() noexcept {
  if (!state_) return;
  if (awaiter* w = std::exchange(state_->waiter, nullptr)) w->cancel();
  state_.reset();
}

void async_event::on_async(uv_async_t* h) noexcept {
  auto* s = static_cast<state*>(h->data);
  if (s->waiter == nullptr) return;  // the flag stays set for the next wait
  if (!s->signalled.exchange(false, std::memory_order_acquire)) return;
  awaiter* w = std::exchange(s->waiter, nullptr);
  w->hook_.disarm();
  s->owner->schedule(w->waiting_);
}

bool async_event::awaiter::await_ready() noexcept {
  if (stop_.stop_requested()) {
    cancelled_ = true;
    return true;
  }
  return event_.state_->signalled.exchange(false, std::memory_order_acquire);
}

void async_event::awaiter::await_suspend(std::coroutine_handle<> h) noexcept {
  TROUPE_ASSERT(event_.state_->waiter == nullptr, "async_event: one wait at a time");
  waiting_ = h;
  event_.state_->waiter = this;
  hook_.arm(stop_, this);
}

void async_event::awaiter::cancel() noexcept {
  if (event_.state_) event_.state_->waiter = nullptr;
  cancelled_ = true;
  owning_loop().schedule(waiting_);
}

result<void> async_event::awaiter::await_resume() noexcept {
  if (cancelled_) return error{errc::cancelled, "wait cancelled"};
  return {};
}

}  // namespace troupe::uv
