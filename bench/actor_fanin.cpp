// actor_fanin: eight sender actors flood one receiver in one process;
// prints messages per second as one JSON line.
#include <chrono>
#include <cstdlib>

#include <fmt/core.h>
#include <troupe.hpp>

namespace {

struct item {
  int value = 0;
};

troupe::task<void> sender(troupe::inbox<item> self, troupe::actor_ref to, int count) {
  (void)self;
  for (int i = 0; i < count; ++i) co_await to.send(item{i});
}

troupe::task<double> run(troupe::runtime& rt, int senders, int messages) {
  auto sink = troupe::open_inbox<item>(rt);
  auto t0 = std::chrono::steady_clock::now();
  for (int s = 0; s < senders; ++s) (void)troupe::spawn(rt, sender, sink.ref(), messages / senders);
  long long sum = 0;
  int received = 0;
  const int total = messages / senders * senders;
  while (received < total) {
    auto m = co_await sink.receive();
    sum += m.value().get<item>().value;
    ++received;
  }
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  long long per = total / senders;
  if (sum != senders * (per * (per - 1) / 2)) throw std::runtime_error("fan-in lost or duplicated messages");
  co_return total / dt.count();
}

}  // namespace

int main(int argc, char** argv) {
  int messages = argc > 1 ? std::atoi(argv[1]) : 1'000'000;
  constexpr int senders = 8;
  troupe::runtime rt;
  (void)rt.block_on(run(rt, senders, messages / 10));  // warm-up
  double rate = rt.block_on(run(rt, senders, messages));
  fmt::print(
      R"({{"system": "troupe", "workload": "actor_fanin", "metric": "throughput", "value": {:.0f}, "unit": "msgs/s", "params": {{"senders": {}, "messages": {}}}}})"
      "\n",
      rate, senders, messages);
}
