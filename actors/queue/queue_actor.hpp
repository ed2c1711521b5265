#pragma once

#include <cstdint>
#include <deque>

#include "actors/common/protocol.hpp"
#include "actors/queue/queue_messages.hpp"
#include "framework/runtime/inbox.hpp"
#include "framework/runtime/responder.hpp"

namespace troupe::actors::detail {

/// Items an unbounded queue (maxsize 0) holds before put waits as if full:
/// a producer that outruns every consumer is slowed down instead of growing
/// the server without limit.
inline constexpr std::uint64_t queue_memory_bound = std::uint64_t{1} << 20;

template <class T>
using queue_inbox = inbox<queue_put<T>, queue_get<T>, queue_withdraw, queue_query, queue_close, queue_task_done,
                          queue_join, down>;

/// The server of a queue: owns the items, the waiting putters and getters,
/// and the count of unfinished tasks. Waits end by the server's deadlines,
/// by withdrawal, by close, or when the waiter's process dies (its waits are
/// dropped, so a dead consumer never swallows an item).
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

  auto expire_all = [&] {
    auto timed_out = [](auto& w) { w.reply.fail(error{errc::timeout, "the queue wait timed out"}); };
    expire(putters, timed_out);
    expire(getters, timed_out);
    expire(joiners, timed_out);
  };
  // Room freed: let waiting putters in, in order.
  auto admit = [&] {
    while (!putters.empty() && items.size() < capacity) {
      items.push_back(std::move(putters.front().item));
      ++unfinished;
      putters.front().reply.reply();
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
        } else if (!getters.empty()) {
          // A waiting getter takes it directly (the queue was empty).
          ++unfinished;
          getters.front().reply.reply(std::move(m.item));
          getters.pop_front();
          l->reply();
        } else if (items.size() < capacity) {
          items.push_back(std::move(m.item));
          ++unfinished;
          l->reply();
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
        l->reply(queue_status{items.size(), maxsize, unfinished, getters.size(), putters.size(), closed});
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
      case 7: {  // a client's process died: drop its waits
        if (auto node = clients.gone(l->template get<down>())) {
          forget_client(putters, *node);
          forget_client(getters, *node);
          forget_client(joiners, *node);
        }
        break;
      }
    }
    expire_all();
  }
}

}  // namespace troupe::actors::detail
