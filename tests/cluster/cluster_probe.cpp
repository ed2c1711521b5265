// The program the cluster tests start under mpirun on fake hosts (and alone):
// every scenario checks what it can and prints "<scenario>: ok" or the
// failures, with exit status 0 only when all held.
//   cluster_probe remote   actors on every rank: requests both ways, processes
//                          on other ranks (started there by one call:
//                          join, exit codes, exceptions, kill, actors in
//                          them), placement
//   cluster_probe lost     the last rank dies (SIGKILL): monitors, requests,
//                          a process started there and placement see it
//                          gone; the rest carry on
//   cluster_probe silent   the last rank's host goes silent (cut off the
//                          network, the process alive): declared down by
//                          keepalive
//   cluster_probe pool_lost
//                          a cluster pool's map while the last rank dies:
//                          every result exactly once, in order
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <troupe.hpp>

using namespace std::chrono_literals;

namespace {

int failures = 0;
void check(bool ok, const std::string& what) {
  if (!ok) {
    ++failures;
    std::printf("FAILED: %s\n", what.c_str());
    std::fflush(stdout);
  }
}

std::string host_name() {
  char h[64] = {};
  ::gethostname(h, sizeof h - 1);
  return h;
}

struct where {
  using response = std::string;  // "rank host pid"
};
struct twice {
  using response = int;
  int n = 0;
};
struct ask_back {
  using response = int;  // what the actor it names answered
  troupe::actor_ref to;
  int n = 0;
};
struct die {};

troupe::task<void> echo(troupe::inbox<where, twice, ask_back, die> self) {
  for (;;) {
    auto l = co_await self.receive();
    if (!l) co_return;
    if (l->is<where>()) {
      l->reply(std::to_string(troupe::cluster::rank()) + " " + host_name() + " " + std::to_string(::getpid()));
    } else if (l->is<twice>()) {
      l->reply(2 * l->get<twice>().n);
    } else if (l->is<ask_back>()) {
      const auto m = l->get<ask_back>();
      const twice q{m.n};
      auto r = co_await m.to.request(q, 10s);
      if (r) l->reply(*r);
      else l->fail(r.error());
    } else {
      ::kill(::getpid(), SIGKILL);
    }
  }
}

// A child process on the rank it runs on, hosting an echo there.
troupe::task<void> child_echo(troupe::inbox<where, twice, ask_back, die> self) { co_await echo(std::move(self)); }

struct start_child {
  using response = troupe::actor_ref;
};
// Runs on a rank: starts a process there and an echo in it.
troupe::task<void> nursery(troupe::inbox<start_child> self) {
  troupe::process host = troupe::process::host();
  host.start();
  for (;;) {
    auto l = co_await self.receive();
    if (!l) co_return;
    auto started = co_await host.spawn(child_echo);
    if (started) l->reply(*started);
    else l->fail(started.error());
  }
}

// Process targets started on a rank by cluster::at(r).start(...).
int exit_with_rank_plus(int base) { return base + troupe::cluster::rank(); }
void throw_on_rank() { throw std::runtime_error("thrown on rank " + std::to_string(troupe::cluster::rank())); }
troupe::task<void> wait_long() { (void)co_await troupe::sleep_for(120s); }

// Starts processes on rank r through the remote process API and checks
// what comes back.
troupe::task<void> remote_processes(int r) {
  const std::string on = " on rank " + std::to_string(r);
  auto at = troupe::cluster::at(r);
  auto p = co_await at.start(exit_with_rank_plus, 40);
  check(p.has_value(), "start a process" + on + (p ? "" : ": " + p.error().describe()));
  if (!p) co_return;
  check(p->rank() == r && p->pid() > 0, "its rank and pid" + on);
  check(troupe::cluster::rank_of(p->node()) == r, "its node is" + on);
  check(!p->exitcode().has_value(), "no exit code before join" + on);
  const bool ended = co_await p->join(30s);
  check(ended && p->exitcode() == 40 + r, "join gives the exit code" + on + " (" +
                                              std::to_string(p->exitcode().value_or(-1000)) + ")");
  std::printf("a process started on rank %d: pid %d, exit code %d\n", r, static_cast<int>(p->pid()),
              p->exitcode().value_or(-1000));
  // An exception in the target comes back as remote_error.
  auto t = co_await at.start(throw_on_rank);
  check(t.has_value(), "start a throwing process" + on);
  if (t) {
    bool caught = false;
    try {
      (void)co_await t->join(30s);
    } catch (const troupe::remote_error& e) {
      caught = e.message() == "thrown on rank " + std::to_string(r) && e.type() == "std::runtime_error";
    }
    check(caught, "the target's exception reaches join" + on);
    check(t->exitcode().has_value() && *t->exitcode() != 0, "a failed target's exit code" + on);
  }
  // An actor in it, then kill.
  auto w = co_await at.start(wait_long);
  check(w.has_value(), "start a long process" + on);
  if (w) {
    auto a = co_await w->spawn(echo);
    check(a.has_value() && a->node() == w->node(), "spawn an actor in the remote process" + on);
    if (a) {
      const where ask;
      auto there = co_await a->request(ask, 10s);
      check(there.has_value() && there->rfind(std::to_string(r) + " ", 0) == 0 &&
                there->find(" " + std::to_string(w->pid())) != std::string::npos,
            "the actor runs in the remote process" + on);
    }
    const bool not_yet = co_await w->join(100ms);
    check(!not_yet, "join times out while it runs" + on);
    auto k = co_await w->kill();
    check(k.has_value(), "kill" + on);
    const bool killed = co_await w->join(30s);
    check(killed && w->exitcode() == -SIGKILL, "a killed process's exit code" + on);
  }
}

troupe::task<int> remote() {
  using troupe::cluster::rank;
  using troupe::cluster::size;
  std::printf("rank %d of %d on %s\n", rank(), size(), host_name().c_str());
  check(rank() == 0, "main runs on rank 0");
  auto& rt = troupe::runtime::current();
  auto inbox = troupe::open_inbox<twice>(rt);
  for (int r = 0; r < size(); ++r) {
    auto at = troupe::cluster::at(r);
    auto a = co_await at.spawn(echo);
    check(a.has_value(), "spawn on rank " + std::to_string(r) + (a ? "" : ": " + a.error().describe()));
    if (!a) continue;
    check(troupe::cluster::rank_of(a->node()) == r, "the ref of an actor on rank " + std::to_string(r) + " names it");
    const where ask;
    auto w = co_await a->request(ask, 10s);
    check(w.has_value(), "where on rank " + std::to_string(r));
    if (w) {
      std::printf("actor on rank %d answers from: %s\n", r, w->c_str());
      check(w->rfind(std::to_string(r) + " ", 0) == 0, "the actor on rank " + std::to_string(r) + " runs there");
      if (size() > 1 && !troupe::cluster::members().empty())
        check(w->find(troupe::cluster::members()[static_cast<std::size_t>(r)].host) != std::string::npos,
              "the actor on rank " + std::to_string(r) + " runs on its host");
    }
    // Round trips in order.
    int ok = 0;
    for (int i = 0; i < 1000; ++i) {
      const twice q{i};
      auto t = co_await a->request(q, 10s);
      if (t && *t == 2 * i) ++ok;
    }
    check(ok == 1000, "1000 round trips to rank " + std::to_string(r) + " (" + std::to_string(ok) + " right)");
    // And back: the actor there asks an actor here.
    auto local = troupe::spawn(rt, echo);
    const ask_back q{local, 21};
    auto back = co_await a->request(q, 10s);
    check(back.has_value() && *back == 42, "an actor on rank " + std::to_string(r) + " asks rank 0 back");
    // A process there, reached through its rank's root.
    auto n = co_await at.spawn(nursery);
    check(n.has_value(), "nursery on rank " + std::to_string(r));
    if (n) {
      const start_child sc;
      auto c = co_await n->request(sc, 30s);
      check(c.has_value(), "a process on rank " + std::to_string(r) + (c ? "" : ": " + c.error().describe()));
      if (c) {
        const where ask_child;
        auto cw = co_await c->request(ask_child, 10s);
        check(cw.has_value() && cw->rfind(std::to_string(r) + " ", 0) == 0,
              "the process on rank " + std::to_string(r) + " answers");
        if (cw) std::printf("a process on rank %d answers from: %s\n", r, cw->c_str());
      }
    }
  }
  for (int r = 0; r < size(); ++r) co_await remote_processes(r);
  const auto placed = troupe::placement::on_rank(size() - 1);
  auto via_placement = co_await troupe::cluster::start(placed, exit_with_rank_plus, 3);
  check(via_placement.has_value() && via_placement->rank() == size() - 1, "start a process by placement");
  if (via_placement) {
    const bool ended = co_await via_placement->join(30s);
    check(ended && via_placement->exitcode() == 3 + size() - 1, "the placed process's exit code");
  }
  // Placement.
  const auto anywhere = troupe::placement::anywhere();
  auto any = co_await troupe::cluster::spawn(anywhere, echo);
  check(any.has_value(), "spawn anywhere");
  const auto least_loaded = troupe::placement::least_loaded();
  auto least = co_await troupe::cluster::spawn(least_loaded, echo);
  check(least.has_value(), "spawn on the least loaded rank");
  auto load = co_await troupe::cluster::load_of(size() - 1);
  check(load.has_value() && load->cores >= 1, "the load of the last rank");
  const auto past_last = troupe::placement::on_rank(size());
  auto none = co_await troupe::cluster::spawn(past_last, echo);
  check(!none && none.code() == troupe::errc::invalid_argument, "no rank past the last");
  if (failures == 0) std::printf("remote: ok\n");
  co_return failures == 0 ? 0 : 1;
}

troupe::task<int> lost() {
  using troupe::cluster::size;
  auto& rt = troupe::runtime::current();
  check(size() >= 3, "lost needs three ranks");
  if (size() < 3) co_return 1;
  const int victim = size() - 1;
  auto doomed = co_await troupe::cluster::at(victim).spawn(echo);
  auto spare = co_await troupe::cluster::at(1).spawn(echo);
  auto stranded = co_await troupe::cluster::at(victim).start(wait_long);
  check(stranded.has_value(), "a process on the doomed rank");
  check(doomed.has_value() && spare.has_value(), "spawn on ranks 1 and the last");
  if (!doomed || !spare) co_return 1;
  auto box = troupe::open_inbox<troupe::down>(rt);
  box.monitor(*doomed);
  // The monitor is set once a request after it has been answered.
  const twice one{1};
  auto first = co_await doomed->request(one, 10s);
  check(first.has_value() && *first == 2, "the doomed rank answers");
  const auto t0 = std::chrono::steady_clock::now();
  const die order;
  co_await doomed->send(order);
  auto d = co_await box.receive(30s);
  check(d.has_value(), "a down for the actor on the dead rank");
  if (d) {
    const auto& down = d->get<troupe::down>();
    check(down.who == *doomed, "the down names the actor");
    check(down.reason.what == troupe::exit_reason::kind::node_lost, "the reason is node_lost: " + down.reason.describe());
    std::printf("down after %lld ms: %s\n",
                static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::steady_clock::now() - t0)
                                           .count()),
                down.reason.describe().c_str());
  }
  const twice two{2};
  auto r = co_await doomed->request(two, 10s);
  check(!r && r.code() == troupe::errc::peer_down, "a request to the dead rank fails with peer_down" + (r ? std::string(": it answered") : ": " + r.error().describe()));
  check(!troupe::cluster::up(victim), "the dead rank is down");
  if (stranded) {
    std::string why = "it returned";
    try {
      (void)co_await stranded->join(30s);
    } catch (const troupe::error_exception& e) {
      why = e.what();
      if (e.code() == troupe::errc::peer_down) why.clear();
    }
    check(why.empty(), "join on a process of the dead rank fails with peer_down: " + why);
  }
  check(troupe::cluster::up_ranks().size() == static_cast<std::size_t>(size() - 1), "the others are up");
  const auto on_victim = troupe::placement::on_rank(victim);
  auto there = co_await troupe::cluster::spawn(on_victim, echo);
  check(!there && there.code() == troupe::errc::peer_down, "no spawn on the dead rank");
  // The survivors carry on.
  for (int i = 0; i < 100; ++i) {
    const twice q{i};
    auto t = co_await spare->request(q, 10s);
    if (!t || *t != 2 * i) {
      check(false, "rank 1 answers after the loss");
      break;
    }
  }
  for (int i = 0; i < 2 * size(); ++i) {
    const auto p = troupe::placement::anywhere();
    auto a = co_await troupe::cluster::spawn(p, echo);
    check(a.has_value() && troupe::cluster::rank_of(a->node()) != victim, "anywhere skips the dead rank");
  }
  if (failures == 0) std::printf("lost: ok\n");
  co_return failures == 0 ? 0 : 1;
}

