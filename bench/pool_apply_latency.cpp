// pool_apply_latency: apply_async + get, one call at a time, on a pool of 2
// workers, 20,000 times (fewer with an argument); prints microseconds per
// call.
#include <chrono>
#include <cstdlib>

#include <fmt/core.h>
#include <troupe.hpp>

namespace {

int identity(int x) { return x; }

troupe::task<void> bench(long n) {
  troupe::pool p(troupe::pool_options{.processes = 2});
  (void)co_await p.apply(identity, 0);
  auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < n; ++i) {
    auto r = p.apply_async(identity, static_cast<int>(i));
    if (co_await r.get() != static_cast<int>(i)) {
      fmt::print(stderr, "pool_apply_latency: wrong result\n");
      std::exit(1);
    }
  }
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  fmt::print(
      R"({{"system": "troupe", "workload": "pool_apply_latency", "metric": "latency", "value": {:.2f}, "unit": "us/task", "params": {{"processes": 2, "tasks": {}}}}})"
      "\n",
      dt.count() * 1e6 / static_cast<double>(n), n);
}

}  // namespace

int main(int argc, char** argv) {
  long n = 20'000;
  if (argc > 1 && !troupe::detail::is_child(argc, argv)) n = std::atol(argv[1]);
  return troupe::run(argc, argv, [n]() -> troupe::task<void> { return bench(n); });
}
