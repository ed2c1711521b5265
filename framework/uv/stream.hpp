#pragma once

#include <uv.h>

#include <coroutine>
#include <cstddef>
#include <span>
#include <stop_token>

#include "framework/base/result.hpp"
#include "framework/uv/cancel.hpp"
#include "framework/uv/handle.hpp"
#include "framework/uv/loop.hpp"

namespace troupe::uv {

class stream;

/// Receiver of a stream's bytes in continuous mode (stream::start_reading):
/// libuv reads straight into the space prepare() hands out, then calls
/// received(). Called from libuv callbacks on the loop's thread: a sink may
/// schedule coroutines but never resumes one inline.
class read_sink {
 public:
  /// Space for the next read.
  virtual std::span<std::byte> prepare() noexcept = 0;
  /// `n` bytes of the prepared space were filled.
  virtual void received(std::size_t n) noexcept = 0;
  /// The stream ended: errc::closed at end of stream, or a system error.
  /// No further calls follow.
  virtual void ended(error e) noexcept = 0;

 protected:
  ~read_sink() = default;
};

/// Awaiter of stream::read: resumes with the number of bytes read (≥ 1),
/// errc::closed at end of stream, errc::cancelled if the stop token fired,
/// or a system error.
class [[nodiscard]] read_awaiter {
 public:
  read_awaiter(stream& s, std::span<std::byte> buf, std::stop_token stop) noexcept
      : stream_(s), buf_(buf), stop_(std::move(stop)) {}
  read_awaiter(const read_awaiter&) = delete;
  read_awaiter& operator=(const read_awaiter&) = delete;

  bool await_ready() noexcept;
  bool await_suspend(std::coroutine_handle<> h);
  result<std::size_t> await_resume() noexcept;

  loop& owning_loop() noexcept;
  void cancel() noexcept;

 private:
  friend class stream;

/// Receiver of a stream's bytes in continuous mode (stream::start_reading):
/// libuv reads straight into the space prepare() hands out, then calls
/// received(). Called from libuv callbacks on the loop's thread: a sink may
/// schedule coroutines but never resumes one inline.
class read_sink {
 public:
  /// Space for the next read.
  virtual std::span<std::byte> prepare() noexcept = 0;
  /// `n` bytes of the prepared space were filled.
  virtual void received(std::size_t n) noexcept = 0;
  /// The stream ended: errc::closed at end of stream, or a system error.
  /// No further calls follow.
  virtual void ended(error e) noexcept = 0;

 protected:
  ~read_sink() = default;
};
  void complete(ssize_t nread) noexcept;

  stream& stream_;
  std::span<std::byte> buf_;
  std::stop_token stop_;
  cancel_hook<read_awaiter> hook_;
  std::coroutine_handle<> waiting_;
  ssize_t outcome_ = 0;
  bool cancelled_ = false;
};

/// Awaiter of stream::write: resumes once every byte is handed to the
/// kernel, or with the error that stopped it. Writes are not cancellable
/// once started: a stream write cannot be taken back half-way.
class [[nodiscard]] write_awaiter {
 public:
  write_awaiter(stream& s, std::span<const std::byte> data) noexcept : stream_(s), data_(data) {}
  write_awaiter(const write_awaiter&) = delete;
  write_awaiter& operator=(const write_awaiter&) = delete;

  bool await_ready() noexcept;
  bool await_suspend(std::coroutine_handle<> h) noexcept;
  result<void> await_resume() noexcept;

 private:
  static void on_write(uv_write_t* req, int status) noexcept;
  stream& stream_;
  std::span<const std::byte> data_;
  uv_write_t req_{};
  std::coroutine_handle<> waiting_;
  int status_ = 0;
};

/// A byte stream over a connected socket or pipe (a socketpair end, a TCP
/// connection). Move-only; destroying it closes the handle (memory is freed
/// in libuv's close callback). At most one read and one write at a time.
/// Thread: the owning loop's thread.
class stream {
 public:
  /// Takes ownership of a connected socket or pipe fd (e.g. one end of a
  /// socketpair). The fd is closed with the stream.
  static result<stream> adopt_fd(loop& l, int fd);

  stream() = default;
  stream(stream&&) noexcept = default;
  stream& operator=(stream&&) noexcept = default;
  ~stream();

  /// Reads what is available, at most buf.size() bytes; suspends until at
  /// least one byte arrives. errc::closed at end of stream or when the peer
  /// reset the connection.
  read_awaiter read(std::span<std::byte> buf, std::stop_token stop = {}) noexcept {
    return read_awaiter(*this, buf, std::move(stop));
  }
  /// Writes all of `data`; suspends only if the kernel buffer is full.
  write_awaiter write(std::span<const std::byte> data) noexcept { return write_awaiter(*this, data); }

  /// Reads continuously into `sink` until the stream ends or is closed,
  /// without a coroutine or a start/stop per read (the mode of links). Not
  /// combined with read(). The sink must outlive the reading.
  result<void> start_reading(read_sink* sink) noexcept;

  /// Closes the stream now; a pending read resumes with errc::closed.
  void close() noexcept;

  [[nodiscard]] bool is_open() const noexcept { return static_cast<bool>(state_); }
  [[nodiscard]] loop& owning_loop() const noexcept { return *state_->owner; }

 private:
  friend class read_awaiter;
  friend class write_awaiter;
  struct state {
    uv_pipe_t handle{};
    loop* owner = nullptr;
    read_awaiter* reader = nullptr;
    read_sink* sink = nullptr;
  };
  static void on_sink_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) noexcept;
  static void on_sink_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) noexcept;
  static void on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) noexcept;
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) noexcept;
  uv_stream_t* native() const noexcept { return reinterpret_cast<uv_stream_t*>(&state_->handle); }

  handle_owner<state> state_;
};

}  // namespace troupe::uv
