#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <variant>
#include <vector>

#include "framework/wire/codec.hpp"
#include "framework/wire/frame.hpp"

namespace wire = troupe::wire;
using troupe::errc;

namespace {

enum class color : std::uint8_t { red = 1, green = 2 };

struct point {
  double x = 0;
  double y = 0;
  friend bool operator==(const point&, const point&) = default;
};

struct order {
  std::uint64_t id = 0;
  std::string customer;
  std::vector<point> path;
  std::optional<color> paint;
  std::map<std::string, int> counts;
  std::variant<int, std::string, point> tag;
  std::tuple<int, std::string> pair_like;
  std::array<std::int16_t, 3> small{};
  bool urgent = false;
  std::chrono::milliseconds wait{0};
  friend bool operator==(const order&, const order&) = default;
};

struct empty_message {
  friend bool operator==(const empty_message&, const empty_message&) = default;
};

struct with_pointer {
  int* p = nullptr;
};

template <class T>
void round_trip(const T& v) {
  auto bytes = wire::to_bytes(v);
  auto back = wire::from_bytes<T>(bytes);
  REQUIRE_MESSAGE(back.has_value(), back.error().describe());
  CHECK(*back == v);
}

order sample_order() {
  order o;
  o.id = 0xdeadbeefcafeULL;
  o.customer = "Ada Lovelace";
  o.path = {{1.5, -2.0}, {3.25, 4.0}};
  o.paint = color::green;
  o.counts = {{"apples", 3}, {"pears", -7}};
  o.tag = std::string("fragile");
  o.pair_like = {9, "nine"};
  o.small = {1, -2, 3};
  o.urgent = true;
  o.wait = std::chrono::milliseconds(250);
  return o;
}

}  // namespace

static_assert(wire::encodable<order>);
static_assert(wire::encodable<std::vector<std::map<int, std::optional<std::string>>>>);
static_assert(!wire::encodable<with_pointer>, "pointers never cross processes");
static_assert(!wire::encodable<int*>);
static_assert(wire::type_id<order>() != wire::type_id<point>());
static_assert(wire::type_id<order>() >= wire::reserved_type_ids);

TEST_SUITE("wire") {

TEST_CASE("arithmetic types and enums round-trip at their limits") {
  round_trip(std::numeric_limits<std::int64_t>::min());
  round_trip(std::numeric_limits<std::uint64_t>::max());
  round_trip(std::int8_t{-128});
  round_trip(3.141592653589793);
  round_trip(-0.5f);
  round_trip(true);
  round_trip(false);
  round_trip('x');
  round_trip(color::red);
  round_trip(std::byte{0xab});
}

TEST_CASE("strings, vectors, maps, optionals, variants, tuples and arrays round-trip") {
  round_trip(std::string{});
  round_trip(std::string("with\0nul", 8));
  round_trip(std::vector<int>{1, 2, 3});
  round_trip(std::vector<bool>{true, false, true});
  round_trip(std::vector<std::string>{"a", "", "ccc"});
  round_trip(std::map<int, std::string>{{1, "one"}, {2, "two"}});
  round_trip(std::unordered_map<std::string, double>{{"pi", 3.14}, {"e", 2.71}});
  round_trip(std::optional<int>{});
  round_trip(std::optional<int>{5});
  round_trip(std::variant<int, std::string>{std::string("v")});
  round_trip(std::pair<int, std::string>{4, "four"});
  round_trip(std::tuple<int, double, std::string>{1, 2.0, "three"});
  round_trip(std::array<int, 4>{1, 2, 3, 4});
  round_trip(std::chrono::nanoseconds(123456789));
}

TEST_CASE("a user aggregate round-trips with no code from the user") {
  round_trip(sample_order());
  round_trip(empty_message{});
  round_trip(std::vector<order>{sample_order(), order{}});
}

TEST_CASE("truncating an encoding at any byte gives a decode error, never a crash") {
  auto bytes = wire::to_bytes(sample_order());
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    auto r = wire::from_bytes<order>(std::span(bytes.data(), cut));
    CHECK_MESSAGE(r.code() == errc::decode_error, "cut at ", cut);
  }
}

