// 03 — several processes: three children, each prints its own message.
#include <troupe.hpp>

#include <cstdio>
#include <string>
#include <unistd.h>
#include <vector>

void greet(std::string message) { std::printf("[pid %d] %s\n", static_cast<int>(::getpid()), message.c_str()); }

troupe::task<void> main_task() {
  std::vector<troupe::process> workers;
  for (const char* msg : {"hello from the first", "hello from the second", "hello from the third"})
    workers.emplace_back(greet, std::string(msg));
  for (auto& w : workers) w.start();
  for (auto& w : workers) co_await w.join();
  std::printf("all %zu processes finished\n", workers.size());
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
