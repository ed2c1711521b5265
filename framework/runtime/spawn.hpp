#pragma once

#include <coroutine>
#include <exception>
#include <functional>
#include <type_traits>
#include <utility>

#include "framework/base/exception_info.hpp"
#include "framework/coro/task.hpp"
#include "framework/runtime/inbox.hpp"
#include "framework/runtime/runtime.hpp"

namespace troupe {

/// The message types a class-style actor handles, declared as
/// `using messages = troupe::message_list<a, b, c>;`.
template <class... Ms>
struct message_list {};

namespace detail {

// The root coroutine of an actor: created suspended and scheduled, so spawn()
// returns before the actor runs; destroys itself at the end.
struct actor_root {
  struct promise_type {
    actor_root get_return_object() noexcept {
      return actor_root{std::coroutine_handle<promise_type>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    [[noreturn]] void unhandled_exception() noexcept { std::terminate(); }
  };
  std::coroutine_handle<promise_type> handle;
};

inline actor_root run_actor(runtime& rt, actor_cell* cell, coro::task<void> body) {
  try {
    co_await std::move(body);
  } catch (...) {
    auto info = base::describe(std::current_exception());
    cell->reason = exit_reason{exit_reason::kind::exception, 0, std::move(info.type), std::move(info.message)};
  }
  // Destroy the body (and the inbox in it) before retiring, so nothing in
  // the actor's frame outlives its slot.
  body = coro::task<void>{};
  rt.retire(cell);
  rt.actor_finished();
}

template <class T>
struct is_inbox : std::false_type {};
template <class... Ms>
struct is_inbox<inbox<Ms...>> : std::true_type {};

template <class F>
struct first_param;
template <class R, class A, class... Rest>
struct first_param<R (*)(A, Rest...)> {
  using type = A;
};
template <class F>
  requires requires { &F::operator(); }
struct first_param<F> : first_param<decltype(+std::declval<F>())> {};

template <class C>
struct class_inbox;
template <class... Ms>
struct class_inbox<message_list<Ms...>> {
  using type = inbox<Ms...>;
};

template <class R>
coro::task<void> reply_when_done(coro::task<R> t, responder r) {
  try {
    if constexpr (std::is_void_v<R>) {
      co_await std::move(t);
      r.reply();
    } else {
      r.reply(co_await std::move(t));
    }
  } catch (...) {
    r.fail_with_current_exception();
    throw;
  }
}

template <class T>
struct is_task : std::false_type {};
template <class T>
struct is_task<coro::task<T>> : std::true_type {
  using value_type = T;
};

template <class C, class M>
decltype(auto) call_handler(C& obj, M& m) {
  if constexpr (requires { obj.on(std::move(m)); }) {
    return obj.on(std::move(m));
  } else {
    static_assert(requires { obj.on(m); },
                  "troupe: the actor class lists a message type in `messages` that it has no "
                  "on(...) handler for");
    return obj.on(m);
  }
}

// Runs the handler for one letter; a task is returned only when the handler
// itself is asynchronous, so synchronous handlers allocate nothing.
template <class C, class... Ms>
coro::task<void> dispatch(C& obj, letter<Ms...>& l) {
  coro::task<void> pending;
  try {
    std::visit(
        [&](auto& m) {
          using Ret = decltype(call_handler(obj, m));
          if constexpr (is_task<Ret>::value) {
            pending = reply_when_done(call_handler(obj, m), l.take_responder());
          } else if constexpr (std::is_void_v<Ret>) {
            call_handler(obj, m);
            if (l.is_request()) l.reply();
          } else {
            l.reply(call_handler(obj, m));
          }
        },
        l.body());
  } catch (...) {
    l.take_responder().fail_with_current_exception();
    throw;
  }
  return pending;
}

template <class C, class Inbox, class... Args>
coro::task<void> class_actor_body(Inbox self, Args... args) {
  auto make = [&]() -> C {
    if constexpr (std::is_constructible_v<C, actor_ref, Args&...>) return C(self.ref(), args...);
    else return C(args...);
  };
  C obj = make();
  for (;;) {
    auto l = co_await self.receive();
    if (!l) co_return;
    auto t = dispatch(obj, *l);
    if (t.valid()) co_await std::move(t);
  }
}

// Wraps an actor's body in its root coroutine and schedules it.
inline actor_ref launch(runtime& rt, actor_ref ref, actor_cell* cell, coro::task<void> body) {
  actor_root root = run_actor(rt, cell, std::move(body));
  rt.actor_started();
  rt.loop().schedule(root.handle);
  return ref;
}

}  // namespace detail

/// Starts a receive-loop actor: `fn` is a free function or captureless
/// lambda returning task<void> whose first parameter is an inbox<Ms...>;
/// the other parameters are taken from `args` (decayed copies). The actor
/// starts at the runtime's next turn; its ref is returned at once.
/// Its exit reason is `normal` when fn returns, `exception` when one
/// escapes (type and message kept), `stopped` after runtime::stop.
template <class F, class... Args>
actor_ref spawn(runtime& rt, F fn, Args&&... args) {
  static_assert(std::is_empty_v<F> || std::is_pointer_v<F>,
                "troupe: an actor function must not capture anything; pass its state as arguments");
  using Inbox = std::remove_cvref_t<typename detail::first_param<F>::type>;
  static_assert(detail::is_inbox<Inbox>::value,
                "troupe: an actor function takes its inbox<...> as first parameter");
  Inbox box(rt, /*rooted=*/true);
  // The inbox moves into the coroutine frame; keep what the root needs.
  actor_ref ref = box.ref();
  detail::actor_cell* cell = box.cell();
  coro::task<void> body = std::invoke(fn, std::move(box), std::decay_t<Args>(std::forward<Args>(args))...);
  return detail::launch(rt, ref, cell, std::move(body));
}

/// Starts a class-style actor of type C, constructed from `args` (and the
/// actor's own ref first, if C has such a constructor). C declares
/// `using messages = message_list<...>;` and one `on(M)` overload per
/// message type; a handler may return void, a value (the reply to a
/// request) or a task of either (awaited before the next message).
template <class C, class... Args>
actor_ref spawn(runtime& rt, Args&&... args) {
  using Inbox = typename detail::class_inbox<typename C::messages>::type;
  Inbox box(rt, /*rooted=*/true);
  actor_ref ref = box.ref();
  detail::actor_cell* cell = box.cell();
  coro::task<void> body =
      detail::class_actor_body<C, Inbox, std::decay_t<Args>...>(std::move(box), std::forward<Args>(args)...);
  return detail::launch(rt, ref, cell, std::move(body));
}

/// Opens a standalone inbox on the runtime, for code that is not an actor
/// but wants messages (replies are not needed for that: request() works
/// from any coroutine).
template <class... Ms>
inbox<Ms...> open_inbox(runtime& rt) {
  return inbox<Ms...>(rt);
}

}  // namespace troupe
