#include "framework/transport/socket_io.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace troupe::transport {

result<std::size_t> send_some(int fd, std::span<const std::byte> bytes, std::span<const int> fds) noexcept {
  iovec iov{const_cast<std::byte*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_fds_per_receive)];
  if (!fds.empty()) {
    if (fds.size() > max_fds_per_receive) return error{errc::too_large, "too many descriptors for one send"};
    std::memset(control, 0, sizeof control);
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    ssize_t n = ::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return std::size_t{0};
    if (errno == EPIPE || errno == ECONNRESET) return error{errc::closed, "the peer closed the connection"};
    return system_error("sendmsg", errno);
  }
}

result<std::size_t> receive_some(int fd, std::span<std::byte> buf, std::vector<int>& fds) noexcept {
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * max_fds_per_receive)];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  for (;;) {
    n = ::recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return std::size_t{0};
    if (errno == ECONNRESET) return error{errc::closed, "the peer reset the connection"};
    return system_error("recvmsg", errno);
  }
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    const auto* data = reinterpret_cast<const unsigned char*>(CMSG_DATA(c));
    for (std::size_t i = 0; i < count; ++i) {
      int received;
      std::memcpy(&received, data + i * sizeof(int), sizeof(int));
      fds.push_back(received);
    }
  }
  if ((msg.msg_flags & MSG_CTRUNC) != 0)
    return error{errc::protocol_error, "the peer sent more file descriptors than one frame may carry"};
  if (n == 0) return error{errc::closed, "end of stream"};
  return static_cast<std::size_t>(n);
}

result<std::size_t> receive_blocking(int fd, std::span<std::byte> buf, std::vector<int>& fds,
                                     int timeout_ms) noexcept {
  for (;;) {
    pollfd pfd{fd, POLLIN, 0};
    int rc = ::poll(&pfd, 1, timeout_ms);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return system_error("poll", errno);
    if (rc == 0) return error{errc::timeout, "nothing arrived in time"};
    auto got = receive_some(fd, buf, fds);
    if (!got || *got != 0) return got;
  }
}

}  // namespace troupe::transport
