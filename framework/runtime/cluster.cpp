// The cluster: launcher detection, the rendezvous through MPI, the TCP mesh
// between ranks (blocking, before the loop runs), and the rank links once
// the runtime runs.

#include "framework/runtime/cluster.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <coroutine>
#include <stop_token>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "framework/runtime/cluster_net.hpp"
#include "framework/runtime/control.hpp"
#include "framework/runtime/link.hpp"
#include "framework/runtime/runtime.hpp"
#include "framework/transport/auth.hpp"
#include "framework/uv/timeout.hpp"

#include <dlfcn.h>
#include <sys/stat.h>

namespace troupe::detail {

coro::task<int> serve_until_shutdown();
// Ends serve_until_shutdown with `code`; false if it is not serving or already ending.
bool end_serving(runtime& rt, int code) noexcept;
void start_system_actor(runtime& rt);

namespace {

// What every rank knows of the cluster. Process-global: the rank's root
// process fills it; forked children inherit a copy.
struct cluster_state {
  int rank = 0;
  int size = 1;
  std::vector<cluster_member> members;
  std::vector<int> fds;  // by rank: the connected link sockets until adopted
  std::vector<char> lost;
  std::size_t turn = 0;  // placement::anywhere
};

cluster_state& self() {
  static cluster_state s;
  return s;
}

// The node whose system actor serves rank r. Alone, the program's own
// runtime serves, so its system actor is started here if no link did.
node_id serving_node(int r) {
  runtime& rt = runtime::current();
  if (r == 0 && cluster::size() == 1) {
    if (rt.find(runtime::system_actor(rt.node())) == nullptr) start_system_actor(rt);
    return rt.node();
  }
  return cluster::node_of(r);
}

// Exit status of a rank that lost rank 0.
constexpr int exit_rank_zero_lost = 3;

[[noreturn]] void give_up(const std::string& why) {
  std::fprintf(stderr, "troupe: cannot join the cluster: %s\n", why.c_str());
  std::fflush(nullptr);
  std::_Exit(2);
}

// Rank and size as launchers put them in the environment: Open MPI,
// MPICH's Hydra and other PMI launchers, Slurm's srun.
struct launched {
  int rank;
  int size;
};
std::optional<launched> detect_launcher() {
  static const char* const pairs[][2] = {
      {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
      {"PMI_RANK", "PMI_SIZE"},
      {"PMIX_RANK", "PMIX_SIZE"},
      {"SLURM_PROCID", "SLURM_NTASKS"},
  };
  for (const auto& p : pairs) {
    const char* r = std::getenv(p[0]);
    const char* n = std::getenv(p[1]);
    if (r == nullptr || n == nullptr) continue;
    return launched{std::atoi(r), std::atoi(n)};
  }
  return std::nullopt;
}

[[maybe_unused]] std::chrono::milliseconds join_timeout() {
  if (const char* t = std::getenv("TROUPE_CLUSTER_TIMEOUT_MS")) {
    const long v = std::atol(t);
    if (v > 0) return std::chrono::milliseconds(v);
  }
  return std::chrono::seconds(60);
}

// One rank's entry in the exchange, fixed size for MPI_Allgather.
struct wire_member {
  char host[64];
  char address[64];
  std::uint16_t port;
  std::uint64_t node;
};

#if TROUPE_HAVE_MPI
// MPI is used for this alone: each rank's address and node, and the
// session key from rank 0. It is finalized before the program goes on,
// so it carries no data and polls nothing afterwards. MPI lives in a
// module loaded only here (framework/runtime/cluster_mpi.cpp): linked into
// every program, its libraries would slow down the start of every process.
struct mpi_module {
  using start_fn = const char* (*)(int*, int*);
  using exchange_fn = const char* (*)(const void*, std::size_t, void*, unsigned char*);
  start_fn start = nullptr;
  exchange_fn exchange = nullptr;
};

mpi_module load_mpi_module() {
  std::vector<std::string> candidates;
  if (const char* e = std::getenv("TROUPE_MPI_MODULE"); e != nullptr && *e != '\0') candidates.emplace_back(e);
  candidates.emplace_back(TROUPE_MPI_MODULE_BUILD);
  candidates.emplace_back(TROUPE_MPI_MODULE_INSTALL);
  std::string tried;
  for (const std::string& path : candidates) {
    struct stat sb {};
    if (::stat(path.c_str(), &sb) != 0) {
      tried += "\n  " + path + ": not there";
      continue;
    }
    // Global: Open MPI's own plugins resolve symbols of libmpi.
    void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_GLOBAL);
    if (h == nullptr) {
      const char* why = ::dlerror();
      tried += "\n  " + path + ": " + (why != nullptr ? why : "dlopen failed");
      continue;
    }
    mpi_module m;
    m.start = reinterpret_cast<mpi_module::start_fn>(::dlsym(h, "troupe_mpi_start"));
    m.exchange = reinterpret_cast<mpi_module::exchange_fn>(::dlsym(h, "troupe_mpi_exchange"));
    if (m.start != nullptr && m.exchange != nullptr) return m;
    tried += "\n  " + path + ": not troupe's MPI module";
  }
  give_up("troupe's MPI module could not be loaded (set TROUPE_MPI_MODULE to libtroupe_mpi.so):" + tried);
}

void exchange(launched& me, wire_member mine, std::vector<wire_member>& all, transport::auth_key& key) {
  const mpi_module mpi = load_mpi_module();
  if (const char* why = mpi.start(&me.rank, &me.size)) give_up(why);
  if (me.size < 1) give_up("MPI reports no ranks");
  all.resize(static_cast<std::size_t>(me.size));
  // Every rank draws one; the broadcast keeps rank 0's.
  key = transport::make_auth_key();
  if (key.bytes.size() != 32) give_up("a session key must be 32 bytes");
  if (const char* why = mpi.exchange(&mine, sizeof mine, all.data(), reinterpret_cast<unsigned char*>(key.bytes.data())))
    give_up(why);
}
#endif

}  // namespace

node_id join_cluster() {
  auto launch = detect_launcher();
  if (!launch || launch->size <= 1) return 0;
#if !TROUPE_HAVE_MPI
  give_up("started by a launcher as rank " + std::to_string(launch->rank) + " of " + std::to_string(launch->size) +
          ", but this troupe was built without MPI (install libopenmpi-dev and build again)");
#else
  auto& st = self();
  const auto deadline = std::chrono::steady_clock::now() + join_timeout();
  // Listen first, so that the address exchanged is already accepting.
  auto where = cluster_net::local_address();
  if (!where) give_up(where.error().describe());
  auto listening = cluster_net::listen_tcp(*where, cluster_net::port_from_env());
  if (!listening) give_up(listening.error().describe());
  wire_member mine;
  std::memset(&mine, 0, sizeof mine);  // padding included: it goes on the wire
  char host[64] = {};
  ::gethostname(host, sizeof host - 1);
  std::memcpy(mine.host, host, sizeof host);
  std::snprintf(mine.address, sizeof mine.address, "%s", listening->address.c_str());
  mine.port = listening->port;
  // The node id needs the rank, which MPI gives; the pid part is this
  // process's, so the rank is filled in below from the launcher's and
  // checked against MPI's.
  std::vector<wire_member> all;
  transport::auth_key key;
  launched me = *launch;
  mine.node = host_of_rank(me.rank) | (static_cast<node_id>(::getpid()) << 20) | 1;
  exchange(me, mine, all, key);
  if (me.rank != launch->rank) give_up("the launcher's rank and MPI's disagree");
  st.rank = me.rank;
  st.size = me.size;
  st.members.resize(all.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    auto& m = st.members[i];
    m.rank = static_cast<int>(i);
    m.host = std::string(all[i].host, strnlen(all[i].host, sizeof all[i].host));
    m.address = std::string(all[i].address, strnlen(all[i].address, sizeof all[i].address)) + ":" +
                std::to_string(all[i].port);
    m.node = all[i].node;
  }
  st.fds.assign(all.size(), -1);
  st.lost.assign(all.size(), 0);
  // The mesh: every rank connects to those below it and accepts those
  // above. Each rank's connects need only the lower ranks to accept, which
  // they do once their own connects are done, so this cannot deadlock.
  for (int j = 0; j < st.rank; ++j) {
    auto fd = cluster_net::connect_rank(all[static_cast<std::size_t>(j)].address, all[static_cast<std::size_t>(j)].port,
                                        key, st.rank, deadline);
    if (!fd) give_up("rank " + std::to_string(j) + " (" + st.members[static_cast<std::size_t>(j)].address +
                     "): " + fd.error().describe());
    st.fds[static_cast<std::size_t>(j)] = fd->release();
  }
  int expected = st.size - 1 - st.rank;
  while (expected > 0) {
    auto got = cluster_net::accept_rank(listening->fd.get(), key, deadline);
    if (!got) {
      if (got.code() == errc::timeout) give_up("the ranks above " + std::to_string(st.rank) + " did not all connect");
      // Not a rank of this run: refused before a byte of its frames was
      // read. The mesh goes on.
      std::fprintf(stderr, "troupe: rank %d refused a connection: %s\n", st.rank, got.error().describe().c_str());
      continue;
    }
    const int r = got->rank;
    if (r <= st.rank || r >= st.size || st.fds[static_cast<std::size_t>(r)] >= 0) {
      std::fprintf(stderr, "troupe: rank %d refused a connection claiming rank %d\n", st.rank, r);
      continue;
    }
    st.fds[static_cast<std::size_t>(r)] = got->fd.release();
    --expected;
  }
  // Children started with the spawn method learn where they run.
  ::setenv("TROUPE_CLUSTER_RANK", std::to_string(st.rank).c_str(), 1);
  ::setenv("TROUPE_CLUSTER_SIZE", std::to_string(st.size).c_str(), 1);
  std::string nodes;
  for (const auto& m : st.members) nodes += (nodes.empty() ? "" : ",") + std::to_string(m.node);
  ::setenv("TROUPE_CLUSTER_NODES", nodes.c_str(), 1);
  return st.members[static_cast<std::size_t>(st.rank)].node;
#endif
}

namespace {

// Rank 0, ending, waits here until the other ranks have closed their links.
std::coroutine_handle<> ranks_waiter;
runtime* ranks_waiter_rt = nullptr;

bool others_gone() noexcept {
  const auto& st = self();
  for (int r = 0; r < st.size; ++r)
    if (r != st.rank && !st.lost[static_cast<std::size_t>(r)]) return false;
  return true;
}

void wake_ranks_waiter() noexcept {
  if (ranks_waiter) ranks_waiter_rt->loop().schedule(std::exchange(ranks_waiter, {}));
}

struct others_gone_awaiter {
  runtime& rt;
  std::stop_token stop;
  std::optional<std::stop_callback<void (*)()>> on_stop;
  bool await_ready() const noexcept { return others_gone() || stop.stop_requested(); }
  void await_suspend(std::coroutine_handle<> h) {
    ranks_waiter = h;
    ranks_waiter_rt = &rt;
    on_stop.emplace(stop, &wake_ranks_waiter);
  }
  void await_resume() noexcept { on_stop.reset(); }
};

coro::task<result<void>> wait_others_gone(runtime& rt, std::stop_token stop) {
  // A named awaiter: g++ 12 destroys an aggregate temporary in a co_await
  // expression twice.
  others_gone_awaiter gone{rt, std::move(stop), std::nullopt};
  co_await gone;
  if (!others_gone()) co_return error{errc::cancelled, "cancelled"};
  co_return result<void>{};
}

// The link to another rank: when it ends, that rank is gone, and with it
// every node of its host.
struct rank_link final : link_handler {
  runtime* rt = nullptr;
  int rank = 0;
  void on_control(link& l, const transport::frame_view& f) noexcept override {
    l.fail_protocol("an unexpected control frame (type " + std::to_string(f.header.type) + ") from rank " +
                    std::to_string(rank));
  }
  void on_ended(link& l, const error& e) noexcept override {
    exit_reason why;
    why.what = exit_reason::kind::node_lost;
    const auto& m = self().members[static_cast<std::size_t>(rank)];
    why.message = "rank " + std::to_string(rank) + " (" + m.host + ") is gone: " + e.describe();
    l.fail_after_draining(why);
  }
  void on_lost(link&, const exit_reason& why) noexcept override {
    auto& st = self();
    st.lost[static_cast<std::size_t>(rank)] = 1;
    if (others_gone()) wake_ranks_waiter();
    if (rank == 0 && st.rank != 0) {
      if (end_serving(*rt, exit_rank_zero_lost))
        std::fprintf(stderr, "troupe: rank %d ends: %s\n", st.rank, why.describe().c_str());
    }
  }
};
std::vector<rank_link> rank_links;

}  // namespace

void adopt_cluster_links(runtime& rt) {
  auto& st = self();
  if (st.size <= 1 || st.fds.empty()) return;
  rank_links.assign(static_cast<std::size_t>(st.size), rank_link{});
  for (int r = 0; r < st.size; ++r) {
    const auto i = static_cast<std::size_t>(r);
    if (st.fds[i] < 0) continue;
    rank_links[i].rt = &rt;
    rank_links[i].rank = r;
    auto l = rt.add_host_link(std::exchange(st.fds[i], -1), st.members[i].node, &rank_links[i]);
    if (!l) st.lost[i] = 1;
  }
}

bool cluster_serves() noexcept { return self().size > 1 && self().rank != 0; }

coro::task<int> serve_cluster(runtime&) { co_return co_await serve_until_shutdown(); }

coro::task<void> end_cluster(runtime& rt) {
  auto& st = self();
  if (st.size <= 1 || st.rank != 0) co_return;
  for (int r = 1; r < st.size; ++r) {
    const auto i = static_cast<std::size_t>(r);
    if (st.lost[i]) continue;
    (void)rt.post(runtime::system_actor(st.members[i].node), shutdown_request{0}, reply_address{}, false);
  }
  // Each rank ends its actors and processes, then closes its links; rank 0
  // waits for that (as a parent joins its children), so that no rank sees
  // rank 0 vanish before its order to end has been handled.
  std::stop_source race;
  auto waiting = wait_others_gone(rt, race.get_token());
  auto raced = uv::with_timeout(rt.loop(), race, std::move(waiting), std::chrono::seconds(30),
                                "the other ranks did not end within 30 s", {});
  auto done = co_await std::move(raced);
  if (!done) std::fprintf(stderr, "troupe: %s\n", done.error().message.c_str());
}

}  // namespace troupe::detail

