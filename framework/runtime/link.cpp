#include "framework/runtime/link.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "framework/transport/socket_io.hpp"

#include "framework/runtime/control.hpp"
#include "framework/runtime/runtime.hpp"

namespace troupe::detail {

link::link(runtime& rt, int socket_fd, node_id peer, link_handler* handler)
    : rt_(rt), peer_(peer), handler_(handler), reader_(wire::default_max_payload) {
  nodes_.push_back(peer);
  auto w = uv::fd_watch::open(rt.loop(), socket_fd, this);
  if (w) watch_ = std::move(*w);
}

link::~link() {
  // The runtime releases a link only after its writer stopped; any blocked
  // sender was woken by fail() or close_gracefully().
  TROUPE_ASSERT(!writer_running_, "link destroyed while its writer runs");
  resolve_left(true);
  for (auto* v : {&out_fds_, &inflight_fds_, &sock_fds_})
    for (const outgoing_fd& o : *v) ::close(o.fd);
  transport::close_fds(received_fds_);
  transport::close_fds(frame_fds_);
}

void link::take_fds(std::vector<int>& from, std::size_t& taken, std::size_t want, std::vector<int>& into) {
  into.assign(from.begin() + static_cast<std::ptrdiff_t>(taken),
              from.begin() + static_cast<std::ptrdiff_t>(taken + want));
  taken += want;
  if (taken == from.size()) {
    from.clear();
    taken = 0;
  }
}

void link::add_node(node_id n) {
  for (node_id x : nodes_)
    if (x == n) return;
  nodes_.push_back(n);
}

result<void> link::start(bool hold) {
  if (!watch_) return error{errc::system_error, "the link's socket could not be watched"};
  held_ = hold;
  reading_ = !hold;
  if (!hold) {
    auto r = watch_.watch(uv::fd_watch::readable);
    if (!r) return r;
  }
  writer_running_ = true;
  rt_.actor_started();  // the writer counts as a root: shutdown waits for it
  write_loop(this);
  return {};
}

void link::resume_reading() noexcept {
  if (!held_ || state_ != state::up) return;
  held_ = false;
  reading_ = true;
  (void)watch_.watch(uv::fd_watch::readable | (want_writable_ ? uv::fd_watch::writable : 0));
}

void link::append_raw(const wire::frame_header& h, std::span<const std::byte> payload, std::span<const int> fds) {
  if (!up()) return;
  if (remote_host_ && !fds.empty()) return;  // the runtime refused it already (forward_frame)
  scratch_fds_.clear();
  for (int fd : fds) {
    int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) {
      // Forwarding it without its descriptors would make it undecodable.
      transport::close_fds(scratch_fds_);
      std::fprintf(stderr, "troupe: a routed frame was dropped: dup failed\n");
      return;
    }
    scratch_fds_.push_back(copy);
  }
  const std::size_t at = out_.size();
  wire::frame_header copy = h;
  copy.fds = static_cast<std::uint32_t>(scratch_fds_.size());
  transport::append_frame(out_, copy, payload);
  adopt_fds(at, scratch_fds_);
  ++appended_;
  ++backlog_frames_;
  flush();
}

void link::adopt_fds(std::size_t offset, std::vector<int>& fds) {
  for (int fd : fds) out_fds_.push_back(outgoing_fd{offset, fd});
  fds.clear();
}

void link::flush() noexcept {
  // A writer waiting for the socket to drain is woken by the socket, or
  // when the link goes down.
  if (writer_waiting_ && ((!want_writable_ && !waiting_room_) || state_ != state::up))
    rt_.loop().schedule(std::exchange(writer_waiting_, {}));
}

bool link::left_process(std::uint64_t upto) noexcept {
  if (gone() >= upto) return true;
  // Records committed to the ring may be published now, unless descriptors
  // they need are still on their way through the socket (sock_out_,
  // inflight_): the writer publishes those once they went.
  if (state_ != state::lost && ring_ != nullptr && ring_->out_active && ring_->unpublished && sock_out_.empty() &&
      inflight_.empty())
    publish_ring();
  return gone() >= upto;
}

void link::wait_left(left_waiter* w) noexcept {
  w->left = false;
  w->next = left_waiters_;
  left_waiters_ = w;
  if (state_ == state::lost && !writer_running_) resolve_left(true);
  flush();
}

