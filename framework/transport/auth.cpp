#include "framework/transport/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "framework/uv/timeout.hpp"

namespace troupe::transport {

namespace {

constexpr std::array<char, 8> magic = {'T', 'R', 'O', 'U', 'P', 'E', 'A', '1'};
constexpr std::string_view label_connecting = "troupe-auth connecting";
constexpr std::string_view label_accepting = "troupe-auth accepting";

void fill_random(std::span<std::byte> out) {
  std::size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::getrandom(out.data() + got, out.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw error_exception(system_error("getrandom", errno));
    }
    got += static_cast<std::size_t>(n);
  }
}

// Reads exactly buf.size() bytes: never more, so what follows the handshake
// stays in the socket for the link.
coro::task<result<void>> read_exactly(uv::stream& s, std::span<std::byte> buf, std::stop_token stop) {
  std::size_t got = 0;
  while (got < buf.size()) {
    auto n = co_await s.read(buf.subspan(got), stop);
    if (!n) co_return n.error();
    got += *n;
  }
  co_return result<void>{};
}

coro::task<result<void>> exchange(uv::stream& s, auth_exchange& me, std::stop_token stop) {
  const auto hello = me.hello();
  if (auto w = co_await s.write(hello); !w) co_return w.error();
  std::array<std::byte, auth_hello_size> peer_hello{};
  if (auto r = co_await read_exactly(s, peer_hello, stop); !r) co_return r.error();
  if (auto ok = me.accept_hello(peer_hello); !ok) co_return ok.error();
  const auto proof = me.proof();
  if (auto w = co_await s.write(proof); !w) co_return w.error();
  std::array<std::byte, auth_proof_size> peer_proof{};
  if (auto r = co_await read_exactly(s, peer_proof, stop); !r) co_return r.error();
  co_return me.check_proof(peer_proof);
}

}  // namespace

auth_key make_auth_key() {
  auth_key k;
  k.bytes.resize(32);
  fill_random(k.bytes);
  return k;
}

result<auth_key> auth_key_from(std::string_view secret) {
  if (secret.size() < 16) return error{errc::invalid_argument, "an authentication key has at least 16 bytes"};
  auth_key k;
  k.bytes.resize(secret.size());
  std::memcpy(k.bytes.data(), secret.data(), secret.size());
  return k;
}

auth_exchange::auth_exchange(auth_key key, auth_role role) : key_(std::move(key)), role_(role) {
  TROUPE_ASSERT(!key_.bytes.empty(), "an empty authentication key");
  fill_random(nonce_);
}

std::array<std::byte, auth_hello_size> auth_exchange::hello() const noexcept {
  std::array<std::byte, auth_hello_size> h{};
  std::memcpy(h.data(), magic.data(), magic.size());
  std::memcpy(h.data() + magic.size(), nonce_.data(), nonce_.size());
  return h;
}

result<void> auth_exchange::accept_hello(std::span<const std::byte> peer_hello) {
  if (peer_hello.size() != auth_hello_size || std::memcmp(peer_hello.data(), magic.data(), magic.size()) != 0)
    return error{errc::protocol_error, "the peer is not a troupe peer (or speaks another handshake version)"};
  std::memcpy(peer_nonce_.data(), peer_hello.data() + magic.size(), peer_nonce_.size());
  // A peer echoing our own nonce is replaying our hello at us.
  if (CRYPTO_memcmp(peer_nonce_.data(), nonce_.data(), nonce_.size()) == 0)
    return error{errc::protocol_error, "the peer sent back our own challenge"};
  have_peer_ = true;
  return {};
}

std::array<std::byte, auth_proof_size> auth_exchange::sign(auth_role role, std::span<const std::byte> first,
                                                           std::span<const std::byte> second) const {
  const std::string_view label = role == auth_role::connecting ? label_connecting : label_accepting;
  std::array<std::byte, auth_proof_size> mac{};
  unsigned int len = 0;
  // label || first nonce || second nonce, as one message.
  std::vector<unsigned char> message(label.size() + first.size() + second.size());
  std::memcpy(message.data(), label.data(), label.size());
  std::memcpy(message.data() + label.size(), first.data(), first.size());
  std::memcpy(message.data() + label.size() + first.size(), second.data(), second.size());
  unsigned char* out = HMAC(EVP_sha256(), key_.bytes.data(), static_cast<int>(key_.bytes.size()), message.data(),
                            message.size(), reinterpret_cast<unsigned char*>(mac.data()), &len);
  TROUPE_ASSERT(out != nullptr && len == auth_proof_size, "HMAC-SHA256 failed");
  return mac;
}

std::array<std::byte, auth_proof_size> auth_exchange::proof() const {
  TROUPE_ASSERT(have_peer_, "auth_exchange::proof before the peer's hello");
  return sign(role_, nonce_, peer_nonce_);
}

result<void> auth_exchange::check_proof(std::span<const std::byte> peer_proof) const {
  TROUPE_ASSERT(have_peer_, "auth_exchange::check_proof before the peer's hello");
  const auth_role peer_role = role_ == auth_role::connecting ? auth_role::accepting : auth_role::connecting;
  const auto expected = sign(peer_role, peer_nonce_, nonce_);
  if (peer_proof.size() != expected.size() || CRYPTO_memcmp(peer_proof.data(), expected.data(), expected.size()) != 0)
    return error{errc::protocol_error, "authentication failed: the peer does not hold the key"};
  return {};
}

coro::task<result<void>> authenticate(uv::stream& s, const auth_key& key, auth_role role,
                                      std::chrono::nanoseconds timeout, std::stop_token stop) {
  auth_exchange me(key, role);
  std::stop_source race;
  auto handshake = exchange(s, me, race.get_token());
  auto raced = uv::with_timeout(s.owning_loop(), race, std::move(handshake), timeout,
                                "the peer did not authenticate in time", stop);
  auto done = co_await std::move(raced);
  if (!done && done.code() == errc::cancelled && stop.stop_requested())
    co_return error{errc::cancelled, "authentication cancelled"};
  co_return done;
}

}  // namespace troupe::transport
