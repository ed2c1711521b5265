#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>
#include <vector>

#include "actors/manager/dict_proxy.hpp"
#include "actors/manager/list_proxy.hpp"
#include "actors/queue/queue.hpp"
#include "framework/runtime/process.hpp"

namespace troupe {

/// A server process for shared objects, as Python's multiprocessing.Manager:
/// list(), dict() and queue() start their server actors in the manager's
/// process and return proxies that any process can use. Keeping the
/// servers out of the parent keeps the parent's loop free for its own work;
/// objects that do not need that can be made with list_proxy<T>::make() and
/// friends instead, served by the runtime that makes them.
///
/// The manager is a move-only owner: shutdown() (or the destructor, which
/// kills without waiting) ends the process and every object in it; proxies
/// used afterwards report errc::peer_down. The process is a daemon: it also
/// ends with the runtime that started it, and with that runtime's process.
/// Thread: the runtime's thread that started it.
class manager {
 public:
  manager() = default;
  /// Takes over the manager process; the moved-from manager owns none.
  manager(manager&&) noexcept = default;
  /// Stops the manager process held before, then takes over `o`'s.
  manager& operator=(manager&& o) noexcept {
    if (this != &o) {
      stop_now();
      process_ = std::move(o.process_);
    }
    return *this;
  }
  ~manager() { stop_now(); }

  /// Starts the manager's process. Throws error_exception if it cannot be
  /// started (as process::start).
  static manager start(process_options options = {}) {
    if (options.name.empty()) options.name = "manager";
    manager m;
    m.process_ = process::host(std::move(options));
    m.process_.start();
    return m;
  }

  /// A new shared list in the manager's process.
  template <class T>
  [[nodiscard]] coro::task<result<list_proxy<T>>> list(std::vector<T> initial = {}) {
    auto ref = co_await process_.spawn(&actors::detail::list_server<T>, std::move(initial));
    if (!ref) co_return ref.error();
    co_return list_proxy<T>(*ref);
  }
  /// A new shared dict in the manager's process.
  template <class K, class V>
  [[nodiscard]] coro::task<result<dict_proxy<K, V>>> dict(std::map<K, V> initial = {}) {
    auto ref = co_await process_.spawn(&actors::detail::dict_server<K, V>, std::move(initial));
    if (!ref) co_return ref.error();
    co_return dict_proxy<K, V>(*ref);
  }
  /// A new queue in the manager's process (maxsize as queue<T>::make).
  template <class T>
  [[nodiscard]] coro::task<result<troupe::queue<T>>> queue(std::size_t maxsize = 0) {
    auto ref = co_await process_.spawn(&actors::detail::queue_server<T>, std::uint64_t{maxsize});
    if (!ref) co_return ref.error();
    co_return troupe::queue<T>(*ref);
  }

  /// Ends the manager's process (SIGTERM) and waits until it is gone.
  [[nodiscard]] coro::task<void> shutdown() {
    if (!process_.is_alive()) co_return;
    process_.terminate();
    (void)co_await process_.join();
  }

  /// Whether the manager process runs.
  [[nodiscard]] bool is_alive() const { return process_.is_alive(); }
  /// The manager process's pid.
  [[nodiscard]] pid_t pid() const noexcept { return process_.pid(); }
  /// The manager process's handle (to kill it in tests, read its exit code).
  [[nodiscard]] troupe::process& process_handle() noexcept { return process_; }

 private:
  void stop_now() noexcept {
    if (process_.pid() > 0 && process_.is_alive()) process_.kill();
  }
  troupe::process process_;
};

}  // namespace troupe
