#include "actors/event/event_actor.hpp"

#include <vector>

#include "actors/common/protocol.hpp"
#include "framework/runtime/responder.hpp"

namespace troupe::actors::detail {

coro::task<void> event_server(event_inbox self) {
  bool flag = false;
  std::vector<waiter> waiting;
  client_watch clients;
  for (;;) {
    auto l = co_await self.receive(until(earliest_deadline(waiting)));
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
        case 4:
          withdraw(waiting, l->get<event_withdraw>().client, l->get<event_withdraw>().ticket);
          break;
        case 5:
          if (auto node = clients.gone(l->get<down>())) forget_client(waiting, *node);
          break;
      }
    }
    expire(waiting, [](waiter& w) { w.reply.reply(false); });  // as Python: wait(timeout) returns the flag
  }
}

}  // namespace troupe::actors::detail
