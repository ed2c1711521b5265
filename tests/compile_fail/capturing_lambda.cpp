// Must not compile: a capturing lambda as a process target.
#include <troupe.hpp>

void start() {
  int state = 1;
  troupe::process p([state] { (void)state; });
}
