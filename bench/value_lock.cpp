// value_lock: 2 processes each increment one shared value 200,000 times
// (fewer with an argument) under its lock; prints increments per second.
// Both start together at a barrier, so the lock is truly contended.
#include <chrono>
#include <cstdlib>

#include <fmt/core.h>
#include <troupe.hpp>

namespace {

troupe::task<void> add(troupe::value<long> v, troupe::barrier start, long rounds) {
  (void)co_await start.wait();
  for (long i = 0; i < rounds; ++i) {
    auto g = (co_await v.get_lock().scoped()).value();
    v.store(v.load() + 1);
  }
}

troupe::task<void> bench(long rounds) {
  auto v = troupe::value<long>::make(0);
  auto start = troupe::barrier::make(3);
  troupe::process a(add, v, start, rounds), b(add, v, start, rounds);
  a.start();
  b.start();
  (void)co_await start.wait();
  auto t0 = std::chrono::steady_clock::now();
  co_await a.join();
  co_await b.join();
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  if (v.load() != 2 * rounds) {
    fmt::print(stderr, "value_lock: lost updates: {} of {}\n", v.load(), 2 * rounds);
    std::exit(1);
  }
  fmt::print(
      R"({{"system": "troupe", "workload": "value_lock", "metric": "throughput", "value": {:.0f}, "unit": "incr/s", "params": {{"processes": 2, "rounds": {}}}}})"
      "\n",
      2.0 * static_cast<double>(rounds) / dt.count(), rounds);
  start.shutdown();
}

}  // namespace

int main(int argc, char** argv) {
  long rounds = 200'000;
  if (argc > 1 && !troupe::detail::is_child(argc, argv)) rounds = std::atol(argv[1]);
  return troupe::run(argc, argv, [rounds]() -> troupe::task<void> { return bench(rounds); });
}
