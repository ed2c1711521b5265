// lock_contention: 4 processes each acquire and release one lock 50,000
// times (fewer with an argument); prints acquisitions per second.
#include <chrono>
#include <cstdlib>
#include <vector>

#include <fmt/core.h>
#include <troupe.hpp>

namespace {

troupe::task<void> hammer(troupe::lock l, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    (void)(co_await l.acquire()).value();
    (void)(co_await l.release()).value();
  }
}

troupe::task<void> bench(int rounds) {
  auto l = troupe::lock::make();
  std::vector<troupe::process> procs;
  for (int p = 0; p < 4; ++p) procs.emplace_back(hammer, l, rounds);
  auto t0 = std::chrono::steady_clock::now();
  for (auto& p : procs) p.start();
  for (auto& p : procs) co_await p.join();
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  fmt::print(
      R"({{"system": "troupe", "workload": "lock_contention", "metric": "throughput", "value": {:.0f}, "unit": "acq/s", "params": {{"processes": 4, "rounds": {}}}}})"
      "\n",
      4.0 * rounds / dt.count(), rounds);
  l.shutdown();
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 50'000;
  if (argc > 1 && !troupe::detail::is_child(argc, argv)) rounds = std::atoi(argv[1]);
  return troupe::run(argc, argv, [rounds]() -> troupe::task<void> { return bench(rounds); });
}
