#pragma once

#include <type_traits>

#include "actors/shared/shared_storage.hpp"

namespace troupe {

/// One T in shared memory, as Python's multiprocessing.Value: every process
/// that holds the handle (passed as a start argument or in a message) sees
/// the same object. Made with an rlock by default (get_lock()), or raw.
///
/// Access: load()/store() are single atomic accesses when T fits one
/// (integers, floats, pointers-free PODs of 1, 2, 4, 8 bytes); for larger T
/// they are plain copies and must happen under get_lock(). A read-modify-
/// write such as `v.store(v.load() + 1)` is not atomic — guard it with the
/// lock, or use fetch_add and friends (integral T), which are.
/// Thread and process safe as described; the handle is a cheap value.
template <class T>
class value {
 public:
  value() = default;

  /// A new value holding `initial`, with a lock (Python's default).
  static value make(T initial = T{}) { return value(initial, true); }
  /// Without a lock (Python's lock=False): get_lock() throws.
  static value make_raw(T initial = T{}) { return value(initial, false); }

  /// Reads the value atomically where T allows (a plain copy otherwise: hold the lock).
  [[nodiscard]] T load() const noexcept { return actors::detail::load_shared(*storage_.data()); }
  /// Writes the value atomically where T allows (a plain copy otherwise: hold the lock).
  void store(T v) const noexcept { actors::detail::store_shared(*storage_.data(), v); }
  /// The object itself, for access under the lock.
  [[nodiscard]] T* get_obj() const noexcept { return storage_.data(); }
  /// The rlock guarding it. Throws error_exception for a raw value.
  [[nodiscard]] const rlock& get_lock() const { return storage_.get_lock(); }
  /// False for a value made with make_raw().
  [[nodiscard]] bool has_lock() const noexcept { return storage_.lock().has_value(); }

  /// Atomic read-modify-write (integral T): lock-free, no lock needed.
  T fetch_add(T d) const noexcept
    requires std::is_integral_v<T>
  {
    return ref().fetch_add(d, std::memory_order_acq_rel);
  }
  /// Subtracts `d` atomically and returns the old value.
  T fetch_sub(T d) const noexcept
    requires std::is_integral_v<T>
  {
    return ref().fetch_sub(d, std::memory_order_acq_rel);
  }
  /// Bitwise-ands `d` atomically and returns the old value.
  T fetch_and(T d) const noexcept
    requires std::is_integral_v<T>
  {
    return ref().fetch_and(d, std::memory_order_acq_rel);
  }
  /// Bitwise-ors `d` atomically and returns the old value.
  T fetch_or(T d) const noexcept
    requires std::is_integral_v<T>
  {
    return ref().fetch_or(d, std::memory_order_acq_rel);
  }
  /// Stores `v` atomically and returns the old value.
  T exchange(T v) const noexcept
    requires std::is_integral_v<T>
  {
    return ref().exchange(v, std::memory_order_acq_rel);
  }
  /// Stores `desired` if the value equals `expected` (true); otherwise loads
  /// the value into `expected` (false). Atomic.
  bool compare_exchange(T& expected, T desired) const noexcept
    requires std::is_integral_v<T>
  {
    return ref().compare_exchange_strong(expected, desired, std::memory_order_acq_rel);
  }

  /// The shared memory behind the value (what a handle carries to other processes).
  [[nodiscard]] const actors::detail::shared_storage<T>& storage() const noexcept { return storage_; }
  /// Adopts shared memory received from another process (used by decoding).
  explicit value(actors::detail::shared_storage<T> s) noexcept : storage_(std::move(s)) {}

 private:
  value(T initial, bool with_lock) : storage_(actors::detail::shared_storage<T>::create(1, with_lock)) {
    store(initial);
  }
  std::atomic_ref<T> ref() const noexcept { return std::atomic_ref<T>(*storage_.data()); }
  actors::detail::shared_storage<T> storage_;
};

}  // namespace troupe

/// @cond TROUPE_INTERNAL
template <class T>
struct troupe::wire::codec<troupe::value<T>> {
  static constexpr std::size_t min_size = 25;
  static void encode(writer& w, const troupe::value<T>& v) {
    troupe::actors::detail::encode_storage(w, v.storage());
  }
  static bool decode(reader& r, troupe::value<T>& out) {
    troupe::actors::detail::shared_storage<T> s;
    if (!troupe::actors::detail::decode_storage(r, s)) return false;
    if (s.count() != 1) return r.fail("a shared array where a shared value was expected");
    out = troupe::value<T>(std::move(s));
    return true;
  }
};
/// @endcond
