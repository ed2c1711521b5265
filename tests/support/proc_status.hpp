#pragma once

#include <cstdint>
#include <fstream>
#include <string>

namespace troupe::testing {

/// KiB of a /proc/self/status field (VmRSS, VmHWM), -1 if absent.
inline std::int64_t status_kib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string key = std::string(field) + ":";
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) return std::stoll(line.substr(key.size()));
  return -1;
}

}  // namespace troupe::testing
