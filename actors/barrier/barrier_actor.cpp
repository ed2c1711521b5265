#include "actors/barrier/barrier_actor.hpp"

#include <cstdio>
#include <vector>

#include "actors/common/protocol.hpp"
#include "framework/base/exception_info.hpp"
#include "framework/runtime/responder.hpp"

namespace troupe::actors::detail {

coro::task<void> barrier_server(barrier_inbox self, std::uint32_t parties, std::function<void()> action) {
  std::vector<waiter> waiting;
  bool broken = false;
  std::uint64_t rounds = 0;
  client_watch clients;

  auto break_all = [&](const std::string& why) {
    broken = true;
    for (auto& w : waiting) w.reply.fail(error{errc::broken, why});
    waiting.clear();
  };

  for (;;) {
    auto l = co_await self.receive(until(earliest_deadline(waiting)));
    if (!l && l.code() != errc::timeout) co_return;
    if (l) {
      switch (l->index()) {
        case 0: {
          auto& m = l->get<barrier_wait>();
          clients.see(self, m.client);
          if (broken) {
            l->fail(error{errc::broken, "the barrier is broken"});
            break;
          }
          waiting.push_back(waiter{l->take_responder(), m.client, m.ticket, m.deadline_ns});
          if (waiting.size() < parties) break;
          if (action) {
            try {
              action();
            } catch (...) {
              auto info = base::describe(std::current_exception());
              break_all("the barrier's action threw " + info.type + ": " + info.message);
              break;
            }
          }
          // Arrival index: the first to arrive gets 0, the last parties-1.
          for (std::uint32_t i = 0; i < waiting.size(); ++i) waiting[i].reply.reply(i);
          waiting.clear();
          ++rounds;
          break;
        }
        case 1: {
          auto& m = l->get<barrier_withdraw>();
          for (auto& w : waiting) {
            if (w.client == m.client && w.ticket == m.ticket) {
              // A party that stops waiting leaves the others unable to
              // complete the round: as with a timeout, the barrier breaks.
              break_all("a party cancelled its wait");
              break;
            }
          }
          break;
        }
        case 2:
          break_all("the barrier was aborted");
          l->reply();
          break;
        case 3:
          if (!waiting.empty()) break_all("the barrier was reset");
          broken = false;
          l->reply();
          break;
        case 4:
          l->reply(barrier_state{parties, static_cast<std::uint32_t>(waiting.size()), broken, rounds});
          break;
        case 5:
          if (auto node = clients.gone(l->get<down>())) {
            for (auto& w : waiting) {
              if (w.client == *node) {
                break_all("a waiting party's process died");
                break;
              }
            }
          }
          break;
      }
    }
    auto now = uv::loop::now_ns();
    for (auto& w : waiting) {
      if (expired(w.deadline_ns, now)) {
        break_all("a party's wait timed out");
        break;
      }
    }
  }
}

}  // namespace troupe::actors::detail
