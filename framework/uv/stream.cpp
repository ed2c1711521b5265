#include "framework/uv/stream.hpp"

#include <unistd.h>

#include "framework/base/assert.hpp"

namespace troupe::uv {

result<stream> stream::adopt_fd(loop& l, int fd) {
  auto* s = new stream::state;
  s->owner = &l;
  int rc = uv_pipe_init(l.native(), &s->handle, 0);
  if (rc != 0) {
    delete s;
    return system_error("uv_pipe_init", rc);
  }
  stream out;
  out.state_ = handle_owner<state>(s);
  rc = uv_pipe_open(&s->handle, fd);
  if (rc != 0) return system_error("uv_pipe_open", rc);
  return out;
}

stream::~stream() { close(); }

void stream::close() noexcept {
  if (!state_) return;
  if (read_awaiter* r = std::exchange(state_->reader, nullptr)) r->complete(UV_EOF);
  state_->sink = nullptr;  // closing is the owner's doing: no ended() call
  state_.reset();
}

result<void> stream::start_reading(read_sink* sink) noexcept {
  TROUPE_ASSERT(state_ && state_->reader == nullptr && state_->sink == nullptr, "stream already reading");
  state_->sink = sink;
  int rc = uv_read_start(native(), &stream::on_sink_alloc, &stream::on_sink_read);
  if (rc != 0) {
    state_->sink = nullptr;
    return system_error("uv_read_start", rc);
  }
  return {};
}

void stream::on_sink_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) noexcept {
  auto* s = static_cast<state*>(h->data);
  auto span = s->sink->prepare();
  *buf = uv_buf_init(reinterpret_cast<char*>(span.data()), static_cast<unsigned>(span.size()));
}

void stream::on_sink_read(uv_stream_t* h, ssize_t nread, const uv_buf_t*) noexcept {
  auto* s = static_cast<state*>(h->data);
  if (nread == 0 || s->sink == nullptr) return;  // EAGAIN
  if (nread > 0) {
    s->sink->received(static_cast<std::size_t>(nread));
    return;
  }
  uv_read_stop(h);
  read_sink* sink = std::exchange(s->sink, nullptr);
  sink->ended(nread == UV_EOF ? error{errc::closed, "end of stream"} : system_error("read", static_cast<int>(nread)));
}

void stream::on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) noexcept {
  auto* s = static_cast<state*>(h->data);
  if (s->reader == nullptr) {
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  auto span = s->reader->buf_;
  *buf = uv_buf_init(reinterpret_cast<char*>(span.data()), static_cast<unsigned>(span.size()));
}

void stream::on_read(uv_stream_t* h, ssize_t nread, const uv_buf_t*) noexcept {
  auto* s = static_cast<state*>(h->data);
  if (nread == 0 || s->reader == nullptr) return;  // EAGAIN, or nobody asked
  uv_read_stop(h);
  std::exchange(s->reader, nullptr)->complete(nread);
}

bool read_awaiter::await_ready() noexcept {
  if (stop_.stop_requested()) {
    cancelled_ = true;
    return true;
  }
  if (!stream_.is_open()) {
    outcome_ = UV_EOF;
    return true;
  }
  return false;
}

bool read_awaiter::await_suspend(std::coroutine_handle<> h) {
  TROUPE_ASSERT(stream_.state_->reader == nullptr, "two reads at once on one stream");
  waiting_ = h;
  stream_.state_->reader = this;
  int rc = uv_read_start(stream_.native(), &stream::on_alloc, &stream::on_read);
  if (rc != 0) {
    stream_.state_->reader = nullptr;
    outcome_ = rc;
    return false;
  }
  hook_.arm(stop_, this);
  return true;
}

void read_awaiter::complete(ssize_t nread) noexcept {
  hook_.disarm();
  outcome_ = nread;
  stream_.owning_loop().schedule(waiting_);
}

loop& read_awaiter::owning_loop() noexcept { return stream_.owning_loop(); }

void read_awaiter::cancel() noexcept {
  uv_read_stop(stream_.native());
  stream_.state_->reader = nullptr;
  cancelled_ = true;
  stream_.owning_loop().schedule(waiting_);
}

result<std::size_t> read_awaiter::await_resume() noexcept {
  if (cancelled_) return error{errc::cancelled, "read cancelled"};
  if (outcome_ == UV_EOF) return error{errc::closed, "end of stream"};
  // A peer that closed with our data unread resets the connection: for the
  // reader it has hung up, as at end of stream.
  if (outcome_ == UV_ECONNRESET) return error{errc::closed, "connection reset by peer"};
  if (outcome_ < 0) return system_error("read", static_cast<int>(outcome_));
  return static_cast<std::size_t>(outcome_);
}

bool write_awaiter::await_ready() noexcept {
  if (!stream_.is_open()) {
    status_ = UV_EPIPE;
    return true;
  }
  // Most writes fit the socket buffer: try without a request first.
  uv_buf_t buf = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data_.data())),
                             static_cast<unsigned>(data_.size()));
  int n = uv_try_write(stream_.native(), &buf, 1);
  if (n == static_cast<int>(data_.size())) return true;
  if (n > 0) data_ = data_.subspan(static_cast<std::size_t>(n));
  else if (n != UV_EAGAIN) {
    status_ = n;
    return true;
  }
  return false;
}

bool write_awaiter::await_suspend(std::coroutine_handle<> h) noexcept {
  waiting_ = h;
  req_.data = this;
  uv_buf_t buf = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data_.data())),
                             static_cast<unsigned>(data_.size()));
  int rc = uv_write(&req_, stream_.native(), &buf, 1, &write_awaiter::on_write);
  if (rc != 0) {
    status_ = rc;
    return false;
  }
  return true;
}

void write_awaiter::on_write(uv_write_t* req, int status) noexcept {
  auto* self = static_cast<write_awaiter*>(req->data);
  self->status_ = status;
  // The stream may be closing (status UV_ECANCELED); its loop is still alive.
  static_cast<loop*>(req->handle->loop->data)->schedule(self->waiting_);
}

result<void> write_awaiter::await_resume() noexcept {
  if (status_ == UV_EPIPE || status_ == UV_ECANCELED) return error{errc::closed, "stream closed"};
  if (status_ < 0) return system_error("write", status_);
  return {};
}

}  // namespace troupe::uv
