// remote_pingpong: an actor in the parent and one in a child process bounce
// a message; prints round trips per second as one JSON line.
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
  // Two hops per round trip; the last hop lands on whichever side.
  co_await local.send(ball{remote, 2 * round_trips - 1});
  (void)co_await done.receive();
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  co_return round_trips / dt.count();
}

troupe::task<void> bench(int round_trips) {
  auto& rt = troupe::runtime::current();
  auto done = troupe::open_inbox<ball>(rt);
  auto host = troupe::process::host();
  host.start();
  auto remote = (co_await host.spawn(player, done.ref())).value();
  auto local = troupe::spawn(rt, player, done.ref());
  (void)co_await rounds(local, remote, done, round_trips / 10);  // warm-up
  double rate = co_await rounds(local, remote, done, round_trips);
  fmt::print(
      R"({{"system": "troupe", "workload": "remote_pingpong", "metric": "throughput", "value": {:.0f}, "unit": "round trips/s", "params": {{"round_trips": {}}}}})"
      "\n",
      rate, round_trips);
  rt.stop(local);
}

}  // namespace

int main(int argc, char** argv) {
  int round_trips = 100'000;
  if (argc > 1 && !troupe::detail::is_child(argc, argv)) round_trips = std::atoi(argv[1]);
  return troupe::run(argc, argv, [round_trips]() -> troupe::task<void> { return bench(round_trips); });
}
