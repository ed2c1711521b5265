#pragma once

// A single-producer, single-consumer ring of variable-size records in
// shared memory: the data path of a link between two processes. One
// process writes, the other reads; nothing is shared but the ring's memory,
// and the reader trusts none of it (every index and size is checked).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

#include "framework/base/result.hpp"

namespace troupe::transport {

/// The control block at the start of a ring's region; the data follows at
/// the next 64-byte boundary. Written once by the creator (magic, version,
/// capacity) before the region is shared, then only through the atomics.
struct ring_control {
  static constexpr std::uint64_t magic_value = 0x31474E52'50555254ull;  // "TRUPRNG1"
  static constexpr std::uint32_t current_version = 1;
  std::uint64_t magic;
  std::uint32_t version;
  /// Set by a producer that publishes without a fence of its own
  /// (ring_writer::publish_lightly): a consumer about to sleep then makes
  /// the producer's stores visible with an asymmetric barrier instead.
  std::atomic<std::uint32_t> producer_light;
  std::uint64_t capacity;  ///< data bytes, a power of two
  std::uint64_t reserved[5];
  /// Bytes ever written: the producer stores it (release) after a record is
  /// complete ↔ the consumer loads it (acquire) before reading records.
  alignas(64) std::atomic<std::uint64_t> head;
  /// Bytes ever consumed: the consumer stores it (release) after it is done
  /// with a record ↔ the producer loads it (acquire) before reusing space.
  alignas(64) std::atomic<std::uint64_t> tail;
  /// The consumer is about to sleep: set by it, then (seq_cst fence) it
  /// re-checks head; the producer, after publishing head (seq_cst fence,
  /// or the consumer's asymmetric barrier when it publishes lightly),
  /// takes the flag and rings the consumer's doorbell.
  alignas(64) std::atomic<std::uint32_t> consumer_asleep;
  /// The same for a producer waiting for room, rung by the consumer.
  std::atomic<std::uint32_t> producer_asleep;
};
static_assert(std::is_standard_layout_v<ring_control>);
static_assert(sizeof(ring_control) == 256);
static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free);

/// Bytes a ring with `capacity` data bytes needs (control block included).
constexpr std::size_t ring_region_size(std::size_t capacity) noexcept { return sizeof(ring_control) + capacity; }

/// Records are 8-byte aligned, each behind this header.
struct ring_record_header {
  static constexpr std::uint32_t data = 1;
  static constexpr std::uint32_t wrap = 2;  ///< the rest up to the end is padding
  static constexpr std::uint32_t part = 3;  ///< data continued by the next record
  std::uint32_t size;                       ///< payload bytes (data records)
  std::uint32_t kind;
};
static_assert(sizeof(ring_record_header) == 8);

/// Writes a fresh control block for a ring of `capacity` bytes (a power of
/// two, at least 4096) at `region`, which must hold ring_region_size().
void ring_init(std::byte* region, std::size_t capacity) noexcept;

/// A checked ring: its control block and the capacity read once at the
/// check (never re-read from shared memory).
struct ring_view {
  ring_control* control = nullptr;
  std::uint64_t capacity = 0;
};

/// Checks a ring's control block as found in `region` (of `available`
/// bytes) before either side uses it: errc::protocol_error naming what is
/// wrong.
result<ring_view> ring_open(std::byte* region, std::size_t available) noexcept;

/// The producer's side. Thread: one thread of one process at a time.
class ring_writer {
 public:
  ring_writer() = default;
  explicit ring_writer(ring_view v) noexcept;

  /// The largest payload one record may carry (a quarter of the ring, so a
  /// big record never waits for the whole ring to drain).
  [[nodiscard]] std::size_t max_payload() const noexcept { return capacity_ / 4 - sizeof(ring_record_header); }

  /// Contiguous room for a record of up to `n` payload bytes (n ≤
  /// max_payload()), or an empty span while the ring lacks room.
  /// errc::protocol_error if the consumer's index is impossible (corrupt).
  /// Nothing is visible to the consumer before commit().
  result<std::span<std::byte>> reserve(std::size_t n) noexcept;
  /// Room for a record without wrapping: everything free from the write
  /// position to the ring's end (or to the consumer), at most
  /// max_payload(); empty if none. For encoding a record whose size is not
  /// known yet: if it does not fit, reserve() its real size.
  result<std::span<std::byte>> reserve_contiguous() noexcept;
  /// Completes the reserved record with `n` payload bytes (≤ what was
  /// reserved). With `more`, the record is a part that the next record
  /// continues (the reader sees more() true). The consumer sees it after
  /// publish().
  void commit(std::size_t n, bool more = false) noexcept;
  /// Makes every committed record visible to the consumer. Returns true
  /// when the consumer said it sleeps: ring its doorbell (once per sleep).
  bool publish() noexcept;
  /// From now on, publish() stores without a fence, which otherwise waits
  /// at every publish for the store to reach the consumer's core; the
  /// consumer pays instead, with one asymmetric barrier (membarrier) each
  /// time it goes to sleep. For rings that carry many small records and
  /// whose consumer sleeps seldom. False (and nothing changes) if this
  /// process cannot register for such barriers.
  bool publish_lightly() noexcept;

  /// Announces that the producer waits for room; false if room appeared
  /// meanwhile (then it must not sleep). Call reserve() again after waking.
  bool prepare_sleep(std::size_t n) noexcept;
  void woke() noexcept;

 private:
  ring_control* c_ = nullptr;
  std::byte* data_ = nullptr;
  std::uint64_t capacity_ = 0;
  std::uint64_t head_ = 0;         // our own index (only we write head)
  std::uint64_t tail_cache_ = 0;   // the consumer's, as last read
  std::uint64_t pending_skip_ = 0; // padding before the reserved record
  std::uint64_t pending_pos_ = 0;
  bool corrupt_ = false;
  bool light_ = false;
  // Whether `need` bytes are free (re-reading the consumer's index if
  // needed); sets corrupt_ if that index is impossible.
  bool room(std::uint64_t need) noexcept;
};

/// The consumer's side. Thread: one thread of one process at a time.
class ring_reader {
 public:
  ring_reader() = default;
  explicit ring_reader(ring_view v) noexcept;

  /// The next record's payload, nullopt if the ring is empty, or
  /// errc::protocol_error if the producer's index or a record header is
  /// impossible. The bytes stay valid until consume().
  result<std::optional<std::span<const std::byte>>> peek() noexcept;
  /// Whether the record last peeked is a part continued by the next one.
  [[nodiscard]] bool more() const noexcept { return more_; }
  /// Done with the record last peeked (its room is returned by release()).
  void consume() noexcept;
  /// Returns the room of every consumed record to the producer. Returns
  /// true when the producer said it waits for room: ring its doorbell
  /// (once per sleep).
  bool release() noexcept;

  /// Announces that the consumer is about to sleep; false if a record
  /// arrived meanwhile (then it must not sleep). Call release() first, or
  /// a producer waiting for room may never be woken.
  bool prepare_sleep() noexcept;
  void woke() noexcept;

 private:
  ring_control* c_ = nullptr;
  const std::byte* data_ = nullptr;
  std::uint64_t capacity_ = 0;
  std::uint64_t tail_ = 0;        // our own index (only we write tail)
  std::uint64_t head_cache_ = 0;  // the producer's, as last read
  std::uint64_t next_tail_ = 0;   // tail after the record peeked
  std::uint64_t released_ = 0;    // tail as last published
  bool more_ = false;
};

}  // namespace troupe::transport
