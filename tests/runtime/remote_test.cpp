// Processes and the actors in them: the Process API, links, remote
// messages, requests, monitors, errors and crashes. The binary re-runs
// itself as the children (troupe's own child entry).
#include <doctest/doctest.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <troupe.hpp>

#include "tests/support/run_test.hpp"
#include "tests/support/sanitizers.hpp"

#include "framework/runtime/control.hpp"
#include "framework/runtime/link.hpp"
#include "framework/transport/frame_io.hpp"
#include "framework/transport/ring.hpp"
#include "framework/transport/shm_segment.hpp"
#include "framework/transport/socket_io.hpp"
#include "framework/uv/stream.hpp"

using namespace std::chrono_literals;
using troupe::actor_ref;
using troupe::errc;
using troupe::process;
using troupe::task;

namespace {

std::uint64_t now_ms() { return troupe::uv::loop::now_ns() / 1'000'000; }

// ---- messages and actors used across processes ----

struct ping {
  using response = int;
  int n = 0;
};
struct note {
  std::string text;
  int seq = 0;
};
struct stall {
  using response = int;
};
struct whoami {
  using response = int;
};
struct fwd {
  using response = int;
  actor_ref to;
  int n = 0;
};

// Doubles pings, answers whoami with its pid, never answers stall (keeps
// the responder until it is stopped), relays fwd to another actor.
task<void> worker(troupe::inbox<ping, stall, whoami, fwd> self) {
  std::vector<troupe::responder> held;
  for (;;) {
    auto l = co_await self.receive();
    if (!l) co_return;
    if (l->is<ping>()) {
      l->reply(l->get<ping>().n * 2);
    } else if (l->is<stall>()) {
      held.push_back(l->take_responder());
    } else if (l->is<whoami>()) {
      l->reply(static_cast<int>(::getpid()));
    } else {
      auto f = l->get<fwd>();
      auto r = l->take_responder();
      auto got = co_await f.to.request(ping{f.n}, 5s);
      if (got) r.reply(*got);
      else r.fail(got.error());
    }
  }
}

class tally {
 public:
  using messages = troupe::message_list<ping, whoami>;
  explicit tally(int base) : base_(base) {}
  int on(ping p) { return base_ + p.n; }
  int on(whoami) { return static_cast<int>(::getpid()); }

