// Peer for queue_small and queue_64k: the same workloads with
// Boost.Interprocess message_queue, the ready-made C++ cross-process queue.
// One producer process (forked) sends, the parent receives; with no
// arguments it runs both workloads, or `small N` / `64k N` for one.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <boost/interprocess/ipc/message_queue.hpp>

namespace bip = boost::interprocess;

namespace {

// Items per second (small) or MB/s (64k), timed from the fork to the last
// item received, as the troupe and Python programs do.
double run(const std::string& name, std::size_t item_size, long count, std::size_t depth) {
  bip::message_queue::remove(name.c_str());
  bip::message_queue q(bip::create_only, name.c_str(), depth, item_size);
  auto t0 = std::chrono::steady_clock::now();
  pid_t child = ::fork();
  if (child == 0) {
    bip::message_queue out(bip::open_only, name.c_str());
    std::vector<char> item(item_size);
    for (long i = 0; i < count; ++i) {
      std::memcpy(item.data(), &i, sizeof i);
      out.send(item.data(), item_size, 0);
    }
    std::_Exit(0);
  }
  std::vector<char> item(item_size);
  long expected = 0;
  for (long i = 0; i < count; ++i) {
    bip::message_queue::size_type got = 0;
    unsigned prio = 0;
    q.receive(item.data(), item_size, got, prio);
    long seq = 0;
    std::memcpy(&seq, item.data(), sizeof seq);
    if (got != item_size || seq != expected++) {
      std::fprintf(stderr, "queue_boost: item %ld mangled\n", i);
      std::exit(1);
    }
  }
  std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  int status = 0;
  ::waitpid(child, &status, 0);
  bip::message_queue::remove(name.c_str());
  return item_size <= sizeof(long) ? static_cast<double>(count) / dt.count()
                                   : static_cast<double>(count) * static_cast<double>(item_size) / 1e6 / dt.count();
}

void small(long count) {
  double v = run("troupe_peer_small_" + std::to_string(::getpid()), sizeof(long), count, 1024);
  std::printf(
      R"({"system": "boost", "workload": "queue_small", "metric": "throughput", "value": %.0f, "unit": "msgs/s", "params": {"items": %ld}})"
      "\n",
      v, count);
}

void big(long count) {
  double v = run("troupe_peer_64k_" + std::to_string(::getpid()), 64 * 1024, count, 64);
  std::printf(
      R"({"system": "boost", "workload": "queue_64k", "metric": "throughput", "value": %.0f, "unit": "MB/s", "params": {"items": %ld, "bytes": 65536}})"
      "\n",
      v, count);
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "both";
  long count = argc > 2 ? std::atol(argv[2]) : 0;
  if (mode == "small" || mode == "both") small(count > 0 ? count : 200'000);
  if (mode == "64k" || mode == "both") big(count > 0 ? count : 8'000);
  return 0;
}
