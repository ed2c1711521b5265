#pragma once

#include <string>

#include "framework/base/error.hpp"
#include "framework/runtime/control.hpp"

namespace troupe {

/// An exception that escaped a child process's target, rethrown in the
/// parent by process::join: the original type name and message, the
/// child's pid, name and exit code, and a stack trace when one was taken.
class remote_error : public error_exception {
 public:
  /// Made by the runtime from what the child reported; user code catches it.
  remote_error(detail::remote_failure f, int exitcode)
      : error_exception(troupe::error{error_domain::user, errc::remote_exception,
                              f.type + ": " + f.message + " (in process " + f.process + ", pid " +
                                  std::to_string(f.pid) + ")"}),
        failure_(std::move(f)),
        exitcode_(exitcode) {}

  /// The exception's type, demangled ("std::runtime_error").
  [[nodiscard]] const std::string& type() const noexcept { return failure_.type; }
  /// Its what().
  [[nodiscard]] const std::string& message() const noexcept { return failure_.message; }
  /// The pid of the process whose code threw.
  [[nodiscard]] int pid() const noexcept { return failure_.pid; }
  /// That process's name.
  [[nodiscard]] const std::string& process_name() const noexcept { return failure_.process; }
  /// The exit code the child ended with.
  [[nodiscard]] int exitcode() const noexcept { return exitcode_; }
  /// The child's stack where the exception was thrown, one frame per line;
  /// empty when none could be taken.
  [[nodiscard]] const std::string& stack() const noexcept { return failure_.stack; }

 private:
  detail::remote_failure failure_;
  int exitcode_;
};

}  // namespace troupe
