#pragma once

#include <condition_variable>
#include <mutex>

#include "framework/coro/run_into.hpp"
#include "framework/coro/task.hpp"

namespace troupe::coro {

/// Runs a task to completion on the calling thread and returns its result
/// (or rethrows its exception). Blocks the thread while the task is
/// suspended, so whatever resumes the task must run on another thread; on a
/// runtime's own thread use runtime::block_on instead, which drives the loop.
template <class T>
T sync_wait(task<T> t) {
  struct signal {
    std::mutex mutex;
    std::condition_variable cv;
    bool done = false;
  } sig;
  struct notify {
    signal* s;
    void operator()() const {
      std::lock_guard lock(s->mutex);
      s->done = true;
      s->cv.notify_all();
    }
  };
  detail::outcome<T> out;
  detail::run_into(t, out, notify{&sig});
  {
    std::unique_lock lock(sig.mutex);
    sig.cv.wait(lock, [&] { return sig.done; });
  }
  return out.take();
}

}  // namespace troupe::coro
