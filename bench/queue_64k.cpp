// queue_64k: one producer process puts 64 KiB payloads into a queue, the
// main process gets them; prints megabytes per second as one JSON line.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include <fmt/core.h>
#include <troupe.hpp>

namespace {

constexpr std::size_t payload_size = 64 * 1024;

troupe::task<void> produce(troupe::queue<std::vector<std::uint8_t>> q, int count) {
  std::vector<std::uint8_t> block(payload_size);
  for (int i = 0; i < count; ++i) {
    block[0] = static_cast<std::uint8_t>(i);
    (void)(co_await q.put(block)).value();
  }
}

troupe::task<void> bench(int count) {
  auto q = troupe::queue<std::vector<std::uint8_t>>::make(64);
  // Forked, as both peers start their producer: the figure is the queue's,
  // not the start method's (bench/spawn measures that).
  troupe::process producer(troupe::process_options{.method = troupe::start_method::fork}, produce, q, count);
  auto t0 = std::chrono::steady_clock::now();
  producer.start();
  for (int i = 0; i < count; ++i) {
    auto b = (co_await q.get()).value();
    if (b.size() != payload_size || b[0] != static_cast<std::uint8_t>(i)) throw std::runtime_error("payload mangled");
  }
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  co_await producer.join();
  fmt::print(
      R"({{"system": "troupe", "workload": "queue_64k", "metric": "throughput", "value": {:.0f}, "unit": "MB/s", "params": {{"items": {}, "bytes": {}}}}})"
      "\n",
      static_cast<double>(count) * payload_size / 1e6 / dt.count(), count, payload_size);
  q.shutdown();
}

}  // namespace

int main(int argc, char** argv) {
  int count = 8'000;
  if (argc > 1 && !troupe::detail::is_child(argc, argv)) count = std::atoi(argv[1]);
  return troupe::run(argc, argv, [count]() -> troupe::task<void> { return bench(count); });
}
