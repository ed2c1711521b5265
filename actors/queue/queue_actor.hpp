#pragma once

#include <cstdint>
#include <algorithm>
#include <deque>
#include <map>
#include <typeinfo>
#include <unordered_map>

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
                          queue_join, down, queue_put_ahead<T>, queue_credit_ask>;

/// The state of one queue: its items, the waiting putters and getters, the
/// count of unfinished tasks and the credit granted. The server actor owns
/// it; handles in the server's own runtime reach it directly (see
/// local_queue_core), so a put or get there that need not wait costs no
/// message. Everything here runs on the server runtime's thread.
template <class T>
struct queue_core {
  struct putter : waiter {
    T item;
  };
  explicit queue_core(std::uint64_t maxsize_) : maxsize(maxsize_), capacity(maxsize_ == 0 ? queue_memory_bound : maxsize_) {}

  std::uint64_t maxsize;
  std::uint64_t capacity;
  std::deque<T> items;
  std::deque<putter> putters;
  std::deque<waiter> getters;
  std::deque<waiter> joiners;
  std::uint64_t unfinished = 0;
  bool closed = false;
  std::map<node_id, std::uint64_t> credit;  // granted and not yet used, per client
  std::uint64_t reserved = 0;               // their sum

  [[nodiscard]] bool room() const noexcept { return items.size() + reserved < capacity; }
  std::uint32_t grant(node_id client) {
    if (closed || items.size() + reserved >= capacity) return 0;
    const std::uint64_t g = std::min<std::uint64_t>(queue_credit_batch, (capacity - items.size() - reserved) / 4);
    if (g == 0) return 0;
    credit[client] += g;
    reserved += g;
    return static_cast<std::uint32_t>(g);
  }
  // An item arrived: to the first waiting getter, or into the queue.
  void deliver(T&& item) {
    ++unfinished;
    if (!getters.empty()) {
      getters.front().reply.reply(std::move(item));
      getters.pop_front();
    } else {
      items.push_back(std::move(item));
    }
  }
  // Takes the oldest item (there is one) and lets waiting putters into the
  // room it leaves.
  T take() {
    T item = std::move(items.front());
    items.pop_front();
    admit();
    return item;
  }
  // Room freed: let waiting putters in, in order.
  void admit() {
    while (!putters.empty() && room()) {
      items.push_back(std::move(putters.front().item));
      ++unfinished;
      putters.front().reply.reply(std::uint32_t{0});
      putters.pop_front();
    }
  }
  void expire_all() {
    auto timed_out = [](auto& w) { w.reply.fail(error{errc::timeout, "the queue wait timed out"}); };
    expire(putters, timed_out);
    expire(getters, timed_out);
    expire(joiners, timed_out);
  }
  [[nodiscard]] queue_status status() const {
    return queue_status{items.size(), maxsize, unfinished, getters.size(), putters.size(), closed, reserved};
  }
};

/// Where the servers of this thread's runtime publish their state for the
/// handles beside them: server ref → (core, item type).
struct local_queue_entry {
  void* core = nullptr;
  const std::type_info* type = nullptr;
};
inline std::unordered_map<actor_ref, local_queue_entry>& local_queue_cores() {
  thread_local std::unordered_map<actor_ref, local_queue_entry> cores;
  return cores;
}

