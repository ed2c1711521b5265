#pragma once

#include <cstdint>

#include "actors/semaphore/semaphore_messages.hpp"
#include "framework/coro/task.hpp"
#include "framework/runtime/inbox.hpp"

namespace troupe::actors::detail {

using semaphore_inbox = inbox<sem_acquire, sem_release, sem_withdraw, sem_query, down>;

/// The server of a semaphore: the count, the FIFO of waiters, and the
/// permits each process holds, which come back when that process dies.
/// A bounded semaphore refuses a release above its initial value.
coro::task<void> semaphore_server(semaphore_inbox self, std::int64_t initial, bool bounded);

}  // namespace troupe::actors::detail
