#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

#include <troupe.hpp>

using namespace std::chrono_literals;
using troupe::errc;
using troupe::task;

namespace {

struct add {
  int n = 0;
};
struct get {
  using response = int;
};
struct boom {
  using response = int;
};
struct unknown_to_counter {
  using response = int;
};

task<void> counter(troupe::inbox<add, get, boom> self, int start) {
  int total = start;
  for (;;) {
    auto m = co_await self.receive();
    if (!m) co_return;
    m->visit([&](add& a) { total += a.n; },
             [&](get&) { return total; },
             [&](boom&) -> int { throw std::runtime_error("counter exploded"); });
  }
}

// The same counter as a class with handler overloads.
class counter_class {
 public:
  using messages = troupe::message_list<add, get>;
  explicit counter_class(int start) : total_(start) {}
  void on(add a) { total_ += a.n; }
  int on(get) const { return total_; }

 private:
  int total_;
};

struct slow_get {
  using response = int;
  int delay_ms = 0;
};
class async_handler_actor {
 public:
  using messages = troupe::message_list<slow_get>;
  task<int> on(slow_get g) {
    (void)co_await troupe::sleep_for(std::chrono::milliseconds(g.delay_ms));
    co_return g.delay_ms * 2;
  }
};

struct never_replies {
  using response = int;
};
task<void> dropper(troupe::inbox<never_replies> self) {
  for (;;) {
    auto m = co_await self.receive();
    if (!m) co_return;
    // The letter goes out of scope unanswered.
  }
}

struct read_name {
  using response = std::string;
};
// Replies with an lvalue it keeps: the reply must be a copy.
task<void> name_keeper(troupe::inbox<read_name> self) {
  std::string name = "kept";
  for (;;) {
    auto m = co_await self.receive();
    if (!m) co_return;
    m->reply(name);
  }
}

task<void> ends_at_once(troupe::inbox<add>) { co_return; }
task<void> throws_at_once(troupe::inbox<add>) {
  throw std::logic_error("bad start");
  co_return;
}

struct ping {
  troupe::actor_ref reply_to;
  int n = 0;
};
struct pong {
  int n = 0;
};

task<void> ponger(troupe::inbox<ping> self) {
  for (;;) {
    auto m = co_await self.receive();
    if (!m) co_return;
    auto& p = m->get<ping>();
    co_await p.reply_to.send(pong{p.n});
  }
}

// Requests stop after `delay`, so a wait started meanwhile is cancelled in flight.
task<errc> stop_after(std::chrono::milliseconds delay, std::stop_source s) {
  (void)co_await troupe::sleep_for(delay);
  s.request_stop();
  co_return errc::ok;
}

template <class T>
T run(troupe::runtime& rt, task<T> t) {
  return rt.block_on(std::move(t));
}

}  // namespace

