#pragma once

#include "actors/lock/lock_messages.hpp"
#include "framework/coro/task.hpp"
#include "framework/runtime/inbox.hpp"

namespace troupe::actors::detail {

using lock_inbox = inbox<lock_acquire, lock_release, lock_withdraw, lock_query, down>;

/// The server of a lock (recursive: an rlock). Owns the holder, the
/// recursion depth and the FIFO of waiters. When the holder's process dies
/// the lock passes to the next waiter, who is told owner_died.
coro::task<void> lock_server(lock_inbox self, bool recursive);

}  // namespace troupe::actors::detail
