// HTTP GET for actors against the local demo site: statuses and errors as
// values, redirects, timeouts, resets, limits, and a loop that keeps
// running while requests wait.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include <troupe.hpp>

#include "samples/support/demo_site.hpp"
#include "tests/support/run_test.hpp"

using namespace std::chrono_literals;
using troupe::errc;
using troupe::task;
using troupe::testing::run_test;
namespace http = troupe::http;

namespace {

demo::site& shared_site() {
  static demo::site s;
  return s;
}

std::string title_of(const std::string& body) {
  auto a = body.find("<title>");
  auto b = body.find("</title>");
  if (a == std::string::npos || b == std::string::npos) return {};
  return body.substr(a + 7, b - a - 7);
}

int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

TEST_CASE("URLs are split and relative locations resolved") {
  auto u = http::parse_url("http://example.org:8080/a/b?x=1#frag");
  REQUIRE(u.has_value());
  CHECK(u->scheme == "http");
  CHECK(u->host == "example.org");
  CHECK(u->port == 8080);
  CHECK(u->target == "/a/b?x=1");
  auto plain = http::parse_url("HTTPS://example.org");
  REQUIRE(plain.has_value());
  CHECK(plain->port == 443);
  CHECK(plain->target == "/");
  CHECK(http::resolve(*u, "/c") == "http://example.org:8080/c");
  CHECK(http::resolve(*u, "c") == "http://example.org:8080/a/c");
  CHECK(http::resolve(*u, "http://other/") == "http://other/");
  CHECK(http::parse_url("ftp://x/").error().code == errc::invalid_argument);
  CHECK(http::parse_url("no-scheme").error().code == errc::invalid_argument);
  CHECK(http::parse_url("http://:80/").error().code == errc::invalid_argument);
  CHECK(http::parse_url("http://h:99999/").error().code == errc::invalid_argument);
}

TEST_CASE("a page, a missing page and a redirect come back as responses") {
  demo::site& site = shared_site();
  run_test([]() -> task<void> {
    demo::site& s = shared_site();
    auto page = co_await http::get(s.base() + "/page/3");
    REQUIRE(page.has_value());
    CHECK(page->status == 200);
    CHECK(title_of(page->body) == demo::site::page_title(3));
    CHECK(page->header("content-type") == "text/html");
    CHECK(page->redirects == 0);
    CHECK(page->elapsed > 0ns);

    auto missing = co_await http::get(s.base() + "/page/999");
    REQUIRE(missing.has_value());
    CHECK(missing->status == 404);

    auto moved = co_await http::get(s.base() + "/moved/7");
    REQUIRE(moved.has_value());
    CHECK(moved->status == 200);
    CHECK(moved->redirects == 1);
    CHECK(moved->url == s.base() + "/page/7");
    CHECK(title_of(moved->body) == demo::site::page_title(7));

    http::options no_follow;
    no_follow.max_redirects = 0;
    auto raw = co_await http::get(s.base() + "/moved/7", no_follow);
    REQUIRE(raw.has_value());
    CHECK(raw->status == 302);
    CHECK(raw->header("Location") == "/page/7");
  });
  (void)site;
}

TEST_CASE("a server that does not answer, one that resets, and a closed port are errors, not hangs") {
  (void)shared_site();
  run_test([]() -> task<void> {
    demo::site& s = shared_site();
    http::options quick;
    quick.read_timeout = 300ms;
    auto hang = co_await http::get(s.base() + "/hang", quick);
    REQUIRE(!hang.has_value());
    CHECK(hang.error().code == errc::timeout);

    std::string reset_url;
    for (const auto& u : s.default_urls())
      if (u.find("/reset") != std::string::npos) reset_url = u;
    auto reset = co_await http::get(reset_url);
    REQUIRE(!reset.has_value());
    CHECK(reset.error().code == errc::connection);

    auto refused = co_await http::get("http://127.0.0.1:" + std::to_string(closed_port()) + "/");
    REQUIRE(!refused.has_value());
    CHECK(refused.error().code == errc::connection);

    auto bad = co_await http::get("gopher://x/");
    REQUIRE(!bad.has_value());
    CHECK(bad.error().code == errc::invalid_argument);

    http::options small;
    small.max_body = 100;
    auto big = co_await http::get(s.base() + "/page/1", small);
    REQUIRE(!big.has_value());
    CHECK(big.error().code == errc::too_large);
    // The connection that was cut is not reused: the next GET works.
    auto after = co_await http::get(s.base() + "/page/1");
    REQUIRE(after.has_value());
    CHECK(after->status == 200);
  });
}

namespace {
task<void> tick(troupe::inbox<int> self, int* ticks) {
  for (;;) {
    auto r = co_await self.receive(1ms);
    if (!r && r.error().code != errc::timeout) co_return;
    ++*ticks;
  }
}
}  // namespace

TEST_CASE("the loop keeps running while GETs wait, and concurrent GETs all complete") {
  (void)shared_site();
  run_test([]() -> task<void> {
    demo::site& s = shared_site();
    int ticks = 0;
    troupe::actor_ref ticker = troupe::spawn(tick, &ticks);
    std::vector<task<troupe::result<http::response>>> gets;
    for (int i = 1; i <= 4; ++i) gets.push_back(http::get(s.base() + "/slow/" + std::to_string(i)));
    std::vector<int> statuses;
    for (auto& g : gets) {
      auto r = co_await std::move(g);
      statuses.push_back(r ? r->status : -1);
    }
    CHECK(statuses == std::vector<int>{200, 200, 200, 200});
    // Each slow page takes 300 ms; the ticker ran all along.
    CHECK(ticks >= 50);
    troupe::runtime::current().stop(ticker);
  });
}
