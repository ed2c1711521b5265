#pragma once

#include <optional>
#include <stop_token>
#include <utility>

#include "framework/base/assert.hpp"
#include "framework/uv/loop.hpp"

namespace troupe::uv {

/// The stop-token hook every awaitable in this layer uses. `Op::cancel()` is
/// called on the loop's thread when stop is requested while the operation
/// waits; it must detach the operation from whatever would complete it and
/// schedule the coroutine with a `cancelled` outcome.
///
/// Stop must be requested from the loop's thread (asserted): libuv state
/// cannot be touched from elsewhere, and a runtime's coroutines only ever
/// see their own thread.
template <class Op>
class cancel_hook {
 public:
  void arm(const std::stop_token& token, Op* op) {
    if (token.stop_possible()) callback_.emplace(token, invoke{op});
  }
  /// Called when the operation completes normally, before scheduling the
  /// coroutine, so a later stop request does nothing.
  void disarm() noexcept { callback_.reset(); }

 private:
  struct invoke {
    Op* op;
    void operator()() const noexcept {
      TROUPE_ASSERT(op->owning_loop().on_loop_thread(),
                    "stop requested from a thread other than the waiting loop's");
      op->cancel();
    }
  };
  std::optional<std::stop_callback<invoke>> callback_;
};

}  // namespace troupe::uv
