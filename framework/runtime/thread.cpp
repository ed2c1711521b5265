#include "framework/runtime/thread.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <thread>

#include "framework/base/exception_info.hpp"
#include "framework/base/throw_trace.hpp"
#include "framework/coro/detached.hpp"
#include "framework/runtime/control.hpp"
#include "framework/runtime/exit_wait.hpp"
#include "framework/runtime/link.hpp"
#include "framework/uv/poll.hpp"

namespace troupe {

namespace detail {

coro::task<int> serve_until_shutdown();

namespace {

std::atomic<unsigned> thread_counter{0};

// Node ids of thread runtimes: the process's pid above, as every node id
// of this process, and the upper half of the low 20 bits, which the
// runtimes a process makes itself never reach.
std::atomic<std::uint32_t> thread_nodes{0};
node_id fresh_thread_node(node_id host) noexcept {
  const std::uint32_t n = (thread_nodes.fetch_add(1) % 0x7ffff) + 1;
  return host | (static_cast<node_id>(::getpid()) << 20) | 0x80000 | n;
}

}  // namespace

/// The record of one thread, shared by its handle, its parent runtime's
/// list of threads, the coroutine that waits for its end, and the thread.
struct thread_state final : link_handler {
  // Set before start, read by both threads (start happens-before the
  // thread's reads).
  std::string name;
  bool daemon = false;
  bool serve = false;
  std::size_t mailbox_bound = 0;
  std::function<coro::task<int>()> body;
  node_id node = 0;
  node_id parent_node = 0;

  // The parent's thread only.
  runtime* rt = nullptr;
  bool started = false;
  link* lnk = nullptr;
  std::thread thr;
  uv::async_event done;
  std::optional<int> status;
  exit_waiter* waiters = nullptr;

  // Written by the thread before it notifies `done`; read by the parent
  // after joining it.
  int code = 0;
  std::exception_ptr failure;

  thread_state() = default;
  thread_state(const thread_state&) = delete;
  thread_state& operator=(const thread_state&) = delete;
  ~thread_state() {
    // A thread that never got to run its end (the process is exiting
    // around it) must not take the process down with it.
    if (thr.joinable()) thr.detach();
  }

  [[nodiscard]] exit_reason reason() const {
    exit_reason r;
    if (failure) {
      auto info = base::describe(failure);
      r = exit_reason{exit_reason::kind::exception, 0, std::move(info.type), std::move(info.message)};
    } else {
      r.what = exit_reason::kind::exited;
      r.code = code;
    }
    return r;
  }

  void on_control(link& l, const transport::frame_view& f) noexcept override {
    if (f.header.type == welcome::troupe_type_id && answer_welcome(l, f, node, "thread " + name)) return;
    l.fail_protocol("unexpected or malformed control frame (type " + std::to_string(f.header.type) + ") from thread " +
                    name);
  }

  // The thread closes its end of the link as its runtime ends, just before
  // it signals `done`; the reason is known then.
  void on_ended(link&, const error&) noexcept override {
    if (status && lnk != nullptr) lnk->fail_after_draining(reason());
  }

  void on_lost(link&, const exit_reason&) noexcept override { lnk = nullptr; }

  void observe_end() noexcept {
    if (thr.joinable()) thr.join();
    status = failure ? 1 : code;
    if (lnk != nullptr) lnk->fail_after_draining(reason());
    wake_exit_waiters(rt->loop(), waiters);
    done.close();
    auto& list = rt->threads();
    std::erase_if(list, [this](const std::shared_ptr<thread_state>& p) { return p.get() == this; });
  }
};

namespace {

// The thread's side: when the runtime that started it goes, its actors
// stop and a host ends; the target runs on to its end.
class parent_thread_watch final : public link_handler {
 public:
  explicit parent_thread_watch(runtime& rt) : rt_(rt) {}
  void on_control(link& l, const transport::frame_view& f) noexcept override {
    l.fail_protocol("unexpected control frame from the parent thread (type " + std::to_string(f.header.type) + ")");
  }
  void on_ended(link& l, const error& e) noexcept override {
    exit_reason why;
    why.what = exit_reason::kind::node_lost;
    why.message = "the parent runtime went away: " + e.describe();
    l.fail(why);
  }
  void on_lost(link&, const exit_reason&) noexcept override {
    rt_.post(runtime::system_actor(rt_.node()), shutdown_request{0}, reply_address{}, false);
  }

