#include "framework/runtime/mailbox.hpp"

#include <bit>

namespace troupe::detail {

mailbox::mailbox(uv::loop& loop, std::size_t bound)
    : loop_(loop), ring_(new envelope[8]), capacity_(8), bound_(bound == 0 ? 1 : bound) {}

mailbox::~mailbox() {
  close();
  for (std::size_t i = 0; i < size_; ++i) ring_[(head_ + i) & (capacity_ - 1)].reset();
}

void mailbox::grow() {
  std::size_t bigger = capacity_ * 2;
  std::unique_ptr<envelope[]> ring(new envelope[bigger]);
  for (std::size_t i = 0; i < size_; ++i) ring_[(head_ + i) & (capacity_ - 1)].relocate_to(ring[i]);
  ring_ = std::move(ring);
  capacity_ = bigger;
  head_ = 0;
}

void mailbox::pop() noexcept {
  ring_[head_].reset();
  head_ = (head_ + 1) & (capacity_ - 1);
  --size_;
  if (blocked_head_ != nullptr && !full()) {
    blocked_sender* s = blocked_head_;
    blocked_head_ = s->next;
    if (blocked_head_ == nullptr) blocked_tail_ = nullptr;
    // The ring cannot need to grow here: a slot was just freed.
    s->push(s, ring_[(head_ + size_) & (capacity_ - 1)]);
    s->delivered = true;
    ++size_;
    loop_.schedule(s->waiting);
  }
}

void mailbox::block(blocked_sender* s) noexcept {
  s->next = nullptr;
  if (blocked_tail_ != nullptr) blocked_tail_->next = s;
  else blocked_head_ = s;
  blocked_tail_ = s;
}

void mailbox::unblock(blocked_sender* s) noexcept {
  blocked_sender* prev = nullptr;
  for (blocked_sender* cur = blocked_head_; cur != nullptr; prev = cur, cur = cur->next) {
    if (cur != s) continue;
    if (prev != nullptr) prev->next = cur->next;
    else blocked_head_ = cur->next;
    if (blocked_tail_ == cur) blocked_tail_ = prev;
    return;
  }
}

void mailbox::close() noexcept {
  if (closed_) return;
  closed_ = true;
  if (receive_waiter* w = std::exchange(receiver_, nullptr)) w->wake(w);
  while (blocked_sender* s = blocked_head_) {
    blocked_head_ = s->next;
    loop_.schedule(s->waiting);
  }
  blocked_tail_ = nullptr;
}

}  // namespace troupe::detail
