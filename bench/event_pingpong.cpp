// event_pingpong: two processes alternate with two events; prints round
// trips per second.
#include <chrono>
#include <cstdlib>

#include <fmt/core.h>
#include <troupe.hpp>

namespace {

troupe::task<void> pong(troupe::event ping, troupe::event pong_ev, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    (void)(co_await ping.wait()).value();
    (void)(co_await ping.clear()).value();
    (void)(co_await pong_ev.set()).value();
  }
}

troupe::task<void> bench(int rounds) {
  auto ping = troupe::event::make();
  auto pong_ev = troupe::event::make();
  troupe::process other(pong, ping, pong_ev, rounds);
  other.start();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < rounds; ++i) {
    (void)(co_await ping.set()).value();
    (void)(co_await pong_ev.wait()).value();
    (void)(co_await pong_ev.clear()).value();
  }
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  co_await other.join();
  fmt::print(
      R"({{"system": "troupe", "workload": "event_pingpong", "metric": "throughput", "value": {:.0f}, "unit": "round trips/s", "params": {{"rounds": {}}}}})"
      "\n",
      rounds / dt.count(), rounds);
  ping.shutdown();
  pong_ev.shutdown();
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 10'000;
  if (argc > 1 && !troupe::detail::is_child(argc, argv)) rounds = std::atoi(argv[1]);
  return troupe::run(argc, argv, [rounds]() -> troupe::task<void> { return bench(rounds); });
}
