// The main of test binaries that start processes: in a child started by
// troupe it runs what the parent asked for; otherwise the doctest cases.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <troupe.hpp>

int main(int argc, char** argv) {
  if (troupe::detail::is_child(argc, argv)) return troupe::detail::run_child(argc, argv);
  troupe::detail::prepare_main_process();
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
