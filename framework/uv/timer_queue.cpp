#include "framework/uv/timer_queue.hpp"

#include "framework/base/assert.hpp"

namespace troupe::uv {

void timer_queue::add(timer_node* n) {
  TROUPE_ASSERT(n->heap_index == timer_node::npos, "timer node queued twice");
  heap_.push_back(n);
  n->heap_index = heap_.size() - 1;
  sift_up(n->heap_index);
}

void timer_queue::remove(timer_node* n) noexcept {
  std::size_t i = n->heap_index;
  if (i == timer_node::npos) return;
  n->heap_index = timer_node::npos;
  timer_node* last = heap_.back();
  heap_.pop_back();
  if (i == heap_.size()) return;
  place(i, last);
  sift_up(i);
  sift_down(last->heap_index);
}

timer_node* timer_queue::pop() noexcept {
  timer_node* n = heap_.front();
  remove(n);
  return n;
}

void timer_queue::sift_up(std::size_t i) noexcept {
  timer_node* n = heap_[i];
  while (i > 0) {
    std::size_t parent = (i - 1) / 2;
    if (heap_[parent]->deadline_ns <= n->deadline_ns) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, n);
}

void timer_queue::sift_down(std::size_t i) noexcept {
  timer_node* n = heap_[i];
  const std::size_t size = heap_.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= size) break;
    if (child + 1 < size && heap_[child + 1]->deadline_ns < heap_[child]->deadline_ns) ++child;
    if (heap_[child]->deadline_ns >= n->deadline_ns) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, n);
}

}  // namespace troupe::uv
