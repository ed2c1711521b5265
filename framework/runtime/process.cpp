#include "framework/runtime/process.hpp"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>

#include "framework/base/assert.hpp"
#include "framework/coro/detached.hpp"
#include "framework/runtime/control.hpp"
#include "framework/runtime/exit_wait.hpp"
#include "framework/runtime/link.hpp"
#include "framework/runtime/thread.hpp"
#include "framework/uv/timer.hpp"

namespace troupe {

namespace detail {

[[noreturn]] void run_forked_child(pid_t parent);

namespace {

std::atomic<unsigned> process_counter{0};
std::atomic<start_method> default_method{start_method::spawn};

// How long after its link closes a child's exit status is awaited before
// its actors are reported lost without it.
constexpr std::uint64_t exit_grace_ns = 50'000'000;

exit_reason reason_of(exit_status s) {
  exit_reason r;
  if (s.killed()) {
    r.what = exit_reason::kind::killed;
    r.code = s.signal();
  } else {
    r.what = exit_reason::kind::exited;
    r.code = s.exitcode;
  }
  return r;
}

}  // namespace

/// The parent's record of one child. Shared by the process handle, the
/// runtime's list of children and the coroutine that watches the pidfd.
struct process_state final : link_handler, uv::timer_node {
  runtime* rt = nullptr;
  std::string name;
  bool daemon = false;
  bool serve = false;
  start_method method = start_method::spawn;
  raw_function entry = nullptr;
  raw_function target = nullptr;
  wire::packed args;

  bool started = false;
  bool closed = false;
  child_process os;
  node_id node = 0;
  link* lnk = nullptr;
  std::optional<exit_status> status;
  std::optional<remote_failure> failure;
  std::optional<error> refusal;
  exit_waiter* waiters = nullptr;
  bool grace_armed = false;
  bool watching = false;  // the pidfd is polled: only the watcher may close it

  process_state() = default;
  process_state(const process_state&) = delete;
  process_state& operator=(const process_state&) = delete;
  ~process_state() { close_child(os); }

  void on_control(link& l, const transport::frame_view& f) noexcept override {
    switch (f.header.type) {
      case welcome::troupe_type_id:
        if (answer_welcome(l, f, node, "process " + name)) return;
        break;
      case refusal::troupe_type_id:
        if (auto r = wire::from_bytes<detail::refusal>(f.payload)) {
          refusal = std::move(r->why);
          return;
        }
        break;
      case exit_notice::troupe_type_id:
        if (auto n = wire::from_bytes<exit_notice>(f.payload)) {
          failure = std::move(n->failure);
          return;
        }
        break;
      default:
        break;
    }
    l.fail_protocol("unexpected or malformed control frame (type " + std::to_string(f.header.type) + ") from process " +
                    name);
  }

  void on_ended(link&, const error&) noexcept override {
    if (status) {
      lnk->fail_after_draining(reason_of(*status));
      return;
    }
    // The exit status usually follows the EOF within microseconds; wait
    // for it briefly so monitors learn the real reason.
    deadline_ns = uv::loop::now_ns() + exit_grace_ns;
    fire = &process_state::on_grace;
    grace_armed = true;
    rt->loop().add_timer(this);
  }

  static void on_grace(uv::timer_node* n) noexcept {
    auto* self = static_cast<process_state*>(n);
    self->grace_armed = false;
    if (self->lnk == nullptr) return;
    exit_reason why;
    why.what = exit_reason::kind::node_lost;
    why.message = "process " + self->name + " closed its link";
    self->lnk->fail_after_draining(why);
  }

  void on_lost(link&, const exit_reason&) noexcept override {
    lnk = nullptr;
    if (grace_armed) {
      rt->loop().remove_timer(this);
      grace_armed = false;
    }
  }

