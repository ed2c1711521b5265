#pragma once

// What value<T> and array<T> share: a segment holding `count` objects of a
// trivially copyable T behind a small header that names T, and an optional
// rlock that guards them.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <type_traits>

#include "actors/lock/lock.hpp"
#include "framework/base/error.hpp"
#include "framework/base/type_name.hpp"
#include "framework/transport/shm_segment.hpp"
#include "framework/wire/codec.hpp"

namespace troupe::actors::detail {

/// The start of a value/array segment's payload; the objects follow at
/// offset 64. Written by the creator before the segment is shared.
struct shared_storage_header {
  std::uint64_t type_hash;  ///< fnv1a of T's name: a handle of another T is refused
  std::uint64_t elem_size;
  std::uint64_t elem_align;
  std::uint64_t count;
  std::uint64_t reserved[4];
};
static_assert(sizeof(shared_storage_header) == 64);
static_assert(std::is_standard_layout_v<shared_storage_header>);

using storage_segment = transport::segment_ref<transport::segment_kind::value, sizeof(shared_storage_header)>;

template <class T>
inline constexpr bool shareable = std::is_trivially_copyable_v<T> && std::is_standard_layout_v<T> &&
                                  !std::is_pointer_v<T> && alignof(T) <= 64;

/// The mapped objects of one value/array and its lock.
template <class T>
class shared_storage {
  static_assert(shareable<T>,
                "troupe: value<T> and array<T> hold trivially copyable, standard-layout T without pointers "
                "(an address means nothing in another process), aligned to at most 64 bytes");

 public:
  shared_storage() = default;

  static shared_storage create(std::size_t count, bool with_lock) {
    auto seg = transport::shm_segment::create(transport::segment_kind::value,
                                              sizeof(shared_storage_header) + count * sizeof(T));
    if (!seg) throw error_exception(seg.error());
    auto* h = (*seg)->as<shared_storage_header>();
    h->type_hash = base::fnv1a(base::type_name<T>());
    h->elem_size = sizeof(T);
    h->elem_align = alignof(T);
    h->count = count;
    shared_storage s;
    s.segment_ = std::move(*seg);
    s.count_ = count;
    if (with_lock) s.lock_ = rlock::make();
    return s;
  }

  /// Adopts a received segment after checking it holds `T`s.
  static bool adopt(std::shared_ptr<transport::shm_segment> seg, std::optional<rlock> lk, shared_storage& out) {
    const auto* h = seg->as<shared_storage_header>();
    if (h->type_hash != base::fnv1a(base::type_name<T>()) || h->elem_size != sizeof(T) || h->elem_align != alignof(T))
      return false;
    if (h->count > (seg->payload_size() - sizeof(shared_storage_header)) / sizeof(T)) return false;
    out.segment_ = std::move(seg);
    out.count_ = h->count;
    out.lock_ = std::move(lk);
    return true;
  }

  [[nodiscard]] T* data() const noexcept {
    return reinterpret_cast<T*>(segment_->payload() + sizeof(shared_storage_header));
  }
  [[nodiscard]] std::size_t count() const noexcept { return count_; }
  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(segment_); }
  [[nodiscard]] const std::shared_ptr<transport::shm_segment>& segment() const noexcept { return segment_; }
  [[nodiscard]] const std::optional<rlock>& lock() const noexcept { return lock_; }

  [[nodiscard]] const rlock& get_lock() const {
    if (!lock_) throw error_exception(error{errc::invalid_argument, "this shared object was made without a lock (raw)"});
    return *lock_;
  }

 private:
  std::shared_ptr<transport::shm_segment> segment_;
  std::size_t count_ = 0;
  std::optional<rlock> lock_;
};

/// Whole-object atomic access where the hardware has it for T.
template <class T>
inline constexpr bool atomic_access = std::atomic_ref<T>::is_always_lock_free;

template <class T>
T load_shared(T& obj) noexcept {
  if constexpr (atomic_access<T>) {
    // acquire ↔ release in store_shared
    return std::atomic_ref<T>(obj).load(std::memory_order_acquire);
  } else {
    return obj;  // the caller holds the lock
  }
}

template <class T>
void store_shared(T& obj, T v) noexcept {
  if constexpr (atomic_access<T>) {
    std::atomic_ref<T>(obj).store(v, std::memory_order_release);
  } else {
    obj = v;
  }
}

template <class T>
void encode_storage(wire::writer& w, const shared_storage<T>& s) {
  wire::encode(w, storage_segment{s.segment()});
  wire::encode(w, s.lock());
}

template <class T>
bool decode_storage(wire::reader& r, shared_storage<T>& out) {
  storage_segment seg;
  std::optional<rlock> lk;
  if (!wire::decode(r, seg) || !wire::decode(r, lk)) return false;
  if (!shared_storage<T>::adopt(std::move(seg.segment), std::move(lk), out))
    return r.fail("shared memory of another element type or size");
  return true;
}

}  // namespace troupe::actors::detail
