// hosts_primes: sample 17's prime count (below 2,000,000, trial division)
// on one process of this host, then on a cluster pool of one worker per
// rank; prints the speedup as one JSON line. Under mpirun on two fake hosts
// of one core each the point is correctness and overhead, not speed.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <utility>
#include <vector>

#include <fmt/core.h>
#include <troupe.hpp>

namespace {

bool is_prime(std::uint64_t n) {
  if (n < 2) return false;
  for (std::uint64_t d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

std::uint64_t count_range(std::pair<std::uint64_t, std::uint64_t> block) {
  std::uint64_t n = 0;
  for (std::uint64_t i = block.first; i < block.second; ++i) n += is_prime(i) ? 1 : 0;
  return n;
}

troupe::task<int> bench(int argc, char** argv) {
  const std::uint64_t limit = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2'000'000;
  auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t single = count_range({0, limit});
  const std::chrono::duration<double> single_s = std::chrono::steady_clock::now() - t0;

  troupe::cluster_pool_options options;
  options.processes_per_rank = 1;
  auto pool = co_await troupe::cluster_pool::start(options);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> blocks;
  const std::uint64_t step = limit / 128 + 1;
  for (std::uint64_t from = 0; from < limit; from += step) blocks.emplace_back(from, std::min(limit, from + step));
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> warm{{0, 1}};
  (void)co_await pool.map(count_range, warm, 1);
  t0 = std::chrono::steady_clock::now();
  auto counts = co_await pool.map(count_range, blocks, 1);
  const std::chrono::duration<double> multi_s = std::chrono::steady_clock::now() - t0;
  const std::uint64_t multi = std::accumulate(counts.begin(), counts.end(), std::uint64_t{0});
  co_await pool.close();
  if (multi != single) {
    fmt::print(stderr, "hosts_primes: the counts differ ({} and {})\n", single, multi);
    co_return 1;
  }
  fmt::print(
      R"({{"system": "troupe", "workload": "hosts_primes", "metric": "speedup", "value": {:.2f}, "unit": "x", "params": {{"limit": {}, "ranks": {}, "workers": {}}}}})"
      "\n",
      single_s.count() / multi_s.count(), limit, troupe::cluster::size(), pool.workers());
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) { return troupe::run(argc, argv, bench); }