// A host that goes silent: rank 0 cuts the last host off the network (its
// switch port down: no FIN, no RST, as behind a failed switch) with the
// command in TROUPE_TEST_CUT, waits for the loss to be declared, then heals
// the network with TROUPE_TEST_HEAL so the launcher's own daemons can finish.
troupe::task<int> silent() {
  using troupe::cluster::size;
  auto& rt = troupe::runtime::current();
  const char* cut = std::getenv("TROUPE_TEST_CUT");
  const char* heal = std::getenv("TROUPE_TEST_HEAL");
  check(size() >= 3 && cut != nullptr && heal != nullptr, "silent needs three ranks, TROUPE_TEST_CUT and _HEAL");
  if (size() < 3 || cut == nullptr || heal == nullptr) co_return 1;
  const int victim = size() - 1;
  auto quiet = co_await troupe::cluster::at(victim).spawn(echo);
  check(quiet.has_value(), "spawn on the last rank");
  if (!quiet) co_return 1;
  auto box = troupe::open_inbox<troupe::down>(rt);
  box.monitor(*quiet);
  const twice one{1};
  auto first = co_await quiet->request(one, 10s);
  check(first.has_value() && *first == 2, "the last rank answers");
  const auto t0 = std::chrono::steady_clock::now();
  check(std::system(cut) == 0, std::string("cut the last host off: ") + cut);
  // Keepalive probes (or the user timeout of unanswered data) must declare
  // the silent host down.
  auto d = co_await box.receive(60s);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  check(std::system(heal) == 0, std::string("heal the network: ") + heal);
  check(d.has_value(), "a down for the actor on the silent host");
  if (d) {
    check(d->get<troupe::down>().reason.what == troupe::exit_reason::kind::node_lost, "the reason is node_lost");
    std::printf("silent host declared down after %lld ms: %s\n", static_cast<long long>(took.count()),
                d->get<troupe::down>().reason.describe().c_str());
  }
  check(took < 20s, "declared down within 20 s (silence 2 s)");
  check(!troupe::cluster::up(victim), "the silent rank is down");
  auto spare = co_await troupe::cluster::at(1).spawn(echo);
  check(spare.has_value(), "spawn on rank 1");
  if (spare) {
    const twice three{3};
    auto r = co_await spare->request(three, 10s);
    check(r.has_value() && *r == 6, "rank 1 answers on");
  }
  if (failures == 0) std::printf("silent: ok\n");
  co_return failures == 0 ? 0 : 1;
}

