#include "actors/pool/pool_actor.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <exception>
#include <utility>
#include <vector>

#include "actors/common/protocol.hpp"
#include "actors/pool/pool_call.hpp"
#include "framework/base/exception_info.hpp"
#include "framework/base/throw_trace.hpp"
#include "framework/runtime/spawn.hpp"

namespace troupe::actors::detail {

using troupe::detail::remote_failure;

namespace {

// This worker's process name, for the failures it reports.
std::string& worker_name() {
  static std::string name;
  return name;
}

// Tasks shorter than this on average are sent two at a time per worker, so
// a worker never waits a round trip for its next one; longer ones too while
// at least two chunks per worker are left to send, then one at a time, so
// near the end an idle worker is never left without work while another
// holds two.
constexpr std::uint64_t prefetch_below_ns = 1'000'000;

// Workers that die before saying hello, one after the other, before the
// pool gives up starting them and fails its jobs instead of looping.
constexpr unsigned start_failure_limit = 3;

struct chunk {
  std::shared_ptr<pool_job> job;
  std::size_t first = 0;
  std::size_t count = 0;
  wire::packed args;
  std::uint32_t attempts = 0;  // runs lost with their worker so far
  std::uint64_t id = 0;
};

struct worker {
  enum class phase { starting, ready, retiring };
  std::uint64_t id = 0;
  process proc;
  node_id node = 0;
  std::int32_t pid = 0;
  actor_ref ref;
  phase state = phase::starting;
  std::deque<chunk> held;  // in the order the worker runs them: the front is running
  std::uint64_t deadline_ns = 0;
  std::uint64_t tasks = 0;
  bool killed = false;               // by the pool, for a deadline or termination
  std::uint64_t timed_out_chunk = 0; // the chunk whose deadline passed
};

remote_failure pool_failure(std::string type, std::string message, const worker& w) {
  return remote_failure{std::move(type), std::move(message), w.pid, w.proc.name(), {}};
}

std::string ms(std::uint64_t ns) { return std::to_string(ns / 1'000'000) + " ms"; }

class server_state {
 public:
  server_state(pool_inbox& self, pool_config cfg, std::shared_ptr<pool_shared> shared)
      : self_(self), cfg_(std::move(cfg)), shared_(std::move(shared)) {}

  server_state(const server_state&) = delete;
  server_state& operator=(const server_state&) = delete;

  [[nodiscard]] bool done() const noexcept { return (closed_ || terminating_) && workers_.empty() && no_work(); }

  void fill() {
    while (!terminating_ && !broken_ && !(closed_ && no_work()) && active_workers() < cfg_.processes) {
      if (!start_worker()) break;
    }
  }

  void on_hello(pool_hello& m) {
    worker* w = find(m.worker);
    if (w == nullptr || w->state != worker::phase::starting) return;
    w->pid = m.pid;
    if (m.init_failure) {
      pool_item_failure f;
      f.cause = task_failure_cause::initializer;
      f.info = std::move(*m.init_failure);
      f.info.message = "the pool's initializer failed: " + f.info.message;
      break_pool(std::move(f));
      return;
    }
    w->ref = m.inbox;
    w->state = worker::phase::ready;
    start_failures_ = 0;
    dispatch();
  }

