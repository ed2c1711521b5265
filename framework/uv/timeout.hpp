#pragma once

#include <chrono>
#include <stop_token>
#include <string>
#include <utility>

#include "framework/base/result.hpp"
#include "framework/coro/task.hpp"
#include "framework/coro/when_any.hpp"
#include "framework/uv/loop.hpp"
#include "framework/uv/timer.hpp"

namespace troupe::uv {

namespace detail {

template <class T>
coro::task<result<T>> expire_after(loop& l, std::chrono::nanoseconds timeout, std::string what,
                                   std::stop_token stop) {
  auto slept = co_await sleep_for(l, timeout, std::move(stop));
  if (!slept) co_return slept.error();
  co_return error{errc::timeout, std::move(what)};
}

}  // namespace detail

/// Races `work` against a timer of `timeout`: whichever ends first stops the
/// other (see coro::when_any), and with_timeout waits for both. `work` must
/// have been made with a token of `race` so that it notices when the timer
/// wins; `stop`, the caller's own token, stops both.
///
/// Gives work's result if it finished first; errc::timeout with the message
/// `what` if the timer did; errc::cancelled if `stop` fired first.
///
///     std::stop_source race;
///     auto reading = read_some(stream, space, race.get_token());
///     auto raced = uv::with_timeout(l, race, std::move(reading), 2s, "no reply", stop);
///     result<std::size_t> n = co_await std::move(raced);
template <class T>
coro::task<result<T>> with_timeout(loop& l, std::stop_source race, coro::task<result<T>> work,
                                   std::chrono::nanoseconds timeout, std::string what, std::stop_token stop) {
  std::stop_callback forward(stop, [&race] { race.request_stop(); });
  auto timer = detail::expire_after<T>(l, timeout, std::move(what), race.get_token());
  auto first = coro::when_any(race, std::move(work), std::move(timer));
  auto done = co_await std::move(first);
  if (!done.value && stop.stop_requested()) co_return error{errc::cancelled, "cancelled"};
  co_return std::move(done.value);
}

}  // namespace troupe::uv
