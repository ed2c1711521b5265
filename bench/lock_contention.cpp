// lock_contention: 4 processes each acquire and release one lock 50,000
// times (fewer with an argument); prints acquisitions per second, timed
// from the moment all four are running (they meet at a barrier first).
#include <chrono>
#include <cstdlib>
#include <vector>

#include <fmt/core.h>
#include <troupe.hpp>

namespace {

troupe::task<void> hammer(troupe::lock l, troupe::barrier start, int rounds) {
  (void)co_await start.wait();
  for (int i = 0; i < rounds; ++i) {
    (void)(co_await l.acquire()).value();
    (void)(co_await l.release()).value();
  }
}

troupe::task<void> bench(int rounds) {
  auto l = troupe::lock::make();
  auto start = troupe::barrier::make(5);
  std::vector<troupe::process> procs;
  for (int p = 0; p < 4; ++p) procs.emplace_back(hammer, l, start, rounds);
  for (auto& p : procs) p.start();
  (void)co_await start.wait();
  auto t0 = std::chrono::steady_clock::now();
  for (auto& p : procs) co_await p.join();
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  fmt::print(
      R"({{"system": "troupe", "workload": "lock_contention", "metric": "throughput", "value": {:.0f}, "unit": "acq/s", "params": {{"processes": 4, "rounds": {}}}}})"
      "\n",
      4.0 * rounds / dt.count(), rounds);
  l.shutdown();
  start.shutdown();
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 50'000;
  if (argc > 1 && !troupe::detail::is_child(argc, argv)) rounds = std::atoi(argv[1]);
  return troupe::run(argc, argv, [rounds]() -> troupe::task<void> { return bench(rounds); });
}
