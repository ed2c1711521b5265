// 16 — exceptions in children: one child throws; the parent catches it as a
// typed remote error and logs it; the other children are unaffected.
#include <troupe.hpp>

#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

int check_order(int order_id) {
  if (order_id == 2) throw std::invalid_argument("order " + std::to_string(order_id) + " has no items");
  std::printf("order %d is fine\n", order_id);
  return 0;
}

troupe::task<void> main_task() {
  std::vector<troupe::process> checks;
  for (int id = 1; id <= 3; ++id) checks.emplace_back(troupe::process_options{.name = "check-" + std::to_string(id)}, check_order, id);
  for (auto& p : checks) p.start();
  for (auto& p : checks) {
    try {
      co_await p.join();
      std::printf("%s: exitcode %d\n", p.name().c_str(), *p.exitcode());
    } catch (const troupe::remote_error& e) {
      std::printf("%s failed: %s: %s (pid %d, exitcode %d)\n", p.name().c_str(), e.type().c_str(),
                  e.message().c_str(), e.pid(), *p.exitcode());
    }
  }
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
