#include "framework/runtime/link.hpp"

#include <cstdio>
#include <utility>

#include "framework/runtime/runtime.hpp"

namespace troupe::detail {

link::link(runtime& rt, uv::stream s, node_id peer, link_handler* handler)
    : rt_(rt), stream_(std::move(s)), peer_(peer), handler_(handler), reader_(wire::default_max_payload) {
  nodes_.push_back(peer);
}

link::~link() {
  // The runtime releases a link only after its writer stopped; any blocked
  // sender was woken by fail() or close_gracefully().
  TROUPE_ASSERT(!writer_running_, "link destroyed while its writer runs");
}

void link::add_node(node_id n) {
  for (node_id x : nodes_)
    if (x == n) return;
  nodes_.push_back(n);
}

result<void> link::start() {
  auto r = stream_.start_reading(this);
  if (!r) return r;
  writer_running_ = true;
  rt_.actor_started();  // the writer counts as a root: shutdown waits for it
  write_loop(this);
  return {};
}

void link::append_raw(const wire::frame_header& h, std::span<const std::byte> payload) {
  if (!up()) return;
  transport::append_frame(out_, h, payload);
  flush();
}

void link::flush() noexcept {
  if (writer_waiting_) rt_.loop().schedule(std::exchange(writer_waiting_, {}));
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

// The writer parks here while there is nothing to send.
struct writer_wait {
  link* self;
  bool await_ready() const noexcept { return !self->out_.empty() || self->state_ != link::state::up; }
  void await_suspend(std::coroutine_handle<> h) noexcept { self->writer_waiting_ = h; }
  void await_resume() const noexcept {}
};

coro::detail::detached link::write_loop(link* self) {
  for (;;) {
    co_await writer_wait{self};
    if (self->state_ == state::lost) break;
    if (self->out_.empty()) {
      if (self->state_ == state::closing) break;
      continue;
    }
    // Everything appended since the last write goes out in one write.
    std::swap(self->out_, self->inflight_);
    auto written = co_await self->stream_.write(self->inflight_);
    self->inflight_.clear();
    if (!written) {
      if (self->state_ == state::up) {
        exit_reason why;
        why.what = exit_reason::kind::node_lost;
        why.message = "write failed: " + written.error().describe();
        self->fail(why);
      }
      break;
    }
    if (self->out_.size() < low_watermark) self->wake_blocked();
  }
  self->stream_.close();
  self->out_.clear();
  self->wake_blocked();
  self->writer_running_ = false;
  runtime& rt = self->rt_;
  rt.release_link(self);  // may destroy *self
  rt.actor_finished();
}

std::span<std::byte> link::prepare() noexcept { return reader_.prepare(); }

void link::received(std::size_t n) noexcept {
  reader_.commit(n);
  transport::frame_view f;
  while (state_ == state::up) {
    switch (reader_.next(f)) {
      case transport::frame_reader::status::frame:
        rt_.on_frame(*this, f);
        continue;
      case transport::frame_reader::status::need_more:
        return;
      case transport::frame_reader::status::error:
        fail_protocol(reader_.failure().message);
        return;
    }
  }
}

void link::ended(error e) noexcept {
  if (state_ != state::up) return;
  if (handler_ != nullptr) {
    handler_->on_ended(*this, e);
    return;
  }
  exit_reason why;
  why.what = exit_reason::kind::node_lost;
  why.message = e.code == errc::closed ? "link closed" : e.describe();
  fail(why);
}

void link::fail(const exit_reason& why) noexcept {
  if (state_ == state::lost) return;
  state_ = state::lost;
  stream_.close();
  flush();
  wake_blocked();
  rt_.link_lost(*this, why);
  if (link_handler* h = std::exchange(handler_, nullptr)) h->on_lost(*this, why);
}

void link::fail_protocol(std::string message) noexcept {
  std::fprintf(stderr, "troupe: closing the link to node %llx: protocol_error: %s\n",
               static_cast<unsigned long long>(peer_), message.c_str());
  fail(exit_reason{exit_reason::kind::protocol_error, 0, {}, std::move(message)});
}

void link::close_gracefully() noexcept {
  if (state_ != state::up) return;
  state_ = state::closing;
  flush();
}

}  // namespace troupe::detail
