#include "framework/runtime/cluster_net.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <span>

namespace troupe::detail::cluster_net {

namespace {

constexpr auto handshake_limit = std::chrono::seconds(5);

int ms_until(clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

// Waits for `events` on fd until `deadline`.
result<void> wait_for(int fd, short events, clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, ms_until(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return system_error("poll", errno);
    if (n == 0) return error{errc::timeout, "the peer took too long"};
    return {};
  }
}

result<void> send_all(int fd, std::span<const std::byte> bytes, clock::time_point deadline) {
  while (!bytes.empty()) {
    const ssize_t w = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (auto r = wait_for(fd, POLLOUT, deadline); !r) return r;
      continue;
    }
    if (w < 0) return errno == EPIPE || errno == ECONNRESET ? error{errc::closed, "the peer hung up"}
                                                            : system_error("send", errno);
    bytes = bytes.subspan(static_cast<std::size_t>(w));
  }
  return {};
}

// Reads exactly bytes.size(): never a byte more.
result<void> recv_exactly(int fd, std::span<std::byte> bytes, clock::time_point deadline) {
  while (!bytes.empty()) {
    const ssize_t r = ::recv(fd, bytes.data(), bytes.size(), MSG_DONTWAIT);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (auto w = wait_for(fd, POLLIN, deadline); !w) return w;
      continue;
    }
    if (r == 0 || (r < 0 && errno == ECONNRESET)) return error{errc::closed, "the peer hung up"};
    if (r < 0) return system_error("recv", errno);
    bytes = bytes.subspan(static_cast<std::size_t>(r));
  }
  return {};
}

result<void> handshake(int fd, const transport::auth_key& key, transport::auth_role role,
                       clock::time_point deadline) {
  transport::auth_exchange me(key, role);
  const auto hello = me.hello();
  if (auto r = send_all(fd, hello, deadline); !r) return r;
  std::array<std::byte, transport::auth_hello_size> peer_hello{};
  if (auto r = recv_exactly(fd, peer_hello, deadline); !r) return r;
  if (auto r = me.accept_hello(peer_hello); !r) return r;
  const auto proof = me.proof();
  if (auto r = send_all(fd, proof, deadline); !r) return r;
  std::array<std::byte, transport::auth_proof_size> peer_proof{};
  if (auto r = recv_exactly(fd, peer_proof, deadline); !r) return r;
  return me.check_proof(peer_proof);
}

result<sockaddr_in> parse_ipv4(const std::string& address, std::uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1)
    return error{errc::invalid_argument, "not an IPv4 address: '" + address + "'"};
  return sa;
}

}  // namespace

std::chrono::milliseconds default_silence() noexcept {
  if (const char* v = std::getenv("TROUPE_CLUSTER_SILENCE_MS")) {
    const long ms = std::atol(v);
    if (ms >= 1000) return std::chrono::milliseconds(ms);
  }
  return std::chrono::seconds(6);
}

result<std::string> local_address() {
  if (const char* a = std::getenv("TROUPE_CLUSTER_ADDRESS"); a != nullptr && *a != '\0') return std::string(a);
  const char* wanted = std::getenv("TROUPE_CLUSTER_INTERFACE");
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return system_error("getifaddrs", errno);
  std::string found;
  for (ifaddrs* i = list; i != nullptr && found.empty(); i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    if (wanted != nullptr && *wanted != '\0') {
      if (std::strcmp(i->ifa_name, wanted) != 0) continue;
    } else if ((i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & IFF_LOOPBACK) != 0) {
      continue;
    }
    char text[INET_ADDRSTRLEN] = {};
    const auto* sa = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
    if (::inet_ntop(AF_INET, &sa->sin_addr, text, sizeof text) != nullptr) found = text;
  }
  ::freeifaddrs(list);
  if (!found.empty()) return found;
  if (wanted != nullptr && *wanted != '\0')
    return error{errc::invalid_argument, std::string("no IPv4 address on interface ") + wanted};
  return std::string("127.0.0.1");
}