 private:
  int base_;
};

// ---- process targets ----

int exit_with(int code) { return code; }
void throw_logic(std::string what) { throw std::logic_error(what); }
task<void> sleep_ms(int ms) { (void)co_await troupe::sleep_for(std::chrono::milliseconds(ms)); }

// Sends `count` numbered notes to `to`, then asks it for a ping round trip.
task<int> send_notes(actor_ref to, int count) {
  for (int i = 0; i < count; ++i) {
    note n{"n", i};  // a local, not a temporary inside co_await (g++ 12)
    co_await to.send(std::move(n));
  }
  auto r = co_await to.request(ping{21}, 10s);
  co_return r ? (*r == 42 ? 0 : 3) : 4;
}

// An actor that asks `w` something it never answers.
task<void> ask_stall(troupe::inbox<note> self, actor_ref w) {
  (void)self;
  (void)co_await w.request(stall{}, 60s);
}
// Leaves an actor waiting for an answer from the parent, and ends.
task<int> end_with_a_request_unanswered(actor_ref w) {
  (void)troupe::spawn(troupe::runtime::current(), ask_stall, w);
  // The ping's answer comes after the stall above has been sent.
  auto r = co_await w.request(ping{1}, 10s);
  co_return r ? 0 : 1;
}

// Tells `to` where it is, and on `trigger` writes garbage straight into its
// link to the parent, then waits to be cut off.
struct trigger {};
struct here {
  actor_ref who;
};
task<void> write_garbage(actor_ref to) {
  auto box = troupe::open_inbox<trigger>(troupe::runtime::current());
  co_await to.send(here{box.ref()});
  (void)co_await box.receive(30s);
  const char junk[] = "this is not a troupe frame, not even close.........................";
  (void)!::write(troupe::detail::child_link_fd, junk, sizeof junk);
  (void)co_await troupe::sleep_for(30s);
}

// As write_garbage, but with a well-formed frame that claims two file
// descriptors it does not bring (mode 0), or one that brings a descriptor
// it does not claim (mode 1). The link is on rings by then, where the
// socket carries only descriptor frames for ring frames: the lie is told
// in one of those.
task<void> write_fd_lie(actor_ref to, int mode) {
  auto box = troupe::open_inbox<trigger>(troupe::runtime::current());
  co_await to.send(here{box.ref()});
  (void)co_await box.receive(30s);
  troupe::wire::frame_header h;
  h.kind = troupe::wire::frame_kind::control;
  h.type = troupe::detail::link::ring_fds_type;
  h.fds = mode == 0 ? 2 : 0;
  std::vector<std::byte> out;
  troupe::transport::append_frame(out, h, {});
  int spare = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int fds[1] = {spare};
  (void)troupe::transport::send_some(troupe::detail::child_link_fd, out,
                                     mode == 0 ? std::span<const int>{} : std::span<const int>(fds, 1));
  (void)co_await troupe::sleep_for(30s);
}

// As write_garbage, through shared memory: finds the rings of its link to
// the parent among its own mappings, writes an impossible index into the
// one it produces, and rings every eventfd it has (the parent's doorbell
// among them).
task<void> write_ring_garbage(actor_ref to) {
  auto box = troupe::open_inbox<trigger>(troupe::runtime::current());
  co_await to.send(here{box.ref()});
  (void)co_await box.receive(30s);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  int found = 0;
  while (std::getline(maps, line)) {
    if (line.find("memfd:troupe") == std::string::npos) continue;
    auto* base = reinterpret_cast<std::byte*>(std::stoull(line.substr(0, line.find('-')), nullptr, 16));
    troupe::transport::segment_header sh;
    std::memcpy(&sh, base, sizeof sh);
    if (sh.magic != troupe::transport::segment_header::magic_value || sh.kind != troupe::transport::segment_kind::ring)
      continue;
    std::byte* payload = base + sizeof sh;
    auto* first = reinterpret_cast<troupe::transport::ring_control*>(payload);
    // This end accepted the offer: it produces into the second ring.
    auto* second = reinterpret_cast<troupe::transport::ring_control*>(
        payload + troupe::transport::ring_region_size(first->capacity));
    second->head.store(second->tail.load() + 3);
    ++found;
  }
  if (found != 1) throw std::runtime_error("found " + std::to_string(found) + " link rings");
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d)) {
      char target[64] = {};
      const std::string path = std::string("/proc/self/fd/") + e->d_name;
      if (::readlink(path.c_str(), target, sizeof target - 1) > 0 && std::string(target) == "anon_inode:[eventfd]") {
        const std::uint64_t one = 1;
        (void)!::write(std::atoi(e->d_name), &one, sizeof one);
      }
    }
    ::closedir(d);
  }
  (void)co_await troupe::sleep_for(30s);
}

// Waits for a vandal (write_garbage, write_fd_lie) to say where it is,
// monitors it, sets it off, and returns the reason of its down (nullopt if
// none came in time).
template <class Box>
task<std::optional<troupe::exit_reason>> provoke(Box& box) {
  auto where = co_await box.receive(10s);
  if (!where || !where->template is<here>()) co_return std::nullopt;
  actor_ref v = where->template get<here>().who;
  box.monitor(v);
  co_await v.send(trigger{});
  auto d = co_await box.receive(10s);
  if (!d || !d->template is<troupe::down>() || !(d->template get<troupe::down>().who == v)) co_return std::nullopt;
  co_return d->template get<troupe::down>().reason;
}

