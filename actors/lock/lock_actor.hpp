#pragma once

#include <memory>

#include "actors/lock/lock_messages.hpp"
#include "framework/coro/task.hpp"
#include "framework/runtime/inbox.hpp"
#include "framework/transport/shm_segment.hpp"

namespace troupe::actors::detail {

using lock_inbox = inbox<lock_acquire, lock_release, lock_withdraw, lock_query, down>;

/// The server of a lock (recursive: an rlock). The holder is in the shared
/// word (lock_shared); the server hands out slots, keeps the FIFO of
/// waiters, hands the lock over on a release that finds waiters, and frees
/// it when the holder's process dies — telling the next holder owner_died.
coro::task<void> lock_server(lock_inbox self, std::shared_ptr<transport::shm_segment> segment, bool recursive);

}  // namespace troupe::actors::detail
