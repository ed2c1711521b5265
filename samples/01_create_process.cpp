// 01 — create a process: a new process prints the numbers 1 to 10.
#include <troupe.hpp>

#include <cstdio>
#include <unistd.h>

// The code a child runs is an ordinary function of this program.
void count_to_ten() {
  std::printf("child %d counting:", static_cast<int>(::getpid()));
  for (int i = 1; i <= 10; ++i) std::printf(" %d", i);
  std::printf("\n");
}

troupe::task<void> main_task() {
  troupe::process p(count_to_ten);
  p.start();
  std::printf("started %s with pid %d\n", p.name().c_str(), p.pid());
  co_await p.join();
  std::printf("%s finished with exitcode %d\n", p.name().c_str(), *p.exitcode());
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