 private:
  runtime& rt_;
};

coro::task<int> thread_task(runtime& rt, thread_state& st, std::function<coro::task<int>()> body) {
  int code = 0;
  if (st.serve) {
    code = co_await serve_until_shutdown();
  } else {
    try {
      coro::task<int> t = body();
      code = co_await std::move(t);
    } catch (...) {
      st.failure = std::current_exception();
      auto info = base::describe(st.failure);
      std::string trace = base::last_throw_trace();
      std::fprintf(stderr, "Thread %s failed: %s: %s\n%s", st.name.c_str(), info.type.c_str(), info.message.c_str(),
                   trace.c_str());
      code = 1;
    }
  }
  body = nullptr;  // the target and its arguments end on their thread
  co_await finish_children(rt);
  co_return code;
}

void thread_main(std::shared_ptr<thread_state> st, int fd) {
  int code = exit_code_parent_lost;
  {
    runtime_options opts;
    opts.node = st->node;
    opts.mailbox_bound = st->mailbox_bound;
    runtime rt(opts);
    parent_thread_watch watch(rt);
    auto l = rt.add_link(fd, st->parent_node, &watch, true);
    if (l) {
      wire::frame_header fh;
      fh.kind = wire::frame_kind::control;
      fh.src_node = rt.node();
      (void)(*l)->append(fh, welcome{rt.node(), static_cast<std::int32_t>(::getpid())});
      code = rt.block_on(thread_task(rt, *st, std::move(st->body)));
    }
    // The runtime's end sends what is queued and closes the link; from here
    // on its closing is ours.
    if (link* pl = rt.parent_link()) pl->set_handler(nullptr);
  }
  st->code = code;
  st->done.notify();
}

coro::detail::detached watch_thread(std::shared_ptr<thread_state> st) {
  runtime& rt = *st->rt;
  (void)co_await st->done.wait();
  st->observe_end();
  rt.actor_finished();
}

}  // namespace

coro::task<void> finish_threads(runtime& rt) {
  auto list = rt.threads();
  for (auto& st : list)
    if (st->daemon && !st->status)
      rt.post(runtime::system_actor(st->node), shutdown_request{0}, reply_address{}, false);
  for (auto& st : list) {
    if (st->status) continue;
    co_await join_awaiter<thread_state>(*st, std::nullopt);
  }
}

}  // namespace detail

void thread::init(thread_options options, std::function<coro::task<int>()> body) {
  state_ = std::make_shared<detail::thread_state>();
  auto& st = *state_;
  st.name = options.name.empty() ? "thread-" + std::to_string(detail::thread_counter.fetch_add(1) + 1)
                                 : std::move(options.name);
  st.daemon = options.daemon;
  st.mailbox_bound = options.mailbox_bound;
  st.body = std::move(body);
}

thread thread::host(thread_options options) {
  thread t;
  options.daemon = true;
  t.init(std::move(options), nullptr);
  t.state_->serve = true;
  return t;
}

thread::thread(thread&&) noexcept = default;
thread& thread::operator=(thread&&) noexcept = default;
thread::~thread() = default;

void thread::start() {
  if (!state_) throw error_exception(error{errc::invalid_argument, "start() on an empty thread handle"});
  auto& st = *state_;
  if (st.started) throw error_exception(error{errc::invalid_argument, "thread " + st.name + " was already started"});
  runtime& rt = runtime::current();
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
    throw error_exception(error{errc::system_error, std::string("socketpair: ") + std::strerror(errno)});
  auto done = uv::async_event::open(rt.loop());
  if (!done) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw error_exception(done.error());
  }
  st.done = std::move(*done);
  st.rt = &rt;
  st.node = detail::fresh_thread_node(detail::host_of(rt.node()));
  st.parent_node = rt.node();
  auto l = rt.add_link(fds[0], st.node, &st, false);
  if (!l) {
    ::close(fds[1]);
    st.done.close();
    throw error_exception(l.error());
  }
  st.lnk = *l;
  // Runtimes above this one learn the way to the thread's node.
  rt.announce_node(*st.lnk, st.node);
  try {
    st.thr = std::thread(detail::thread_main, state_, fds[1]);
  } catch (const std::system_error& e) {
    ::close(fds[1]);
    exit_reason why;
    why.what = exit_reason::kind::node_lost;
    why.message = "the thread did not start";
    st.lnk->fail(why);
    st.done.close();
    throw error_exception(error{errc::system_error, std::string("std::thread: ") + e.what()});
  }
  st.started = true;
  rt.threads().push_back(state_);
  rt.actor_started();
  detail::watch_thread(state_);
}

coro::task<bool> thread::join(std::optional<std::chrono::nanoseconds> timeout) {
  if (!state_ || !state_->started)
    throw error_exception(error{errc::invalid_argument, "join() on a thread that was not started"});
  auto st = state_;
  bool ended = co_await detail::join_awaiter<detail::thread_state>(*st, timeout);
  if (!ended) co_return false;
  if (st->failure) std::rethrow_exception(st->failure);
  co_return true;
}

bool thread::is_alive() const noexcept { return state_ && state_->started && !state_->status; }

const std::string& thread::name() const noexcept {
  static const std::string none;
  return state_ ? state_->name : none;
}

bool thread::daemon() const noexcept { return state_ && state_->daemon; }

void thread::set_daemon(bool d) {
  if (!state_ || state_->started)
    throw error_exception(error{errc::invalid_argument, "daemon can only be set before start()"});
  state_->daemon = d;
}

std::optional<int> thread::exitcode() const noexcept {
  if (!state_) return std::nullopt;
  return state_->status;
}

node_id thread::node() const noexcept { return state_ ? state_->node : 0; }

void thread::request_stop() {
  if (!is_alive()) return;
  runtime::current().post(runtime::system_actor(state_->node), detail::shutdown_request{0}, detail::reply_address{},
                          false);
}

coro::task<result<actor_ref>> thread::spawn_remote(detail::raw_function entry, detail::raw_function target,
                                                  wire::packed args) {
  if (!is_alive()) co_return error{errc::invalid_argument, "spawn() needs a running thread"};
  co_return co_await detail::spawn_on_node(state_->node, entry, target, std::move(args));
}

}  // namespace troupe
