// 22 — actors on different hosts pass a token round a ring; a host is lost mid-run and the survivors carry on.
// Alone, the ring is three actors on this machine; under mpirun there is one per rank, and with three
// ranks or more the last one's host dies (its process is killed) during lap 2:
//   mpirun --hostfile hosts --bind-to none --enable-recovery ./22_cluster_actors
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include <troupe.hpp>

using namespace std::chrono_literals;

struct token {
  using response = std::string;  // where it was: "rank@host"
  int lap = 0;
};
struct crash {};

troupe::task<void> station(troupe::inbox<token, crash> self) {
  char host[64] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string here = std::to_string(troupe::cluster::rank()) + "@" + host;
  for (;;) {
    auto l = co_await self.receive();
    if (!l) co_return;
    if (l->is<crash>()) ::kill(::getpid(), SIGKILL);  // the whole host goes
    else l->reply(here);
  }
}

troupe::task<int> main_task() {
  auto& rt = troupe::runtime::current();
  const int ranks = troupe::cluster::size();
  const int stations = ranks > 1 ? ranks : 3;
  std::vector<troupe::actor_ref> ring;
  auto downs = troupe::open_inbox<troupe::down>(rt);
  for (int i = 0; i < stations; ++i) {
    const auto where = troupe::placement::anywhere();  // the ranks in turn
    auto s = co_await troupe::cluster::spawn(where, station);
    ring.push_back(s.value());
    downs.monitor(ring.back());
  }
  std::printf("a ring of %d stations on %d rank(s)\n", stations, ranks);
  const bool lose_one = ranks >= 3;
  int passes = 0;
  for (int lap = 1; lap <= 3; ++lap) {
    std::string path;
    for (std::size_t i = 0; i < ring.size(); ++i) {
      if (lose_one && lap == 2 && i == 1) {
        // The last rank's host dies under the ring.
        const crash order;
        co_await ring.back().send(order);
      }
      const token t{lap};
      auto r = co_await ring[i].request(t, 10s);
      if (r) {
        path += (path.empty() ? "" : " -> ") + *r;
        ++passes;
        continue;
      }
      // A station is gone: its down says why; the ring closes over the gap.
      path += (path.empty() ? "" : " -> ") + std::string("(lost)");
      auto d = co_await downs.receive(10s);
      if (d) std::printf("down: %s\n", d->get<troupe::down>().reason.describe().c_str());
      ring.erase(ring.begin() + static_cast<std::ptrdiff_t>(i));
      --i;
    }
    std::printf("lap %d: %s\n", lap, path.c_str());
  }
  std::printf("%d passes; %zu of %d stations left; ranks up: %zu of %d\n", passes, ring.size(), stations,
              troupe::cluster::up_ranks().size(), ranks);
  co_return 0;
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
