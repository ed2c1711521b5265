// condition_pingpong: a producer and a consumer process hand a turn back and
// forth through one condition (and a shared value holding whose turn it
// is); prints handoffs per second.
#include <chrono>
#include <cstdlib>

#include <fmt/core.h>
#include <troupe.hpp>

namespace {

// Waits for `mine`, then hands the turn to the other side.
troupe::task<void> take_turns(troupe::condition c, troupe::value<int> turn, int mine, int rounds) {
  struct is {
    static bool turn_of(troupe::value<int> t, int who) { return t.load() == who; }
  };
  for (int i = 0; i < rounds; ++i) {
    auto g = (co_await c.scoped()).value();
    // Bound to a local, not a temporary inside co_await (g++ 12).
    auto my_turn = [turn, mine] { return is::turn_of(turn, mine); };
    auto waited = c.wait_for(my_turn);
    (void)(co_await std::move(waited)).value();
    turn.store(1 - mine);
    (void)(co_await c.notify()).value();
  }
}

troupe::task<void> bench(int rounds) {
  auto c = troupe::condition::make();
  auto turn = troupe::value<int>::make_raw(0);
  troupe::process consumer(take_turns, c, turn, 1, rounds);
  consumer.start();
  auto t0 = std::chrono::steady_clock::now();
  co_await take_turns(c, turn, 0, rounds);
  co_await consumer.join();
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  fmt::print(
      R"({{"system": "troupe", "workload": "condition_pingpong", "metric": "throughput", "value": {:.0f}, "unit": "handoffs/s", "params": {{"rounds": {}}}}})"
      "\n",
      2.0 * rounds / dt.count(), rounds);
  c.shutdown();
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5'000;
  if (argc > 1 && !troupe::detail::is_child(argc, argv)) rounds = std::atoi(argv[1]);
  return troupe::run(argc, argv, [rounds]() -> troupe::task<void> { return bench(rounds); });
}
