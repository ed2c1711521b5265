#pragma once

// Coroutine frames come and go at the rate messages do (a task per put, per
// get, per request), so each thread keeps the frames it freed, by size, and
// hands them out again instead of going to the allocator each time. A
// thread's cache is bounded (frame_cache_depth frames per size class) and
// freed when the thread ends. Under a sanitizer the cache is off, so every
// frame is its own allocation and use-after-free stays visible.

#include <cstddef>
#include <cstdint>
#include <new>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TROUPE_FRAME_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define TROUPE_FRAME_CACHE 0
#endif
#endif
#ifndef TROUPE_FRAME_CACHE
#define TROUPE_FRAME_CACHE 1
#endif

namespace troupe::coro::detail {

inline constexpr std::size_t frame_class_bytes = 64;
inline constexpr std::size_t frame_classes = 32;  // frames up to 2 KiB
inline constexpr std::uint32_t frame_cache_depth = 64;

#if TROUPE_FRAME_CACHE
struct frame_free_block {
  frame_free_block* next;
};
// Trivially destructible, so it stays usable while the thread's other
// thread_local objects are destroyed (frames freed then go to the
// allocator).
struct frame_cache_lists {
  frame_free_block* head[frame_classes];
  std::uint32_t count[frame_classes];
  bool registered;
  bool closed;
};
inline thread_local frame_cache_lists frame_cache{};

struct frame_cache_reaper {
  bool armed = false;
  frame_cache_reaper() = default;
  frame_cache_reaper(const frame_cache_reaper&) = delete;
  frame_cache_reaper& operator=(const frame_cache_reaper&) = delete;
  ~frame_cache_reaper() {
    frame_cache_lists& c = frame_cache;
    c.closed = true;
    for (std::size_t i = 0; i < frame_classes; ++i) {
      while (frame_free_block* b = c.head[i]) {
        c.head[i] = b->next;
        ::operator delete(b);
      }
      c.count[i] = 0;
    }
  }
};
inline thread_local frame_cache_reaper frame_reaper;
#endif

/// A frame of `n` bytes.
inline void* frame_allocate(std::size_t n) {
#if TROUPE_FRAME_CACHE
  const std::size_t c = (n - 1) / frame_class_bytes;
  if (c < frame_classes) {
    frame_cache_lists& cache = frame_cache;
    if (frame_free_block* b = cache.head[c]) {
      cache.head[c] = b->next;
      --cache.count[c];
      return b;
    }
    return ::operator new((c + 1) * frame_class_bytes);
  }
#endif
  return ::operator new(n);
}

/// Gives back a frame of `n` bytes from frame_allocate.
inline void frame_release(void* p, std::size_t n) noexcept {
#if TROUPE_FRAME_CACHE
  const std::size_t c = (n - 1) / frame_class_bytes;
  if (c < frame_classes) {
    frame_cache_lists& cache = frame_cache;
    if (!cache.closed && cache.count[c] < frame_cache_depth) {
      if (!cache.registered) {
        // First use on this thread: make sure the cache is freed at its end.
        cache.registered = true;
        frame_reaper.armed = true;
      }
      auto* b = static_cast<frame_free_block*>(p);
      b->next = cache.head[c];
      cache.head[c] = b;
      ++cache.count[c];
      return;
    }
  }
#else
  (void)n;
#endif
  ::operator delete(p);
}

}  // namespace troupe::coro::detail
