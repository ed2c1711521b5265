#include "actors/lock/lock_actor.hpp"

#include <deque>

#include "actors/common/protocol.hpp"
#include "framework/runtime/responder.hpp"

namespace troupe::actors::detail {

coro::task<void> lock_server(lock_inbox self, bool recursive) {
  struct waiter {
    responder reply;
    node_id client;
    std::uint64_t owner;
    std::uint64_t ticket;
    std::uint64_t deadline_ns;
  };
  bool locked = false;
  node_id holder_node = 0;
  std::uint64_t holder = 0;
  std::uint32_t depth = 0;
  bool died = false;  // the last holder died holding it; tell the next one
  std::deque<waiter> waiting;
  client_watch clients;

  auto hand_over = [&] {
    locked = false;
    depth = 0;
    while (!waiting.empty()) {
      waiter w = std::move(waiting.front());
      waiting.pop_front();
      locked = true;
      holder_node = w.client;
      holder = w.owner;
      depth = 1;
      w.reply.reply(lock_grant{std::exchange(died, false), 1});
      return;
    }
  };
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
            waiting.push_back(waiter{l->take_responder(), m.client, m.owner, m.ticket, m.deadline_ns});
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
        case 2: {
          auto& m = l->get<lock_withdraw>();
          std::erase_if(waiting, [&m](waiter& w) {
            if (w.client != m.client || w.ticket != m.ticket) return false;
            w.reply.fail(error{errc::cancelled, "the acquire was cancelled"});
            return true;
          });
          break;
        }
        case 3:
          l->reply(lock_state{locked, holder_node, depth, waiting.size()});
          break;
        case 4:
          if (auto node = clients.gone(l->get<down>())) {
            std::erase_if(waiting, [n = *node](const waiter& w) { return w.client == n; });
            if (locked && holder_node == *node) {
              died = true;
              hand_over();
            }
          }
          break;
      }
    }
    auto now = uv::loop::now_ns();
    std::erase_if(waiting, [now](waiter& w) {
      if (!expired(w.deadline_ns, now)) return false;
      w.reply.fail(error{errc::timeout, "the lock was not acquired in time"});
      return true;
    });
  }
}

}  // namespace troupe::actors::detail
