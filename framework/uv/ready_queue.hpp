#pragma once

#include <coroutine>
#include <cstddef>
#include <vector>

namespace troupe::uv {

/// FIFO of coroutines ready to run. A ring that grows by doubling and never
/// shrinks, so steady-state scheduling allocates nothing.
/// Thread: the owning loop's thread only.
class ready_queue {
 public:
  ready_queue() : ring_(64) {}

  void push(std::coroutine_handle<> h) {
    if (size_ == ring_.size()) grow();
    ring_[(head_ + size_) & (ring_.size() - 1)] = h;
    ++size_;
  }
  std::coroutine_handle<> pop() noexcept {
    auto h = ring_[head_];
    head_ = (head_ + 1) & (ring_.size() - 1);
    --size_;
    return h;
  }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  void grow() {
    std::vector<std::coroutine_handle<>> bigger(ring_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i) bigger[i] = ring_[(head_ + i) & (ring_.size() - 1)];
    ring_.swap(bigger);
    head_ = 0;
  }
  std::vector<std::coroutine_handle<>> ring_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

}  // namespace troupe::uv
