#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "framework/transport/frame_io.hpp"

namespace transport = troupe::transport;
namespace wire = troupe::wire;
using troupe::errc;

namespace {

struct note {
  std::uint32_t seq = 0;
  std::string text;
};

wire::frame_header header_for(std::uint64_t dest) {
  wire::frame_header h;
  h.kind = wire::frame_kind::message;
  h.dest_actor = dest;
  return h;
}

// Feeds `bytes` to the reader in pieces of `chunk` bytes and collects what
// comes out, decoding each payload as a note.
std::vector<note> feed(transport::frame_reader& r, const std::vector<std::byte>& bytes, std::size_t chunk,
                       transport::frame_reader::status& last) {
  std::vector<note> out;
  std::size_t at = 0;
  last = transport::frame_reader::status::need_more;
  while (at < bytes.size()) {
    std::size_t n = std::min(chunk, bytes.size() - at);
    auto space = r.prepare(n);
    std::memcpy(space.data(), bytes.data() + at, n);
    r.commit(n);
    at += n;
    transport::frame_view f;
    while ((last = r.next(f)) == transport::frame_reader::status::frame) {
      CHECK(f.header.type == wire::type_id<note>());
      out.push_back(wire::from_bytes<note>(f.payload).value());
    }
    if (last == transport::frame_reader::status::error) break;
  }
  return out;
}

std::vector<std::byte> stream_of(int count) {
  std::vector<std::byte> bytes;
  for (int i = 0; i < count; ++i)
    transport::append_message_frame(bytes, header_for(7), note{static_cast<std::uint32_t>(i), std::string(i % 50, 'n')});
  return bytes;
}

}  // namespace

TEST_SUITE("transport") {

TEST_CASE("frames split at every possible point reassemble in order") {
  auto bytes = stream_of(20);
  for (std::size_t chunk = 1; chunk <= 97; ++chunk) {
    transport::frame_reader r;
    transport::frame_reader::status last;
    auto notes = feed(r, bytes, chunk, last);
    REQUIRE(notes.size() == 20);
    for (std::uint32_t i = 0; i < 20; ++i) {
      CHECK(notes[i].seq == i);
      CHECK(notes[i].text.size() == i % 50);
    }
    CHECK(r.buffered() == 0);
  }
}

TEST_CASE("a message frame is encoded in place with its length and type") {
  std::vector<std::byte> out;
  transport::append_message_frame(out, header_for(3), note{9, "nine"});
  auto h = wire::decode_header(out).value();
  CHECK(h.length == out.size() - wire::frame_header::wire_size);
  CHECK(h.type == wire::type_id<note>());
  CHECK(h.dest_actor == 3);
}

TEST_CASE("raw frames keep empty and large payloads intact") {
  std::vector<std::byte> bytes;
  std::vector<std::byte> big(300'000, std::byte{0x5a});
  transport::append_frame(bytes, header_for(1), {});
  transport::append_frame(bytes, header_for(2), big);
  transport::frame_reader r;
  auto space = r.prepare(bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  r.commit(bytes.size());
  transport::frame_view f;
  REQUIRE(r.next(f) == transport::frame_reader::status::frame);
  CHECK(f.payload.empty());
  REQUIRE(r.next(f) == transport::frame_reader::status::frame);
  CHECK(f.header.dest_actor == 2);
  CHECK(f.payload.size() == big.size());
  CHECK(f.payload[299'999] == std::byte{0x5a});
  CHECK(r.next(f) == transport::frame_reader::status::need_more);
}

TEST_CASE("garbage on the stream is a sticky protocol error naming the fault") {
  std::vector<std::byte> junk(200, std::byte{0x41});
  transport::frame_reader r;
  transport::frame_reader::status last;
  auto notes = feed(r, junk, 13, last);
  CHECK(notes.empty());
  REQUIRE(last == transport::frame_reader::status::error);
  CHECK(r.failure().code == errc::protocol_error);
  CHECK(r.failure().message.find("magic") != std::string::npos);
  transport::frame_view f;
  CHECK(r.next(f) == transport::frame_reader::status::error);
}

TEST_CASE("good frames before garbage are delivered, then the error") {
  auto bytes = stream_of(3);
  bytes.insert(bytes.end(), 64, std::byte{0xff});
  transport::frame_reader r;
  transport::frame_reader::status last;
  auto notes = feed(r, bytes, 1000, last);
  CHECK(notes.size() == 3);
  CHECK(last == transport::frame_reader::status::error);
}

TEST_CASE("an oversized length is refused from the header alone, before any allocation") {
  wire::frame_header h = header_for(1);
  h.length = 1u << 30;  // claims 1 GiB
  std::array<std::byte, 64> raw{};
  wire::encode_header(h, raw);
  transport::frame_reader r(1u << 20);
  auto space = r.prepare(raw.size());
  std::memcpy(space.data(), raw.data(), raw.size());
  r.commit(raw.size());
  transport::frame_view f;
  REQUIRE(r.next(f) == transport::frame_reader::status::error);
  CHECK(r.failure().message.find("exceeds") != std::string::npos);
  CHECK(r.capacity() <= 64 * 1024);
}

TEST_CASE("the buffer grows to the frame in progress and no further") {
  std::vector<std::byte> bytes;
  std::vector<std::byte> payload(100'000, std::byte{1});
  transport::append_frame(bytes, header_for(1), payload);
  transport::frame_reader r;
  transport::frame_reader::status last;
  std::size_t at = 0;
  transport::frame_view f;
  while (at < bytes.size()) {
    std::size_t n = std::min<std::size_t>(4096, bytes.size() - at);
    auto space = r.prepare(n);
    std::memcpy(space.data(), bytes.data() + at, n);
    r.commit(n);
    at += n;
    last = r.next(f);
    CHECK(r.capacity() <= 100'064 + 16 * 1024);
  }
  CHECK(last == transport::frame_reader::status::frame);
}

}  // TEST_SUITE
