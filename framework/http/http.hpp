#pragma once

// HTTP GET for actors: the request runs on the runtime's worker threads, so
// the loop (and every other actor on it) keeps running while it waits.

#include <chrono>
#include <cstddef>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "framework/base/result.hpp"
#include "framework/coro/task.hpp"

namespace troupe::http {

/// Settings of one GET.
struct options {
  /// Longest wait for the TCP connection.
  std::chrono::milliseconds connect_timeout{5'000};
  /// Longest silence while reading the response (per read, as curl's
  /// --speed-time; a server that trickles bytes keeps the request alive).
  std::chrono::milliseconds read_timeout{10'000};
  /// Redirects (301, 302, 303, 307, 308) followed before giving up with
  /// errc::too_large; 0 returns the redirect itself.
  int max_redirects = 5;
  /// A body longer than this fails the request with errc::too_large.
  std::size_t max_body = std::size_t{64} << 20;
  /// Extra request headers.
  std::vector<std::pair<std::string, std::string>> headers;
};

/// A response, whatever its status: a 404 is a response, not an error.
struct response {
  /// The HTTP status code of the last response (after redirects).
  int status = 0;
  /// The body, decoded from chunked transfer; at most options::max_body bytes.
  std::string body;
  /// In the order the server sent them (names as sent).
  std::vector<std::pair<std::string, std::string>> headers;
  /// The URL that answered (after redirects).
  std::string url;
  /// How many redirects were followed.
  int redirects = 0;
  /// From the start of the call to the end of the body.
  std::chrono::nanoseconds elapsed{};

  /// The first header named `name` (compared without case), or "".
  [[nodiscard]] std::string_view header(std::string_view name) const noexcept;
};

/// The parts of an absolute http:// or https:// URL.
struct url_parts {
  std::string scheme;  ///< "http" or "https"
  std::string host;    ///< name or address, without the port
  int port = 0;        ///< 80 or 443 when the URL names none
  std::string target;  ///< path and query, "/" at least
};
/// Splits an absolute URL; errc::invalid_argument says what is wrong.
[[nodiscard]] result<url_parts> parse_url(std::string_view url);
/// Resolves `location` (absolute, host-relative "/x" or relative "x")
/// against the URL it came from.
[[nodiscard]] std::string resolve(const url_parts& base, std::string_view location);

/// The blocking GET that get() runs on a worker thread, for code that is not
/// on a runtime. Connections are kept alive and reused per thread and
/// server. Errors come back as values: errc::invalid_argument (a bad URL),
/// errc::connection (refused, reset, closed early, DNS), errc::timeout
/// (connect or read), errc::too_large (body or redirect limit).
[[nodiscard]] result<response> get_blocking(std::string_view url, const options& opts = {});

/// GET `url`. Suspends the calling coroutine, never the loop: the request
/// runs on the runtime's worker threads (libuv's pool, 4 threads unless
/// UV_THREADPOOL_SIZE says otherwise). Errors as in get_blocking(). A stop
/// request cancels the GET only before it has started (errc::cancelled);
/// once running it ends by its timeouts.
[[nodiscard]] coro::task<result<response>> get(std::string url, options opts = {}, std::stop_token stop = {});

}  // namespace troupe::http
