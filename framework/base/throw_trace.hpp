#pragma once

#include <string>

namespace troupe::base {

/// Starts recording, on every throw on this process's threads, the stack at
/// the throw point (raw addresses only, a few microseconds per throw), so
/// that an exception that escapes can be reported with where it came from.
/// Child processes turn this on; available when the build supports it
/// (not under sanitizers, which intercept throwing themselves).
void enable_throw_traces() noexcept;

/// The stack of the last exception thrown on this thread, one frame per
/// line with function, file and line where debug information has them;
/// empty when traces are off or unavailable.
std::string last_throw_trace();

}  // namespace troupe::base
