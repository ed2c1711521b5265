#include "framework/wire/fd_carrier.hpp"

#include <fcntl.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "framework/wire/frame.hpp"

namespace troupe::wire {

namespace {
thread_local std::vector<int>* encode_into = nullptr;
thread_local std::span<const int> decode_from;
}  // namespace

fd_encode_scope::fd_encode_scope(std::vector<int>& out) noexcept : previous_(encode_into) { encode_into = &out; }
fd_encode_scope::~fd_encode_scope() { encode_into = previous_; }

fd_decode_scope::fd_decode_scope(std::span<const int> fds) noexcept : previous_(decode_from) { decode_from = fds; }
fd_decode_scope::~fd_decode_scope() { decode_from = previous_; }

std::uint32_t attach_fd(int fd) {
  if (encode_into == nullptr)
    throw std::logic_error("a handle to shared memory can only be sent to another process of this machine");
  if (encode_into->size() >= max_frame_fds)
    throw std::logic_error("a message may carry at most 16 shared-memory handles");
  int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) throw std::system_error(errno, std::generic_category(), "dup of a shared-memory descriptor");
  encode_into->push_back(copy);
  return static_cast<std::uint32_t>(encode_into->size() - 1);
}

int borrow_fd(std::uint32_t index) noexcept {
  return index < decode_from.size() ? decode_from[index] : -1;
}

}  // namespace troupe::wire