  void on_done(pool_done& m) {
    worker* w = find(m.worker);
    if (w == nullptr || w->held.empty() || w->held.front().id != m.id) return;
    chunk c = std::move(w->held.front());
    w->held.pop_front();
    ++w->tasks;
    ++shared_->stats.tasks_completed;
    const std::uint64_t per_call = m.run_ns / std::max<std::size_t>(c.count, 1);
    mean_call_ns_ = mean_call_ns_ == 0 ? per_call : (mean_call_ns_ * 7 + per_call) / 8;
    pool_piece p{c.first, c.count, std::move(m.results), std::move(m.failures)};
    if (m.chunk_failure) {
      p.results = wire::packed::of(std::vector<std::uint8_t>{});
      p.failures.clear();
      for (std::size_t i = 0; i < c.count; ++i) {
        pool_item_failure f;
        f.index = static_cast<std::uint32_t>(i);
        f.info = *m.chunk_failure;
        p.failures.push_back(std::move(f));
      }
    }
    for (auto& f : p.failures) f.attempts = c.attempts + 1;
    c.job->add(std::move(p));
    arm(*w);
    if (cfg_.maxtasksperchild != 0 && w->tasks >= cfg_.maxtasksperchild && w->held.empty() &&
        w->state == worker::phase::ready)
      retire(*w, true);
    dispatch();
    wind_down();
  }

  void on_down(const down& d) {
    if (d.who.id() != runtime::system_actor_id) return;
    auto it = std::find_if(workers_.begin(), workers_.end(), [&](const auto& w) { return w->node == d.who.node(); });
    if (it == workers_.end()) return;
    std::unique_ptr<worker> w = std::move(*it);
    workers_.erase(it);
    --shared_->stats.workers_alive;
    std::erase(shared_->pids, w->pid);
    const bool asked = w->state == worker::phase::retiring && w->held.empty();
    if (!asked && !w->killed) ++shared_->stats.workers_died;
    // A worker that cannot get started (it exits, or crashes in its
    // initializer, every time) breaks the pool after a few attempts. One
    // SIGKILLed from outside while it starts (the OOM killer, an operator,
    // a chaos run faster than a start) says nothing about the next: it is
    // replaced like any other.
    const bool killed_from_outside = d.reason.what == exit_reason::kind::killed && d.reason.code == SIGKILL;
    if (w->state == worker::phase::starting && !w->killed && !killed_from_outside && !terminating_ && !broken_) {
      if (++start_failures_ >= start_failure_limit) {
        pool_item_failure f;
        f.cause = task_failure_cause::start_failed;
        f.info = pool_failure("troupe::worker_start_failed",
                              "pool workers keep dying before they are ready (" + d.reason.describe() + ")", *w);
        break_pool(std::move(f));
      }
    }
    requeue_held(*w, d.reason);
    fill();
    dispatch();
    wind_down();
  }

  void on_submit(std::shared_ptr<pool_job> job) {
    if (broken_) {
      job->abort(*broken_);
    } else if (closed_ || terminating_) {
      job->abort(cancelled("the pool is closed"));
    } else {
      jobs_.push_back(std::move(job));
      dispatch();
    }
  }

  void on_poke() { dispatch(); }

  void on_close() {
    closed_ = true;
    wind_down();
  }

  void on_terminate() {
    if (terminating_) return;
    terminating_ = true;
    abort_all(cancelled("the pool was terminated"));
    for (auto& w : workers_) {
      w->killed = true;
      w->proc.kill();
    }
    answer_joiners();
  }

  void on_join(responder r) {
    if (!closed_ && !terminating_) {
      r.fail(error{errc::invalid_argument, "join() on a pool that is still running: close() or terminate() it first"});
      return;
    }
    joiners_.push_back(std::move(r));
    answer_joiners();
  }

  [[nodiscard]] std::uint64_t next_deadline() const noexcept {
    std::uint64_t d = 0;
    for (const auto& w : workers_)
      if (w->deadline_ns != 0 && !w->killed && (d == 0 || w->deadline_ns < d)) d = w->deadline_ns;
    return d;
  }

  void check_deadlines() {
    const std::uint64_t now = uv::loop::now_ns();
    for (auto& w : workers_) {
      if (w->deadline_ns == 0 || w->killed || w->deadline_ns > now || w->held.empty()) continue;
      w->killed = true;
      w->timed_out_chunk = w->held.front().id;
      w->proc.kill();
    }
  }

  // The mailbox closed (the runtime is ending): nothing more will arrive.
  void shutdown() {
    abort_all(cancelled("the pool's runtime ended"));
    for (auto& w : workers_) w->proc.kill();
    answer_joiners();
  }

