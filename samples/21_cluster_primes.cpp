// 21 — sample 17 across hosts: count the primes below a limit with a pool whose workers run on every rank.
// Alone it is a pool on this machine; under mpirun every rank's cores join:
//   mpirun --hostfile hosts --bind-to none ./21_cluster_primes
#include <troupe.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <utility>
#include <vector>

bool is_prime(std::uint64_t n) {
  if (n < 2) return false;
  for (std::uint64_t d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

// Primes in [from, to).
std::uint64_t count_range(std::pair<std::uint64_t, std::uint64_t> block) {
  std::uint64_t n = 0;
  for (std::uint64_t i = block.first; i < block.second; ++i) n += is_prime(i) ? 1 : 0;
  return n;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

troupe::task<int> main_task(int argc, char** argv) {
  const std::uint64_t limit = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2'000'000;
  std::printf("%d rank(s):", troupe::cluster::size());
  for (const auto& m : troupe::cluster::members()) std::printf(" %d@%s", m.rank, m.host.c_str());
  std::printf("%s\n", troupe::cluster::active() ? "" : " this machine alone (no launcher)");

  auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t single = count_range({0, limit});
  const double single_s = seconds_since(t0);

  auto pool = co_await troupe::cluster_pool::start();
  // Many small blocks: later numbers cost more, and faster hosts take more.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> blocks;
  const std::uint64_t step = limit / 128 + 1;
  for (std::uint64_t from = 0; from < limit; from += step) blocks.emplace_back(from, std::min(limit, from + step));
  t0 = std::chrono::steady_clock::now();
  auto counts = co_await pool.map(count_range, blocks, 1);
  const double multi_s = seconds_since(t0);
  const std::uint64_t multi = std::accumulate(counts.begin(), counts.end(), std::uint64_t{0});

  std::printf("primes below %llu\n", static_cast<unsigned long long>(limit));
  std::printf("%-6s %-10s %8s %8s\n", "rank", "host", "workers", "blocks");
  for (const auto& r : pool.ranks())
    std::printf("%-6d %-10s %8u %8llu%s\n", r.rank, r.host.c_str(), r.processes,
                static_cast<unsigned long long>(r.items), r.lost ? "  (lost)" : "");
  std::printf("%-26s %8s %9s %8s\n", "method", "primes", "seconds", "speedup");
  std::printf("%-26s %8llu %9.3f %7.2fx\n", "single process", static_cast<unsigned long long>(single), single_s, 1.0);
  char label[64];
  std::snprintf(label, sizeof label, "%zu workers on %zu host(s)", pool.workers(), pool.ranks().size());
  std::printf("%-26s %8llu %9.3f %7.2fx\n", label, static_cast<unsigned long long>(multi), multi_s,
              single_s / multi_s);
  std::printf("%s\n", single == multi ? "both counts agree" : "THE COUNTS DIFFER");
  co_await pool.close();
  co_return single == multi ? 0 : 1;
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
