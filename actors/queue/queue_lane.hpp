#pragma once

// A queue's lane: a shared-memory ring from one producer process (one
// handle family in it) straight into the queue's server, so a put under
// credit costs one record written and published instead of a message.
//
// Records: a tag byte, then
//   lane_item: the item, encoded;
//   lane_mark: an 8-byte number n. The item that belongs here travels as a
//              queue_put_ahead message carrying (lane, n) — an item too big
//              for a record, or one that carries descriptors — and the
//              server stops reading the lane at the mark until that message
//              has been delivered, so the producer's order holds.
//
// Lane credit: the server reserves room in the queue for a producer's next
// items and says so in the segment (lane_control::granted), raising it as
// it reads the lane, so a producer that keeps putting never waits for a
// message. Without lane credit (the queue is full, or the consumers are
// far behind) a put goes the message way and may wait there. Within its
// credit a producer always finds room in the ring; if it does not anyway,
// it asks the server to read the lane (queue_lane_drain) and tries once
// more.
//
// A producer out of credit looks for it for a moment (lane_credit_spin),
// then sleeps in naps (lane_credit_nap) on the futex word
// lane_control::credit_wanted, and the server wakes it as it raises the
// credit: a longer wait for credit costs no core, whoever else wants it.
// A producer that finds itself on the core the server last ran on moves
// to another core, if one is likely free (lane_core_move_interval): taking
// turns on one core, the two would run at a fraction of their speed.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "framework/base/cores.hpp"
#include "framework/base/result.hpp"
#include "framework/runtime/actor_ref.hpp"
#include "framework/transport/ring.hpp"
#include "framework/transport/shm_segment.hpp"
#include "framework/wire/codec.hpp"
#include "framework/wire/fd_carrier.hpp"

namespace troupe::actors::detail {

/// Data bytes of a lane's ring.
inline constexpr std::size_t lane_capacity = std::size_t{512} << 10;
/// The largest encoded item a lane record carries; larger ones go as a
/// message behind a mark.
inline constexpr std::size_t lane_item_max = 120;
/// Most items a producer may have in its lane beyond what the server has
/// read: its lane credit. Records are at most 144 bytes, so a producer
/// within its credit always finds room in the ring.
inline constexpr std::uint64_t lane_window = 2048;
static_assert(lane_window * 144 <= lane_capacity);

/// A producer whose last this many items were all too big for a record
/// closes its lane, so the room reserved for the lane's
/// credit goes back to the queue.
inline constexpr std::uint32_t lane_unfit_before_close = 64;

/// How long a producer out of lane credit waits for the credit to come
/// back before it sends its put as a message. A consumer renews credit a
/// batch at a time; a batch takes it some microseconds.
inline constexpr std::chrono::microseconds lane_credit_wait{1000};
/// How long a producer out of credit looks for it without sleeping first:
/// a consumer on another core renews it within microseconds, and falling
/// asleep and being woken would cost both sides more than that.
inline constexpr std::chrono::microseconds lane_credit_spin{30};
/// The longest a producer waiting for credit sleeps at a time (its thread
/// blocked) before it gives its loop a turn.
inline constexpr std::chrono::microseconds lane_credit_nap{200};
/// How often at most a producer out of credit on the server's core tries
/// to move to another one (base::move_to_other_core): each wake-up may
/// bring it back beside the server, and a try costs a few system calls.
inline constexpr std::chrono::milliseconds lane_core_move_interval{2};

inline constexpr std::byte lane_item{1};
inline constexpr std::byte lane_mark{2};

/// The start of a lane segment; the ring follows.
struct lane_control {
  /// Items the producer may have written in all (its lane credit): raised
  /// by the server, with room reserved in the queue, as it reads them.
  alignas(64) std::atomic<std::uint64_t> granted;
  /// 1 while the producer sleeps for credit (a futex word, never private:
  /// the two sides are processes). The producer sets it, then re-reads
  /// `granted` (seq_cst, in wait_for_credit) ↔ the server raises
  /// `granted`, then reads it (seq_cst, in wake_for_credit): at least one
  /// of them sees the other's store, so a raise never leaves the producer
  /// asleep for a whole nap.
  std::atomic<std::uint32_t> credit_wanted;
  /// The core the server last raised the credit on, or -1: a producer on
  /// the same core, out of credit, moves to another core or else sleeps
  /// at once, as only that lets the server run. A hint, so relaxed on
  /// both sides.
  std::atomic<std::int32_t> server_cpu;
};
static_assert(sizeof(lane_control) == 64 && std::is_standard_layout_v<lane_control>);
static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
              std::atomic<std::uint32_t>::is_always_lock_free);

/// The server's side, after it raised `granted` with a seq_cst store:
/// wakes the producer if it sleeps for credit (one syscall, only then).
inline void wake_for_credit(lane_control& c) noexcept {
  c.server_cpu.store(::sched_getcpu(), std::memory_order_relaxed);
  if (c.credit_wanted.load(std::memory_order_seq_cst) == 0) return;
  c.credit_wanted.store(0, std::memory_order_relaxed);
  (void)::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&c.credit_wanted), FUTEX_WAKE, 1, nullptr, nullptr, 0);
}

using lane_segment =
    transport::segment_ref<transport::segment_kind::queue_lane, sizeof(lane_control) + transport::ring_region_size(4096)>;

