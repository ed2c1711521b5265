#pragma once

// The one header a troupe program includes.

#include <chrono>
#include <stop_token>
#include <utility>

#include "actors/barrier/barrier.hpp"
#include "actors/condition/condition.hpp"
#include "actors/event/event.hpp"
#include "actors/lock/lock.hpp"
#include "actors/manager/manager.hpp"
#include "actors/pipe/pipe.hpp"
#include "actors/pool/cluster_pool.hpp"
#include "actors/pool/pool.hpp"
#include "actors/queue/queue.hpp"
#include "actors/semaphore/semaphore.hpp"
#include "actors/shared/array.hpp"
#include "actors/shared/value.hpp"
#include "framework/base/error.hpp"
#include "framework/base/overloaded.hpp"
#include "framework/base/result.hpp"
#include "framework/base/version.hpp"
#include "framework/coro/scope.hpp"
#include "framework/coro/sync_wait.hpp"
#include "framework/coro/task.hpp"
#include "framework/coro/when_all.hpp"
#include "framework/coro/when_any.hpp"
#include "framework/http/http.hpp"
#include "framework/runtime/actor_ref.hpp"
#include "framework/runtime/cluster.hpp"
#include "framework/runtime/exit_reason.hpp"
#include "framework/runtime/inbox.hpp"
#include "framework/runtime/listener.hpp"
#include "framework/runtime/messaging.hpp"
#include "framework/runtime/process.hpp"
#include "framework/runtime/remote_error.hpp"
#include "framework/runtime/responder.hpp"
#include "framework/runtime/run.hpp"
#include "framework/runtime/runtime.hpp"
#include "framework/runtime/spawn.hpp"
#include "framework/runtime/thread.hpp"
#include "framework/uv/offload.hpp"
#include "framework/uv/timer.hpp"
#include "framework/wire/codec.hpp"

namespace troupe {

using coro::task;
using coro::when_all;
using coro::when_any;
using coro::when_any_result;
using coro::scope;

/// Suspends the calling coroutine for `d` on the current thread's runtime.
/// Returns errc::cancelled if `stop` fires first.
inline uv::sleep_awaiter sleep_for(std::chrono::nanoseconds d, std::stop_token stop = {}) {
  return uv::sleep_for(runtime::current().loop(), d, std::move(stop));
}

/// Runs a blocking function on the runtime's worker threads and resumes
/// with its result (see uv::offload for cancellation and exceptions).
template <class Fn>
auto offload(Fn&& fn, std::stop_token stop = {}) {
  return uv::offload(runtime::current().loop(), std::forward<Fn>(fn), std::move(stop));
}

/// spawn() on the current thread's runtime.
template <class F, class... Args>
actor_ref spawn(F fn, Args&&... args) {
  return spawn(runtime::current(), fn, std::forward<Args>(args)...);
}

}  // namespace troupe
