#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>

#include "framework/base/result.hpp"
#include "framework/wire/codec.hpp"

namespace troupe::transport {

/// What a segment holds; the receiver states what it expects, so a handle
/// of one kind can never map another's memory. Append-only.
enum class segment_kind : std::uint32_t {
  test = 1,
  lock = 2,       ///< a lock's word and its owner table
  semaphore = 3,  ///< a semaphore's count and holder table
  value = 4,      ///< value<T> / array<T> storage
  ring = 5,       ///< a link's rings
  queue_lane = 6, ///< one producer's ring into a queue's server
};

/// A segment's globally unique name: random, so two processes (or one pid
/// reused) never mint the same.
struct segment_id {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  friend bool operator==(const segment_id&, const segment_id&) = default;
};

/// The first 64 bytes of every segment, written once by its creator before
/// the segment is shared and validated by every process that maps it.
struct segment_header {
  static constexpr std::uint64_t magic_value = 0x31474553'50555254ull;  // "TRUPSEG1"
  static constexpr std::uint32_t current_version = 1;
  std::uint64_t magic;
  std::uint32_t version;
  segment_kind kind;
  std::uint64_t total_size;  ///< header included; equals the file size
  segment_id id;
  std::uint64_t payload_size;
  std::uint64_t reserved[2];
};
static_assert(sizeof(segment_header) == 64);
static_assert(std::is_standard_layout_v<segment_header> && std::is_trivially_copyable_v<segment_header>);

/// A shared-memory mapping backed by a sealed memfd: it cannot shrink or
/// grow (so no process can make another's accesses fault), it has no name
/// on any file system (so nothing is left behind after a crash), and it
/// vanishes with the last process that maps it. Shared between the handles
/// of one process through shared_ptr; each process maps a segment once.
///
/// Objects placed in the payload must be standard-layout and trivially
/// copyable with lock-free atomics only (std::atomic_ref works across
/// processes for those). Thread: any; the mapping itself is immutable.
class shm_segment {
 public:
  /// A fresh segment with `payload_size` zeroed bytes (rounded up to a page).
  static result<std::shared_ptr<shm_segment>> create(segment_kind kind, std::size_t payload_size);

  /// Maps the segment behind `fd` (borrowed; the segment keeps a duplicate)
  /// after checking the seals, the size and the header: errc::protocol_error
  /// naming the first thing wrong. If this process already maps the segment
  /// with that id, returns that mapping.
  static result<std::shared_ptr<shm_segment>> open(int fd, segment_kind kind, std::size_t min_payload);

  shm_segment(const shm_segment&) = delete;
  shm_segment& operator=(const shm_segment&) = delete;
  ~shm_segment();

  [[nodiscard]] std::byte* payload() const noexcept { return base_ + sizeof(segment_header); }
  [[nodiscard]] std::size_t payload_size() const noexcept { return payload_size_; }
  [[nodiscard]] segment_kind kind() const noexcept { return kind_; }
  [[nodiscard]] const segment_id& id() const noexcept { return id_; }
  /// The memfd, for sending to another process.
  [[nodiscard]] int fd() const noexcept { return fd_; }

  /// Children started by fork do not inherit this mapping (MADV_DONTFORK):
  /// for memory private to one pair of processes, such as a link's rings.
  void keep_from_forks() const noexcept;

  /// The object of type T at the start of the payload.
  template <class T>
  [[nodiscard]] T* as() const noexcept {
    static_assert(std::is_standard_layout_v<T>, "objects in shared memory must be standard-layout");
    return reinterpret_cast<T*>(payload());
  }

 private:
  shm_segment(int fd, std::byte* base, std::size_t total, segment_kind kind, segment_id id, std::size_t payload);
  int fd_;
  std::byte* base_;
  std::size_t total_;
  segment_kind kind_;
  segment_id id_;
  std::size_t payload_size_;
};

/// A segment as it travels in a message: its descriptor goes beside the
/// frame (wire::attach_fd), the kind and id inside it. Decoding maps the
/// segment (or finds this process's mapping of it) and validates it.
template <segment_kind Kind, std::size_t MinPayload>
struct segment_ref {
  std::shared_ptr<shm_segment> segment;
};

namespace detail {
void encode_segment(wire::writer& w, const std::shared_ptr<shm_segment>& s);
bool decode_segment(wire::reader& r, std::shared_ptr<shm_segment>& out, segment_kind kind, std::size_t min_payload);
}  // namespace detail

}  // namespace troupe::transport

namespace troupe::wire {
template <troupe::transport::segment_kind Kind, std::size_t MinPayload>
struct codec<troupe::transport::segment_ref<Kind, MinPayload>> {
  static constexpr std::size_t min_size = 4 + 4 + 16;
  static void encode(writer& w, const troupe::transport::segment_ref<Kind, MinPayload>& v) {
    troupe::transport::detail::encode_segment(w, v.segment);
  }
  static bool decode(reader& r, troupe::transport::segment_ref<Kind, MinPayload>& out) {
    return troupe::transport::detail::decode_segment(r, out.segment, Kind, MinPayload);
  }
};
}  // namespace troupe::wire
