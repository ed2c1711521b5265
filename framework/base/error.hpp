#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace troupe {

/// Where an error was raised. Travels between processes, so values are
/// append-only.
enum class error_domain : std::uint16_t {
  troupe = 0,  ///< the framework's own outcomes (errc)
  system = 1,  ///< an operating-system call failed; the message names it
  user = 2,    ///< raised by user code (remote exceptions)
};

/// The framework's outcome codes. Append-only: they cross process boundaries
/// as numbers, so a value never changes meaning.
enum class errc : std::uint16_t {
  ok = 0,
  cancelled = 1,          ///< a stop token was triggered
  timeout = 2,            ///< a deadline passed
  closed = 3,             ///< the channel, mailbox or stream is closed (EOF)
  full = 4,               ///< a non-suspending put found no room
  empty = 5,              ///< a non-suspending get found nothing
  peer_down = 6,          ///< the actor or process on the other side is gone
  protocol_error = 7,     ///< a peer sent something malformed
  decode_error = 8,       ///< bytes did not decode as the expected type
  remote_exception = 9,   ///< a handler threw; the message names type and text
  no_actor = 10,          ///< the addressed actor does not exist (any more)
  unexpected_message = 11,///< the actor does not accept this message type
  broken_promise = 12,    ///< a request was dropped without a reply
  system_error = 13,      ///< an OS call failed
  invalid_argument = 14,  ///< the caller passed something the API rejects
  too_large = 15,         ///< a size limit was exceeded
  broken = 16,            ///< a barrier was broken (aborted, timed out, a party died)
  not_found = 17,         ///< no such key
  out_of_range = 18,      ///< an index outside the container
  connection = 19,        ///< a network connection failed, was refused or reset
};

/// Name of an errc value, for messages and logs.
std::string_view to_string(errc code) noexcept;

/// An error as a value. It crosses process boundaries as is: never errno,
/// never an exception_ptr.
struct error {
  /// Who raised it: the framework, the operating system or user code.
  error_domain domain = error_domain::troupe;
  /// What happened; errc::ok only in a default-made error.
  errc code = errc::ok;
  /// Human-readable detail (the operation, the peer, the limit), for logs.
  std::string message;

  /// An empty error (errc::ok).
  error() = default;
  /// A framework error with an optional detail message.
  error(errc c, std::string msg = {}) : code(c), message(std::move(msg)) {}
  /// An error from the given domain.
  error(error_domain d, errc c, std::string msg) : domain(d), code(c), message(std::move(msg)) {}

  /// "timeout: request to actor 3 timed out after 100 ms"
  [[nodiscard]] std::string describe() const;

  /// Equal when domain, code and message are all equal.
  friend bool operator==(const error& a, const error& b) noexcept {
    return a.domain == b.domain && a.code == b.code && a.message == b.message;
  }
};

/// Builds a system-domain error from an errno-style code (positive or
/// negative, as libuv returns them) and the operation that failed.
error system_error(std::string_view operation, int code);

/// The exception thrown when a result holding an error is unwrapped with
/// value(). Carries the error unchanged.
class error_exception : public std::runtime_error {
 public:
  /// Wraps `e`; what() is e.describe().
  explicit error_exception(troupe::error e);
  /// The error, unchanged.
  [[nodiscard]] const troupe::error& error() const noexcept { return error_; }
  /// The error's code.
  [[nodiscard]] errc code() const noexcept { return error_.code; }

 private:
  troupe::error error_;
};

}  // namespace troupe
