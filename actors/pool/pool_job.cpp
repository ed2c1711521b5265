#include "actors/pool/pool_job.hpp"

#include <cstdio>
#include <exception>

#include "framework/base/exception_info.hpp"

namespace troupe::actors::detail {

namespace {

constexpr std::uint64_t progress_interval_ns = 100'000'000;

std::string human_duration(std::chrono::nanoseconds d) {
  char buf[32];
  double s = std::chrono::duration<double>(d).count();
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s) / 3600, (static_cast<int>(s) / 60) % 60);
  return buf;
}

std::string human_rate(double r) {
  char buf[32];
  if (r >= 1e6) std::snprintf(buf, sizeof buf, "%.2fM/s", r / 1e6);
  else if (r >= 1e3) std::snprintf(buf, sizeof buf, "%.1fk/s", r / 1e3);
  else std::snprintf(buf, sizeof buf, "%.1f/s", r);
  return buf;
}

}  // namespace

pool_job::~pool_job() {
  // A job dies with its last holder; a waiter would be a client coroutine
  // destroyed while suspended, which owns this job through its frame, so
  // none can be left.
}

pool_chunk_input pool_job::feed() {
  if (started_ns_ == 0) started_ns_ = uv::loop::now_ns();
  pool_chunk_input in = next(chunksize);
  if (in.count == 0) {
    input_end_ = true;
    next = nullptr;  // releases the input
    wake();
    return in;
  }
  fed_ += in.count;
  outstanding_ += in.count;
  // With the length known, the end is known without asking the input again.
  if (total != 0 && fed_ >= total) {
    input_end_ = true;
    next = nullptr;
  }
  return in;
}

void pool_job::add(pool_piece piece) {
  if (aborted_ || abandoned_) return;
  done_ += piece.count;
  pieces_.push_back(std::move(piece));
  if (on_progress || progress_line) report_progress(false);
  wake();
}

void pool_job::abort(pool_item_failure why) {
  if (aborted_ || finished()) return;
  aborted_ = std::move(why);
  next = nullptr;
  wake();
}

void pool_job::abandon() noexcept {
  abandoned_ = true;
  next = nullptr;
  pieces_.clear();
}

std::optional<pool_piece> pool_job::take(std::size_t first) {
  for (auto it = pieces_.begin(); it != pieces_.end(); ++it) {
    if (it->first != first) continue;
    pool_piece p = std::move(*it);
    pieces_.erase(it);
    bool was_full = window != 0 && outstanding_ >= window;
    outstanding_ -= p.count;
    if (was_full && outstanding_ < window && poke) poke();
    return p;
  }
  return std::nullopt;
}

std::optional<pool_piece> pool_job::take_any() {
  if (pieces_.empty()) return std::nullopt;
  return take(pieces_.front().first);
}

void pool_job::wake() noexcept {
  while (changed_awaiter* w = waiters_) {
    waiters_ = w->next_;
    w->linked_ = false;
    if (w->deadline_ns != 0) w->loop_.remove_timer(w);
    w->loop_.schedule(w->waiting_);
  }
  if (!completed_ && finished()) {
    completed_ = true;
    if (on_progress || progress_line) report_progress(true);
    if (on_complete) {
      auto done = std::move(on_complete);
      try {
        done(*this);
      } catch (...) {
        auto info = base::describe(std::current_exception());
        std::fprintf(stderr, "troupe: a pool callback threw %s: %s (ignored)\n", info.type.c_str(),
                     info.message.c_str());
      }
    }
  }
}

void pool_job::report_progress(bool last) {
  const std::uint64_t now = uv::loop::now_ns();
  if (!last && now - last_report_ns_ < progress_interval_ns) return;
  last_report_ns_ = now;
  pool_progress p;
  p.done = done_;
  p.total = total != 0 ? total : (input_end_ ? fed_ : 0);
  p.elapsed = std::chrono::nanoseconds(now - (started_ns_ != 0 ? started_ns_ : now));
  double secs = std::chrono::duration<double>(p.elapsed).count();
  p.rate = secs > 0 ? static_cast<double>(p.done) / secs : 0;
  if (p.total != 0 && p.rate > 0 && p.done <= p.total)
    p.eta = std::chrono::nanoseconds(static_cast<std::int64_t>(static_cast<double>(p.total - p.done) / p.rate * 1e9));
  if (on_progress) {
    try {
      on_progress(p);
    } catch (...) {
      auto info = base::describe(std::current_exception());
      std::fprintf(stderr, "troupe: a progress callback threw %s: %s (ignored)\n", info.type.c_str(),
                   info.message.c_str());
    }
  }
  if (progress_line) {
    if (p.total != 0) {
      std::fprintf(stderr, "\r%3d%% %zu/%zu  %s  elapsed %s  ETA %s   ", static_cast<int>(100.0 * p.done / p.total),
                   p.done, p.total, human_rate(p.rate).c_str(), human_duration(p.elapsed).c_str(),
                   p.eta ? human_duration(*p.eta).c_str() : "?");
    } else {
      std::fprintf(stderr, "\r%zu done  %s  elapsed %s   ", p.done, human_rate(p.rate).c_str(),
                   human_duration(p.elapsed).c_str());
    }
    if (last) std::fputc('\n', stderr);
    std::fflush(stderr);
  }
}

void pool_job::changed_awaiter::await_suspend(std::coroutine_handle<> h) {
  waiting_ = h;
  next_ = job_.waiters_;
  job_.waiters_ = this;
  linked_ = true;
  if (deadline_ns != 0) {
    fire = &changed_awaiter::on_timeout;
    loop_.add_timer(this);
  }
}

pool_job::changed_awaiter::~changed_awaiter() {
  if (!linked_) return;
  job_.unlink(this);
  if (deadline_ns != 0) loop_.remove_timer(this);
}

void pool_job::unlink(changed_awaiter* w) noexcept {
  for (changed_awaiter** p = &waiters_; *p != nullptr; p = &(*p)->next_) {
    if (*p == w) {
      *p = w->next_;
      return;
    }
  }
}

void pool_job::changed_awaiter::on_timeout(uv::timer_node* n) noexcept {
  auto* self = static_cast<changed_awaiter*>(n);
  self->job_.unlink(self);
  self->linked_ = false;
  self->loop_.schedule(self->waiting_);
}

}  // namespace troupe::actors::detail
