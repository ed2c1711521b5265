// The manager's shared list and dict: in one process, across processes,
// with a client killed mid-stream and with the manager itself killed.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <troupe.hpp>

#include "tests/support/run_test.hpp"

using namespace std::chrono_literals;
using troupe::dict_proxy;
using troupe::errc;
using troupe::list_proxy;
using troupe::process;
using troupe::task;

namespace {

using troupe::testing::run_test;

struct entry {
  int producer = 0;
  int seq = 0;
};

// Appends `count` entries without waiting for any reply and returns at once:
// every append must still arrive.
task<void> append_entries(list_proxy<entry> l, int producer, int count) {
  for (int i = 0; i < count; ++i) co_await l.append(entry{producer, i});
}

// Appends for ever, syncing now and then, until it is killed.
task<void> append_until_killed(list_proxy<int> l) {
  for (int i = 0;; ++i) {
    co_await l.append(i);
    if (i % 64 == 63) (void)co_await l.sync();
  }
}

task<void> fill_dict(dict_proxy<std::string, int> d, int producer, int count) {
  for (int i = 0; i < count; ++i) co_await d.set("p" + std::to_string(producer) + "-" + std::to_string(i), i);
}

task<void> bump_via_queue(troupe::queue<int> q, int n) {
  for (int i = 0; i < n; ++i) (void)co_await q.put(i);
}

}  // namespace

