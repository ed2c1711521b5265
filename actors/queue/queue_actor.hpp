#pragma once

#include <cstdint>
#include <algorithm>
#include <deque>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <typeinfo>
#include <vector>
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
                          queue_join, down, queue_put_ahead<T>, queue_credit_ask, queue_lane_open, queue_lane_wake,
                          queue_lane_drain, queue_lane_close>;

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

  // The producers' lanes (queue_lane.hpp): read before every message the
  // server handles and whenever a local get finds the queue empty, so an
  // item in a lane is never behind one its producer sent later.
  struct lane {
    std::uint64_t id = 0;
    node_id client = 0;
    std::shared_ptr<transport::shm_segment> segment;
    lane_control* control = nullptr;
    transport::ring_reader reader;
    std::uint64_t granted = 0;   // lane credit granted in all
    std::uint64_t received = 0;  // items read
    std::uint64_t topped_at = 0; // `received` at the last top-up
    std::optional<std::uint64_t> stopped_at;  // at a mark, until its message is delivered
    bool asleep = false;                      // told the client to wake us
    bool dead = false;
  };
  std::vector<lane> lanes;
  std::uint64_t next_lane = 1;
  std::uint64_t lane_items = 0;
  std::uint64_t lanes_dropped = 0;

  [[nodiscard]] bool room() const noexcept { return items.size() + reserved < capacity; }
  // A local get reads the lanes once the queue holds no more than this:
  // their producers get fresh credit while the getter still has items in
  // hand, so neither side runs dry and sleeps at every batch.
  [[nodiscard]] bool running_low() const noexcept {
    return items.size() <= std::min<std::uint64_t>(capacity / 4, lane_window / 4);
  }
  // A put sent under credit arrived: its room was reserved.
  void spend_credit(node_id client) noexcept {
    auto it = credit.find(client);
    if (it != credit.end() && it->second > 0) {
      --it->second;
      --reserved;
    }
  }

  result<queue_lane_grant> open_lane(node_id client) {
    auto made = make_lane();
    if (!made) return made.error();
    lane l;
    l.id = next_lane++;
    l.client = client;
    l.segment = made->first;
    l.control = made->second.control;
    l.reader = transport::ring_reader(made->second.ring);
    top_up(l);
    lanes.push_back(std::move(l));
    return queue_lane_grant{lanes.back().id, lane_segment{std::move(made->first)}};
  }
  lane* find_lane(std::uint64_t id) noexcept {
    for (auto& l : lanes)
      if (l.id == id && !l.dead) return &l;
    return nullptr;
  }
  // Reads the lane up to its end or its next mark. A ring that breaks the
  // rules (its producer wrote over its indices or records) is closed: the
  // producer loses its lane, nobody else loses anything.
  void drain(lane& l) {
    while (!l.dead && !l.stopped_at) {
      auto rec = l.reader.peek();
      if (!rec) return drop(l);
      if (!*rec) break;
      std::span<const std::byte> bytes = **rec;
      if (bytes.empty()) return drop(l);
      if (bytes[0] == lane_item) {
        wire::reader r(bytes.subspan(1));
        T item{};
        if (!wire::decode(r, item) || r.remaining() != 0) return drop(l);
        l.reader.consume();
        if (l.received++ < l.granted) --reserved;
        ++lane_items;
        deliver(std::move(item));
      } else if (bytes[0] == lane_mark && bytes.size() == 1 + sizeof(std::uint64_t)) {
        std::uint64_t n = 0;
        std::memcpy(&n, bytes.data() + 1, sizeof n);
        l.reader.consume();
        l.stopped_at = n;
      } else {
        return drop(l);
      }
    }
    if (l.dead) return;
    (void)l.reader.release();  // the producer never sleeps for room
    top_up(l);
  }
  // Raises the lane's credit back towards lane_window once half of it is
  // used, reserving that room (at most half of what is free, so a lane
  // fills the queue in few batches even when producer and consumer share
  // a core, and what is left stays open to other producers). A lane that
  // still has credit is topped up only if it carried items since its last
  // top-up, so one whose producer sends nothing through it (its items are
  // all too big) holds no more than its first grant. One with no credit
  // left always is, when there is room: its producer may be sending small
  // items as messages meanwhile, which the lane does not count.
  void top_up(lane& l) noexcept {
    const std::uint64_t out = l.granted > l.received ? l.granted - l.received : 0;
    if (closed || out > lane_window / 2) return;
    if (out != 0 && l.received == l.topped_at) return;
    const std::uint64_t used = items.size() + reserved;
    const std::uint64_t g = std::min(lane_window - out, used < capacity ? (capacity - used) / 2 : 0);
    if (g == 0) return;
    l.topped_at = l.received;
    l.granted += g;
    reserved += g;
    l.control->granted.store(l.granted, std::memory_order_seq_cst);
    wake_for_credit(*l.control);
  }
  // Closes a lane: the room reserved for credit it did not use is free again.
  void close_lane(lane& l) noexcept {
    if (l.granted > l.received) reserved -= l.granted - l.received;
    l.granted = l.received;
    l.dead = true;
  }
  void drop(lane& l) {
    close_lane(l);
    ++lanes_dropped;
  }
  // Its producer is gone or gave it up: what it published is delivered
  // (past a mark whose message will not come), then the lane closes.
  void retire(lane& l) {
    l.stopped_at.reset();
    drain(l);
    if (!l.dead) close_lane(l);
  }
  void sweep_lanes() {
    std::erase_if(lanes, [](const lane& x) { return x.dead; });
  }
  void drain_lanes() {
    if (lanes.empty()) return;
    for (auto& l : lanes) drain(l);
    sweep_lanes();
  }
  // The item behind a mark arrived: deliver it in its place, then read on.
  void deliver_marked(std::uint64_t lane_id, std::uint64_t mark, T&& item) {
    lane* l = find_lane(lane_id);
    deliver(std::move(item));
    if (l != nullptr && l->stopped_at == mark) {
      l->stopped_at.reset();
      drain(*l);
      sweep_lanes();
    }
  }
  // Getters wait: every lane's reader announces it sleeps, so the next
  // record its producer publishes comes with a wake-up message. A record
  // that arrived meanwhile is read first.
  void sleep_lanes() {
    bool again = true;
    while (again && !getters.empty()) {
      again = false;
      for (auto& l : lanes) {
        if (l.asleep || l.stopped_at || l.dead) continue;
        if (l.reader.prepare_sleep()) {
          l.asleep = true;
        } else {
          drain(l);
          again = true;
        }
      }
    }
    sweep_lanes();
  }
  void lane_woken(std::uint64_t lane_id) {
    if (lane* l = find_lane(lane_id)) {
      l->asleep = false;
      l->reader.woke();
      drain(*l);
    }
  }
  // A client's process died: its lanes retire.
  void forget_lanes(node_id client) {
    for (auto& l : lanes)
      if (l.client == client) retire(l);
    sweep_lanes();
    admit();
  }
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
    return queue_status{items.size(), maxsize,  unfinished, getters.size(), putters.size(),
                        closed,       reserved, lanes.size(), lane_items, lanes_dropped};
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
/// The last lookup, valid while no server of this thread started or ended
/// since (a get or put loop asks for the same queue each time).
struct local_queue_last {
  std::uint64_t generation = 0;  // of the table when looked up; 0: none
  actor_ref ref;
  local_queue_entry entry;
};
inline thread_local std::uint64_t local_queue_generation = 1;
inline thread_local local_queue_last local_queue_cached;

