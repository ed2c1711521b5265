// hosts_pingpong: an actor on rank 0 and one on rank 1 (two hosts, under
// mpirun) bounce a message over the TCP link between the ranks; prints the
// microseconds per round trip as one JSON line. Alone it measures two
// actors in one process.
#include <chrono>
#include <cstdlib>

#include <fmt/core.h>
#include <troupe.hpp>

#include "bench/ball.hpp"

namespace {

using troupe::bench::ball;
using troupe::bench::player;

troupe::task<double> rounds(troupe::actor_ref local, troupe::actor_ref remote, troupe::inbox<ball>& done,
                            int round_trips) {
  auto t0 = std::chrono::steady_clock::now();
  // Two hops per round trip.
  co_await local.send(ball{remote, 2 * round_trips - 1});
  (void)co_await done.receive();
  std::chrono::duration<double, std::micro> dt = std::chrono::steady_clock::now() - t0;
  co_return dt.count() / round_trips;
}

troupe::task<int> bench(int argc, char** argv) {
  const int round_trips = argc > 1 ? std::atoi(argv[1]) : 20'000;
  auto& rt = troupe::runtime::current();
  auto done = troupe::open_inbox<ball>(rt);
  const int other = troupe::cluster::size() > 1 ? 1 : 0;
  auto there = troupe::cluster::at(other);
  auto remote = (co_await there.spawn(player, done.ref())).value();
  auto local = troupe::spawn(rt, player, done.ref());
  (void)co_await rounds(local, remote, done, round_trips / 10);  // warm-up
  const double us = co_await rounds(local, remote, done, round_trips);
  fmt::print(
      R"({{"system": "troupe", "workload": "hosts_pingpong", "metric": "latency", "value": {:.2f}, "unit": "us/round trip", "params": {{"round_trips": {}, "ranks": {}}}}})"
      "\n",
      us, round_trips, troupe::cluster::size());
  rt.stop(local);
  rt.stop(remote);
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) { return troupe::run(argc, argv, bench); }
