#pragma once

// A program that spans hosts: started by an MPI launcher (mpirun, mpiexec,
// srun), every rank runs the same binary with its own runtime; rank 0 runs
// main, the others serve. At start the ranks exchange, through MPI, each
// rank's TCP address and a fresh session key; from then on MPI carries
// nothing, and the ranks talk over authenticated TCP links (the same frames
// as between local processes). Without a launcher the program is a cluster
// of one: rank 0 of 1.

#include <cstdint>
#include <string>
#include <vector>

#include "framework/coro/task.hpp"
#include "framework/runtime/actor_ref.hpp"
#include "framework/runtime/process.hpp"
#include "framework/runtime/remote_process.hpp"

namespace troupe {

/// One rank of the cluster as every rank sees it.
struct cluster_member {
  /// Its rank, 0 to size - 1.
  int rank = 0;
  /// Its host name.
  std::string host;
  /// Where its links were accepted: "address:port".
  std::string address;
  /// The node of its root runtime.
  node_id node = 0;
};

/// Where to start an actor in a cluster.
struct placement {
  /// How the rank is chosen.
  enum class kind : std::uint8_t {
    anywhere,      ///< the ranks in turn (those still up)
    rank,          ///< the rank given
    least_loaded,  ///< the rank with the lowest load per core, asked now
  };
  /// How the rank is chosen.
  kind how = kind::anywhere;
  /// The rank, for kind::rank.
  int rank = 0;
  /// The ranks in turn.
  static placement anywhere() noexcept { return {}; }
  /// Rank `r`.
  static placement on_rank(int r) noexcept { return {kind::rank, r}; }
  /// The least loaded rank.
  static placement least_loaded() noexcept { return {kind::least_loaded, 0}; }
};

/// A rank as a place to start actors, as a process is for its child:
/// `co_await cluster::at(1).spawn(fn, args...)` starts a receive-loop actor
/// on rank 1 and resumes with its ref, which works from anywhere.
class cluster_rank : public detail::remote_spawner<cluster_rank> {
 public:
  /// Rank `r` (no check: spawning on a rank that is not up fails).
  explicit cluster_rank(int r) noexcept : rank_(r) {}
  /// Its rank.
  [[nodiscard]] int rank() const noexcept { return rank_; }
  /// Starts `target(args...)` as a child process of the rank's root
  /// runtime (the rules of process: a free function or captureless lambda,
  /// encodable arguments) and resumes with its handle once it runs.
  /// errc::peer_down if the rank is down, or the error that kept it from
  /// starting.
  template <class F, class... Args>
  [[nodiscard]] coro::task<result<remote_process>> start(F target, Args&&... args) const {
    return detail::start_remote_process(rank_, detail::remote_spec(target, std::forward<Args>(args)...));
  }
  /// @cond TROUPE_INTERNAL
  coro::task<result<actor_ref>> spawn_remote(detail::raw_function entry, detail::raw_function target,
                                             wire::packed args);
  /// @endcond

 private:
  int rank_;
};

/// How loaded a rank is (what placement::least_loaded compares).
struct rank_load {
  /// The message's fixed wire type id.
  static constexpr std::uint64_t troupe_type_id = 34;
  /// The host's one-minute load average.
  double loadavg = 0;
  /// Cores the host has.
  std::uint32_t cores = 1;
  /// Actors running in the rank's root runtime.
  std::uint64_t actors = 0;
  /// Processes the rank's root runtime has started and not yet joined.
  std::uint32_t processes = 0;
};

/// The cluster this program runs in.
namespace cluster {

/// Whether the program runs as one of several ranks.
[[nodiscard]] bool active() noexcept;
/// This process's rank (0 without a launcher).
[[nodiscard]] int rank() noexcept;
/// How many ranks there are (1 without a launcher).
[[nodiscard]] int size() noexcept;
/// Every rank, in rank order, as they were at start (empty in a child
/// process started with the spawn method; rank, size, node_of and at work
/// there).
[[nodiscard]] const std::vector<cluster_member>& members() noexcept;
/// Whether rank `r` is still up as far as this rank knows (its link has
/// not been lost; this rank is always up). Exact in the rank's root
/// process, which holds the links; a child process sees the ranks as they
/// were when it started (a spawn-method child: all up).
[[nodiscard]] bool up(int r) noexcept;
/// The ranks still up, in rank order.
[[nodiscard]] std::vector<int> up_ranks();
/// The root node of rank `r`.
[[nodiscard]] node_id node_of(int r);
/// The rank whose host holds node `n` (-1 if none).
[[nodiscard]] int rank_of(node_id n) noexcept;
/// Rank `r` as a place to start actors.
[[nodiscard]] inline cluster_rank at(int r) noexcept { return cluster_rank(r); }
/// How loaded rank `r` is, asked of it now.
[[nodiscard]] coro::task<result<rank_load>> load_of(int r);
/// The rank `p` picks: errc::peer_down if no rank fits (the one named is
/// down), errc::invalid_argument for a rank out of range.
[[nodiscard]] coro::task<result<int>> choose(placement p);

/// Starts a receive-loop actor where `p` says and resumes with its ref.
template <class F, class... Args>
[[nodiscard]] coro::task<result<actor_ref>> spawn(placement p, F fn, Args... args) {
  auto r = co_await choose(p);
  if (!r) co_return r.error();
  cluster_rank where(*r);
  auto started = where.spawn(fn, std::move(args)...);
  co_return co_await std::move(started);
}

/// Starts `target(args...)` as a child process of the rank `p` picks (see
/// cluster_rank::start) and resumes with its handle once it runs.
template <class F, class... Args>
[[nodiscard]] coro::task<result<remote_process>> start(placement p, F target, Args... args) {
  auto spec = detail::remote_spec(target, std::move(args)...);
  auto r = co_await choose(p);
  if (!r) co_return r.error();
  auto started = detail::start_remote_process(*r, std::move(spec));
  co_return co_await std::move(started);
}

}  // namespace cluster

/// @cond TROUPE_INTERNAL
namespace detail {

/// Before the runtime exists: if a launcher started this program as one of
/// several ranks, meets the others (MPI), connects and authenticates a TCP
/// link to each, and gives the node id this rank's runtime takes; 0 when
/// the program runs alone. Exits with a message when it cannot.
node_id join_cluster();
/// In the runtime: adopts the links join_cluster made.
void adopt_cluster_links(runtime& rt);
/// Whether this rank serves (every rank but 0) rather than running main.
bool cluster_serves() noexcept;
/// A serving rank's life: until rank 0 ends it, or is lost.
coro::task<int> serve_cluster(runtime& rt);
/// Rank 0 after main: tells the other ranks to end and waits (30 s at
/// most) until they have.
coro::task<void> end_cluster(runtime& rt);

}  // namespace detail
/// @endcond

}  // namespace troupe
