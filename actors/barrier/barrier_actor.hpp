#pragma once

#include <cstdint>
#include <functional>

#include "actors/barrier/barrier_messages.hpp"
#include "framework/coro/task.hpp"
#include "framework/runtime/inbox.hpp"

namespace troupe::actors::detail {

using barrier_inbox = inbox<barrier_wait, barrier_withdraw, barrier_abort, barrier_reset, barrier_query, down>;

/// The server of a barrier: releases the waiters when `parties` have
/// arrived, after running `action` (in the server's process) once per
/// round. Breaks for every waiter on abort, on a waiter's timeout, when a
/// waiting party's process dies, or when the action throws.
coro::task<void> barrier_server(barrier_inbox self, std::uint32_t parties, std::function<void()> action);

}  // namespace troupe::actors::detail
