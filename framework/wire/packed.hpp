#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "framework/base/result.hpp"
#include "framework/wire/codec.hpp"
#include "framework/wire/fd_carrier.hpp"

namespace troupe::wire {

/// Descriptors owned together; closed when the last holder lets go.
class fd_list {
 public:
  fd_list() = default;
  explicit fd_list(std::vector<int> fds) noexcept : fds_(std::move(fds)) {}
  fd_list(const fd_list&) = delete;
  fd_list& operator=(const fd_list&) = delete;
  ~fd_list();
  [[nodiscard]] std::span<const int> get() const noexcept { return fds_; }

 private:
  std::vector<int> fds_;
};

/// A value encoded ahead of time (a process's start arguments, an actor's
/// constructor arguments), together with the descriptors its shared-memory
/// handles attached. Copies share the descriptors. Sent inside another
/// message, it re-attaches them to that frame; unpacking on the far side
/// decodes against them.
class packed {
 public:
  packed() = default;

  /// Encodes `v`. Throws what encoding throws.
  template <class T>
  static packed of(const T& v) {
    packed p;
    std::vector<int> fds;
    try {
      fd_encode_scope scope(fds);
      writer w(p.bytes_);
      encode(w, v);
    } catch (...) {
      fd_list discard(std::move(fds));
      throw;
    }
    p.fds_ = std::make_shared<const fd_list>(std::move(fds));
    return p;
  }

  /// An encoding written by `write(writer&)`, which may also patch the bytes
  /// it wrote (`write(writer&, std::vector<std::byte>&)` form): for
  /// sequences whose length is known only at their end. Throws what `write`
  /// throws.
  template <class F>
  static packed build(F&& write) {
    packed p;
    std::vector<int> fds;
    try {
      fd_encode_scope scope(fds);
      writer w(p.bytes_);
      write(w, p.bytes_);
    } catch (...) {
      fd_list discard(std::move(fds));
      throw;
    }
    p.fds_ = std::make_shared<const fd_list>(std::move(fds));
    return p;
  }

  /// Decodes the whole encoding as a T.
  template <class T>
  [[nodiscard]] result<T> unpack() const {
    fd_decode_scope scope(fds());
    return from_bytes<T>(bytes_);
  }

  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return bytes_; }
  [[nodiscard]] std::span<const int> fds() const noexcept { return fds_ ? fds_->get() : std::span<const int>{}; }

 private:
  friend struct codec<packed>;
  std::vector<std::byte> bytes_;
  std::shared_ptr<const fd_list> fds_;
};

template <>
struct codec<packed> {
  static constexpr std::size_t min_size = 5;
  static void encode(writer& w, const packed& p);
  static bool decode(reader& r, packed& out);
};

}  // namespace troupe::wire
