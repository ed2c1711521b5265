// Fuzz target: the codec decoding untrusted payloads as a representative
// set of message types. Decoding either fails or yields a value that
// encodes, decodes and encodes again to the same bytes.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "framework/base/error.hpp"
#include "framework/runtime/actor_ref.hpp"
#include "framework/runtime/control.hpp"
#include "framework/wire/codec.hpp"

namespace {

enum class colour : std::uint8_t { red, green, blue };

struct order {
  std::string id;
  std::vector<std::pair<std::string, std::int32_t>> lines;
  std::optional<double> discount;
  colour tag = colour::red;
  troupe::actor_ref reply_to;
};

using message_set = std::variant<std::string, std::vector<std::int64_t>, std::map<std::string, std::vector<double>>,
                                 std::tuple<bool, std::uint16_t, std::optional<std::string>>, order>;

template <class T>
void round_trip(std::span<const std::byte> in) {
  auto v = troupe::wire::from_bytes<T>(in);
  if (!v) return;
  // Compared as bytes, so a NaN that went in comes out as the same NaN.
  auto once = troupe::wire::to_bytes(*v);
  auto again = troupe::wire::from_bytes<T>(once);
  if (!again) __builtin_trap();
  if (troupe::wire::to_bytes(*again) != once) __builtin_trap();
}

template <class T>
void decode_only(std::span<const std::byte> in) {
  (void)troupe::wire::from_bytes<T>(in);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  auto in = std::span(reinterpret_cast<const std::byte*>(data) + 1, size - 1);
  switch (data[0] % 8) {
    case 0: round_trip<std::string>(in); break;
    case 1: round_trip<std::vector<std::int64_t>>(in); break;
    case 2: round_trip<std::map<std::string, std::vector<double>>>(in); break;
    case 3: round_trip<std::tuple<bool, std::uint16_t, std::optional<std::string>>>(in); break;
    case 4: round_trip<order>(in); break;
    case 5: round_trip<message_set>(in); break;
    case 6: round_trip<std::vector<troupe::error>>(in); break;
    case 7: decode_only<troupe::detail::hello>(in); break;  // the link handshake's first frame
  }
  return 0;
}
