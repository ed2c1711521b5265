#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "framework/runtime/os_process.hpp"
#include "framework/uv/block_on.hpp"
#include "framework/uv/stream.hpp"
#include "tests/support/proc_status.hpp"

namespace detail = troupe::detail;
namespace uv = troupe::uv;
using troupe::coro::task;

namespace {

// ---- child roles: this test binary re-runs itself as its own helper ----

int child_main(int argc, char** argv) {
  std::string role = argc > 2 ? argv[2] : "";
  if (role == "exit") return std::atoi(argv[3]);
  if (role == "sigkill") {
    ::raise(SIGKILL);
    return 99;
  }
  if (role == "fds") {
    // Only stdin/out/err and the link may be open.
    if (::fcntl(detail::child_link_fd, F_GETFD) < 0) return 50;
    for (int fd = detail::child_link_fd + 1; fd < 1024; ++fd)
      if (::fcntl(fd, F_GETFD) >= 0) return 60;
    return 0;
  }
  if (role == "echo") {
    char buf[64];
    ssize_t n = ::read(detail::child_link_fd, buf, sizeof buf);
    if (n <= 0) return 70;
    for (ssize_t i = 0; i < n; ++i) buf[i] = static_cast<char>(buf[i] ^ 0x20);
    if (::write(detail::child_link_fd, buf, static_cast<size_t>(n)) != n) return 71;
    return 0;
  }
  return 2;
}

using troupe::testing::open_fd_count;

detail::exit_status run_child(detail::start_method m, std::vector<std::string> args) {
  auto child = detail::start_child(m, args);
  REQUIRE(child.has_value());
  if (child->pid == 0) {
    // fork: we are the child; act out the role and never return.
    std::vector<char*> argv{const_cast<char*>("self"), const_cast<char*>(detail::child_marker)};
    for (auto& a : args) argv.push_back(a.data());
    ::_exit(child_main(static_cast<int>(argv.size()), argv.data()));
  }
  uv::loop loop;
  auto status = uv::block_on(loop, detail::wait_for_exit(loop, *child)).value();
  // Reaped by pid: no zombie remains.
  CHECK(::kill(child->pid, 0) == -1);
  CHECK(errno == ESRCH);
  detail::close_child(*child);
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], detail::child_marker) == 0) return child_main(argc, argv);
  doctest::Context ctx(argc, argv);
  return ctx.run();
}

TEST_SUITE("process") {

TEST_CASE("a spawned child's exit status is its exitcode") {
  CHECK(run_child(detail::start_method::spawn, {"exit", "7"}).exitcode == 7);
  CHECK(run_child(detail::start_method::spawn, {"exit", "0"}).exitcode == 0);
}

TEST_CASE("a child killed by a signal has minus the signal number as exitcode") {
  auto s = run_child(detail::start_method::spawn, {"sigkill"});
  CHECK(s.exitcode == -SIGKILL);
  CHECK(s.killed());
  CHECK(s.signal() == SIGKILL);
}

TEST_CASE("a forked child reports its status the same way") {
  CHECK(run_child(detail::start_method::fork, {"exit", "11"}).exitcode == 11);
}

TEST_CASE("a spawned child inherits only stdio and its link, even fds the parent left inheritable") {
  int leaky[2];
  REQUIRE(::pipe(leaky) == 0);  // deliberately without O_CLOEXEC
  CHECK(run_child(detail::start_method::spawn, {"fds"}).exitcode == 0);
  ::close(leaky[0]);
  ::close(leaky[1]);
}

TEST_CASE("parent and child talk over the link") {
  auto child = detail::start_child(detail::start_method::spawn, {"echo"});
  REQUIRE(child.has_value());
  uv::loop loop;
  auto body = [](uv::loop& l, detail::child_process& c) -> task<std::string> {
    int fd = ::dup(c.link_fd);
    auto s = uv::stream::adopt_fd(l, fd).value();
    std::string msg = "hello";
    (void)co_await s.write(std::as_bytes(std::span(msg.data(), msg.size())));
    std::array<std::byte, 64> buf{};
    auto n = co_await s.read(buf);
    std::string got(reinterpret_cast<const char*>(buf.data()), n.value());
    auto status = co_await detail::wait_for_exit(l, c);
    CHECK(status.value().exitcode == 0);
    co_return got;
  };
  CHECK(uv::block_on(loop, body(loop, *child)) == "HELLO");
  detail::close_child(*child);
}

TEST_CASE("200 spawn and exit cycles leave no zombie and no leaked fd") {
  uv::loop loop;
  std::size_t before = open_fd_count();  // the loop's own fds included
  for (int i = 0; i < 200; ++i) {
    auto child = detail::start_child(detail::start_method::spawn, {"exit", "3"});
    REQUIRE(child.has_value());
    auto status = uv::block_on(loop, detail::wait_for_exit(loop, *child)).value();
    CHECK(status.exitcode == 3);
    detail::close_child(*child);
  }
  CHECK(open_fd_count() == before);
  CHECK(loop.live_handles() == 0);
}

}  // TEST_SUITE
