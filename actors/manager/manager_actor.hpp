#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "actors/common/protocol.hpp"
#include "actors/manager/manager_messages.hpp"
#include "framework/runtime/inbox.hpp"

namespace troupe::actors::detail {

/// Python's index rule: negative counts from the end. nullopt when out of
/// range for a list of `size` (or, with `for_insert`, clamped as
/// list.insert does).
inline std::optional<std::size_t> python_index(std::int64_t index, std::size_t size, bool for_insert = false) {
  auto n = static_cast<std::int64_t>(size);
  std::int64_t i = index < 0 ? index + n : index;
  if (for_insert) return static_cast<std::size_t>(i < 0 ? 0 : (i > n ? n : i));
  if (i < 0 || i >= n) return std::nullopt;
  return static_cast<std::size_t>(i);
}

inline error index_error(std::int64_t index, std::size_t size) {
  return error{errc::out_of_range, "list index " + std::to_string(index) + " out of range (the list has " +
                                       std::to_string(size) + " items)"};
}

template <class T>
using list_inbox = inbox<list_append<T>, list_extend<T>, list_get<T>, list_set<T>, list_insert<T>, list_pop<T>,
                         list_slice<T>, list_len, list_clear>;

/// The server of a managed list: owns the items. Messages from one client
/// arrive, and so apply, in the order it sent them; pipelined appends and
/// later reads included.
template <class T>
coro::task<void> list_server(list_inbox<T> self, std::vector<T> items) {
  for (;;) {
    auto l = co_await self.receive();
    if (!l) co_return;
    switch (l->index()) {
      case 0:
        items.push_back(std::move(l->template get<list_append<T>>().item));
        break;
      case 1: {
        auto& more = l->template get<list_extend<T>>().items;
        items.insert(items.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
        break;
      }
      case 2: {
        auto& m = l->template get<list_get<T>>();
        if (auto i = python_index(m.index, items.size())) l->reply(items[*i]);
        else l->fail(index_error(m.index, items.size()));
        break;
      }
      case 3: {
        auto& m = l->template get<list_set<T>>();
        if (auto i = python_index(m.index, items.size())) {
          items[*i] = std::move(m.item);
          l->reply();
        } else {
          l->fail(index_error(m.index, items.size()));
        }
        break;
      }
      case 4: {
        auto& m = l->template get<list_insert<T>>();
        auto i = *python_index(m.index, items.size(), true);
        items.insert(items.begin() + static_cast<std::ptrdiff_t>(i), std::move(m.item));
        l->reply();
        break;
      }
      case 5: {
        auto& m = l->template get<list_pop<T>>();
        if (items.empty()) {
          l->fail(error{errc::out_of_range, "pop from an empty list"});
        } else if (auto i = python_index(m.index, items.size())) {
          T out = std::move(items[*i]);
          items.erase(items.begin() + static_cast<std::ptrdiff_t>(*i));
          l->reply(std::move(out));
        } else {
          l->fail(index_error(m.index, items.size()));
        }
        break;
      }
      case 6: {
        auto& m = l->template get<list_slice<T>>();
        auto b = python_index(m.start, items.size(), true).value();
        auto e = python_index(m.stop, items.size(), true).value();
        std::vector<T> out;
        if (b < e) out.assign(items.begin() + static_cast<std::ptrdiff_t>(b), items.begin() + static_cast<std::ptrdiff_t>(e));
        l->reply(std::move(out));
        break;
      }
      case 7:
        l->reply(std::uint64_t{items.size()});
        break;
      case 8:
        items.clear();
        l->reply();
        break;
    }
  }
}

template <class K, class V>
using dict_inbox = inbox<dict_set<K, V>, dict_update<K, V>, dict_get<K, V>, dict_pop<K, V>, dict_contains<K, V>,
                         dict_setdefault<K, V>, dict_keys<K, V>, dict_values<K, V>, dict_items<K, V>, dict_len,
                         dict_clear>;

/// The server of a managed dict: owns the entries (ordered by key).
template <class K, class V>
coro::task<void> dict_server(dict_inbox<K, V> self, std::map<K, V> entries) {
  auto missing = [](const K& key) {
    if constexpr (requires(std::string s) { s += key; } || std::is_arithmetic_v<K>) {
      std::string name;
      if constexpr (std::is_arithmetic_v<K>) name = std::to_string(key);
      else name += key;
      return error{errc::not_found, "no key " + name + " in the dict"};
    } else {
      return error{errc::not_found, "no such key in the dict"};
    }
  };
  for (;;) {
    auto l = co_await self.receive();
    if (!l) co_return;
    switch (l->index()) {
      case 0: {
        auto& m = l->template get<dict_set<K, V>>();
        entries.insert_or_assign(std::move(m.key), std::move(m.value));
        break;
      }
      case 1:
        for (auto& [k, v] : l->template get<dict_update<K, V>>().entries) entries.insert_or_assign(std::move(k), std::move(v));
        break;
      case 2: {
        auto& m = l->template get<dict_get<K, V>>();
        if (auto it = entries.find(m.key); it != entries.end()) l->reply(it->second);
        else l->fail(missing(m.key));
        break;
      }
      case 3: {
        auto& m = l->template get<dict_pop<K, V>>();
        if (auto it = entries.find(m.key); it != entries.end()) {
          V out = std::move(it->second);
          entries.erase(it);
          l->reply(std::move(out));
        } else {
          l->fail(missing(m.key));
        }
        break;
      }
      case 4:
        l->reply(entries.contains(l->template get<dict_contains<K, V>>().key));
        break;
      case 5: {
        auto& m = l->template get<dict_setdefault<K, V>>();
        auto [it, inserted] = entries.try_emplace(std::move(m.key), std::move(m.value));
        (void)inserted;
        l->reply(it->second);
        break;
      }
      case 6: {
        std::vector<K> keys;
        keys.reserve(entries.size());
        for (const auto& [k, v] : entries) keys.push_back(k);
        l->reply(std::move(keys));
        break;
      }
      case 7: {
        std::vector<V> values;
        values.reserve(entries.size());
        for (const auto& [k, v] : entries) values.push_back(v);
        l->reply(std::move(values));
        break;
      }
      case 8: {
        std::vector<std::pair<K, V>> items(entries.begin(), entries.end());
        l->reply(std::move(items));
        break;
      }
      case 9:
        l->reply(std::uint64_t{entries.size()});
        break;
      case 10:
        entries.clear();
        l->reply();
        break;
    }
  }
}

}  // namespace troupe::actors::detail
