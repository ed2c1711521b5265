#pragma once

#include <uv.h>

#include <utility>

namespace troupe::uv {

/// Owns a heap-allocated State holding a libuv handle (State::handle). The
/// memory is released only in libuv's close callback, as libuv requires;
/// destroying the owner starts the close. `data` of the handle points at
/// the State.
template <class State>
class handle_owner {
 public:
  handle_owner() = default;
  explicit handle_owner(State* s) noexcept : state_(s) { s->handle.data = s; }
  handle_owner(handle_owner&& o) noexcept : state_(std::exchange(o.state_, nullptr)) {}
  handle_owner& operator=(handle_owner&& o) noexcept {
    if (this != &o) {
      reset();
      state_ = std::exchange(o.state_, nullptr);
    }
    return *this;
  }
  ~handle_owner() { reset(); }

  /// Starts closing the handle; the State is deleted in the close callback.
  void reset() noexcept {
    if (State* s = std::exchange(state_, nullptr)) {
      uv_close(reinterpret_cast<uv_handle_t*>(&s->handle),
               [](uv_handle_t* h) { delete static_cast<State*>(h->data); });
    }
  }
  [[nodiscard]] State* get() const noexcept { return state_; }
  State* operator->() const noexcept { return state_; }
  explicit operator bool() const noexcept { return state_ != nullptr; }

 private:
  State* state_ = nullptr;
};

}  // namespace troupe::uv
