// The floor for primes_speedup, in plain C++ on the OS alone: the same
// count of primes below 1,500,000 by trial division, once in this process
// and once by two forked children taking the same 64 blocks from a shared
// counter, five times alternately; prints the speedup (summed times) as
// troupe's program does (starting the two children is inside the clock
// here: about a millisecond of a round of some 150). What a pool of 2 can
// reach on this machine at this moment: how far below 2.0 that is is the
// machine's doing, not the pool's.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>

namespace {

constexpr int rounds = 5;
constexpr std::uint64_t blocks = 64;

bool is_prime(std::uint64_t n) {
  if (n < 2) return false;
  for (std::uint64_t d = 2; d * d <= n; ++d)
    if (n % d == 0) return false;
  return true;
}

std::uint64_t count_range(std::uint64_t from, std::uint64_t to) {
  std::uint64_t n = 0;
  for (std::uint64_t i = from; i < to; ++i) n += is_prime(i) ? 1 : 0;
  return n;
}

struct shared_state {
  std::atomic<std::uint64_t> next_block;
  std::atomic<std::uint64_t> primes;
};

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t limit = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'500'000;
  const std::uint64_t step = limit / blocks + 1;
  void* mem = ::mmap(nullptr, sizeof(shared_state), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return 1;
  auto* shared = new (mem) shared_state{};
  std::chrono::duration<double> single_s{0}, multi_s{0};
  std::uint64_t single = 0;
  for (int round = 0; round < rounds; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    single = count_range(0, limit);
    single_s += std::chrono::steady_clock::now() - t0;
    shared->next_block.store(0);
    shared->primes.store(0);
    t0 = std::chrono::steady_clock::now();
    pid_t children[2];
    for (pid_t& child : children) {
      child = ::fork();
      if (child < 0) return 1;
      if (child == 0) {
        for (std::uint64_t b; (b = shared->next_block.fetch_add(1)) < blocks;)
          shared->primes.fetch_add(count_range(b * step, std::min(limit, (b + 1) * step)));
        ::_exit(0);
      }
    }
    for (pid_t child : children) ::waitpid(child, nullptr, 0);
    multi_s += std::chrono::steady_clock::now() - t0;
    if (shared->primes.load() != single) {
      std::fprintf(stderr, "primes_raw: counts differ: %llu and %llu\n", static_cast<unsigned long long>(single),
                   static_cast<unsigned long long>(shared->primes.load()));
      return 1;
    }
  }
  std::printf(
      R"({"system": "raw", "workload": "primes_speedup", "metric": "ratio", "value": %.3f, "unit": "x", "params": {"processes": 2, "limit": %llu, "primes": %llu, "rounds": %d}})"
      "\n",
      single_s.count() / multi_s.count(), static_cast<unsigned long long>(limit),
      static_cast<unsigned long long>(single), rounds);
  return 0;
}