namespace troupe {

namespace {
coro::task<result<actor_ref>> spawn_on_rank(int r, detail::raw_function entry, detail::raw_function target,
                                            wire::packed args) {
  if (r < 0 || r >= cluster::size()) co_return error{errc::invalid_argument, "there is no rank " + std::to_string(r)};
  if (!cluster::up(r)) co_return error{errc::peer_down, "rank " + std::to_string(r) + " is down"};
  co_return co_await detail::spawn_on_node(detail::serving_node(r), entry, target, std::move(args));
}
}  // namespace

coro::task<result<actor_ref>> cluster_rank::spawn_remote(detail::raw_function entry, detail::raw_function target,
                                                        wire::packed args) {
  // A free coroutine: the task must not hold on to this handle, which is
  // often a temporary (cluster::at(r).spawn(...)).
  return spawn_on_rank(rank_, entry, target, std::move(args));
}

namespace cluster {

namespace {
int env_int(const char* name, int fallback) noexcept {
  const char* v = std::getenv(name);
  return v != nullptr ? std::atoi(v) : fallback;
}
}  // namespace

bool active() noexcept { return size() > 1; }

int rank() noexcept {
  const auto& st = detail::self();
  return st.members.empty() ? env_int("TROUPE_CLUSTER_RANK", 0) : st.rank;
}

int size() noexcept {
  const auto& st = detail::self();
  return st.members.empty() ? env_int("TROUPE_CLUSTER_SIZE", 1) : st.size;
}

const std::vector<cluster_member>& members() noexcept { return detail::self().members; }

bool up(int r) noexcept {
  const auto& st = detail::self();
  if (r == rank()) return true;
  if (r < 0 || r >= size()) return false;
  // A child process started with the spawn method does not follow the
  // rank links; its rank's root does, and answers for the rank it reaches.
  if (st.lost.empty()) return true;
  if (st.lost[static_cast<std::size_t>(r)] != 0) return false;
  // Another rank may have told of the loss before this rank's own link ended.
  const runtime* rt = runtime::current_or_null();
  return rt == nullptr || !rt->known_lost(detail::host_of_rank(r));
}

std::vector<int> up_ranks() {
  std::vector<int> out;
  for (int r = 0; r < size(); ++r)
    if (up(r)) out.push_back(r);
  return out;
}

node_id node_of(int r) {
  const auto& st = detail::self();
  if (st.members.empty()) {
    if (size() == 1 && r == 0) return runtime::current().node();
    // A child process started with the spawn method: the rank's root told
    // it the nodes in its environment.
    if (const char* list = std::getenv("TROUPE_CLUSTER_NODES")) {
      std::string_view rest(list);
      for (int i = 0; !rest.empty(); ++i) {
        const auto comma = rest.find(',');
        const std::string item(rest.substr(0, comma));
        if (i == r) return static_cast<node_id>(std::strtoull(item.c_str(), nullptr, 10));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      }
    }
    throw error_exception(error{errc::invalid_argument, "there is no rank " + std::to_string(r)});
  }
  if (r < 0 || static_cast<std::size_t>(r) >= st.members.size())
    throw error_exception(error{errc::invalid_argument, "there is no rank " + std::to_string(r)});
  return st.members[static_cast<std::size_t>(r)].node;
}

int rank_of(node_id n) noexcept {
  const node_id host = detail::host_of(n);
  if (host == 0) return size() == 1 ? 0 : -1;
  const int r = static_cast<int>(host >> detail::host_shift) - 1;
  return r < size() ? r : -1;
}

coro::task<result<rank_load>> load_of(int r) {
  if (r < 0 || r >= size()) co_return error{errc::invalid_argument, "there is no rank " + std::to_string(r)};
  if (!up(r)) co_return error{errc::peer_down, "rank " + std::to_string(r) + " is down"};
  const actor_ref there = runtime::system_actor(detail::serving_node(r));
  const detail::load_query query;
  const std::chrono::nanoseconds limit = std::chrono::seconds(10);
  auto load = co_await there.request<rank_load>(query, limit);
  co_return load;
}

coro::task<result<int>> choose(placement p) {
  auto& st = detail::self();
  switch (p.how) {
    case placement::kind::rank:
      if (p.rank < 0 || p.rank >= size()) co_return error{errc::invalid_argument, "there is no rank " + std::to_string(p.rank)};
      if (!up(p.rank)) co_return error{errc::peer_down, "rank " + std::to_string(p.rank) + " is down"};
      co_return p.rank;
    case placement::kind::anywhere: {
      auto ranks = up_ranks();
      co_return ranks[st.turn++ % ranks.size()];
    }
    case placement::kind::least_loaded: {
      int best = rank();
      double best_score = 0;
      bool have = false;
      for (int r : up_ranks()) {
        auto load = co_await load_of(r);
        if (!load) continue;  // lost meanwhile
        // Load per core first; the actors and processes troupe itself
        // placed there break ties (the load average lags).
        const double score = (load->loadavg + load->processes) / std::max<std::uint32_t>(load->cores, 1) +
                             static_cast<double>(load->actors) * 1e-6;
        if (!have || score < best_score) {
          best = r;
          best_score = score;
          have = true;
        }
      }
      co_return best;
    }
  }
  co_return error{errc::invalid_argument, "unknown placement"};
}

}  // namespace cluster

}  // namespace troupe
