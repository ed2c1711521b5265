#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "actors/pool/pool_actor.hpp"
#include "actors/pool/pool_call.hpp"
#include "actors/pool/pool_job.hpp"
#include "actors/pool/pool_result.hpp"
#include "framework/coro/task.hpp"
#include "framework/runtime/process.hpp"
#include "framework/runtime/runtime.hpp"
#include "framework/runtime/spawn.hpp"

namespace troupe {

/// How a pool is made (Python's Pool arguments, and what it lacks).
struct pool_options {
  /// Worker processes; 0: as many as the CPUs this process may run on.
  std::size_t processes = 0;
  /// A worker is replaced after this many tasks (chunks); 0: never.
  std::size_t maxtasksperchild = 0;
  /// How workers start; the program's default if unset.
  std::optional<start_method> method;
  /// How often a call whose worker died is run again before it fails.
  std::uint32_t retries = 2;
  /// Deadline of each call; a call past it has its worker killed (and
  /// replaced) and fails with task_failure::timeout. None if unset.
  std::optional<std::chrono::nanoseconds> task_timeout;
  /// Workers are named "<name>-worker-N".
  std::string name = "pool";
};

/// Options of map and starmap.
struct map_options {
  /// Calls per task sent to a worker; 0: Python's choice, about four tasks
  /// per worker, so tiny calls cost little.
  std::size_t chunksize = 0;
  /// Deadline of each call, instead of the pool's.
  std::optional<std::chrono::nanoseconds> timeout;
  /// Called (on the pool's thread) at most every 100 ms and at the end.
  std::function<void(const pool_progress&)> progress;
  /// Prints "done/total, rate, ETA" on stderr as the map goes.
  bool progress_line = false;
};

/// Options of imap and imap_unordered.
struct imap_options {
  /// Calls per task sent to a worker.
  std::size_t chunksize = 1;
  /// Calls in flight or waiting to be taken, at most; 0: four tasks per
  /// worker.
  std::size_t window = 0;
  /// Deadline of each call, instead of the pool's.
  std::optional<std::chrono::nanoseconds> timeout;
};

/// The CPUs this process may run on.
std::size_t usable_cpus() noexcept;

/// A pool of worker processes running calls of free functions (or
/// captureless lambdas) with encodable arguments and results, as Python's
/// multiprocessing.Pool with concurrent.futures' guarantees:
///
/// - results arrive exactly once each, in input order for map and imap;
/// - an exception in a call is that call's task_error (type, message, pid,
///   stack) and the pool goes on;
/// - a worker that dies (killed, crashed, exit() in a call) is replaced and
///   the calls it held run again, up to `retries` times; a call that kills
///   every worker it runs on fails alone, naming the signal or exit code;
/// - a call past its deadline has its worker killed and replaced and fails
///   with a timeout.
///
/// The pool's server is an actor in the runtime that made it; the pool and
/// everything it returns belong to that runtime's thread. Destroying the
/// pool terminates it (workers killed, unfinished calls fail with
/// task_failure::cancelled), as leaving Python's `with Pool()` does.
/// Workers ignore SIGINT: Ctrl-C ends the program that owns the pool, and
/// its workers end with it.
class pool {
 public:
  /// Starts the workers at once (options.processes of them, every CPU by default).
  /// Throws error_exception if no worker can be started.
  explicit pool(pool_options options = {}) { launch(std::move(options), std::nullopt); }

  /// A pool of `processes` workers, every other option at its default
  /// (Python's `Pool(4)`).
  explicit pool(std::size_t processes) {
    pool_options options;
    options.processes = processes;
    launch(std::move(options), std::nullopt);
  }

  /// A pool whose workers each run `initializer(args...)` first. If it
  /// throws, the pool is broken: every call fails with
  /// task_failure::initializer and the initializer's exception.
  template <class F, class... Args>
  pool(pool_options options, F initializer, Args&&... args) {
    auto fn = troupe::detail::as_function_pointer(initializer);
    using Traits = troupe::detail::target_traits<decltype(fn)>;
    static_assert(troupe::detail::valid_target_result<typename Traits::result_type>,
                  "troupe: an initializer returns void, int, task<void> or task<int>");
    actors::detail::pool_initializer init;
    init.entry = locate(troupe::detail::erase(entry_of(fn)));
    init.fn = locate(troupe::detail::erase(fn));
    init.args = troupe::detail::encode_args<Traits>(std::forward<Args>(args)...);
    launch(std::move(options), std::move(init));
  }

