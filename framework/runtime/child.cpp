// What a child process runs: the handshake with its parent, its runtime,
// the requested entry, and the system actor every linked runtime serves.

#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "framework/base/exception_info.hpp"
#include "framework/base/throw_trace.hpp"
#include "framework/runtime/cluster.hpp"
#include "framework/runtime/control.hpp"
#include "framework/runtime/link.hpp"
#include "framework/runtime/process.hpp"
#include "framework/runtime/run.hpp"
#include "framework/runtime/spawn.hpp"
#include "framework/transport/socket_io.hpp"

namespace troupe::detail {

coro::task<int> serve_until_shutdown();
std::uint32_t running_children(runtime& rt) noexcept;

namespace {

// ---- the system actor ----

using system_inbox = inbox<spawn_request, monitor_request, stop_request, shutdown_request, load_query>;

// A host (a process or thread with no target) waits here until asked to
// shut down; one per runtime, so per thread.
struct serve_state {
  std::coroutine_handle<> waiting;
  bool done = false;
  int code = 0;
};
thread_local serve_state* serving = nullptr;

void request_shutdown(runtime& rt, int code) noexcept {
  if (serving == nullptr) {
    rt.stop_actors();
    return;
  }
  if (serving->done) return;
  serving->done = true;
  serving->code = code;
  if (serving->waiting) rt.loop().schedule(std::exchange(serving->waiting, {}));
}

struct serve_wait {
  bool await_ready() const noexcept { return serving->done; }
  void await_suspend(std::coroutine_handle<> h) noexcept { serving->waiting = h; }
  int await_resume() const noexcept { return serving->code; }
};

void handle_spawn(runtime& rt, letter<spawn_request, monitor_request, stop_request, shutdown_request, load_query>& l) {
  auto& req = l.get<spawn_request>();
  auto entry = resolve(req.entry);
  if (!entry) {
    l.fail(entry.error());
    return;
  }
  raw_function target = nullptr;
  if (!req.target.build_id.empty()) {
    auto t = resolve(req.target);
    if (!t) {
      l.fail(t.error());
      return;
    }
    target = *t;
  }
  auto fn = reinterpret_cast<spawn_fn>(*entry);
  auto ref = fn(rt, target, req.args);
  if (ref) l.reply(*ref);
  else l.fail(ref.error());
}

rank_load local_load(runtime& rt) {
  rank_load load;
  double avg[1] = {0};
  if (::getloadavg(avg, 1) == 1) load.loadavg = avg[0];
  const long cores = ::sysconf(_SC_NPROCESSORS_ONLN);
  load.cores = cores > 0 ? static_cast<std::uint32_t>(cores) : 1;
  load.actors = rt.actor_count();
  load.processes = running_children(rt);
  return load;
}

coro::task<void> system_actor_body(system_inbox self) {
  runtime& rt = self.owner();
  for (;;) {
    auto l = co_await self.receive();
    if (!l) co_return;
    switch (l->index()) {
      case 0:
        handle_spawn(rt, *l);
        break;
      case 1: {
        auto& m = l->get<monitor_request>();
        rt.monitor(m.watcher, m.target);
        break;
      }
      case 2:
        rt.stop(l->get<stop_request>().target);
        break;
      case 3:
        request_shutdown(rt, l->get<shutdown_request>().exitcode);
        break;
      case 4:
        l->reply(local_load(rt));
        break;
    }
  }
}

// ---- the child's side of the handshake ----

// Reads exactly n bytes, keeping descriptors that come along (the
// hello's: handles among the start arguments).
bool read_exactly(int fd, void* buf, std::size_t n, std::vector<int>& fds) {
  auto* p = static_cast<std::byte*>(buf);
  while (n > 0) {
    // The parent writes the hello right after starting us; a minute of
    // silence means it is wedged, and waiting longer helps nobody.
    auto got = transport::receive_blocking(fd, std::span<std::byte>(p, n), fds, 60'000);
    if (!got) return false;
    p += *got;
    n -= *got;
  }
  return true;
}

void write_all(int fd, const std::vector<std::byte>& bytes) {
  const auto* p = reinterpret_cast<const char*>(bytes.data());
  std::size_t n = bytes.size();
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

result<hello> read_hello(int fd) {
  std::byte head[wire::frame_header::wire_size];
  std::vector<int> fds;
  struct closer {
    std::vector<int>& fds;
    ~closer() { transport::close_fds(fds); }
  } close_received{fds};
  if (!read_exactly(fd, head, sizeof head, fds)) return error{errc::closed, "no hello from the parent"};
  auto h = wire::decode_header(head);
  if (!h) return h.error();
  if (h->kind != wire::frame_kind::control || h->type != hello::troupe_type_id)
    return error{errc::protocol_error, "the first frame from the parent is not a hello"};
  std::vector<std::byte> payload(h->length);
  if (!read_exactly(fd, payload.data(), payload.size(), fds)) return error{errc::closed, "the hello was cut short"};
  if (fds.size() != h->fds) return error{errc::protocol_error, "the hello's file descriptors did not arrive with it"};
  wire::fd_decode_scope scope(fds);
  auto m = wire::from_bytes<hello>(payload);
  if (!m) return error{errc::protocol_error, "the hello did not decode: " + m.error().message};
  return std::move(*m);
}

int refuse(int fd, const error& why) {
  std::fprintf(stderr, "troupe: child process %d refused to start: %s\n", static_cast<int>(::getpid()),
               why.describe().c_str());
  std::vector<std::byte> out;
  wire::frame_header h;
  h.kind = wire::frame_kind::control;
  transport::append_message_frame(out, h, refusal{why});
  write_all(fd, out);
  return exit_code_refused;
}

// The child ends when its parent does: no orphans.
class parent_watch final : public link_handler {
 public:
  explicit parent_watch(std::string name) : name_(std::move(name)) {}
  void on_control(link& l, const transport::frame_view& f) noexcept override {
    l.fail_protocol("unexpected control frame from the parent (type " + std::to_string(f.header.type) + ")");
  }
  void on_ended(link&, const error& e) noexcept override { leave(e.describe()); }
  void on_lost(link&, const exit_reason& why) noexcept override { leave(why.describe()); }

 private:
  [[noreturn]] void leave(const std::string& why) noexcept {
    std::fprintf(stderr, "troupe: process %s (pid %d) lost its parent (%s); exiting\n", name_.c_str(),
                 static_cast<int>(::getpid()), why.c_str());
    std::fflush(nullptr);
    ::_exit(exit_code_parent_lost);
  }
  std::string name_;
};

coro::task<int> child_task(runtime& rt, const hello& h, entry_fn entry, raw_function target) {
  if (h.serve) co_return co_await serve_until_shutdown();
  std::optional<remote_failure> failure;
  int code = 0;
  try {
    coro::task<int> body = entry(target, h.args);
    code = co_await std::move(body);
  } catch (...) {
    auto info = base::describe(std::current_exception());
    failure = remote_failure{std::move(info.type), std::move(info.message), static_cast<std::int32_t>(::getpid()),
                             h.name, base::last_throw_trace()};
  }
  if (failure) {
    std::fprintf(stderr, "Process %s (pid %d) failed: %s: %s\n%s", h.name.c_str(), failure->pid,
                 failure->type.c_str(), failure->message.c_str(), failure->stack.c_str());
    if (link* l = rt.parent_link()) {
      wire::frame_header fh;
      fh.kind = wire::frame_kind::control;
      fh.src_node = rt.node();
      (void)l->append(fh, exit_notice{std::move(*failure)});
    }
    code = 1;
  }
  // As in Python, a process ends by terminating its daemon children and
  // joining the others.
  co_await finish_children(rt);
  co_return code;
}

// glibc returns a freed block at the top of the heap to the kernel once
// 128 KiB are free there, and serves blocks from 128 KiB up (growing with
// use) with fresh mmaps. A process that receives a stream of large messages
// then touches fresh pages for every one (16 page faults per 64 KiB
// payload, each some microseconds on a VM). Keeping up to 32 MiB free at
// the top and serving blocks below 4 MiB from the heap reuses the same
// pages instead. A program that set glibc's own MALLOC_* variables, or
// TROUPE_MALLOC_TUNING=0, keeps glibc's defaults.
void tune_allocator() noexcept {
  const char* off = std::getenv("TROUPE_MALLOC_TUNING");
  if (off != nullptr && std::string_view(off) == "0") return;
  if (std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr || std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr) return;
  (void)::mallopt(M_MMAP_THRESHOLD, 4 << 20);
  (void)::mallopt(M_TRIM_THRESHOLD, 32 << 20);
}

int child_main(pid_t parent) {
  ::signal(SIGPIPE, SIG_IGN);
  tune_allocator();
  base::enable_throw_traces();
  prepare_output();
  auto h = read_hello(child_link_fd);
  if (!h) {
    if (h.code() == errc::closed) return exit_code_parent_lost;
    return refuse(child_link_fd, h.error());
  }
  if (h->protocol != link_protocol_version)
    return refuse(child_link_fd, error{errc::invalid_argument, "link protocol " + std::to_string(h->protocol) +
                                                                   " is not the child's " +
                                                                   std::to_string(link_protocol_version)});
  if (h->build_id != executable_build_id()) {
    return refuse(child_link_fd,
                  error{errc::invalid_argument, "build id mismatch: the parent runs " + to_hex(h->build_id) +
                                                    " but this binary is " + to_hex(executable_build_id()) +
                                                    "; parent and child must be the same program"});
  }
  if (parent != 0 && h->parent_pid != parent)
    return refuse(child_link_fd, error{errc::invalid_argument, "the hello names another parent"});
  entry_fn entry = nullptr;
  raw_function target = nullptr;
  if (!h->serve) {
    auto e = resolve(h->entry);
    if (!e) return refuse(child_link_fd, e.error());
    auto t = resolve(h->target);
    if (!t) return refuse(child_link_fd, t.error());
    entry = reinterpret_cast<entry_fn>(*e);
    target = *t;
  }

  int code = 0;
  {
    runtime_options opts;
    opts.node = h->child_node;
    runtime rt(opts);
    parent_watch watch(h->name);
    auto l = rt.add_link(child_link_fd, h->parent_node, &watch, true);
    if (!l) return exit_code_parent_lost;
    wire::frame_header fh;
    fh.kind = wire::frame_kind::control;
    fh.src_node = rt.node();
    (void)(*l)->append(fh, welcome{rt.node(), static_cast<std::int32_t>(::getpid())});
    code = rt.block_on(child_task(rt, *h, entry, target));
    // The runtime's end sends what is still queued, then closes the link;
    // from here on its closing is ours, not the parent's.
    if (link* pl = rt.parent_link()) pl->set_handler(nullptr);
  }
  std::fflush(nullptr);
  return code;
}

}  // namespace

bool end_serving(runtime& rt, int code) noexcept {
  if (serving == nullptr || serving->done) return false;
  request_shutdown(rt, code);
  return true;
}

coro::task<int> serve_until_shutdown() {
  serve_state serve;
  serving = &serve;
  int code = co_await serve_wait{};
  serving = nullptr;
  co_return code;
}

void start_system_actor(runtime& rt) {
  system_inbox box(rt, system_inbox::system_slot{});
  actor_ref ref = box.ref();
  actor_cell* cell = box.cell();
  coro::task<void> body = system_actor_body(std::move(box));
  launch(rt, ref, cell, std::move(body));
}

void prepare_output() noexcept {
  // Whole lines per write: output of several processes sharing a terminal
  // or pipe interleaves by line, never within one (lines up to PIPE_BUF).
  static char out_buf[BUFSIZ];
  static char err_buf[BUFSIZ];
  std::setvbuf(stdout, out_buf, _IOLBF, sizeof out_buf);
  std::setvbuf(stderr, err_buf, _IOLBF, sizeof err_buf);
}

bool is_child(int argc, char** argv) noexcept {
  return argc > 1 && std::strcmp(argv[1], child_marker) == 0;
}

int run_child(int argc, char** argv) {
  pid_t parent = argc > 2 ? static_cast<pid_t>(std::atoi(argv[2])) : 0;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent may have died before the line above took effect.
  if (parent != 0 && ::getppid() != parent) return exit_code_parent_lost;
  return child_main(parent);
}

void run_forked_child(pid_t parent) {
  // As with Python's fork, the child keeps the parent's other fds; it
  // never touches the parent's runtime and loop it inherited.
  runtime::forget_after_fork();
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  int code = ::getppid() == parent ? child_main(parent) : exit_code_parent_lost;
  std::fflush(nullptr);
  ::_exit(code);
}

}  // namespace troupe::detail

namespace troupe::detail {

void prepare_main_process() noexcept {
  ::signal(SIGPIPE, SIG_IGN);
  tune_allocator();
  prepare_output();
}

void report_main_exception(std::exception_ptr e) noexcept {
  auto info = base::describe(e);
  std::fprintf(stderr, "troupe: the main task failed: %s: %s\n", info.type.c_str(), info.message.c_str());
}

}  // namespace troupe::detail
