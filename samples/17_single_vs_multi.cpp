// 17 — one process against a pool: count the primes below a limit by trial
// division, first here, then split into blocks over a pool of workers.
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

troupe::task<void> main_task(int argc, char** argv) {
  const std::uint64_t limit = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2'000'000;

  auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t single = count_range({0, limit});
  const double single_s = seconds_since(t0);

  troupe::pool workers;  // one worker per CPU
  // Later numbers cost more, so many small blocks keep every worker busy.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> blocks;
  const std::uint64_t step = limit / 64 + 1;
  for (std::uint64_t from = 0; from < limit; from += step) blocks.emplace_back(from, std::min(limit, from + step));
  // Start the clock once the workers are up, as a long-lived pool would be.
  const std::pair<std::uint64_t, std::uint64_t> warm_up{0, 1};
  (void)co_await workers.apply(count_range, warm_up);
  t0 = std::chrono::steady_clock::now();
  auto counts = co_await workers.map(count_range, blocks, std::size_t{1});
  const std::uint64_t multi = std::accumulate(counts.begin(), counts.end(), std::uint64_t{0});
  const double multi_s = seconds_since(t0);

  std::printf("primes below %llu\n", static_cast<unsigned long long>(limit));
  std::printf("%-18s %8s %9s %8s\n", "method", "primes", "seconds", "speedup");
  std::printf("%-18s %8llu %9.3f %7.2fx\n", "single process", static_cast<unsigned long long>(single), single_s, 1.0);
  char label[32];
  std::snprintf(label, sizeof label, "pool of %zu", workers.processes());
  std::printf("%-18s %8llu %9.3f %7.2fx\n", label, static_cast<unsigned long long>(multi), multi_s, single_s / multi_s);
  std::printf("%s\n", single == multi ? "both counts agree" : "THE COUNTS DIFFER");
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
