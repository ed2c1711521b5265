// Runtimes on threads: start and join, results and exceptions, messages
// and requests both ways and their order, monitors, shutdown, and the same
// actor placed in a coroutine, a thread and a process.
#include <doctest/doctest.h>

#include <atomic>
#include <semaphore>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <troupe.hpp>

#include "tests/support/run_test.hpp"

using namespace std::chrono_literals;
using troupe::actor_ref;
using troupe::errc;
using troupe::task;
using troupe::testing::run_test;

namespace {

struct item {
  int seq = 0;
};
struct total {
  using response = std::vector<int>;
};
struct add {
  using response = long;
  long value = 0;
};
struct where {
  using response = std::uint64_t;
};
struct forward_to {
  actor_ref to;
  int count = 0;
};

// Collects items in arrival order; answers the collection.
task<void> collector(troupe::inbox<item, total> self) {
  std::vector<int> seen;
  for (;;) {
    auto l = co_await self.receive();
    if (!l) co_return;
    if (l->index() == 0) seen.push_back(l->get<item>().seq);
    else l->reply(seen);
  }
}

// Keeps a running sum; the same function runs in every placement.
task<void> summer(troupe::inbox<add, where, forward_to> self, long start) {
  long sum = start;
  for (;;) {
    auto l = co_await self.receive();
    if (!l) co_return;
    switch (l->index()) {
      case 0:
        sum += l->get<add>().value;
        l->reply(sum);
        break;
      case 1:
        l->reply(static_cast<std::uint64_t>(self.owner().node()));
        break;
      case 2: {
        auto f = l->get<forward_to>();
        for (int i = 0; i < f.count; ++i) co_await f.to.send(item{i});
        break;
      }
    }
  }
}

int sum_up_to(int n) {
  int s = 0;
  for (int i = 1; i <= n; ++i) s += i;
  return s;
}

task<int> ask_from_thread(actor_ref summer_ref, int times) {
  long last = 0;
  for (int i = 0; i < times; ++i) {
    auto r = co_await summer_ref.request(add{1}, 5s);
    if (!r) co_return -1;
    last = *r;
  }
  co_return static_cast<int>(last);
}

void throws_in_thread(std::string what) { throw std::out_of_range(what); }

// Whether `seen` holds 0, 1, 2, ... in that order.
bool counts_up(const std::vector<int>& seen) {
  for (std::size_t i = 0; i < seen.size(); ++i)
    if (seen[i] != static_cast<int>(i)) return false;
  return true;
}

// Sends `count` items to `to` from the thread's own runtime.
task<void> send_items(actor_ref to, int count) {
  for (int i = 0; i < count; ++i) co_await to.send(item{i});
}

}  // namespace

TEST_CASE("a thread runs its target on its own runtime and join returns its exit code") {
  run_test([]() -> task<void> {
    const troupe::node_id parent = troupe::runtime::current().node();
    auto seen = std::make_shared<std::atomic<std::uint64_t>>(0);
    // The target waits for `go`, so the thread is surely alive when asked.
    auto go = std::make_shared<std::binary_semaphore>(0);
    // Captures are fine: the target stays in this process.
    troupe::thread t([seen, go](int n) {
      seen->store(troupe::runtime::current().node());
      go->acquire();
      return sum_up_to(n);
    }, 100);
    CHECK(!t.is_alive());
    t.start();
    CHECK(t.is_alive());
    go->release();
    CHECK(t.name().rfind("thread-", 0) == 0);
    bool ended = co_await t.join(10s);
    CHECK(ended);
    CHECK(!t.is_alive());
    REQUIRE(t.exitcode().has_value());
    CHECK(*t.exitcode() == 5050);
    CHECK(seen->load() == t.node());
    CHECK(t.node() != parent);
  });
}

TEST_CASE("an exception that escapes a thread's target is rethrown by join as it was thrown") {
  run_test([]() -> task<void> {
    troupe::thread t(throws_in_thread, std::string("index 7"));
    t.start();
    bool caught = false;
    try {
      (void)co_await t.join(10s);
    } catch (const std::out_of_range& e) {
      caught = std::string(e.what()) == "index 7";
    }
    CHECK(caught);
    CHECK(t.exitcode() == 1);
  });
}

TEST_CASE("join with a timeout returns false while the thread runs") {
  run_test([]() -> task<void> {
    troupe::thread t = troupe::thread::host();
    t.start();
    CHECK_FALSE(co_await t.join(20ms));
    CHECK(t.is_alive());
    t.request_stop();
    CHECK(co_await t.join(10s));
    CHECK(t.exitcode() == 0);
  });
}

TEST_CASE("messages to an actor on another thread arrive in the order they were sent, both ways") {
  run_test([]() -> task<void> {
    troupe::thread host = troupe::thread::host();
    host.start();
    auto remote = co_await host.spawn(collector);
    REQUIRE(remote.has_value());
    CHECK(remote->node() == host.node());
    constexpr int n = 20'000;
    for (int i = 0; i < n; ++i) co_await remote->send(item{i});
    auto got = co_await remote->request(total{}, 10s);
    REQUIRE(got.has_value());
    REQUIRE(got->size() == static_cast<std::size_t>(n));
    CHECK(counts_up(*got));

    // And from the thread to an actor here.
    actor_ref local = troupe::spawn(collector);
    troupe::thread sender(send_items, local, n);
    sender.start();
    CHECK(co_await sender.join(10s));
    auto back = co_await local.request(total{}, 10s);
    REQUIRE(back.has_value());
    REQUIRE(back->size() == static_cast<std::size_t>(n));
    CHECK(counts_up(*back));
    host.request_stop();
    CHECK(co_await host.join(10s));
  });
}

