#pragma once

#include "actors/pipe/pipe_messages.hpp"
#include "framework/coro/task.hpp"
#include "framework/runtime/inbox.hpp"

namespace troupe::actors::detail {

using pipe_inbox = inbox<pipe_send, pipe_recv, pipe_poll, pipe_withdraw, pipe_close, down>;

/// The server of a pipe: one FIFO per direction. An end counts as closed
/// when it was closed or when the process that used it died, and the other
/// end then reads EOF (errc::closed) once the data sent before is drained,
/// never a hang. `duplex` false: end 0 only receives, end 1 only sends.
coro::task<void> pipe_server(pipe_inbox self, bool duplex);

}  // namespace troupe::actors::detail
