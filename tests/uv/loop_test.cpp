#include <doctest/doctest.h>

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include "framework/coro/when_all.hpp"
#include "framework/uv/block_on.hpp"
#include "framework/uv/offload.hpp"
#include "framework/uv/poll.hpp"
#include "framework/uv/stream.hpp"
#include "framework/uv/timeout.hpp"
#include "framework/uv/timer.hpp"

using namespace std::chrono_literals;
using troupe::errc;
using troupe::coro::task;
namespace uv = troupe::uv;

namespace {

std::pair<int, int> make_socketpair() {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  return {fds[0], fds[1]};
}

std::span<const std::byte> bytes_of(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

// Requests stop after `delay`, so a wait started meanwhile is cancelled in flight.
task<errc> stop_after(uv::loop& l, std::chrono::milliseconds delay, std::stop_source s) {
  (void)co_await uv::sleep_for(l, delay);
  s.request_stop();
  co_return errc::ok;
}

// Every test ends by checking that it left no handle open.
struct fixture {
  uv::loop loop;
  ~fixture() { CHECK(loop.live_handles() == 0); }
};

}  // namespace

TEST_SUITE("uv") {

TEST_CASE_FIXTURE(fixture, "sleep_for resumes after at least the given time") {
  auto body = [](uv::loop& l) -> task<std::chrono::nanoseconds> {
    auto t0 = std::chrono::steady_clock::now();
    auto r = co_await uv::sleep_for(l, 20ms);
    CHECK(r.has_value());
    co_return std::chrono::steady_clock::now() - t0;
  };
  CHECK(uv::block_on(loop, body(loop)) >= 20ms);
}

TEST_CASE_FIXTURE(fixture, "timers fire in deadline order whatever order they were set") {
  auto body = [](uv::loop& l) -> task<std::string> {
    std::string order;
    auto one = [](uv::loop& lp, std::string& o, int ms, char c) -> task<void> {
      (void)co_await uv::sleep_for(lp, std::chrono::milliseconds(ms));
      o += c;
    };
    co_await troupe::coro::when_all(one(l, order, 30, 'c'), one(l, order, 10, 'a'),
                                    one(l, order, 20, 'b'));
    co_return order;
  };
  CHECK(uv::block_on(loop, body(loop)) == "abc");
}

TEST_CASE_FIXTURE(fixture, "a timer that falls due before the loop polls does not leave it blocked on a later one") {
  // Short sleeps while a long one is pending: whenever a short timer is
  // already due as the loop goes to poll, the poll must not block until the
  // long deadline.
  struct parts {
    static task<void> long_sleep(uv::loop& l, std::stop_token st) { (void)co_await uv::sleep_for(l, 30s, st); }
    static task<void> short_sleep(uv::loop& l, std::stop_source& stop) {
      (void)co_await uv::sleep_for(l, 100us);
      stop.request_stop();
    }
    // Keeps the loop busy past the short deadline, so the short timer is
    // already due when the loop next polls.
    static task<void> busy() {
      auto until = std::chrono::steady_clock::now() + 3ms;
      while (std::chrono::steady_clock::now() < until) {
      }
      co_return;
    }
    static task<void> all(uv::loop& l) {
      std::stop_source stop;
      co_await troupe::coro::when_all(long_sleep(l, stop.get_token()), short_sleep(l, stop), busy());
    }
  };
  auto t0 = std::chrono::steady_clock::now();
  uv::block_on(loop, parts::all(loop));
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
}

TEST_CASE_FIXTURE(fixture, "a cancelled sleep resumes with cancelled, long before its deadline") {
  auto body = [](uv::loop& l) -> task<void> {
    std::stop_source stop;
    auto sleeper = [](uv::loop& lp, std::stop_token st) -> task<troupe::result<void>> {
      co_return co_await uv::sleep_for(lp, 10s, st);
    };
    auto t0 = std::chrono::steady_clock::now();
    auto [slept, _] = co_await troupe::coro::when_all(sleeper(l, stop.get_token()), stop_after(l, 5ms, stop));
    CHECK(slept.code() == errc::cancelled);
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  };
  uv::block_on(loop, body(loop));
}

TEST_CASE_FIXTURE(fixture, "a sleep whose token is already stopped does not suspend") {
  auto body = [](uv::loop& l) -> task<errc> {
    std::stop_source stop;
    stop.request_stop();
    co_return (co_await uv::sleep_for(l, 10s, stop.get_token())).code();
  };
  CHECK(uv::block_on(loop, body(loop)) == errc::cancelled);
}

TEST_CASE_FIXTURE(fixture, "with_timeout gives the work's result, a timeout, or cancelled, whichever comes first") {
  struct parts {
    // Sleeps `d`, then answers 7; cancelled if its token fires first.
    static task<troupe::result<int>> work(uv::loop& l, std::chrono::milliseconds d, std::stop_token st) {
      auto slept = co_await uv::sleep_for(l, d, st);
      if (!slept) co_return slept.error();
      co_return 7;
    }
    static task<troupe::result<int>> raced(uv::loop& l, std::chrono::milliseconds work_takes,
                                           std::chrono::milliseconds timeout, std::stop_token stop) {
      std::stop_source race;
      auto w = work(l, work_takes, race.get_token());
      auto r = uv::with_timeout(l, race, std::move(w), timeout, "too slow", stop);
      co_return co_await std::move(r);
    }
    static task<void> all(uv::loop& l) {
      // The work first.
      auto fast = co_await raced(l, 1ms, 10s, {});
      REQUIRE(fast.has_value());
      CHECK(*fast == 7);
      // The timer first: the work is stopped long before its 10 s.
      auto t0 = std::chrono::steady_clock::now();
      auto slow = co_await raced(l, 10s, 5ms, {});
      CHECK(slow.code() == errc::timeout);
      CHECK(slow.error().message == "too slow");
      CHECK(std::chrono::steady_clock::now() - t0 < 5s);
      // The caller's stop first: cancelled, not a timeout.
      std::stop_source stop;
      auto [stopped, _] = co_await troupe::coro::when_all(raced(l, 10s, 10s, stop.get_token()),
                                                          stop_after(l, 5ms, stop));
      CHECK(stopped.code() == errc::cancelled);
      // Already stopped: cancelled at once.
      std::stop_source done;
      done.request_stop();
      auto at_once = co_await raced(l, 10s, 10s, done.get_token());
      CHECK(at_once.code() == errc::cancelled);
    }
  };
  uv::block_on(loop, parts::all(loop));
}

TEST_CASE_FIXTURE(fixture, "a stream writes and reads bytes over a socketpair, and EOF reads as closed") {
  auto [a, b] = make_socketpair();
  auto body = [](uv::loop& l, int fa, int fb) -> task<void> {
    auto left = uv::stream::adopt_fd(l, fa).value();
    auto right = uv::stream::adopt_fd(l, fb).value();
    std::string msg = "hello over the link";
    CHECK((co_await left.write(bytes_of(msg))).has_value());
    std::array<std::byte, 64> buf{};
    std::string got;
    while (got.size() < msg.size()) {
      auto n = co_await right.read(buf);
      REQUIRE(n.has_value());
      got.append(reinterpret_cast<const char*>(buf.data()), *n);
    }
    CHECK(got == msg);
    left.close();
    auto eof = co_await right.read(buf);
    CHECK(eof.code() == errc::closed);
  };
  uv::block_on(loop, body(loop, a, b));
}

TEST_CASE_FIXTURE(fixture, "a large write completes even when it exceeds the socket buffer") {
  auto [a, b] = make_socketpair();
  auto body = [](uv::loop& l, int fa, int fb) -> task<std::size_t> {
    auto left = uv::stream::adopt_fd(l, fa).value();
    auto right = uv::stream::adopt_fd(l, fb).value();
    std::string big(4 << 20, 'z');
    auto writer = [](uv::stream& s, const std::string& data) -> task<void> {
      CHECK((co_await s.write(bytes_of(data))).has_value());
    };
    auto reader = [](uv::stream& s, std::size_t want) -> task<std::size_t> {
      std::vector<std::byte> buf(65536);
      std::size_t total = 0;
      while (total < want) {
        auto n = co_await s.read(buf);
        if (!n) break;
        total += *n;
      }
      co_return total;
    };
    auto [w, got] = co_await troupe::coro::when_all(writer(left, big), reader(right, big.size()));
    co_return got;
  };
  CHECK(uv::block_on(loop, body(loop, a, b)) == (4u << 20));
}

TEST_CASE_FIXTURE(fixture, "a cancelled read resumes with cancelled and the stream stays usable") {
  auto [a, b] = make_socketpair();
  auto body = [](uv::loop& l, int fa, int fb) -> task<void> {
    auto left = uv::stream::adopt_fd(l, fa).value();
    auto right = uv::stream::adopt_fd(l, fb).value();
    std::array<std::byte, 16> buf{};
    std::stop_source stop;
    auto reader = [](uv::stream& s, std::span<std::byte> b2, std::stop_token st) -> task<errc> {
      co_return (co_await s.read(b2, st)).code();
    };
    auto [code, _] = co_await troupe::coro::when_all(reader(right, buf, stop.get_token()), stop_after(l, 2ms, stop));
    CHECK(code == errc::cancelled);
    std::string msg = "x";
    CHECK((co_await left.write(bytes_of(msg))).has_value());
    auto n = co_await right.read(buf);
    CHECK(n.value() == 1);
  };
  uv::block_on(loop, body(loop, a, b));
}

TEST_CASE_FIXTURE(fixture, "a poller reports an eventfd readable once written, and cancels cleanly") {
  int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  REQUIRE(efd >= 0);
  auto body = [](uv::loop& l, int fd) -> task<void> {
    auto p = uv::poller::open(l, fd).value();
    std::stop_source stop;
    stop.request_stop();
    CHECK((co_await p.wait(UV_READABLE, stop.get_token())).code() == errc::cancelled);
    std::uint64_t one = 1;
    REQUIRE(::write(fd, &one, sizeof one) == sizeof one);
    auto ev = co_await p.wait(UV_READABLE);
    REQUIRE(ev.has_value());
    CHECK((*ev & UV_READABLE) != 0);
  };
  uv::block_on(loop, body(loop, efd));
  ::close(efd);
}

TEST_CASE_FIXTURE(fixture, "a poll cancelled while waiting resumes with cancelled") {
  int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  REQUIRE(efd >= 0);
  auto body = [](uv::loop& l, int fd) -> task<errc> {
    auto p = uv::poller::open(l, fd).value();
    std::stop_source stop;
    auto waiter = [](uv::poller& pl, std::stop_token st) -> task<errc> {
      co_return (co_await pl.wait(UV_READABLE, st)).code();
    };
    auto [code, _] = co_await troupe::coro::when_all(waiter(p, stop.get_token()), stop_after(l, 1ms, stop));
    co_return code;
  };
  CHECK(uv::block_on(loop, body(loop, efd)) == errc::cancelled);
  ::close(efd);
}

TEST_CASE_FIXTURE(fixture, "a signal raised before the wait is delivered to the wait") {
  auto body = [](uv::loop& l) -> task<int> {
    auto w = uv::signal_watcher::open(l, SIGUSR1).value();
    ::raise(SIGUSR1);
    // Delivery goes through libuv's signal pipe: let the loop turn.
    auto r = co_await w.wait();
    co_return r.value();
  };
  CHECK(uv::block_on(loop, body(loop)) == SIGUSR1);
}

TEST_CASE_FIXTURE(fixture, "a cancelled signal wait resumes with cancelled") {
  auto body = [](uv::loop& l) -> task<errc> {
    auto w = uv::signal_watcher::open(l, SIGUSR2).value();
    std::stop_source stop;
    auto waiter = [](uv::signal_watcher& sw, std::stop_token st) -> task<errc> {
      co_return (co_await sw.wait(st)).code();
    };
    auto [code, _] = co_await troupe::coro::when_all(waiter(w, stop.get_token()), stop_after(l, 1ms, stop));
    co_return code;
  };
  CHECK(uv::block_on(loop, body(loop)) == errc::cancelled);
}

TEST_CASE_FIXTURE(fixture, "an async_event notified from another thread wakes its waiter") {
  auto body = [](uv::loop& l) -> task<void> {
    auto ev = uv::async_event::open(l).value();
    std::jthread other([&ev] { ev.notify(); });
    CHECK((co_await ev.wait()).has_value());
  };
  uv::block_on(loop, body(loop));
}

TEST_CASE_FIXTURE(fixture, "a cancelled async_event wait resumes with cancelled") {
  auto body = [](uv::loop& l) -> task<errc> {
    auto ev = uv::async_event::open(l).value();
    std::stop_source stop;
    auto waiter = [](uv::async_event& e, std::stop_token st) -> task<errc> {
      co_return (co_await e.wait(st)).code();
    };
    auto [code, _] = co_await troupe::coro::when_all(waiter(ev, stop.get_token()), stop_after(l, 1ms, stop));
    co_return code;
  };
  CHECK(uv::block_on(loop, body(loop)) == errc::cancelled);
}

TEST_CASE_FIXTURE(fixture, "offload runs on another thread and returns its value on the loop thread") {
  auto body = [](uv::loop& l) -> task<void> {
    auto loop_thread = std::this_thread::get_id();
    auto r = co_await uv::offload(l, [] { return std::this_thread::get_id(); });
    CHECK(r.value() != loop_thread);
    CHECK(std::this_thread::get_id() == loop_thread);
  };
  uv::block_on(loop, body(loop));
}

TEST_CASE_FIXTURE(fixture, "an exception thrown by offloaded work is rethrown at the co_await") {
  auto body = [](uv::loop& l) -> task<void> {
    (void)co_await uv::offload(l, []() -> int { throw std::runtime_error("offloaded boom"); });
  };
  CHECK_THROWS_WITH_AS(uv::block_on(loop, body(loop)), "offloaded boom", std::runtime_error);
}

TEST_CASE_FIXTURE(fixture, "offload with a stopped token returns cancelled without running") {
  auto body = [](uv::loop& l) -> task<void> {
    std::stop_source stop;
    stop.request_stop();
    bool ran = false;
    auto r = co_await uv::offload(l, [&ran] { ran = true; }, stop.get_token());
    CHECK(r.code() == errc::cancelled);
    CHECK_FALSE(ran);
  };
  uv::block_on(loop, body(loop));
}

TEST_CASE_FIXTURE(fixture, "posting from another thread runs the function on the loop thread") {
  auto body = [](uv::loop& l) -> task<void> {
    auto ev = uv::async_event::open(l).value();
    bool on_loop = false;
    l.hold();
    std::jthread other([&] {
      l.post([&] {
        on_loop = l.on_loop_thread();
        ev.notify();
      });
    });
    (void)co_await ev.wait();
    l.release();
    CHECK(on_loop);
  };
  uv::block_on(loop, body(loop));
}

}  // TEST_SUITE