// A task of the pool: the square, but on the last rank of three or more,
// from input 100 on, it kills its rank's root process (and so the rank).
std::int64_t square_or_die(std::int64_t x) {
  const int ranks = troupe::cluster::size();
  if (ranks >= 3 && troupe::cluster::rank() == ranks - 1 && x >= 100) ::kill(::getppid(), SIGKILL);
  return x * x;
}

troupe::task<int> pool_lost() {
  using troupe::cluster::size;
  check(size() >= 3, "pool_lost needs three ranks");
  if (size() < 3) co_return 1;
  auto pool = co_await troupe::cluster_pool::start();
  check(pool.ranks().size() == static_cast<std::size_t>(size()), "a server on every rank");
  std::vector<std::int64_t> inputs(2000);
  for (std::size_t i = 0; i < inputs.size(); ++i) inputs[i] = static_cast<std::int64_t>(i);
  auto mapped = pool.map(square_or_die, inputs, 10);
  auto out = co_await std::move(mapped);
  check(out.size() == inputs.size(), "every result came back (" + std::to_string(out.size()) + ")");
  std::size_t right = 0;
  for (std::size_t i = 0; i < out.size(); ++i) right += out[i] == inputs[i] * inputs[i] ? 1 : 0;
  check(right == inputs.size(), "every result is right and in order (" + std::to_string(right) + ")");
  std::uint64_t items = 0;
  for (const auto& r : pool.ranks()) {
    std::printf("rank %d on %s: %llu inputs%s\n", r.rank, r.host.c_str(), static_cast<unsigned long long>(r.items),
                r.lost ? " (lost)" : "");
    items += r.items;
  }
  check(items == inputs.size(), "each input counted once (" + std::to_string(items) + ")");
  check(pool.ranks().back().lost, "the last rank was lost");
  check(!troupe::cluster::up(size() - 1), "the last rank is down");
  co_await pool.close();
  if (failures == 0) std::printf("pool_lost: ok\n");
  co_return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  return troupe::run(argc, argv, [](int ac, char** av) -> troupe::task<int> {
    const std::string_view scenario = ac > 1 ? av[1] : "remote";
    if (scenario == "remote") co_return co_await remote();
    if (scenario == "lost") co_return co_await lost();
    if (scenario == "pool_lost") co_return co_await pool_lost();
    if (scenario == "silent") co_return co_await silent();
    std::fprintf(stderr, "unknown scenario %s\n", av[1]);
    co_return 2;
  });
}
