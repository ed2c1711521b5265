#include "actors/event/event_actor.hpp"

#include <vector>

#include "actors/common/protocol.hpp"
#include "framework/runtime/responder.hpp"

namespace troupe::actors::detail {

coro::task<void> event_server(event_inbox self) {
  struct waiter {
    responder reply;
    node_id client;
    std::uint64_t ticket;
    std::uint64_t deadline_ns;
  };
  bool flag = false;
  std::vector<waiter> waiting;
  client_watch clients;
  auto next_deadline = [&] {
    std::uint64_t d = 0;
    for (auto& w : waiting)
      if (w.deadline_ns != 0 && (d == 0 || w.deadline_ns < d)) d = w.deadline_ns;
    return d;
  };
  for (;;) {
    auto l = co_await self.receive(until(next_deadline()));
    if (!l && l.code() != errc::timeout) co_return;
    if (l) {
      switch (l->index()) {
        case 0:
          flag = true;
          for (auto& w : waiting) w.reply.reply(true);
          waiting.clear();
          l->reply();
          break;
        case 1:
          flag = false;
          l->reply();
          break;
        case 2:
          l->reply(flag);
          break;
        case 3: {
          auto& m = l->get<event_wait>();
          clients.see(self, m.client);
          if (flag) l->reply(true);
          else waiting.push_back(waiter{l->take_responder(), m.client, m.ticket, m.deadline_ns});
          break;
        }
        case 4: {
          auto& m = l->get<event_withdraw>();
          std::erase_if(waiting, [&m](waiter& w) {
            if (w.client != m.client || w.ticket != m.ticket) return false;
            w.reply.fail(error{errc::cancelled, "the wait was cancelled"});
            return true;
          });
          break;
        }
        case 5:
          if (auto node = clients.gone(l->get<down>()))
            std::erase_if(waiting, [n = *node](const waiter& w) { return w.client == n; });
          break;
      }
    }
    auto now = uv::loop::now_ns();
    std::erase_if(waiting, [now](waiter& w) {
      if (!expired(w.deadline_ns, now)) return false;
      w.reply.reply(false);  // Python's wait(timeout) returns the flag: false
      return true;
    });
  }
}

}  // namespace troupe::actors::detail
