// Shared-memory segments: mapped once per process, validated before use.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "framework/transport/shm_segment.hpp"

using namespace troupe;
using transport::segment_kind;
using transport::shm_segment;

namespace {

bool mentions(const error& e, const char* what) { return e.message.find(what) != std::string::npos; }

// A sealed memfd of `size` bytes whose first bytes are `header`.
int forged(std::size_t size, const transport::segment_header& header, unsigned seals) {
  int fd = ::memfd_create("forged", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  REQUIRE(fd >= 0);
  REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0);
  REQUIRE(::pwrite(fd, &header, sizeof header, 0) == static_cast<ssize_t>(sizeof header));
  if (seals != 0) REQUIRE(::fcntl(fd, F_ADD_SEALS, seals) == 0);
  return fd;
}

}  // namespace

TEST_SUITE("transport") {

TEST_CASE("a segment opened from its descriptor is the same memory, mapped once per process") {
  auto a = shm_segment::create(segment_kind::test, 100).value();
  CHECK(a->payload_size() >= 100);
  std::memcpy(a->payload(), "hello", 6);
  // Opening it again in this process finds the existing mapping.
  auto same = shm_segment::open(a->fd(), segment_kind::test, 100).value();
  CHECK(same.get() == a.get());
  // A second mapping of the file (what another process gets) sees the bytes.
  void* p = ::mmap(nullptr, 4096, PROT_READ, MAP_SHARED, a->fd(), 0);
  REQUIRE(p != MAP_FAILED);
  CHECK(std::memcmp(static_cast<char*>(p) + 64, "hello", 6) == 0);
  ::munmap(p, 4096);
}

TEST_CASE("a segment that is unsealed, of another kind, too small or with a bad header is refused") {
  auto good = shm_segment::create(segment_kind::test, 64).value();
  transport::segment_header h{};
  std::memcpy(&h, good->payload() - sizeof h, sizeof h);
  const unsigned seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

  SUBCASE("another kind") {
    auto r = shm_segment::open(good->fd(), segment_kind::lock, 64);
    REQUIRE_FALSE(r.has_value());
    CHECK(mentions(r.error(), "another kind"));
  }
  SUBCASE("smaller than the kind needs") {
    auto r = shm_segment::open(good->fd(), segment_kind::test, 1 << 20);
    REQUIRE_FALSE(r.has_value());
    CHECK(mentions(r.error(), "smaller"));
  }
  SUBCASE("not sealed: another process could shrink it under us") {
    transport::segment_header fresh = h;
    fresh.id.lo ^= 1;
    int fd = forged(4096, fresh, F_SEAL_GROW);
    auto r = shm_segment::open(fd, segment_kind::test, 64);
    ::close(fd);
    REQUIRE_FALSE(r.has_value());
    CHECK(mentions(r.error(), "sealed"));
  }
  SUBCASE("bad magic, version or sizes") {
    transport::segment_header bad = h;
    bad.id.lo ^= 2;
    bad.magic = 0;
    int fd = forged(4096, bad, seals);
    auto r = shm_segment::open(fd, segment_kind::test, 64);
    ::close(fd);
    CHECK(mentions(r.error(), "magic"));
    bad = h;
    bad.id.lo ^= 3;
    bad.version = 99;
    fd = forged(4096, bad, seals);
    r = shm_segment::open(fd, segment_kind::test, 64);
    ::close(fd);
    CHECK(mentions(r.error(), "version"));
    bad = h;
    bad.id.lo ^= 4;
    bad.total_size = 1 << 30;
    fd = forged(4096, bad, seals);
    r = shm_segment::open(fd, segment_kind::test, 64);
    ::close(fd);
    CHECK(mentions(r.error(), "sizes"));
  }
  SUBCASE("not a memory file at all") {
    int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    auto r = shm_segment::open(fd, segment_kind::test, 64);
    ::close(fd);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.code() == errc::protocol_error);
  }
}

}
