#include "framework/runtime/os_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "framework/base/unique_fd.hpp"
#include "framework/uv/poll.hpp"

extern char** environ;

namespace troupe::detail {

namespace {

int open_pidfd(pid_t pid) noexcept {
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
}

result<exit_status> reap(child_process& child, int options) {
  siginfo_t info{};
  for (;;) {
    int rc = ::waitid(P_PIDFD, static_cast<id_t>(child.pidfd), &info, WEXITED | options);
    if (rc == 0) break;
    if (errno == EINTR) continue;
    return system_error("waitid", errno);
  }
  if (info.si_pid == 0) return error{errc::timeout, "child still running"};
  exit_status s;
  s.exitcode = info.si_code == CLD_EXITED ? info.si_status : -info.si_status;
  return s;
}

}  // namespace

result<child_process> start_child(start_method method, const std::vector<std::string>& args) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return system_error("socketpair", errno);
  base::unique_fd parent_end(fds[0]);
  base::unique_fd child_end(fds[1]);

  child_process child;
  if (method == start_method::fork) {
    pid_t pid = ::fork();
    if (pid < 0) return system_error("fork", errno);
    if (pid == 0) {
      parent_end.reset();
      if (child_end.get() != child_link_fd) {
        ::dup2(child_end.get(), child_link_fd);  // dup2 clears close-on-exec on the copy
        child_end.reset();
      } else {
        child_end.release();
      }
      child.pid = 0;
      child.link_fd = child_link_fd;
      return child;
    }
    child.pid = pid;
  } else {
    char exe[PATH_MAX];
    ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return system_error("readlink /proc/self/exe", errno);
    exe[n] = '\0';
    std::vector<char*> argv;
    argv.push_back(exe);
    argv.push_back(const_cast<char*>(child_marker));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // The link goes to fd 3 (dup2 clears close-on-exec), then everything
    // above it is closed, whatever the parent had open.
    posix_spawn_file_actions_adddup2(&actions, child_end.get(), child_link_fd);
    posix_spawn_file_actions_addclosefrom_np(&actions, child_link_fd + 1);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t empty_mask;
    sigemptyset(&empty_mask);
    sigset_t all;
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &empty_mask);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, exe, &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return system_error("posix_spawn", rc);
    child.pid = pid;
  }
  base::unique_fd pidfd(open_pidfd(child.pid));
  if (!pidfd) {
    int e = errno;
    ::kill(child.pid, SIGKILL);
    ::waitpid(child.pid, nullptr, 0);
    return system_error("pidfd_open", e);
  }
  ::fcntl(pidfd.get(), F_SETFD, FD_CLOEXEC);
  child.pidfd = pidfd.release();
  child.link_fd = parent_end.release();
  return child;
}

result<exit_status> try_reap(child_process& child) { return reap(child, WNOHANG); }

coro::task<result<exit_status>> wait_for_exit(uv::loop& loop, child_process& child) {
  auto done = try_reap(child);
  if (done || done.code() != errc::timeout) co_return done;
  auto poller = uv::poller::open(loop, child.pidfd);
  if (!poller) co_return poller.error();
  // A pidfd turns readable when the process ends.
  for (;;) {
    auto ready = co_await poller->wait(UV_READABLE);
    if (!ready) co_return ready.error();
    auto r = try_reap(child);
    if (r || r.code() != errc::timeout) co_return r;
  }
}

void close_child(child_process& child) noexcept {
  if (child.pidfd >= 0) ::close(std::exchange(child.pidfd, -1));
  if (child.link_fd >= 0) ::close(std::exchange(child.link_fd, -1));
}

}  // namespace troupe::detail
