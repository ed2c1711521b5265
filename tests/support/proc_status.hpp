#pragma once

#include <dirent.h>

#include <cstddef>
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

/// Descriptors open in this process now (not counting the one that reads
/// /proc/self/fd).
inline std::size_t open_fd_count() {
  std::size_t n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n - 1;
}

}  // namespace troupe::testing
