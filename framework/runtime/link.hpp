#pragma once

#include <unistd.h>

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "framework/base/result.hpp"
#include "framework/base/type_name.hpp"
#include "framework/base/unique_fd.hpp"
#include "framework/coro/detached.hpp"
#include "framework/coro/task.hpp"
#include "framework/runtime/actor_ref.hpp"
#include "framework/runtime/exit_reason.hpp"
#include "framework/runtime/mailbox.hpp"
#include "framework/transport/frame_io.hpp"
#include "framework/transport/ring.hpp"
#include "framework/transport/shm_segment.hpp"
#include "framework/uv/fd_watch.hpp"
#include "framework/wire/frame.hpp"

namespace troupe {
class runtime;
}

namespace troupe::detail {

class link;

/// What a link reports to whoever set it up (the parent's process record,
/// a child's main). Called on the loop's thread from libuv callbacks or
/// coroutines; implementations only record and schedule.
class link_handler {
 public:
  /// A control frame the runtime itself does not handle (handshake,
  /// exit notices).
  virtual void on_control(link& l, const transport::frame_view& f) noexcept = 0;
  /// The stream ended (EOF or an I/O error). The handler decides when the
  /// link counts as lost and with which reason (a child's exit status is
  /// usually known a moment later); it must call link::fail eventually.
  virtual void on_ended(link& l, const error& e) noexcept = 0;
  /// The link is gone for good: everything behind it has been reported down.
  /// The link is released after this returns; forget the pointer.
  virtual void on_lost(link& l, const exit_reason& why) noexcept = 0;

 protected:
  ~link_handler() = default;
};

/// One runtime's end of a connection to another runtime: a Unix stream
/// socket carrying frames and, beside them, file descriptors (shared-memory
/// handles inside messages). Read continuously and validated
/// (frame_reader); written in batches (everything appended during one loop
/// turn goes out in one send, split only where a frame carries
/// descriptors, so they arrive with their frame's first byte). Bounded:
/// once a megabyte waits unsent, ordinary senders suspend until it drains.
/// A malformed frame closes this link alone, with the reason named on
/// stderr and monitors told protocol_error.
///
/// Rings: once one end offers them (offer_ring) and the other accepts,
/// frames travel through two single-producer/single-consumer rings in a
/// shared memfd, one per direction, encoded straight into ring memory and
/// made visible once per loop turn; an eventfd doorbell per end is rung
/// only when that end announced it sleeps. The socket stays: it carries the
/// switch-over, the descriptors of frames that have any (just before the
/// ring record that needs them is published), and the end of the peer.
/// Each direction switches with a marker, the last frame the socket
/// carries for it, so order is kept across the switch. Frames larger than
/// a quarter ring travel in parts. A full ring keeps the frames in the
/// unsent backlog, which bounds senders as above. Everything read from
/// the ring is checked as from the socket; an impossible index or record
/// fails this link with protocol_error.
///
/// Lifetime: owned by its runtime, which releases it once it is lost or
/// closed and its writer has stopped.
/// Thread: the runtime's thread.
class link final : private uv::fd_watch_sink {
 public:
  static constexpr std::size_t high_watermark = std::size_t{1} << 20;
  static constexpr std::size_t low_watermark = std::size_t{256} << 10;
  /// Link-level control frames, handled by the link and never seen by the
  /// runtime (type ids in the framework's reserved range).
  static constexpr wire::type_id_t ring_offer_type = 26;    ///< fds: segment, two doorbells
  static constexpr wire::type_id_t ring_switch_type = 27;   ///< the sender's last socket frame
  static constexpr wire::type_id_t ring_refusal_type = 28;  ///< the offer was not taken
  static constexpr wire::type_id_t ring_fds_type = 29;      ///< descriptors for the next ring frames
  /// Most descriptors that may wait for their ring frames.
  static constexpr std::size_t max_waiting_fds = 1024;
  /// Data bytes of each ring (one per direction).
  static constexpr std::size_t default_ring_capacity = std::size_t{1} << 20;

  /// Takes ownership of `socket_fd` (a connected Unix stream socket).
  link(runtime& rt, int socket_fd, node_id peer, link_handler* handler);
  ~link();
  link(const link&) = delete;
  link& operator=(const link&) = delete;

  /// Starts reading and the writer. Frames appended before are sent. With
  /// `hold`, reading waits for resume_reading() (a direct link whose peer
  /// still has frames on their way through the parent).
  result<void> start(bool hold = false);
  void resume_reading() noexcept;
  [[nodiscard]] bool held() const noexcept { return held_; }
  /// A link lost quietly only takes its routes away (traffic falls back to
  /// the parent, which reports the peer's fate): a direct sibling link.
  void set_quiet_loss(bool q) noexcept { quiet_loss_ = q; }
  [[nodiscard]] bool quiet_loss() const noexcept { return quiet_loss_; }
  /// A link to a runtime on another host (TCP): it carries no descriptors,
  /// so messages holding shared-memory handles are refused, and it never
  /// moves to rings. Set before start().
  void set_remote_host(bool r) noexcept { remote_host_ = r; }
  [[nodiscard]] bool remote_host() const noexcept { return remote_host_; }