  void observe_exit(exit_status s) noexcept {
    if (status) return;
    status = s;
    if (lnk != nullptr) lnk->fail_after_draining(reason_of(s));
    wake_exit_waiters(rt->loop(), waiters);
    auto& kids = rt->children();
    std::erase_if(kids, [this](const std::shared_ptr<process_state>& p) { return p.get() == this; });
  }

  // Reaps without blocking if the child has ended.
  void poll_exit() noexcept {
    if (status || !started || os.pidfd < 0) return;
    if (auto r = try_reap(os)) observe_exit(*r);
  }

  void signal(int sig) noexcept {
    if (!started || status || os.pidfd < 0) return;
    ::syscall(SYS_pidfd_send_signal, os.pidfd, sig, nullptr, 0);
  }
};

namespace {

coro::detail::detached watch(std::shared_ptr<process_state> st) {
  runtime& rt = *st->rt;
  auto r = co_await wait_for_exit(rt.loop(), st->os);
  // An error means someone else reaped it first (is_alive); the status is
  // recorded then.
  if (r) st->observe_exit(*r);
  if (!st->status) st->observe_exit(exit_status{-SIGKILL});
  st->watching = false;
  if (st->closed) close_child(st->os);
  rt.actor_finished();
}

}  // namespace

void end_children(runtime& rt) noexcept {
  // Children still running when their runtime ends die with it: nothing
  // outlives the program that started it.
  for (auto& st : rt.children()) st->signal(SIGKILL);
}

std::uint32_t running_children(runtime& rt) noexcept {
  std::uint32_t n = 0;
  for (const auto& st : rt.children())
    if (st->started && !st->status) ++n;
  return n;
}

coro::task<void> finish_children(runtime& rt) {
  auto kids = rt.children();
  for (auto& st : kids)
    if (st->daemon) st->signal(SIGTERM);
  for (auto& st : kids) {
    if (st->status) continue;
    co_await join_awaiter<process_state>(*st, std::nullopt);
  }
  co_await finish_threads(rt);
}

}  // namespace detail

void set_start_method(start_method m) noexcept { detail::default_method.store(m); }
start_method get_start_method() noexcept { return detail::default_method.load(); }

process process::host(process_options options) {
  process p;
  options.daemon = true;
  p.init(std::move(options), nullptr, nullptr, {});
  p.state_->serve = true;
  return p;
}

void process::init(process_options options, detail::raw_function entry, detail::raw_function target,
                   wire::packed args) {
  state_ = std::make_shared<detail::process_state>();
  auto& st = *state_;
  st.name = options.name.empty() ? "process-" + std::to_string(detail::process_counter.fetch_add(1) + 1)
                                 : std::move(options.name);
  st.daemon = options.daemon;
  st.method = options.method.value_or(get_start_method());
  st.entry = entry;
  st.target = target;
  st.args = std::move(args);
}

process detail::erased_process(process_options options, raw_function entry, raw_function target,
                               wire::packed args) {
  process p;
  p.init(std::move(options), entry, target, std::move(args));
  return p;
}

process::process(process&&) noexcept = default;
process& process::operator=(process&&) noexcept = default;
process::~process() = default;

void process::start() {
  if (!state_) throw error_exception(error{errc::invalid_argument, "start() on an empty process handle"});
  auto& st = *state_;
  if (st.started) throw error_exception(error{errc::invalid_argument, "process " + st.name + " was already started"});
  if (st.closed) throw error_exception(error{errc::invalid_argument, "process " + st.name + " is closed"});
  runtime& rt = runtime::current();

  detail::hello h;
  h.build_id = detail::executable_build_id();
  h.parent_node = rt.node();
  h.parent_pid = static_cast<std::int32_t>(::getpid());
  h.name = st.name;
  h.serve = st.serve;
  if (!st.serve) {
    auto entry = detail::locate(st.entry);
    if (!entry) throw error_exception(entry.error());
    auto target = detail::locate(st.target);
    if (!target) throw error_exception(target.error());
    h.entry = std::move(*entry);
    h.target = std::move(*target);
    h.args = st.args;
  }

  if (st.method == start_method::fork) {
    // The child gets a copy of buffered output otherwise.
    std::fflush(nullptr);
  }
  auto child = detail::start_child(st.method, {std::to_string(::getpid())});
  if (!child) throw error_exception(child.error());
  if (child->pid == 0) detail::run_forked_child(h.parent_pid);

  st.rt = &rt;
  st.os = *child;
  st.started = true;
  st.node = detail::host_of(rt.node()) | (static_cast<node_id>(st.os.pid) << 20) | 1;
  h.child_node = st.node;

  auto l = rt.add_link(std::exchange(st.os.link_fd, -1), st.node, &st, false);
  if (l) {
    st.lnk = *l;
    wire::frame_header fh;
    fh.kind = wire::frame_kind::control;
    fh.src_node = rt.node();
    fh.dest_node = st.node;
    (void)st.lnk->append(fh, h);
  } else {
    st.signal(SIGKILL);
  }
  rt.children().push_back(state_);
  rt.actor_started();
  st.watching = true;
  detail::watch(state_);
}

coro::task<bool> process::join(std::optional<std::chrono::nanoseconds> timeout) {
  if (!state_ || !state_->started)
    throw error_exception(error{errc::invalid_argument, "join() on a process that was not started"});
  auto st = state_;
  bool ended = co_await detail::join_awaiter<detail::process_state>(*st, timeout);
  if (!ended) co_return false;
  if (st->refusal) throw error_exception(*st->refusal);
  if (st->failure) throw remote_error(*st->failure, st->status->exitcode);
  co_return true;
}

bool process::is_alive() const {
  if (!state_ || !state_->started) return false;
  state_->poll_exit();
  return !state_->status.has_value();
}

pid_t process::pid() const noexcept { return state_ && state_->started ? state_->os.pid : -1; }

const std::string& process::name() const noexcept {
  static const std::string none;
  return state_ ? state_->name : none;
}

bool process::daemon() const noexcept { return state_ && state_->daemon; }

void process::set_daemon(bool d) {
  if (!state_ || state_->started)
    throw error_exception(error{errc::invalid_argument, "daemon can only be set before start()"});
  state_->daemon = d;
}

std::optional<int> process::exitcode() const {
  if (!state_ || !state_->started) return std::nullopt;
  state_->poll_exit();
  if (!state_->status) return std::nullopt;
  return state_->status->exitcode;
}

node_id process::node() const noexcept { return state_ ? state_->node : 0; }

void process::terminate() {
  if (state_) state_->signal(SIGTERM);
}

void process::kill() {
  if (state_) state_->signal(SIGKILL);
}

void process::close() {
  if (!state_) return;
  if (state_->started && !state_->status && is_alive())
    throw error_exception(error{errc::invalid_argument, "process " + state_->name + " is still running"});
  state_->closed = true;
  if (!state_->watching) detail::close_child(state_->os);
}

coro::task<result<actor_ref>> process::spawn_remote(detail::raw_function entry, detail::raw_function target,
                                                   wire::packed args) {
  if (!state_ || !state_->started || state_->status)
    co_return error{errc::invalid_argument, "spawn() needs a running process"};
  co_return co_await detail::spawn_on_node(state_->node, entry, target, std::move(args));
}

coro::task<result<actor_ref>> detail::spawn_on_node(node_id node, raw_function entry, raw_function target,
                                                    wire::packed args) {
  spawn_request req;
  auto e = locate(entry);
  if (!e) co_return e.error();
  req.entry = std::move(*e);
  if (target != nullptr) {
    auto t = locate(target);
    if (!t) co_return t.error();
    req.target = std::move(*t);
  }
  req.args = std::move(args);
  co_return co_await runtime::system_actor(node).request<actor_ref>(std::move(req));
}

}  // namespace troupe
