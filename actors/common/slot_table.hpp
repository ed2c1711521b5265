#pragma once

// Slots: the small numbers by which a shared word names a runtime. A
// protocol's segment holds a table of node ids indexed by slot; the server
// writes it (the only writer), each runtime reads it to find its own slot.

#include <atomic>
#include <cstdint>
#include <map>
#include <span>

#include "framework/runtime/actor_ref.hpp"

namespace troupe::actors::detail {

/// Means "no slot": the table was full, the server alone keeps the count.
inline constexpr std::uint64_t overflow_slot = 0xFFFF'FFFFull;

/// The slot of `me` in `table` (entry 0 unused), 0 if it has none yet.
/// `cached` is tried first. Reads are acquire (pair: the server's release
/// store in slot_table::of).
inline std::uint64_t find_slot(std::span<const std::atomic<std::uint64_t>> table, node_id me,
                               std::uint64_t cached) noexcept {
  if (cached != 0 && cached < table.size() && table[cached].load(std::memory_order_acquire) == me) return cached;
  for (std::uint64_t k = 1; k < table.size(); ++k)
    if (table[k].load(std::memory_order_acquire) == me) return k;
  return 0;
}

/// The server's side of a slot table.
class slot_table {
 public:
  explicit slot_table(std::span<std::atomic<std::uint64_t>> table) noexcept : table_(table) {}

  /// The slot of `node`, registering it on first sight (overflow_slot when
  /// the table is full). The store is release (pair: find_slot).
  std::uint64_t of(node_id node) {
    auto it = by_node_.find(node);
    if (it != by_node_.end()) return it->second;
    for (std::uint64_t k = 1; k < table_.size(); ++k) {
      if (table_[k].load(std::memory_order_relaxed) == 0) {
        table_[k].store(node, std::memory_order_release);
        by_node_[node] = k;
        return k;
      }
    }
    by_node_[node] = overflow_slot;
    return overflow_slot;
  }
  /// The slot `node` has, 0 if none.
  [[nodiscard]] std::uint64_t find(node_id node) const {
    auto it = by_node_.find(node);
    return it == by_node_.end() ? 0 : it->second;
  }
  /// Frees the slot of a node that is gone.
  void forget(node_id node) {
    auto it = by_node_.find(node);
    if (it == by_node_.end()) return;
    if (it->second != overflow_slot) table_[it->second].store(0, std::memory_order_release);
    by_node_.erase(it);
  }

 private:
  std::span<std::atomic<std::uint64_t>> table_;
  std::map<node_id, std::uint64_t> by_node_;
};

}  // namespace troupe::actors::detail
