// 04 — join: the main process continues only after every child has finished.
#include <troupe.hpp>

#include <chrono>
#include <cstdio>
#include <vector>

// Each worker takes a different time, so they finish out of start order.
troupe::task<void> work(int id, int millis) {
  (void)co_await troupe::sleep_for(std::chrono::milliseconds(millis));
  std::printf("worker %d done after %d ms\n", id, millis);
}

troupe::task<void> main_task() {
  std::vector<troupe::process> workers;
  int millis[] = {300, 100, 200};
  for (int id = 0; id < 3; ++id) workers.emplace_back(work, id, millis[id]);
  for (auto& w : workers) w.start();
  std::printf("main: waiting for %zu workers\n", workers.size());
  for (auto& w : workers) co_await w.join();
  std::printf("main: every worker has finished, continuing\n");
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
