#include "framework/transport/ring.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <string>

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace troupe::transport {

namespace {

constexpr std::uint64_t align8(std::uint64_t n) noexcept { return (n + 7) & ~std::uint64_t{7}; }

// Asymmetric barriers (membarrier, Linux ≥ 4.16): a producer that
// registers may publish without fences; a consumer about to sleep runs a
// full barrier on every core that runs a registered process.
// The registration is the process's; a forked child keeps it (the kernel
// copies it with the memory map; ring_test checks), an exec drops it along
// with this flag.
bool asymmetric_barrier_registered() noexcept {
  static const bool registered = [] {
    const long cmds = ::syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || (cmds & MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0 ||
        (cmds & MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0)
      return false;
    return ::syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
  }();
  return registered;
}

void asymmetric_barrier() noexcept {
  // The producer registered, so this kernel has the command; should it
  // fail anyway, the worst case is a record the consumer finds at its next
  // wake-up for another reason instead of at once.
  (void)::syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0);
}

error corrupt(const char* what) { return error{errc::protocol_error, std::string("shared ring corrupt: ") + what}; }

}  // namespace

void ring_init(std::byte* region, std::size_t capacity) noexcept {
  auto* c = new (region) ring_control{};
  c->magic = ring_control::magic_value;
  c->version = ring_control::current_version;
  c->capacity = capacity;
  c->head.store(0, std::memory_order_relaxed);
  c->tail.store(0, std::memory_order_relaxed);
  c->consumer_asleep.store(0, std::memory_order_relaxed);
  c->producer_asleep.store(0, std::memory_order_relaxed);
  c->producer_light.store(0, std::memory_order_relaxed);
}

result<ring_view> ring_open(std::byte* region, std::size_t available) noexcept {
  if (reinterpret_cast<std::uintptr_t>(region) % 64 != 0) return error{errc::protocol_error, "ring not aligned"};
  if (available < sizeof(ring_control)) return corrupt("no room for its control block");
  auto* c = std::launder(reinterpret_cast<ring_control*>(region));
  if (c->magic != ring_control::magic_value) return corrupt("bad magic");
  if (c->version != ring_control::current_version) return corrupt("unknown version");
  const std::uint64_t cap = c->capacity;
  if (cap < 4096 || cap > (std::uint64_t{1} << 30) || (cap & (cap - 1)) != 0) return corrupt("bad capacity");
  if (ring_region_size(cap) > available) return corrupt("capacity larger than its region");
  return ring_view{c, cap};
}

ring_writer::ring_writer(ring_view v) noexcept
    : c_(v.control),
      data_(reinterpret_cast<std::byte*>(v.control) + sizeof(ring_control)),
      capacity_(v.capacity),
      head_(v.control->head.load(std::memory_order_relaxed)),
      tail_cache_(v.control->tail.load(std::memory_order_acquire)) {}

bool ring_writer::room(std::uint64_t need) noexcept {
  // Unsigned arithmetic: a cached index ahead of ours shows as an
  // impossible `used` and is re-read (and then refused) below.
  const std::uint64_t used = head_ - tail_cache_;
  if (used <= capacity_ && capacity_ - used >= need) return true;
  std::uint64_t t = c_->tail.load(std::memory_order_acquire);
  if (t > head_ || head_ - t > capacity_ || (t & 7) != 0) {
    corrupt_ = true;
    return false;
  }
  tail_cache_ = t;
  return capacity_ - (head_ - tail_cache_) >= need;
}

result<std::span<std::byte>> ring_writer::reserve(std::size_t n) noexcept {
  if (corrupt_) return corrupt("the consumer's index is impossible");
  if (n > max_payload()) return error{errc::too_large, "record larger than the ring allows"};
  const std::uint64_t need = align8(sizeof(ring_record_header) + n);
  const std::uint64_t pos = head_ & (capacity_ - 1);
  const std::uint64_t skip = pos + need > capacity_ ? capacity_ - pos : 0;
  if (!room(skip + need)) {
    if (corrupt_) return corrupt("the consumer's index is impossible");
    return std::span<std::byte>{};
  }
  pending_skip_ = skip;
  pending_pos_ = skip != 0 ? 0 : pos;
  return std::span<std::byte>(data_ + pending_pos_ + sizeof(ring_record_header), n);
}

result<std::span<std::byte>> ring_writer::reserve_contiguous() noexcept {
  if (corrupt_) return corrupt("the consumer's index is impossible");
  const std::uint64_t pos = head_ & (capacity_ - 1);
  const std::uint64_t to_end = capacity_ - pos;
  // Re-reads the consumer's index only if the cached one leaves less room
  // than the largest record could use.
  const std::uint64_t want = std::min<std::uint64_t>(to_end, align8(sizeof(ring_record_header) + max_payload()));
  (void)room(want);
  if (corrupt_) return corrupt("the consumer's index is impossible");
  const std::uint64_t free = capacity_ - (head_ - tail_cache_);
  std::uint64_t n = std::min(free, to_end);
  if (n <= sizeof(ring_record_header)) return std::span<std::byte>{};
  n = std::min<std::uint64_t>((n - sizeof(ring_record_header)) & ~std::uint64_t{7}, max_payload());
  pending_skip_ = 0;
  pending_pos_ = pos;
  return std::span<std::byte>(data_ + pos + sizeof(ring_record_header), n);
}

void ring_writer::commit(std::size_t n, bool more) noexcept {
  if (pending_skip_ != 0) {
    ring_record_header wrap{0, ring_record_header::wrap};
    std::memcpy(data_ + (head_ & (capacity_ - 1)), &wrap, sizeof wrap);
  }
  ring_record_header h{static_cast<std::uint32_t>(n), more ? ring_record_header::part : ring_record_header::data};
  std::memcpy(data_ + pending_pos_, &h, sizeof h);
  head_ += pending_skip_ + align8(sizeof(ring_record_header) + n);
  pending_skip_ = 0;
}

bool ring_writer::publish() noexcept {
  c_->head.store(head_, std::memory_order_release);
  // Pairs with the fence (or, publishing lightly, the barrier it forces on
  // us) in ring_reader::prepare_sleep: either the consumer sees the new
  // head, or we see that it sleeps.
  if (light_)
    std::atomic_signal_fence(std::memory_order_seq_cst);
  else
    std::atomic_thread_fence(std::memory_order_seq_cst);
  return c_->consumer_asleep.load(std::memory_order_relaxed) != 0 &&
         c_->consumer_asleep.exchange(0, std::memory_order_relaxed) != 0;
}

bool ring_writer::publish_lightly() noexcept {
  if (light_) return true;
  if (!asymmetric_barrier_registered()) return false;
  c_->producer_light.store(1, std::memory_order_relaxed);
  // A consumer that did not see the flag yet fenced before it looked: our
  // later loads see its sleep (see prepare_sleep).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  light_ = true;
  return true;
}

bool ring_writer::prepare_sleep(std::size_t n) noexcept {
  c_->producer_asleep.store(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with ring_reader::release
  const std::uint64_t need = align8(sizeof(ring_record_header) + n);
  const std::uint64_t pos = head_ & (capacity_ - 1);
  const std::uint64_t skip = pos + need > capacity_ ? capacity_ - pos : 0;
  if (room(skip + need) || corrupt_) {
    c_->producer_asleep.store(0, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void ring_writer::woke() noexcept { c_->producer_asleep.store(0, std::memory_order_relaxed); }

ring_reader::ring_reader(ring_view v) noexcept
    : c_(v.control),
      data_(reinterpret_cast<const std::byte*>(v.control) + sizeof(ring_control)),
      capacity_(v.capacity),
      tail_(v.control->tail.load(std::memory_order_relaxed)),
      head_cache_(tail_),
      next_tail_(tail_),
      released_(tail_) {}

result<std::optional<std::span<const std::byte>>> ring_reader::peek() noexcept {
  for (;;) {
    if (tail_ == head_cache_) {
      std::uint64_t h = c_->head.load(std::memory_order_acquire);
      if (h < tail_ || h - tail_ > capacity_ || (h & 7) != 0) return corrupt("the producer's index is impossible");
      head_cache_ = h;
      if (h == tail_) return std::optional<std::span<const std::byte>>{};
    }
    const std::uint64_t pos = tail_ & (capacity_ - 1);
    const std::uint64_t avail = head_cache_ - tail_;
    // Copied out once: the producer cannot change what we check after we
    // checked it.
    ring_record_header h;
    std::memcpy(&h, data_ + pos, sizeof h);
    if (h.kind == ring_record_header::wrap) {
      const std::uint64_t skip = capacity_ - pos;
      if (skip > avail) return corrupt("padding past the written end");
      tail_ += skip;
      continue;
    }
    if (h.kind != ring_record_header::data && h.kind != ring_record_header::part)
      return corrupt("unknown record kind");
    const std::uint64_t need = align8(sizeof(ring_record_header) + std::uint64_t{h.size});
    if (need > avail || pos + need > capacity_) return corrupt("record past the written end");
    next_tail_ = tail_ + need;
    more_ = h.kind == ring_record_header::part;
    return std::optional<std::span<const std::byte>>(std::span<const std::byte>(data_ + pos + sizeof h, h.size));
  }
}

void ring_reader::consume() noexcept { tail_ = next_tail_; }

bool ring_reader::release() noexcept {
  if (tail_ == released_) return false;
  released_ = tail_;
  c_->tail.store(tail_, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with ring_writer::prepare_sleep
  return c_->producer_asleep.load(std::memory_order_relaxed) != 0 &&
         c_->producer_asleep.exchange(0, std::memory_order_relaxed) != 0;
}

bool ring_reader::prepare_sleep() noexcept {
  c_->consumer_asleep.store(1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with ring_writer::publish
  // A producer that publishes lightly has no fence between its store of
  // head and its load of our flag: this barrier runs one on its core.
  if (c_->producer_light.load(std::memory_order_relaxed) != 0) asymmetric_barrier();
  if (c_->head.load(std::memory_order_acquire) != tail_) {
    c_->consumer_asleep.store(0, std::memory_order_relaxed);
    return false;
  }
  return true;
}

void ring_reader::woke() noexcept { c_->consumer_asleep.store(0, std::memory_order_relaxed); }

}  // namespace troupe::transport