/// The state of the queue served by `server` if that server runs in this
/// thread's runtime (and serves items of type T), else null. Valid until
/// the caller next suspends.
template <class T>
queue_core<T>* local_queue_core(actor_ref server) {
  local_queue_last& last = local_queue_cached;
  if (last.generation != local_queue_generation || last.ref != server) {
    auto& cores = local_queue_cores();
    auto it = cores.find(server);
    last.generation = local_queue_generation;
    last.ref = server;
    last.entry = it == cores.end() ? local_queue_entry{} : it->second;
  }
  if (last.entry.core == nullptr || *last.entry.type != typeid(T)) return nullptr;
  return static_cast<queue_core<T>*>(last.entry.core);
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
      ++local_queue_generation;
    }
    publication(const publication&) = delete;
    publication& operator=(const publication&) = delete;
    ~publication() {
      local_queue_cores().erase(ref);
      ++local_queue_generation;
    }
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
    // What the producers' lanes hold was published before this message
    // was sent (if they are the same client), so it goes first.
    q.drain_lanes();
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
          q.forget_lanes(*node);
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
        q.spend_credit(m.client);
        // Without credit on record (a client confused about it) the item
        // is still taken: dropping an acknowledged put would be worse than
        // exceeding maxsize by one.
        if (m.lane != 0) q.deliver_marked(m.lane, m.mark, std::move(m.item));
        else q.deliver(std::move(m.item));
        break;
      }
      case 9: {  // more credit, asked for before the client ran out
        auto& m = l->template get<queue_credit_ask>();
        clients.see(self, m.client);
        l->reply(m.client == self.owner().node() ? std::uint32_t{0} : q.grant(m.client));
        break;
      }
      case 10: {  // a client opens a lane
        auto& m = l->template get<queue_lane_open>();
        clients.see(self, m.client);
        auto grant = q.open_lane(m.client);
        if (grant) l->reply(std::move(*grant));
        else l->fail(grant.error());
        break;
      }
      case 11:  // a client published into a lane whose reader slept
        q.lane_woken(l->template get<queue_lane_wake>().lane);
        break;
      case 12:  // the lanes were read before this message: done
        l->reply();
        break;
      case 13:  // the client gives its lane up; it was read before this message
        if (auto* lane = q.find_lane(l->template get<queue_lane_close>().lane)) {
          q.retire(*lane);
          q.sweep_lanes();
          q.admit();
        }
        break;
    }
    if (!q.getters.empty()) q.sleep_lanes();
    q.expire_all();
  }
}

}  // namespace troupe::actors::detail
