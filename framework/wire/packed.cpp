#include "framework/wire/packed.hpp"

#include <fcntl.h>
#include <unistd.h>

#include "framework/wire/frame.hpp"

namespace troupe::wire {

fd_list::~fd_list() {
  for (int fd : fds_) ::close(fd);
}

void codec<packed>::encode(writer& w, const packed& p) {
  auto fds = p.fds();
  w.scalar(static_cast<std::uint8_t>(fds.size()));
  for (int fd : fds) w.scalar(attach_fd(fd));
  wire::encode(w, p.bytes_);
}

bool codec<packed>::decode(reader& r, packed& out) {
  std::uint8_t n = 0;
  if (!r.scalar(n)) return false;
  if (n > max_frame_fds) return r.fail("too many descriptors in packed arguments");
  std::vector<int> owned;
  auto give_up = [&](const char* why) {
    fd_list discard(std::move(owned));
    return r.fail(why);
  };
  for (std::uint8_t i = 0; i < n; ++i) {
    std::uint32_t index = 0;
    if (!r.scalar(index)) return give_up("input truncated");
    int fd = borrow_fd(index);
    if (fd < 0) return give_up("a descriptor the frame does not carry");
    int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) return give_up("dup of a received descriptor failed");
    owned.push_back(copy);
  }
  if (!wire::decode(r, out.bytes_)) return give_up("input truncated");
  out.fds_ = std::make_shared<const fd_list>(std::move(owned));
  return true;
}

}  // namespace troupe::wire