TEST_CASE("a thread's target makes requests to an actor of the runtime that started it") {
  run_test([]() -> task<void> {
    actor_ref s = troupe::spawn(summer, 0L);
    troupe::thread t(ask_from_thread, s, 1000);
    t.start();
    CHECK(co_await t.join(20s));
    CHECK(t.exitcode() == 1000);
  });
}

TEST_CASE("two threads' actors talk to each other") {
  run_test([]() -> task<void> {
    troupe::thread a = troupe::thread::host();
    troupe::thread b = troupe::thread::host();
    a.start();
    b.start();
    auto sink = co_await b.spawn(collector);
    auto source = co_await a.spawn(summer, 0L);
    REQUIRE(sink.has_value());
    REQUIRE(source.has_value());
    co_await source->send(forward_to{*sink, 5000});
    // Poll the sink until every item has come, with a deadline of its own.
    std::vector<int> got;
    const auto give_up = std::chrono::steady_clock::now() + 10s;
    while (got.size() < 5000 && std::chrono::steady_clock::now() < give_up) {
      auto r = co_await sink->request(total{}, 5s);
      REQUIRE(r.has_value());
      got = std::move(*r);
      if (got.size() < 5000) (void)co_await troupe::sleep_for(1ms);
    }
    REQUIRE(got.size() == 5000);
    CHECK(counts_up(got));
    a.request_stop();
    b.request_stop();
    CHECK(co_await a.join(10s));
    CHECK(co_await b.join(10s));
  });
}

TEST_CASE("an actor on a thread is reported down when it stops, and requests to a gone thread fail") {
  run_test([]() -> task<void> {
    auto watcher = troupe::open_inbox<troupe::down>(troupe::runtime::current());
    troupe::thread host = troupe::thread::host();
    host.start();
    auto s = co_await host.spawn(summer, 0L);
    REQUIRE(s.has_value());
    troupe::runtime::current().monitor(watcher.ref(), *s);
    host.request_stop();
    auto d = co_await watcher.receive(10s);
    REQUIRE(d.has_value());
    CHECK(d->get<troupe::down>().who == *s);
    CHECK(d->get<troupe::down>().reason.what == troupe::exit_reason::kind::stopped);
    CHECK(co_await host.join(10s));
    auto r = co_await s->request(add{1}, 2s);
    REQUIRE(!r.has_value());
    CHECK((r.error().code == errc::peer_down || r.error().code == errc::no_actor));
  });
}

TEST_CASE("a runtime that ends stops its threads' actors and waits for the threads") {
  auto flag = std::make_shared<std::atomic<bool>>(false);
  {
    troupe::runtime rt;
    rt.block_on([](std::shared_ptr<std::atomic<bool>> f) -> task<void> {
      troupe::thread host = troupe::thread::host();
      host.start();
      auto c = co_await host.spawn(collector);
      REQUIRE(c.has_value());
      // A target that waits for an actor of its own until it is stopped.
      troupe::thread waiter([](std::shared_ptr<std::atomic<bool>> done) -> task<void> {
        auto box = troupe::open_inbox<item>(troupe::runtime::current());
        auto l = co_await box.receive();
        done->store(!l.has_value());
      }, f);
      waiter.start();
    }(flag));
    // Leaving the scope: the runtime's end must not hang on either thread.
  }
  CHECK(flag->load());
}

TEST_CASE("the same actor gives the same results in a coroutine, a thread and a process") {
  run_test([]() -> task<void> {
    troupe::thread t = troupe::thread::host();
    t.start();
    troupe::process p = troupe::process::host();
    p.start();
    std::vector<actor_ref> placed;
    placed.push_back(troupe::spawn(summer, 10L));
    auto in_thread = co_await t.spawn(summer, 10L);
    auto in_process = co_await p.spawn(summer, 10L);
    REQUIRE(in_thread.has_value());
    REQUIRE(in_process.has_value());
    placed.push_back(*in_thread);
    placed.push_back(*in_process);
    std::vector<std::vector<long>> sums;
    std::vector<std::uint64_t> nodes;
    for (const actor_ref& a : placed) {
      std::vector<long> s;
      for (long v = 1; v <= 100; ++v) {
        auto r = co_await a.request(add{v}, 5s);
        REQUIRE(r.has_value());
        s.push_back(*r);
      }
      sums.push_back(std::move(s));
      auto n = co_await a.request(where{}, 5s);
      REQUIRE(n.has_value());
      nodes.push_back(*n);
    }
    CHECK(sums[0] == sums[1]);
    CHECK(sums[0] == sums[2]);
    CHECK(sums[0].back() == 10 + 5050);
    CHECK(nodes[0] == troupe::runtime::current().node());
    CHECK(nodes[1] == t.node());
    CHECK(nodes[2] == p.node());
    t.request_stop();
    CHECK(co_await t.join(10s));
  });
}
