#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "framework/base/error.hpp"

namespace troupe::wire {

static_assert(std::endian::native == std::endian::little,
              "troupe's wire format is little-endian and is written with memcpy");

/// Writes encoded bytes: appended to a growable buffer it does not own, or
/// into a fixed span (shared memory). A span that turns out too small keeps
/// what fitted, drops the rest and counts it: overflowed() is then true and
/// size() says how many bytes the encoding needs.
class writer {
 public:
  explicit writer(std::vector<std::byte>& out) noexcept : out_(&out) {}
  explicit writer(std::span<std::byte> into) noexcept : cur_(into.data()), end_(into.data() + into.size()) {}

  void bytes(const void* p, std::size_t n) {
    if (n == 0) return;
    if (out_ != nullptr) {
      std::size_t at = out_->size();
      out_->resize(at + n);
      std::memcpy(out_->data() + at, p, n);
      return;
    }
    total_ += n;
    if (n > static_cast<std::size_t>(end_ - cur_)) {
      cur_ = end_;
      overflowed_ = true;
      return;
    }
    std::memcpy(cur_, p, n);
    cur_ += n;
  }
  template <class T>
  void scalar(T v) {
    bytes(&v, sizeof v);
  }
  /// Bytes in the buffer (growable), or bytes the encoding has produced
  /// so far, written or not (span).
  [[nodiscard]] std::size_t size() const noexcept { return out_ != nullptr ? out_->size() : total_; }
  /// A span writer ran out of room (what it holds is incomplete).
  [[nodiscard]] bool overflowed() const noexcept { return overflowed_; }

 private:
  std::vector<std::byte>* out_ = nullptr;
  std::byte* cur_ = nullptr;
  std::byte* end_ = nullptr;
  std::size_t total_ = 0;
  bool overflowed_ = false;
};

/// Limits a decoder enforces before it allocates anything.
struct decode_limits {
  std::size_t max_elements = std::size_t{1} << 24;  ///< per string/vector/map
  std::size_t max_depth = 64;                       ///< nesting of containers
};

/// Reads encoded bytes from untrusted input. Every read checks the remaining
/// length first; the first failure is kept (with its offset and what was
/// being read) and makes every later read fail too, so decoders can simply
/// test the result at the end of a step.
class reader {
 public:
  explicit reader(std::span<const std::byte> in, decode_limits limits = {}) noexcept
      : in_(in), limits_(limits) {}

  [[nodiscard]] bool ok() const noexcept { return failed_ == nullptr; }
  [[nodiscard]] std::size_t remaining() const noexcept { return in_.size() - pos_; }
  [[nodiscard]] std::size_t offset() const noexcept { return pos_; }
  [[nodiscard]] const decode_limits& limits() const noexcept { return limits_; }

  bool bytes(void* p, std::size_t n) noexcept {
    if (!ok()) return false;
    if (n > remaining()) return fail("input truncated");
    if (n != 0) std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  template <class T>
  bool scalar(T& v) noexcept {
    return bytes(&v, sizeof v);
  }
  /// Borrows n bytes from the input without copying.
  bool view(std::span<const std::byte>& out, std::size_t n) noexcept {
    if (!ok()) return false;
    if (n > remaining()) return fail("input truncated");
    out = in_.subspan(pos_, n);
    pos_ += n;
    return true;
  }

  /// Records the first failure; `what` must be a string literal.
  bool fail(const char* what, std::string_view context = {}) noexcept {
    if (failed_ == nullptr) {
      failed_ = what;
      fail_offset_ = pos_;
      context_ = context;
    }
    return false;
  }

  bool enter() noexcept {
    if (++depth_ > limits_.max_depth) return fail("nesting deeper than the limit");
    return true;
  }
  void leave() noexcept { --depth_; }

  /// The decode error describing the first failure.
  [[nodiscard]] error failure() const;

 private:
  std::span<const std::byte> in_;
  decode_limits limits_;
  std::size_t pos_ = 0;
  std::size_t depth_ = 0;
  const char* failed_ = nullptr;
  std::size_t fail_offset_ = 0;
  std::string_view context_;
};

}  // namespace troupe::wire
