// spawn: start and join 50 children that do nothing, with each start
// method; prints milliseconds per process as JSON lines.
#include <chrono>
#include <cstdlib>
#include <vector>

#include <fmt/core.h>
#include <troupe.hpp>

namespace {

void nothing() {}

troupe::task<double> start_and_join(int count, troupe::start_method method) {
  auto t0 = std::chrono::steady_clock::now();
  std::vector<troupe::process> children;
  children.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    children.emplace_back(troupe::process_options{.method = method}, nothing);
    children.back().start();
  }
  for (auto& c : children) co_await c.join();
  std::chrono::duration<double, std::milli> dt = std::chrono::steady_clock::now() - t0;
  co_return dt.count() / count;
}

troupe::task<void> bench(int count) {
  (void)co_await start_and_join(5, troupe::start_method::spawn);  // warm-up
  for (auto [method, name] : {std::pair{troupe::start_method::spawn, "spawn"},
                              std::pair{troupe::start_method::fork, "spawn_fork"}}) {
    double ms = co_await start_and_join(count, method);
    fmt::print(
        R"({{"system": "troupe", "workload": "{}", "metric": "latency", "value": {:.3f}, "unit": "ms/process", "params": {{"children": {}}}}})"
        "\n",
        name, ms, count);
  }
}

}  // namespace

int main(int argc, char** argv) {
  int count = 50;
  if (argc > 1 && !troupe::detail::is_child(argc, argv)) count = std::atoi(argv[1]);
  return troupe::run(argc, argv, [count]() -> troupe::task<void> { return bench(count); });
}
