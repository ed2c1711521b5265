#pragma once

// A pool that spans the ranks of a cluster (framework/runtime/cluster.hpp):
// on every rank a server actor runs a local troupe::pool of that host's
// cores; map() cuts its inputs into chunks and hands them to the ranks as
// each finishes its last, so faster hosts take more. A rank that is lost
// mid-map has its chunks re-run on the others (within the retry budget);
// inside a rank the local pool replaces dead workers as always. Results
// come back in input order, each exactly once. Alone (no launcher) it is a
// pool on this machine.

#include <chrono>
#include <cstdint>
#include <iterator>
#include <optional>
#include <ranges>
#include <string>
#include <vector>

#include "actors/pool/pool.hpp"
#include "framework/runtime/cluster.hpp"
#include "framework/runtime/code_address.hpp"
#include "framework/wire/packed.hpp"

namespace troupe {

/// Settings of a cluster_pool.
struct cluster_pool_options {
  /// Worker processes on each rank; 0: that host's cores.
  std::size_t processes_per_rank = 0;
  /// How often a chunk whose rank was lost is re-run elsewhere.
  int retries = 2;
  /// Longest a chunk may take on its rank.
  std::chrono::nanoseconds chunk_timeout = std::chrono::hours(24);
};

/// What one rank did for a cluster_pool.
struct cluster_pool_rank {
  /// The rank.
  int rank = 0;
  /// Its host.
  std::string host;
  /// Worker processes it runs.
  std::uint32_t processes = 0;
  /// Chunks it completed.
  std::uint64_t chunks = 0;
  /// Inputs it completed.
  std::uint64_t items = 0;
  /// Whether it was lost.
  bool lost = false;
};

/// @cond TROUPE_INTERNAL
namespace actors::detail {

/// Rank 0 → a rank's pool server: run `fn` over `inputs` (an encoded
/// vector of its argument type) through `entry`, which knows the types.
struct cluster_chunk {
  static constexpr std::uint64_t troupe_type_id = 0x70000 + 1;
  using response = wire::packed;
  troupe::detail::code_address entry;
  troupe::detail::code_address fn;
  wire::packed inputs;
};
/// Rank 0 → a rank's pool server: how many workers do you run?
struct cluster_pool_size {
  static constexpr std::uint64_t troupe_type_id = 0x70000 + 2;
  using response = std::uint32_t;
};

using chunk_fn = coro::task<result<wire::packed>> (*)(pool& p, troupe::detail::raw_function fn, wire::packed inputs);

/// The server actor on each rank: a local pool of `processes` workers.
coro::task<void> cluster_pool_server(inbox<cluster_chunk, cluster_pool_size> self, std::uint32_t processes);

/// Runs on the rank: decodes the chunk, maps it on the local pool, encodes
/// the results.
template <class Fp>
coro::task<result<wire::packed>> run_chunk(pool& p, troupe::detail::raw_function fn, wire::packed inputs) {
  using Traits = troupe::detail::target_traits<Fp>;
  using Arg = std::tuple_element_t<0, typename Traits::args_tuple>;
  using R = pool_value_t<typename Traits::result_type>;
  auto in = inputs.template unpack<std::vector<Arg>>();
  if (!in) co_return error{errc::decode_error, "a chunk's inputs did not decode: " + in.error().message};
  auto f = reinterpret_cast<Fp>(fn);
  std::optional<error> failed;
  std::vector<R> out;
  try {
    auto mapped = p.map(f, std::move(*in));
    out = co_await std::move(mapped);
  } catch (const task_error& e) {
    failed = error{errc::remote_exception, e.what()};
  } catch (const std::exception& e) {
    failed = error{errc::remote_exception, e.what()};
  }
  if (failed) co_return *failed;
  co_return wire::packed::of(out);
}

/// The type-erased part of map: hands the chunks out, re-runs those of lost
/// ranks, and gives each chunk's encoded results in chunk order. Throws
/// error_exception when a task failed or no rank is left.
coro::task<std::vector<wire::packed>> cluster_dispatch(std::vector<cluster_pool_rank>& ranks,
                                                       const std::vector<actor_ref>& servers,
                                                       troupe::detail::code_address entry,
                                                       troupe::detail::code_address fn,
                                                       std::vector<wire::packed> chunks,
                                                       std::vector<std::size_t> counts,
                                                       const cluster_pool_options& options);

}  // namespace actors::detail
/// @endcond

/// A process pool across every rank of the cluster.
///
///     auto pool = co_await troupe::cluster_pool::start();
///     std::vector<long> counts = co_await pool.map(count_primes, ranges);
///     for (const auto& r : pool.ranks()) std::printf("%s: %llu\n", r.host.c_str(), r.items);
///     co_await pool.close();
class cluster_pool {
 public:
  /// Starts a pool server on every rank that is up and waits until each
  /// runs its workers. Throws error_exception if none could be started.
  [[nodiscard]] static coro::task<cluster_pool> start(cluster_pool_options options);
  /// start() with the default options.
  [[nodiscard]] static coro::task<cluster_pool> start() { return start(cluster_pool_options{}); }