TEST_CASE("trailing bytes after a value are rejected") {
  auto bytes = wire::to_bytes(42);
  bytes.push_back(std::byte{0});
  CHECK(wire::from_bytes<int>(bytes).code() == errc::decode_error);
}

TEST_CASE("a length past the input is rejected before anything is allocated") {
  // A string that claims 4 GiB with 3 bytes behind it.
  std::vector<std::byte> bytes(4 + 3, std::byte{'a'});
  std::uint32_t huge = 0xffffffffu;
  std::memcpy(bytes.data(), &huge, 4);
  auto r = wire::from_bytes<std::string>(bytes);
  REQUIRE(r.code() == errc::decode_error);
  CHECK(r.error().message.find("limit") != std::string::npos);
  auto v = wire::from_bytes<std::vector<std::uint64_t>>(bytes);
  CHECK(v.code() == errc::decode_error);
}

TEST_CASE("an element count over the configured limit is rejected") {
  auto bytes = wire::to_bytes(std::vector<std::uint8_t>(100, 1));
  wire::decode_limits limits;
  limits.max_elements = 99;
  CHECK(wire::from_bytes<std::vector<std::uint8_t>>(bytes, limits).code() == errc::decode_error);
  limits.max_elements = 100;
  CHECK(wire::from_bytes<std::vector<std::uint8_t>>(bytes, limits).has_value());
}

TEST_CASE("a vector of empty structs cannot claim billions of elements from a few bytes") {
  std::vector<std::byte> bytes(4);
  std::uint32_t n = 0xfffffff0u;
  std::memcpy(bytes.data(), &n, 4);
  CHECK(wire::from_bytes<std::vector<empty_message>>(bytes).code() == errc::decode_error);
}

TEST_CASE("nesting deeper than the limit is rejected") {
  using deep = std::vector<std::vector<std::vector<int>>>;
  auto bytes = wire::to_bytes(deep{{{1}}});
  wire::decode_limits limits;
  limits.max_depth = 2;
  CHECK(wire::from_bytes<deep>(bytes, limits).code() == errc::decode_error);
  limits.max_depth = 3;
  CHECK(wire::from_bytes<deep>(bytes, limits).has_value());
}

TEST_CASE("invalid bools, optional flags, variant indexes and duplicate map keys are rejected") {
  CHECK(wire::from_bytes<bool>(std::vector<std::byte>{std::byte{2}}).code() == errc::decode_error);
  CHECK(wire::from_bytes<std::optional<std::uint8_t>>(std::vector<std::byte>{std::byte{7}, std::byte{1}})
            .code() == errc::decode_error);
  using var = std::variant<std::uint8_t, std::uint16_t>;
  CHECK(wire::from_bytes<var>(std::vector<std::byte>{std::byte{2}, std::byte{0}}).code() ==
        errc::decode_error);
  std::vector<std::byte> dup;
  wire::writer w(dup);
  w.scalar(std::uint32_t{2});
  for (int i = 0; i < 2; ++i) {
    w.scalar(std::int32_t{1});
    w.scalar(std::int32_t{i});
  }
  CHECK(wire::from_bytes<std::map<int, int>>(dup).code() == errc::decode_error);
}

TEST_CASE("garbage input of every small length decodes to an error or a value, never a crash") {
  std::uint64_t state = 0x9e3779b97f4a7c15ULL;
  for (int round = 0; round < 2000; ++round) {
    std::vector<std::byte> junk(static_cast<std::size_t>(round % 97));
    for (auto& b : junk) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      b = static_cast<std::byte>(state);
    }
    auto r = wire::from_bytes<order>(junk);
    if (!r) CHECK(r.code() == errc::decode_error);
  }
}

