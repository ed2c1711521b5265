#include "framework/base/cores.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <charconv>

namespace troupe::base {

int runnable_threads() noexcept {
  // "0.52 0.58 0.59 2/187 4523": runnable/existing is the fourth field.
  const int fd = ::open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[128];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n <= 0) return -1;
  const char* p = buf;
  const char* end = buf + n;
  for (int field = 0; field < 3; ++field) {
    while (p != end && *p != ' ') ++p;
    if (p == end) return -1;
    ++p;
  }
  int running = -1;
  auto [next, ec] = std::from_chars(p, end, running);
  if (ec != std::errc{} || next == end || *next != '/') return -1;
  return running;
}

bool move_to_other_core() noexcept {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0) return false;
  const int cores = CPU_COUNT(&allowed);
  const int here = ::sched_getcpu();
  if (cores < 2 || here < 0 || here >= CPU_SETSIZE || !CPU_ISSET(here, &allowed)) return false;
  const int runnable = runnable_threads();
  if (runnable < 0 || runnable > cores) return false;
  cpu_set_t others = allowed;
  CPU_CLR(here, &others);
  // The kernel moves the thread off `here` before the call returns; the
  // second call only widens the mask again, which moves nothing.
  if (::sched_setaffinity(0, sizeof others, &others) != 0) return false;
  (void)::sched_setaffinity(0, sizeof allowed, &allowed);
  return true;
}

}  // namespace troupe::base