// Starts a grandchild that sleeps, reports its pid to `to`, then sleeps.
struct grandchild_pid {
  int pid = 0;
};
task<void> start_grandchild(actor_ref to) {
  process g(sleep_ms, 60'000);
  g.start();
  co_await to.send(grandchild_pid{g.pid()});
  (void)co_await troupe::sleep_for(60s);
}

// Starts a daemon child that would sleep for a minute and a regular one
// that sleeps briefly, reports both pids, and returns at once.
struct two_pids {
  int daemon = 0;
  int regular = 0;
};
task<void> parent_of_two(actor_ref to) {
  process d(troupe::process_options{.daemon = true}, sleep_ms, 60'000);
  process r(sleep_ms, 300);
  d.start();
  r.start();
  co_await to.send(two_pids{d.pid(), r.pid()});
}

// A process tree three levels deep: the root starts two branches, each
// branch one leaf; every process reports its pid to `pids` and waits to be
// killed.
task<void> tree_leaf(troupe::queue<int> pids) {
  (void)(co_await pids.put(static_cast<int>(::getpid()))).value();
  (void)co_await troupe::sleep_for(120s);
}
task<void> tree_branch(troupe::queue<int> pids) {
  process leaf(tree_leaf, pids);
  leaf.start();
  (void)(co_await pids.put(static_cast<int>(::getpid()))).value();
  (void)co_await troupe::sleep_for(120s);
}
task<void> tree_root(troupe::queue<int> pids) {
  process a(tree_branch, pids);
  process b(tree_branch, pids);
  a.start();
  b.start();
  (void)(co_await pids.put(static_cast<int>(::getpid()))).value();
  (void)co_await troupe::sleep_for(120s);
}

std::size_t dev_shm_entries() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/dev/shm")) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n;
}

// Prints `count` long numbered lines.
void print_lines(int id, int count) {
  std::string filler(600, static_cast<char>('a' + id));
  for (int i = 0; i < count; ++i) std::printf("child %d line %d %s\n", id, i, filler.c_str());
}

// ---- helpers ----

bool pid_gone(int pid) {
  if (::kill(pid, 0) != 0) return true;
  // A zombie waiting for a reaper has ended too.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(stat)), {});
  auto close = s.rfind(')');
  return close == std::string::npos || (close + 2 < s.size() && s[close + 2] == 'Z');
}

std::vector<std::string> open_fds() {
  std::vector<std::string> fds;
  DIR* d = ::opendir("/proc/self/fd");
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.' || std::atoi(e->d_name) == ::dirfd(d)) continue;
    char target[256] = {};
    (void)!::readlink(("/proc/self/fd/" + std::string(e->d_name)).c_str(), target, sizeof target - 1);
    fds.push_back(std::string(e->d_name) + " -> " + target);
  }
  ::closedir(d);
  std::sort(fds.begin(), fds.end());
  return fds;
}

using troupe::testing::run_test;

}  // namespace

