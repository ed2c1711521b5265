// The runtime's side of links: routing frames between runtimes, delivering
// the ones addressed here, and reporting nodes that are lost.

#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "framework/base/assert.hpp"
#include "framework/runtime/control.hpp"
#include "framework/runtime/link.hpp"
#include "framework/runtime/runtime.hpp"

namespace troupe {

namespace detail {
void start_system_actor(runtime& rt);
}

namespace {
// Starts a link just added; one that cannot start is failed at once (its
// node reported lost) and the error returned.
result<detail::link*> start_link(detail::link* l, bool hold) {
  if (auto r = l->start(hold); !r) {
    exit_reason why;
    why.what = exit_reason::kind::node_lost;
    why.message = r.error().describe();
    l->fail(why);
    return r.error();
  }
  return l;
}
}  // namespace

result<detail::link*> runtime::add_link(int socket_fd, node_id peer, detail::link_handler* handler,
                                        bool to_parent, bool hold) {
  if (find(system_actor(node_)) == nullptr) detail::start_system_actor(*this);
  auto owned = std::make_unique<detail::link>(*this, socket_fd, peer, handler);
  detail::link* l = owned.get();
  links_.push_back(std::move(owned));
  routes_[peer] = l;
  lost_.erase(peer);  // a recycled pid brings a node id back
  if (to_parent) parent_link_ = l;
  return start_link(l, hold);
}

result<detail::link*> runtime::add_host_link(int socket_fd, node_id peer, detail::link_handler* handler) {
  if (find(system_actor(node_)) == nullptr) detail::start_system_actor(*this);
  auto owned = std::make_unique<detail::link>(*this, socket_fd, peer, handler);
  detail::link* l = owned.get();
  l->set_remote_host(true);
  links_.push_back(std::move(owned));
  routes_[peer] = l;
  host_routes_[detail::host_of(peer)] = l;
  lost_.erase(peer);
  lost_.erase(detail::host_of(peer));
  return start_link(l, false);
}

bool runtime::known_lost(node_id n) const noexcept {
  if (lost_.count(n) != 0) return true;
  const node_id host = detail::host_of(n);
  return host != 0 && lost_.count(host) != 0;
}

detail::link* runtime::route(node_id n) const noexcept {
  auto it = routes_.find(n);
  if (it != routes_.end()) return it->second->up() ? it->second : nullptr;
  // A node of another host: through the link to that host, whose root
  // knows its whole tree.
  if (detail::host_of(n) != detail::host_of(node_)) {
    auto h = host_routes_.find(detail::host_of(n));
    if (h != host_routes_.end()) return h->second->up() ? h->second : nullptr;
  }
  // Nodes this runtime does not know are reached through its parent, which
  // knows its whole subtree.
  return parent_link_ != nullptr && parent_link_->up() ? parent_link_ : nullptr;
}

void runtime::announce_node(detail::link& l, node_id n) {
  l.add_node(n);
  routes_[n] = &l;
  lost_.erase(n);
  if (parent_link_ != nullptr && parent_link_ != &l) {
    wire::frame_header h;
    h.kind = wire::frame_kind::control;
    h.src_node = node_;
    (void)parent_link_->append(h, detail::node_announce{{n}});
  }
}

void runtime::report_send_failure(const actor_ref& to, std::string_view type, const error& e) noexcept {
  ++stats_.dropped;
  if (e.code == errc::closed) return;  // the link is closing: the runtime is shutting down
  std::fprintf(stderr, "troupe: a %.*s to %s was dropped: %s\n", static_cast<int>(type.size()), type.data(),
               to.to_string().c_str(), e.describe().c_str());
}

void runtime::on_frame(detail::link& l, const transport::frame_view& f) noexcept {
  const wire::frame_header& h = f.header;
  switch (h.kind) {
    case wire::frame_kind::message:
    case wire::frame_kind::request:
      if (h.dest_node != node_) forward_frame(l, f);
      else deliver_frame(l, f);
      return;
    case wire::frame_kind::reply:
    case wire::frame_kind::error_reply:
      if (h.dest_node != node_) forward_frame(l, f);
      else accept_reply(l, f);
      return;
    case wire::frame_kind::control:
      handle_control(l, f);
      return;
  }
}

void runtime::send_reply_frame(detail::link& l, const transport::frame_view& request, error e) noexcept {
  if (request.header.kind != wire::frame_kind::request) return;
  wire::frame_header h;
  h.kind = wire::frame_kind::error_reply;
  h.dest_node = request.header.src_node;
  h.src_node = node_;
  h.correlation = request.header.correlation;
  detail::link* back = route(request.header.src_node);
  (void)(back != nullptr ? back : &l)->append(h, e);
}

void runtime::deliver_frame(detail::link& l, const transport::frame_view& f) noexcept {
  const wire::frame_header& h = f.header;
  actor_ref to(node_, h.dest_actor);
  detail::actor_cell* cell = find(to);
  if (cell == nullptr || cell->box.closed()) {
    ++stats_.dropped;
    send_reply_frame(l, f, error{errc::no_actor, to.to_string() + " does not exist"});
    return;
  }
  const detail::message_decoder* dec = cell->decoder(h.type);
  if (dec == nullptr || dec->decode == nullptr) {
    // Not a link fault: the same message sent locally would be rejected the
    // same way.
    ++stats_.unexpected;
    send_reply_frame(l, f,
                     error{errc::unexpected_message, to.to_string() + " does not accept messages of type id " +
                                                         std::to_string(h.type) +
                                                         (dec == nullptr ? "" : " from another process")});
    return;
  }
  detail::reply_address reply{};
  if (h.kind == wire::frame_kind::request) {
    if (h.correlation == 0) {
      l.fail_protocol("request frame without a correlation id");
      return;
    }
    reply = detail::reply_address{h.src_node, h.correlation};
  }
  detail::envelope& into = cell->box.tail();
  auto decoded = dec->decode(f.payload, into, actor_ref(h.src_node, h.src_actor), reply);
  if (!decoded) {
    l.fail_protocol("a frame's payload did not decode: " + decoded.error().message);
    return;
  }
  if (h.type == wire::type_id<down>()) {
    // The real down arrived: the stand-in for a lost node is not needed.
    const actor_ref& who = into.get<down>().who;
    std::erase_if(remote_watches_, [&](const detail::remote_watch& w) { return w.watcher == to && w.target == who; });
  }
  cell->box.commit();
}

void runtime::accept_reply(detail::link& l, const transport::frame_view& f) noexcept {
  auto it = pending_.find(f.header.correlation);
  if (it == pending_.end()) return;  // the requester gave up (timeout, cancel)
  detail::pending_request* p = it->second;
  pending_.erase(it);
  if (f.header.kind == wire::frame_kind::error_reply) {
    // (result<error> cannot exist, so this one is decoded by hand.)
    wire::reader r(f.payload);
    error e;
    if (wire::decode(r, e) && r.remaining() == 0) {
      p->fail(p, std::move(e));
      return;
    }
    p->fail(p, error{errc::protocol_error, "error reply did not decode"});
  } else if (p->accept_bytes(p, f.header.type, f.payload)) {
    return;
  }
  l.fail_protocol("a reply's payload did not decode");
}

void runtime::forward_frame(detail::link& from, const transport::frame_view& f) noexcept {
  detail::link* to = route(f.header.dest_node);
  if (to == nullptr || to == &from) {
    ++stats_.dropped;
    if (f.header.kind == wire::frame_kind::request)
      send_reply_frame(from, f, error{errc::peer_down, "node " + std::to_string(f.header.dest_node) + " is unreachable"});
    return;
  }
  if (to->remote_host() && !f.fds.empty()) {
    ++stats_.dropped;
    if (f.header.kind == wire::frame_kind::request)
      send_reply_frame(from, f,
                       error{errc::invalid_argument,
                             "a message holding shared-memory handles cannot travel to another host"});
    else
      std::fprintf(stderr, "troupe: a message holding shared-memory handles cannot go to another host; dropped\n");
    return;
  }
  ++stats_.forwarded;
  to->append_raw(f.header, f.payload, f.fds);
}

void runtime::handle_control(detail::link& l, const transport::frame_view& f) noexcept {
  switch (f.header.type) {
    case detail::node_announce::troupe_type_id: {
      auto m = wire::from_bytes<detail::node_announce>(f.payload);
      if (!m) break;
      for (node_id n : m->nodes) announce_node(l, n);
      return;
    }
    case detail::node_down::troupe_type_id: {
      auto m = wire::from_bytes<detail::node_down>(f.payload);
      if (!m) break;
      ++stats_.lost_notices;
      nodes_lost(m->nodes, m->reason, &l);
      return;
    }
    case detail::direct_link_request::troupe_type_id: {
      auto m = wire::from_bytes<detail::direct_link_request>(f.payload);
      if (!m) break;
      broker_direct(l, m->peer);
      return;
    }
    case detail::direct_link_grant::troupe_type_id:
      if (&l != parent_link_) break;
      adopt_direct(l, f);
      return;
    case detail::route_end::troupe_type_id: {
      if (f.header.dest_node != node_) {
        forward_frame(l, f);
        return;
      }
      auto m = wire::from_bytes<detail::route_end>(f.payload);
      if (!m || m->from != f.header.src_node) break;
      auto it = routes_.find(m->from);
      if (it != routes_.end() && it->second != parent_link_ && it->second->peer() == m->from)
        it->second->resume_reading();
      return;
    }
    default:
      if (detail::link_handler* h = l.handler(); h != nullptr) {
        h->on_control(l, f);
        return;
      }
      break;
  }
  l.fail_protocol("control frame of unknown or malformed type " + std::to_string(f.header.type));
}

namespace {
bool direct_links_enabled() noexcept {
  const char* e = std::getenv("TROUPE_DIRECT_LINKS");
  return e == nullptr || std::string_view(e) != "0";
}
}  // namespace

void runtime::ask_direct(node_id peer) noexcept {
  if (!direct_links_enabled() || !direct_asked_.insert(peer).second) return;
  wire::frame_header h;
  h.kind = wire::frame_kind::control;
  h.src_node = node_;
  (void)parent_link_->append(h, detail::direct_link_request{peer});
}

void runtime::broker_direct(detail::link& from, node_id peer) noexcept {
  // Only between two of this runtime's own children, both still linked.
  detail::link* to = route(peer);
  if (&from == parent_link_ || to == nullptr || to == parent_link_ || to == &from || to->peer() != peer ||
      !from.up())
    return;
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return;
  base::unique_fd a(fds[0]);
  base::unique_fd b(fds[1]);
  wire::frame_header h;
  h.kind = wire::frame_kind::control;
  h.src_node = node_;
  // The peer's end goes first, behind every frame relayed to it so far.
  detail::direct_link_grant to_peer{from.peer(), {std::move(b)}, false};
  detail::direct_link_grant to_asker{peer, {std::move(a)}, true};
  if (!to->append(h, to_peer)) return;
  (void)from.append(h, to_asker);
  ++stats_.brokered;
}

void runtime::adopt_direct(detail::link& from, const transport::frame_view& f) noexcept {
  auto m = wire::from_bytes<detail::direct_link_grant>(f.payload);
  if (!m) {
    from.fail_protocol("a direct link grant did not decode: " + m.error().message);
    return;
  }
  const node_id peer = m->peer;
  auto it = routes_.find(peer);
  if (peer == node_ || peer == 0 || (it != routes_.end() && it->second != parent_link_)) return;
  // What this runtime routed to the peer through the parent ends here; the
  // peer reads the direct link once this marker has reached it.
  wire::frame_header h;
  h.kind = wire::frame_kind::control;
  h.src_node = node_;
  h.dest_node = peer;
  if (!parent_link_->append(h, detail::route_end{node_})) return;
  auto l = add_link(m->socket.fd.release(), peer, nullptr, false, true);
  if (!l) return;
  (*l)->set_quiet_loss(true);
  if (m->offer_rings) (void)(*l)->offer_ring();
}

void runtime::link_lost(detail::link& l, const exit_reason& why) noexcept {
  if (l.quiet_loss()) {
    // A direct sibling link: traffic falls back to the parent, which
    // reports the sibling's fate.
    std::erase_if(routes_, [&l](const auto& r) { return r.second == &l; });
    return;
  }
  std::vector<node_id> lost;
  if (l.remote_host()) {
    // Every node of that host is gone with it.
    const node_id host = detail::host_of(l.peer());
    auto h = host_routes_.find(host);
    if (h != host_routes_.end() && h->second == &l) {
      host_routes_.erase(h);
      lost.push_back(host);
    }
  }
  for (node_id n : l.nodes()) {
    auto it = routes_.find(n);
    if (it != routes_.end() && it->second == &l) {
      routes_.erase(it);
      lost.push_back(n);
    }
  }
  if (parent_link_ == &l) parent_link_ = nullptr;
  nodes_lost(lost, why, &l);
}

void runtime::release_link(detail::link* l) noexcept {
  if (detail::link_handler* h = l->handler()) {
    // A link closed gracefully was never lost; its handler still has to
    // forget it.
    l->set_handler(nullptr);
    h->on_lost(*l, exit_reason{exit_reason::kind::node_lost, 0, {}, "link closed"});
  }
  std::erase_if(routes_, [l](const auto& r) { return r.second == l; });
  if (parent_link_ == l) parent_link_ = nullptr;
  std::erase_if(links_, [l](const std::unique_ptr<detail::link>& p) { return p.get() == l; });
}

void runtime::nodes_lost(std::span<const node_id> nodes, const exit_reason& why, detail::link* from) noexcept {
  // Links form a graph with cycles once siblings link directly, and every
  // runtime passes a notice on to its other links: each node is reported
  // once, so a notice that comes round again stops here.
  // A whole host (its host part alone) covers every node of it.
  std::vector<node_id> fresh;
  for (node_id n : nodes)
    if (!detail::covers(n, node_) && lost_.insert(n).second) fresh.push_back(n);
  nodes = fresh;
  if (nodes.empty()) return;
  auto is_lost = [&](node_id n) {
    return std::any_of(nodes.begin(), nodes.end(), [n](node_id x) { return detail::covers(x, n); });
  };
  // No route to a lost node stays, whichever link it went through: the
  // notice may come (from a third runtime) before that link's own end, and
  // a request sent down it meanwhile would wait for its timeout.
  std::erase_if(routes_, [&](const auto& r) { return is_lost(r.first); });
  std::erase_if(host_routes_, [&](const auto& r) { return is_lost(r.first); });
  // Requests to those nodes will never be answered.
  std::vector<detail::pending_request*> failed;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (is_lost(it->second->node)) {
      failed.push_back(it->second);
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  for (detail::pending_request* p : failed)
    p->fail(p, error{errc::peer_down, "the process of the actor is gone: " + why.describe()});
  // Monitors of actors there get their down now.
  std::vector<detail::remote_watch> watches;
  std::erase_if(remote_watches_, [&](const detail::remote_watch& w) {
    if (!is_lost(w.target.node())) return false;
    watches.push_back(w);
    return true;
  });
  for (const auto& w : watches) post(w.watcher, down{w.target, why}, detail::reply_address{}, false);
  // Everyone else linked here may have requests and monitors there too.
  wire::frame_header h;
  h.kind = wire::frame_kind::control;
  h.src_node = node_;
  detail::node_down notice{std::vector<node_id>(nodes.begin(), nodes.end()), why};
  for (auto& l : links_)
    if (l.get() != from && l->up()) (void)l->append(h, notice);
}

}  // namespace troupe