void link::publish_ring() noexcept {
  ring_state& rs = *ring_;
  rs.unpublished = false;
  unpublished_frames_ = 0;
  if (rs.writer.publish()) ring_bell();
  resolve_left();
}

void link::resolve_left(bool failed) noexcept {
  if (left_waiters_ == nullptr) return;
  const std::uint64_t g = gone();
  for (left_waiter** p = &left_waiters_; *p != nullptr;) {
    left_waiter* w = *p;
    if (failed || w->upto <= g) {
      *p = w->next;
      w->left = !failed && !peer_closed_;
      rt_.loop().schedule(w->waiting);
    } else {
      p = &w->next;
    }
  }
}

bool left_process_wait::await_ready() noexcept {
  via = rt.route(to);
  if (via == nullptr) {
    w.left = true;
    return true;
  }
  w.upto = via->appended();
  w.left = via->left_process(w.upto);
  return w.left;
}

void left_process_wait::await_suspend(std::coroutine_handle<> h) noexcept {
  w.waiting = h;
  via->wait_left(&w);
}

void link::block(blocked_sender* s) noexcept {
  s->next = blocked_head_;
  s->delivered = false;
  blocked_head_ = s;
}

void link::unblock(blocked_sender* s) noexcept {
  for (blocked_sender** p = &blocked_head_; *p != nullptr; p = &(*p)->next) {
    if (*p == s) {
      *p = s->next;
      return;
    }
  }
}

void link::wake_blocked() noexcept {
  while (blocked_sender* s = blocked_head_) {
    blocked_head_ = s->next;
    rt_.loop().schedule(s->waiting);
  }
}

// The writer parks here while there is nothing to send, (writable) until
// the socket takes more, or (room) until the peer frees ring room.
struct writer_wait {
  link* self;
  bool writable = false;
  bool room = false;
  bool await_ready() const noexcept {
    if (self->state_ == link::state::lost) return true;
    if (writable || room) return false;
    return self->out_.size() != self->out_pos_ || !self->sock_out_.empty() || self->state_ != link::state::up ||
           (self->ring_ != nullptr && self->ring_->unpublished);
  }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    self->writer_waiting_ = h;
    self->waiting_room_ = room;
    if (writable) {
      self->want_writable_ = true;
      (void)self->watch_.watch((self->reading_ ? uv::fd_watch::readable : 0) | uv::fd_watch::writable);
    }
  }
  void await_resume() const noexcept {
    self->waiting_room_ = false;
    if (writable) {
      self->want_writable_ = false;
      (void)self->watch_.watch(self->reading_ ? uv::fd_watch::readable : 0);
    }
  }
};

coro::task<bool> link::send_inflight(link* self) {
  // Everything in inflight_ goes out in one send, split only where a frame
  // carries descriptors: they go with its first byte.
  if (self->peer_closed_) self->inflight_.clear();
  std::size_t pos = 0;
  std::size_t next_fd = 0;
  bool failed = false;
  const int fd = self->watch_.fd();
  while (pos < self->inflight_.size()) {
    std::size_t fd_end = next_fd;
    std::array<int, wire::max_frame_fds> fds{};
    std::size_t count = 0;
    while (fd_end < self->inflight_fds_.size() && self->inflight_fds_[fd_end].offset == pos)
      fds[count++] = self->inflight_fds_[fd_end++].fd;
    const std::size_t stop =
        fd_end < self->inflight_fds_.size() ? self->inflight_fds_[fd_end].offset : self->inflight_.size();
    auto sent = fd < 0 ? result<std::size_t>(error{errc::closed, "link closed"})
                       : transport::send_some(fd, std::span(self->inflight_).subspan(pos, stop - pos),
                                              std::span<const int>(fds.data(), count));
    if (!sent && sent.code() == errc::closed && (self->reading_ || self->ending_)) {
      // The peer is gone, but what it sent before may still wait in the
      // socket (a child's last words): the reader reports the end once
      // it has read everything (or has, and the owner is about to end the
      // link with the real reason). Until then, writes go nowhere.
      self->peer_closed_ = true;
      break;
    }
    if (!sent) {
      if (self->state_ == state::up) {
        exit_reason why;
        why.what = exit_reason::kind::node_lost;
        why.message = "write failed: " + sent.error().describe();
        // What the peer put in the ring before it went still counts.
        self->fail_after_draining(why);
      }
      failed = true;
      break;
    }
    if (*sent == 0) {
      co_await writer_wait{self, true};
      if (self->state_ == state::lost) {
        failed = true;
        break;
      }
      continue;
    }
    // The kernel holds the descriptors now; ours can go.
    for (std::size_t i = 0; i < count; ++i) ::close(fds[i]);
    next_fd = fd_end;
    pos += *sent;
  }
  for (std::size_t i = next_fd; i < self->inflight_fds_.size(); ++i) ::close(self->inflight_fds_[i].fd);
  self->inflight_fds_.clear();
  self->inflight_.clear();
  co_return !failed;
}

