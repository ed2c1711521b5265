#pragma once

#include <chrono>

#include <troupe.hpp>

namespace troupe::testing {

/// Runs a test body (a captureless coroutine lambda) on a fresh runtime.
template <class F>
void run_test(F body) {
  troupe::runtime rt;
  rt.block_on(body());
}

/// Polls `cond` (a plain predicate) every 2 ms until it holds or `limit`
/// passes; true if it held. For conditions nobody can signal (a process
/// gone from /proc, a counter in another process).
template <class F>
task<bool> eventually(F cond, std::chrono::nanoseconds limit = std::chrono::seconds(5)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > until) co_return false;
    (void)co_await troupe::sleep_for(std::chrono::milliseconds(2));
  }
  co_return true;
}

}  // namespace troupe::testing
