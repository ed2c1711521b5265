// 11 — Manager list: four worker processes append their results to a list
// served by a manager process; the parent checks the list is complete.
#include <troupe.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

struct result_row {
  int job = 0;
  int worker = 0;
  long value = 0;  // the sum of the squares of 1..job
};

troupe::task<void> worker(troupe::list_proxy<result_row> results, troupe::dict_proxy<std::string, int> done,
                          int id, int workers, int jobs) {
  int mine = 0;
  for (int job = id; job < jobs; job += workers) {
    long sum = 0;
    for (long k = 1; k <= job; ++k) sum += k * k;
    co_await results.append(result_row{job, id, sum});  // pipelined: no round trip
    ++mine;
  }
  co_await done.set("worker " + std::to_string(id), mine);
}

troupe::task<void> main_task() {
  constexpr int workers = 4, jobs = 40;
  auto manager = troupe::manager::start();
  auto results = (co_await manager.list<result_row>()).value();
  auto done = (co_await manager.dict<std::string, int>()).value();
  std::printf("manager process %d serves the list and the dict\n", manager.pid());

  std::vector<troupe::process> procs;
  for (int id = 0; id < workers; ++id) procs.emplace_back(worker, results, done, id, workers, jobs);
  for (auto& p : procs) p.start();
  for (auto& p : procs) co_await p.join();

  auto rows = (co_await results.snapshot()).value();
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.job < b.job; });
  for (const auto& r : rows)
    if (r.job % 10 == 9) std::printf("job %2d by worker %d: %ld\n", r.job, r.worker, r.value);
  auto counts = (co_await done.items()).value();
  for (const auto& [who, count] : counts) std::printf("%s appended %d results\n", who.c_str(), count);

  bool complete = static_cast<int>(rows.size()) == jobs;
  for (int i = 0; complete && i < jobs; ++i) complete = rows[static_cast<std::size_t>(i)].job == i;
  std::printf("the list holds %zu results for %d jobs: %s\n", rows.size(), jobs,
              complete ? "complete, each job exactly once" : "INCOMPLETE");
  co_await manager.shutdown();
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
