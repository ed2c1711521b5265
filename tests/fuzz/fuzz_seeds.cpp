// Writes the seed corpus of the fuzz targets (valid inputs they start
// from): fuzz_seeds DIR  →  DIR/frames/*, DIR/codec/*, DIR/shared/*.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "framework/runtime/control.hpp"
#include "framework/transport/frame_io.hpp"
#include "framework/transport/ring.hpp"
#include "framework/transport/shm_segment.hpp"
#include "framework/wire/codec.hpp"

namespace fs = std::filesystem;

namespace {

void write(const fs::path& p, std::uint8_t selector, const std::vector<std::byte>& body) {
  std::ofstream out(p, std::ios::binary);
  out.put(static_cast<char>(selector));
  out.write(reinterpret_cast<const char*>(body.data()), static_cast<std::streamsize>(body.size()));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds DIR\n");
    return 2;
  }
  const fs::path dir = argv[1];
  for (const char* d : {"frames", "codec", "shared"}) fs::create_directories(dir / d);

  // Frames: a few message frames back to back, read in pieces of 7 and 64.
  std::vector<std::byte> frames;
  troupe::wire::frame_header h;
  h.dest_node = 2;
  h.dest_actor = 5;
  h.type = 77;
  troupe::transport::append_message_frame(frames, h, std::string("hello"));
  h.kind = troupe::wire::frame_kind::reply;
  h.correlation = 9;
  troupe::transport::append_message_frame(frames, h, std::vector<std::int64_t>{1, 2, 3});
  write(dir / "frames" / "two_frames_7", 6, frames);
  write(dir / "frames" / "two_frames_64", 63, frames);

  // Codec: one value of each decoded type (the selector picks the type).
  write(dir / "codec" / "string", 0, troupe::wire::to_bytes(std::string("a string")));
  write(dir / "codec" / "vector", 1, troupe::wire::to_bytes(std::vector<std::int64_t>{-1, 0, 1 << 30}));
  write(dir / "codec" / "map", 2,
        troupe::wire::to_bytes(std::map<std::string, std::vector<double>>{{"x", {1.5, 2.5}}, {"y", {}}}));
  troupe::detail::hello hi;
  hi.build_id = {1, 2, 3, 4};
  hi.name = "child";
  hi.parent_node = 1;
  hi.child_node = 2;
  write(dir / "codec" / "hello", 7, troupe::wire::to_bytes(hi));
  write(dir / "codec" / "error", 6, troupe::wire::to_bytes(std::vector<troupe::error>{{troupe::errc::timeout, "too slow"}}));

  // Shared: a real segment's header, and a ring with records in it.
  auto seg = troupe::transport::shm_segment::create(troupe::transport::segment_kind::test, 256).value();
  std::vector<std::byte> header(64);
  if (::pread(seg->fd(), header.data(), header.size(), 0) != 64) return 1;
  header.resize(64 + 4096);
  write(dir / "shared" / "segment", 0, header);
  alignas(64) static std::byte region[troupe::transport::ring_region_size(4096)];
  troupe::transport::ring_init(region, 4096);
  auto view = troupe::transport::ring_open(region, sizeof region).value();
  troupe::transport::ring_writer w(view);
  for (int i = 0; i < 40; ++i) {
    auto room = w.reserve(static_cast<std::size_t>(10 + i * 7)).value();
    if (room.empty()) break;  // full
    std::memset(room.data(), i, room.size());
    w.commit(room.size());
  }
  (void)w.publish();
  // Selector 1 picks the ring; the next byte (even) keeps the control
  // block valid, then come the producer's index and the data area.
  std::vector<std::byte> ring(9, std::byte{0});
  const std::uint64_t head = view.control->head.load();
  std::memcpy(ring.data() + 1, &head, 8);
  ring.insert(ring.end(), region + sizeof(troupe::transport::ring_control), region + sizeof region);
  write(dir / "shared" / "ring", 1, ring);
  return 0;
}
