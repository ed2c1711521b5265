// Fuzz target: what a process finds in shared memory another process
// wrote — a segment header (validated before mapping is trusted) and a
// ring's control block and records (every index and header checked).
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <vector>

#include "framework/transport/ring.hpp"
#include "framework/transport/shm_segment.hpp"

namespace {

void segment_header(const std::uint8_t* data, std::size_t size) {
  // A sealed memfd holding the bytes, as a peer could send one.
  int fd = ::memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return;
  const std::size_t len = size < 64 ? 64 : size;
  if (::ftruncate(fd, static_cast<off_t>(len)) == 0 && ::pwrite(fd, data, size, 0) == static_cast<ssize_t>(size) &&
      ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) == 0) {
    auto seg = troupe::transport::shm_segment::open(fd, troupe::transport::segment_kind::test, 0);
    if (seg && (*seg)->payload_size() + 64 > len) __builtin_trap();
  }
  ::close(fd);
}

void ring_records(const std::uint8_t* data, std::size_t size) {
  // The bytes become a ring's region; the reader drains whatever it accepts.
  constexpr std::size_t capacity = 4096;
  alignas(64) static std::byte region[troupe::transport::ring_region_size(capacity)];
  std::memset(region, 0, sizeof region);
  troupe::transport::ring_init(region, capacity);
  // Either the bytes overwrite everything (control block included), or
  // the control block stays valid and the input gives the producer's
  // index (8 bytes) and the data area.
  const bool raw = size > 0 && (data[0] & 1) != 0;
  if (raw) {
    std::memcpy(region, data, std::min(size, sizeof region));
  } else if (size >= 9) {
    std::uint64_t head = 0;
    std::memcpy(&head, data + 1, 8);
    reinterpret_cast<troupe::transport::ring_control*>(region)->head.store(head);
    const std::size_t skip = sizeof(troupe::transport::ring_control);
    std::memcpy(region + skip, data + 9, std::min(size - 9, sizeof region - skip));
  }
  auto view = troupe::transport::ring_open(region, sizeof region);
  if (!view) return;
  troupe::transport::ring_reader reader(*view);
  for (int i = 0; i < 10'000; ++i) {
    auto rec = reader.peek();
    if (!rec || !*rec) return;
    const auto* first = reinterpret_cast<const std::byte*>((*rec)->data());
    if (first < region || first + (*rec)->size() > region + sizeof region) __builtin_trap();
    // Touch every byte (ASan checks each read lies in the region).
    unsigned sum = 0;
    for (std::byte b : **rec) sum += static_cast<unsigned>(b);
    asm volatile("" : : "r"(sum));
    reader.consume();
    (void)reader.release();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  if (data[0] % 2 == 0) segment_header(data + 1, size - 1);
  else ring_records(data + 1, size - 1);
  return 0;
}
