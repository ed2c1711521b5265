// queue_small: one producer process puts small ints into a queue, the main
// process gets them; prints items per second as one JSON line.
#include <chrono>
#include <cstdlib>

#include <fmt/core.h>
#include <troupe.hpp>

namespace {

troupe::task<void> produce(troupe::queue<int> q, int count) {
  for (int i = 0; i < count; ++i) (void)(co_await q.put(i)).value();
}

troupe::task<void> bench(int count) {
  auto q = troupe::queue<int>::make(1024);
  // Forked, as both peers start their producer: the figure is the queue's,
  // not the start method's (bench/spawn measures that).
  troupe::process producer(troupe::process_options{.method = troupe::start_method::fork}, produce, q, count);
  auto t0 = std::chrono::steady_clock::now();
  producer.start();
  long sum = 0;
  for (int i = 0; i < count; ++i) sum += (co_await q.get()).value();
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  co_await producer.join();
  if (sum != static_cast<long>(count) * (count - 1) / 2) throw std::runtime_error("items lost or duplicated");
  fmt::print(
      R"({{"system": "troupe", "workload": "queue_small", "metric": "throughput", "value": {:.0f}, "unit": "msgs/s", "params": {{"items": {}}}}})"
      "\n",
      count / dt.count(), count);
  q.shutdown();
}

}  // namespace

int main(int argc, char** argv) {
  int count = 200'000;
  if (argc > 1 && !troupe::detail::is_child(argc, argv)) count = std::atoi(argv[1]);
  return troupe::run(argc, argv, [count]() -> troupe::task<void> { return bench(count); });
}
