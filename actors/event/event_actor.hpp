#pragma once

#include "actors/event/event_messages.hpp"
#include "framework/coro/task.hpp"
#include "framework/runtime/inbox.hpp"

namespace troupe::actors::detail {

using event_inbox = inbox<event_set, event_clear, event_is_set, event_wait, event_withdraw, down>;

/// The server of an event: the flag and the waiters (dropped when their
/// process dies).
coro::task<void> event_server(event_inbox self);

}  // namespace troupe::actors::detail
