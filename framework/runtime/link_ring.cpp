// The ring side of a link: the offer and switch-over, encoding into and
// draining the shared rings, doorbells, and descriptors beside ring frames.

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <utility>

#include "framework/runtime/control.hpp"
#include "framework/runtime/link.hpp"
#include "framework/runtime/runtime.hpp"
#include "framework/transport/socket_io.hpp"

namespace troupe::detail {

/// Offerer → acceptor, on the socket: the rings (the first carries the
/// offerer's frames, the second the acceptor's) and the two doorbells.
struct ring_offer {
  static constexpr std::uint64_t troupe_type_id = 26;
  transport::segment_ref<transport::segment_kind::ring, 2 * transport::ring_region_size(4096)> segment;
  passed_fd offerer_bell;   ///< the offerer waits on it
  passed_fd acceptor_bell;  ///< the acceptor waits on it
};

/// The last frame its sender puts on the socket: what follows is in the ring.
struct ring_switch {
  static constexpr std::uint64_t troupe_type_id = 27;
  std::uint32_t reserved = 0;
};

/// Acceptor → offerer: the offer could not be taken; the link stays on the
/// socket.
struct ring_refusal {
  static constexpr std::uint64_t troupe_type_id = 28;
  error why;
};

static_assert(ring_offer::troupe_type_id == 26 && ring_switch::troupe_type_id == 27 &&
              ring_refusal::troupe_type_id == 28);

}  // namespace troupe::detail


namespace troupe::detail {

namespace {

// Frames handled per doorbell before the loop gets a turn.
constexpr std::size_t drain_budget = 4096;

bool rings_enabled() noexcept {
  const char* e = std::getenv("TROUPE_LINK_RINGS");
  return e == nullptr || std::string_view(e) != "0";
}

base::unique_fd make_bell() noexcept { return base::unique_fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)); }

void write_bell(int fd) noexcept {
  const std::uint64_t one = 1;
  // EAGAIN only if the counter is about to overflow: it is then readable
  // anyway.
  if (fd >= 0) (void)!::write(fd, &one, sizeof one);
}

}  // namespace

error link::too_large(std::string_view type) const {
  return error{errc::too_large, "message of type " + std::string(type) + " encodes to more than " +
                                    std::to_string(max_payload_) + " bytes"};
}

error link::carries_fds(std::string_view type) const {
  return error{errc::invalid_argument, "message of type " + std::string(type) +
                                           " holds shared-memory handles, which cannot travel to another host"};
}

bool link::is_link_control(const wire::frame_header& h) noexcept {
  return h.kind == wire::frame_kind::control && h.type >= ring_offer_type && h.type <= ring_fds_type;
}

result<void> link::offer_ring(std::size_t capacity) {
  if (ring_ != nullptr || !up() || !rings_enabled() || remote_host_) return {};
  if (capacity < 4096 || capacity > (std::size_t{1} << 30) || (capacity & (capacity - 1)) != 0)
    return error{errc::invalid_argument, "a ring's capacity must be a power of two from 4096 to 1 GiB"};
  const std::size_t region = transport::ring_region_size(capacity);
  auto seg = transport::shm_segment::create(transport::segment_kind::ring, 2 * region);
  if (!seg) return seg.error();
  (*seg)->keep_from_forks();
  std::byte* base = (*seg)->payload();
  transport::ring_init(base, capacity);
  transport::ring_init(base + region, capacity);
  auto out = transport::ring_open(base, region);
  auto in = transport::ring_open(base + region, region);
  if (!out || !in) return error{errc::system_error, "a fresh ring does not check"};
  ring_offer offer{{*seg}, {make_bell()}, {make_bell()}};
  if (!offer.offerer_bell.fd || !offer.acceptor_bell.fd)
    return error{errc::system_error, std::string("eventfd: ") + std::strerror(errno)};
  const int watched = ::fcntl(offer.offerer_bell.fd.get(), F_DUPFD_CLOEXEC, 0);
  if (watched < 0) return error{errc::system_error, std::string("dup: ") + std::strerror(errno)};
  auto rs = std::make_unique<ring_state>();
  rs->sink.self = this;
  auto w = uv::fd_watch::open(rt_.loop(), watched, &rs->sink);
  if (!w) return w.error();
  rs->bell = std::move(*w);
  if (auto r = rs->bell.watch(uv::fd_watch::readable); !r) return r;
  rs->segment = *seg;
  rs->writer = transport::ring_writer(*out);
  rs->reader = transport::ring_reader(*in);
  // The doorbell the peer waits on: we ring our own copy of it.
  rs->peer_bell.reset(::fcntl(offer.acceptor_bell.fd.get(), F_DUPFD_CLOEXEC, 0));
  if (!rs->peer_bell) return error{errc::system_error, std::string("dup: ") + std::strerror(errno)};
  wire::frame_header h;
  h.kind = wire::frame_kind::control;
  h.src_node = rt_.node();
  // Sent while ring_ is unset: it goes on the socket (encoding duplicates
  // the descriptors it carries).
  if (auto r = append(h, offer); !r) return r;
  ring_ = std::move(rs);
  return {};
}

