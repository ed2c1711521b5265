// 02 — arguments: a process is given the start and end of the range it counts.
#include <troupe.hpp>

#include <cstdio>
#include <string>

// Arguments arrive decoded in the child, typed as the parameters say.
void count(std::string label, int from, int to) {
  long sum = 0;
  for (int i = from; i <= to; ++i) sum += i;
  std::printf("%s: sum of %d..%d = %ld\n", label.c_str(), from, to, sum);
}

troupe::task<void> main_task() {
  troupe::process p(count, std::string("worker"), 1, 100);
  p.start();
  co_await p.join();
  std::printf("exitcode %d\n", *p.exitcode());
}

int main(int argc, char** argv) { return troupe::run(argc, argv, main_task); }
