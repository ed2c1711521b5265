#pragma once

// The ball two benchmark actors bounce, and the player that returns it.

#include <troupe.hpp>

namespace troupe::bench {

struct ball {
  troupe::actor_ref back;
  int left = 0;
};

// Each hop is one message; the player holding the last one reports.
inline troupe::task<void> player(troupe::inbox<ball> self, troupe::actor_ref done) {
  for (;;) {
    auto m = co_await self.receive();
    if (!m) co_return;
    ball b = m->get<ball>();
    if (b.left == 0) {
      co_await done.send(ball{});
      continue;
    }
    troupe::actor_ref to = b.back;
    co_await to.send(ball{self.ref(), b.left - 1});
  }
}

}  // namespace troupe::bench