TEST_CASE("a frame header round-trips through its 64 bytes") {
  wire::frame_header h;
  h.kind = wire::frame_kind::request;
  h.length = 1234;
  h.dest_node = 7;
  h.dest_actor = 8;
  h.src_node = 9;
  h.src_actor = 10;
  h.correlation = 11;
  h.type = wire::type_id<order>();
  std::array<std::byte, 64> buf{};
  wire::encode_header(h, buf);
  auto back = wire::decode_header(buf);
  REQUIRE(back.has_value());
  CHECK(*back == h);
}

TEST_CASE("malformed frame headers each give a named protocol error") {
  wire::frame_header good;
  good.kind = wire::frame_kind::message;
  good.length = 16;
  std::array<std::byte, 64> base{};
  wire::encode_header(good, base);
  REQUIRE(wire::decode_header(base).has_value());

  struct mutation {
    const char* name;
    std::size_t offset;
    std::byte value;
    const char* expect;
  };
  const mutation table[] = {
      {"bad magic", 0, std::byte{0x00}, "magic"},
      {"bad version", 2, std::byte{9}, "version"},
      {"kind zero", 3, std::byte{0}, "kind"},
      {"unknown kind", 3, std::byte{200}, "kind"},
      {"unknown flag", 8, std::byte{1}, "flags"},
      {"too many descriptors", 12, std::byte{17}, "file descriptors"},
      {"oversized length", 7, std::byte{0x7f}, "exceeds"},
  };
  for (const auto& m : table) {
    auto bytes = base;
    bytes[m.offset] = m.value;
    auto r = wire::decode_header(bytes);
    REQUIRE_MESSAGE(!r.has_value(), m.name);
    CHECK(r.code() == errc::protocol_error);
    CHECK_MESSAGE(r.error().message.find(m.expect) != std::string::npos, m.name, ": ",
                  r.error().message);
  }
  for (std::size_t cut = 0; cut < 64; ++cut)
    CHECK(wire::decode_header(std::span(base.data(), cut)).code() == errc::protocol_error);

  wire::frame_header req = good;
  req.kind = wire::frame_kind::request;
  req.correlation = 0;
  wire::encode_header(req, base);
  CHECK(wire::decode_header(base).code() == errc::protocol_error);
}

TEST_CASE("a smaller payload limit rejects a frame the default accepts") {
  wire::frame_header h;
  h.length = 4096;
  std::array<std::byte, 64> buf{};
  wire::encode_header(h, buf);
  CHECK(wire::decode_header(buf).has_value());
  CHECK(wire::decode_header(buf, 1024).code() == errc::protocol_error);
}

}  // TEST_SUITE

TEST_CASE("a span writer encodes in place, byte for byte as a buffer would, and reports what it lacks") {
  order o;
  o.id = 9;
  o.customer = "someone with a long enough name";
  o.path = {{1, 2}, {3, 4}, {5, 6}};
  o.counts = {{"a", 1}, {"b", 2}};
  std::vector<std::byte> grown;
  wire::writer g(grown);
  wire::encode(g, o);

  std::vector<std::byte> room(grown.size() + 10);
  wire::writer s(std::span<std::byte>(room.data(), room.size()));
  wire::encode(s, o);
  CHECK_FALSE(s.overflowed());
  REQUIRE(s.size() == grown.size());
  CHECK(std::memcmp(room.data(), grown.data(), grown.size()) == 0);

  for (std::size_t cut : {std::size_t{0}, std::size_t{1}, grown.size() / 2, grown.size() - 1}) {
    std::vector<std::byte> small(cut);
    wire::writer t(std::span<std::byte>(small.data(), small.size()));
    wire::encode(t, o);
    CHECK(t.overflowed());
    CHECK(t.size() == grown.size());  // what it would need
  }
}
