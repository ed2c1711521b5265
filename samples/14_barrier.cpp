// 14 — Barrier: three worker processes meet at a checkpoint after each
// phase; no worker starts a phase before all finished the previous one.
#include <troupe.hpp>

#include <cstdio>
#include <vector>

troupe::task<void> worker(troupe::barrier checkpoint, int id) {
  for (int phase = 1; phase <= 3; ++phase) {
    std::printf("worker %d finished phase %d\n", id, phase);
    (void)(co_await checkpoint.wait()).value();
  }
}

troupe::task<void> main_task() {
  int round = 0;
  // The action runs once per round, here, before anyone moves on.
  auto checkpoint = troupe::barrier::make(3, [&round] { std::printf("--- checkpoint %d: all 3 workers arrived\n", ++round); });
  std::vector<troupe::process> workers;
  for (int id = 0; id < 3; ++id) workers.emplace_back(worker, checkpoint, id);
  for (auto& w : workers) w.start();
  for (auto& w : workers) co_await w.join();
  std::printf("all phases done after %d checkpoints\n", round);
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
