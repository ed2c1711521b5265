#pragma once

// The wire types of the queue protocol. Each names the client's node, so the
// server can forget the waits of a process that died.

#include <cstdint>

#include "actors/queue/queue_lane.hpp"
#include "framework/runtime/actor_ref.hpp"

namespace troupe::actors::detail {

/// A put that may wait. The answer is the credit granted with it: how
/// many further puts the client may send ahead (queue_put_ahead) without
/// waiting, the server having reserved room for them.
template <class T>
struct queue_put {
  using response = std::uint32_t;
  T item;
  node_id client = 0;
  std::uint64_t ticket = 0;
  std::uint64_t deadline_ns = 0;  ///< 0: wait as long as it takes
  bool block = true;              ///< false: errc::full instead of waiting
};

/// A put sent under credit: the server reserved its room, so it needs no
/// answer and the client does not wait for one. With a lane, it is the
/// item behind mark `mark` of lane `lane` (see queue_lane.hpp).
template <class T>
struct queue_put_ahead {
  T item;
  node_id client = 0;
  std::uint64_t lane = 0;
  std::uint64_t mark = 0;
};

/// Opens a lane for the client: the answer is its ring, mapped by the
/// client, which from then on writes puts under credit there.
struct queue_lane_grant {
  std::uint64_t lane = 0;
  lane_segment ring;
};
struct queue_lane_open {
  using response = queue_lane_grant;
  node_id client = 0;
};

/// The lane's reader said it sleeps and the client published a record:
/// read the lane.
struct queue_lane_wake {
  std::uint64_t lane = 0;
};

/// The client stops using the lane (its items do not fit records): the
/// server reads what is left and closes it, freeing its reserved room.
struct queue_lane_close {
  std::uint64_t lane = 0;
};

/// Answered once the server has read everything in the lane (and handled
/// every message the client sent before): the lane's ring is then empty,
/// and no put sent earlier can be overtaken by a record written later.
struct queue_lane_drain {
  using response = void;
  std::uint64_t lane = 0;
};

/// Asks for more credit before the client's runs out, so a steady
/// producer need not stop for a put's answer: the answer is the credit
/// granted (possibly 0).
struct queue_credit_ask {
  using response = std::uint32_t;
  node_id client = 0;
};

template <class T>
struct queue_get {
  using response = T;
  node_id client = 0;
  std::uint64_t ticket = 0;
  std::uint64_t deadline_ns = 0;
  bool block = true;  ///< false: errc::empty instead of waiting
};

/// Withdraws a waiting put or get (its stop token fired).
struct queue_withdraw {
  node_id client = 0;
  std::uint64_t ticket = 0;
};

struct queue_status {
  std::uint64_t size = 0;
  std::uint64_t maxsize = 0;  ///< 0: unbounded (up to queue_memory_bound items)
  std::uint64_t unfinished = 0;
  std::uint64_t waiting_getters = 0;
  std::uint64_t waiting_putters = 0;
  bool closed = false;
  std::uint64_t reserved = 0;  ///< room promised to clients' puts sent ahead
  std::uint64_t lanes = 0;          ///< producers' shared-memory lanes open now
  std::uint64_t lane_items = 0;     ///< items that arrived through a lane
  std::uint64_t lanes_dropped = 0;  ///< lanes closed because their ring was corrupt
};
struct queue_query {
  using response = queue_status;
};

struct queue_close {
  using response = void;
};

struct queue_task_done {
  using response = void;
};
struct queue_join {
  using response = void;
  node_id client = 0;
  std::uint64_t ticket = 0;
  std::uint64_t deadline_ns = 0;
};

}  // namespace troupe::actors::detail
