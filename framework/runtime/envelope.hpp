#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <string_view>
#include <type_traits>
#include <utility>

#include "framework/base/type_name.hpp"
#include "framework/runtime/actor_ref.hpp"
#include "framework/wire/type_id.hpp"

namespace troupe::detail {

/// What the runtime needs to handle a message whose type it does not know
/// statically.
struct message_vtable {
  wire::type_id_t type;
  std::string_view name;
  void (*relocate)(void* dst, void* src) noexcept;  // move-construct dst, destroy src
  void (*destroy)(void* p) noexcept;
};

inline constexpr std::size_t envelope_inline_size = 48;

template <class T>
inline constexpr bool stored_inline = sizeof(T) <= envelope_inline_size &&
                                      alignof(T) <= alignof(std::max_align_t) &&
                                      std::is_nothrow_move_constructible_v<T>;

template <class T>
struct vtable_for {
  static void relocate(void* dst, void* src) noexcept {
    if constexpr (stored_inline<T>) {
      T* s = static_cast<T*>(src);
      ::new (dst) T(std::move(*s));
      s->~T();
    } else {
      *static_cast<T**>(dst) = *static_cast<T**>(src);
    }
  }
  static void destroy(void* p) noexcept {
    if constexpr (stored_inline<T>) static_cast<T*>(p)->~T();
    else delete *static_cast<T**>(p);
  }
  static constexpr message_vtable value{wire::type_id<T>(), base::type_name<T>(), &relocate, &destroy};
};

/// Where a reply goes: the requesting runtime and its correlation id.
struct reply_address {
  node_id node = 0;
  std::uint64_t correlation = 0;  ///< 0: not a request
};

/// A type-erased message in a mailbox. Small messages (≤ 48 bytes, nothrow
/// movable) live inline, so steady-state messaging allocates nothing; larger
/// ones take one heap allocation.
class envelope {
 public:
  envelope() = default;
  envelope(const envelope&) = delete;
  envelope& operator=(const envelope&) = delete;
  ~envelope() { reset(); }

  template <class T>
  void emplace(T&& msg, actor_ref sender, reply_address reply) {
    using D = std::decay_t<T>;
    if constexpr (stored_inline<D>) ::new (static_cast<void*>(storage_)) D(std::forward<T>(msg));
    else *reinterpret_cast<D**>(storage_) = new D(std::forward<T>(msg));
    vt_ = &vtable_for<D>::value;
    sender_ = sender;
    reply_ = reply;
  }

  /// Moves the whole envelope into `dst` (which must be empty).
  void relocate_to(envelope& dst) noexcept {
    dst.vt_ = std::exchange(vt_, nullptr);
    dst.vt_->relocate(dst.storage_, storage_);
    dst.sender_ = sender_;
    dst.reply_ = reply_;
  }

  void reset() noexcept {
    if (vt_ != nullptr) std::exchange(vt_, nullptr)->destroy(storage_);
  }

  [[nodiscard]] bool empty() const noexcept { return vt_ == nullptr; }
  [[nodiscard]] wire::type_id_t type() const noexcept { return vt_->type; }
  [[nodiscard]] std::string_view type_name() const noexcept { return vt_->name; }
  [[nodiscard]] const actor_ref& sender() const noexcept { return sender_; }
  [[nodiscard]] const reply_address& reply() const noexcept { return reply_; }

  /// The message as T; the caller has checked type() == type_id<T>().
  template <class T>
  T& get() noexcept {
    if constexpr (stored_inline<T>) return *std::launder(reinterpret_cast<T*>(storage_));
    else return **reinterpret_cast<T**>(storage_);
  }

 private:
  const message_vtable* vt_ = nullptr;
  actor_ref sender_;
  reply_address reply_;
  alignas(std::max_align_t) std::byte storage_[envelope_inline_size];
};

}  // namespace troupe::detail
