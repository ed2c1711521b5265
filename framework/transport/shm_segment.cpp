#include "framework/transport/shm_segment.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "framework/wire/fd_carrier.hpp"

namespace troupe::transport {

namespace {

constexpr unsigned required_seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

std::size_t page_size() noexcept { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

segment_id fresh_id() {
  segment_id id;
  std::uint64_t words[2] = {0, 0};
  std::size_t got = 0;
  while (got < sizeof words) {
    ssize_t n = ::getrandom(reinterpret_cast<char*>(words) + got, sizeof words - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  id.hi = words[0];
  id.lo = words[1];
  return id;
}

// This process's mappings by id, so a segment received many times (or
// sent back to its creator) is mapped once.
struct registry {
  std::mutex mutex;
  std::vector<std::pair<segment_id, std::weak_ptr<shm_segment>>> entries;

  std::shared_ptr<shm_segment> find(const segment_id& id) {
    std::lock_guard g(mutex);
    std::shared_ptr<shm_segment> found;
    std::erase_if(entries, [&](auto& e) {
      auto s = e.second.lock();
      if (!s) return true;
      if (e.first == id) found = std::move(s);
      return false;
    });
    return found;
  }
  void add(const std::shared_ptr<shm_segment>& s) {
    std::lock_guard g(mutex);
    entries.emplace_back(s->id(), s);
  }
};

registry& mappings() {
  static registry r;
  return r;
}

error invalid(std::string what) { return error{errc::protocol_error, "shared-memory segment rejected: " + std::move(what)}; }

}  // namespace

shm_segment::shm_segment(int fd, std::byte* base, std::size_t total, segment_kind kind, segment_id id,
                         std::size_t payload)
    : fd_(fd), base_(base), total_(total), kind_(kind), id_(id), payload_size_(payload) {}

shm_segment::~shm_segment() {
  ::munmap(base_, total_);
  ::close(fd_);
}

result<std::shared_ptr<shm_segment>> shm_segment::create(segment_kind kind, std::size_t payload_size) {
  const std::size_t page = page_size();
  const std::size_t total = (sizeof(segment_header) + payload_size + page - 1) / page * page;
  int fd = ::memfd_create("troupe", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return system_error("memfd_create", errno);
  auto fail = [&](const char* op) {
    int e = errno;
    ::close(fd);
    return system_error(op, e);
  };
  if (::ftruncate(fd, static_cast<off_t>(total)) != 0) return fail("ftruncate");
  if (::fcntl(fd, F_ADD_SEALS, required_seals) != 0) return fail("fcntl(F_ADD_SEALS)");
  void* p = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return fail("mmap");
  auto* base = static_cast<std::byte*>(p);
  segment_header h{};
  h.magic = segment_header::magic_value;
  h.version = segment_header::current_version;
  h.kind = kind;
  h.total_size = total;
  h.id = fresh_id();
  h.payload_size = total - sizeof(segment_header);
  std::memcpy(base, &h, sizeof h);
  auto s = std::shared_ptr<shm_segment>(new shm_segment(fd, base, total, kind, h.id, h.payload_size));
  mappings().add(s);
  return s;
}

result<std::shared_ptr<shm_segment>> shm_segment::open(int fd, segment_kind kind, std::size_t min_payload) {
  int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0) return invalid("not a sealable memory file");
  if ((static_cast<unsigned>(seals) & required_seals) != required_seals) return invalid("not sealed against resizing");
  struct stat st{};
  if (::fstat(fd, &st) != 0) return system_error("fstat", errno);
  const auto total = static_cast<std::size_t>(st.st_size);
  if (total < sizeof(segment_header) + min_payload) return invalid("smaller than its kind needs");
  if (total > (std::size_t{1} << 40)) return invalid("implausibly large");
  segment_header h{};
  if (::pread(fd, &h, sizeof h, 0) != static_cast<ssize_t>(sizeof h)) return invalid("header unreadable");
  if (h.magic != segment_header::magic_value) return invalid("bad magic");
  if (h.version != segment_header::current_version) return invalid("unsupported layout version " + std::to_string(h.version));
  if (h.kind != kind) return invalid("of another kind");
  if (h.total_size != total || h.payload_size != total - sizeof(segment_header)) return invalid("sizes do not match the file");
  if (auto existing = mappings().find(h.id)) {
    if (existing->kind() != kind) return invalid("id of a segment of another kind");
    return existing;
  }
  int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) return system_error("dup", errno);
  void* p = ::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_SHARED, own, 0);
  if (p == MAP_FAILED) {
    int e = errno;
    ::close(own);
    return system_error("mmap", e);
  }
  auto s = std::shared_ptr<shm_segment>(
      new shm_segment(own, static_cast<std::byte*>(p), total, kind, h.id, h.payload_size));
  mappings().add(s);
  return s;
}

void shm_segment::keep_from_forks() const noexcept { (void)::madvise(base_, total_, MADV_DONTFORK); }

namespace detail {

void encode_segment(wire::writer& w, const std::shared_ptr<shm_segment>& s) {
  if (!s) throw std::logic_error("an empty shared-memory handle cannot be sent");
  w.scalar(wire::attach_fd(s->fd()));
  w.scalar(static_cast<std::uint32_t>(s->kind()));
  w.scalar(s->id().hi);
  w.scalar(s->id().lo);
}

bool decode_segment(wire::reader& r, std::shared_ptr<shm_segment>& out, segment_kind kind, std::size_t min_payload) {
  std::uint32_t index = 0;
  std::uint32_t k = 0;
  segment_id id;
  if (!r.scalar(index) || !r.scalar(k) || !r.scalar(id.hi) || !r.scalar(id.lo)) return false;
  if (k != static_cast<std::uint32_t>(kind)) return r.fail("shared-memory handle of another kind");
  int fd = wire::borrow_fd(index);
  if (fd < 0) return r.fail("shared-memory handle without its descriptor");
  auto s = shm_segment::open(fd, kind, min_payload);
  if (!s) return r.fail("shared-memory segment rejected (bad seals, size or header)");
  if (!((*s)->id() == id)) return r.fail("shared-memory handle names another segment than it carries");
  out = std::move(*s);
  return true;
}

}  // namespace detail

}  // namespace troupe::transport
