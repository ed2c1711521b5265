#include "actors/semaphore/semaphore_actor.hpp"

#include <deque>
#include <map>

#include "actors/common/protocol.hpp"
#include "framework/runtime/responder.hpp"

namespace troupe::actors::detail {

coro::task<void> semaphore_server(semaphore_inbox self, std::int64_t initial, bool bounded) {
  std::int64_t value = initial;
  std::deque<waiter> waiting;
  std::map<node_id, std::int64_t> held;  // permits per process, returned if it dies
  client_watch clients;

  auto grant = [&] {
    while (value > 0 && !waiting.empty()) {
      --value;
      ++held[waiting.front().client];
      waiting.front().reply.reply();
      waiting.pop_front();
    }
  };
  for (;;) {
    auto l = co_await self.receive(until(earliest_deadline(waiting)));
    if (!l && l.code() != errc::timeout) co_return;
    if (l) {
      switch (l->index()) {
        case 0: {
          auto& m = l->get<sem_acquire>();
          clients.see(self, m.client);
          if (value > 0 && waiting.empty()) {
            --value;
            ++held[m.client];
            l->reply();
          } else if (!m.block) {
            l->fail(error{errc::timeout, "no permit is free"});
          } else {
            waiting.push_back(waiter{l->take_responder(), m.client, m.ticket, m.deadline_ns});
          }
          break;
        }
        case 1: {
          auto& m = l->get<sem_release>();
          if (m.n <= 0) {
            l->fail(error{errc::invalid_argument, "release count must be positive"});
          } else if (bounded && value + m.n > initial) {
            l->fail(error{errc::invalid_argument, "a bounded semaphore released more times than acquired"});
          } else {
            value += m.n;
            // Permits are anyone's to release; the count per process only
            // decides what comes back if a process dies.
            auto it = held.find(m.client);
            if (it != held.end()) {
              it->second -= std::min(it->second, m.n);
              if (it->second == 0) held.erase(it);
            }
            grant();
            l->reply();
          }
          break;
        }
        case 2:
          withdraw(waiting, l->get<sem_withdraw>().client, l->get<sem_withdraw>().ticket);
          break;
        case 3:
          l->reply(sem_state{value, initial, bounded, waiting.size()});
          break;
        case 4:
          if (auto node = clients.gone(l->get<down>())) {
            forget_client(waiting, *node);
            auto it = held.find(*node);
            if (it != held.end()) {
              value += it->second;
              held.erase(it);
            }
            grant();
          }
          break;
      }
    }
    expire(waiting, [](waiter& w) { w.reply.fail(error{errc::timeout, "no permit within the timeout"}); });
  }
}

}  // namespace troupe::actors::detail
