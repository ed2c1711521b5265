#pragma once

#include <optional>
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
  /// Holds a value.
  result(T v) : state_(std::in_place_index<0>, std::move(v)) {}
  /// Holds an error.
  result(troupe::error e) : state_(std::in_place_index<1>, std::move(e)) {}
  /// Holds an error with just a code.
  result(errc code) : state_(std::in_place_index<1>, troupe::error{code}) {}

  /// True when it holds a value.
  [[nodiscard]] bool has_value() const noexcept { return state_.index() == 0; }
  /// has_value().
  explicit operator bool() const noexcept { return has_value(); }

  /// The value; throws error_exception holding the error if there is none.
  T& value() & {
    check();
    return *std::get_if<0>(&state_);
  }
  /// The value; throws error_exception holding the error if there is none.
  const T& value() const& {
    check();
    return *std::get_if<0>(&state_);
  }
  // By value, not T&&: `for (auto& x : (co_await f()).value())` must not
  // iterate a temporary that is already gone.
  /// The value, moved out; throws error_exception holding the error if there is none.
  T value() && {
    check();
    return std::move(*std::get_if<0>(&state_));
  }
  /// value().
  T& operator*() & { return value(); }
  /// value(), moved out.
  T operator*() && { return std::move(*this).value(); }
  /// &value().
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
  /// Success.
  result() = default;
  /// Holds an error (success if its code is errc::ok).
  result(troupe::error e) {
    if (e.code != errc::ok) error_.emplace(std::move(e));
  }
  /// Holds an error with just a code.
  result(errc code) {
    if (code != errc::ok) error_.emplace(code);
  }

  /// True on success.
  [[nodiscard]] bool has_value() const noexcept { return !error_.has_value(); }
  /// has_value().
  explicit operator bool() const noexcept { return has_value(); }
  /// Throws error_exception holding the error, if there is one.
  void value() const {
    if (!has_value()) throw error_exception(*error_);
  }
  /// The error; only valid when !has_value().
  [[nodiscard]] const troupe::error& error() const {
    TROUPE_ASSERT(!has_value(), "result::error() called on a value");
    return *error_;
  }
  /// errc::ok on success, the error's code otherwise.
  [[nodiscard]] errc code() const noexcept { return error_ ? error_->code : errc::ok; }

 private:
  // Empty on success, so passing a success along (the common case, several
  // moves per awaited operation) copies no string.
  std::optional<troupe::error> error_;
};

}  // namespace troupe
