#pragma once

#include <exception>
#include <string>

namespace troupe::base {

/// The demangled dynamic type and the message of an exception, for reasons
/// and remote errors. Non-std exceptions give "unknown exception".
struct exception_info {
  std::string type;
  std::string message;
};

exception_info describe(const std::exception_ptr& e);

/// Demangles a C++ ABI type name; returns it unchanged if it is not mangled.
std::string demangle(const char* mangled);

}  // namespace troupe::base
