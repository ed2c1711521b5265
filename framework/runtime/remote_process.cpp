#include "framework/runtime/remote_process.hpp"

#include <signal.h>

#include <vector>

#include "framework/runtime/cluster.hpp"
#include "framework/runtime/inbox.hpp"

namespace troupe {

namespace detail {

namespace {

using keeper_inbox =
    inbox<remote_process_ask, remote_process_join, remote_process_signal, remote_process_release, down>;

// How the process ended, once its runtime is gone: join collects the status
// (a moment later than the link's end), killing it if it lingers.
coro::task<remote_process_exit> collect_exit(process& p) {
  remote_process_exit out;
  try {
    bool ended = co_await p.join(std::chrono::seconds(10));
    if (!ended) {
      p.kill();
      ended = co_await p.join(std::chrono::seconds(10));
    }
    out.exitcode = p.exitcode().value_or(-SIGKILL);
  } catch (const remote_error& e) {
    out.exitcode = e.exitcode();
    out.threw = true;
    out.failure.type = e.type();
    out.failure.message = e.message();
    out.failure.pid = e.pid();
    out.failure.process = e.process_name();
    out.failure.stack = e.stack();
  } catch (const error_exception& e) {
    // It refused to start (another binary, a function not found).
    out.exitcode = p.exitcode().value_or(exit_code_refused);
    out.threw = true;
    out.failure.type = "troupe::error_exception";
    out.failure.message = e.error().describe();
    out.failure.pid = static_cast<std::int32_t>(p.pid());
    out.failure.process = p.name();
  }
  co_return out;
}

}  // namespace

coro::task<void> remote_process_keeper(keeper_inbox self, remote_process_spec spec) {
  process p;
  std::optional<error> failed;
  auto entry = resolve(spec.entry);
  auto target = resolve(spec.target);
  if (!entry) {
    failed = entry.error();
  } else if (!target) {
    failed = target.error();
  } else {
    try {
      process_options options;
      options.name = std::move(spec.name);
      p = erased_process(std::move(options), *entry, *target, std::move(spec.args));
      p.start();
    } catch (const error_exception& e) {
      failed = e.error();
    }
  }
  // The child's runtime ending (its link lost) is the signal to collect
  // its status; the monitor fires even if it never got as far as running.
  if (!failed) self.monitor(runtime::system_actor(p.node()));
  std::optional<remote_process_exit> exited;
  std::vector<responder> joiners;
  bool released = false;
  for (;;) {
    if (released && (exited || failed)) break;
    auto l = co_await self.receive();
    if (!l) break;
    if (l->is<remote_process_ask>()) {
      if (failed) l->fail(*failed);
      else l->reply(remote_process_started{static_cast<std::int32_t>(p.pid()), p.node()});
    } else if (l->is<remote_process_join>()) {
      if (failed) l->fail(*failed);
      else if (exited) l->reply(*exited);
      else joiners.push_back(l->take_responder());
    } else if (l->is<remote_process_signal>()) {
      if (!failed && !exited) {
        if (l->get<remote_process_signal>().signal == SIGKILL) p.kill();
        else p.terminate();
      }
      l->reply();
    } else if (l->is<remote_process_release>()) {
      released = true;
    } else if (l->is<down>() && !exited && !failed) {
      exited = co_await collect_exit(p);
      for (responder& j : joiners) j.reply(*exited);
      joiners.clear();
    }
  }
  // Ending with the rank: a process still running is the runtime's child,
  // killed when it shuts down.
}

coro::task<result<remote_process>> start_remote_process(int r, remote_process_spec spec) {
  cluster_rank where(r);
  auto spawned = where.spawn(&remote_process_keeper, std::move(spec));
  auto keeper = co_await std::move(spawned);
  if (!keeper) co_return keeper.error();
  const remote_process_ask ask;
  const std::chrono::nanoseconds limit = std::chrono::seconds(60);
  auto started = co_await keeper->request(ask, limit);
  if (!started) co_return started.error();
  auto st = std::make_shared<remote_process::state>();
  st->rank = r;
  st->pid = started->pid;
  st->node = started->node;
  st->keeper = *keeper;
  co_return remote_process(std::move(st));
}

namespace {

coro::task<bool> join_remote(std::shared_ptr<remote_process::state> st,
                             std::optional<std::chrono::nanoseconds> timeout) {
  if (!st) throw error_exception(error{errc::invalid_argument, "join on an empty remote_process"});
  if (st->exitcode) co_return true;
  const remote_process_join ask;
  const std::chrono::nanoseconds limit = timeout.value_or(std::chrono::nanoseconds::max());
  auto got = co_await st->keeper.request(ask, limit);
  if (!got) {
    if (got.code() == errc::timeout) co_return false;
    if (got.code() == errc::peer_down || got.code() == errc::no_actor)
      throw error_exception(error{errc::peer_down, "rank " + std::to_string(st->rank) + " was lost before process " +
                                                       std::to_string(st->pid) + " was seen to end"});
    throw error_exception(got.error());
  }
  st->exitcode = got->exitcode;
  if (got->threw) throw remote_error(std::move(got->failure), got->exitcode);
  co_return true;
}

coro::task<result<void>> signal_remote(std::shared_ptr<remote_process::state> st, int sig) {
  if (!st) co_return error{errc::invalid_argument, "signal to an empty remote_process"};
  if (st->exitcode) co_return result<void>{};
  const remote_process_signal ask{sig};
  const std::chrono::nanoseconds limit = std::chrono::seconds(30);
  auto r = co_await st->keeper.request(ask, limit);
  if (!r && (r.code() == errc::no_actor || r.code() == errc::peer_down))
    co_return error{errc::peer_down, "rank " + std::to_string(st->rank) + " is gone"};
  co_return r;
}

}  // namespace

coro::task<result<actor_ref>> no_remote_process() {
  co_return error{errc::invalid_argument, "spawn into an empty remote_process"};
}

}  // namespace detail

remote_process::state::~state() {
  if (!keeper) return;
  // The keeper ends once the process has; without a runtime (the program
  // is ending) the rank's end takes it along.
  if (runtime::current_or_null() != nullptr) (void)keeper.try_send(detail::remote_process_release{});
}

coro::task<bool> remote_process::join(std::optional<std::chrono::nanoseconds> timeout) const {
  return detail::join_remote(st_, timeout);
}

coro::task<result<void>> remote_process::terminate() const { return detail::signal_remote(st_, SIGTERM); }

coro::task<result<void>> remote_process::kill() const { return detail::signal_remote(st_, SIGKILL); }

coro::task<result<actor_ref>> remote_process::spawn_remote(detail::raw_function entry, detail::raw_function target,
                                                          wire::packed args) {
  if (!st_) return detail::no_remote_process();
  return detail::spawn_on_node(st_->node, entry, target, std::move(args));
}

}  // namespace troupe