/// The state of the queue served by `server` if that server runs in this
/// thread's runtime (and serves items of type T), else null. Valid until
/// the caller next suspends.
template <class T>
queue_core<T>* local_queue_core(actor_ref server) {
  auto& cores = local_queue_cores();
  if (cores.empty()) return nullptr;
  auto it = cores.find(server);
  if (it == cores.end() || *it->second.type != typeid(T)) return nullptr;
  return static_cast<queue_core<T>*>(it->second.core);
}

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
  queue_core<T> q(maxsize);
  // Published while the server runs, so handles in this runtime put and
  // take without messages when they need not wait.
  struct publication {
    actor_ref ref;
    publication(actor_ref r, queue_core<T>* core) : ref(r) {
      local_queue_cores()[r] = local_queue_entry{core, &typeid(T)};
    }
    publication(const publication&) = delete;
    publication& operator=(const publication&) = delete;
    ~publication() { local_queue_cores().erase(ref); }
  } published(self.ref(), &q);
  client_watch clients;

  for (;;) {
    auto l = co_await self.receive(until(earliest_deadline(q.putters, q.getters, q.joiners)));
    if (!l) {
      if (l.code() == errc::timeout) {
        q.expire_all();
        continue;
      }
      co_return;
    }
    switch (l->index()) {
      case 0: {  // put
        auto& m = l->template get<queue_put<T>>();
        clients.see(self, m.client);
        if (q.closed) {
          l->fail(error{errc::closed, "put on a closed queue"});
        } else if (!q.getters.empty() || q.room()) {
          q.deliver(std::move(m.item));
          // Handles beside the server put directly and never use credit.
          l->reply(m.client == self.owner().node() ? std::uint32_t{0} : q.grant(m.client));
        } else if (!m.block) {
          l->fail(error{errc::full, "the queue is full"});
        } else {
          q.putters.push_back(
              typename queue_core<T>::putter{{l->take_responder(), m.client, m.ticket, m.deadline_ns}, std::move(m.item)});
        }
        break;
      }
      case 1: {  // get
        auto& m = l->template get<queue_get<T>>();
        clients.see(self, m.client);
        if (!q.items.empty()) {
          l->reply(q.take());
        } else if (q.closed) {
          l->fail(error{errc::closed, "the queue is closed and empty"});
        } else if (!m.block) {
          l->fail(error{errc::empty, "the queue is empty"});
        } else {
          q.getters.push_back(waiter{l->take_responder(), m.client, m.ticket, m.deadline_ns});
        }
        break;
      }
      case 2: {  // withdraw
        auto& m = l->template get<queue_withdraw>();
        (void)(withdraw(q.putters, m.client, m.ticket) || withdraw(q.getters, m.client, m.ticket) ||
               withdraw(q.joiners, m.client, m.ticket));
        break;
      }
      case 3:  // query
        l->reply(q.status());
        break;
      case 4:  // close
        q.closed = true;
        for (auto& g : q.getters) g.reply.fail(error{errc::closed, "the queue was closed"});
        q.getters.clear();
        for (auto& p : q.putters) p.reply.fail(error{errc::closed, "the queue was closed"});
        q.putters.clear();
        l->reply();
        break;
      case 5:  // task_done
        if (q.unfinished == 0) {
          l->fail(error{errc::invalid_argument, "task_done() called more times than there were items"});
          break;
        }
        if (--q.unfinished == 0) {
          for (auto& j : q.joiners) j.reply.reply();
          q.joiners.clear();
        }
        l->reply();
        break;
      case 6: {  // join
        auto& m = l->template get<queue_join>();
        clients.see(self, m.client);
        if (q.unfinished == 0) l->reply();
        else q.joiners.push_back(waiter{l->take_responder(), m.client, m.ticket, m.deadline_ns});
        break;
      }
      case 7: {  // a client's process died: drop its waits and its credit
        if (auto node = clients.gone(l->template get<down>())) {
          forget_client(q.putters, *node);
          forget_client(q.getters, *node);
          forget_client(q.joiners, *node);
          if (auto it = q.credit.find(*node); it != q.credit.end()) {
            q.reserved -= it->second;
            q.credit.erase(it);
            q.admit();
          }
        }
        break;
      }
      case 8: {  // a put under credit: its room was reserved
        auto& m = l->template get<queue_put_ahead<T>>();
        auto it = q.credit.find(m.client);
        if (it != q.credit.end() && it->second > 0) {
          --it->second;
          --q.reserved;
        }
        // Without credit on record (a client confused about it) the item
        // is still taken: dropping an acknowledged put would be worse than
        // exceeding maxsize by one.
        q.deliver(std::move(m.item));
        break;
      }
      case 9: {  // more credit, asked for before the client ran out
        auto& m = l->template get<queue_credit_ask>();
        clients.see(self, m.client);
        l->reply(m.client == self.owner().node() ? std::uint32_t{0} : q.grant(m.client));
        break;
      }
    }
    q.expire_all();
  }
}

}  // namespace troupe::actors::detail
