#include "actors/pool/pool.hpp"

#include <sched.h>

namespace troupe {

std::size_t usable_cpus() noexcept {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return static_cast<std::size_t>(n);
  }
  return 1;
}

troupe::detail::code_address pool::locate(troupe::detail::raw_function f) {
  auto at = troupe::detail::locate(f);
  if (!at) throw error_exception(at.error());
  return std::move(*at);
}

void pool::launch(pool_options options, std::optional<actors::detail::pool_initializer> init) {
  rt_ = &runtime::current();
  processes_ = options.processes != 0 ? options.processes : usable_cpus();
  actors::detail::pool_config cfg;
  cfg.processes = processes_;
  cfg.method = options.method;
  cfg.maxtasksperchild = options.maxtasksperchild;
  cfg.retries = options.retries;
  if (options.task_timeout) cfg.timeout_ns = static_cast<std::uint64_t>(std::max<std::int64_t>(1, options.task_timeout->count()));
  cfg.name = std::move(options.name);
  cfg.init = std::move(init);
  shared_ = std::make_shared<actors::detail::pool_shared>();
  server_ = spawn(*rt_, &actors::detail::pool_server, std::move(cfg), shared_);
}

void pool::submit(const std::shared_ptr<actors::detail::pool_job>& job) {
  if (rt_ == nullptr) {
    actors::detail::pool_item_failure f;
    f.cause = task_failure::cancelled;
    f.info.type = "troupe::cancelled";
    f.info.message = "the pool was moved from";
    job->abort(std::move(f));
    return;
  }
  runtime* rt = rt_;
  actor_ref server = server_;
  job->poke = [rt, server] { (void)rt->post(server, actors::detail::pool_poke{}, troupe::detail::reply_address{}, false); };
  if (rt_->post(server_, actors::detail::pool_submit{job}, troupe::detail::reply_address{}, false) !=
      runtime::post_outcome::delivered) {
    actors::detail::pool_item_failure f;
    f.cause = task_failure::cancelled;
    f.info.type = "troupe::cancelled";
    f.info.message = "the pool is no longer running";
    job->abort(std::move(f));
  }
}

void pool::close() {
  if (rt_ == nullptr || closed_) return;
  closed_ = true;
  (void)rt_->post(server_, actors::detail::pool_close{}, troupe::detail::reply_address{}, false);
}

void pool::terminate() {
  if (rt_ == nullptr) return;
  closed_ = true;
  (void)rt_->post(server_, actors::detail::pool_terminate{}, troupe::detail::reply_address{}, false);
}

coro::task<void> pool::join() {
  if (rt_ == nullptr) co_return;
  if (!closed_)
    throw error_exception(error{errc::invalid_argument, "join() on a pool that is still running: close() or terminate() it first"});
  auto shared = shared_;
  if (!shared->running) co_return;
  auto r = co_await server_.request<void>(actors::detail::pool_join{});
  // The server ends as the last worker does; its end answers too.
  if (!r && r.error().code != errc::no_actor && r.error().code != errc::broken_promise) throw error_exception(r.error());
}

const pool_stats& pool::stats() const noexcept {
  static const pool_stats none;
  return shared_ ? shared_->stats : none;
}

void pool::end() noexcept {
  if (rt_ == nullptr) return;
  if (runtime::current_or_null() == rt_)
    (void)rt_->post(server_, actors::detail::pool_terminate{}, troupe::detail::reply_address{}, false);
  rt_ = nullptr;
}

}  // namespace troupe
