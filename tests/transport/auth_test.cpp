#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <string>
#include <utility>

#include "framework/coro/when_all.hpp"
#include "framework/transport/auth.hpp"
#include "framework/uv/block_on.hpp"

namespace transport = troupe::transport;
namespace uv = troupe::uv;
using troupe::errc;
using troupe::result;
using troupe::coro::task;
using namespace std::chrono_literals;

namespace {

std::pair<int, int> make_socketpair() {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  return {fds[0], fds[1]};
}

transport::auth_key key_of(std::string_view text) { return transport::auth_key_from(text).value(); }

task<result<void>> side(uv::stream& s, transport::auth_key key, transport::auth_role role) {
  co_return co_await transport::authenticate(s, key, role, 2s);
}

struct outcome {
  result<void> connecting;
  result<void> accepting;
};

// Both ends of a socketpair authenticate at once, with the keys given.
outcome handshake(const transport::auth_key& connecting_key, const transport::auth_key& accepting_key) {
  uv::loop loop;
  auto [a, b] = make_socketpair();
  auto sa = uv::stream::adopt_fd(loop, a).value();
  auto sb = uv::stream::adopt_fd(loop, b).value();
  auto body = [](uv::stream& x, uv::stream& y, transport::auth_key kx, transport::auth_key ky) -> task<outcome> {
    auto tx = side(x, std::move(kx), transport::auth_role::connecting);
    auto ty = side(y, std::move(ky), transport::auth_role::accepting);
    auto both = troupe::coro::when_all(std::move(tx), std::move(ty));
    auto [rx, ry] = co_await std::move(both);
    x.close();
    y.close();
    co_return outcome{std::move(rx), std::move(ry)};
  };
  return uv::block_on(loop, body(sa, sb, connecting_key, accepting_key));
}

// What one end sees when the other end is driven by hand (raw bytes).
template <class Peer>
result<void> against(Peer peer, std::chrono::nanoseconds timeout = 2s) {
  uv::loop loop;
  auto [a, b] = make_socketpair();
  auto s = uv::stream::adopt_fd(loop, a).value();
  peer(b);
  auto body = [](uv::stream& x, std::chrono::nanoseconds t) -> task<result<void>> {
    auto r = co_await transport::authenticate(x, key_of("the right key, 32 bytes long...."), transport::auth_role::accepting, t);
    x.close();
    co_return r;
  };
  auto r = uv::block_on(loop, body(s, timeout));
  ::close(b);
  return r;
}

}  // namespace

TEST_SUITE("transport") {

TEST_CASE("two ends holding the same key authenticate each other") {
  auto k = transport::make_auth_key();
  auto o = handshake(k, k);
  CHECK(o.connecting.has_value());
  CHECK(o.accepting.has_value());
}

TEST_CASE("a peer with a different key is refused by both ends") {
  auto o = handshake(key_of("one key of sixteen+ bytes"), key_of("another key, sixteen+ bytes"));
  REQUIRE_FALSE(o.connecting.has_value());
  REQUIRE_FALSE(o.accepting.has_value());
  CHECK(o.accepting.code() == errc::protocol_error);
  CHECK(o.accepting.error().message.find("authentication failed") != std::string::npos);
}

TEST_CASE("a key shorter than 16 bytes is rejected") {
  CHECK(transport::auth_key_from("short").code() == errc::invalid_argument);
  CHECK(transport::make_auth_key().bytes.size() == 32);
}

TEST_CASE("garbage instead of a hello is refused after reading just the hello's bytes") {
  auto r = against([](int fd) {
    std::string junk(4096, 'x');
    REQUIRE(::write(fd, junk.data(), junk.size()) == static_cast<ssize_t>(junk.size()));
  });
  CHECK(r.code() == errc::protocol_error);
}

TEST_CASE("a peer that sends our own hello back is refused") {
  transport::auth_exchange me(key_of("the right key, 32 bytes long...."), transport::auth_role::accepting);
  CHECK(me.accept_hello(me.hello()).code() == errc::protocol_error);
}

TEST_CASE("a proof made for the other role does not pass: proofs cannot be reflected") {
  auto key = transport::make_auth_key();
  transport::auth_exchange server(key, transport::auth_role::accepting);
  transport::auth_exchange client(key, transport::auth_role::connecting);
  REQUIRE(server.accept_hello(client.hello()).has_value());
  REQUIRE(client.accept_hello(server.hello()).has_value());
  CHECK(server.check_proof(client.proof()).has_value());
  CHECK(client.check_proof(server.proof()).has_value());
  // The server's own proof, sent back to it, is not a client's proof.
  CHECK(server.check_proof(server.proof()).code() == errc::protocol_error);
  auto tampered = client.proof();
  tampered[5] ^= std::byte{1};
  CHECK(server.check_proof(tampered).code() == errc::protocol_error);
}

TEST_CASE("a peer that connects and says nothing times out") {
  auto r = against([](int) {}, 50ms);
  CHECK(r.code() == errc::timeout);
}

TEST_CASE("a peer that hangs up mid-handshake ends it with closed") {
  auto r = against([](int fd) {
    const char part[10] = {'T', 'R', 'O', 'U', 'P', 'E', 'A', '1', 0, 0};
    REQUIRE(::write(fd, part, sizeof part) == static_cast<ssize_t>(sizeof part));
    ::shutdown(fd, SHUT_WR);
  });
  CHECK(r.code() == errc::closed);
}

TEST_CASE("bytes after the handshake are left unread for the link") {
  uv::loop loop;
  auto [a, b] = make_socketpair();
  auto sa = uv::stream::adopt_fd(loop, a).value();
  auto sb = uv::stream::adopt_fd(loop, b).value();
  auto key = transport::make_auth_key();
  auto body = [](uv::stream& x, uv::stream& y, transport::auth_key k) -> task<std::string> {
    // The connecting side authenticates, then at once writes a "frame";
    // the accepting side must find it intact after its own handshake.
    auto connect_then_send = [](uv::stream& s, transport::auth_key kk) -> task<result<void>> {
      auto r = co_await transport::authenticate(s, kk, transport::auth_role::connecting, 2s);
      if (!r) co_return r;
      static constexpr char frame[] = "FRAME-AFTER-AUTH";
      co_return co_await s.write(std::as_bytes(std::span(frame, sizeof frame - 1)));
    };
    auto tx = connect_then_send(x, k);
    auto ty = transport::authenticate(y, k, transport::auth_role::accepting, 2s);
    auto both = troupe::coro::when_all(std::move(tx), std::move(ty));
    auto [rx, ry] = co_await std::move(both);
    REQUIRE(rx.has_value());
    REQUIRE(ry.has_value());
    std::array<std::byte, 16> buf{};
    std::size_t got = 0;
    while (got < buf.size()) {
      auto n = co_await y.read(std::span(buf).subspan(got));
      REQUIRE(n.has_value());
      got += *n;
    }
    x.close();
    y.close();
    co_return std::string(reinterpret_cast<const char*>(buf.data()), buf.size());
  };
  CHECK(uv::block_on(loop, body(sa, sb, key)) == "FRAME-AFTER-AUTH");
}

}  // TEST_SUITE