void link::accept_ring(const transport::frame_view& f) noexcept {
  if (remote_host_) {
    fail_protocol("a ring offer over a link to another host");
    return;
  }
  if (ring_ != nullptr) {
    fail_protocol("a second ring offer on one link");
    return;
  }
  auto offer = wire::from_bytes<ring_offer>(f.payload);
  if (!offer) {
    fail_protocol("a ring offer did not decode: " + offer.error().message);
    return;
  }
  const auto& seg = offer->segment.segment;
  seg->keep_from_forks();
  auto first = transport::ring_open(seg->payload(), seg->payload_size());
  if (!first) {
    fail_protocol("ring offer: " + first.error().message);
    return;
  }
  const std::size_t region = transport::ring_region_size(first->capacity);
  auto second = region < seg->payload_size()
                    ? transport::ring_open(seg->payload() + region, seg->payload_size() - region)
                    : result<transport::ring_view>(error{errc::protocol_error, "no room for the second ring"});
  if (!second) {
    fail_protocol("ring offer: " + second.error().message);
    return;
  }
  auto rs = std::make_unique<ring_state>();
  rs->sink.self = this;
  auto w = uv::fd_watch::open(rt_.loop(), offer->acceptor_bell.fd.release(), &rs->sink);
  result<void> watching = w ? w->watch(uv::fd_watch::readable) : result<void>(w.error());
  wire::frame_header h;
  h.kind = wire::frame_kind::control;
  h.src_node = rt_.node();
  if (!watching) {
    // Ours to refuse: the link carries on over the socket.
    (void)append(h, ring_refusal{watching.error()});
    return;
  }
  rs->bell = std::move(*w);
  rs->segment = seg;
  rs->writer = transport::ring_writer(*second);
  rs->reader = transport::ring_reader(*first);
  rs->peer_bell = std::move(offer->offerer_bell.fd);
  (void)append(h, ring_switch{});
  ring_ = std::move(rs);
  switch_out();
}

void link::handle_link_control(const transport::frame_view& f) noexcept {
  switch (f.header.type) {
    case ring_offer_type:
      accept_ring(f);
      return;
    case ring_switch_type:
      if (ring_ == nullptr || ring_->in_active) break;
      ring_->in_active = true;
      self_bell();  // the drain starts on the next turn
      if (!ring_->out_active) {
        wire::frame_header h;
        h.kind = wire::frame_kind::control;
        h.src_node = rt_.node();
        (void)append(h, ring_switch{});
        switch_out();
      }
      return;
    case ring_refusal_type: {
      if (ring_ == nullptr || ring_->in_active || ring_->out_active) break;
      auto r = wire::from_bytes<ring_refusal>(f.payload);
      std::fprintf(stderr, "troupe: node %llx keeps the link on its socket: %s\n",
                   static_cast<unsigned long long>(peer_),
                   r ? r->why.describe().c_str() : "(refusal did not decode)");
      ring_->bell.close();
      ring_.reset();
      return;
    }
    default:
      break;
  }
  fail_protocol("unexpected link control frame (type " + std::to_string(f.header.type) + ")");
}

