#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "framework/base/result.hpp"
#include "framework/coro/task.hpp"
#include "framework/uv/loop.hpp"

namespace troupe::detail {

/// The fd number at which a child finds its end of the link to its parent.
inline constexpr int child_link_fd = 3;

/// The first argument that tells a re-executed binary it is a troupe child.
inline constexpr const char* child_marker = "--troupe-child";

/// How a child process is started.
enum class start_method {
  spawn,  ///< posix_spawn of the program's own binary: nothing inherited but the link
  fork,   ///< fork without exec: cheap for small single-threaded parents
};

/// A started child: its pid, a pidfd for death detection (polled by the
/// loop, never waitpid(-1)), and the parent's end of the socketpair link.
/// The fds are close-on-exec and owned by the holder (close_child closes them).
struct child_process {
  pid_t pid = -1;
  int pidfd = -1;
  int link_fd = -1;
};

/// How a child ended, in Python's convention: exitcode is the exit status,
/// or minus the signal number when a signal killed it.
struct exit_status {
  int exitcode = 0;
  [[nodiscard]] bool killed() const noexcept { return exitcode < 0; }
  [[nodiscard]] int signal() const noexcept { return killed() ? -exitcode : 0; }
};

/// Starts a child. With start_method::spawn it re-executes /proc/self/exe
/// as `exe --troupe-child args...`, with the link at fd 3, stdin/out/err
/// shared and every other fd closed, and default signal mask and
/// dispositions. With start_method::fork the child returns from this call
/// with pid == 0 and link_fd == child_link_fd; the caller runs the child's
/// work and must _exit.
result<child_process> start_child(start_method method, const std::vector<std::string>& args);

/// Waits (suspending, via the loop) until the child has ended and reaps it.
coro::task<result<exit_status>> wait_for_exit(uv::loop& loop, child_process& child);

/// Reaps the child if it has ended; errc::timeout if it is still running.
result<exit_status> try_reap(child_process& child);

/// Closes the pidfd and the link fd (does not signal or wait for the child).
void close_child(child_process& child) noexcept;

}  // namespace troupe::detail