TEST_SUITE("runtime") {

TEST_CASE("a receive-loop actor answers requests with the state its messages built") {
  troupe::runtime rt;
  auto ref = troupe::spawn(rt, counter, 10);
  auto body = [](troupe::actor_ref c) -> task<int> {
    for (int i = 1; i <= 5; ++i) co_await c.send(add{i});
    co_return (co_await c.request(get{})).value();
  };
  CHECK(run(rt, body(ref)) == 25);
}

TEST_CASE("a reply given as an lvalue is copied: the replier keeps its object") {
  troupe::runtime rt;
  auto ref = troupe::spawn(rt, name_keeper);
  auto body = [](troupe::actor_ref k) -> task<int> {
    int same = 0;
    for (int i = 0; i < 3; ++i) same += (co_await k.request(read_name{})).value() == "kept" ? 1 : 0;
    co_return same;
  };
  CHECK(run(rt, body(ref)) == 3);
  rt.stop(ref);
}

TEST_CASE("a class actor dispatches each message type to its handler overload") {
  troupe::runtime rt;
  auto ref = troupe::spawn<counter_class>(rt, 100);
  auto body = [](troupe::actor_ref c) -> task<int> {
    co_await c.send(add{-1});
    co_return (co_await c.request(get{})).value();
  };
  CHECK(run(rt, body(ref)) == 99);
}

TEST_CASE("an asynchronous handler's result is the reply, and messages are handled one at a time") {
  troupe::runtime rt;
  auto ref = troupe::spawn<async_handler_actor>(rt);
  auto body = [](troupe::actor_ref a) -> task<std::vector<int>> {
    auto ask = [](troupe::actor_ref to, int ms) -> task<int> { co_return (co_await to.request(slow_get{ms})).value(); };
    auto [x, y] = co_await troupe::when_all(ask(a, 20), ask(a, 1));
    co_return std::vector<int>{x, y};
  };
  CHECK(run(rt, body(ref)) == std::vector<int>{40, 2});
}

TEST_CASE("a request to an actor that never replies times out with timeout") {
  troupe::runtime rt;
  // A standalone inbox that nobody reads stands for an actor that is stuck.
  auto silent = troupe::open_inbox<get>(rt);
  auto body = [](troupe::actor_ref s) -> task<errc> {
    auto t0 = std::chrono::steady_clock::now();
    auto r = co_await s.request(get{}, 30ms);
    CHECK(std::chrono::steady_clock::now() - t0 >= 30ms);
    co_return r.code();
  };
  CHECK(run(rt, body(silent.ref())) == errc::timeout);
}

TEST_CASE("a request dropped without a reply fails with broken_promise") {
  troupe::runtime rt;
  auto ref = troupe::spawn(rt, dropper);
  auto body = [](troupe::actor_ref d) -> task<errc> { co_return (co_await d.request(never_replies{})).code(); };
  CHECK(run(rt, body(ref)) == errc::broken_promise);
}

TEST_CASE("a cancelled request resumes with cancelled") {
  troupe::runtime rt;
  auto silent = troupe::open_inbox<get>(rt);
  auto body = [](troupe::actor_ref s) -> task<errc> {
    std::stop_source stop;
    auto asker = [](troupe::actor_ref to, std::stop_token st) -> task<errc> {
      co_return (co_await to.request(get{}, 10s, st)).code();
    };
    auto [code, _] = co_await troupe::when_all(asker(s, stop.get_token()), stop_after(2ms, stop));
    co_return code;
  };
  CHECK(run(rt, body(silent.ref())) == errc::cancelled);
}

TEST_CASE("a request of a type the actor does not accept fails with unexpected_message") {
  troupe::runtime rt;
  auto ref = troupe::spawn(rt, counter, 0);
  auto body = [](troupe::actor_ref c) -> task<troupe::result<int>> {
    co_return co_await c.request(unknown_to_counter{});
  };
  auto r = run(rt, body(ref));
  REQUIRE(r.code() == errc::unexpected_message);
  CHECK(r.error().message.find("unknown_to_counter") != std::string::npos);
  CHECK(rt.stats().unexpected == 1);
}

TEST_CASE("a request to an actor that no longer exists fails with no_actor at once") {
  troupe::runtime rt;
  auto ref = troupe::spawn(rt, ends_at_once);
  auto watcher = troupe::open_inbox<troupe::down>(rt);
  watcher.monitor(ref);
  auto body = [](troupe::actor_ref gone, troupe::inbox<troupe::down>& w) -> task<errc> {
    (void)(co_await w.receive(5s)).value();  // it has ended
    co_return (co_await gone.request(get{}, 10s)).code();
  };
  CHECK(run(rt, body(ref, watcher)) == errc::no_actor);
}

TEST_CASE("a handler that throws fails the request with the exception and ends the actor") {
  troupe::runtime rt;
  auto ref = troupe::spawn(rt, counter, 0);
  auto watcher = troupe::open_inbox<troupe::down>(rt);
  watcher.monitor(ref);
  auto body = [](troupe::actor_ref c, troupe::inbox<troupe::down>& w) -> task<troupe::down> {
    auto r = co_await c.request(boom{});
    REQUIRE(r.code() == errc::remote_exception);
    CHECK(r.error().message.find("counter exploded") != std::string::npos);
    CHECK(r.error().message.find("std::runtime_error") != std::string::npos);
    auto d = co_await w.receive(5s);
    co_return d.value().get<troupe::down>();
  };
  auto d = run(rt, body(ref, watcher));
  CHECK(d.who == ref);
  CHECK(d.reason.what == troupe::exit_reason::kind::exception);
  CHECK(d.reason.type == "std::runtime_error");
  CHECK(d.reason.message == "counter exploded");
  CHECK_FALSE(rt.alive(ref));
}

TEST_CASE("monitors get exactly one down with the reason: normal, exception, stopped, no_actor") {
  troupe::runtime rt;
  auto watcher = troupe::open_inbox<troupe::down>(rt);
  auto normal = troupe::spawn(rt, ends_at_once);
  auto thrown = troupe::spawn(rt, throws_at_once);
  auto stopped = troupe::spawn(rt, counter, 0);
  watcher.monitor(normal);
  watcher.monitor(thrown);
  watcher.monitor(stopped);
  rt.stop(stopped);
  watcher.monitor(troupe::actor_ref(rt.node(), 999));
  auto body = [](troupe::inbox<troupe::down>& w) -> task<std::vector<troupe::down>> {
    std::vector<troupe::down> downs;
    for (int i = 0; i < 4; ++i) downs.push_back((co_await w.receive(5s)).value().get<troupe::down>());
    // Nothing more arrives.
    CHECK((co_await w.receive(20ms)).code() == errc::timeout);
    co_return downs;
  };
  auto downs = run(rt, body(watcher));
  auto reason_of = [&](troupe::actor_ref who) {
    for (auto& d : downs)
      if (d.who == who) return d.reason.what;
    FAIL("no down for ", who.to_string());
    return troupe::exit_reason::kind::normal;
  };
  CHECK(reason_of(normal) == troupe::exit_reason::kind::normal);
  CHECK(reason_of(thrown) == troupe::exit_reason::kind::exception);
  CHECK(reason_of(stopped) == troupe::exit_reason::kind::stopped);
  CHECK(reason_of(troupe::actor_ref(rt.node(), 999)) == troupe::exit_reason::kind::no_actor);
}

TEST_CASE("a stopped actor's queued requests fail at once instead of timing out") {
  troupe::runtime rt;
  auto silent = std::make_unique<troupe::inbox<get>>(rt);
  auto body = [](std::unique_ptr<troupe::inbox<get>>& s) -> task<errc> {
    auto asker = [](troupe::actor_ref to) -> task<errc> { co_return (co_await to.request(get{}, 10s)).code(); };
    auto closer = [](std::unique_ptr<troupe::inbox<get>>& box) -> task<errc> {
      (void)co_await troupe::sleep_for(2ms);
      box.reset();
      co_return errc::ok;
    };
    auto [code, _] = co_await troupe::when_all(asker(s->ref()), closer(s));
    co_return code;
  };
  CHECK(run(rt, body(silent)) == errc::no_actor);
}

TEST_CASE("a sender to a full mailbox suspends until the receiver takes a message") {
  troupe::runtime_options opts;
  opts.mailbox_bound = 4;
  troupe::runtime rt(opts);
  auto box = troupe::open_inbox<add>(rt);
  auto body = [](troupe::inbox<add>& b) -> task<void> {
    int sent = 0;
    auto producer = [](troupe::actor_ref to, int& count) -> task<void> {
      for (int i = 0; i < 10; ++i) {
        co_await to.send(add{i});
        ++count;
      }
    };
    auto consumer = [](troupe::inbox<add>& in, int& count) -> task<void> {
      // when_all started the producer first: it filled the mailbox and is
      // suspended on its fifth send before this line runs.
      CHECK(count == 4);
      CHECK(in.size() == 4);
      int expect = 0;
      for (int i = 0; i < 10; ++i) {
        auto m = co_await in.receive(1s);
        CHECK(m.value().get<add>().n == expect++);
        CHECK(in.size() <= 4);
      }
    };
    co_await troupe::when_all(producer(b.ref(), sent), consumer(b, sent));
    CHECK(sent == 10);
  };
  run(rt, body(box));
  CHECK(box.size() == 0);
}

TEST_CASE("try_send reports a full mailbox without suspending") {
  troupe::runtime_options opts;
  opts.mailbox_bound = 2;
  troupe::runtime rt(opts);
  auto box = troupe::open_inbox<add>(rt);
  CHECK(box.ref().try_send(add{1}));
  CHECK(box.ref().try_send(add{2}));
  CHECK_FALSE(box.ref().try_send(add{3}));
  CHECK(box.size() == 2);
}

TEST_CASE("a receive with a timeout resumes with timeout, and a cancelled one with cancelled") {
  troupe::runtime rt;
  auto box = troupe::open_inbox<add>(rt);
  auto body = [](troupe::inbox<add>& b) -> task<void> {
    CHECK((co_await b.receive(5ms)).code() == errc::timeout);
    CHECK((co_await b.receive(0ms)).code() == errc::timeout);
    std::stop_source stop;
    stop.request_stop();
    CHECK((co_await b.receive(1s, stop.get_token())).code() == errc::cancelled);
  };
  run(rt, body(box));
}

TEST_CASE("a receive cancelled while waiting resumes with cancelled and the inbox still works") {
  troupe::runtime rt;
  auto box = troupe::open_inbox<add>(rt);
  auto body = [](troupe::inbox<add>& b) -> task<void> {
    std::stop_source stop;
    auto receiver = [](troupe::inbox<add>& in, std::stop_token st) -> task<errc> {
      co_return (co_await in.receive(10s, st)).code();
    };
    auto [code, _] = co_await troupe::when_all(receiver(b, stop.get_token()), stop_after(2ms, stop));
    CHECK(code == errc::cancelled);
    co_await b.ref().send(add{3});
    CHECK((co_await b.receive(1s)).value().get<add>().n == 3);
  };
  run(rt, body(box));
}

TEST_CASE("actors exchange messages carrying refs, in order") {
  troupe::runtime rt;
  auto p = troupe::spawn(rt, ponger);
  auto me = troupe::open_inbox<pong>(rt);
  auto body = [](troupe::actor_ref pg, troupe::inbox<pong>& self) -> task<int> {
    int last = -1;
    for (int i = 0; i < 1000; ++i) {
      co_await pg.send(ping{self.ref(), i});
      auto m = co_await self.receive(1s);
      int n = m.value().get<pong>().n;
      CHECK(n == last + 1);
      last = n;
    }
    co_return last;
  };
  CHECK(run(rt, body(p, me)) == 999);
}

TEST_CASE("large messages that do not fit inline still arrive intact") {
  struct big {
    std::array<char, 512> data{};
    int tag = 0;
  };
  troupe::runtime rt;
  auto box = troupe::open_inbox<big>(rt);
  big b;
  b.data.fill('q');
  b.tag = 7;
  CHECK(box.ref().try_send(b));
  auto body = [](troupe::inbox<big>& in) -> task<big> { co_return (co_await in.receive(1s)).value().get<big>(); };
  auto got = run(rt, body(box));
  CHECK(got.tag == 7);
  CHECK(got.data[511] == 'q');
}

TEST_CASE("runtime shutdown stops every actor and leaves no handle open") {
  auto rt = std::make_unique<troupe::runtime>();
  for (int i = 0; i < 100; ++i) (void)troupe::spawn(*rt, counter, i);
  CHECK(rt->actor_count() == 100);
  auto body = []() -> task<void> { (void)co_await troupe::sleep_for(1ms); };
  rt->block_on(body());
  CHECK(rt->loop().live_handles() == 0);
  rt.reset();
}

TEST_CASE("refs compare, hash and encode as values") {
  troupe::actor_ref a(1, 2), b(1, 3);
  CHECK(a != b);
  CHECK(a < b);
  CHECK(std::hash<troupe::actor_ref>{}(a) != std::hash<troupe::actor_ref>{}(b));
  auto bytes = troupe::wire::to_bytes(ping{a, 5});
  auto back = troupe::wire::from_bytes<ping>(bytes);
  REQUIRE(back.has_value());
  CHECK(back->reply_to == a);
  CHECK(back->n == 5);
  CHECK_FALSE(troupe::actor_ref{});
}

}  // TEST_SUITE
