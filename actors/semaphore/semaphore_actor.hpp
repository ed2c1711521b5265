#pragma once

#include <cstdint>
#include <memory>

#include "actors/semaphore/semaphore_messages.hpp"
#include "framework/coro/task.hpp"
#include "framework/runtime/inbox.hpp"
#include "framework/transport/shm_segment.hpp"

namespace troupe::actors::detail {

using semaphore_inbox = inbox<sem_acquire, sem_release, sem_withdraw, sem_query, down>;

/// The server of a semaphore. The free count is in the shared word
/// (semaphore_shared); the server hands out slots, keeps the waiters in FIFO
/// order and hands them permits as they come back, and returns the permits
/// of a process that dies. A bounded semaphore refuses a release above its
/// initial value.
coro::task<void> semaphore_server(semaphore_inbox self, std::shared_ptr<transport::shm_segment> segment);

}  // namespace troupe::actors::detail
