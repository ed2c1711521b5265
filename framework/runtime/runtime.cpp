#include "framework/runtime/runtime.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "framework/base/assert.hpp"
#include "framework/runtime/control.hpp"

namespace troupe {

namespace {
thread_local runtime* current_runtime = nullptr;
std::atomic<std::uint32_t> runtimes_created{0};

constexpr std::uint32_t slot_of(actor_id id) noexcept { return static_cast<std::uint32_t>(id); }
constexpr std::uint32_t generation_of(actor_id id) noexcept { return static_cast<std::uint32_t>(id >> 32); }
}  // namespace

std::string actor_ref::to_string() const {
  char buf[64];
  std::snprintf(buf, sizeof buf, "actor %u.%u@%llx", slot_of(id_), generation_of(id_),
                static_cast<unsigned long long>(node_));
  return buf;
}

std::string exit_reason::describe() const {
  switch (what) {
    case kind::normal: return "normal";
    case kind::stopped: return "stopped";
    case kind::exception: return "exception " + type + ": " + message;
    case kind::no_actor: return "no such actor";
    case kind::killed: return "killed by signal " + std::to_string(code);
    case kind::exited: return "process exited with status " + std::to_string(code);
    case kind::node_lost: return "node lost" + (message.empty() ? "" : ": " + message);
    case kind::protocol_error: return "protocol error" + (message.empty() ? "" : ": " + message);
  }
  return "unknown";
}

runtime::runtime(runtime_options options)
    : options_(options),
      // The pid in the high bits keeps node ids distinct across the processes
      // of one program; the counter, across runtimes of one process.
      node_(options.node != 0 ? options.node
                              : (static_cast<node_id>(::getpid()) << 20) | (runtimes_created.fetch_add(1) + 1)) {
  TROUPE_ASSERT(current_runtime == nullptr, "one runtime per thread");
  current_runtime = this;
  slots_.emplace_back();  // slot 0 is never used, so actor id 0 means "nobody"
  slots_.emplace_back();  // slot 1 is the system actor's, once it starts
}

runtime::~runtime() {
  shutdown();
  current_runtime = nullptr;
}

void runtime::forget_after_fork() noexcept {
  current_runtime = nullptr;
  runtimes_created.store(0);
}

runtime& runtime::current() {
  TROUPE_ASSERT(current_runtime != nullptr, "no troupe runtime on this thread");
  return *current_runtime;
}

runtime* runtime::current_or_null() noexcept { return current_runtime; }

detail::actor_cell* runtime::find(const actor_ref& ref) const noexcept {
  if (ref.node() != node_) return nullptr;
  std::uint32_t index = slot_of(ref.id());
  if (index == 0 || index >= slots_.size()) return nullptr;
  const slot& s = slots_[index];
  if (s.generation != generation_of(ref.id()) || !s.cell) return nullptr;
  return s.cell.get();
}

bool runtime::alive(const actor_ref& ref) const noexcept {
  detail::actor_cell* c = find(ref);
  return c != nullptr && !c->box.closed();
}

detail::actor_cell* runtime::create_system_cell(std::span<const detail::message_decoder> accepts) {
  slot& s = slots_[1];
  TROUPE_ASSERT(!s.cell && s.generation == 1, "the system actor starts once");
  s.cell = std::make_unique<detail::actor_cell>(loop_, options_.mailbox_bound);
  s.cell->id = system_actor_id;
  s.cell->accepts = accepts;
  ++live_cells_;
  return s.cell.get();
}

detail::actor_cell* runtime::create_cell(std::span<const detail::message_decoder> accepts) {
  std::uint32_t index;
  if (!free_slots_.empty()) {
    index = free_slots_.back();
    free_slots_.pop_back();
  } else {
    index = static_cast<std::uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  slot& s = slots_[index];
  s.cell = std::make_unique<detail::actor_cell>(loop_, options_.mailbox_bound);
  s.cell->id = (static_cast<actor_id>(s.generation) << 32) | index;
  s.cell->accepts = accepts;
  ++live_cells_;
  return s.cell.get();
}

void runtime::retire(detail::actor_cell* cell) noexcept {
  std::uint32_t index = slot_of(cell->id);
  std::unique_ptr<detail::actor_cell> owned = std::move(slots_[index].cell);
  ++slots_[index].generation;
  if (slots_[index].generation == 0) slots_[index].generation = 1;
  if (index != 1) free_slots_.push_back(index);
  --live_cells_;

  actor_ref self(node_, cell->id);
  cell->box.close();
  // Requests still queued will never be handled: tell their requesters now
  // instead of letting them wait for the timeout.
  while (!cell->box.empty()) {
    detail::envelope& e = cell->box.front();
    if (e.reply().correlation != 0)
      deliver_error(e.reply(), error{errc::no_actor, self.to_string() + " ended before handling the request"});
    cell->box.pop();
  }
  for (const actor_ref& watcher : cell->monitors)
    post(watcher, down{self, cell->reason}, detail::reply_address{}, false);
}

void runtime::stop(const actor_ref& ref) {
  if (ref.node() != node_) {
    post(system_actor(ref.node()), detail::stop_request{ref}, detail::reply_address{}, false);
    return;
  }
  if (detail::actor_cell* c = find(ref)) {
    if (c->reason.what == exit_reason::kind::normal) c->reason.what = exit_reason::kind::stopped;
    c->box.close();
  }
}

void runtime::stop_actors() noexcept {
  for (slot& s : slots_)
    if (s.cell && s.cell->id != system_actor_id) stop(actor_ref(node_, s.cell->id));
}

void runtime::monitor(const actor_ref& watcher, const actor_ref& target) {
  if (target.node() != node_ && watcher.node() == node_) {
    if (route(target.node()) == nullptr) {
      exit_reason r;
      r.what = exit_reason::kind::node_lost;
      r.message = "no link leads to its node";
      post(watcher, down{target, r}, detail::reply_address{}, false);
      return;
    }
    // Remember it, so the down can be made up here if the node is lost
    // before it sends one.
    remote_watches_.push_back(detail::remote_watch{watcher, target});
    post(system_actor(target.node()), detail::monitor_request{watcher, target}, detail::reply_address{}, false);
    return;
  }
  detail::actor_cell* c = find(target);
  if (c == nullptr) {
    exit_reason r;
    r.what = exit_reason::kind::no_actor;
    post(watcher, down{target, r}, detail::reply_address{}, false);
    return;
  }
  c->monitors.push_back(watcher);
}

void runtime::reject(detail::actor_cell* cell, const detail::reply_address& reply,
                     std::string_view type_name) {
  ++stats_.unexpected;
  if (reply.correlation != 0) {
    deliver_error(reply, error{errc::unexpected_message, actor_ref(node_, cell->id).to_string() +
                                                             " does not accept " + std::string(type_name)});
  }
}

std::uint64_t runtime::register_request(detail::pending_request* p, node_id target) {
  p->correlation = next_correlation_++;
  p->node = target;
  pending_.emplace(p->correlation, p);
  return p->correlation;
}

void runtime::forget_request(std::uint64_t correlation) noexcept { pending_.erase(correlation); }

void runtime::deliver_error(const detail::reply_address& to, error e) {
  if (to.correlation == 0) return;
  if (to.node != node_) {
    if (detail::link* l = route(to.node)) {
      wire::frame_header h;
      h.kind = wire::frame_kind::error_reply;
      h.dest_node = to.node;
      h.src_node = node_;
      h.correlation = to.correlation;
      (void)l->append(h, e);
    }
    return;
  }
  auto it = pending_.find(to.correlation);
  if (it == pending_.end()) return;
  detail::pending_request* p = it->second;
  pending_.erase(it);
  p->fail(p, std::move(e));
}

void runtime::shutdown() noexcept {
  // Stop every actor, let them wind down, then let the loop close. Actors
  // that wait for something other than their mailbox are given the chance
  // to finish as long as anything can still wake them.
  detail::end_children(*this);
  for (slot& s : slots_)
    if (s.cell) stop(actor_ref(node_, s.cell->id));
  // Let the stopped actors see their closed mailboxes and end while the
  // links are still up, so their monitors in other runtimes learn the real
  // reason (a few turns: an actor that keeps itself busy must not hold the
  // links open).
  int turns = 0;
  (void)loop_.run_until([&] { return loop_.ready_count() == 0 || ++turns > 64; });
  // Links send what is queued (a child's exit notice, last replies) and
  // close; their writers are roots, so the wait below covers them.
  for (auto& l : links_) l->close_gracefully();
  // Once the links close no answer from another node can arrive: a request
  // still waiting for one would hold the process's exit until its timeout.
  std::vector<detail::pending_request*> unanswerable;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second->node != node_) {
      unanswerable.push_back(it->second);
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
  for (detail::pending_request* p : unanswerable)
    p->fail(p, error{errc::closed, "the runtime shut down before the answer came"});
  bool finished = loop_.run_until([this] { return live_roots_ == 0; });
  if (!finished) {
    std::fprintf(stderr,
                 "troupe: %zu actor(s) still waiting for something that can never happen at "
                 "runtime shutdown; their frames are leaked\n",
                 live_roots_);
  }
}

}  // namespace troupe
