// The TCP side of joining a cluster, without a launcher: ranks prove the
// session key before anything else is read, strangers are refused, and node
// ids carry their host.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <array>
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "framework/runtime/cluster.hpp"
#include "framework/runtime/cluster_net.hpp"
#include "framework/runtime/runtime.hpp"

using namespace std::chrono_literals;
using troupe::errc;
namespace net = troupe::detail::cluster_net;
namespace transport = troupe::transport;

namespace {

net::clock::time_point soon(std::chrono::milliseconds d = 5s) { return net::clock::now() + d; }

net::listening listen_here() {
  auto l = net::listen_tcp("127.0.0.1", 0);
  REQUIRE(l.has_value());
  CHECK(l->port != 0);
  return std::move(*l);
}

// A raw client that connects and sends `bytes`, then waits for the other
// side to hang up; gives how many bytes it got back before that.
std::size_t stranger(std::uint16_t port, std::string bytes) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return 0;
  }
  (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::size_t got = 0;
  char buf[256];
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return got;
}

}  // namespace

TEST_SUITE("cluster") {

TEST_CASE("a rank that holds the session key is accepted with the rank it claims") {
  auto l = listen_here();
  const auto key = transport::make_auth_key();
  auto connecting = std::async(std::launch::async, [port = l.port, key] {
    return net::connect_rank("127.0.0.1", port, key, 3, soon());
  });
  auto a = net::accept_rank(l.fd.get(), key, soon());
  auto c = connecting.get();
  REQUIRE(a.has_value());
  REQUIRE(c.has_value());
  CHECK(a->rank == 3);
  // The two ends are one connection: a byte written on one arrives on the other.
  const char x = 'x';
  REQUIRE(::send(c->get(), &x, 1, MSG_NOSIGNAL) == 1);
  char y = 0;
  pollfd p{a->fd.get(), POLLIN, 0};
  REQUIRE(::poll(&p, 1, 5000) == 1);
  CHECK(::recv(a->fd.get(), &y, 1, 0) == 1);
  CHECK(y == 'x');
}

TEST_CASE("a peer with another key is refused on both sides") {
  auto l = listen_here();
  auto connecting = std::async(std::launch::async, [port = l.port] {
    return net::connect_rank("127.0.0.1", port, transport::make_auth_key(), 1, soon());
  });
  auto a = net::accept_rank(l.fd.get(), transport::make_auth_key(), soon());
  auto c = connecting.get();
  REQUIRE(!a);
  CHECK(a.code() == errc::protocol_error);
  CHECK(!c);
}

TEST_CASE("garbage is refused after the hello's fixed size, and nothing is answered but our hello") {
  auto l = listen_here();
  const auto key = transport::make_auth_key();
  // An HTTP request, then a megabyte: the acceptor reads the hello's 40
  // bytes, finds no troupe magic and hangs up.
  auto junk = std::async(std::launch::async, [port = l.port] {
    return stranger(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + std::string(1 << 20, 'A'));
  });
  auto a = net::accept_rank(l.fd.get(), key, soon());
  REQUIRE(!a);
  CHECK(a.code() == errc::protocol_error);
  CHECK(junk.get() == transport::auth_hello_size);  // our hello, nothing more
}

TEST_CASE("a silent peer times out and the next rank is still accepted") {
  auto l = listen_here();
  const auto key = transport::make_auth_key();
  // Connects and says nothing until the acceptor hangs up.
  auto silent = std::async(std::launch::async, [port = l.port] { return stranger(port, ""); });
  const auto t0 = net::clock::now();
  auto first = net::accept_rank(l.fd.get(), key, soon(10s));
  CHECK(!first);
  CHECK(first.code() == errc::timeout);
  CHECK(net::clock::now() - t0 < 9s);  // the handshake's own limit, not the overall deadline
  (void)silent.get();
  auto connecting = std::async(std::launch::async, [port = l.port, key] {
    return net::connect_rank("127.0.0.1", port, key, 2, soon());
  });
  auto second = net::accept_rank(l.fd.get(), key, soon());
  REQUIRE(second.has_value());
  CHECK(second->rank == 2);
  CHECK(connecting.get().has_value());
}

TEST_CASE("accepting with nobody connecting ends at the deadline") {
  auto l = listen_here();
  auto a = net::accept_rank(l.fd.get(), transport::make_auth_key(), soon(100ms));
  CHECK(a.code() == errc::timeout);
}

TEST_CASE("connecting where nobody listens fails at the deadline") {
  std::uint16_t port = 0;
  {
    auto l = listen_here();
    port = l.port;
  }
  const auto t0 = net::clock::now();
  auto c = net::connect_rank("127.0.0.1", port, transport::make_auth_key(), 1, soon(300ms));
  CHECK(!c);
  CHECK(net::clock::now() - t0 < 5s);
}

TEST_CASE("the local address comes from the environment when set") {
  ::setenv("TROUPE_CLUSTER_ADDRESS", "10.1.2.3", 1);
  auto a = net::local_address();
  ::unsetenv("TROUPE_CLUSTER_ADDRESS");
  REQUIRE(a.has_value());
  CHECK(*a == "10.1.2.3");
  ::setenv("TROUPE_CLUSTER_INTERFACE", "no-such-interface0", 1);
  auto b = net::local_address();
  ::unsetenv("TROUPE_CLUSTER_INTERFACE");
  CHECK(!b);
  auto c = net::local_address();
  CHECK(c.has_value());
  CHECK(!net::listen_tcp("not an address", 0));
}

TEST_CASE("node ids carry their host; a whole host covers every node of it") {
  using namespace troupe::detail;
  const troupe::node_id rank1 = host_of_rank(1);
  const troupe::node_id a = rank1 | (troupe::node_id{1234} << 20) | 1;
  const troupe::node_id b = rank1 | (troupe::node_id{99} << 20) | 0x80001;
  const troupe::node_id other = host_of_rank(2) | (troupe::node_id{1234} << 20) | 1;
  const troupe::node_id alone = (troupe::node_id{1234} << 20) | 1;
  CHECK(host_of(a) == rank1);
  CHECK(host_of(alone) == 0);
  CHECK(is_whole_host(rank1));
  CHECK(!is_whole_host(a));
  CHECK(!is_whole_host(0));
  CHECK(covers(rank1, a));
  CHECK(covers(rank1, b));
  CHECK(!covers(rank1, other));
  CHECK(!covers(rank1, alone));
  CHECK(covers(a, a));
  CHECK(!covers(a, b));
  // Alone, every node is rank 0's.
  CHECK(troupe::cluster::rank_of(alone) == 0);
  CHECK(troupe::cluster::size() == 1);
  CHECK(!troupe::cluster::active());
}

}  // TEST_SUITE
