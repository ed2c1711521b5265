#pragma once

#include <unistd.h>

#include <string>
#include <type_traits>
#include <utility>

#include "framework/base/error.hpp"
#include "framework/base/exception_info.hpp"
#include "framework/runtime/runtime.hpp"

namespace troupe {

/// The obligation to answer one request. Move-only; answering twice is a
/// bug (asserted). Destroying an unanswered responder answers the requester
/// with errc::broken_promise, so no request is ever left hanging. A
/// responder for a plain message (not a request) ignores replies.
/// Thread: the runtime's thread.
class responder {
 public:
  responder() = default;
  /// A responder answering `to` through `rt`; made by the runtime for each letter.
  responder(runtime* rt, detail::reply_address to) noexcept : rt_(rt), to_(to) {}
  /// Takes over the duty to answer; `o` answers nothing afterwards.
  responder(responder&& o) noexcept : rt_(o.rt_), to_(std::exchange(o.to_, {})) {}
  /// Answers the request held before with errc::broken_promise, then takes `o`'s.
  responder& operator=(responder&& o) noexcept {
    if (this != &o) {
      abandon();
      rt_ = o.rt_;
      to_ = std::exchange(o.to_, {});
    }
    return *this;
  }
  responder(const responder&) = delete;
  responder& operator=(const responder&) = delete;
  ~responder() { abandon(); }

  /// Whether a reply is still owed.
  [[nodiscard]] bool pending() const noexcept { return to_.correlation != 0; }

  /// Answers with a value (moved to a local requester, encoded for a
  /// remote one).
  template <class R>
  void reply(R&& value) {
    if (!pending()) return;
    rt_->deliver_reply(std::exchange(to_, {}), std::forward<R>(value));
  }
  /// Answers a request whose response type is void.
  void reply() { reply(ack{}); }
  /// Answers with an error; the requester's co_await gets it as its result.
  void fail(error e) {
    if (!pending()) return;
    rt_->deliver_error(std::exchange(to_, {}), std::move(e));
  }
  /// Answers with the exception being handled, as errc::remote_exception.
  void fail_with_current_exception() {
    auto info = base::describe(std::current_exception());
    fail(error{error_domain::user, errc::remote_exception,
               info.type + ": " + info.message + " (in pid " + std::to_string(::getpid()) + ")"});
  }

 private:
  void abandon() noexcept {
    if (!pending()) return;
    try {
      fail(error{errc::broken_promise, "the actor dropped the request without replying"});
    } catch (...) {
      // Only allocation can throw here; the requester's timeout remains.
    }
  }
  runtime* rt_ = nullptr;
  detail::reply_address to_;
};

}  // namespace troupe
