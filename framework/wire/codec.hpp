#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include <boost/pfr.hpp>

#include "framework/base/result.hpp"
#include "framework/base/type_name.hpp"
#include "framework/wire/buffer.hpp"

namespace troupe::wire {

/// Customisation point for types the built-in rules do not cover (classes
/// with private state, handles that carry more than their fields). A
/// specialisation provides:
///   static void encode(writer&, const T&);
///   static bool decode(reader&, T&);          // false after reader.fail()
///   static constexpr std::size_t min_size;    // fewest bytes an encoding takes
template <class T>
struct codec;

namespace detail {

template <class T, template <class...> class Tmpl>
inline constexpr bool is_instance = false;
template <class... A, template <class...> class Tmpl>
inline constexpr bool is_instance<Tmpl<A...>, Tmpl> = true;

template <class T>
inline constexpr bool is_std_array = false;
template <class T, std::size_t N>
inline constexpr bool is_std_array<std::array<T, N>> = true;

template <class T>
inline constexpr bool is_duration = false;
template <class R, class P>
inline constexpr bool is_duration<std::chrono::duration<R, P>> = true;

template <class T>
concept has_codec = requires { sizeof(codec<T>); };

template <class T>
concept scalar_like = std::is_arithmetic_v<T> || std::is_enum_v<T> || std::is_same_v<T, std::byte>;

template <class T>
concept reflectable = std::is_aggregate_v<T> && !std::is_union_v<T> && !std::is_array_v<T> &&
                      !is_std_array<T> && std::is_default_constructible_v<T>;

template <class T>
constexpr bool encodable_impl();

template <class T, std::size_t... I>
constexpr bool fields_encodable(std::index_sequence<I...>) {
  return (encodable_impl<boost::pfr::tuple_element_t<I, T>>() && ...);
}
template <class Tuple, std::size_t... I>
constexpr bool tuple_encodable(std::index_sequence<I...>) {
  return (encodable_impl<std::tuple_element_t<I, Tuple>>() && ...);
}
template <class V, std::size_t... I>
constexpr bool variant_encodable(std::index_sequence<I...>) {
  return (encodable_impl<std::variant_alternative_t<I, V>>() && ...);
}

template <class T>
constexpr bool encodable_impl() {
  if constexpr (std::is_const_v<T> || std::is_volatile_v<T> || std::is_reference_v<T> ||
                std::is_pointer_v<T>) {
    return false;  // addresses mean nothing in another process
  } else if constexpr (has_codec<T>) {
    return true;
  } else if constexpr (scalar_like<T> || std::is_same_v<T, std::string> || is_duration<T>) {
    return true;
  } else if constexpr (is_instance<T, std::vector> || is_instance<T, std::optional>) {
    return encodable_impl<typename T::value_type>();
  } else if constexpr (is_std_array<T>) {
    return encodable_impl<typename T::value_type>();
  } else if constexpr (is_instance<T, std::map> || is_instance<T, std::unordered_map>) {
    return encodable_impl<typename T::key_type>() && encodable_impl<typename T::mapped_type>();
  } else if constexpr (is_instance<T, std::pair> || is_instance<T, std::tuple>) {
    return tuple_encodable<T>(std::make_index_sequence<std::tuple_size_v<T>>{});
  } else if constexpr (is_instance<T, std::variant>) {
    return std::variant_size_v<T> <= 255 &&
           variant_encodable<T>(std::make_index_sequence<std::variant_size_v<T>>{});
  } else if constexpr (reflectable<T>) {
    return fields_encodable<T>(std::make_index_sequence<boost::pfr::tuple_size_v<T>>{});
  } else {
    return false;
  }
}

}  // namespace detail

/// True for types troupe can send between processes without any code from
/// the user: arithmetic types, enums, std::byte, std::string, durations,
/// vector, array, optional, map, unordered_map, pair, tuple, variant, types
/// with a codec<T> specialisation (actor refs among them), and aggregates
/// (plain structs) whose fields are all encodable. Pointers and references
/// are not: an address means nothing in another process.
template <class T>
concept encodable = detail::encodable_impl<T>();

/// Fewest bytes any encoding of T takes; bounds element counts before
/// allocation when decoding untrusted input.
template <class T>
constexpr std::size_t min_size() {
  if constexpr (detail::has_codec<T>) {
    return codec<T>::min_size;
  } else if constexpr (detail::scalar_like<T>) {
    return sizeof(T);
  } else if constexpr (detail::is_duration<T>) {
    return sizeof(std::int64_t);
  } else if constexpr (detail::is_std_array<T>) {
    return std::tuple_size_v<T> * min_size<typename T::value_type>();
  } else if constexpr (detail::is_instance<T, std::pair> || detail::is_instance<T, std::tuple>) {
    return []<std::size_t... I>(std::index_sequence<I...>) {
      return (std::size_t{0} + ... + min_size<std::tuple_element_t<I, T>>());
    }(std::make_index_sequence<std::tuple_size_v<T>>{});
  } else if constexpr (detail::is_instance<T, std::variant> || detail::is_instance<T, std::optional>) {
    return 1;
  } else if constexpr (detail::reflectable<T> && !std::is_same_v<T, std::string>) {
    return []<std::size_t... I>(std::index_sequence<I...>) {
      return (std::size_t{0} + ... + min_size<boost::pfr::tuple_element_t<I, T>>());
    }(std::make_index_sequence<boost::pfr::tuple_size_v<T>>{});
  } else {
    return 4;  // string, vector, map: a 32-bit count
  }
}

template <class T>
void encode(writer& w, const T& v);
template <class T>
bool decode(reader& r, T& v);

namespace detail {

inline void put_count(writer& w, std::size_t n) { w.scalar(static_cast<std::uint32_t>(n)); }

// Reads an element count and checks it against the limit and against what
// the remaining input could possibly hold, before anything is allocated.
template <class Elem>
bool get_count(reader& r, std::size_t& n) {
  std::uint32_t raw = 0;
  if (!r.scalar(raw)) return false;
  n = raw;
  if (n > r.limits().max_elements) return r.fail("element count over the limit", base::type_name<Elem>());
  constexpr std::size_t each = min_size<Elem>();
  if (each != 0 && n > r.remaining() / each)
    return r.fail("element count larger than the input", base::type_name<Elem>());
  return true;
}

template <class Map>
void encode_map(writer& w, const Map& m) {
  put_count(w, m.size());
  for (const auto& [k, v] : m) {
    encode(w, k);
    encode(w, v);
  }
}

template <class Map>
bool decode_map(reader& r, Map& m) {
  using K = typename Map::key_type;
  using V = typename Map::mapped_type;
  std::size_t n = 0;
  if (!get_count<std::pair<K, V>>(r, n)) return false;
  m.clear();
  for (std::size_t i = 0; i < n; ++i) {
    K k{};
    V v{};
    if (!decode(r, k) || !decode(r, v)) return false;
    if (!m.emplace(std::move(k), std::move(v)).second) return r.fail("duplicate map key", base::type_name<Map>());
  }
  return true;
}

template <class V, std::size_t I = 0>
bool decode_variant_at(reader& r, V& v, std::size_t index) {
  if constexpr (I < std::variant_size_v<V>) {
    if (index == I) {
      std::variant_alternative_t<I, V> alt{};
      if (!decode(r, alt)) return false;
      v.template emplace<I>(std::move(alt));
      return true;
    }
    return decode_variant_at<V, I + 1>(r, v, index);
  } else {
    return r.fail("variant index out of range", base::type_name<V>());
  }
}

}  // namespace detail

/// Appends the encoding of `v`. A type that cannot be encoded is a compile
/// error here, and the compiler's note names it.
template <class T>
void encode(writer& w, const T& v) {
  static_assert(encodable<T>,
                "troupe: this type cannot be sent between processes. Use plain structs of "
                "arithmetic types, strings, standard containers, optional/variant/tuple and "
                "actor refs, or specialise troupe::wire::codec<T>. Pointers, references and "
                "classes with private state need a codec.");
  if constexpr (detail::has_codec<T>) {
    codec<T>::encode(w, v);
  } else if constexpr (std::is_same_v<T, bool>) {
    w.scalar(static_cast<std::uint8_t>(v ? 1 : 0));
  } else if constexpr (detail::scalar_like<T>) {
    w.scalar(v);
  } else if constexpr (detail::is_duration<T>) {
    w.scalar(static_cast<std::int64_t>(v.count()));
  } else if constexpr (std::is_same_v<T, std::string>) {
    detail::put_count(w, v.size());
    w.bytes(v.data(), v.size());
  } else if constexpr (detail::is_instance<T, std::vector>) {
    detail::put_count(w, v.size());
    using E = typename T::value_type;
    if constexpr (detail::scalar_like<E> && !std::is_same_v<E, bool>) {
      w.bytes(v.data(), v.size() * sizeof(E));
    } else {
      for (const auto& e : v) encode(w, static_cast<const E&>(e));
    }
  } else if constexpr (detail::is_std_array<T>) {
    for (const auto& e : v) encode(w, e);
  } else if constexpr (detail::is_instance<T, std::optional>) {
    w.scalar(static_cast<std::uint8_t>(v.has_value() ? 1 : 0));
    if (v) encode(w, *v);
  } else if constexpr (detail::is_instance<T, std::map> || detail::is_instance<T, std::unordered_map>) {
    detail::encode_map(w, v);
  } else if constexpr (detail::is_instance<T, std::pair> || detail::is_instance<T, std::tuple>) {
    std::apply([&w](const auto&... e) { (encode(w, e), ...); }, v);
  } else if constexpr (detail::is_instance<T, std::variant>) {
    w.scalar(static_cast<std::uint8_t>(v.index()));
    std::visit([&w](const auto& alt) { encode(w, alt); }, v);
  } else {
    boost::pfr::for_each_field(v, [&w](const auto& field) { encode(w, field); });
  }
}

/// Decodes into `v` from untrusted input; false (with the reason kept in the
/// reader) on truncated, oversized or malformed input. Never reads past the
/// input and never allocates more than the input could describe.
template <class T>
bool decode(reader& r, T& v) {
  static_assert(encodable<T>, "troupe: this type cannot be received from another process");
  if constexpr (detail::has_codec<T>) {
    return codec<T>::decode(r, v);
  } else if constexpr (std::is_same_v<T, bool>) {
    std::uint8_t b = 0;
    if (!r.scalar(b)) return false;
    if (b > 1) return r.fail("bool that is neither 0 nor 1");
    v = b == 1;
    return true;
  } else if constexpr (detail::scalar_like<T>) {
    return r.scalar(v);
  } else if constexpr (detail::is_duration<T>) {
    std::int64_t c = 0;
    if (!r.scalar(c)) return false;
    v = T(static_cast<typename T::rep>(c));
    return true;
  } else if constexpr (std::is_same_v<T, std::string>) {
    std::size_t n = 0;
    if (!detail::get_count<char>(r, n)) return false;
    v.resize(n);
    return r.bytes(v.data(), n);
  } else if constexpr (detail::is_instance<T, std::vector>) {
    using E = typename T::value_type;
    std::size_t n = 0;
    if (!r.enter() || !detail::get_count<E>(r, n)) return false;
    v.clear();
    if constexpr (detail::scalar_like<E> && !std::is_same_v<E, bool>) {
      v.resize(n);
      if (!r.bytes(v.data(), n * sizeof(E))) return false;
    } else {
      v.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        E e{};
        if (!decode(r, e)) return false;
        v.push_back(std::move(e));
      }
    }
    r.leave();
    return true;
  } else if constexpr (detail::is_std_array<T>) {
    for (auto& e : v)
      if (!decode(r, e)) return false;
    return true;
  } else if constexpr (detail::is_instance<T, std::optional>) {
    std::uint8_t has = 0;
    if (!r.scalar(has)) return false;
    if (has > 1) return r.fail("optional flag that is neither 0 nor 1", base::type_name<T>());
    if (has == 0) {
      v.reset();
      return true;
    }
    typename T::value_type inner{};
    if (!r.enter() || !decode(r, inner)) return false;
    r.leave();
    v.emplace(std::move(inner));
    return true;
  } else if constexpr (detail::is_instance<T, std::map> || detail::is_instance<T, std::unordered_map>) {
    if (!r.enter() || !detail::decode_map(r, v)) return false;
    r.leave();
    return true;
  } else if constexpr (detail::is_instance<T, std::pair> || detail::is_instance<T, std::tuple>) {
    return std::apply([&r](auto&... e) { return (decode(r, e) && ...); }, v);
  } else if constexpr (detail::is_instance<T, std::variant>) {
    std::uint8_t index = 0;
    if (!r.scalar(index) || !r.enter()) return false;
    if (!detail::decode_variant_at(r, v, index)) return false;
    r.leave();
    return true;
  } else {
    bool ok = r.enter();
    boost::pfr::for_each_field(v, [&](auto& field) { ok = ok && decode(r, field); });
    if (ok) r.leave();
    return ok;
  }
}

