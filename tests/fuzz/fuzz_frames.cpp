// Fuzz target: a link's frame reader fed untrusted bytes in arbitrary
// pieces. It must deliver whole frames or name a protocol error, never read
// outside its buffer nor grow past one frame.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "framework/transport/frame_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  // The first byte picks the piece size, so splits at every point are tried.
  const std::size_t piece = 1 + data[0] % 97;
  auto bytes = std::span(reinterpret_cast<const std::byte*>(data) + 1, size - 1);
  troupe::transport::frame_reader reader(1u << 16);
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const std::size_t n = std::min(piece, bytes.size() - pos);
    auto room = reader.prepare(n);
    std::memcpy(room.data(), bytes.data() + pos, n);
    reader.commit(n);
    pos += n;
    troupe::transport::frame_view f;
    for (;;) {
      auto st = reader.next(f);
      if (st == troupe::transport::frame_reader::status::error) return 0;
      if (st == troupe::transport::frame_reader::status::need_more) break;
      // A delivered frame's payload is what its header says.
      if (f.payload.size() != f.header.length) __builtin_trap();
    }
    if (reader.capacity() > (std::size_t{1} << 17) + 64 * 1024) __builtin_trap();
  }
  return 0;
}
