#pragma once

// The wire types of the manager's list and dict protocols. Writes that
// cannot fail (append, extend, dict set, update) carry no response: they are
// sent, not requested, so a client pipelines them; everything that reads or
// can fail is a request. Indexes are Python's: negative counts from the end.

#include <cstdint>
#include <utility>
#include <vector>

namespace troupe::actors::detail {

template <class T>
struct list_append {
  T item;
};
template <class T>
struct list_extend {
  std::vector<T> items;
};
template <class T>
struct list_get {
  using response = T;
  std::int64_t index = 0;
};
template <class T>
struct list_set {
  using response = void;
  std::int64_t index = 0;
  T item;
};
template <class T>
struct list_insert {
  using response = void;
  std::int64_t index = 0;
  T item;
};
template <class T>
struct list_pop {
  using response = T;
  std::int64_t index = -1;
};
/// Items [start, stop) after Python's slice rules (negative from the end,
/// clamped to the list).
template <class T>
struct list_slice {
  using response = std::vector<T>;
  std::int64_t start = 0;
  std::int64_t stop = INT64_MAX;
};
struct list_len {
  using response = std::uint64_t;
};
struct list_clear {
  using response = void;
};

template <class K, class V>
struct dict_set {
  K key;
  V value;
};
template <class K, class V>
struct dict_update {
  std::vector<std::pair<K, V>> entries;
};
template <class K, class V>
struct dict_get {
  using response = V;
  K key;
};
template <class K, class V>
struct dict_pop {
  using response = V;
  K key;
};
template <class K, class V>
struct dict_contains {
  using response = bool;
  K key;
};
/// Inserts `value` if `key` is absent; answers the value now stored.
template <class K, class V>
struct dict_setdefault {
  using response = V;
  K key;
  V value;
};
template <class K, class V>
struct dict_keys {
  using response = std::vector<K>;
};
template <class K, class V>
struct dict_values {
  using response = std::vector<V>;
};
template <class K, class V>
struct dict_items {
  using response = std::vector<std::pair<K, V>>;
};
struct dict_len {
  using response = std::uint64_t;
};
struct dict_clear {
  using response = void;
};

}  // namespace troupe::actors::detail
