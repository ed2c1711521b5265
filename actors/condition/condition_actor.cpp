#include "actors/condition/condition_actor.hpp"

#include <deque>

#include "actors/common/protocol.hpp"
#include "framework/runtime/responder.hpp"

namespace troupe::actors::detail {

coro::task<void> condition_server(condition_inbox self) {
  enum class kind { acquire, notified, timed_out };
  struct entry {
    responder reply;
    node_id client;
    std::uint64_t owner;
    std::uint64_t ticket;
    std::uint64_t deadline_ns;  // acquire: its timeout; condition wait: until notified
    std::uint32_t depth;        // the depth to restore for a condition waiter
    kind what;
  };
  bool locked = false;
  node_id holder_node = 0;
  std::uint64_t holder = 0;
  std::uint32_t depth = 0;
  bool died = false;
  std::deque<entry> lock_queue;  // waiting to (re-)acquire the lock
  std::deque<entry> cond_queue;  // waiting for a notify
  client_watch clients;

  auto grant = [&](entry& e) {
    locked = true;
    holder_node = e.client;
    holder = e.owner;
    depth = e.depth;
    if (e.what == kind::acquire) e.reply.reply(lock_grant{std::exchange(died, false), depth});
    else e.reply.reply(e.what == kind::notified);
  };
  auto hand_over = [&] {
    locked = false;
    depth = 0;
    if (lock_queue.empty()) return;
    entry e = std::move(lock_queue.front());
    lock_queue.pop_front();
    grant(e);
  };
  auto to_lock_queue = [&](entry e, kind what) {
    e.what = what;
    e.deadline_ns = 0;  // re-acquiring after a wait is not timed (as in Python)
    if (!locked) grant(e);
    else lock_queue.push_back(std::move(e));
  };
  auto notify = [&](std::size_t n) {
    while (n-- > 0 && !cond_queue.empty()) {
      entry e = std::move(cond_queue.front());
      cond_queue.pop_front();
      to_lock_queue(std::move(e), kind::notified);
    }
  };
  auto holds = [&](node_id c, std::uint64_t o) { return locked && holder_node == c && holder == o; };
  auto next_deadline = [&] {
    std::uint64_t d = 0;
    auto consider = [&d](std::uint64_t x) {
      if (x != 0 && (d == 0 || x < d)) d = x;
    };
    for (auto& e : lock_queue) consider(e.deadline_ns);
    for (auto& e : cond_queue) consider(e.deadline_ns);
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
          } else if (holds(m.client, m.owner)) {
            l->reply(lock_grant{false, ++depth});
          } else if (!m.block) {
            l->fail(error{errc::timeout, "the lock is held"});
          } else {
            lock_queue.push_back(entry{l->take_responder(), m.client, m.owner, m.ticket, m.deadline_ns, 1, kind::acquire});
          }
          break;
        }
        case 1: {
          auto& m = l->get<lock_release>();
          if (!holds(m.client, m.owner)) {
            l->fail(error{errc::invalid_argument, "release of a condition's lock by a task that does not hold it"});
          } else {
            if (--depth == 0) hand_over();
            l->reply();
          }
          break;
        }
        case 2: {
          auto& m = l->get<lock_withdraw>();
          auto mine = [&m](entry& e) {
            if (e.client != m.client || e.ticket != m.ticket || e.what != kind::acquire) return false;
            e.reply.fail(error{errc::cancelled, "cancelled"});
            return true;
          };
          std::erase_if(lock_queue, mine);
          // A withdrawn condition wait still re-acquires the lock before it
          // returns, as the caller expects to hold it afterwards.
          for (auto it = cond_queue.begin(); it != cond_queue.end(); ++it) {
            if (it->client == m.client && it->ticket == m.ticket) {
              entry e = std::move(*it);
              cond_queue.erase(it);
              to_lock_queue(std::move(e), kind::timed_out);
              break;
            }
          }
          break;
        }
        case 3:
          l->reply(lock_state{locked, holder_node, depth, lock_queue.size() + cond_queue.size()});
          break;
        case 4: {
          auto& m = l->get<cond_wait>();
          clients.see(self, m.client);
          if (!holds(m.client, m.owner)) {
            l->fail(error{errc::invalid_argument, "wait on a condition whose lock the caller does not hold"});
            break;
          }
          cond_queue.push_back(entry{l->take_responder(), m.client, m.owner, m.ticket, m.deadline_ns, depth, kind::notified});
          hand_over();
          break;
        }
        case 5: {
          auto& m = l->get<cond_notify>();
          if (!holds(m.client, m.owner)) {
            l->fail(error{errc::invalid_argument, "notify on a condition whose lock the caller does not hold"});
            break;
          }
          notify(m.n == 0 ? cond_queue.size() : m.n);
          l->reply();
          break;
        }
        case 6:
          if (auto node = clients.gone(l->get<down>())) {
            auto theirs = [n = *node](const entry& e) { return e.client == n; };
            std::erase_if(cond_queue, theirs);
            // Notifies that went to the dead are passed on to the living.
            std::size_t lost = 0;
            std::erase_if(lock_queue, [&](const entry& e) {
              if (e.client != *node) return false;
              if (e.what == kind::notified) ++lost;
              return true;
            });
            if (locked && holder_node == *node) {
              died = true;
              hand_over();
            }
            notify(lost);
          }
          break;
      }
    }
    auto now = uv::loop::now_ns();
    std::erase_if(lock_queue, [now](entry& e) {
      if (!expired(e.deadline_ns, now)) return false;
      e.reply.fail(error{errc::timeout, "the lock was not acquired in time"});
      return true;
    });
    for (auto it = cond_queue.begin(); it != cond_queue.end();) {
      if (expired(it->deadline_ns, now)) {
        entry e = std::move(*it);
        it = cond_queue.erase(it);
        to_lock_queue(std::move(e), kind::timed_out);
      } else {
        ++it;
      }
    }
  }
}

}  // namespace troupe::actors::detail
