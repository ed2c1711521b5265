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
  struct putter {
    T item;
    responder reply;
    node_id client;
    std::uint64_t ticket;
    std::uint64_t deadline_ns;
  };
  struct waiter {
    responder reply;
    node_id client;
    std::uint64_t ticket;
    std::uint64_t deadline_ns;
  };
  const std::uint64_t capacity = maxsize == 0 ? queue_memory_bound : maxsize;
  std::deque<T> items;
  std::deque<putter> putters;
  std::deque<waiter> getters;
  std::deque<waiter> joiners;
  std::uint64_t unfinished = 0;
  bool closed = false;
  client_watch clients;

  auto next_deadline = [&] {
    std::uint64_t d = 0;
    auto consider = [&d](std::uint64_t x) {
      if (x != 0 && (d == 0 || x < d)) d = x;
    };
    for (auto& p : putters) consider(p.deadline_ns);
    for (auto& g : getters) consider(g.deadline_ns);
    for (auto& j : joiners) consider(j.deadline_ns);
    return d;
  };
  auto expire = [&] {
    auto now = uv::loop::now_ns();
    auto timed_out = [now](auto& w) {
      if (!expired(w.deadline_ns, now)) return false;
      w.reply.fail(error{errc::timeout, "the queue wait timed out"});
      return true;
    };
    std::erase_if(putters, timed_out);
    std::erase_if(getters, timed_out);
    std::erase_if(joiners, timed_out);
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
    auto l = co_await self.receive(until(next_deadline()));
    if (!l) {
      if (l.code() == errc::timeout) {
        expire();
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
          putters.push_back(putter{std::move(m.item), l->take_responder(), m.client, m.ticket, m.deadline_ns});
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
        auto mine = [&m](auto& w) {
          if (w.client != m.client || w.ticket != m.ticket) return false;
          w.reply.fail(error{errc::cancelled, "the wait was cancelled"});
          return true;
        };
        std::erase_if(putters, mine);
        std::erase_if(getters, mine);
        std::erase_if(joiners, mine);
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
          auto theirs = [n = *node](auto& w) { return w.client == n; };
          std::erase_if(putters, theirs);
          std::erase_if(getters, theirs);
          std::erase_if(joiners, theirs);
        }
        break;
      }
    }
    expire();
  }
}

}  // namespace troupe::actors::detail
