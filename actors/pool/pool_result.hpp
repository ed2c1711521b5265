#pragma once

// What a pool hands back: the error of a failed call, the result of one
// apply_async, and the stream of an imap.

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "actors/pool/pool_call.hpp"
#include "actors/pool/pool_job.hpp"
#include "framework/base/error.hpp"
#include "framework/coro/task.hpp"
#include "framework/runtime/remote_error.hpp"
#include "framework/runtime/runtime.hpp"

namespace troupe {

/// Why a pool call failed.
using task_failure = actors::detail::task_failure_cause;

/// A call in a pool that did not return a value: the exception it threw in
/// its worker (type, message, pid, the worker's stack), or what the pool
/// found — its worker died on every attempt (exitcode() is the worker's exit
/// status, minus the signal), it passed its deadline, or the pool was
/// terminated, broken by a failing initializer or unable to start workers.
class task_error : public remote_error {
 public:
  /// Made by the pool from what it learnt about the failed call.
  explicit task_error(actors::detail::pool_item_failure f)
      : remote_error(std::move(f.info), f.exitcode), cause_(f.cause), attempts_(f.attempts) {}
  /// Why the call failed.
  [[nodiscard]] task_failure cause() const noexcept { return cause_; }
  /// How many times the call was started.
  [[nodiscard]] std::uint32_t attempts() const noexcept { return attempts_; }

 private:
  task_failure cause_;
  std::uint32_t attempts_;
};

namespace actors::detail {

/// One call's outcome on the client's side.
template <class W>
using pool_outcome = std::variant<W, pool_item_failure>;

/// Decodes a piece, calling `on_value(W&&)` or `on_failure(pool_item_failure&&)`
/// for each call in order.
template <class W, class OnValue, class OnFailure>
void decode_piece(pool_piece& p, OnValue&& on_value, OnFailure&& on_failure) {
  auto values = p.results.unpack<std::vector<W>>();
  std::sort(p.failures.begin(), p.failures.end(),
            [](const auto& a, const auto& b) { return a.index < b.index; });
  const std::size_t expected = p.count - std::min(p.count, p.failures.size());
  if (!values || values->size() != expected) {
    // A worker that answers with what does not decode fails the calls it
    // answered for, each with the reason.
    for (std::size_t i = 0; i < p.count; ++i) {
      pool_item_failure f;
      f.index = static_cast<std::uint32_t>(i);
      f.info.type = "troupe::decode_error";
      f.info.message = values ? "a worker answered with the wrong number of results"
                              : "a worker's results did not decode: " + values.error().message;
      on_failure(std::move(f));
    }
    return;
  }
  std::size_t v = 0, f = 0;
  for (std::size_t i = 0; i < p.count; ++i) {
    if (f < p.failures.size() && p.failures[f].index == i) on_failure(std::move(p.failures[f++]));
    else on_value(std::move((*values)[v++]));
  }
}

template <class R>
struct apply_cell {
  std::optional<pool_outcome<pool_wire_t<R>>> outcome;
  std::function<void(const pool_wire_t<R>&)> on_value;
  std::function<void(const task_error&)> on_error;
};

}  // namespace actors::detail

/// The result of pool::apply_async, as Python's AsyncResult. A value
/// handle: copies share the call. Thread: the pool's runtime.
template <class R>
class async_result {
  using W = actors::detail::pool_wire_t<R>;

 public:
  async_result() = default;

  /// The call has finished (returned or failed).
  [[nodiscard]] bool ready() const noexcept { return cell_ && cell_->outcome.has_value(); }
  /// Finished and returned a value. Throws error_exception
  /// (errc::invalid_argument) when not ready yet, as Python does.
  [[nodiscard]] bool successful() const {
    if (!ready()) throw error_exception(error{errc::invalid_argument, "successful() on a result that is not ready"});
    return cell_->outcome->index() == 0;
  }

  /// Waits until ready, at most `timeout`: true if it is. The task holds
  /// the call, so it may outlive this handle.
  [[nodiscard]] coro::task<bool> wait(std::optional<std::chrono::nanoseconds> timeout = std::nullopt) const {
    return wait_for(job_, cell_, timeout);
  }

  /// The call's value. Throws task_error if the call failed, and
  /// error_exception (errc::timeout) if it is not ready within `timeout`
  /// (the call goes on; get() may be called again).
  [[nodiscard]] coro::task<R> get(std::optional<std::chrono::nanoseconds> timeout = std::nullopt) const {
    return get_from(job_, cell_, timeout);
  }

  /// Calls `on_value` with the value, or `on_error` with the failure, once
  /// the call finishes (at once if it has). They run on the pool's runtime
  /// thread, between its other work: keep them short. An exception from
  /// them is reported on stderr and otherwise ignored.
  void then(std::function<void(const W&)> on_value, std::function<void(const task_error&)> on_error = {}) {
    if (ready()) {
      deliver(*cell_->outcome, on_value, on_error);
      return;
    }
    cell_->on_value = std::move(on_value);
    cell_->on_error = std::move(on_error);
  }