/// A lane segment's parts, checked.
struct lane_parts {
  lane_control* control = nullptr;
  transport::ring_view ring;
};
inline result<lane_parts> lane_open(const transport::shm_segment& seg) noexcept {
  if (seg.payload_size() < sizeof(lane_control)) return error{errc::protocol_error, "lane segment too small"};
  auto view = transport::ring_open(seg.payload() + sizeof(lane_control), seg.payload_size() - sizeof(lane_control));
  if (!view) return view.error();
  return lane_parts{reinterpret_cast<lane_control*>(seg.payload()), *view};
}

/// Whether a handle asks for a lane (TROUPE_QUEUE_LANES=0 turns them off,
/// for comparison and for tests of the message path). Read when a handle
/// first earns credit.
inline bool lanes_enabled() {
  const char* v = std::getenv("TROUPE_QUEUE_LANES");
  return v == nullptr || std::string_view(v) != "0";
}

/// Makes a fresh lane segment (the server's side): its ring initialised
/// and checked, no credit granted yet.
inline result<std::pair<std::shared_ptr<transport::shm_segment>, lane_parts>> make_lane() {
  auto seg = transport::shm_segment::create(transport::segment_kind::queue_lane,
                                            sizeof(lane_control) + transport::ring_region_size(lane_capacity));
  if (!seg) return seg.error();
  (*seg)->keep_from_forks();
  auto* control = new ((*seg)->payload()) lane_control{};
  control->server_cpu.store(-1, std::memory_order_relaxed);
  transport::ring_init((*seg)->payload() + sizeof(lane_control), lane_capacity);
  auto parts = lane_open(**seg);
  if (!parts) return parts.error();
  return std::pair{std::move(*seg), *parts};
}

/// The producer's side of a lane. Used only on the runtime that opened it
/// (`node`); the ring has one writer.
struct lane_writer {
  node_id node = 0;
  std::uint64_t id = 0;
  std::shared_ptr<transport::shm_segment> segment;
  lane_control* control = nullptr;
  transport::ring_writer ring;
  std::uint64_t used = 0;     // items written
  std::uint64_t granted = 0;  // the credit as last read
  std::uint64_t next_mark = 1;
  /// Puts sent ahead as messages (not behind a mark) that the server is
  /// known to have handled: the lane may be used only when this equals the
  /// handle family's count of such puts, or a lane item could overtake one.
  std::uint64_t clean_upto = 0;
  std::uint32_t unfit_in_a_row = 0;  ///< puts too big for a record since the last record (counted by the caller)
  /// When it last tried to leave the server's core.
  std::chrono::steady_clock::time_point core_move_at{};
  bool broken = false;   ///< the ring refused us, or we closed it: messages from now on
  bool starved = false;  ///< waited for credit in vain: do not wait again until it is back

  enum class outcome { written, written_wake, no_room, unfit };

  /// Whether the lane's credit allows one more item.
  bool has_credit() noexcept {
    if (used < granted) return true;
    granted = control->granted.load(std::memory_order_acquire);
    return used < granted;
  }

  /// Whether the server last raised the credit on the core this thread
  /// runs on.
  bool server_shares_core() const noexcept {
    return control->server_cpu.load(std::memory_order_relaxed) == ::sched_getcpu();
  }

  /// Moves this thread off the server's core, if another is likely free
  /// and the last try was lane_core_move_interval ago; whether it moved.
  bool leave_server_core() noexcept {
    const auto now = std::chrono::steady_clock::now();
    if (now - core_move_at < lane_core_move_interval) return false;
    core_move_at = now;
    return base::move_to_other_core();
  }

  /// Sleeps until the server raises the credit, or at most `nap`
  /// (blocking the thread); whether there is credit now.
  bool wait_for_credit(std::chrono::microseconds nap) noexcept {
    control->credit_wanted.store(1, std::memory_order_seq_cst);
    granted = control->granted.load(std::memory_order_seq_cst);
    if (used < granted) {
      control->credit_wanted.store(0, std::memory_order_relaxed);
      return true;
    }
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(nap).count();
    const timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    // Returns at once if the server cleared the word already.
    (void)::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&control->credit_wanted), FUTEX_WAIT, 1, &ts,
                    nullptr, 0);
    control->credit_wanted.store(0, std::memory_order_relaxed);
    return has_credit();
  }

  /// Writes `item` as one record and publishes it. unfit: too big, or it
  /// carries descriptors (nothing written); no_room: the ring is full.
  template <class T>
  outcome put(const T& item) {
    auto span = ring.reserve(1 + lane_item_max);
    if (!span) {
      broken = true;
      return outcome::no_room;
    }
    if (span->empty()) return outcome::no_room;
    (*span)[0] = lane_item;
    wire::writer w(span->subspan(1));
    std::vector<int> fds;
    {
      wire::fd_encode_scope scope(fds);
      wire::encode(w, item);
    }
    if (!fds.empty()) {
      for (int fd : fds) ::close(fd);
      return outcome::unfit;
    }
    if (w.overflowed()) return outcome::unfit;
    ring.commit(1 + w.size());
    ++used;
    unfit_in_a_row = 0;
    return ring.publish() ? outcome::written_wake : outcome::written;
  }

  /// Writes a mark for the message that carries the next item; its number,
  /// or nullopt if the ring is full.
  std::optional<std::uint64_t> mark() {
    auto span = ring.reserve(1 + sizeof(std::uint64_t));
    if (!span || span->empty()) {
      if (!span) broken = true;
      return std::nullopt;
    }
    const std::uint64_t n = next_mark++;
    (*span)[0] = lane_mark;
    std::memcpy(span->data() + 1, &n, sizeof n);
    ring.commit(1 + sizeof n);
    (void)ring.publish();  // the message that follows wakes the server
    return n;
  }
};

}  // namespace troupe::actors::detail
