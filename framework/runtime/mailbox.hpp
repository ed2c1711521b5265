#pragma once

#include <coroutine>
#include <cstddef>
#include <memory>

#include "framework/base/assert.hpp"
#include "framework/runtime/envelope.hpp"
#include "framework/uv/loop.hpp"

namespace troupe::detail {

/// A sender suspended on a full mailbox. Lives in the sender's awaiter;
/// when room frees up the mailbox calls `push` to move the message into the
/// freed slot itself (so no other sender can take the room first and the
/// bound is exact), then schedules the sender.
struct blocked_sender {
  blocked_sender* next = nullptr;
  std::coroutine_handle<> waiting;
  void (*push)(blocked_sender* self, envelope& slot) noexcept = nullptr;
  bool delivered = false;
};

/// The receiving coroutine's side of a wait: woken by a commit or a close.
/// Lives in the receive awaiter, which also owns any timer of the wait.
struct receive_waiter {
  void (*wake)(receive_waiter* self) noexcept = nullptr;
};

/// The FIFO of one actor. Bounded: ordinary sends beyond `bound` suspend the
/// sender. System traffic (requests, down notices) may exceed the bound, as
/// it is limited by other means (one outstanding request per requester, one
/// down per monitor). Storage is a ring of envelopes that grows by doubling
/// up to what is needed and is reused afterwards.
/// Thread: the owning runtime's thread.
class mailbox {
 public:
  mailbox(uv::loop& loop, std::size_t bound);
  ~mailbox();
  mailbox(const mailbox&) = delete;
  mailbox& operator=(const mailbox&) = delete;

  [[nodiscard]] bool full() const noexcept { return size_ >= bound_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool closed() const noexcept { return closed_; }
  [[nodiscard]] std::size_t bound() const noexcept { return bound_; }

  /// A slot at the tail to construct an envelope in; then commit(). The
  /// caller has checked the bound where it applies.
  envelope& tail() {
    if (size_ == capacity_) grow();
    return ring_[(head_ + size_) & (capacity_ - 1)];
  }
  void commit() noexcept {
    ++size_;
    if (receive_waiter* w = std::exchange(receiver_, nullptr)) w->wake(w);
  }

  envelope& front() noexcept { return ring_[head_]; }
  /// Drops the (already emptied or to-be-destroyed) front envelope and lets
  /// one blocked sender in.
  void pop() noexcept;

  /// Registers the one receiver, woken on the next commit or close.
  void wait_for_message(receive_waiter* w) noexcept {
    TROUPE_ASSERT(receiver_ == nullptr, "two coroutines receive from one mailbox");
    receiver_ = w;
  }
  /// Unregisters the receiver (its wait was cancelled or timed out).
  void cancel_wait() noexcept { receiver_ = nullptr; }

  void block(blocked_sender* s) noexcept;
  /// Takes a blocked sender off the list (its wait was cancelled).
  void unblock(blocked_sender* s) noexcept;

  /// Refuses further messages; wakes the receiver and every blocked sender
  /// (their messages are not delivered). Idempotent.
  void close() noexcept;

 private:
  void grow();
  uv::loop& loop_;
  std::unique_ptr<envelope[]> ring_;
  std::size_t capacity_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
  std::size_t bound_;
  receive_waiter* receiver_ = nullptr;
  blocked_sender* blocked_head_ = nullptr;
  blocked_sender* blocked_tail_ = nullptr;
  bool closed_ = false;
};

}  // namespace troupe::detail
