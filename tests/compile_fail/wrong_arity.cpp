// Must not compile: the arguments do not match the target's parameters.
#include <troupe.hpp>

void target(int, int) {}

void start() { troupe::process p(target, 1); }
