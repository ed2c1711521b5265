#pragma once

#include "framework/base/assert.hpp"
#include "framework/coro/run_into.hpp"
#include "framework/coro/task.hpp"
#include "framework/uv/loop.hpp"

namespace troupe::uv {

/// Drives the loop on the calling thread (which must be the loop's) until the
/// task finishes, then returns its value or rethrows its exception. If every
/// coroutine ends up waiting for something that can never happen, this
/// aborts with a message instead of hanging.
template <class T>
T block_on(loop& l, coro::task<T> t) {
  struct mark_done {
    bool* done;
    void operator()() const noexcept { *done = true; }
  };
  bool done = false;
  coro::detail::outcome<T> out;
  coro::detail::run_into(t, out, mark_done{&done});
  bool finished = l.run_until([&] { return done; });
  TROUPE_ASSERT(finished,
                "block_on: the task waits for something that can never happen "
                "(nothing is ready, no handle, timer or request is active)");
  return out.take();
}

}  // namespace troupe::uv
