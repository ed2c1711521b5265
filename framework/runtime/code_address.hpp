#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "framework/base/result.hpp"

namespace troupe::detail {

/// A function's place in the program, in a form that survives re-executing
/// the binary (addresses change with ASLR; offsets within a module do not):
/// the build id of the module (executable or shared library) that holds it
/// and the offset from that module's load address.
struct code_address {
  std::vector<std::uint8_t> build_id;
  std::uint64_t offset = 0;
};

using raw_function = void (*)();

/// Where `fn` lives. Fails if its module has no build id (link with
/// -Wl,--build-id) or is not a loaded module.
result<code_address> locate(raw_function fn);

/// The function at `where` in this process. Fails with a clear error when
/// no loaded module has that build id (the binary changed since the parent
/// started, or the module is not loaded here), so a stale offset is never
/// jumped to.
result<raw_function> resolve(const code_address& where);

/// The build id of the main executable (empty if it has none).
const std::vector<std::uint8_t>& executable_build_id();

/// Lower-case hex, for messages.
std::string to_hex(const std::vector<std::uint8_t>& bytes);

}  // namespace troupe::detail
