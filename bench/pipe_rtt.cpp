// pipe_rtt: ping-pong of small messages over a duplex pipe between two
// processes; prints microseconds per round trip.
#include <chrono>
#include <cstdlib>

#include <fmt/core.h>
#include <troupe.hpp>

namespace {

using end_point = troupe::connection<int, int>;

troupe::task<void> echo(end_point conn) {
  for (;;) {
    auto v = co_await conn.recv();
    if (!v) co_return;
    (void)co_await conn.send(*v + 1);
  }
}

troupe::task<void> bench(int rounds) {
  auto [mine, theirs] = troupe::make_pipe<int>();
  troupe::process other(echo, theirs);
  other.start();
  (void)(co_await mine.send(0)).value();  // warm-up: the child is running
  (void)(co_await mine.recv()).value();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < rounds; ++i) {
    (void)(co_await mine.send(i)).value();
    (void)(co_await mine.recv()).value();
  }
  std::chrono::duration<double, std::micro> dt = std::chrono::steady_clock::now() - t0;
  (void)co_await mine.close();
  co_await other.join();
  fmt::print(
      R"({{"system": "troupe", "workload": "pipe_rtt", "metric": "latency", "value": {:.2f}, "unit": "us/round trip", "params": {{"rounds": {}}}}})"
      "\n",
      dt.count() / rounds, rounds);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 20'000;
  if (argc > 1 && !troupe::detail::is_child(argc, argv)) rounds = std::atoi(argv[1]);
  return troupe::run(argc, argv, [rounds]() -> troupe::task<void> { return bench(rounds); });
}
