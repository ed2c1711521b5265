#include "framework/base/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace troupe::base {

void assertion_failed(const char* expression, const char* file, int line,
                      const char* message) noexcept {
  std::fprintf(stderr, "troupe: assertion failed: %s\n  at %s:%d\n  %s\n", expression, file,
               line, message);
  std::fflush(stderr);
  std::abort();
}

}  // namespace troupe::base