  [[nodiscard]] node_id peer() const noexcept { return peer_; }
  /// Nodes reachable through this link: the peer and what it announced.
  [[nodiscard]] const std::vector<node_id>& nodes() const noexcept { return nodes_; }
  void add_node(node_id n);
  [[nodiscard]] bool up() const noexcept { return state_ == state::up; }
  void set_handler(link_handler* h) noexcept { handler_ = h; }
  [[nodiscard]] link_handler* handler() const noexcept { return handler_; }
  [[nodiscard]] std::uint32_t max_payload() const noexcept { return max_payload_; }

  /// Whether ordinary (bounded) sends should wait.
  [[nodiscard]] bool congested() const noexcept { return out_.size() - out_pos_ >= high_watermark; }

  /// A coroutine waiting until frames have left this process (wait_left).
  struct left_waiter {
    std::uint64_t upto = 0;  ///< frames, counted as appended()
    std::coroutine_handle<> waiting;
    bool left = false;  ///< set before it is resumed: false if the link failed first
    left_waiter* next = nullptr;
  };
  /// Frames appended so far: a position for left_process() and wait_left().
  [[nodiscard]] std::uint64_t appended() const noexcept { return appended_; }
  /// Whether the first `upto` frames appended have left this process
  /// (written to the socket, or made visible in the peer's ring), so that
  /// they reach the peer even if this process is killed now. Ring frames
  /// that only wait to be made visible are made visible at once.
  [[nodiscard]] bool left_process(std::uint64_t upto) noexcept;
  /// Resumes `w` once its frames have left this process, or the link has
  /// failed (w->left false). `w` must stay alive until then.
  void wait_left(left_waiter* w) noexcept;

  /// Offers the peer to move this link onto shared-memory rings of
  /// `capacity` bytes each (a power of two, at least 4096). Frames keep
  /// flowing over the socket until the peer accepts; a peer that refuses
  /// keeps the link on the socket. Does nothing when rings are turned off
  /// (TROUPE_LINK_RINGS=0 in the environment) or already offered.
  /// errc::system_error if the memory or doorbells cannot be had.
  result<void> offer_ring(std::size_t capacity = default_ring_capacity);
  /// Frames to the peer travel through the ring.
  [[nodiscard]] bool ring_out() const noexcept { return ring_ != nullptr && ring_->out_active; }
  /// Frames from the peer arrive through the ring.
  [[nodiscard]] bool ring_in() const noexcept { return ring_ != nullptr && ring_->in_active; }

  /// Appends a frame carrying `msg`, encoded in place. errc::too_large if
  /// the encoding exceeds the payload limit (nothing is sent), errc::closed
  /// if the link is down.
  /// Shared-memory handles in `msg` attach their descriptors to the frame.
  /// Throws what encoding throws (nothing is appended then).
  template <class T>
  result<void> append(wire::frame_header h, const T& msg) {
    if (!up()) return error{errc::closed, "link is down"};
    if (ring_ != nullptr && ring_->out_active && out_.size() == out_pos_) {
      switch (append_to_ring(h, msg)) {
        case ring_put::done:
          ++appended_;
          ++unpublished_frames_;
          return {};
        case ring_put::too_large:
          return too_large(base::type_name<T>());
        case ring_put::failed:
          return error{errc::closed, "link is down"};
        case ring_put::no_room:
          break;  // into the backlog, as on the socket
      }
    }
    const std::size_t at = out_.size();
    scratch_fds_.clear();
    transport::append_message_frame(out_, h, msg, scratch_fds_);
    if (out_.size() - at - wire::frame_header::wire_size > max_payload_) {
      out_.resize(at);
      transport::close_fds(scratch_fds_);
      return too_large(base::type_name<T>());
    }
    if (remote_host_ && !scratch_fds_.empty()) {
      out_.resize(at);
      transport::close_fds(scratch_fds_);
      return carries_fds(base::type_name<T>());
    }
    adopt_fds(at, scratch_fds_);
    ++appended_;
    ++backlog_frames_;
    flush();
    return {};
  }
  /// Appends an already encoded frame (routing through this runtime),
  /// with duplicates of the descriptors that came with it.
  void append_raw(const wire::frame_header& h, std::span<const std::byte> payload, std::span<const int> fds = {});

