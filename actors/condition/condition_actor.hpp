#pragma once

#include "actors/condition/condition_messages.hpp"
#include "framework/coro/task.hpp"
#include "framework/runtime/inbox.hpp"

namespace troupe::actors::detail {

using condition_inbox = inbox<lock_acquire, lock_release, lock_withdraw, lock_query, cond_wait, cond_notify, down>;

/// The server of a condition and its re-entrant lock. A waiter that is
/// notified or times out queues to re-acquire the lock like any acquirer;
/// a notified waiter whose process dies before it got the lock passes the
/// notify on to the next waiter, so no notify meant for the living is lost.
coro::task<void> condition_server(condition_inbox self);

}  // namespace troupe::actors::detail
