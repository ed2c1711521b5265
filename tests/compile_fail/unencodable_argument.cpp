// Must not compile: a pointer argument cannot cross to another process.
#include <troupe.hpp>

void target(int*) {}

void start() {
  int x = 0;
  troupe::process p(target, &x);
}
