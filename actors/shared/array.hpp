#pragma once

#include <cstddef>
#include <initializer_list>
#include <span>
#include <type_traits>
#include <vector>

#include "actors/shared/shared_storage.hpp"

namespace troupe {

/// A fixed-size array of T in shared memory, as Python's
/// multiprocessing.Array: every process holding the handle sees the same
/// elements. Made with an rlock by default (get_lock()), or raw.
///
/// Element access: `a[i]` and span() are plain references — use them under
/// the lock, or from processes that write disjoint elements (each child
/// filling its own rows). load(i)/store(i, v) are atomic per element when T
/// fits one machine word; fetch_add(i, d) (integral T) is an atomic
/// read-modify-write. Out-of-range load/store/fetch_add throw
/// std::out_of_range. Thread and process safe as described.
template <class T>
class array {
 public:
  array() = default;

  /// `count` value-initialised elements, with a lock.
  static array make(std::size_t count) { return array(count, true); }
  /// A copy of `init`, with a lock.
  static array make(std::span<const T> init) {
    array a(init.size(), true);
    for (std::size_t i = 0; i < init.size(); ++i) a.storage_.data()[i] = init[i];
    return a;
  }
  /// A copy of `init`, with a lock.
  static array make(std::initializer_list<T> init) { return make(std::span<const T>(init.begin(), init.size())); }
  /// Without a lock (Python's lock=False): get_lock() throws.
  static array make_raw(std::size_t count) { return array(count, false); }

  /// The number of elements.
  [[nodiscard]] std::size_t size() const noexcept { return storage_.count(); }
  /// Element `i`, unchecked, in the shared memory itself: plain reads and
  /// writes, so hold the lock when others write it (or use load/store).
  [[nodiscard]] T& operator[](std::size_t i) const noexcept { return storage_.data()[i]; }
  /// Every element, in the shared memory.
  [[nodiscard]] std::span<T> span() const noexcept { return {storage_.data(), storage_.count()}; }
  /// The first element (for range-for).
  [[nodiscard]] T* begin() const noexcept { return storage_.data(); }
  /// Past the last element.
  [[nodiscard]] T* end() const noexcept { return storage_.data() + storage_.count(); }

  /// Reads element `i` atomically where T allows; throws std::out_of_range past size().
  [[nodiscard]] T load(std::size_t i) const { return actors::detail::load_shared(at(i)); }
  /// Writes element `i` atomically where T allows; throws std::out_of_range past size().
  void store(std::size_t i, T v) const { actors::detail::store_shared(at(i), v); }
  /// Adds `d` to element `i` atomically (integral T) and returns the old value;
  /// throws std::out_of_range past size().
  T fetch_add(std::size_t i, T d) const
    requires std::is_integral_v<T>
  {
    return std::atomic_ref<T>(at(i)).fetch_add(d, std::memory_order_acq_rel);
  }
  /// A copy of every element (under the lock if writers may be running).
  [[nodiscard]] std::vector<T> to_vector() const { return std::vector<T>(begin(), end()); }

  /// The rlock guarding the array. Throws error_exception for a raw array.
  [[nodiscard]] const rlock& get_lock() const { return storage_.get_lock(); }
  /// False for an array made with make_raw().
  [[nodiscard]] bool has_lock() const noexcept { return storage_.lock().has_value(); }

  /// The shared memory behind the array (what a handle carries to other processes).
  [[nodiscard]] const actors::detail::shared_storage<T>& storage() const noexcept { return storage_; }
  /// Adopts shared memory received from another process (used by decoding).
  explicit array(actors::detail::shared_storage<T> s) noexcept : storage_(std::move(s)) {}

 private:
  array(std::size_t count, bool with_lock) : storage_(actors::detail::shared_storage<T>::create(count, with_lock)) {}
  T& at(std::size_t i) const {
    if (i >= storage_.count()) throw std::out_of_range("troupe::array index out of range");
    return storage_.data()[i];
  }
  actors::detail::shared_storage<T> storage_;
};

}  // namespace troupe

/// @cond TROUPE_INTERNAL
template <class T>
struct troupe::wire::codec<troupe::array<T>> {
  static constexpr std::size_t min_size = 25;
  static void encode(writer& w, const troupe::array<T>& a) {
    troupe::actors::detail::encode_storage(w, a.storage());
  }
  static bool decode(reader& r, troupe::array<T>& out) {
    troupe::actors::detail::shared_storage<T> s;
    if (!troupe::actors::detail::decode_storage(r, s)) return false;
    out = troupe::array<T>(std::move(s));
    return true;
  }
};
/// @endcond
