#pragma once

#include <memory>

#include "actors/lock/lock_messages.hpp"
#include "framework/coro/task.hpp"
#include "framework/runtime/inbox.hpp"
#include "framework/transport/shm_segment.hpp"

namespace troupe::actors::detail {

using lock_inbox = inbox<lock_acquire, lock_release, lock_withdraw, lock_query, lock_notify, down>;

/// The server of a lock (recursive: an rlock). The holder is in the shared
/// word (lock_shared); the server hands out slots, keeps the sleepers in
/// FIFO order and wakes the first when the lock is freed (it then takes
/// the lock like anyone else: no lock sits idle while a woken process gets
/// going), and when the holder's process dies it hands the lock straight to
/// the first sleeper, telling it owner_died.
coro::task<void> lock_server(lock_inbox self, std::shared_ptr<transport::shm_segment> segment, bool recursive);

}  // namespace troupe::actors::detail