  /// A bounded sender waits here until the backlog drains; it is then
  /// scheduled with `delivered` false and sends without the bound.
  void block(blocked_sender* s) noexcept;
  void unblock(blocked_sender* s) noexcept;

  /// Declares the link lost: closes it, reports everything behind it down
  /// with `why`, tells the handler. Idempotent.
  void fail(const exit_reason& why) noexcept;
  /// As fail, after handling every frame the peer sent before it went
  /// away (a dead process's socket still holds its last words).
  void fail_after_draining(const exit_reason& why) noexcept;
  /// The peer sent something malformed: names the reason on stderr and
  /// fails the link with protocol_error.
  void fail_protocol(std::string message) noexcept;
  /// Stops reading, sends what is queued, then closes (runtime shutdown,
  /// a child's exit).
  void close_gracefully() noexcept;

 private:
  enum class state { up, closing, lost };
  friend struct writer_wait;

  // A descriptor to send with the frame that starts at `offset` in out_.
  struct outgoing_fd {
    std::size_t offset;
    int fd;
  };

  // The ring side of a link (see the class comment).
  enum class ring_put { done, no_room, too_large, failed };
  struct bell_sink final : uv::fd_watch_sink {
    link* self = nullptr;
    void on_ready(int events, int status) noexcept override;
  };
  struct ring_state {
    std::shared_ptr<transport::shm_segment> segment;
    transport::ring_writer writer;  // our frames to the peer
    transport::ring_reader reader;  // the peer's frames to us
    uv::fd_watch bell;              // ours: the peer rings it
    base::unique_fd peer_bell;      // the peer's: we ring it
    bell_sink sink;
    bool out_active = false;
    bool in_active = false;
    bool unpublished = false;             // committed records not yet visible
    std::size_t part_done = 0;            // bytes of the backlog's first frame already in the ring
    std::vector<std::byte> assembling;    // a frame arriving in parts
    std::vector<int> fd_pool;             // arrived for ring frames, in order
    std::size_t fd_pool_taken = 0;
    ~ring_state() {
      for (std::size_t i = fd_pool_taken; i < fd_pool.size(); ++i) ::close(fd_pool[i]);
    }
  };

  template <class T>
  ring_put append_to_ring(wire::frame_header h, const T& msg) {
    auto room = ring_->writer.reserve_contiguous();
    if (!room) return ring_failed(room.error());
    constexpr std::size_t hs = wire::frame_header::wire_size;
    if (room->size() <= hs) return ring_put::no_room;
    std::size_t n = 0;
    if (!encode_into(room->subspan(hs), msg, n)) {
      // It did not fit where the ring's free room runs up to its end;
      // reserve its real size (past the end, from the start) and encode
      // again.
      if (n > max_payload_) return ring_put::too_large;
      if (hs + n > ring_->writer.max_payload()) return ring_put::no_room;
      room = ring_->writer.reserve(hs + n);
      if (!room) return ring_failed(room.error());
      if (room->empty() || !encode_into(room->subspan(hs), msg, n)) return ring_put::no_room;
    }
    if (n > max_payload_) {
      transport::close_fds(scratch_fds_);
      return ring_put::too_large;
    }
    h.fds = static_cast<std::uint32_t>(scratch_fds_.size());
    h.length = static_cast<std::uint32_t>(n);
    h.type = wire::type_id<T>();
    wire::encode_header(h, std::span<std::byte, hs>(room->data(), hs));
    ring_->writer.commit(hs + n);
    ring_committed(scratch_fds_);
    return ring_put::done;
  }
  // Encodes `msg` into `into`; false if it did not fit (n says how many
  // bytes it needs; descriptors it attached are closed again).
  template <class T>
  bool encode_into(std::span<std::byte> into, const T& msg, std::size_t& n) {
    scratch_fds_.clear();
    wire::writer w(into);
    try {
      wire::fd_encode_scope scope(scratch_fds_);
      wire::encode(w, msg);
    } catch (...) {
      transport::close_fds(scratch_fds_);
      throw;
    }
    n = w.size();
    if (!w.overflowed()) return true;
    transport::close_fds(scratch_fds_);
    return false;
  }
  error too_large(std::string_view type) const;
  error carries_fds(std::string_view type) const;
  ring_put ring_failed(const error& e) noexcept;
  // A record was committed: its descriptors go out on the socket before
  // it is published; the writer publishes.
  void ring_committed(std::vector<int>& fds) noexcept;
  void on_bell(int events, int status) noexcept;
  void handle_link_control(const transport::frame_view& f) noexcept;
  void accept_ring(const transport::frame_view& f) noexcept;
  void switch_out() noexcept;
  void ring_drain(std::size_t budget) noexcept;
  void ring_frame(std::span<const std::byte> bytes) noexcept;
  bool claim_fds(std::uint32_t want) noexcept;
  // Moves backlog frames into the ring; 0 when all moved, else the size of
  // the record that waits for room.
  std::size_t ring_move_out() noexcept;
  void ring_bell() noexcept;
  void self_bell() noexcept;
  void clear_bell() noexcept;
  static bool is_link_control(const wire::frame_header& h) noexcept;

