#pragma once

#include <cstdint>
#include <string>

#include "framework/runtime/actor_ref.hpp"

namespace troupe {

/// Why an actor ended. Travels between processes inside `down`, so the
/// kinds are append-only.
struct exit_reason {
  /// The kinds of ending.
  enum class kind : std::uint8_t {
    normal = 0,          ///< its body returned
    exception = 1,       ///< an exception escaped; type and message say which
    stopped = 2,         ///< someone stopped it (runtime::stop, shutdown)
    no_actor = 3,        ///< it did not exist when the monitor was set
    killed = 4,          ///< its process died of a signal (code = signal)
    exited = 5,          ///< its process exited (code = exit status)
    node_lost = 6,       ///< the link to its runtime went away
    protocol_error = 7,  ///< its link sent malformed data and was closed
  };
  /// How it ended.
  kind what = kind::normal;
  /// The signal for killed, the exit status for exited, 0 otherwise.
  std::int32_t code = 0;
  std::string type;     ///< exception type name, when what == exception
  std::string message;  ///< what() or a description

  /// True when it returned or was stopped: nothing went wrong.
  [[nodiscard]] bool is_normal() const noexcept { return what == kind::normal || what == kind::stopped; }
  /// "exception std::runtime_error: boom", "killed by signal 9", ...
  [[nodiscard]] std::string describe() const;

  /// Equal when every field is.
  friend bool operator==(const exit_reason&, const exit_reason&) = default;
};

/// Delivered to each monitor exactly once when the monitored actor ends.
struct down {
  /// The message's fixed wire type id.
  static constexpr std::uint64_t troupe_type_id = 1;
  /// The actor that ended.
  actor_ref who;
  /// Why it ended.
  exit_reason reason;
};

}  // namespace troupe
