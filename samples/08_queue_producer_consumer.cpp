// 08 — producer/consumer with a Queue: three producer processes send
// readings; one consumer process writes them to a log file.
#include <troupe.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

struct reading {
  std::string sensor;
  int value = 0;
};

troupe::task<void> producer(troupe::queue<reading> q, std::string sensor, int count) {
  for (int i = 1; i <= count; ++i) {
    reading r{sensor, i * 10};
    (void)(co_await q.put(std::move(r))).value();
  }
}

// Writes every reading to the log until it has seen `expected` of them.
troupe::task<int> consumer(troupe::queue<reading> q, std::string path, int expected) {
  std::ofstream log(path);
  for (int n = 0; n < expected; ++n) {
    reading r = (co_await q.get()).value();
    log << r.sensor << " " << r.value << "\n";
  }
  co_return 0;
}

troupe::task<void> main_task() {
  auto q = troupe::queue<reading>::make(16);  // a bounded queue: producers wait when it is full
  const std::string path = "sensors.log";
  troupe::process writer(consumer, q, path, 3 * 5);
  writer.start();
  std::vector<troupe::process> producers;
  for (const char* name : {"north", "south", "east"}) producers.emplace_back(producer, q, std::string(name), 5);
  for (auto& p : producers) p.start();
  for (auto& p : producers) co_await p.join();
  co_await writer.join();

  std::ifstream in(path);
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  std::printf("the consumer logged %d readings from 3 producers to %s\n", lines, path.c_str());
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