  void answer_joiners() {
    if (!workers_.empty()) return;
    for (auto& r : joiners_) r.reply();
    joiners_.clear();
  }

 private:
  static pool_item_failure cancelled(std::string why) {
    pool_item_failure f;
    f.cause = task_failure_cause::cancelled;
    f.info = remote_failure{"troupe::cancelled", std::move(why), static_cast<std::int32_t>(::getpid()), "pool", {}};
    return f;
  }

  [[nodiscard]] std::size_t active_workers() const noexcept {
    return static_cast<std::size_t>(std::count_if(workers_.begin(), workers_.end(), [](const auto& w) {
      return w->state != worker::phase::retiring && !w->killed;
    }));
  }

  [[nodiscard]] bool no_work() const noexcept {
    if (!retry_.empty()) return false;
    for (const auto& w : workers_)
      if (!w->held.empty()) return false;
    return std::all_of(jobs_.begin(), jobs_.end(), [](const auto& j) { return j->settled(); });
  }

  worker* find(std::uint64_t id) const noexcept {
    for (const auto& w : workers_)
      if (w->id == id) return w.get();
    return nullptr;
  }

  bool start_worker() {
    auto w = std::make_unique<worker>();
    w->id = ++worker_counter_;
    process_options o;
    o.name = cfg_.name + "-worker-" + std::to_string(w->id);
    o.daemon = true;
    o.method = cfg_.method;
    try {
      w->proc = process(o, &pool_worker_main, self_.ref(), w->id, o.name, cfg_.init);
      w->proc.start();
    } catch (...) {
      auto info = base::describe(std::current_exception());
      if (++start_failures_ >= start_failure_limit) {
        pool_item_failure f;
        f.cause = task_failure_cause::start_failed;
        f.info = remote_failure{"troupe::worker_start_failed", "pool workers cannot be started: " + info.message,
                                static_cast<std::int32_t>(::getpid()), cfg_.name, {}};
        break_pool(std::move(f));
      }
      return false;
    }
    w->node = w->proc.node();
    w->pid = static_cast<std::int32_t>(w->proc.pid());
    self_.monitor(runtime::system_actor(w->node));
    ++shared_->stats.workers_started;
    ++shared_->stats.workers_alive;
    shared_->pids.push_back(w->pid);
    workers_.push_back(std::move(w));
    return true;
  }

  void retire(worker& w, bool replace) {
    w.state = worker::phase::retiring;
    if (replace) ++shared_->stats.workers_retired;
    (void)runtime::current().post_remote(w.ref, pool_stop{}, troupe::detail::reply_address{}, false);
    if (replace) fill();
  }

  // A deadline per chunk, from when it starts running.
  void arm(worker& w) {
    w.deadline_ns = 0;
    if (w.held.empty()) return;
    const chunk& c = w.held.front();
    const std::uint64_t t = c.job->timeout_ns != 0 ? c.job->timeout_ns : cfg_.timeout_ns;
    if (t == 0) return;
    w.deadline_ns = uv::loop::now_ns() + t * c.count;
  }

  std::optional<chunk> next_chunk() {
    while (!retry_.empty()) {
      chunk c = std::move(retry_.front());
      retry_.pop_front();
      if (c.job->settled()) continue;
      return c;
    }
    for (auto& j : jobs_) {
      if (!j->can_feed()) continue;
      pool_chunk_input in;
      try {
        in = j->feed();
      } catch (...) {
        auto info = base::describe(std::current_exception());
        pool_item_failure f;
        f.info = remote_failure{std::move(info.type), "the input could not be encoded: " + info.message,
                                static_cast<std::int32_t>(::getpid()), cfg_.name, {}};
        j->abort(std::move(f));
        continue;
      }
      if (in.count == 0) continue;
      return chunk{j, j->fed() - in.count, in.count, std::move(in.args), 0, 0};
    }
    std::erase_if(jobs_, [](const auto& j) { return j->settled() || j->input_end(); });
    return std::nullopt;
  }

