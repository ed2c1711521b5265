// The pool: results in order and exactly once, failures as values, dead and
// stuck workers replaced with their calls retried, and a clean end however
// the pool is left.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <troupe.hpp>

#include "tests/support/run_test.hpp"
#include "tests/support/sanitizers.hpp"


using namespace std::chrono_literals;
using troupe::errc;
using troupe::task;
using troupe::task_error;
using troupe::task_failure;
using troupe::testing::run_test;

namespace {

long square(int x) { return static_cast<long>(x) * x; }
int add(int a, int b) { return a + b; }
int my_pid(int) { return static_cast<int>(::getpid()); }
void nothing(int) {}
std::string shout(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s + "!";
}
task<int> twice_later(int x) {
  (void)co_await troupe::sleep_for(1ms);
  co_return 2 * x;
}

int fail_on_seven(int x) {
  if (x == 7) throw std::invalid_argument("seven is not allowed");
  return x;
}

// Creates `marker` and kills its own process the first time; returns x on
// every later call.
int die_once(int x, std::string marker) {
  int fd = ::open(marker.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
  if (fd >= 0) {
    ::close(fd);
    ::raise(SIGKILL);
  }
  return x;
}

int die_on_thirteen(int x) {
  if (x == 13) ::raise(SIGKILL);
  return x;
}

int segfault_on_three(int x) {
  if (x == 3) {
    volatile int* nowhere = nullptr;
    *nowhere = 1;
  }
  return x;
}

long slow_square(int x) {
  ::usleep(1'000);
  return static_cast<long>(x) * x;
}

// SIGKILLs a random worker of `p` every 100 ms until `done`.
task<void> kill_workers(troupe::pool& p, const bool& done, int& kills) {
  unsigned seed = 12345;
  while (!done) {
    (void)co_await troupe::sleep_for(100ms);
    auto pids = p.worker_pids();
    if (done || pids.empty()) continue;
    seed = seed * 1103515245u + 12345u;
    if (::kill(pids[(seed >> 16) % pids.size()], SIGKILL) == 0) ++kills;
  }
}

task<void> map_then_stop(troupe::pool& p, std::vector<int> xs, std::vector<long>& out, bool& done) {
  // The killer stops however the map ends: a map that throws must fail the
  // test, not leave the killer running for ever.
  struct stop_killer {
    bool& done;
    ~stop_killer() { done = true; }
  } guard{done};
  out = co_await p.map(slow_square, std::move(xs), std::size_t{1});
}

int exit_on_five(int x) {
  if (x == 5) std::exit(3);
  return x;
}

int sleep_on_two(int x) {
  if (x == 2) ::usleep(20'000'000);
  return x;
}

int slow_identity(int x) {
  ::usleep(2'000);
  return x;
}

int long_task(int x) {
  ::usleep(30'000'000);
  return x;
}

int greeting_value = 0;
void set_greeting(int v) { greeting_value = v; }
int read_greeting(int) { return greeting_value; }
void failing_initializer() { throw std::runtime_error("no database"); }
void crashing_initializer() { std::abort(); }

// No longer running: gone, or dead and waiting to be reaped (an orphan's
// zombie is reaped by init, on init's schedule).
bool pid_gone(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(f, stat)) return true;
  auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] == 'Z' || stat[paren + 2] == 'X';
}

// Reads a stream to its end: the values, and the failures met on the way
// (imap goes on past each).
template <class R>
struct drained {
  std::vector<R> values;
  std::vector<task_error> failures;
};
template <class R>
task<drained<R>> drain(troupe::pool_stream<R>& s) {
  drained<R> out;
  for (;;) {
    try {
      auto v = co_await s.next();
      if (!v) break;
      out.values.push_back(std::move(*v));
    } catch (const task_error& e) {
      out.failures.push_back(e);
    }
  }
  co_return out;
}

using troupe::testing::eventually;

std::string temp_marker(const char* name) {
  auto p = std::filesystem::temp_directory_path() / (std::string("troupe-pool-") + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove(p);
  return p.string();
}

// The owner of a pool, in its own process: reports its workers' pids, then
// waits in a long map until it is interrupted.
task<int> pool_owner(troupe::queue<int> pids) {
  ::signal(SIGINT, SIG_DFL);
  troupe::pool p(troupe::pool_options{.processes = 2});
  std::vector<int> four(4);
  auto workers = co_await p.map(my_pid, four, std::size_t{1});
  for (int pid : workers) (void)(co_await pids.put(pid)).value();
  std::vector<int> xs(8);
  (void)co_await p.map(long_task, xs, std::size_t{1});
  co_return 0;
}

}  // namespace

TEST_SUITE("pool") {

TEST_CASE("map returns every result in input order, with small and large chunks") {
  run_test([]() -> task<void> {
    troupe::pool p(troupe::pool_options{.processes = 2});
    std::vector<int> xs(10'000);
    std::iota(xs.begin(), xs.end(), 0);
    auto squares = co_await p.map(square, xs);
    REQUIRE(squares.size() == xs.size());
    for (int i = 0; i < 10'000; ++i) CHECK(squares[static_cast<std::size_t>(i)] == static_cast<long>(i) * i);
    auto again = co_await p.map(square, xs, std::size_t{1});
    CHECK(again == squares);
    std::vector<std::string> texts{"a", "bc", ""};
    auto words = co_await p.map(shout, texts);
    std::vector<std::string> shouted{"A!", "BC!", "!"};
    CHECK(words == shouted);
    std::vector<int> empty;
    auto none = co_await p.map(square, empty);
    CHECK(none.empty());
    co_await p.map(nothing, xs);
    std::vector<int> three{1, 2, 3};
    auto doubled = co_await p.map(twice_later, three);
    std::vector<int> six{2, 4, 6};
    CHECK(doubled == six);
  });
}

TEST_CASE("a pool of forked workers runs the same calls, and its progress line reaches 100%") {
  run_test([]() -> task<void> {
    troupe::pool p(troupe::pool_options{.processes = 2, .method = troupe::start_method::fork});
    std::vector<int> xs(300);
    std::iota(xs.begin(), xs.end(), 0);
    troupe::map_options o;
    o.progress_line = true;
    auto got = co_await p.map(square, xs, std::move(o));
    CHECK(got.size() == 300);
    CHECK(got[299] == 299L * 299);
  });
}

TEST_CASE("starmap, apply and apply_async run calls with several arguments") {
  run_test([]() -> task<void> {
    troupe::pool p(troupe::pool_options{.processes = 2});
    std::vector<std::tuple<int, int>> pairs{{1, 2}, {3, 4}, {5, 6}};
    auto sums = co_await p.starmap(add, pairs);
    std::vector<int> want{3, 7, 11};
    CHECK(sums == want);
    CHECK((co_await p.apply(add, 20, 22)) == 42);
    auto r = p.apply_async(square, 12);
    CHECK((co_await r.wait(10s)));
    CHECK(r.ready());
    CHECK(r.successful());
    CHECK((co_await r.get()) == 144);
    int worker = co_await p.apply(my_pid, 0);
    CHECK(worker != static_cast<int>(::getpid()));
  });
}

TEST_CASE("callbacks get the value or the failure on the pool's thread") {
  run_test([]() -> task<void> {
    troupe::pool p(troupe::pool_options{.processes = 2});
    long got = 0;
    std::string failure;
    auto ok = p.apply_async(square, 9);
    ok.then([&got](const long& v) { got = v; });
    auto bad = p.apply_async(fail_on_seven, 7);
    bad.then([](const int&) {}, [&failure](const task_error& e) { failure = e.type(); });
    auto both = [&] { return got == 81 && !failure.empty(); };
    CHECK((co_await eventually(both)));
    CHECK(failure == "std::invalid_argument");
    // Registered after the fact, a callback runs at once.
    long late = 0;
    ok.then([&late](const long& v) { late = v; });
    CHECK(late == 81);
  });
}

TEST_CASE("an exception in a call is that call's error, with type, message, pid and stack; the pool goes on") {
  run_test([]() -> task<void> {
    troupe::pool p(troupe::pool_options{.processes = 2});
    bool thrown = false;
    try {
      co_await p.apply(fail_on_seven, 7);
    } catch (const task_error& e) {
      thrown = true;
      CHECK(e.cause() == task_failure::exception);
      CHECK(e.type() == "std::invalid_argument");
      CHECK(e.message() == "seven is not allowed");
      CHECK(e.pid() != static_cast<int>(::getpid()));
      CHECK(e.pid() > 0);
      CHECK(e.process_name().find("pool-worker-") == 0);
      // Sanitizer builds take no throw traces.
      if (!e.stack().empty()) CHECK(e.stack().find("fail_on_seven") != std::string::npos);
    }
    CHECK(thrown);
    auto r = p.apply_async(fail_on_seven, 7);
    CHECK_FALSE((co_await r.wait(10s)) == false);
    CHECK_FALSE(r.successful());
    // map waits for every call, then reports the first failure.
    std::vector<int> xs(20);
    std::iota(xs.begin(), xs.end(), 0);
    bool map_threw = false;
    try {
      (void)co_await p.map(fail_on_seven, xs, std::size_t{3});
    } catch (const task_error& e) {
      map_threw = e.message() == "seven is not allowed";
    }
    CHECK(map_threw);
    // imap goes on past the failure.
    auto s = p.imap(fail_on_seven, xs);
    auto got = co_await drain(s);
    CHECK(got.failures.size() == 1);
    CHECK(got.values.size() == 19);
    CHECK((co_await p.apply(square, 3)) == 9);
  });
}

TEST_CASE("imap keeps input order; imap_unordered delivers every result exactly once") {
  run_test([]() -> task<void> {
    troupe::pool p(troupe::pool_options{.processes = 2});
    std::vector<int> xs(500);
    std::iota(xs.begin(), xs.end(), 0);
    auto ordered = p.imap(slow_identity, xs, troupe::imap_options{.chunksize = 7});
    int expect = 0;
    while (auto v = co_await ordered.next()) CHECK(*v == expect++);
    CHECK(expect == 500);
    auto any = p.imap_unordered(slow_identity, xs);
    std::multiset<int> got;
    while (auto v = co_await any.next()) got.insert(*v);
    CHECK(got.size() == 500);
    CHECK(std::set<int>(got.begin(), got.end()).size() == 500);
  });
}

TEST_CASE("imap runs at most its window ahead of a slow reader") {
  run_test([]() -> task<void> {
    troupe::pool p(troupe::pool_options{.processes = 2});
    std::vector<int> xs(400);
    std::iota(xs.begin(), xs.end(), 0);
    auto s = p.imap(square, xs, troupe::imap_options{.chunksize = 1, .window = 10});
    std::size_t taken = 0;
    while (auto v = co_await s.next()) {
      ++taken;
      // Let the workers run as far ahead as they may.
      (void)co_await troupe::sleep_for(200us);
      CHECK(p.stats().tasks_completed <= taken + 10);
    }
    CHECK(taken == 400);
  });
}

TEST_CASE("a worker killed during a call is replaced and the call runs again") {
  run_test([]() -> task<void> {
    auto marker = temp_marker("die-once");
    troupe::pool p(troupe::pool_options{.processes = 2});
    std::vector<std::tuple<int, std::string>> calls;
    for (int i = 0; i < 50; ++i) calls.emplace_back(i, marker);
    troupe::map_options fives;
    fives.chunksize = 5;
    auto got = co_await p.starmap(die_once, calls, std::move(fives));
    std::vector<int> want(50);
    std::iota(want.begin(), want.end(), 0);
    CHECK(got == want);
    CHECK(p.stats().workers_died == 1);
    CHECK(p.stats().calls_retried >= 1);
    auto full_strength = [&] { return p.stats().workers_alive == 2; };
    CHECK((co_await eventually(full_strength)));
    std::filesystem::remove(marker);
  });
}

TEST_CASE("a call that kills every worker it runs on fails alone with the signal and pid; the rest completes") {
  run_test([]() -> task<void> {
    troupe::pool p(troupe::pool_options{.processes = 2});
    std::vector<int> xs(40);
    std::iota(xs.begin(), xs.end(), 0);
    auto s = p.imap(die_on_thirteen, xs, troupe::imap_options{.chunksize = 4});
    auto got = co_await drain(s);
    const auto& seen = got.values;
    REQUIRE(got.failures.size() == 1);
    const task_error& e = got.failures.front();
    CHECK(e.cause() == task_failure::worker_lost);
    CHECK(e.exitcode() == -SIGKILL);
    CHECK(e.attempts() == 3);
    CHECK(e.pid() > 0);
    CHECK(e.message().find("signal 9") != std::string::npos);
    CHECK(seen.size() == 39);
    CHECK(std::find(seen.begin(), seen.end(), 13) == seen.end());
    CHECK(p.stats().workers_died == 3);
    // Still at full strength.
    std::vector<int> two{1, 2};
    auto squares = co_await p.map(square, two);
    std::vector<long> want{1, 4};
    CHECK(squares == want);
  });
}

TEST_CASE("exit() in a call is a lost worker with its exit status") {
  run_test([]() -> task<void> {
    troupe::pool p(troupe::pool_options{.processes = 1, .retries = 1});
    auto r = p.apply_async(exit_on_five, 5);
    bool thrown = false;
    try {
      (void)co_await r.get(20s);
    } catch (const task_error& e) {
      thrown = true;
      CHECK(e.cause() == task_failure::worker_lost);
      CHECK(e.exitcode() == 3);
      CHECK(e.attempts() == 2);
    }
    CHECK(thrown);
    CHECK((co_await p.apply(exit_on_five, 4)) == 4);
  });
}

TEST_CASE("a call past its deadline fails with a timeout and its worker is replaced") {
  run_test([]() -> task<void> {
    troupe::pool p(troupe::pool_options{.processes = 2, .task_timeout = 300ms});
    auto s = p.imap(sleep_on_two, std::vector<int>{0, 1, 2, 3, 4, 5}, troupe::imap_options{.chunksize = 3});
    auto got = co_await drain(s);
    REQUIRE(got.failures.size() == 1);
    CHECK(got.failures.front().cause() == task_failure::timeout);
    CHECK(got.values == std::vector<int>{0, 1, 3, 4, 5});
    CHECK(p.stats().calls_timed_out == 1);
    auto full_strength = [&] { return p.stats().workers_alive == 2; };
    CHECK((co_await eventually(full_strength)));
  });
}

TEST_CASE("maxtasksperchild replaces workers after that many tasks") {
  run_test([]() -> task<void> {
    troupe::pool p(troupe::pool_options{.processes = 2, .maxtasksperchild = 2});
    std::vector<int> xs(12);
    auto pids = co_await p.map(my_pid, xs, std::size_t{1});
    std::set<int> distinct(pids.begin(), pids.end());
    CHECK(distinct.size() >= 6);
    CHECK(p.stats().workers_retired >= 4);
    CHECK(p.stats().workers_died == 0);
  });
}

TEST_CASE("the initializer runs in every worker first; one that throws fails every call with its reason") {
  run_test([]() -> task<void> {
    troupe::pool p(troupe::pool_options{.processes = 2}, set_greeting, 17);
    std::vector<int> eight(8);
    auto got = co_await p.map(read_greeting, eight, std::size_t{1});
    CHECK(got == std::vector<int>(8, 17));

    troupe::pool broken(troupe::pool_options{.processes = 2}, failing_initializer);
    bool thrown = false;
    try {
      (void)co_await broken.apply(square, 2);
    } catch (const task_error& e) {
      thrown = true;
      CHECK(e.cause() == task_failure::initializer);
      CHECK(e.type() == "std::runtime_error");
      CHECK(e.message().find("no database") != std::string::npos);
    }
    CHECK(thrown);
  });
}

TEST_CASE("workers that crash while starting break the pool after three tries: the call fails, nothing hangs") {
  run_test([]() -> task<void> {
    troupe::pool broken(troupe::pool_options{.processes = 2}, crashing_initializer);
    bool thrown = false;
    try {
      (void)co_await broken.apply(square, 2);
    } catch (const task_error& e) {
      thrown = true;
      CHECK(e.cause() == task_failure::start_failed);
      CHECK(e.message().find("before they are ready") != std::string::npos);
    }
    CHECK(thrown);
    CHECK(broken.stats().workers_started >= 3);
  });
}

TEST_CASE("close then join lets the work finish and the workers exit") {
  run_test([]() -> task<void> {
    troupe::pool p(troupe::pool_options{.processes = 2});
    auto pending = p.apply_async(slow_identity, 5);
    std::vector<int> pids;
    for (int i = 0; i < 4; ++i) pids.push_back(co_await p.apply(my_pid, 0));
    p.close();
    auto late = p.apply_async(square, 1);
    co_await p.join();
    CHECK((co_await pending.get()) == 5);
    bool refused = false;
    try {
      (void)co_await late.get();
    } catch (const task_error& e) {
      refused = e.cause() == task_failure::cancelled;
    }
    CHECK(refused);
    CHECK(p.stats().workers_alive == 0);
    auto all_gone = [&] { return std::all_of(pids.begin(), pids.end(), pid_gone); };
    CHECK((co_await eventually(all_gone)));
  });
}

TEST_CASE("join on a running pool is refused") {
  run_test([]() -> task<void> {
    troupe::pool p(troupe::pool_options{.processes = 1});
    bool refused = false;
    try {
      co_await p.join();
    } catch (const troupe::error_exception& e) {
      refused = e.code() == errc::invalid_argument;
    }
    CHECK(refused);
  });
}

TEST_CASE("terminate fails unfinished calls at once and ends the workers") {
  run_test([]() -> task<void> {
    troupe::pool p(troupe::pool_options{.processes = 2});
    int worker = co_await p.apply(my_pid, 0);
    auto r1 = p.apply_async(long_task, 1);
    auto r2 = p.apply_async(long_task, 2);
    auto r3 = p.apply_async(long_task, 3);
    (void)co_await troupe::sleep_for(20ms);
    auto t0 = std::chrono::steady_clock::now();
    p.terminate();
    for (auto* r : {&r1, &r2, &r3}) {
      bool cancelled = false;
      try {
        (void)co_await r->get(10s);
      } catch (const task_error& e) {
        cancelled = e.cause() == task_failure::cancelled;
      }
      CHECK(cancelled);
    }
    co_await p.join();
    CHECK(std::chrono::steady_clock::now() - t0 < 5s);
    CHECK(pid_gone(worker));
  });
}

TEST_CASE("leaving a pool's scope terminates it") {
  run_test([]() -> task<void> {
    std::vector<int> pids;
    {
      troupe::pool p(troupe::pool_options{.processes = 2});
      auto xs = std::vector<int>(4);
      pids = co_await p.map(my_pid, xs, std::size_t{1});
      auto r = p.apply_async(long_task, 1);
      (void)r;
    }
    auto all_gone = [&] { return std::all_of(pids.begin(), pids.end(), pid_gone); };
    CHECK((co_await eventually(all_gone)));
  });
}

TEST_CASE("a progress callback sees the map through to done == total") {
  run_test([]() -> task<void> {
    troupe::pool p(troupe::pool_options{.processes = 2});
    std::vector<int> xs(2000);
    std::size_t last_done = 0, last_total = 0, calls = 0;
    troupe::map_options o;
    o.chunksize = 50;
    o.progress = [&](const troupe::pool_progress& pr) {
      CHECK(pr.done >= last_done);
      last_done = pr.done;
      last_total = pr.total;
      ++calls;
    };
    (void)co_await p.map(slow_identity, xs, std::move(o));
    CHECK(calls >= 1);
    CHECK(last_done == 2000);
    CHECK(last_total == 2000);
  });
}

TEST_CASE("Ctrl-C in the pool's owner ends it and its workers, leaving no orphans") {
  run_test([]() -> task<void> {
    auto pids = troupe::queue<int>::make();
    troupe::process owner(pool_owner, pids);
    owner.start();
    std::set<int> workers;
    for (int i = 0; i < 4; ++i) workers.insert((co_await pids.get(20s)).value());
    CHECK(workers.size() >= 1);
    ::kill(owner.pid(), SIGINT);
    CHECK((co_await owner.join(10s)));
    CHECK(owner.exitcode() == -SIGINT);
    auto all_gone = [&] { return std::all_of(workers.begin(), workers.end(), pid_gone); };
    CHECK((co_await eventually(all_gone, 1000ms)));
  });
}

TEST_CASE("chaos: a map of 2,000 calls while a random worker is killed every 100 ms delivers every result once") {
  run_test([]() -> task<void> {
    troupe::pool p(troupe::pool_options{.processes = 2, .retries = 5});
    std::vector<int> xs(2000);
    std::iota(xs.begin(), xs.end(), 0);
    std::vector<long> out;
    bool done = false;
    int kills = 0;
    (void)co_await troupe::when_all(map_then_stop(p, xs, out, done), kill_workers(p, done, kills));
    REQUIRE(out.size() == 2000);
    bool all_right = true;
    for (int i = 0; i < 2000; ++i) all_right = all_right && out[static_cast<std::size_t>(i)] == static_cast<long>(i) * i;
    CHECK(all_right);
    CHECK(kills >= 3);
    CHECK(p.stats().workers_died == static_cast<std::uint64_t>(kills));
    auto full_strength = [&] { return p.stats().workers_alive == 2 && p.worker_pids().size() == 2; };
    CHECK((co_await eventually(full_strength)));
    MESSAGE("kills survived: ", kills, ", calls retried: ", p.stats().calls_retried);
  });
}

TEST_CASE("a call that segfaults its worker every time is reported and the rest of the map completes") {
  run_test([]() -> task<void> {
    troupe::pool p(troupe::pool_options{.processes = 2});
    std::vector<int> xs(10);
    std::iota(xs.begin(), xs.end(), 0);
    auto s = p.imap(segfault_on_three, xs, troupe::imap_options{.chunksize = 2});
    auto got = co_await drain(s);
    REQUIRE(got.failures.size() == 1);
    const task_error& e = got.failures.front();
    CHECK(e.cause() == task_failure::worker_lost);
    CHECK(e.attempts() == 3);
    // AddressSanitizer turns the fault into a report and exit status 1.
    CHECK((e.exitcode() == -SIGSEGV || (TROUPE_TEST_ASAN && e.exitcode() != 0)));
    CHECK(got.values.size() == 9);
  });
}

}  // TEST_SUITE
