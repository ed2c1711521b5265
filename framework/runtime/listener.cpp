#include "framework/runtime/listener.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "framework/runtime/runtime.hpp"
#include "framework/uv/fd_watch.hpp"
#include "framework/uv/poll.hpp"
#include "framework/uv/timeout.hpp"
#include "framework/uv/timer.hpp"

namespace troupe::detail {

class listener_core {
 public:
  listener_core(uv::loop& l, int fd, std::string path, auth_key key, listener_options options)
      : loop_(&l), fd_(fd), path_(std::move(path)), key_(std::move(key)), options_(std::move(options)) {}
  ~listener_core() { close(); }

  void close() noexcept {
    if (fd_ < 0) return;
    poller_.close();
    ::close(fd_);
    fd_ = -1;
    ::unlink(path_.c_str());
  }

  uv::loop* loop_;
  int fd_;
  std::string path_;
  auth_key key_;
  listener_options options_;
  uv::poller poller_;
  listener_stats stats_;
};

namespace {

coro::task<result<int>> wait_readable(uv::poller& p, std::stop_token stop) {
  auto r = co_await p.wait(uv::fd_watch::readable, std::move(stop));
  co_return r;
}

coro::task<result<std::size_t>> read_some(uv::stream& s, std::span<std::byte> into, std::stop_token stop) {
  auto r = co_await s.read(into, std::move(stop));
  co_return r;
}

struct peer_credentials {
  pid_t pid = -1;
  uid_t uid = static_cast<uid_t>(-1);
};

result<peer_credentials> credentials_of(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return system_error("getsockopt(SO_PEERCRED)", errno);
  return peer_credentials{cred.pid, cred.uid};
}

// A peer reachable by name may hang up at any moment; writing to it then
// must be an error value, not SIGPIPE ending the program. Programs started
// by troupe::run ignore SIGPIPE already; this covers the others, unless
// they chose a handler of their own.
void ignore_sigpipe() noexcept {
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) ::signal(SIGPIPE, SIG_IGN);
}

result<sockaddr_un> address_of(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path)
    return error{errc::invalid_argument, "a Unix socket path has 1 to " + std::to_string(sizeof addr.sun_path - 1) +
                                             " bytes: " + path};
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

}  // namespace

framed_stream::framed_stream(uv::stream s, std::uint32_t max_message, pid_t peer_pid, uid_t peer_uid)
    : stream_(std::move(s)), reader_(max_message), peer_pid_(peer_pid), peer_uid_(peer_uid) {}

coro::task<result<void>> framed_stream::send(wire::type_id_t type, std::vector<std::byte> payload) {
  wire::frame_header header;
  header.kind = wire::frame_kind::message;
  header.type = type;
  std::vector<std::byte> out;
  out.reserve(wire::frame_header::wire_size + payload.size());
  transport::append_frame(out, header, payload);
  auto w = co_await stream_.write(out);
  co_return w;
}

coro::task<result<std::pair<wire::type_id_t, std::vector<std::byte>>>> framed_stream::recv(
    std::optional<std::chrono::nanoseconds> timeout, std::stop_token stop) {
  for (;;) {
    transport::frame_view f;
    const auto status = reader_.next(f);
    if (status == transport::frame_reader::status::frame) {
      if (f.header.fds != 0) {
        stream_.close();
        co_return error{errc::protocol_error, "the peer claims to send descriptors over a connection that carries none"};
      }
      co_return std::pair{f.header.type, std::vector<std::byte>(f.payload.begin(), f.payload.end())};
    }
    if (status == transport::frame_reader::status::error) {
      stream_.close();
      co_return reader_.failure();
    }
    std::span<std::byte> space = reader_.prepare();
    result<std::size_t> n{std::size_t{0}};
    if (timeout) {
      std::stop_source race;
      auto reading = read_some(stream_, space, race.get_token());
      auto raced = uv::with_timeout(stream_.owning_loop(), race, std::move(reading), *timeout,
                                    "nothing arrived within the timeout", stop);
      n = co_await std::move(raced);
    } else {
      n = co_await read_some(stream_, space, stop);
    }
    if (!n) {
      if (n.code() == errc::cancelled && stop.stop_requested()) co_return error{errc::cancelled, "recv cancelled"};
      co_return n.error();
    }
    reader_.commit(*n);
  }
}