  /// Takes over the pool; the moved-from pool owns no workers.
  pool(pool&& o) noexcept
      : rt_(std::exchange(o.rt_, nullptr)), server_(o.server_), shared_(std::move(o.shared_)),
        processes_(o.processes_), closed_(o.closed_) {}
  /// Terminates the pool held before (as the destructor does), then takes over `o`'s.
  pool& operator=(pool&& o) noexcept {
    if (this != &o) {
      end();
      rt_ = std::exchange(o.rt_, nullptr);
      server_ = o.server_;
      shared_ = std::move(o.shared_);
      processes_ = o.processes_;
      closed_ = o.closed_;
    }
    return *this;
  }
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;
  ~pool() { end(); }

  /// `fn(args...)` in a worker; suspends until it returns. Throws
  /// task_error if it failed.
  template <class F, class... Args>
  [[nodiscard]] auto apply(F fn, Args&&... args) {
    return apply_async(fn, std::forward<Args>(args)...).get();
  }

  /// Starts `fn(args...)` in a worker and returns at once. The arguments
  /// are encoded now.
  template <class F, class... Args>
  [[nodiscard]] auto apply_async(F fn, Args&&... args) {
    auto fp = troupe::detail::as_function_pointer(fn);
    using Traits = troupe::detail::target_traits<decltype(fp)>;
    using R = actors::detail::pool_value_t<typename Traits::result_type>;
    using Tuple = typename Traits::args_tuple;
    static_assert(Traits::arity == sizeof...(Args), "troupe: the number of arguments does not match the function's parameters");
    check_encodable<Traits>();
    auto job = make_job(fp);
    auto call = wire::packed::build([&](wire::writer& w, std::vector<std::byte>&) {
      w.scalar(std::uint32_t{1});
      wire::encode(w, Tuple(std::forward<Args>(args)...));
    });
    job->total = 1;
    job->next = [call = std::move(call), given = false](std::size_t) mutable {
      actors::detail::pool_chunk_input in;
      if (!given) {
        in.args = std::move(call);
        in.count = 1;
        given = true;
      }
      return in;
    };
    auto cell = std::make_shared<actors::detail::apply_cell<R>>();
    job->on_complete = [cell](actors::detail::pool_job& j) {
      using W = actors::detail::pool_wire_t<R>;
      if (auto p = j.take(0)) {
        actors::detail::decode_piece<W>(
            *p, [&](W&& v) { cell->outcome.emplace(std::in_place_index<0>, std::move(v)); },
            [&](actors::detail::pool_item_failure&& f) { cell->outcome.emplace(std::in_place_index<1>, std::move(f)); });
      } else if (j.aborted()) {
        cell->outcome.emplace(std::in_place_index<1>, *j.aborted());
      }
      if (!cell->outcome) return;
      if (cell->outcome->index() == 0) {
        if (cell->on_value) cell->on_value(std::get<0>(*cell->outcome));
      } else if (cell->on_error) {
        cell->on_error(task_error(std::get<1>(*cell->outcome)));
      }
    };
    submit(job);
    return async_result<R>(std::move(job), std::move(cell));
  }

  /// `fn` applied to every element of `inputs` in the workers; the results
  /// in input order (nothing for a void function). Waits for every call;
  /// then throws the task_error of the first failed one, if any. `inputs`
  /// is taken by value (move a big container in) and read as the workers
  /// need it.
  template <class F, class Range>
  [[nodiscard]] auto map(F fn, Range inputs, map_options options = {}) {
    return map_impl<false>(troupe::detail::as_function_pointer(fn), std::move(inputs), std::move(options));
  }
  /// map() with just a chunksize.
  template <class F, class Range>
  [[nodiscard]] auto map(F fn, Range inputs, std::size_t chunksize) {
    map_options o;
    o.chunksize = chunksize;
    return map(fn, std::move(inputs), std::move(o));
  }

  /// As map, with each element a tuple of `fn`'s arguments.
  template <class F, class Range>
  [[nodiscard]] auto starmap(F fn, Range inputs, map_options options = {}) {
    return map_impl<true>(troupe::detail::as_function_pointer(fn), std::move(inputs), std::move(options));
  }