  void send(worker& w, chunk c) {
    c.id = ++chunk_counter_;
    pool_task t{c.id, c.job->entry, c.job->fn, std::move(c.args)};
    (void)runtime::current().post_remote(w.ref, t, troupe::detail::reply_address{}, false);
    c.args = std::move(t.args);
    w.held.push_back(std::move(c));
    if (w.held.size() == 1) arm(w);
  }

  // Chunks not yet sent (retries included); SIZE_MAX while an input's
  // length is unknown.
  std::size_t chunks_left() const {
    std::size_t n = retry_.size();
    for (const auto& j : jobs_) {
      if (j->input_end() || j->settled()) continue;
      if (j->total == 0) return SIZE_MAX;
      const std::size_t calls = j->total > j->fed() ? j->total - j->fed() : 0;
      n += (calls + j->chunksize - 1) / std::max<std::size_t>(j->chunksize, 1);
    }
    return n;
  }

  void dispatch() {
    if (terminating_ || broken_) return;
    const bool short_calls = mean_call_ns_ != 0 && mean_call_ns_ < prefetch_below_ns;
    const std::size_t depth = short_calls || chunks_left() >= 2 * workers_.size() ? 2 : 1;
    for (std::size_t pass = 1; pass <= depth; ++pass) {
      for (auto& w : workers_) {
        if (w->state != worker::phase::ready || w->killed) continue;
        while (w->held.size() < pass) {
          if (cfg_.maxtasksperchild != 0 && w->tasks + w->held.size() >= cfg_.maxtasksperchild) break;
          auto c = next_chunk();
          if (!c) return;
          send(*w, std::move(*c));
        }
      }
    }
  }

  void fail(chunk& c, task_failure_cause cause, const remote_failure& info, std::int32_t exitcode) {
    pool_piece p{c.first, c.count, wire::packed::of(std::vector<std::uint8_t>{}), {}};
    for (std::size_t i = 0; i < c.count; ++i) {
      pool_item_failure f;
      f.index = static_cast<std::uint32_t>(i);
      f.cause = cause;
      f.info = info;
      f.exitcode = exitcode;
      f.attempts = c.attempts;
      p.failures.push_back(std::move(f));
    }
    c.job->add(std::move(p));
  }

  // Single calls of a chunk, to run again one by one.
  std::vector<chunk> singles(chunk& c) {
    std::vector<chunk> out;
    std::vector<wire::packed> parts;
    if (c.job->split != nullptr) parts = c.job->split(c.args);
    if (parts.size() != c.count) return out;
    for (std::size_t i = 0; i < parts.size(); ++i)
      out.push_back(chunk{c.job, c.first + i, 1, std::move(parts[i]), c.attempts, 0});
    return out;
  }

