#pragma once

// A child process started on another rank of a cluster: the process API
// (join, exitcode, terminate, kill, spawn) from any rank, through a keeper
// actor in the rank's root runtime that owns the process there.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "framework/coro/task.hpp"
#include "framework/runtime/actor_ref.hpp"
#include "framework/runtime/code_address.hpp"
#include "framework/runtime/control.hpp"
#include "framework/runtime/inbox.hpp"
#include "framework/runtime/process.hpp"

namespace troupe {

class remote_process;

/// @cond TROUPE_INTERNAL
namespace detail {

/// What the keeper needs to start the process: the same binary's code
/// addresses of the typed entry and of the target, and the encoded arguments.
struct remote_process_spec {
  code_address entry;
  code_address target;
  wire::packed args;
  std::string name;
};
/// Handle → keeper: the process's pid and node once it started, or why it
/// could not start.
struct remote_process_started {
  std::int32_t pid = -1;
  node_id node = 0;
};
struct remote_process_ask {
  using response = remote_process_started;
};
/// Handle → keeper: answered once the process has ended.
struct remote_process_exit {
  std::int32_t exitcode = 0;
  bool threw = false;           ///< its target threw: `failure` says what
  remote_failure failure;
};
struct remote_process_join {
  using response = remote_process_exit;
};
/// Handle → keeper: send `signal` (SIGTERM or SIGKILL) unless it has ended.
struct remote_process_signal {
  using response = void;
  std::int32_t signal = 0;
};
/// The last handle is gone: the keeper ends once the process has.
struct remote_process_release {};

/// The keeper: starts the process described by `spec` in this runtime and
/// answers for it until it has ended and the handles are gone.
coro::task<void> remote_process_keeper(
    inbox<remote_process_ask, remote_process_join, remote_process_signal, remote_process_release, down> self,
    remote_process_spec spec);

/// Starts a keeper on rank `r` for `spec` and waits until the process runs.
coro::task<result<remote_process>> start_remote_process(int r, remote_process_spec spec);
coro::task<result<actor_ref>> no_remote_process();

}  // namespace detail
/// @endcond

/// A process started on rank `r` of the cluster (cluster::at(r).start(fn,
/// args...)): the counterpart of process for a child that runs on another
/// host. The rank's root runtime starts it and owns it, as its child; this
/// handle talks to it from anywhere. Copies share the process.
///
/// Errors: join throws remote_error if the target threw (as process::join
/// does), and error_exception with errc::peer_down if the rank was lost
/// before the process was seen to end (its children end with it).
/// Thread: any runtime's thread.
class remote_process : public detail::remote_spawner<remote_process> {
 public:
  remote_process() = default;

  /// The rank it runs on.
  [[nodiscard]] int rank() const noexcept { return st_ ? st_->rank : -1; }
  /// Its pid on that rank's host.
  [[nodiscard]] pid_t pid() const noexcept { return st_ ? st_->pid : -1; }
  /// The node id of its runtime (actor refs there carry it).
  [[nodiscard]] node_id node() const noexcept { return st_ ? st_->node : 0; }
  /// nullopt until a join has seen it end; then its exit status, or minus
  /// the signal number if a signal killed it.
  [[nodiscard]] std::optional<int> exitcode() const noexcept { return st_ ? st_->exitcode : std::nullopt; }

  /// Waits until the process has ended, at most `timeout`: true if it
  /// ended (exitcode() then has its status).
  [[nodiscard]] coro::task<bool> join(std::optional<std::chrono::nanoseconds> timeout = std::nullopt) const;
  /// SIGTERM to the process (no effect once it has ended); resumes once
  /// sent. errc::peer_down if the rank is gone.
  [[nodiscard]] coro::task<result<void>> terminate() const;
  /// SIGKILL (see terminate()).
  [[nodiscard]] coro::task<result<void>> kill() const;

  /// Starts a receive-loop actor in the process (see detail::remote_spawner).
  using detail::remote_spawner<remote_process>::spawn;

  /// @cond TROUPE_INTERNAL
  struct state {
    int rank = -1;
    pid_t pid = -1;
    node_id node = 0;
    actor_ref keeper;
    std::optional<int> exitcode;
    ~state();
  };
  explicit remote_process(std::shared_ptr<state> st) noexcept : st_(std::move(st)) {}
  /// @endcond

 private:
  friend class detail::remote_spawner<remote_process>;
  coro::task<result<actor_ref>> spawn_remote(detail::raw_function entry, detail::raw_function target,
                                             wire::packed args);
  std::shared_ptr<state> st_;
};

/// @cond TROUPE_INTERNAL
namespace detail {
/// The code address and encoded arguments of `target(args...)` as a process
/// target (the checks process's constructor makes).
template <class F, class... Args>
remote_process_spec remote_spec(F target, Args&&... args) {
  auto fn = as_function_pointer(target);
  using Traits = target_traits<decltype(fn)>;
  using R = typename Traits::result_type;
  static_assert(valid_target_result<R>, "troupe: a process target returns void, int, task<void> or task<int>");
  remote_process_spec spec;
  spec.args = encode_args<Traits>(std::forward<Args>(args)...);
  auto entry = locate(erase(process_entry_for(fn)));
  auto where = locate(erase(fn));
  if (!entry) throw error_exception(entry.error());
  if (!where) throw error_exception(where.error());
  spec.entry = std::move(*entry);
  spec.target = std::move(*where);
  return spec;
}
}  // namespace detail
/// @endcond

}  // namespace troupe