  /// starmap() with just a chunksize.
  template <class F, class Range>
  [[nodiscard]] auto starmap(F fn, Range inputs, std::size_t chunksize) {
    map_options o;
    o.chunksize = chunksize;
    return starmap(fn, std::move(inputs), std::move(o));
  }

  /// Results one at a time, in input order, with at most a window of calls
  /// ahead of the reader.
  template <class F, class Range>
  [[nodiscard]] auto imap(F fn, Range inputs, imap_options options = {}) {
    return imap_impl(troupe::detail::as_function_pointer(fn), std::move(inputs), options, true);
  }
  /// As imap, in the order the calls finish.
  template <class F, class Range>
  [[nodiscard]] auto imap_unordered(F fn, Range inputs, imap_options options = {}) {
    return imap_impl(troupe::detail::as_function_pointer(fn), std::move(inputs), options, false);
  }

  /// No more submissions; the workers exit once everything submitted has
  /// finished. Non-suspending.
  void close();
  /// Kills the workers now; unfinished calls fail with
  /// task_failure::cancelled. Non-suspending.
  void terminate();
  /// After close() or terminate(): suspends until every worker has ended.
  /// Throws error_exception (errc::invalid_argument) on a running pool.
  [[nodiscard]] coro::task<void> join();

  /// The number of worker processes the pool keeps.
  [[nodiscard]] std::size_t processes() const noexcept { return processes_; }
  /// Counters of what the pool has done (tasks, restarts, retries), for diagnostics.
  [[nodiscard]] const pool_stats& stats() const noexcept;
  /// The pids of the worker processes now running (for monitoring tools).
  [[nodiscard]] std::vector<int> worker_pids() const { return shared_ ? shared_->pids : std::vector<int>{}; }

 private:
  template <class R, class... A>
  static troupe::detail::entry_fn entry_of(R (*)(A...)) noexcept {
    return &troupe::detail::run_entry<R, A...>;
  }
  static troupe::detail::code_address locate(troupe::detail::raw_function f);

  template <class Traits>
  static constexpr void check_encodable() {
    using Tuple = typename Traits::args_tuple;
    using R = actors::detail::pool_value_t<typename Traits::result_type>;
    static_assert(troupe::detail::all_encodable<Tuple>(std::make_index_sequence<std::tuple_size_v<Tuple>>{}),
                  "troupe: every parameter of a function run in a pool must be encodable (numbers, strings, "
                  "containers, aggregates of those, actor refs)");
    static_assert(wire::encodable<actors::detail::pool_wire_t<R>>,
                  "troupe: the result of a function run in a pool must be encodable");
  }

  template <class Fp>
  std::shared_ptr<actors::detail::pool_job> make_job(Fp fp) {
    auto job = std::make_shared<actors::detail::pool_job>();
    job->entry = locate(troupe::detail::erase(actors::detail::entry_for(fp)));
    job->fn = locate(troupe::detail::erase(fp));
    using Tuple = typename troupe::detail::target_traits<Fp>::args_tuple;
    job->split = &actors::detail::split_chunk<Tuple>;
    return job;
  }

  template <class Tuple, bool Star, class Range>
  static std::function<actors::detail::pool_chunk_input(std::size_t)> feeder(Range inputs) {
    struct state {
      Range range;
      std::ranges::iterator_t<Range> it;
      explicit state(Range r) : range(std::move(r)), it(std::ranges::begin(range)) {}
    };
    auto st = std::make_shared<state>(std::move(inputs));
    return [st](std::size_t max) {
      actors::detail::pool_chunk_input in;
      in.args = wire::packed::build([&](wire::writer& w, std::vector<std::byte>& bytes) {
        const std::size_t at = actors::detail::begin_chunk(w, bytes);
        std::uint32_t n = 0;
        const auto end = std::ranges::end(st->range);
        for (; n < max && st->it != end; ++st->it, ++n) actors::detail::encode_call<Tuple, Star>(w, *st->it);
        actors::detail::finish_chunk(bytes, at, n);
        in.count = n;
      });
      return in;
    };
  }