coro::detail::detached link::write_loop(link* self) {
  for (;;) {
    co_await writer_wait{self};
    if (self->state_ == state::lost) break;
    if (self->ring_ != nullptr && self->ring_->out_active) {
      ring_state& rs = *self->ring_;
      const std::size_t need = self->ring_move_out();
      if (self->state_ == state::lost) break;
      // Descriptors (and the frames before the switch) go out on the
      // socket before the records that need them become visible.
      if (!self->sock_out_.empty()) {
        std::swap(self->sock_out_, self->inflight_);
        std::swap(self->sock_fds_, self->inflight_fds_);
        self->inflight_frames_ = std::exchange(self->sock_frames_, 0);
        const bool sent = co_await send_inflight(self);
        if (!sent) break;
        self->inflight_frames_ = 0;
        self->resolve_left();
        if (!self->sock_out_.empty()) continue;  // more came meanwhile: they go first
      }
      if (rs.unpublished) self->publish_ring();
      if (need != 0) {
        if (rs.writer.prepare_sleep(need)) {
          co_await writer_wait{self, false, true};
          rs.writer.woke();
        }
        continue;
      }
      if (self->out_.size() - self->out_pos_ < low_watermark) self->wake_blocked();
      if (self->state_ == state::closing && self->out_.size() == self->out_pos_ && self->sock_out_.empty() &&
          !rs.unpublished)
        break;
      continue;
    }
    if (self->out_.empty()) {
      if (self->state_ == state::closing) break;
      continue;
    }
    std::swap(self->out_, self->inflight_);
    std::swap(self->out_fds_, self->inflight_fds_);
    self->inflight_frames_ = std::exchange(self->backlog_frames_, 0);
    const bool sent = co_await send_inflight(self);
    if (!sent) break;
    self->inflight_frames_ = 0;
    self->resolve_left();
    if (self->out_.size() < low_watermark) self->wake_blocked();
  }
  self->watch_.close();
  if (self->ring_ != nullptr) self->ring_->bell.close();
  self->out_.clear();
  self->out_pos_ = 0;
  self->wake_blocked();
  // Whatever had not left by now never will.
  self->resolve_left();
  self->resolve_left(true);
  self->writer_running_ = false;
  runtime& rt = self->rt_;
  rt.release_link(self);  // may destroy *self
  rt.actor_finished();
}

void link::on_ready(int events, int status) noexcept {
  if (status < 0) {
    // POLLERR: the peer closed with our data unread (a reset). What it sent
    // before is still in the socket; read it, then the receive reports the
    // end. libuv has stopped the watch.
    if (reading_) read_available(1 << 12);
    if (reading_ && state_ == state::up) ended(system_error("poll on the link", status));
    return;
  }
  if ((events & uv::fd_watch::writable) != 0 && want_writable_ && writer_waiting_)
    rt_.loop().schedule(std::exchange(writer_waiting_, {}));
  if ((events & uv::fd_watch::readable) != 0 && reading_) read_available();
}

void link::read_available(int max_reads) noexcept {
  // A bounded number of receives per turn keeps one busy link from
  // starving the rest of the loop; the watch is level-triggered.
  for (int i = 0; i < max_reads && reading_ && state_ == state::up; ++i) {
    auto got = transport::receive_some(watch_.fd(), reader_.prepare(), received_fds_);
    if (!got) {
      if (got.code() == errc::protocol_error) fail_protocol(got.error().message);
      else ended(got.error());
      return;
    }
    if (*got == 0) return;
    reader_.commit(*got);
    process_frames();
  }
}

