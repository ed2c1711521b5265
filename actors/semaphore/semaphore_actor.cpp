#include "actors/semaphore/semaphore_actor.hpp"

#include <algorithm>
#include <deque>
#include <map>

#include "actors/common/protocol.hpp"
#include "actors/common/slot_table.hpp"
#include "actors/semaphore/semaphore_shared.hpp"
#include "framework/runtime/responder.hpp"

namespace troupe::actors::detail {

coro::task<void> semaphore_server(semaphore_inbox self, std::shared_ptr<transport::shm_segment> segment) {
  semaphore_shared& sh = *segment->as<semaphore_shared>();
  const std::int64_t initial = sh.initial;
  const bool bounded = sh.bounded != 0;
  slot_table slots(sh.slots);
  std::map<node_id, std::int64_t> overflow_held;  // holders without a slot
  std::deque<waiter> waiting;
  client_watch clients;
  const node_id here = self.owner().node();
  auto who = [here](node_id client) { return client == 0 ? here : client; };

  auto count_up = [&](node_id client, std::int64_t n) {
    std::uint64_t slot = slots.of(client);
    if (slot == overflow_slot) overflow_held[client] += n;
    else sh.held[slot].fetch_add(n, std::memory_order_relaxed);
  };
  auto count_down = [&](node_id client, std::int64_t n) {
    std::uint64_t slot = slots.find(client);
    if (slot == 0) return;
    if (slot != overflow_slot) {
      (void)sem_uncount(sh, slot, n);
      return;
    }
    auto it = overflow_held.find(client);
    if (it == overflow_held.end()) return;
    it->second -= std::min(it->second, n);
    if (it->second == 0) overflow_held.erase(it);
  };
  auto add_free = [&](std::int64_t n) {
    std::uint64_t w = sh.word.load(std::memory_order_acquire);
    while (!sh.word.compare_exchange_weak(w, w + static_cast<std::uint64_t>(n), std::memory_order_acq_rel)) {
    }
  };
  // Brings the word and the waiters in line: free permits go to waiters in
  // order; `waiting` is set exactly while someone waits with none free.
  auto settle = [&] {
    for (;;) {
      std::uint64_t w = sh.word.load(std::memory_order_acquire);
      if (waiting.empty()) {
        if ((w & semaphore_shared::waiting_bit) == 0 ||
            sh.word.compare_exchange_weak(w, w & ~semaphore_shared::waiting_bit, std::memory_order_acq_rel))
          return;
        continue;
      }
      if ((w & semaphore_shared::count_mask) > 0) {
        if (!sh.word.compare_exchange_weak(w, w - 1, std::memory_order_acq_rel)) continue;
        count_up(who(waiting.front().client), 1);
        waiting.front().reply.reply();
        waiting.pop_front();
        continue;
      }
      if ((w & semaphore_shared::waiting_bit) != 0) return;
      (void)sh.word.compare_exchange_weak(w, w | semaphore_shared::waiting_bit, std::memory_order_acq_rel);
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
          (void)slots.of(who(m.client));  // from now on it can use the fast path
          std::uint64_t w = sh.word.load(std::memory_order_acquire);
          bool granted = false;
          while (waiting.empty() && (w & semaphore_shared::count_mask) > 0) {
            if (sh.word.compare_exchange_weak(w, w - 1, std::memory_order_acq_rel)) {
              granted = true;
              break;
            }
          }
          if (granted) {
            count_up(who(m.client), 1);
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
          clients.see(self, m.client);
          const std::int64_t free_now =
              static_cast<std::int64_t>(sh.word.load(std::memory_order_acquire) & semaphore_shared::count_mask);
          if (m.n <= 0) {
            l->fail(error{errc::invalid_argument, "release count must be positive"});
          } else if (bounded && free_now + m.n > initial) {
            l->fail(error{errc::invalid_argument, "a bounded semaphore released more times than acquired"});
          } else {
            // Permits are anyone's to release; the count per process only
            // decides what comes back if a process dies.
            if (m.n > m.uncounted) count_down(who(m.client), m.n - m.uncounted);
            add_free(m.n);
            l->reply();
          }
          break;
        }
        case 2:
          withdraw(waiting, l->get<sem_withdraw>().client, l->get<sem_withdraw>().ticket);
          break;
        case 3:
          l->reply(sem_state{static_cast<std::int64_t>(sh.word.load(std::memory_order_acquire) & semaphore_shared::count_mask),
                             initial, bounded, waiting.size()});
          break;
        case 4:
          if (auto node = clients.gone(l->get<down>())) {
            forget_client(waiting, *node);
            std::int64_t back = 0;
            std::uint64_t slot = slots.find(*node);
            if (slot == overflow_slot) {
              if (auto it = overflow_held.find(*node); it != overflow_held.end()) {
                back = it->second;
                overflow_held.erase(it);
              }
            } else if (slot != 0) {
              back = sh.held[slot].exchange(0, std::memory_order_acq_rel);
            }
            slots.forget(*node);
            if (back > 0) add_free(back);
          }
          break;
      }
    }
    expire(waiting, [](waiter& w) { w.reply.fail(error{errc::timeout, "no permit within the timeout"}); });
    settle();
  }
}

}  // namespace troupe::actors::detail
