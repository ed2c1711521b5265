#include "actors/lock/lock_actor.hpp"

#include <deque>

#include "actors/common/protocol.hpp"
#include "framework/runtime/responder.hpp"

namespace troupe::actors::detail {

coro::task<void> lock_server(lock_inbox self, bool recursive) {
  struct lock_waiter : waiter {
    std::uint64_t owner = 0;
  };
  bool locked = false;
  node_id holder_node = 0;
  std::uint64_t holder = 0;
  std::uint32_t depth = 0;
  bool died = false;  // the last holder died holding it; tell the next one
  std::deque<lock_waiter> waiting;
  client_watch clients;

  auto hand_over = [&] {
    locked = false;
    depth = 0;
    while (!waiting.empty()) {
      lock_waiter w = std::move(waiting.front());
      waiting.pop_front();
      locked = true;
      holder_node = w.client;
      holder = w.owner;
      depth = 1;
      w.reply.reply(lock_grant{std::exchange(died, false), 1});
      return;
    }
  };

  for (;;) {
    auto l = co_await self.receive(until(earliest_deadline(waiting)));
    if (!l && l.code() != errc::timeout) co_return;
    if (l) {
      switch (l->index()) {
        case 0: {
          auto& m = l->get<lock_acquire>();
          clients.see(self, m.client);
          if (!locked) {
            locked = true;
            holder_node = m.client;
            holder = m.owner;
            depth = 1;
            l->reply(lock_grant{std::exchange(died, false), 1});
          } else if (recursive && holder_node == m.client && holder == m.owner) {
            l->reply(lock_grant{false, ++depth});
          } else if (!m.block) {
            l->fail(error{errc::timeout, "the lock is held"});
          } else {
            waiting.push_back(lock_waiter{{l->take_responder(), m.client, m.ticket, m.deadline_ns}, m.owner});
          }
          break;
        }
        case 1: {
          auto& m = l->get<lock_release>();
          if (!locked) {
            l->fail(error{errc::invalid_argument, "release of a lock that is not held"});
          } else if (recursive && (holder_node != m.client || holder != m.owner)) {
            l->fail(error{errc::invalid_argument, "release of an rlock by a task that does not own it"});
          } else {
            if (!recursive || --depth == 0) hand_over();
            l->reply();
          }
          break;
        }
        case 2:
          withdraw(waiting, l->get<lock_withdraw>().client, l->get<lock_withdraw>().ticket);
          break;
        case 3:
          l->reply(lock_state{locked, holder_node, depth, waiting.size()});
          break;
        case 4:
          if (auto node = clients.gone(l->get<down>())) {
            forget_client(waiting, *node);
            if (locked && holder_node == *node) {
              died = true;
              hand_over();
            }
          }
          break;
      }
    }
    expire(waiting, [](lock_waiter& w) { w.reply.fail(error{errc::timeout, "the lock was not acquired in time"}); });
  }
}

}  // namespace troupe::actors::detail
