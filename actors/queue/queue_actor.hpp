#pragma once

#include <cstdint>
#include <algorithm>
#include <deque>
#include <map>

#include "actors/common/protocol.hpp"
#include "actors/queue/queue_messages.hpp"
#include "framework/runtime/inbox.hpp"
#include "framework/runtime/responder.hpp"

namespace troupe::actors::detail {

/// Items an unbounded queue (maxsize 0) holds before put waits as if full:
/// a producer that outruns every consumer is slowed down instead of growing
/// the server without limit.
inline constexpr std::uint64_t queue_memory_bound = std::uint64_t{1} << 20;

/// Most puts one client may send ahead of the server's answers.
inline constexpr std::uint64_t queue_credit_batch = 256;

template <class T>
using queue_inbox = inbox<queue_put<T>, queue_get<T>, queue_withdraw, queue_query, queue_close, queue_task_done,
                          queue_join, down, queue_put_ahead<T>>;

/// The server of a queue: owns the items, the waiting putters and getters,
/// and the count of unfinished tasks. Waits end by the server's deadlines,
/// by withdrawal, by close, or when the waiter's process dies (its waits are
/// dropped, so a dead consumer never swallows an item).
///
/// Credit: with each answered put the server may grant the client room for
/// further puts it sends ahead without waiting (at most a quarter of the
/// free room, at most queue_credit_batch), reserving that room. A queue too
/// small to share that way grants nothing, so its puts keep waiting for
/// answers. Credit granted before close() is still honoured; a dead
/// client's unused credit is freed.
template <class T>
coro::task<void> queue_server(queue_inbox<T> self, std::uint64_t maxsize) {
  struct putter : waiter {
    T item;
  };
  const std::uint64_t capacity = maxsize == 0 ? queue_memory_bound : maxsize;
  std::deque<T> items;
  std::deque<putter> putters;
  std::deque<waiter> getters;
  std::deque<waiter> joiners;
  std::uint64_t unfinished = 0;
  bool closed = false;
  client_watch clients;
  std::map<node_id, std::uint64_t> credit;  // granted and not yet used, per client
  std::uint64_t reserved = 0;               // their sum
  auto room = [&] { return items.size() + reserved < capacity; };
  auto grant = [&](node_id client) -> std::uint32_t {
    if (closed || items.size() + reserved >= capacity) return 0;
    const std::uint64_t g = std::min<std::uint64_t>(queue_credit_batch, (capacity - items.size() - reserved) / 4);
    if (g == 0) return 0;
    credit[client] += g;
    reserved += g;
    return static_cast<std::uint32_t>(g);
  };
  // An item arrived: to the first waiting getter, or into the queue.
  auto deliver = [&](T&& item) {
    ++unfinished;
    if (!getters.empty()) {
      getters.front().reply.reply(std::move(item));
      getters.pop_front();
    } else {
      items.push_back(std::move(item));
    }
  };

  auto expire_all = [&] {
    auto timed_out = [](auto& w) { w.reply.fail(error{errc::timeout, "the queue wait timed out"}); };
    expire(putters, timed_out);
    expire(getters, timed_out);
    expire(joiners, timed_out);
  };
  // Room freed: let waiting putters in, in order.
  auto admit = [&] {
    while (!putters.empty() && room()) {
      items.push_back(std::move(putters.front().item));
      ++unfinished;
      putters.front().reply.reply(std::uint32_t{0});
      putters.pop_front();
    }
  };

  for (;;) {
    auto l = co_await self.receive(until(earliest_deadline(putters, getters, joiners)));
    if (!l) {
      if (l.code() == errc::timeout) {
        expire_all();
        continue;
      }
      co_return;
    }
    switch (l->index()) {
      case 0: {  // put
        auto& m = l->template get<queue_put<T>>();
        clients.see(self, m.client);
        if (closed) {
          l->fail(error{errc::closed, "put on a closed queue"});
        } else if (!getters.empty() || room()) {
          deliver(std::move(m.item));
          l->reply(grant(m.client));
        } else if (!m.block) {
          l->fail(error{errc::full, "the queue is full"});
        } else {
          putters.push_back(putter{{l->take_responder(), m.client, m.ticket, m.deadline_ns}, std::move(m.item)});
        }
        break;
      }
      case 1: {  // get
        auto& m = l->template get<queue_get<T>>();
        clients.see(self, m.client);
        if (!items.empty()) {
          l->reply(std::move(items.front()));
          items.pop_front();
          admit();
        } else if (closed) {
          l->fail(error{errc::closed, "the queue is closed and empty"});
        } else if (!m.block) {
          l->fail(error{errc::empty, "the queue is empty"});
        } else {
          getters.push_back(waiter{l->take_responder(), m.client, m.ticket, m.deadline_ns});
        }
        break;
      }
      case 2: {  // withdraw
        auto& m = l->template get<queue_withdraw>();
        (void)(withdraw(putters, m.client, m.ticket) || withdraw(getters, m.client, m.ticket) ||
               withdraw(joiners, m.client, m.ticket));
        break;
      }
      case 3:  // query
        l->reply(queue_status{items.size(), maxsize, unfinished, getters.size(), putters.size(), closed, reserved});
        break;
      case 4:  // close
        closed = true;
        for (auto& g : getters) g.reply.fail(error{errc::closed, "the queue was closed"});
        getters.clear();
        for (auto& p : putters) p.reply.fail(error{errc::closed, "the queue was closed"});
        putters.clear();
        l->reply();
        break;
      case 5:  // task_done
        if (unfinished == 0) {
          l->fail(error{errc::invalid_argument, "task_done() called more times than there were items"});
          break;
        }
        if (--unfinished == 0) {
          for (auto& j : joiners) j.reply.reply();
          joiners.clear();
        }
        l->reply();
        break;
      case 6: {  // join
        auto& m = l->template get<queue_join>();
        clients.see(self, m.client);
        if (unfinished == 0) l->reply();
        else joiners.push_back(waiter{l->take_responder(), m.client, m.ticket, m.deadline_ns});
        break;
      }
      case 7: {  // a client's process died: drop its waits and its credit
        if (auto node = clients.gone(l->template get<down>())) {
          forget_client(putters, *node);
          forget_client(getters, *node);
          forget_client(joiners, *node);
          if (auto it = credit.find(*node); it != credit.end()) {
            reserved -= it->second;
            credit.erase(it);
            admit();
          }
        }
        break;
      }
      case 8: {  // a put under credit: its room was reserved
        auto& m = l->template get<queue_put_ahead<T>>();
        auto it = credit.find(m.client);
        if (it != credit.end() && it->second > 0) {
          --it->second;
          --reserved;
        }
        // Without credit on record (a client confused about it) the item
        // is still taken: dropping an acknowledged put would be worse than
        // exceeding maxsize by one.
        deliver(std::move(m.item));
        break;
      }
    }
    expire_all();
  }
}

}  // namespace troupe::actors::detail