TEST_SUITE("manager") {

TEST_CASE("a list answers as a Python list: indexes from both ends, slices, pop, insert, errors") {
  run_test([]() -> task<void> {
    std::vector<std::string> initial{"a", "b"}, more{"d", "e"};
    auto l = list_proxy<std::string>::make(std::move(initial));
    co_await l.append("c");
    co_await l.extend(std::move(more));
    CHECK((co_await l.len()).value() == 5);
    CHECK((co_await l.get(0)).value() == "a");
    CHECK((co_await l.get(-1)).value() == "e");
    CHECK((co_await l.get(5)).code() == errc::out_of_range);
    CHECK((co_await l.get(-6)).code() == errc::out_of_range);
    CHECK((co_await l.set(-2, "D")).has_value());
    CHECK((co_await l.set(9, "x")).code() == errc::out_of_range);
    CHECK((co_await l.insert(0, "start")).has_value());
    CHECK((co_await l.insert(100, "end")).has_value());
    const std::vector<std::string> middle{"a", "b", "c", "D", "e"}, tail{"e", "end"};
    CHECK((co_await l.slice(1, -1)).value() == middle);
    CHECK((co_await l.slice(-2, 100)).value() == tail);
    CHECK((co_await l.slice(4, 2)).value().empty());
    CHECK((co_await l.pop()).value() == "end");
    CHECK((co_await l.pop(0)).value() == "start");
    CHECK((co_await l.snapshot()).value() == middle);
    CHECK((co_await l.clear()).has_value());
    CHECK((co_await l.pop()).code() == errc::out_of_range);
    CHECK((co_await l.sync()).value() == 0);
    l.shutdown();
  });
}

TEST_CASE("a dict answers as a Python dict: get, get_or, setdefault, pop, update, snapshots in key order") {
  run_test([]() -> task<void> {
    std::map<std::string, int> initial{{"one", 1}}, more{{"three", 3}, {"one", 10}};
    auto d = dict_proxy<std::string, int>::make(std::move(initial));
    co_await d.set("two", 2);
    co_await d.update(more);
    CHECK((co_await d.len()).value() == 3);
    CHECK((co_await d.get("one")).value() == 10);
    auto missing = co_await d.get("four");
    CHECK(missing.code() == errc::not_found);
    CHECK(missing.error().message.find("four") != std::string::npos);
    CHECK((co_await d.get_or("four", 4)).value() == 4);
    CHECK((co_await d.setdefault("four", 4)).value() == 4);
    CHECK((co_await d.setdefault("four", 40)).value() == 4);
    CHECK((co_await d.contains("two")).value());
    CHECK((co_await d.pop("two")).value() == 2);
    CHECK_FALSE((co_await d.contains("two")).value());
    CHECK((co_await d.pop("two")).code() == errc::not_found);
    const std::vector<std::string> keys{"four", "one", "three"};
    const std::vector<int> values{4, 10, 3};
    const std::map<std::string, int> all{{"four", 4}, {"one", 10}, {"three", 3}};
    CHECK((co_await d.keys()).value() == keys);
    CHECK((co_await d.values()).value() == values);
    CHECK((co_await d.copy()).value() == all);
    CHECK((co_await d.clear()).has_value());
    CHECK((co_await d.items()).value().empty());
    d.shutdown();
  });
}

TEST_CASE("processes append to a list in a manager process; every item arrives, each producer's in order") {
  run_test([]() -> task<void> {
    auto m = troupe::manager::start();
    auto l = (co_await m.list<entry>()).value();
    std::vector<process> producers;
    for (int p = 0; p < 4; ++p) producers.emplace_back(append_entries, l, p, 2500);
    for (auto& p : producers) p.start();
    for (auto& p : producers) {
      co_await p.join();
      CHECK(p.exitcode() == 0);
    }
    // The producers returned right after their last append, without a
    // reply: their appends must all be there.
    auto all = (co_await l.snapshot()).value();
    REQUIRE(all.size() == 10'000);
    std::map<int, int> next;
    for (const auto& e : all) {
      CHECK(e.seq == next[e.producer]);
      next[e.producer] = e.seq + 1;
    }
    co_await m.shutdown();
    CHECK_FALSE(m.is_alive());
  });
}

TEST_CASE("processes fill a dict in a manager process") {
  run_test([]() -> task<void> {
    auto m = troupe::manager::start();
    auto d = (co_await m.dict<std::string, int>()).value();
    process a(fill_dict, d, 0, 300), b(fill_dict, d, 1, 300);
    a.start();
    b.start();
    co_await a.join();
    co_await b.join();
    CHECK((co_await d.len()).value() == 600);
    CHECK((co_await d.get("p1-299")).value() == 299);
    co_await m.shutdown();
  });
}

TEST_CASE("a queue served by the manager process carries items between processes") {
  run_test([]() -> task<void> {
    auto m = troupe::manager::start();
    auto q = (co_await m.queue<int>(8)).value();
    process p(bump_via_queue, q, 100);
    p.start();
    for (int i = 0; i < 100; ++i) CHECK((co_await q.get(10s)).value() == i);
    co_await p.join();
    co_await m.shutdown();
  });
}

TEST_CASE("a client killed while appending leaves a usable list holding an unbroken prefix of its items") {
  run_test([]() -> task<void> {
    auto m = troupe::manager::start();
    auto l = (co_await m.list<int>()).value();
    process p(append_until_killed, l);
    p.start();
    auto t0 = std::chrono::steady_clock::now();
    while ((co_await l.len()).value() < 2000 && std::chrono::steady_clock::now() - t0 < 20s)
      (void)co_await troupe::sleep_for(1ms);
    p.kill();
    co_await p.join();
    CHECK(p.exitcode() == -9);
    auto all = (co_await l.snapshot()).value();
    REQUIRE(all.size() >= 2000);
    bool prefix = true;
    for (std::size_t i = 0; i < all.size(); ++i) prefix = prefix && all[i] == static_cast<int>(i);
    CHECK(prefix);
    co_await l.append(-1);
    CHECK((co_await l.get(-1)).value() == -1);
    co_await m.shutdown();
  });
}

TEST_CASE("when the manager process dies, reads report peer_down and pipelined writes do not hang") {
  run_test([]() -> task<void> {
    auto m = troupe::manager::start();
    auto l = (co_await m.list<int>()).value();
    co_await l.append(1);
    CHECK((co_await l.sync()).value() == 1);
    m.process_handle().kill();
    co_await m.process_handle().join();
    for (int i = 0; i < 1000; ++i) co_await l.append(i);
    CHECK((co_await l.len()).code() == errc::peer_down);
    CHECK((co_await l.get(0)).code() == errc::peer_down);
  });
}

}  // TEST_SUITE