/// Encodes `v` into a fresh buffer.
template <class T>
std::vector<std::byte> to_bytes(const T& v) {
  std::vector<std::byte> out;
  writer w(out);
  encode(w, v);
  return out;
}

/// Decodes a whole buffer as a T: trailing bytes are an error too.
template <class T>
result<T> from_bytes(std::span<const std::byte> in, decode_limits limits = {}) {
  reader r(in, limits);
  T v{};
  if (!decode(r, v)) return r.failure();
  if (r.remaining() != 0) {
    r.fail("trailing bytes after the value", base::type_name<T>());
    return r.failure();
  }
  return v;
}

}  // namespace troupe::wire

/// @cond TROUPE_INTERNAL
/// troupe::error crosses processes as a value (domain, code, message).
template <>
struct troupe::wire::codec<troupe::error> {
  static constexpr std::size_t min_size = 2 + 2 + 4;
  static void encode(writer& w, const troupe::error& e) {
    w.scalar(static_cast<std::uint16_t>(e.domain));
    w.scalar(static_cast<std::uint16_t>(e.code));
    wire::encode(w, e.message);
  }
  static bool decode(reader& r, troupe::error& out) {
    std::uint16_t domain = 0;
    std::uint16_t code = 0;
    if (!r.scalar(domain) || !r.scalar(code) || !wire::decode(r, out.message)) return false;
    out.domain = static_cast<troupe::error_domain>(domain);
    out.code = static_cast<troupe::errc>(code);
    return true;
  }
};
/// @endcond