  void on_ready(int events, int status) noexcept override;
  void read_available(int max_reads = 16) noexcept;
  void process_frames() noexcept;
  void ended(error e) noexcept;
  void adopt_fds(std::size_t offset, std::vector<int>& fds);
  // Moves the next `want` descriptors of `from` (the first `taken` are
  // gone) into `into`; `from` empties once all are taken.
  static void take_fds(std::vector<int>& from, std::size_t& taken, std::size_t want, std::vector<int>& into);

  void flush() noexcept;
  void wake_blocked() noexcept;
  // Frames appended that have not left the process (see left_process):
  // gone() only grows, as frames leave in the order they were appended.
  [[nodiscard]] std::uint64_t frames_held() const noexcept {
    return backlog_frames_ + sock_frames_ + inflight_frames_ + unpublished_frames_;
  }
  [[nodiscard]] std::uint64_t gone() const noexcept { return appended_ - frames_held(); }
  // Makes committed ring records visible (and rings the peer if it sleeps).
  void publish_ring() noexcept;
  // Resumes the waiters whose frames have left; with `failed`, all of the
  // rest too, as failed.
  void resolve_left(bool failed = false) noexcept;
  static coro::detail::detached write_loop(link* self);
  // Sends inflight_ (with inflight_fds_); false when the writer must stop.
  static coro::task<bool> send_inflight(link* self);

  runtime& rt_;
  uv::fd_watch watch_;
  node_id peer_;
  link_handler* handler_;
  std::vector<node_id> nodes_;
  transport::frame_reader reader_;
  std::uint32_t max_payload_ = wire::default_max_payload;
  std::vector<std::byte> out_;
  std::vector<std::byte> inflight_;
  std::vector<outgoing_fd> out_fds_;
  std::vector<outgoing_fd> inflight_fds_;
  std::vector<int> scratch_fds_;
  std::vector<int> received_fds_;  // arrived, not yet claimed by a frame
  std::size_t received_fds_taken_ = 0;
  std::vector<int> frame_fds_;     // the current frame's, closed after it
  std::size_t out_pos_ = 0;  // backlog bytes already moved into the ring
  std::vector<std::byte> sock_out_;          // socket frames while on rings
  std::vector<outgoing_fd> sock_fds_;
  std::unique_ptr<ring_state> ring_;
  // Frame counts for left_process(): appended, and where the ones not yet
  // gone wait (out_ past out_pos_, sock_out_, inflight_, committed ring
  // records not yet published).
  std::uint64_t appended_ = 0;
  std::uint64_t backlog_frames_ = 0;
  std::uint64_t sock_frames_ = 0;
  std::uint64_t inflight_frames_ = 0;
  std::uint64_t unpublished_frames_ = 0;
  left_waiter* left_waiters_ = nullptr;
  std::coroutine_handle<> writer_waiting_;
  blocked_sender* blocked_head_ = nullptr;
  state state_ = state::up;
  bool writer_running_ = false;
  bool want_writable_ = false;
  bool waiting_room_ = false;  // the writer waits for ring room
  bool reading_ = false;
  bool peer_closed_ = false;  // a send found the peer gone; reading goes on
  bool ending_ = false;       // the stream ended and the owner will end the link
  bool held_ = false;
  bool quiet_loss_ = false;
  bool remote_host_ = false;
};

/// A child (process or thread) says welcome once its runtime runs: if it
/// names `node`, the parent offers rings, so that from here on frames travel
/// through shared memory (if they cannot be had, the socket carries on, and
/// `who` is named on stderr). False if `f` is no such welcome.
bool answer_welcome(link& l, const transport::frame_view& f, node_id node, const std::string& who) noexcept;

/// Awaits until every frame the runtime `rt` sent toward node `to` so far
/// has left the process (true: it reaches that node's runtime even if this
/// process is killed now), or until the link that leads there failed
/// first (false). True at once when no link leads there (the node is this
/// runtime's). Bind it to a variable before awaiting it.
struct left_process_wait {
  runtime& rt;
  node_id to;
  link::left_waiter w{};
  link* via = nullptr;
  bool await_ready() noexcept;
  void await_suspend(std::coroutine_handle<> h) noexcept;
  [[nodiscard]] bool await_resume() const noexcept { return w.left; }
};

}  // namespace troupe::detail