std::uint16_t port_from_env() noexcept {
  if (const char* p = std::getenv("TROUPE_CLUSTER_PORT")) {
    const long v = std::atol(p);
    if (v > 0 && v < 65536) return static_cast<std::uint16_t>(v);
  }
  return 0;
}

result<listening> listen_tcp(const std::string& address, std::uint16_t port) {
  auto sa = parse_ipv4(address, port);
  if (!sa) return sa.error();
  base::unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return system_error("socket", errno);
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa) != 0)
    return system_error("bind " + address + ":" + std::to_string(port), errno);
  if (::listen(fd.get(), 128) != 0) return system_error("listen", errno);
  sockaddr_in bound{};
  socklen_t len = sizeof bound;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &len) != 0)
    return system_error("getsockname", errno);
  listening l;
  l.fd = std::move(fd);
  l.address = address;
  l.port = ntohs(bound.sin_port);
  return l;
}

result<void> tune_link_socket(int fd, std::chrono::milliseconds silence) {
  const int one = 1;
  // Probes start after a third of the silence, then every sixth of it,
  // three unanswered ones end the link; the user timeout bounds unsent
  // data the same way.
  const int idle = std::max(1, static_cast<int>(silence.count() / 3000));
  const int interval = std::max(1, static_cast<int>(silence.count() / 6000));
  const int count = 3;
  const unsigned user_timeout = static_cast<unsigned>(silence.count());
  if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) != 0 ||
      ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) != 0 ||
      ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval) != 0 ||
      ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count) != 0 ||
      ::setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout) != 0)
    return system_error("setsockopt", errno);
  return {};
}

result<base::unique_fd> connect_rank(const std::string& address, std::uint16_t port, const transport::auth_key& key,
                                     int my_rank, clock::time_point deadline) {
  auto sa = parse_ipv4(address, port);
  if (!sa) return sa.error();
  for (;;) {
    base::unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return system_error("socket", errno);
    int rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&*sa), sizeof *sa);
    if (rc != 0 && errno == EINPROGRESS) {
      if (auto w = wait_for(fd.get(), POLLOUT, deadline); !w) return w.error();
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc != 0) {
      if ((errno == ECONNREFUSED || errno == ENETUNREACH || errno == EHOSTUNREACH) && clock::now() < deadline) {
        ::usleep(50'000);  // the peer is not listening yet: retry until the deadline
        continue;
      }
      return system_error("connect " + address + ":" + std::to_string(port), errno);
    }
    if (auto t = tune_link_socket(fd.get()); !t) return t.error();
    const auto limit = std::min(deadline, clock::now() + handshake_limit);
    if (auto h = handshake(fd.get(), key, transport::auth_role::connecting, limit); !h) return h.error();
    std::array<std::byte, 4> who{};
    const auto r = static_cast<std::uint32_t>(my_rank);
    for (std::size_t i = 0; i < 4; ++i) who[i] = static_cast<std::byte>(r >> (8 * i));
    if (auto s = send_all(fd.get(), who, limit); !s) return s.error();
    return fd;
  }
}

result<accepted_rank> accept_rank(int listen_fd, const transport::auth_key& key, clock::time_point deadline) {
  for (;;) {
    base::unique_fd fd(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return system_error("accept", errno);
      if (auto w = wait_for(listen_fd, POLLIN, deadline); !w) return error{errc::timeout, "no rank connected in time"};
      continue;
    }
    if (auto t = tune_link_socket(fd.get()); !t) return t.error();
    const auto limit = std::min(deadline, clock::now() + handshake_limit);
    if (auto h = handshake(fd.get(), key, transport::auth_role::accepting, limit); !h) return h.error();
    std::array<std::byte, 4> who{};
    if (auto r = recv_exactly(fd.get(), who, limit); !r) return r.error();
    std::uint32_t r = 0;
    for (std::size_t i = 0; i < 4; ++i) r |= static_cast<std::uint32_t>(who[i]) << (8 * i);
    accepted_rank a;
    a.fd = std::move(fd);
    a.rank = static_cast<int>(r);
    return a;
  }
}

}  // namespace troupe::detail::cluster_net
