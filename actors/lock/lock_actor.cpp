#include "actors/lock/lock_actor.hpp"

#include <deque>

#include "actors/common/protocol.hpp"
#include "actors/common/slot_table.hpp"
#include "actors/lock/lock_shared.hpp"
#include "framework/runtime/responder.hpp"

namespace troupe::actors::detail {


coro::task<void> lock_server(lock_inbox self, std::shared_ptr<transport::shm_segment> segment, bool recursive) {
  struct lock_waiter : waiter {
    std::uint64_t owner = 0;
    std::uint64_t slot = 0;
  };
  lock_shared& sh = *segment->as<lock_shared>();
  slot_table slots(sh.slots);
  // Who holds it when the word says overflow_slot (a runtime without a slot).
  node_id overflow_holder = 0;
  std::deque<lock_waiter> waiting;
  client_watch clients;
  const node_id here = self.owner().node();

  auto holder_node = [&](std::uint64_t w) -> node_id {
    std::uint64_t slot = w & lock_shared::slot_mask;
    if (slot == 0) return 0;
    if (slot == lock_shared::overflow_slot) return overflow_holder;
    return sh.slots[slot].load(std::memory_order_relaxed);
  };
  // Makes `w` (the owner-to-be) the holder; the word is written last.
  auto install = [&](std::uint64_t slot, node_id node, std::uint64_t owner, std::uint64_t extra) {
    if (recursive) {
      sh.holder_owner.store(owner, std::memory_order_relaxed);
      sh.depth.store(1, std::memory_order_relaxed);
    }
    if (slot == lock_shared::overflow_slot) overflow_holder = node;
    sh.word.store(slot | extra, std::memory_order_release);
  };
  // The holder died: the first sleeper gets the lock straight away, told
  // owner_died; with no sleeper the word remembers the death.
  auto pass_on_death = [&] {
    if (recursive) {
      sh.holder_owner.store(0, std::memory_order_relaxed);
      sh.depth.store(0, std::memory_order_relaxed);
    }
    if (waiting.empty()) {
      sh.word.store(lock_shared::died_bit, std::memory_order_release);
      return;
    }
    lock_waiter w = std::move(waiting.front());
    waiting.pop_front();
    install(w.slot, w.client, w.owner, waiting.empty() ? 0 : lock_shared::waiting_bit);
    w.reply.reply(lock_grant{true, 1});
  };
  // No one sleeps any more: releases need not tell us.
  auto clear_waiting = [&] {
    if (!waiting.empty()) return;
    std::uint64_t w = sh.word.load(std::memory_order_acquire);
    while ((w & lock_shared::waiting_bit) != 0 &&
           !sh.word.compare_exchange_weak(w, w & ~lock_shared::waiting_bit, std::memory_order_acq_rel)) {
    }
  };
  // The word was freed: the first sleeper tries to take it (a grant of
  // depth 0 means "try again").
  auto wake_one = [&] {
    if (!waiting.empty()) {
      lock_waiter w = std::move(waiting.front());
      waiting.pop_front();
      w.reply.reply(lock_grant{false, 0});
    }
    clear_waiting();
  };

  for (;;) {
    auto l = co_await self.receive(until(earliest_deadline(waiting)));
    if (!l && l.code() != errc::timeout) co_return;
    if (l) {
      switch (l->index()) {
        case 0: {
          auto& m = l->get<lock_acquire>();
          clients.see(self, m.client);
          const node_id client = m.client == 0 ? here : m.client;
          const std::uint64_t slot = slots.of(client);
          std::uint64_t w = sh.word.load(std::memory_order_acquire);
          for (;;) {
            if ((w & lock_shared::slot_mask) == 0) {
              // Free (perhaps after a death): take it for the client.
              const std::uint64_t keep =
                  (w & lock_shared::notified_bit) | (waiting.empty() ? 0 : lock_shared::waiting_bit);
              if (sh.word.compare_exchange_weak(w, slot | keep, std::memory_order_acq_rel)) {
                install(slot, client, m.owner, keep);
                l->reply(lock_grant{(w & lock_shared::died_bit) != 0, 1});
                break;
              }
              continue;
            }
            if (recursive && holder_node(w) == client && sh.holder_owner.load(std::memory_order_relaxed) == m.owner) {
              std::uint32_t d = sh.depth.load(std::memory_order_relaxed) + 1;
              sh.depth.store(d, std::memory_order_relaxed);
              l->reply(lock_grant{false, d});
              break;
            }
            if (!m.block) {
              l->fail(error{errc::timeout, "the lock is held"});
              break;
            }
            // Held: from now on its release comes to us.
            if ((w & lock_shared::waiting_bit) == 0 &&
                !sh.word.compare_exchange_weak(w, w | lock_shared::waiting_bit, std::memory_order_acq_rel))
              continue;
            waiting.push_back(lock_waiter{{l->take_responder(), m.client, m.ticket, m.deadline_ns}, m.owner, slot});
            break;
          }
          break;
        }
        case 1: {
          auto& m = l->get<lock_release>();
          const node_id client = m.client == 0 ? here : m.client;
          std::uint64_t w = sh.word.load(std::memory_order_acquire);
          if ((w & lock_shared::slot_mask) == 0) {
            l->fail(error{errc::invalid_argument, "release of a lock that is not held"});
          } else if (recursive && holder_node(w) != client) {
            l->fail(error{errc::invalid_argument, "release of an rlock by a task that does not own it"});
          } else if (recursive && (w & lock_shared::slot_mask) == lock_shared::overflow_slot &&
                     sh.holder_owner.load(std::memory_order_relaxed) != m.owner) {
            l->fail(error{errc::invalid_argument, "release of an rlock by a task that does not own it"});
          } else {
            std::uint32_t d = recursive ? sh.depth.load(std::memory_order_relaxed) : 0;
            if (recursive && (w & lock_shared::slot_mask) == lock_shared::overflow_slot && d > 1) {
              sh.depth.store(d - 1, std::memory_order_relaxed);
            } else {
              if (recursive) {
                sh.holder_owner.store(0, std::memory_order_relaxed);
                sh.depth.store(0, std::memory_order_relaxed);
              }
              // Free, keeping the flags; then a sleeper may take it.
              while (!sh.word.compare_exchange_weak(w, w & ~lock_shared::slot_mask, std::memory_order_acq_rel)) {
              }
              wake_one();
            }
            l->reply();
          }
          break;
        }
        case 2:
          withdraw(waiting, l->get<lock_withdraw>().client, l->get<lock_withdraw>().ticket);
          clear_waiting();
          break;
        case 3: {
          std::uint64_t w = sh.word.load(std::memory_order_acquire);
          bool held = (w & lock_shared::slot_mask) != 0;
          l->reply(lock_state{held, held ? holder_node(w) : 0,
                              held ? (recursive ? sh.depth.load(std::memory_order_relaxed) : 1u) : 0u,
                              waiting.size()});
          break;
        }
        case 5:
          if (auto node = clients.gone(l->get<down>())) {
            forget_client(waiting, *node);
            std::uint64_t w = sh.word.load(std::memory_order_acquire);
            if ((w & lock_shared::slot_mask) != 0 && holder_node(w) == *node) {
              pass_on_death();
            } else {
              clear_waiting();
            }
            slots.forget(*node);
          }
          break;
        case 4: {
          // A holder freed the word and saw sleepers.
          std::uint64_t w = sh.word.load(std::memory_order_acquire);
          while ((w & lock_shared::notified_bit) != 0 &&
                 !sh.word.compare_exchange_weak(w, w & ~lock_shared::notified_bit, std::memory_order_acq_rel)) {
          }
          wake_one();
          break;
        }
      }
    }
    expire(waiting, [](lock_waiter& w) { w.reply.fail(error{errc::timeout, "the lock was not acquired in time"}); });
    clear_waiting();
  }
}

}  // namespace troupe::actors::detail