result<std::shared_ptr<listener_core>> open_listener(std::string path, auth_key key, listener_options options) {
  auto addr = address_of(path);
  if (!addr) return addr.error();
  ignore_sigpipe();
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return error{errc::invalid_argument, "not a socket, refusing to replace it: " + path};
    ::unlink(path.c_str());  // a stale socket of an earlier run
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return system_error("socket", errno);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) {
    const int e = errno;
    ::close(fd);
    return system_error("bind " + path, e);
  }
  // Only the owner may connect (a peer that slips in before the chmod is
  // still checked by SO_PEERCRED and must hold the key).
  if (::chmod(path.c_str(), 0600) != 0) {
    const int e = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return system_error("chmod " + path, e);
  }
  if (::listen(fd, options.backlog) != 0) {
    const int e = errno;
    ::close(fd);
    ::unlink(path.c_str());
    return system_error("listen", e);
  }
  if (options.allowed_uids.empty()) options.allowed_uids.push_back(::geteuid());
  uv::loop& l = runtime::current().loop();
  auto core = std::make_shared<listener_core>(l, fd, std::move(path), std::move(key), std::move(options));
  auto p = uv::poller::open(l, fd);
  if (!p) return p.error();  // the core's destructor closes and unlinks
  core->poller_ = std::move(*p);
  return core;
}

const listener_stats& stats_of(const listener_core& core) noexcept { return core.stats_; }

void close_listener(listener_core& core) noexcept { core.close(); }

coro::task<result<std::unique_ptr<framed_stream>>> accept_stream(listener_core& core,
                                                                 std::optional<std::chrono::nanoseconds> timeout,
                                                                 std::stop_token stop) {
  const auto deadline = timeout ? std::optional(uv::deadline::after(*timeout)) : std::nullopt;
  for (;;) {
    if (core.fd_ < 0) co_return error{errc::closed, "the listener is closed"};
    int cfd = ::accept4(core.fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (cfd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) co_return system_error("accept4", errno);
      // Nothing pending: wait for the next connection (or the deadline).
      result<int> ready{0};
      if (deadline) {
        const std::uint64_t now = uv::loop::now_ns();
        if (now >= deadline->ns) co_return error{errc::timeout, "no peer connected within the timeout"};
        std::stop_source race;
        auto waiting = wait_readable(core.poller_, race.get_token());
        auto raced = uv::with_timeout(*core.loop_, race, std::move(waiting),
                                      std::chrono::nanoseconds(deadline->ns - now),
                                      "no peer connected within the timeout", stop);
        ready = co_await std::move(raced);
      } else {
        ready = co_await wait_readable(core.poller_, stop);
      }
      if (!ready) {
        if (stop.stop_requested()) co_return error{errc::cancelled, "accept cancelled"};
        if (core.fd_ < 0) co_return error{errc::closed, "the listener is closed"};
        co_return ready.error();
      }
      continue;
    }
    // Who it is, before reading a single byte from it.
    auto cred = credentials_of(cfd);
    const auto& allowed = core.options_.allowed_uids;
    if (!cred || std::find(allowed.begin(), allowed.end(), cred->uid) == allowed.end()) {
      ::close(cfd);
      ++core.stats_.refused_uid;
      continue;
    }
    auto s = uv::stream::adopt_fd(*core.loop_, cfd);
    if (!s) continue;  // adopt_fd closed it
    auto authed = co_await transport::authenticate(*s, core.key_, transport::auth_role::accepting,
                                                   core.options_.handshake_timeout, stop);
    if (!authed) {
      s->close();
      switch (authed.code()) {
        case errc::timeout: ++core.stats_.timed_out; break;
        case errc::closed: ++core.stats_.hung_up; break;
        case errc::cancelled: co_return authed.error();
        default: ++core.stats_.refused_auth; break;
      }
      continue;
    }
    ++core.stats_.accepted;
    co_return std::make_unique<framed_stream>(std::move(*s), core.options_.max_message, cred->pid, cred->uid);
  }
}

coro::task<result<std::unique_ptr<framed_stream>>> connect_stream(std::string path, auth_key key,
                                                                  std::chrono::nanoseconds timeout,
                                                                  std::uint32_t max_message) {
  auto addr = address_of(path);
  if (!addr) co_return addr.error();
  ignore_sigpipe();
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) co_return system_error("socket", errno);
  // A Unix socket connects at once or fails (EAGAIN: the backlog is full).
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) {
    const int e = errno;
    ::close(fd);
    co_return system_error("connect " + path, e);
  }
  auto cred = credentials_of(fd);
  if (!cred) {
    ::close(fd);
    co_return cred.error();
  }
  auto s = uv::stream::adopt_fd(runtime::current().loop(), fd);
  if (!s) co_return s.error();
  auto authed = co_await transport::authenticate(*s, key, transport::auth_role::connecting, timeout);
  if (!authed) {
    s->close();
    co_return authed.error();
  }
  co_return std::make_unique<framed_stream>(std::move(*s), max_message, cred->pid, cred->uid);
}

}  // namespace troupe::detail
