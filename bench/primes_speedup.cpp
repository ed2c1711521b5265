// primes_speedup: count the primes below 1,500,000 (another limit with an
// argument) by trial division, once in this process and once over a pool of
// 2 workers (64 blocks, one per task), five times alternately; prints the
// speedup (summed times), and the single process's mean time as
// primes_single.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <utility>
#include <vector>

#include <fmt/core.h>
#include <troupe.hpp>

namespace {

constexpr int rounds = 5;

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

troupe::task<void> bench(std::uint64_t limit) {
  troupe::pool p(troupe::pool_options{.processes = 2});
  const std::pair<std::uint64_t, std::uint64_t> warm{0, 1};
  (void)co_await p.apply(count_range, warm);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> blocks;
  const std::uint64_t step = limit / 64 + 1;
  for (std::uint64_t from = 0; from < limit; from += step) blocks.emplace_back(from, std::min(limit, from + step));
  // One round takes a fraction of a second here, where a moment's stall of
  // the VM's other vCPU shows; alternating rounds and dividing the summed
  // times averages that out, as the peer's one 19-second run does.
  std::chrono::duration<double> single_s{0}, multi_s{0};
  std::uint64_t single = 0;
  for (int round = 0; round < rounds; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    single = count_range({0, limit});
    single_s += std::chrono::steady_clock::now() - t0;
    t0 = std::chrono::steady_clock::now();
    auto counts = co_await p.map(count_range, blocks, std::size_t{1});
    multi_s += std::chrono::steady_clock::now() - t0;
    const std::uint64_t multi = std::accumulate(counts.begin(), counts.end(), std::uint64_t{0});
    if (single != multi) {
      fmt::print(stderr, "primes_speedup: counts differ: {} and {}\n", single, multi);
      std::exit(1);
    }
  }
  fmt::print(
      R"({{"system": "troupe", "workload": "primes_speedup", "metric": "ratio", "value": {:.3f}, "unit": "x", "params": {{"processes": 2, "limit": {}, "primes": {}, "rounds": {}}}}})"
      "\n",
      single_s.count() / multi_s.count(), limit, single, rounds);
  fmt::print(
      R"({{"system": "troupe", "workload": "primes_single", "metric": "latency", "value": {:.3f}, "unit": "s", "params": {{"limit": {}}}}})"
      "\n",
      single_s.count() / rounds, limit);
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t limit = 1'500'000;
  if (argc > 1 && !troupe::detail::is_child(argc, argv)) limit = std::strtoull(argv[1], nullptr, 10);
  return troupe::run(argc, argv, [limit]() -> troupe::task<void> { return bench(limit); });
}
