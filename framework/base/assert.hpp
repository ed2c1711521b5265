#pragma once

// TROUPE_ASSERT guards invariants: a failure is a bug in troupe or in the
// caller's use of an API, never an expected outcome, so it aborts the process
// with the expression, where it failed and why.

namespace troupe::base {

[[noreturn]] void assertion_failed(const char* expression, const char* file, int line,
                                   const char* message) noexcept;

}  // namespace troupe::base

#define TROUPE_ASSERT(expr, message)                                                   \
  do {                                                                                 \
    if (!(expr)) [[unlikely]]                                                          \
      ::troupe::base::assertion_failed(#expr, __FILE__, __LINE__, (message));          \
  } while (false)
