#pragma once

// The wire types between a pool's server and its worker processes. A task
// is a chunk of one or more calls of one function: its arguments encoded as
// a count followed by one argument tuple per call; its results come back as
// the encoded vector of the calls that returned, plus one failure per call
// that did not.

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "framework/runtime/actor_ref.hpp"
#include "framework/runtime/code_address.hpp"
#include "framework/runtime/control.hpp"
#include "framework/wire/packed.hpp"

namespace troupe::actors::detail {

/// Why a call of a pool task failed. Append-only: travels between processes.
enum class task_failure_cause : std::uint8_t {
  exception = 0,    ///< the function threw; the failure names the exception
  worker_lost = 1,  ///< the worker died running it, every time it was tried
  timeout = 2,      ///< it ran past its deadline and its worker was killed
  cancelled = 3,    ///< the pool was terminated before it ran
  initializer = 4,  ///< the workers' initializer failed, so nothing could run
  start_failed = 5, ///< workers could not be started (or died while starting)
};

/// One failed call: its index within the chunk and what happened.
struct pool_item_failure {
  std::uint32_t index = 0;
  task_failure_cause cause = task_failure_cause::exception;
  troupe::detail::remote_failure info;
  std::int32_t exitcode = 0;   ///< the worker's exit status, minus the signal, for worker_lost
  std::uint32_t attempts = 1;  ///< how many times the call was started
};

/// A worker's first message: it is ready (or its initializer failed, and
/// it exits).
struct pool_hello {
  std::uint64_t worker = 0;
  std::int32_t pid = 0;
  actor_ref inbox;
  std::optional<troupe::detail::remote_failure> init_failure;
};

/// Server → worker: run these calls.
struct pool_task {
  std::uint64_t id = 0;
  troupe::detail::code_address entry;  ///< the trampoline that decodes, calls and encodes
  troupe::detail::code_address fn;     ///< the user's function
  wire::packed args;
};

/// Worker → server: the task ran. `results` is the encoded vector of the
/// results of the calls that returned, in order; `failures` the others.
/// `chunk_failure` set: nothing in the task could run (its function was
/// not found, its arguments did not decode).
struct pool_done {
  std::uint64_t worker = 0;
  std::uint64_t id = 0;
  wire::packed results;
  std::vector<pool_item_failure> failures;
  std::optional<troupe::detail::remote_failure> chunk_failure;
  std::uint64_t run_ns = 0;  ///< how long the worker spent on it
};

/// Server → worker: finish (after the tasks already sent) and exit.
struct pool_stop {};

}  // namespace troupe::actors::detail
