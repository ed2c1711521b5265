// Pipes: both directions, one-way misuse, EOF on close and on a dead peer,
// and waiting on several connections.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include <troupe.hpp>

#include "tests/support/run_test.hpp"

using namespace std::chrono_literals;
using troupe::errc;
using troupe::process;
using troupe::task;
using troupe::testing::run_test;

namespace {

using text_end = troupe::connection<std::string, std::string>;

// Answers each line with its upper-case form until EOF.
task<void> shouter(text_end conn) {
  for (;;) {
    auto line = co_await conn.recv();
    if (!line) co_return;
    for (auto& ch : *line) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    (void)co_await conn.send(*line);
  }
}

// Answers once (so the pipe knows this process uses the end), then hangs.
task<void> listen_then_hang(text_end conn) {
  (void)co_await conn.recv();
  (void)co_await conn.send("got it");
  (void)co_await troupe::sleep_for(60s);
}

}  // namespace

TEST_SUITE("pipe") {

TEST_CASE("a duplex pipe carries values both ways; poll looks without taking") {
  run_test([]() -> task<void> {
    auto [a, b] = troupe::make_pipe<std::string, int>();
    CHECK_FALSE((co_await b.poll()).value());
    (void)(co_await a.send("hello")).value();
    CHECK((co_await b.poll(1s)).value());
    CHECK((co_await b.recv()).value() == "hello");
    (void)(co_await b.send(42)).value();
    CHECK((co_await a.recv(1s)).value() == 42);
    CHECK((co_await a.recv(20ms)).code() == errc::timeout);
    a.shutdown();
  });
}

TEST_CASE("a one-way pipe refuses the wrong direction") {
  run_test([]() -> task<void> {
    auto [reader, writer] = troupe::make_pipe<int>(false);
    CHECK((co_await reader.send(1)).code() == errc::invalid_argument);
    CHECK((co_await writer.recv(1s)).code() == errc::invalid_argument);
    (void)(co_await writer.send(7)).value();
    CHECK((co_await reader.recv()).value() == 7);
    reader.shutdown();
  });
}

TEST_CASE("closing an end gives the other EOF after the data already sent") {
  run_test([]() -> task<void> {
    auto [a, b] = troupe::make_pipe<int>();
    (void)(co_await a.send(1)).value();
    (void)(co_await a.close()).value();
    CHECK((co_await b.recv()).value() == 1);
    CHECK((co_await b.recv()).code() == errc::closed);
    CHECK((co_await b.poll()).value());  // EOF counts as something to read
    CHECK((co_await b.send(2)).code() == errc::closed);
    a.shutdown();
  });
}

TEST_CASE("two processes talk request/response style over a duplex pipe") {
  run_test([]() -> task<void> {
    auto [mine, theirs] = troupe::make_pipe<std::string>();
    process child(shouter, theirs);
    child.start();
    for (std::string word : {"ping", "troupe", "pipes"}) {
      (void)(co_await mine.send(word)).value();
      auto back = co_await mine.recv(5s);
      REQUIRE(back.has_value());
      for (auto& ch : word) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      CHECK(*back == word);
    }
    (void)co_await mine.close();
    CHECK(co_await child.join(5s));
    CHECK(child.exitcode() == 0);
    mine.shutdown();
  });
}

TEST_CASE("when the peer's process dies, recv returns EOF instead of hanging") {
  run_test([]() -> task<void> {
    auto [mine, theirs] = troupe::make_pipe<std::string>();
    process child(listen_then_hang, theirs);
    child.start();
    (void)(co_await mine.send("are you there")).value();
    CHECK((co_await mine.recv(5s)).value() == "got it");
    // It has used its end, so the pipe knows which process holds it.
    child.kill();
    co_await child.join();
    CHECK((co_await mine.recv(5s)).code() == errc::closed);
    mine.shutdown();
  });
}

TEST_CASE("wait returns the connections that have something to read") {
  run_test([]() -> task<void> {
    auto [a1, b1] = troupe::make_pipe<int>();
    auto [a2, b2] = troupe::make_pipe<int>();
    std::vector<troupe::connection<int, int>> readers{b1, b2};
    auto none = co_await troupe::wait<int, int>(readers, 20ms);
    CHECK(none.value().empty());
    (void)(co_await a2.send(5)).value();
    auto ready = co_await troupe::wait<int, int>(readers, 1s);
    CHECK(ready.value() == std::vector<std::size_t>{1});
    CHECK((co_await b2.recv()).value() == 5);
    a1.shutdown();
    a2.shutdown();
  });
}

}  // TEST_SUITE
