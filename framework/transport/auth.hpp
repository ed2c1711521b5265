#pragma once

// Mutual authentication of a freshly connected stream, before any frame of
// it is decoded: each side proves it holds the shared key without sending
// it, by an HMAC-SHA256 over both sides' fresh nonces.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stop_token>
#include <string_view>
#include <vector>

#include "framework/base/result.hpp"
#include "framework/coro/task.hpp"
#include "framework/uv/stream.hpp"

namespace troupe::transport {

/// A shared secret, as Python's authkey: any bytes (at least 16), or 32
/// random ones from make_auth_key(). Copyable; never sent over the wire.
struct auth_key {
  std::vector<std::byte> bytes;
};

/// 32 bytes from the kernel's random source. Throws error_exception if it
/// cannot be read.
auth_key make_auth_key();

/// An auth_key from text (Python's authkey=b"secret"); errc::invalid_argument
/// if it is shorter than 16 bytes.
result<auth_key> auth_key_from(std::string_view secret);

/// Which end a side is. The two ends sign different labels, so a proof one
/// side sends can never be replayed as the other side's.
enum class auth_role : std::uint8_t { connecting = 0, accepting = 1 };

/// The handshake's wire sizes: everything a peer may send before it has
/// proven itself. Nothing beyond these bytes is read until it has.
inline constexpr std::size_t auth_hello_size = 8 + 32;  ///< magic and version, then a nonce
inline constexpr std::size_t auth_proof_size = 32;      ///< HMAC-SHA256

/// One side's half of the handshake as pure computation (what the stream
/// version below sends and checks; also what the tests and fuzzer drive).
class auth_exchange {
 public:
  /// Draws a fresh nonce. Throws error_exception if the random source fails.
  auth_exchange(auth_key key, auth_role role);

  /// The hello to send: magic "TROUPEA1" and this side's nonce.
  [[nodiscard]] std::array<std::byte, auth_hello_size> hello() const noexcept;
  /// Takes the peer's hello; errc::protocol_error if it is not one (wrong
  /// magic or version: not a troupe peer, or another version).
  result<void> accept_hello(std::span<const std::byte> peer_hello);
  /// This side's proof: HMAC(key, own label, own nonce, peer nonce). Only
  /// after accept_hello.
  [[nodiscard]] std::array<std::byte, auth_proof_size> proof() const;
  /// Checks the peer's proof in constant time; errc::protocol_error
  /// ("authentication failed") if it does not hold the key.
  result<void> check_proof(std::span<const std::byte> peer_proof) const;

 private:
  std::array<std::byte, auth_proof_size> sign(auth_role role, std::span<const std::byte> first,
                                              std::span<const std::byte> second) const;
  auth_key key_;
  auth_role role_;
  std::array<std::byte, 32> nonce_{};
  std::array<std::byte, 32> peer_nonce_{};
  bool have_peer_ = false;
};

/// Runs the handshake on `s` as `role`: sends the hello, reads exactly the
/// peer's hello, sends the proof, reads exactly the peer's proof and checks
/// it. Reads no byte past the handshake, so frames that follow are left for
/// the link. Resumes with success, errc::protocol_error (not a troupe peer,
/// or a wrong key: the caller closes the stream), errc::timeout when the
/// whole exchange takes longer than `timeout`, errc::closed when the peer
/// hangs up, errc::cancelled on stop, or a system error.
/// Thread: the stream's loop.
[[nodiscard]] coro::task<result<void>> authenticate(uv::stream& s, const auth_key& key, auth_role role,
                                                    std::chrono::nanoseconds timeout, std::stop_token stop = {});

}  // namespace troupe::transport
