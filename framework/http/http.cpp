#include "framework/http/http.hpp"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <unordered_map>

#include "framework/runtime/runtime.hpp"
#include "framework/uv/offload.hpp"

namespace troupe::http {

namespace {

bool same_ignoring_case(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string origin(const url_parts& u) {
  return u.scheme + "://" + u.host + ":" + std::to_string(u.port);
}

// One client per server and worker thread: connections stay open between
// requests (keep-alive), and a client is never shared between threads.
std::unordered_map<std::string, std::unique_ptr<httplib::Client>>& clients() {
  thread_local std::unordered_map<std::string, std::unique_ptr<httplib::Client>> map;
  return map;
}

httplib::Client& client_for(const url_parts& u) {
  auto& c = clients()[origin(u)];
  if (!c) {
    c = std::make_unique<httplib::Client>(origin(u));
    c->set_keep_alive(true);
    // Headers and body go out in separate writes; with Nagle on, the
    // second waits for the peer's delayed ACK (40 ms on Linux).
    c->set_tcp_nodelay(true);
    c->set_follow_location(false);
  }
  return *c;
}

// A client whose connection failed starts over with a fresh one.
void forget_client(const url_parts& u) { clients().erase(origin(u)); }

template <class Rep, class Period>
void set_timeout(httplib::Client& c, std::chrono::duration<Rep, Period> d, bool connect) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  if (us < 1) us = 1;
  const time_t sec = static_cast<time_t>(us / 1'000'000);
  const time_t usec = static_cast<time_t>(us % 1'000'000);
  if (connect) c.set_connection_timeout(sec, usec);
  else c.set_read_timeout(sec, usec);
}

bool is_redirect(int status) noexcept {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

std::string_view response::header(std::string_view name) const noexcept {
  for (const auto& [k, v] : headers)
    if (same_ignoring_case(k, name)) return v;
  return {};
}

result<url_parts> parse_url(std::string_view url) {
  url_parts u;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos)
    return error{errc::invalid_argument, "not an absolute URL (no scheme): " + std::string(url)};
  u.scheme = std::string(url.substr(0, scheme_end));
  std::transform(u.scheme.begin(), u.scheme.end(), u.scheme.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (u.scheme != "http" && u.scheme != "https")
    return error{errc::invalid_argument, "unsupported scheme '" + u.scheme + "' in " + std::string(url)};
  std::string_view rest = url.substr(scheme_end + 3);
  const auto path_at = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_at);
  std::string_view target = path_at == std::string_view::npos ? std::string_view{} : rest.substr(path_at);
  if (const auto hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);
  u.port = u.scheme == "https" ? 443 : 80;
  std::string_view host = authority;
  const auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    host = authority.substr(0, colon);
    std::string_view port = authority.substr(colon + 1);
    int p = 0;
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
      return error{errc::invalid_argument, "bad port in " + std::string(url)};
    for (char ch : port) p = p * 10 + (ch - '0');
    if (p < 1 || p > 65535) return error{errc::invalid_argument, "port out of range in " + std::string(url)};
    u.port = p;
  }
  if (host.empty()) return error{errc::invalid_argument, "no host in " + std::string(url)};
  u.host = std::string(host);
  u.target = target.empty() ? "/" : (target.front() == '?' ? "/" + std::string(target) : std::string(target));
  return u;
}

std::string resolve(const url_parts& base, std::string_view location) {
  if (location.find("://") != std::string_view::npos) return std::string(location);
  std::string root = base.scheme + "://" + base.host;
  if (!((base.scheme == "http" && base.port == 80) || (base.scheme == "https" && base.port == 443)))
    root += ":" + std::to_string(base.port);
  if (!location.empty() && location.front() == '/') return root + std::string(location);
  std::string dir = base.target.substr(0, base.target.find('?'));
  dir = dir.substr(0, dir.rfind('/') + 1);
  return root + dir + std::string(location);
}

result<response> get_blocking(std::string_view url, const options& opts) {
  const auto start = std::chrono::steady_clock::now();
  response out;
  std::string current(url);
  for (int hop = 0;; ++hop) {
    auto parts = parse_url(current);
    if (!parts) return parts.error();
    httplib::Client& c = client_for(*parts);
    set_timeout(c, opts.connect_timeout, true);
    set_timeout(c, opts.read_timeout, false);
    httplib::Headers headers;
    for (const auto& [k, v] : opts.headers) headers.emplace(k, v);
    std::string body;
    bool too_large = false;
    const std::size_t limit = opts.max_body;
    auto res = c.Get(
        parts->target, headers, [](const httplib::Response&) { return true; },
        [&body, &too_large, limit](const char* data, std::size_t n) {
          if (body.size() + n > limit) {
            too_large = true;
            return false;
          }
          body.append(data, n);
          return true;
        });
    const auto took = std::chrono::steady_clock::now() - start;
    if (!res) {
      const httplib::Error e = res.error();
      forget_client(*parts);
      if (too_large)
        return error{errc::too_large, current + ": the body exceeds " + std::to_string(limit) + " bytes"};
      switch (e) {
        case httplib::Error::ConnectionTimeout:
          return error{errc::timeout, current + ": no connection within " +
                                          std::to_string(opts.connect_timeout.count()) + " ms"};
        case httplib::Error::Read:
          // A read that ends by the timeout and one the peer cut short
          // (reset, close) look alike here; the clock tells them apart.
          if (took >= opts.read_timeout)
            return error{errc::timeout, current + ": no response within " +
                                            std::to_string(opts.read_timeout.count()) + " ms"};
          return error{errc::connection, current + ": the server closed or reset the connection"};
        case httplib::Error::Connection:
          return error{errc::connection, current + ": could not connect to " + parts->host + ":" +
                                             std::to_string(parts->port)};
        default:
          return error{errc::connection, current + ": " + httplib::to_string(e)};
      }
    }
    if (is_redirect(res->status) && opts.max_redirects > 0) {
      if (!res->has_header("Location"))
        return error{errc::protocol_error, current + ": a redirect without a Location header"};
      if (hop >= opts.max_redirects)
        return error{errc::too_large, current + ": more than " + std::to_string(opts.max_redirects) + " redirects"};
      current = resolve(*parts, res->get_header_value("Location"));
      ++out.redirects;
      continue;
    }
    out.status = res->status;
    out.body = std::move(body);
    for (const auto& [k, v] : res->headers) out.headers.emplace_back(k, v);
    out.url = std::move(current);
    out.elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(took);
    return out;
  }
}

coro::task<result<response>> get(std::string url, options opts, std::stop_token stop) {
  auto work = [u = std::move(url), o = std::move(opts)] { return get_blocking(u, o); };
  auto done = co_await uv::offload(runtime::current().loop(), std::move(work), std::move(stop));
  if (!done) co_return done.error();
  co_return std::move(*done);
}

}  // namespace troupe::http