void link::process_frames() noexcept {
  transport::frame_view f;
  while (state_ == state::up) {
    switch (reader_.next(f)) {
      case transport::frame_reader::status::frame: {
        const std::size_t want = f.header.fds;
        if (want > received_fds_.size() - received_fds_taken_) {
          fail_protocol("a frame claims " + std::to_string(want) + " file descriptors that did not arrive with it");
          return;
        }
        take_fds(received_fds_, received_fds_taken_, want, frame_fds_);
        if (ring_ != nullptr && ring_->in_active) {
          // Past the peer's switch the socket carries only the descriptors
          // of frames in the ring; they wait in fd_pool for them.
          if (f.header.kind != wire::frame_kind::control || f.header.type != ring_fds_type || f.header.length != 0) {
            transport::close_fds(frame_fds_);
            fail_protocol("a frame arrived on the socket after the peer moved to the ring");
            return;
          }
          ring_->fd_pool.insert(ring_->fd_pool.end(), frame_fds_.begin(), frame_fds_.end());
          frame_fds_.clear();
          if (ring_->fd_pool.size() - ring_->fd_pool_taken > max_waiting_fds) {
            fail_protocol("more descriptors wait for ring frames than a link allows");
            return;
          }
          continue;
        }
        f.fds = frame_fds_;
        {
          wire::fd_decode_scope scope(frame_fds_);
          if (is_link_control(f.header)) handle_link_control(f);
          else rt_.on_frame(*this, f);
        }
        transport::close_fds(frame_fds_);
        continue;
      }
      case transport::frame_reader::status::need_more:
        // Descriptors belong to the frame they arrived with; any beyond
        // what the frame in progress may claim were sent on their own.
        if (received_fds_.size() - received_fds_taken_ > (reader_.buffered() == 0 ? 0 : wire::max_frame_fds))
          fail_protocol("file descriptors arrived without a frame to carry them");
        return;
      case transport::frame_reader::status::error:
        fail_protocol(reader_.failure().message);
        return;
    }
  }
}

void link::ended(error e) noexcept {
  // Level-triggered: an ended stream would report itself every turn.
  reading_ = false;
  (void)watch_.watch(want_writable_ ? uv::fd_watch::writable : 0);
  if (state_ != state::up) return;
  if (handler_ != nullptr) {
    ending_ = true;
    handler_->on_ended(*this, e);
    return;
  }
  exit_reason why;
  why.what = exit_reason::kind::node_lost;
  why.message = e.code == errc::closed ? "link closed" : e.describe();
  fail_after_draining(why);
}

void link::fail(const exit_reason& why) noexcept {
  if (state_ == state::lost) return;
  state_ = state::lost;
  reading_ = false;
  watch_.close();
  if (ring_ != nullptr) ring_->bell.close();
  flush();
  wake_blocked();
  rt_.link_lost(*this, why);
  if (link_handler* h = std::exchange(handler_, nullptr)) h->on_lost(*this, why);
}

void link::fail_after_draining(const exit_reason& why) noexcept {
  // Bounded: a peer that is gone sends nothing more, but a socket can hold
  // a few megabytes.
  if (state_ == state::up && reading_) read_available(1 << 12);
  // What it put in the ring before it went is still there too.
  if (state_ == state::up && ring_ != nullptr && ring_->in_active) ring_drain(std::size_t{1} << 20);
  fail(why);
}

void link::fail_protocol(std::string message) noexcept {
  std::fprintf(stderr, "troupe: closing the link to node %llx: protocol_error: %s\n",
               static_cast<unsigned long long>(peer_), message.c_str());
  fail(exit_reason{exit_reason::kind::protocol_error, 0, {}, std::move(message)});
}

void link::close_gracefully() noexcept {
  if (state_ != state::up) return;
  state_ = state::closing;
  reading_ = false;
  (void)watch_.watch(want_writable_ ? uv::fd_watch::writable : 0);
  flush();
}

bool answer_welcome(link& l, const transport::frame_view& f, node_id node, const std::string& who) noexcept {
  auto w = wire::from_bytes<welcome>(f.payload);
  if (!w || w->node != node) return false;
  if (auto r = l.offer_ring(); !r)
    std::fprintf(stderr, "troupe: the link to %s stays on its socket: %s\n", who.c_str(), r.error().describe().c_str());
  return true;
}

}  // namespace troupe::detail
