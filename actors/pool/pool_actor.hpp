#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/pool/pool_job.hpp"
#include "actors/pool/pool_messages.hpp"
#include "framework/coro/task.hpp"
#include "framework/runtime/exit_reason.hpp"
#include "framework/runtime/inbox.hpp"
#include "framework/runtime/process.hpp"

namespace troupe {

/// Counters of a pool, for diagnostics and tests.
struct pool_stats {
  std::uint64_t workers_started = 0;   ///< processes started, replacements included
  std::uint64_t workers_died = 0;      ///< workers that ended without being asked to
  std::uint64_t workers_retired = 0;   ///< workers that ended after maxtasksperchild tasks
  std::uint64_t calls_retried = 0;     ///< calls run again after their worker died
  std::uint64_t calls_timed_out = 0;   ///< calls failed by their deadline
  std::uint64_t tasks_completed = 0;   ///< tasks (chunks) whose results arrived
  std::size_t workers_alive = 0;       ///< started and not yet known to have ended
};

}  // namespace troupe

namespace troupe::actors::detail {

/// A pool's initializer, as it travels to each worker.
struct pool_initializer {
  troupe::detail::code_address entry;
  troupe::detail::code_address fn;
  wire::packed args;
};

struct pool_config {
  std::size_t processes = 1;
  std::optional<troupe::detail::start_method> method;
  std::size_t maxtasksperchild = 0;
  std::uint32_t retries = 2;
  std::uint64_t timeout_ns = 0;
  std::string name;
  std::optional<pool_initializer> init;
};

/// What the client and the server share (same thread).
struct pool_shared {
  pool_stats stats;
  std::vector<int> pids;  ///< of the workers started and not yet known to have ended
  bool running = true;  ///< false once the server has ended
};

// Local messages from the client to its server.
struct pool_submit {
  std::shared_ptr<pool_job> job;
};
struct pool_poke {};
struct pool_close {};
struct pool_terminate {};
struct pool_join {
  using response = void;
};

using pool_inbox = inbox<pool_hello, pool_done, down, pool_submit, pool_poke, pool_close, pool_terminate, pool_join>;

/// The pool's server: starts and replaces the workers, hands them chunks of
/// the submitted jobs (retries first, then jobs in submission order), files
/// their results in the jobs exactly once, and re-runs what a dead worker
/// held within the retry budget. Lives in the runtime that made the pool.
coro::task<void> pool_server(pool_inbox self, pool_config config, std::shared_ptr<pool_shared> shared);

/// A worker process's body: runs the initializer, says hello, then runs
/// tasks in order until told to stop or the server is gone.
coro::task<int> pool_worker_main(actor_ref server, std::uint64_t worker, std::string name,
                                 std::optional<pool_initializer> init);

}  // namespace troupe::actors::detail