 private:
  friend class pool;
  async_result(std::shared_ptr<actors::detail::pool_job> job, std::shared_ptr<actors::detail::apply_cell<R>> cell)
      : job_(std::move(job)), cell_(std::move(cell)) {}

  using job_ptr = std::shared_ptr<actors::detail::pool_job>;
  using cell_ptr = std::shared_ptr<actors::detail::apply_cell<R>>;

  static coro::task<bool> wait_for(job_ptr job, cell_ptr cell, std::optional<std::chrono::nanoseconds> timeout) {
    const std::uint64_t deadline = timeout ? uv::deadline::after(*timeout).ns : 0;
    while (!cell->outcome.has_value()) {
      if (deadline != 0 && uv::loop::now_ns() >= deadline) co_return false;
      co_await job->changed(runtime::current().loop(), deadline);
    }
    co_return true;
  }

  static coro::task<R> get_from(job_ptr job, cell_ptr cell, std::optional<std::chrono::nanoseconds> timeout) {
    const bool ready = co_await wait_for(job, cell, timeout);
    if (!ready) throw error_exception(error{errc::timeout, "the pool call did not finish within the timeout"});
    if (cell->outcome->index() == 1) throw task_error(std::get<1>(*cell->outcome));
    if constexpr (!std::is_void_v<R>) co_return std::get<0>(*cell->outcome);
  }

  static void deliver(const actors::detail::pool_outcome<W>& o, const std::function<void(const W&)>& on_value,
                      const std::function<void(const task_error&)>& on_error) {
    if (o.index() == 0) {
      if (on_value) on_value(std::get<0>(o));
    } else if (on_error) {
      on_error(task_error(std::get<1>(o)));
    }
  }

  std::shared_ptr<actors::detail::pool_job> job_;
  std::shared_ptr<actors::detail::apply_cell<R>> cell_;
};

/// The results of pool::imap (in input order) or imap_unordered (as they
/// finish), one at a time. At most a window of calls is in flight or
/// waiting to be taken, so a slow reader holds the pool back instead of
/// piling up results. Move-only; destroying it stops feeding the pool
/// (calls already running finish, their results are dropped).
/// Thread: the pool's runtime.
template <class R>
class pool_stream {
  using W = actors::detail::pool_wire_t<R>;

 public:
  pool_stream() = default;
  /// Takes over the stream; the moved-from stream is empty.
  pool_stream(pool_stream&&) noexcept = default;
  /// Abandons the stream held before (its calls still in flight are
  /// cancelled), then takes over `o`'s.
  pool_stream& operator=(pool_stream&& o) noexcept {
    if (this != &o) {
      release();
      job_ = std::move(o.job_);
      ordered_ = o.ordered_;
      next_first_ = o.next_first_;
      buffer_ = std::move(o.buffer_);
      ended_ = o.ended_;
    }
    return *this;
  }
  pool_stream(const pool_stream&) = delete;
  pool_stream& operator=(const pool_stream&) = delete;
  ~pool_stream() { release(); }

  /// The next result; nullopt after the last. A call that failed throws
  /// its task_error here, and the stream goes on with the next call. If
  /// the pool is terminated, the calls still missing are reported by one
  /// task_error (task_failure::cancelled) and the stream ends.
  [[nodiscard]] coro::task<std::optional<W>> next() {
    for (;;) {
      if (!buffer_.empty()) {
        auto o = std::move(buffer_.front());
        buffer_.pop_front();
        if (o.index() == 1) throw task_error(std::move(std::get<1>(o)));
        co_return std::move(std::get<0>(o));
      }
      if (ended_ || !job_) co_return std::nullopt;
      std::optional<actors::detail::pool_piece> p = ordered_ ? job_->take(next_first_) : job_->take_any();
      if (p) {
        if (ordered_) next_first_ += p->count;
        actors::detail::decode_piece<W>(
            *p, [this](W&& v) { buffer_.emplace_back(std::in_place_index<0>, std::move(v)); },
            [this](actors::detail::pool_item_failure&& f) { buffer_.emplace_back(std::in_place_index<1>, std::move(f)); });
        continue;
      }
      if (job_->aborted()) {
        ended_ = true;
        throw task_error(*job_->aborted());
      }
      if (job_->finished() && job_->pieces().empty()) {
        ended_ = true;
        co_return std::nullopt;
      }
      co_await job_->changed(runtime::current().loop(), 0);
    }
  }

 private:
  friend class pool;
  pool_stream(std::shared_ptr<actors::detail::pool_job> job, bool ordered) : job_(std::move(job)), ordered_(ordered) {}
  void release() noexcept {
    if (job_ && !job_->finished()) job_->abandon();
    job_.reset();
  }

  std::shared_ptr<actors::detail::pool_job> job_;
  bool ordered_ = true;
  std::size_t next_first_ = 0;
  std::deque<actors::detail::pool_outcome<W>> buffer_;
  bool ended_ = false;
};

}  // namespace troupe
