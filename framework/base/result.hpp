#pragma once

#include <type_traits>
#include <utility>
#include <variant>

#include "framework/base/assert.hpp"
#include "framework/base/error.hpp"

namespace troupe {

/// A value or an error. Returned wherever an outcome is expected (timeouts,
/// cancellation, a closed channel, a peer that went away). value() throws
/// error_exception when it holds an error, so code that treats every error
/// as fatal can simply unwrap.
template <class T>
class [[nodiscard]] result {
 public:
  result(T v) : state_(std::in_place_index<0>, std::move(v)) {}
  result(troupe::error e) : state_(std::in_place_index<1>, std::move(e)) {}
  result(errc code) : state_(std::in_place_index<1>, troupe::error{code}) {}

  [[nodiscard]] bool has_value() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & {
    check();
    return *std::get_if<0>(&state_);
  }
  const T& value() const& {
    check();
    return *std::get_if<0>(&state_);
  }
  // By value, not T&&: `for (auto& x : (co_await f()).value())` must not
  // iterate a temporary that is already gone.
  T value() && {
    check();
    return std::move(*std::get_if<0>(&state_));
  }
  T& operator*() & { return value(); }
  T operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }

  /// The error; only valid when !has_value().
  [[nodiscard]] const troupe::error& error() const {
    TROUPE_ASSERT(!has_value(), "result::error() called on a value");
    return *std::get_if<1>(&state_);
  }
  /// errc::ok for a value, the error's code otherwise.
  [[nodiscard]] errc code() const noexcept {
    return has_value() ? errc::ok : std::get_if<1>(&state_)->code;
  }

 private:
  void check() const {
    if (!has_value()) throw error_exception(*std::get_if<1>(&state_));
  }
  std::variant<T, troupe::error> state_;
};

/// result<void>: success or an error.
template <>
class [[nodiscard]] result<void> {
 public:
  result() = default;
  result(troupe::error e) : error_(std::move(e)) {}
  result(errc code) : error_(troupe::error{code}) {}

  [[nodiscard]] bool has_value() const noexcept { return error_.code == errc::ok; }
  explicit operator bool() const noexcept { return has_value(); }
  void value() const {
    if (!has_value()) throw error_exception(error_);
  }
  [[nodiscard]] const troupe::error& error() const {
    TROUPE_ASSERT(!has_value(), "result::error() called on a value");
    return error_;
  }
  [[nodiscard]] errc code() const noexcept { return error_.code; }

 private:
  troupe::error error_;
};

}  // namespace troupe
