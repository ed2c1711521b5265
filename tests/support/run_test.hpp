#pragma once

#include <troupe.hpp>

namespace troupe::testing {

/// Runs a test body (a captureless coroutine lambda) on a fresh runtime.
template <class F>
void run_test(F body) {
  troupe::runtime rt;
  rt.block_on(body());
}

}  // namespace troupe::testing
