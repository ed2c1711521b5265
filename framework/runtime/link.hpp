#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "framework/base/result.hpp"
#include "framework/base/type_name.hpp"
#include "framework/coro/detached.hpp"
#include "framework/runtime/actor_ref.hpp"
#include "framework/runtime/exit_reason.hpp"
#include "framework/runtime/mailbox.hpp"
#include "framework/transport/frame_io.hpp"
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
/// descriptors, so they arrive with their frame's first byte). Bounded: once a megabyte waits unsent, ordinary senders suspend
/// until it drains. A malformed frame closes this link alone, with the
/// reason named on stderr and monitors told protocol_error.
///
/// Lifetime: owned by its runtime, which releases it once it is lost or
/// closed and its writer has stopped.
/// Thread: the runtime's thread.
class link final : private uv::fd_watch_sink {
 public:
  static constexpr std::size_t high_watermark = std::size_t{1} << 20;
  static constexpr std::size_t low_watermark = std::size_t{256} << 10;

  /// Takes ownership of `socket_fd` (a connected Unix stream socket).
  link(runtime& rt, int socket_fd, node_id peer, link_handler* handler);
  ~link();
  link(const link&) = delete;
  link& operator=(const link&) = delete;

  /// Starts reading and the writer. Frames appended before are sent.
  result<void> start();

  [[nodiscard]] node_id peer() const noexcept { return peer_; }
  /// Nodes reachable through this link: the peer and what it announced.
  [[nodiscard]] const std::vector<node_id>& nodes() const noexcept { return nodes_; }
  void add_node(node_id n);
  [[nodiscard]] bool up() const noexcept { return state_ == state::up; }
  void set_handler(link_handler* h) noexcept { handler_ = h; }
  [[nodiscard]] link_handler* handler() const noexcept { return handler_; }
  [[nodiscard]] std::uint32_t max_payload() const noexcept { return max_payload_; }

  /// Whether ordinary (bounded) sends should wait.
  [[nodiscard]] bool congested() const noexcept { return out_.size() >= high_watermark; }

  /// Appends a frame carrying `msg`, encoded in place. errc::too_large if
  /// the encoding exceeds the payload limit (nothing is sent), errc::closed
  /// if the link is down.
  /// Shared-memory handles in `msg` attach their descriptors to the frame.
  /// Throws what encoding throws (nothing is appended then).
  template <class T>
  result<void> append(wire::frame_header h, const T& msg) {
    if (!up()) return error{errc::closed, "link is down"};
    const std::size_t at = out_.size();
    scratch_fds_.clear();
    transport::append_message_frame(out_, h, msg, scratch_fds_);
    if (out_.size() - at - wire::frame_header::wire_size > max_payload_) {
      out_.resize(at);
      transport::close_fds(scratch_fds_);
      return error{errc::too_large, "message of type " + std::string(base::type_name<T>()) + " encodes to more than " +
                                        std::to_string(max_payload_) + " bytes"};
    }
    adopt_fds(at, scratch_fds_);
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

  void on_ready(int events, int status) noexcept override;
  void read_available(int max_reads = 16) noexcept;
  void process_frames() noexcept;
  void ended(error e) noexcept;
  void adopt_fds(std::size_t offset, std::vector<int>& fds);

  void flush() noexcept;
  void wake_blocked() noexcept;
  static coro::detail::detached write_loop(link* self);

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
  std::coroutine_handle<> writer_waiting_;
  blocked_sender* blocked_head_ = nullptr;
  state state_ = state::up;
  bool writer_running_ = false;
  bool want_writable_ = false;
  bool reading_ = false;
  bool peer_closed_ = false;  // a send found the peer gone; reading goes on
};

}  // namespace troupe::detail