  template <class Range>
  static std::size_t length_of(Range& r) {
    if constexpr (std::ranges::sized_range<Range>) return static_cast<std::size_t>(std::ranges::size(r));
    else if constexpr (std::ranges::forward_range<Range>) return static_cast<std::size_t>(std::ranges::distance(r));
    else return 0;
  }

  template <bool Star, class Fp, class Range>
  std::shared_ptr<actors::detail::pool_job> make_map_job(Fp fp, Range inputs, std::size_t chunksize) {
    using Traits = troupe::detail::target_traits<Fp>;
    using Tuple = typename Traits::args_tuple;
    static_assert(std::ranges::input_range<Range>, "troupe: map's inputs must be a range");
    if constexpr (!Star) {
      static_assert(Traits::arity == 1, "troupe: map calls a function of one parameter; use starmap for more");
      static_assert(std::is_convertible_v<std::ranges::range_reference_t<Range>, std::tuple_element_t<0, Tuple>>,
                    "troupe: the inputs' elements do not convert to the function's parameter");
    } else {
      static_assert(std::is_constructible_v<Tuple, std::ranges::range_reference_t<Range>>,
                    "troupe: starmap's elements must be tuples of the function's arguments");
    }
    check_encodable<Traits>();
    auto job = make_job(fp);
    job->total = length_of(inputs);
    job->chunksize = chunksize != 0 ? chunksize : default_chunksize(job->total);
    job->next = feeder<Tuple, Star, Range>(std::move(inputs));
    return job;
  }

  template <bool Star, class Fp, class Range>
  auto map_impl(Fp fp, Range inputs, map_options options) {
    using R = actors::detail::pool_value_t<typename troupe::detail::target_traits<Fp>::result_type>;
    auto job = make_map_job<Star>(fp, std::move(inputs), options.chunksize);
    if (options.timeout) job->timeout_ns = static_cast<std::uint64_t>(std::max<std::int64_t>(1, options.timeout->count()));
    job->on_progress = std::move(options.progress);
    job->progress_line = options.progress_line;
    submit(job);
    return collect<R>(std::move(job));
  }

  template <class R>
  static auto collect(std::shared_ptr<actors::detail::pool_job> job)
      -> coro::task<std::conditional_t<std::is_void_v<R>, void, std::vector<R>>> {
    using W = actors::detail::pool_wire_t<R>;
    while (!job->finished()) co_await job->changed(runtime::current().loop(), 0);
    auto& pieces = job->pieces();
    std::sort(pieces.begin(), pieces.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::optional<actors::detail::pool_item_failure> first_failure;
    std::vector<W> out;
    out.reserve(job->fed());
    for (auto& p : pieces) {
      actors::detail::decode_piece<W>(
          p, [&](W&& v) { out.push_back(std::move(v)); },
          [&](actors::detail::pool_item_failure&& f) {
            if (!first_failure) first_failure = std::move(f);
          });
    }
    if (first_failure) throw task_error(std::move(*first_failure));
    if (job->aborted()) throw task_error(*job->aborted());
    if constexpr (!std::is_void_v<R>) co_return out;
  }

  template <class Fp, class Range>
  auto imap_impl(Fp fp, Range inputs, imap_options options, bool ordered) {
    using R = actors::detail::pool_value_t<typename troupe::detail::target_traits<Fp>::result_type>;
    auto job = make_map_job<false>(fp, std::move(inputs), std::max<std::size_t>(options.chunksize, 1));
    job->window = options.window != 0 ? options.window : job->chunksize * 4 * processes_;
    if (options.timeout) job->timeout_ns = static_cast<std::uint64_t>(std::max<std::int64_t>(1, options.timeout->count()));
    submit(job);
    return pool_stream<R>(std::move(job), ordered);
  }

  [[nodiscard]] std::size_t default_chunksize(std::size_t total) const noexcept {
    const std::size_t per = processes_ * 4;
    if (total == 0 || per == 0) return 1;
    return std::max<std::size_t>(1, (total + per - 1) / per);
  }

  void launch(pool_options options, std::optional<actors::detail::pool_initializer> init);
  void submit(const std::shared_ptr<actors::detail::pool_job>& job);
  void end() noexcept;

  runtime* rt_ = nullptr;
  actor_ref server_;
  std::shared_ptr<actors::detail::pool_shared> shared_;
  std::size_t processes_ = 0;
  bool closed_ = false;
};

}  // namespace troupe