void link::switch_out() noexcept {
  // What is queued was appended before the marker: it goes on the socket,
  // ahead of everything the ring will carry.
  const std::size_t base = sock_out_.size();
  sock_out_.insert(sock_out_.end(), out_.begin() + static_cast<std::ptrdiff_t>(out_pos_), out_.end());
  for (const outgoing_fd& o : out_fds_) sock_fds_.push_back(outgoing_fd{base + o.offset - out_pos_, o.fd});
  out_.clear();
  out_fds_.clear();
  out_pos_ = 0;
  sock_frames_ += std::exchange(backlog_frames_, 0);
  ring_->out_active = true;
  flush();
}

link::ring_put link::ring_failed(const error& e) noexcept {
  fail_protocol(e.message);
  return ring_put::failed;
}

void link::ring_committed(std::vector<int>& fds) noexcept {
  if (!fds.empty()) {
    wire::frame_header c;
    c.kind = wire::frame_kind::control;
    c.type = ring_fds_type;
    c.src_node = rt_.node();
    c.fds = static_cast<std::uint32_t>(fds.size());
    const std::size_t at = sock_out_.size();
    transport::append_frame(sock_out_, c, {});
    for (int fd : fds) sock_fds_.push_back(outgoing_fd{at, fd});
    fds.clear();
  }
  ring_->unpublished = true;
  flush();
}

std::size_t link::ring_move_out() noexcept {
  ring_state& rs = *ring_;
  constexpr std::size_t hs = wire::frame_header::wire_size;
  std::size_t next_fd = 0;
  while (out_pos_ < out_.size()) {
    // Our own frame: its header is trusted.
    std::uint32_t length = 0;
    std::memcpy(&length, out_.data() + out_pos_ + 4, sizeof length);
    const std::size_t total = hs + length;
    const std::size_t left = total - rs.part_done;
    const std::size_t piece = std::min(left, rs.writer.max_payload());
    auto room = rs.writer.reserve(piece);
    if (!room) {
      (void)ring_failed(room.error());
      return 0;
    }
    if (room->empty()) {
      // The descriptors moved so far are the socket's now.
      out_fds_.erase(out_fds_.begin(), out_fds_.begin() + static_cast<std::ptrdiff_t>(next_fd));
      // Compact what went out, so the backlog does not grow for ever.
      if (out_pos_ >= (std::size_t{64} << 10)) {
        out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(out_pos_));
        for (outgoing_fd& o : out_fds_) o.offset -= out_pos_;
        out_pos_ = 0;
      }
      return piece;
    }
    std::memcpy(room->data(), out_.data() + out_pos_ + rs.part_done, piece);
    rs.writer.commit(piece, piece < left);
    if (rs.part_done == 0) {
      scratch_fds_.clear();
      while (next_fd < out_fds_.size() && out_fds_[next_fd].offset == out_pos_)
        scratch_fds_.push_back(out_fds_[next_fd++].fd);
      ring_committed(scratch_fds_);
    }
    rs.unpublished = true;
    if (piece < left) {
      rs.part_done += piece;
      continue;
    }
    rs.part_done = 0;
    out_pos_ += total;
    --backlog_frames_;
    ++unpublished_frames_;
  }
  out_.clear();
  out_fds_.clear();
  out_pos_ = 0;
  return 0;
}

void link::bell_sink::on_ready(int events, int status) noexcept { self->on_bell(events, status); }

void link::on_bell(int, int status) noexcept {
  if (ring_ == nullptr) return;
  if (status < 0) {
    // An eventfd does not fail; if it does, the link cannot be woken.
    fail_protocol("the ring's doorbell failed");
    return;
  }
  if (waiting_room_ && writer_waiting_) rt_.loop().schedule(std::exchange(writer_waiting_, {}));
  if (ring_->in_active && state_ == state::up) ring_drain(drain_budget);
  else clear_bell();
}

