#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace troupe::uv {

/// A pending deadline. Lives inside the awaiter that waits for it, so a
/// timed wait allocates nothing per operation.
struct timer_node {
  std::uint64_t deadline_ns = 0;      ///< uv_hrtime() clock
  std::size_t heap_index = npos;      ///< position in the heap, npos when not queued
  void (*fire)(timer_node*) noexcept = nullptr;
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
};

/// Min-heap of timer nodes keyed by deadline, with O(log n) removal for
/// cancellation. One libuv timer per loop serves all of them.
/// Thread: the owning loop's thread only.
class timer_queue {
 public:
  void add(timer_node* n);
  void remove(timer_node* n) noexcept;
  [[nodiscard]] timer_node* top() const noexcept { return heap_.empty() ? nullptr : heap_[0]; }
  timer_node* pop() noexcept;
  [[nodiscard]] std::size_t size() const noexcept { return heap_.size(); }

 private:
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  void place(std::size_t i, timer_node* n) noexcept {
    heap_[i] = n;
    n->heap_index = i;
  }
  std::vector<timer_node*> heap_;
};

}  // namespace troupe::uv
