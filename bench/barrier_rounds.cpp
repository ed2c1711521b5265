// barrier_rounds: 4 processes pass one barrier 10,000 times; prints rounds
// per second.
#include <chrono>
#include <cstdlib>
#include <vector>

#include <fmt/core.h>
#include <troupe.hpp>

namespace {

troupe::task<void> party(troupe::barrier b, int rounds) {
  for (int i = 0; i < rounds; ++i) (void)(co_await b.wait()).value();
}

troupe::task<void> bench(int rounds) {
  auto b = troupe::barrier::make(4);
  std::vector<troupe::process> procs;
  for (int p = 0; p < 4; ++p) procs.emplace_back(party, b, rounds);
  auto t0 = std::chrono::steady_clock::now();
  for (auto& p : procs) p.start();
  for (auto& p : procs) co_await p.join();
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  fmt::print(
      R"({{"system": "troupe", "workload": "barrier_rounds", "metric": "throughput", "value": {:.0f}, "unit": "rounds/s", "params": {{"processes": 4, "rounds": {}}}}})"
      "\n",
      rounds / dt.count(), rounds);
  b.shutdown();
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 10'000;
  if (argc > 1 && !troupe::detail::is_child(argc, argv)) rounds = std::atoi(argv[1]);
  return troupe::run(argc, argv, [rounds]() -> troupe::task<void> { return bench(rounds); });
}