  /// Moves the pool; the moved-from handle owns nothing.
  cluster_pool(cluster_pool&&) noexcept = default;
  /// Moves the pool; the moved-from handle owns nothing.
  cluster_pool& operator=(cluster_pool&&) noexcept = default;
  cluster_pool(const cluster_pool&) = delete;
  cluster_pool& operator=(const cluster_pool&) = delete;
  /// Stops the servers (and so their workers) if close() was not awaited.
  ~cluster_pool();

  /// Calls `fn` (a free function or captureless lambda of one encodable
  /// parameter) on every element of `inputs` across the ranks, and resumes
  /// with the results in input order. `chunksize` 0 picks about four chunks
  /// per worker. Throws error_exception (remote_exception: a task threw or
  /// killed its worker past the local retry budget; peer_down: every rank
  /// was lost or a chunk outlived its retries).
  template <class F, class Range>
  [[nodiscard]] auto map(F fn, Range inputs, std::size_t chunksize = 0) {
    auto fp = troupe::detail::as_function_pointer(fn);
    using Fp = decltype(fp);
    using Traits = troupe::detail::target_traits<Fp>;
    static_assert(Traits::arity == 1, "troupe: map calls a function of one parameter");
    using Arg = std::tuple_element_t<0, typename Traits::args_tuple>;
    using R = actors::detail::pool_value_t<typename Traits::result_type>;
    static_assert(!std::is_void_v<R>, "troupe: a cluster map gives back results; the function must return one");
    std::vector<Arg> all;
    for (auto&& x : inputs) all.emplace_back(std::forward<decltype(x)>(x));
    return map_erased<R, Arg>(troupe::detail::erase(&actors::detail::run_chunk<Fp>), troupe::detail::erase(fp),
                              std::move(all), chunksize);
  }

  /// Worker processes across all ranks.
  [[nodiscard]] std::size_t workers() const noexcept;
  /// What each rank did so far.
  [[nodiscard]] const std::vector<cluster_pool_rank>& ranks() const noexcept { return ranks_; }
  /// Stops every rank's server and waits until they have ended.
  [[nodiscard]] coro::task<void> close();

 private:
  cluster_pool() = default;

  template <class R, class Arg>
  coro::task<std::vector<R>> map_erased(troupe::detail::raw_function entry, troupe::detail::raw_function fn,
                                        std::vector<Arg> all, std::size_t chunksize) {
    auto e = troupe::detail::locate(entry);
    auto f = troupe::detail::locate(fn);
    if (!e) throw error_exception(e.error());
    if (!f) throw error_exception(f.error());
    const std::size_t per = std::max<std::size_t>(1, workers() * 4);
    const std::size_t cs = chunksize != 0 ? chunksize : std::max<std::size_t>(1, (all.size() + per - 1) / per);
    std::vector<wire::packed> chunks;
    std::vector<std::size_t> counts;
    for (std::size_t i = 0; i < all.size(); i += cs) {
      const auto end = std::min(all.size(), i + cs);
      std::vector<Arg> piece(std::make_move_iterator(all.begin() + static_cast<std::ptrdiff_t>(i)),
                             std::make_move_iterator(all.begin() + static_cast<std::ptrdiff_t>(end)));
      chunks.push_back(wire::packed::of(piece));
      counts.push_back(end - i);
    }
    auto dispatched = actors::detail::cluster_dispatch(ranks_, servers_, std::move(*e), std::move(*f),
                                                       std::move(chunks), std::move(counts), options_);
    auto results = co_await std::move(dispatched);
    std::vector<R> out;
    out.reserve(all.size());
    for (auto& p : results) {
      auto piece = p.template unpack<std::vector<R>>();
      if (!piece) throw error_exception(error{errc::decode_error, "a chunk's results did not decode"});
      for (auto& r : *piece) out.push_back(std::move(r));
    }
    co_return out;
  }

  cluster_pool_options options_;
  std::vector<actor_ref> servers_;  // by position in ranks_
  std::vector<cluster_pool_rank> ranks_;
  bool closed_ = false;
};

}  // namespace troupe