TEST_SUITE("remote") {

TEST_CASE("a process runs its target with its arguments and reports the exit code") {
  run_test([]() -> task<void> {
    process p(troupe::process_options{.name = "exiter"}, exit_with, 7);
    CHECK(p.pid() == -1);
    CHECK_FALSE(p.is_alive());
    CHECK_FALSE(p.exitcode().has_value());
    p.start();
    CHECK(p.pid() > 0);
    CHECK(p.name() == "exiter");
    CHECK(co_await p.join());
    CHECK(p.exitcode() == 7);
    CHECK_FALSE(p.is_alive());
    p.close();
  });
}

TEST_CASE("join with a timeout returns false while the child runs; kill gives minus the signal") {
  run_test([]() -> task<void> {
    process p(sleep_ms, 30'000);
    p.start();
    CHECK_FALSE(co_await p.join(50ms));
    CHECK(p.is_alive());
    CHECK_THROWS_AS(p.close(), troupe::error_exception);
    p.kill();
    CHECK(co_await p.join(5s));
    CHECK(p.exitcode() == -SIGKILL);
  });
}

TEST_CASE("terminate sends SIGTERM") {
  run_test([]() -> task<void> {
    process p(sleep_ms, 30'000);
    p.start();
    p.terminate();
    CHECK(co_await p.join(5s));
    CHECK(p.exitcode() == -SIGTERM);
  });
}

TEST_CASE("an exception in the child is rethrown by join as a remote error with type, message and pid") {
  run_test([]() -> task<void> {
    for (auto method : {troupe::start_method::spawn, troupe::start_method::fork}) {
      process p(troupe::process_options{.name = "thrower", .method = method}, throw_logic, std::string("bad input"));
      p.start();
      bool caught = false;
      try {
        co_await p.join();
      } catch (const troupe::remote_error& e) {
        caught = true;
        CHECK(e.type() == "std::logic_error");
        CHECK(e.message() == "bad input");
        CHECK(e.pid() == p.pid());
        CHECK(e.process_name() == "thrower");
        CHECK(e.code() == errc::remote_exception);
        // Sanitized builds take no throw-site traces.
        if (!e.stack().empty()) CHECK(e.stack().find("throw_logic") != std::string::npos);
      }
      CHECK(caught);
      CHECK(p.exitcode() == 1);
    }
  });
}

TEST_CASE("the fork start method runs the same targets") {
  run_test([]() -> task<void> {
    process p(troupe::process_options{.method = troupe::start_method::fork}, exit_with, 9);
    p.start();
    CHECK(co_await p.join(10s));
    CHECK(p.exitcode() == 9);
  });
}

TEST_CASE("actors spawned in a child answer requests from the parent") {
  run_test([]() -> task<void> {
    for (auto method : {troupe::start_method::spawn, troupe::start_method::fork}) {
      auto host = process::host(troupe::process_options{.method = method});
      host.start();
      auto w = co_await host.spawn(worker);
      REQUIRE(w.has_value());
      CHECK(w->node() == host.node());
      auto r = co_await w->request(ping{21}, 5s);
      REQUIRE(r.has_value());
      CHECK(*r == 42);
      auto pid = co_await w->request(whoami{}, 5s);
      CHECK(pid.value() == host.pid());

      auto t = co_await host.spawn<tally>(100);
      REQUIRE(t.has_value());
      CHECK((co_await t->request(ping{5}, 5s)).value() == 105);
      host.kill();
      co_await host.join();
    }
  });
}

TEST_CASE("a child's messages arrive in order and its requests are answered") {
  run_test([]() -> task<void> {
    auto box = troupe::open_inbox<note, ping>(troupe::runtime::current());
    process p(send_notes, box.ref(), 5000);
    p.start();
    int expected = 0;
    bool answered = false;
    while (!answered) {
      auto l = co_await box.receive(10s);
      REQUIRE(l.has_value());
      if (l->is<note>()) {
        CHECK(l->get<note>().seq == expected);
        ++expected;
      } else {
        CHECK(expected == 5000);
        l->reply(l->get<ping>().n * 2);
        answered = true;
      }
    }
    co_await p.join();
    CHECK(p.exitcode() == 0);
  });
}

TEST_CASE("siblings reach each other's actors through the parent") {
  run_test([]() -> task<void> {
    auto a = process::host();
    auto b = process::host();
    a.start();
    b.start();
    auto wa = (co_await a.spawn(worker)).value();
    auto wb = (co_await b.spawn(worker)).value();
    // a's worker asks b's worker: the request and its reply pass the parent.
    auto r = co_await wa.request(fwd{wb, 8}, 5s);
    REQUIRE(r.has_value());
    CHECK(*r == 16);
  });
}

TEST_CASE("requests to a missing actor or of a type it does not accept fail with a typed error") {
  run_test([]() -> task<void> {
    auto host = process::host();
    host.start();
    auto t = (co_await host.spawn<tally>(1)).value();
    auto wrong = co_await t.request(stall{}, 5s);
    CHECK(wrong.code() == errc::unexpected_message);
    actor_ref missing(t.node(), t.id() + 1000);
    auto none = co_await missing.request(ping{1}, 5s);
    CHECK(none.code() == errc::no_actor);
    // The link is still fine.
    CHECK((co_await t.request(ping{1}, 5s)).value() == 2);
  });
}

TEST_CASE("killing a child mid-request fails the request with peer_down within 100 ms") {
  run_test([]() -> task<void> {
    auto host = process::host();
    host.start();
    auto w = (co_await host.spawn(worker)).value();
    CHECK((co_await w.request(ping{1}, 5s)).value() == 2);
    struct parts {
      static task<std::uint64_t> kill_after(process& p) {
        (void)co_await troupe::sleep_for(30ms);
        std::uint64_t at = now_ms();
        p.kill();
        co_return at;
      }
      static task<troupe::result<int>> ask(actor_ref w) { co_return co_await w.request(stall{}, 10s); }
    };
    auto [r, killed_at] = co_await troupe::when_all(parts::ask(w), parts::kill_after(host));
    std::uint64_t took = now_ms() - killed_at;
    CHECK(r.code() == errc::peer_down);
    CHECK(took < 100);
    MESSAGE("request failed " << took << " ms after SIGKILL: " << r.error().message);
  });
}

TEST_CASE("a process whose actor waits for another process's answer still exits at once") {
  run_test([]() -> task<void> {
    auto w = troupe::spawn(troupe::runtime::current(), worker);
    process p(end_with_a_request_unanswered, w);
    const auto t0 = now_ms();
    p.start();
    const bool ended = co_await p.join(20s);
    CHECK(ended);
    CHECK(p.exitcode() == 0);
    CHECK(now_ms() - t0 < 5000);  // not held until the request's 60 s timeout
    troupe::runtime::current().stop(w);
  });
}

TEST_CASE("a monitor on an actor in a child gets down with the signal when the child is killed") {
  run_test([]() -> task<void> {
    auto host = process::host();
    host.start();
    auto w = (co_await host.spawn(worker)).value();
    auto box = troupe::open_inbox<troupe::down>(troupe::runtime::current());
    box.monitor(w);
    CHECK((co_await w.request(ping{1}, 5s)).value() == 2);  // the monitor is set by now
    std::uint64_t at = now_ms();
    host.kill();
    auto d = co_await box.receive(5s);
    REQUIRE(d.has_value());
    std::uint64_t took = now_ms() - at;
    auto& down = d->get<troupe::down>();
    CHECK(down.who == w);
    CHECK(down.reason.what == troupe::exit_reason::kind::killed);
    CHECK(down.reason.code == SIGKILL);
    CHECK(took < 100);
  });
}

TEST_CASE("a monitor across processes gets the actor's own down when it is stopped") {
  run_test([]() -> task<void> {
    auto host = process::host();
    host.start();
    auto w = (co_await host.spawn(worker)).value();
    auto box = troupe::open_inbox<troupe::down>(troupe::runtime::current());
    box.monitor(w);
    troupe::runtime::current().stop(w);
    auto d = co_await box.receive(5s);
    REQUIRE(d.has_value());
    CHECK(d->get<troupe::down>().reason.what == troupe::exit_reason::kind::stopped);
    CHECK(host.is_alive());
  });
}

TEST_CASE("garbage on a child's link closes that link alone with protocol_error") {
  run_test([]() -> task<void> {
    auto good = process::host();
    good.start();
    auto gw = (co_await good.spawn(worker)).value();

    auto box = troupe::open_inbox<here, troupe::down>(troupe::runtime::current());
    process vandal(write_garbage, box.ref());
    vandal.start();
    auto why = co_await provoke(box);
    REQUIRE(why.has_value());
    CHECK(why->what == troupe::exit_reason::kind::protocol_error);
    MESSAGE("down: " << why->describe());
    // The vandal lost its link and left on its own.
    CHECK(co_await vandal.join(5s));
    CHECK(vandal.exitcode() == troupe::exit_code_parent_lost);
    // Everyone else keeps working.
    CHECK((co_await gw.request(ping{4}, 5s)).value() == 8);
  });
}

TEST_CASE("a frame that lies about its file descriptors closes that link with protocol_error") {
  run_test([]() -> task<void> {
    for (int mode = 0; mode < 2; ++mode) {
      auto box = troupe::open_inbox<here, troupe::down>(troupe::runtime::current());
      process liar(write_fd_lie, box.ref(), mode);
      liar.start();
      auto why = co_await provoke(box);
      REQUIRE(why.has_value());
      CHECK(why->what == troupe::exit_reason::kind::protocol_error);
      CHECK_MESSAGE(why->describe().find("descriptor") != std::string::npos, why->describe());
      CHECK(co_await liar.join(5s));
    }
  });
}

TEST_CASE("a child that writes an impossible index into its ring loses that link alone with protocol_error") {
  run_test([]() -> task<void> {
    auto good = process::host();
    good.start();
    auto gw = (co_await good.spawn(worker)).value();

    auto box = troupe::open_inbox<here, troupe::down>(troupe::runtime::current());
    process vandal(write_ring_garbage, box.ref());
    vandal.start();
    auto why = co_await provoke(box);
    REQUIRE(why.has_value());
    CHECK(why->what == troupe::exit_reason::kind::protocol_error);
    CHECK_MESSAGE(why->describe().find("ring") != std::string::npos, why->describe());
    CHECK(co_await vandal.join(5s));
    CHECK_MESSAGE(vandal.exitcode() == troupe::exit_code_parent_lost, vandal.exitcode());
    CHECK((co_await gw.request(ping{4}, 5s)).value() == 8);
  });
}

TEST_CASE("a child whose parent is killed exits within a second") {
  run_test([]() -> task<void> {
    auto box = troupe::open_inbox<grandchild_pid>(troupe::runtime::current());
    process middle(start_grandchild, box.ref());
    middle.start();
    auto l = co_await box.receive(10s);
    REQUIRE(l.has_value());
    int grandchild = l->get<grandchild_pid>().pid;
    CHECK_FALSE(pid_gone(grandchild));
    middle.kill();
    co_await middle.join();
    std::uint64_t at = now_ms();
    while (!pid_gone(grandchild) && now_ms() - at < 1000) (void)co_await troupe::sleep_for(5ms);
    CHECK(pid_gone(grandchild));
    MESSAGE("grandchild gone " << now_ms() - at << " ms after its parent was killed");
  });
}

TEST_CASE("a process ends by killing its daemon children and joining the others") {
  run_test([]() -> task<void> {
    auto box = troupe::open_inbox<two_pids>(troupe::runtime::current());
    process middle(parent_of_two, box.ref());
    middle.start();
    auto l = co_await box.receive(10s);
    REQUIRE(l.has_value());
    auto kids = l->get<two_pids>();
    std::uint64_t at = now_ms();
    CHECK(co_await middle.join(10s));
    CHECK(middle.exitcode() == 0);
    // It waited for the regular child (300 ms) but not for the daemon (60 s).
    CHECK(now_ms() - at >= 200);
    CHECK(now_ms() - at < 5000);
    CHECK(pid_gone(kids.regular));
    std::uint64_t wait_from = now_ms();
    while (!pid_gone(kids.daemon) && now_ms() - wait_from < 1000) (void)co_await troupe::sleep_for(5ms);
    CHECK(pid_gone(kids.daemon));
  });
}

TEST_CASE("a context and the default start method choose how processes start") {
  run_test([]() -> task<void> {
    troupe::context ctx(troupe::start_method::fork);
    auto p = ctx.make_process(exit_with, 4);
    p.start();
    CHECK(co_await p.join(10s));
    CHECK(p.exitcode() == 4);
    CHECK(troupe::get_start_method() == troupe::start_method::spawn);
    troupe::set_start_method(troupe::start_method::fork);
    process q(exit_with, 6);
    troupe::set_start_method(troupe::start_method::spawn);
    q.start();
    CHECK(co_await q.join(10s));
    CHECK(q.exitcode() == 6);
  });
}

TEST_CASE("children's output is neither lost nor interleaved within a line") {
  run_test([]() -> task<void> {
    // The children's stdout is a pipe this test reads.
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    std::fflush(stdout);
    int saved = ::dup(1);
    ::dup2(fds[1], 1);
    std::vector<process> kids;
    for (int id = 0; id < 4; ++id) kids.emplace_back(print_lines, id, 300);
    for (auto& k : kids) k.start();
    ::dup2(saved, 1);
    ::close(saved);
    ::close(fds[1]);
    auto out = troupe::uv::stream::adopt_fd(troupe::runtime::current().loop(), fds[0]).value();
    std::string text;
    std::vector<std::byte> buf(1 << 16);
    for (;;) {
      auto n = co_await out.read(buf);
      if (!n) break;
      text.append(reinterpret_cast<const char*>(buf.data()), *n);
    }
    for (auto& k : kids) co_await k.join();
    // Every line whole, every line there.
    std::vector<int> next(4, 0);
    std::size_t lines = 0;
    std::size_t at = 0;
    bool intact = true;
    while (at < text.size()) {
      auto nl = text.find('\n', at);
      REQUIRE(nl != std::string::npos);
      std::string line = text.substr(at, nl - at);
      at = nl + 1;
      int id = -1;
      int i = -1;
      if (std::sscanf(line.c_str(), "child %d line %d", &id, &i) != 2 || id < 0 || id > 3) {
        intact = false;
        continue;
      }
      intact = intact && line == "child " + std::to_string(id) + " line " + std::to_string(i) + " " +
                                     std::string(600, static_cast<char>('a' + id)) &&
               i == next[static_cast<std::size_t>(id)];
      next[static_cast<std::size_t>(id)] = i + 1;
      ++lines;
    }
    CHECK(intact);
    CHECK(lines == 4 * 300);
  });
}

TEST_CASE("a child refuses a hello from a binary with another build id") {
  namespace d = troupe::detail;
  troupe::uv::loop loop;
  auto child = d::start_child(d::start_method::spawn, {std::to_string(::getpid())});
  REQUIRE(child.has_value());
  d::hello h;
  h.build_id = d::executable_build_id();
  h.build_id[0] ^= 0xff;
  h.parent_pid = ::getpid();
  h.child_node = 1;
  std::vector<std::byte> out;
  troupe::wire::frame_header fh;
  fh.kind = troupe::wire::frame_kind::control;
  troupe::transport::append_message_frame(out, fh, h);
  REQUIRE(::write(child->link_fd, out.data(), out.size()) == static_cast<ssize_t>(out.size()));
  // The refusal comes back as a frame naming the mismatch.
  troupe::transport::frame_reader reader;
  troupe::transport::frame_view f;
  for (;;) {
    auto space = reader.prepare();
    ssize_t n = ::read(child->link_fd, space.data(), space.size());
    REQUIRE(n > 0);
    reader.commit(static_cast<std::size_t>(n));
    if (reader.next(f) == troupe::transport::frame_reader::status::frame) break;
  }
  CHECK(f.header.type == d::refusal::troupe_type_id);
  auto why = troupe::wire::from_bytes<d::refusal>(f.payload);
  REQUIRE(why.has_value());
  CHECK(why->why.message.find("build id mismatch") != std::string::npos);
  auto status = troupe::uv::block_on(loop, d::wait_for_exit(loop, *child)).value();
  CHECK(status.exitcode == troupe::exit_code_refused);
  d::close_child(*child);
}

TEST_CASE("1,000 process start and join cycles leave no zombie, no leaked fd and nothing in /dev/shm") {
  run_test([]() -> task<void> {
    // Under AddressSanitizer a start costs many times more: 200 cycles there.
    constexpr int cycles = TROUPE_TEST_ASAN ? 200 : 1000;
    {
      // libuv opens one fd for the life of the process on first use.
      process warmup(exit_with, 0);
      warmup.start();
      co_await warmup.join();
    }
    auto before = open_fds();
    const auto shm_before = dev_shm_entries();
    std::vector<int> pids;
    for (int i = 0; i < cycles; ++i) {
      process p(exit_with, i % 5);
      p.start();
      co_await p.join();
      CHECK(p.exitcode() == i % 5);
      pids.push_back(p.pid());
      p.close();
    }
    // Released links close at the loop's next turns (the warm-up's too):
    // wait, with a deadline, until no fd is open that was not before.
    auto leaked = [&before] {
      std::vector<std::string> extra;
      for (auto& f : open_fds())
        if (std::find(before.begin(), before.end(), f) == before.end()) extra.push_back(f);
      return extra;
    };
    auto extra = leaked();
    for (std::uint64_t at = now_ms(); !extra.empty() && now_ms() - at < 2000; extra = leaked())
      (void)co_await troupe::sleep_for(1ms);
    CHECK(extra.empty());
    for (auto& f : extra) MESSAGE("leaked fd " << f);
    for (int pid : pids) CHECK(::kill(pid, 0) == -1);
    CHECK(dev_shm_entries() == shm_before);
  });
}

TEST_CASE("kill -9 of a process tree's root takes the whole tree down within a second, leaving nothing behind") {
  run_test([]() -> task<void> {
    const auto fds_before = open_fds().size();
    const auto shm_before = dev_shm_entries();
    auto pids = troupe::queue<int>::make();
    process root(tree_root, pids);
    root.start();
    std::vector<int> tree;
    for (int i = 0; i < 5; ++i) tree.push_back((co_await pids.get(20s)).value());
    CHECK(std::find(tree.begin(), tree.end(), root.pid()) != tree.end());
    const auto t0 = now_ms();
    ::kill(root.pid(), SIGKILL);
    auto all_gone = [&tree] { return std::all_of(tree.begin(), tree.end(), pid_gone); };
    while (!all_gone() && now_ms() - t0 < 5000) (void)co_await troupe::sleep_for(1ms);
    const auto took = now_ms() - t0;
    CHECK(all_gone());
    CHECK(took < 1000);
    MESSAGE("the five processes of the tree were gone " << took << " ms after SIGKILL of its root");
    co_await root.join();
    CHECK(root.exitcode() == -SIGKILL);
    root.close();
    pids.shutdown();
    // The root's link closes at the loop's next turns.
    for (auto at = now_ms(); open_fds().size() > fds_before && now_ms() - at < 2000;)
      (void)co_await troupe::sleep_for(1ms);
    CHECK(open_fds().size() <= fds_before);
    CHECK(dev_shm_entries() == shm_before);
  });
}

}  // TEST_SUITE
