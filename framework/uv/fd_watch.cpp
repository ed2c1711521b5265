#include "framework/uv/fd_watch.hpp"

#include <unistd.h>

namespace troupe::uv {

fd_watch::state::~state() {
  if (fd >= 0) ::close(fd);
}

result<fd_watch> fd_watch::open(loop& l, int fd, fd_watch_sink* sink) {
  auto* s = new state;
  s->sink = sink;
  s->fd = fd;
  int rc = uv_poll_init(l.native(), &s->handle, fd);
  if (rc != 0) {
    delete s;  // closes fd
    return system_error("uv_poll_init", rc);
  }
  fd_watch w;
  w.state_ = handle_owner<state>(s);
  return w;
}

result<void> fd_watch::watch(int events) noexcept {
  if (!state_) return error{errc::closed, "watch is closed"};
  if (events == state_->events) return {};
  int rc = events == 0 ? uv_poll_stop(&state_->handle) : uv_poll_start(&state_->handle, events, &fd_watch::on_poll);
  if (rc != 0) return system_error("uv_poll_start", rc);
  state_->events = events;
  return {};
}

void fd_watch::close() noexcept {
  if (!state_) return;
  state_->sink = nullptr;
  uv_poll_stop(&state_->handle);
  state_.reset();
}

void fd_watch::on_poll(uv_poll_t* h, int status, int events) noexcept {
  auto* s = static_cast<state*>(h->data);
  if (s->sink != nullptr) s->sink->on_ready(events, status);
}

}  // namespace troupe::uv
