// actor_pingpong: two actors in one process bounce a message back and forth;
// prints messages per second as one JSON line.
#include <chrono>
#include <cstdlib>

#include <fmt/core.h>
#include <troupe.hpp>

#include "bench/ball.hpp"

namespace {

using troupe::bench::ball;
using troupe::bench::player;

troupe::task<double> run(troupe::runtime& rt, int messages) {
  auto done = troupe::open_inbox<ball>(rt);
  auto a = troupe::spawn(rt, player, done.ref());
  auto b = troupe::spawn(rt, player, done.ref());
  auto t0 = std::chrono::steady_clock::now();
  co_await a.send(ball{b, messages - 1});
  (void)co_await done.receive();
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  rt.stop(a);
  rt.stop(b);
  co_return messages / dt.count();
}

}  // namespace

int main(int argc, char** argv) {
  int messages = argc > 1 ? std::atoi(argv[1]) : 1'000'000;
  troupe::runtime rt;
  (void)rt.block_on(run(rt, messages / 10));  // warm-up
  double rate = rt.block_on(run(rt, messages));
  fmt::print(
      R"({{"system": "troupe", "workload": "actor_pingpong", "metric": "throughput", "value": {:.0f}, "unit": "msgs/s", "params": {{"messages": {}}}}})"
      "\n",
      rate, messages);
}
