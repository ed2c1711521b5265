// scrape: 8 worker processes of a pool fetch 200 URLs from a loopback HTTP
// server that answers each after 10 ms (fewer URLs with an argument);
// prints pages per second. The ceiling is 8 x 100 = 800 pages/s.
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <troupe.hpp>

#include "samples/support/demo_site.hpp"

namespace {

constexpr int workers = 8;
constexpr auto delay = std::chrono::milliseconds(10);

// In a worker: one GET, the page's size (-1 if it failed). A pool call is
// a blocking function, as the peer's is: the worker has nothing else to do.
long fetch(std::string url) {
  auto page = troupe::http::get_blocking(url);
  return page && page->status == 200 ? static_cast<long>(page->body.size()) : -1L;
}

int ready(int x) { return x; }

troupe::task<int> bench(int n) {
  demo::site site;
  std::vector<std::string> urls;
  for (int i = 0; i < n; ++i) urls.push_back(site.delayed_url(i, delay));
  troupe::pool p(troupe::pool_options{.processes = workers});
  for (int w = 0; w < workers; ++w) (void)co_await p.apply(ready, w);
  auto t0 = std::chrono::steady_clock::now();
  auto sizes = co_await p.map(fetch, urls, 1);
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  for (long s : sizes) {
    if (s <= 0) {
      fmt::print(stderr, "scrape: a page failed\n");
      co_return 1;
    }
  }
  fmt::print(
      R"({{"system": "troupe", "workload": "scrape", "metric": "throughput", "value": {:.1f}, "unit": "pages/s", "params": {{"urls": {}, "delay_ms": {}, "workers": {}}}}})"
      "\n",
      n / dt.count(), n, delay.count(), workers);
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int n = 200;
  if (argc > 1 && !troupe::detail::is_child(argc, argv)) n = std::atoi(argv[1]);
  return troupe::run(argc, argv, [n]() -> troupe::task<int> { return bench(n); });
}