  // What a dead worker held goes back to the front of the line, in order:
  // the call it was running is charged a run (or fails once out of runs),
  // the ones waiting behind it are not.
  void requeue_held(worker& w, const exit_reason& why) {
    if (w.held.empty()) return;
    std::vector<chunk> again;
    chunk head = std::move(w.held.front());
    w.held.pop_front();
    const std::int32_t exitcode = why.what == exit_reason::kind::killed ? -why.code : why.code;
    if (head.job->settled()) {
      // Nobody waits for it any more.
    } else if (w.killed && head.id == w.timed_out_chunk) {
      const std::uint64_t t = head.job->timeout_ns != 0 ? head.job->timeout_ns : cfg_.timeout_ns;
      std::vector<chunk> parts = head.count > 1 ? singles(head) : std::vector<chunk>{};
      if (!parts.empty()) {
        for (auto& p : parts) again.push_back(std::move(p));
      } else {
        ++head.attempts;
        shared_->stats.calls_timed_out += head.count;
        fail(head, task_failure_cause::timeout,
             pool_failure("troupe::task_timeout",
                          "the call ran past its deadline of " + ms(t) + "; its worker was killed", w),
             exitcode);
      }
    } else if (w.killed) {
      again.push_back(std::move(head));
    } else {
      ++head.attempts;
      std::vector<chunk> parts = head.count > 1 ? singles(head) : std::vector<chunk>{};
      if (!parts.empty()) {
        shared_->stats.calls_retried += parts.size();
        for (auto& p : parts) again.push_back(std::move(p));
      } else if (head.attempts > cfg_.retries) {
        fail(head, task_failure_cause::worker_lost,
             pool_failure("troupe::worker_lost",
                          "the worker running this call died (" + why.describe() + ") on each of its " +
                              std::to_string(head.attempts) + " attempts",
                          w),
             exitcode);
      } else {
        shared_->stats.calls_retried += head.count;
        again.push_back(std::move(head));
      }
    }
    for (auto& c : w.held) again.push_back(std::move(c));
    w.held.clear();
    retry_.insert(retry_.begin(), std::make_move_iterator(again.begin()), std::make_move_iterator(again.end()));
  }

  void abort_all(const pool_item_failure& why) {
    for (auto& j : jobs_) j->abort(why);
    for (auto& c : retry_) c.job->abort(why);
    for (auto& w : workers_)
      for (auto& c : w->held) c.job->abort(why);
    jobs_.clear();
    retry_.clear();
    for (auto& w : workers_) w->held.clear();
  }

  void break_pool(pool_item_failure why) {
    if (broken_) return;
    broken_ = std::move(why);
    abort_all(*broken_);
    for (auto& w : workers_) {
      w->killed = true;
      w->proc.kill();
    }
  }

  // After close(), once everything submitted has finished, the workers are
  // asked to exit; join() answers when they have.
  void wind_down() {
    if (closed_ && no_work()) {
      for (auto& w : workers_) {
        if (w->state == worker::phase::ready) retire(*w, false);
        else if (w->state == worker::phase::starting && !w->killed) {
          w->killed = true;
          w->proc.kill();
        }
      }
    }
    answer_joiners();
  }

