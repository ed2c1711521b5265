// pool_map_small: a pool of 2 workers maps identity over 1,000,000 ints
// (fewer with an argument), default chunksize; prints calls per second.
// The pool is started (and warmed by one call) before the clock starts.
#include <chrono>
#include <cstdlib>
#include <numeric>
#include <vector>

#include <fmt/core.h>
#include <troupe.hpp>

namespace {

int identity(int x) { return x; }

troupe::task<void> bench(long n) {
  troupe::pool p(troupe::pool_options{.processes = 2});
  (void)co_await p.apply(identity, 0);
  std::vector<int> xs(static_cast<std::size_t>(n));
  std::iota(xs.begin(), xs.end(), 0);
  auto t0 = std::chrono::steady_clock::now();
  auto out = co_await p.map(identity, std::move(xs));
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  if (out.size() != static_cast<std::size_t>(n) || out.back() != n - 1) {
    fmt::print(stderr, "pool_map_small: wrong results\n");
    std::exit(1);
  }
  fmt::print(
      R"({{"system": "troupe", "workload": "pool_map_small", "metric": "throughput", "value": {:.0f}, "unit": "tasks/s", "params": {{"processes": 2, "tasks": {}}}}})"
      "\n",
      static_cast<double>(n) / dt.count(), n);
}

}  // namespace

int main(int argc, char** argv) {
  long n = 1'000'000;
  if (argc > 1 && !troupe::detail::is_child(argc, argv)) n = std::atol(argv[1]);
  return troupe::run(argc, argv, [n]() -> troupe::task<void> { return bench(n); });
}
