#pragma once

#include <cstdint>
#include <string_view>

namespace troupe::base {

namespace detail {
template <class T>
constexpr std::string_view raw_type_name() noexcept {
  return __PRETTY_FUNCTION__;
}
}  // namespace detail

/// The C++ name of T as the compiler spells it ("ns::my_message"), at
/// compile time. Stable within one binary, which is all that is needed:
/// processes that talk have proved they run the same binary.
template <class T>
constexpr std::string_view type_name() noexcept {
  constexpr std::string_view raw = detail::raw_type_name<T>();
  // g++: "... [with T = ns::x; std::string_view = ...]"; clang: "... [T = ns::x]"
  constexpr std::string_view key = "T = ";
  constexpr auto start = raw.find(key) + key.size();
  constexpr auto end = raw.find_first_of(";]", start);
  return raw.substr(start, end - start);
}

/// 64-bit FNV-1a, usable at compile time.
constexpr std::uint64_t fnv1a(std::string_view s) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace troupe::base