void link::ring_drain(std::size_t budget) noexcept {
  ring_state& rs = *ring_;
  rs.reader.woke();
  for (;;) {
    std::size_t done = 0;
    while (state_ == state::up && done < budget) {
      auto rec = rs.reader.peek();
      if (!rec) {
        fail_protocol(rec.error().message);
        return;
      }
      if (!*rec) break;
      const std::span<const std::byte> bytes = **rec;
      ++done;
      if (rs.reader.more() || !rs.assembling.empty()) {
        // A frame in parts: gathered (bounded by the payload limit), then
        // handled from the copy.
        if (rs.assembling.size() + bytes.size() > wire::frame_header::wire_size + max_payload_) {
          fail_protocol("a frame in parts is larger than the payload limit");
          return;
        }
        rs.assembling.insert(rs.assembling.end(), bytes.begin(), bytes.end());
        const bool last = !rs.reader.more();
        rs.reader.consume();
        if (last) {
          ring_frame(rs.assembling);
          rs.assembling.clear();
        }
      } else {
        ring_frame(bytes);  // straight from the ring: its room is returned after
        rs.reader.consume();
      }
      if ((done & 63) == 0 && rs.reader.release()) ring_bell();
    }
    if (state_ != state::up) return;
    if (rs.reader.release()) ring_bell();
    if (done >= budget) {
      self_bell();  // more next turn; the loop runs the rest first
      return;
    }
    // Empty: clear the doorbell, announce the sleep, and look once more
    // (a frame published before the announcement rings no bell).
    clear_bell();
    if (rs.reader.prepare_sleep()) return;
    rs.reader.woke();
  }
}

void link::ring_frame(std::span<const std::byte> bytes) noexcept {
  constexpr std::size_t hs = wire::frame_header::wire_size;
  if (bytes.size() < hs) {
    fail_protocol("a ring record shorter than a frame header");
    return;
  }
  auto h = wire::decode_header(bytes.first(hs), max_payload_);
  if (!h) {
    fail_protocol(h.error().message);
    return;
  }
  if (hs + h->length != bytes.size()) {
    fail_protocol("a ring record's size disagrees with its frame header");
    return;
  }
  if (is_link_control(*h)) {
    fail_protocol("a link control frame arrived through the ring");
    return;
  }
  if (!claim_fds(h->fds)) {
    if (state_ == state::up)
      fail_protocol("a ring frame claims " + std::to_string(h->fds) + " file descriptors that did not arrive");
    return;
  }
  transport::frame_view f{*h, bytes.subspan(hs), frame_fds_};
  {
    wire::fd_decode_scope scope(frame_fds_);
    rt_.on_frame(*this, f);
  }
  transport::close_fds(frame_fds_);
}

bool link::claim_fds(std::uint32_t want) noexcept {
  frame_fds_.clear();
  if (want == 0) return true;
  ring_state& rs = *ring_;
  // They were sent before the record was published, so they are in the
  // socket already if they are not here yet.
  while (rs.fd_pool.size() - rs.fd_pool_taken < want) {
    if (!reading_ || state_ != state::up) return false;
    auto got = transport::receive_some(watch_.fd(), reader_.prepare(), received_fds_);
    if (!got) {
      if (got.code() == errc::protocol_error) fail_protocol(got.error().message);
      return false;
    }
    if (*got == 0) return false;
    reader_.commit(*got);
    process_frames();
  }
  take_fds(rs.fd_pool, rs.fd_pool_taken, want, frame_fds_);
  return true;
}

void link::ring_bell() noexcept { write_bell(ring_->peer_bell.get()); }

void link::self_bell() noexcept { write_bell(ring_->bell.fd()); }

void link::clear_bell() noexcept {
  std::uint64_t count = 0;
  if (ring_->bell) (void)!::read(ring_->bell.fd(), &count, sizeof count);
}

}  // namespace troupe::detail