  pool_inbox& self_;
  pool_config cfg_;
  std::shared_ptr<pool_shared> shared_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::deque<chunk> retry_;
  std::vector<std::shared_ptr<pool_job>> jobs_;
  std::vector<responder> joiners_;
  std::optional<pool_item_failure> broken_;
  std::uint64_t worker_counter_ = 0;
  std::uint64_t chunk_counter_ = 0;
  std::uint64_t mean_call_ns_ = 0;
  unsigned start_failures_ = 0;
  bool closed_ = false;
  bool terminating_ = false;
};

}  // namespace

remote_failure worker_failure(std::string type, std::string message) {
  return remote_failure{std::move(type), std::move(message), static_cast<std::int32_t>(::getpid()), worker_name(), {}};
}

pool_item_failure describe_call_failure(std::uint32_t index) {
  auto info = base::describe(std::current_exception());
  pool_item_failure f;
  f.index = index;
  f.info = worker_failure(std::move(info.type), std::move(info.message));
  f.info.stack = base::last_throw_trace();
  return f;
}

coro::task<void> pool_server(pool_inbox self, pool_config config, std::shared_ptr<pool_shared> shared) {
  server_state s(self, std::move(config), shared);
  // A pool dropped before its server first ran starts no workers.
  if (!self.closed()) s.fill();
  while (!s.done()) {
    auto l = co_await self.receive(until(s.next_deadline()));
    if (!l) {
      if (l.code() == errc::timeout) {
        s.check_deadlines();
        continue;
      }
      break;
    }
    switch (l->index()) {
      case 0:
        s.on_hello(l->get<pool_hello>());
        break;
      case 1:
        s.on_done(l->get<pool_done>());
        break;
      case 2:
        s.on_down(l->get<down>());
        break;
      case 3:
        s.on_submit(std::move(l->get<pool_submit>().job));
        break;
      case 4:
        s.on_poke();
        break;
      case 5:
        s.on_close();
        break;
      case 6:
        s.on_terminate();
        break;
      case 7:
        s.on_join(l->take_responder());
        break;
      default:
        break;
    }
  }
  s.shutdown();
  shared->running = false;
}

coro::task<int> pool_worker_main(actor_ref server, std::uint64_t worker, std::string name,
                                 std::optional<pool_initializer> init) {
  // Ctrl-C in a terminal reaches the whole process group: the pool's owner
  // decides what happens to its workers, so they do not die of it on their
  // own (and are never mistaken for crashed workers).
  ::signal(SIGINT, SIG_IGN);
  worker_name() = name;
  runtime& rt = runtime::current();
  auto box = open_inbox<pool_task, pool_stop, down>(rt);
  box.monitor(server);
  pool_hello hello;
  hello.worker = worker;
  hello.pid = static_cast<std::int32_t>(::getpid());
  hello.inbox = box.ref();
  if (init) {
    try {
      auto e = troupe::detail::resolve(init->entry);
      if (!e) throw error_exception(e.error());
      auto f = troupe::detail::resolve(init->fn);
      if (!f) throw error_exception(f.error());
      auto entry = reinterpret_cast<troupe::detail::entry_fn>(*e);
      coro::task<int> t = entry(*f, init->args);
      (void)co_await std::move(t);
    } catch (...) {
      auto info = base::describe(std::current_exception());
      hello.init_failure = worker_failure(std::move(info.type), std::move(info.message));
      hello.init_failure->stack = base::last_throw_trace();
    }
  }
  const bool ready = !hello.init_failure;
  co_await server.send(std::move(hello));
  if (!ready) co_return 1;

  troupe::detail::code_address entry_at, fn_at;
  pool_entry entry = nullptr;
  troupe::detail::raw_function fn = nullptr;
  for (;;) {
    auto l = co_await box.receive();
    if (!l || !l->is<pool_task>()) co_return 0;
    auto& t = l->get<pool_task>();
    const std::uint64_t start = uv::loop::now_ns();
    pool_done done;
    done.worker = worker;
    done.id = t.id;
    std::optional<error> missing;
    if (entry == nullptr || t.entry.offset != entry_at.offset || t.entry.build_id != entry_at.build_id) {
      auto e = troupe::detail::resolve(t.entry);
      if (e) {
        entry = reinterpret_cast<pool_entry>(*e);
        entry_at = t.entry;
      } else {
        entry = nullptr;
        missing = e.error();
      }
    }
    if (!missing && (fn == nullptr || t.fn.offset != fn_at.offset || t.fn.build_id != fn_at.build_id)) {
      auto f = troupe::detail::resolve(t.fn);
      if (f) {
        fn = *f;
        fn_at = t.fn;
      } else {
        fn = nullptr;
        missing = f.error();
      }
    }
    if (missing) {
      done.chunk_failure = worker_failure("troupe::code_not_found", missing->message);
    } else {
      try {
        auto run = entry(fn, t.args);
        pool_call_outcome out = co_await std::move(run);
        done.results = std::move(out.results);
        done.failures = std::move(out.failures);
        done.chunk_failure = std::move(out.chunk_failure);
      } catch (...) {
        auto info = base::describe(std::current_exception());
        done.chunk_failure = worker_failure(std::move(info.type), std::move(info.message));
      }
    }
    done.run_ns = uv::loop::now_ns() - start;
    co_await server.send(std::move(done));
    // Let the link's writer put the result on its way before the next call
    // runs: a call that kills this process must not take the previous
    // call's result down with it (that call would be run again, and
    // charged for a death it did not cause).
    co_await uv::yield(rt.loop());
  }
}

}  // namespace troupe::actors::detail
