#pragma once

// One submission to a pool (an apply, a map, an imap), shared by the
// client that awaits it and the pool's server that feeds its calls to the
// workers and files their results. Both live on the runtime's thread, so
// the job needs no locking; the server never blocks on it and the client
// only reads what the server filed.

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <vector>

#include "actors/pool/pool_messages.hpp"
#include "framework/runtime/code_address.hpp"
#include "framework/uv/timer.hpp"
#include "framework/wire/packed.hpp"

namespace troupe {

/// How far a long map has come, for a progress callback.
struct pool_progress {
  std::size_t done = 0;   ///< calls finished (returned or failed)
  std::size_t total = 0;  ///< calls in the input; 0 while its length is unknown
  std::chrono::nanoseconds elapsed{};
  double rate = 0;                             ///< calls per second so far
  std::optional<std::chrono::nanoseconds> eta; ///< when the total is known and the rate is not 0
};

}  // namespace troupe

namespace troupe::actors::detail {

/// Results of consecutive calls of a job that arrived together.
struct pool_piece {
  std::size_t first = 0;  ///< index in the job's input of the first call
  std::size_t count = 0;
  wire::packed results;   ///< the encoded vector of the calls that returned
  std::vector<pool_item_failure> failures;  ///< indices relative to `first`
};

/// The next calls of a job's input, encoded.
struct pool_chunk_input {
  wire::packed args;
  std::size_t count = 0;
};

class pool_job {
 public:
  /// What the client sets before submitting.
  troupe::detail::code_address entry;
  troupe::detail::code_address fn;
  /// Encodes up to `max` further calls; count 0 at the end of the input.
  /// Runs on the server's turn, so the input is read as the workers need it.
  std::function<pool_chunk_input(std::size_t max)> next;
  /// Splits a chunk into single calls (to retry them one by one).
  std::vector<wire::packed> (*split)(const wire::packed&) = nullptr;
  std::size_t chunksize = 1;
  std::size_t total = 0;         ///< calls in the input, 0 if unknown
  std::size_t window = 0;        ///< calls fed and not yet taken by the client; 0: no bound
  std::uint64_t timeout_ns = 0;  ///< per call; 0: the pool's
  std::function<void(const pool_progress&)> on_progress;
  bool progress_line = false;
  /// Called once when every call has finished (or the job was aborted).
  std::function<void(pool_job&)> on_complete;

  // ---- the server's side ----

  /// Whether the server may take more calls from the input now.
  [[nodiscard]] bool can_feed() const noexcept {
    return !input_end_ && !aborted_ && !abandoned_ && (window == 0 || outstanding_ < window);
  }
  /// The next chunk, counted as fed; empty (count 0) at the end.
  pool_chunk_input feed();
  /// Files the results of calls (once per call: the server guarantees it).
  void add(pool_piece piece);
  /// Fails every call not yet finished with `why`.
  void abort(pool_item_failure why);
  /// Nothing left to run: the input is exhausted and everything fed has
  /// finished, or the job was aborted or abandoned.
  [[nodiscard]] bool settled() const noexcept {
    return aborted_.has_value() || abandoned_ || (input_end_ && done_ == fed_);
  }
  [[nodiscard]] bool abandoned() const noexcept { return abandoned_; }

  // ---- the client's side ----

  [[nodiscard]] bool finished() const noexcept { return aborted_.has_value() || (input_end_ && done_ == fed_); }
  [[nodiscard]] const std::optional<pool_item_failure>& aborted() const noexcept { return aborted_; }
  [[nodiscard]] std::size_t done() const noexcept { return done_; }
  [[nodiscard]] std::size_t fed() const noexcept { return fed_; }
  [[nodiscard]] bool input_end() const noexcept { return input_end_; }
  /// Filed pieces, in arrival order; the client takes them from here.
  std::deque<pool_piece>& pieces() noexcept { return pieces_; }
  /// Takes the piece starting at `first`, if it has arrived.
  std::optional<pool_piece> take(std::size_t first);
  /// Takes the piece that arrived first, if any.
  std::optional<pool_piece> take_any();
  /// The client will not take more: stop feeding, drop results.
  void abandon() noexcept;
  /// Set by the client: whom to poke when taking results opens the window.
  std::function<void()> poke;

  /// Suspends until something changes (a piece filed, the job aborted) or
  /// the deadline passes (0: none). Resumes at once if `ready()` holds.
  class changed_awaiter : uv::timer_node {
   public:
    changed_awaiter(pool_job& job, uv::loop& loop, std::uint64_t until_ns) noexcept
        : job_(job), loop_(loop) {
      deadline_ns = until_ns;
    }
    changed_awaiter(const changed_awaiter&) = delete;
    changed_awaiter& operator=(const changed_awaiter&) = delete;
    // A waiting coroutine destroyed while suspended leaves the list.
    ~changed_awaiter();
    bool await_ready() const noexcept { return deadline_ns != 0 && deadline_ns <= uv::loop::now_ns(); }
    void await_suspend(std::coroutine_handle<> h);
    void await_resume() const noexcept {}

   private:
    friend class pool_job;
    static void on_timeout(uv::timer_node* n) noexcept;
    pool_job& job_;
    uv::loop& loop_;
    std::coroutine_handle<> waiting_;
    changed_awaiter* next_ = nullptr;
    bool linked_ = false;
  };
  changed_awaiter changed(uv::loop& loop, std::uint64_t until_ns) noexcept {
    return changed_awaiter(*this, loop, until_ns);
  }

  pool_job() = default;
  pool_job(const pool_job&) = delete;
  pool_job& operator=(const pool_job&) = delete;
  ~pool_job();

 private:
  void wake() noexcept;
  void report_progress(bool last);
  void unlink(changed_awaiter* w) noexcept;

  std::size_t fed_ = 0;
  std::size_t done_ = 0;
  std::size_t outstanding_ = 0;
  bool input_end_ = false;
  bool abandoned_ = false;
  bool completed_ = false;
  std::optional<pool_item_failure> aborted_;
  std::deque<pool_piece> pieces_;
  changed_awaiter* waiters_ = nullptr;
  std::uint64_t started_ns_ = 0;
  std::uint64_t last_report_ns_ = 0;
};

}  // namespace troupe::actors::detail
