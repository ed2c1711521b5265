#include "actors/pool/cluster_pool.hpp"

#include <unistd.h>

#include <deque>

#include "framework/coro/scope.hpp"
#include "framework/coro/when_all.hpp"

namespace troupe {

namespace actors::detail {

namespace {

// One chunk on this rank's pool; several run at once, so every worker of
// the pool has work.
coro::task<void> run_one(pool& local, chunk_fn run, troupe::detail::raw_function fn, wire::packed inputs,
                         responder reply) {
  auto running = run(local, fn, std::move(inputs));
  auto done = co_await std::move(running);
  if (done) reply.reply(std::move(*done));
  else reply.fail(done.error());
}

}  // namespace

coro::task<void> cluster_pool_server(inbox<cluster_chunk, cluster_pool_size> self, std::uint32_t processes) {
  const long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
  pool local(processes != 0 ? processes : static_cast<std::size_t>(cores > 0 ? cores : 1));
  coro::scope chunks;
  for (;;) {
    auto l = co_await self.receive();
    if (!l) break;
    if (l->is<cluster_pool_size>()) {
      l->reply(static_cast<std::uint32_t>(local.processes()));
      continue;
    }
    auto& req = l->get<cluster_chunk>();
    auto entry = troupe::detail::resolve(req.entry);
    auto fn = troupe::detail::resolve(req.fn);
    if (!entry || !fn) {
      l->fail(!entry ? entry.error() : fn.error());
      continue;
    }
    chunks.spawn(run_one(local, reinterpret_cast<chunk_fn>(*entry), *fn, std::move(req.inputs), l->take_responder()));
  }
  local.terminate();
  co_await chunks.join();
  co_await local.join();
}

namespace {

struct dispatch_state {
  std::deque<std::size_t> queue;
  std::vector<int> tries;
  std::vector<wire::packed> chunks;
  std::vector<std::size_t> counts;
  std::vector<std::optional<wire::packed>> results;
  std::optional<error> failure;
};

// One rank's share: chunks from the queue, one at a time, until the queue
// is empty, the map failed, or the rank is lost (its chunk goes back).
coro::task<void> feed_rank(dispatch_state& st, cluster_pool_rank& rank, actor_ref server,
                           troupe::detail::code_address entry, troupe::detail::code_address fn,
                           cluster_pool_options options) {
  while (!st.queue.empty() && !st.failure && !rank.lost) {
    const std::size_t i = st.queue.front();
    st.queue.pop_front();
    cluster_chunk req{entry, fn, st.chunks[i]};
    const std::chrono::nanoseconds limit = options.chunk_timeout;
    auto r = co_await server.request(req, limit);
    if (r) {
      st.results[i] = std::move(*r);
      ++rank.chunks;
      rank.items += st.counts[i];
      continue;
    }
    const errc code = r.code();
    if (code == errc::peer_down || code == errc::closed || code == errc::no_actor) {
      // The rank (or its server) is gone: the chunk runs elsewhere.
      rank.lost = true;
      if (++st.tries[i] > options.retries) {
        st.failure = error{errc::peer_down, "a chunk was lost with its rank " + std::to_string(st.tries[i]) +
                                                " times: " + r.error().describe()};
      } else {
        st.queue.push_front(i);
      }
      co_return;
    }
    if (!st.failure) st.failure = r.error();
    co_return;
  }
}

}  // namespace

coro::task<std::vector<wire::packed>> cluster_dispatch(std::vector<cluster_pool_rank>& ranks,
                                                       const std::vector<actor_ref>& servers,
                                                       troupe::detail::code_address entry,
                                                       troupe::detail::code_address fn,
                                                       std::vector<wire::packed> chunks,
                                                       std::vector<std::size_t> counts,
                                                       const cluster_pool_options& options) {
  dispatch_state st;
  st.chunks = std::move(chunks);
  st.counts = std::move(counts);
  st.tries.assign(st.chunks.size(), 0);
  st.results.resize(st.chunks.size());
  for (std::size_t i = 0; i < st.chunks.size(); ++i) st.queue.push_back(i);
  // Rounds: every live rank feeds until the queue is empty; chunks of a
  // rank lost meanwhile are back in the queue for the next round.
  while (!st.queue.empty() && !st.failure) {
    std::vector<coro::task<void>> feeders;
    for (std::size_t k = 0; k < ranks.size(); ++k) {
      if (ranks[k].lost || !cluster::up(ranks[k].rank)) {
        ranks[k].lost = true;
        continue;
      }
      // As many chunks at once as the rank has workers.
      for (std::uint32_t w = 0; w < std::max<std::uint32_t>(1, ranks[k].processes); ++w)
        feeders.push_back(feed_rank(st, ranks[k], servers[k], entry, fn, options));
    }
    if (feeders.empty()) {
      st.failure = error{errc::peer_down, "every rank of the pool is lost"};
      break;
    }
    co_await coro::when_all(std::move(feeders));
  }
  if (st.failure) throw error_exception(*st.failure);
  std::vector<wire::packed> out;
  out.reserve(st.results.size());
  for (auto& r : st.results) out.push_back(std::move(*r));
  co_return out;
}

}  // namespace actors::detail

coro::task<cluster_pool> cluster_pool::start(cluster_pool_options options) {
  cluster_pool p;
  p.options_ = options;
  const auto& members = cluster::members();
  for (int r : cluster::up_ranks()) {
    cluster_rank where(r);
    auto server = co_await where.spawn(actors::detail::cluster_pool_server,
                                       static_cast<std::uint32_t>(options.processes_per_rank));
    if (!server) continue;
    const actors::detail::cluster_pool_size ask;
    const std::chrono::nanoseconds limit = std::chrono::seconds(60);
    auto n = co_await server->request(ask, limit);
    if (!n) continue;
    cluster_pool_rank info;
    info.rank = r;
    if (static_cast<std::size_t>(r) < members.size()) {
      info.host = members[static_cast<std::size_t>(r)].host;
    } else {
      char h[64] = {};
      ::gethostname(h, sizeof h - 1);
      info.host = h;
    }
    info.processes = *n;
    p.ranks_.push_back(std::move(info));
    p.servers_.push_back(*server);
  }
  if (p.servers_.empty()) throw error_exception(error{errc::peer_down, "no rank could start a pool server"});
  co_return p;
}

std::size_t cluster_pool::workers() const noexcept {
  std::size_t n = 0;
  for (const auto& r : ranks_)
    if (!r.lost) n += r.processes;
  return n;
}

coro::task<void> cluster_pool::close() {
  if (closed_) co_return;
  closed_ = true;
  auto& rt = runtime::current();
  auto box = open_inbox<down>(rt);
  std::size_t waiting = 0;
  for (std::size_t k = 0; k < servers_.size(); ++k) {
    if (ranks_[k].lost || !cluster::up(ranks_[k].rank)) continue;
    box.monitor(servers_[k]);
    rt.stop(servers_[k]);
    ++waiting;
  }
  // Each server ends its workers before it ends; a lost rank reports down too.
  for (; waiting > 0; --waiting) {
    const std::chrono::nanoseconds limit = std::chrono::seconds(60);
    auto d = co_await box.receive(limit);
    if (!d) break;
  }
}

cluster_pool::~cluster_pool() {
  if (closed_ || servers_.empty()) return;
  runtime* rt = runtime::current_or_null();
  if (rt == nullptr) return;
  for (std::size_t k = 0; k < servers_.size(); ++k)
    if (!ranks_[k].lost) rt->stop(servers_[k]);
}

}  // namespace troupe
