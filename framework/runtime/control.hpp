#pragma once

// The framework's own wire types: link control frames and the requests the
// system actor of every runtime serves. Type ids are explicit and
// append-only (user types hash their names above 2^16).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>

#include "framework/base/error.hpp"
#include "framework/base/unique_fd.hpp"
#include "framework/runtime/actor_ref.hpp"
#include "framework/runtime/code_address.hpp"
#include "framework/runtime/exit_reason.hpp"
#include "framework/wire/fd_carrier.hpp"
#include "framework/wire/packed.hpp"

namespace troupe {
struct rank_load;  // framework/runtime/cluster.hpp
}

namespace troupe::detail {

/// Version of the link handshake; a child refuses a parent that speaks
/// another one.
inline constexpr std::uint32_t link_protocol_version = 1;

/// An exception that escaped a child's entry or actor, as a value.
struct remote_failure {
  std::string type;     ///< demangled type name
  std::string message;  ///< what()
  std::int32_t pid = 0;
  std::string process;  ///< the process's name
  std::string stack;    ///< stack trace where one could be had, else empty
};

/// Parent → child, first frame on a new link: who the parent is and what
/// the child should run.
struct hello {
  static constexpr std::uint64_t troupe_type_id = 16;
  std::uint32_t protocol = link_protocol_version;
  std::vector<std::uint8_t> build_id;  ///< the parent's executable
  node_id parent_node = 0;
  std::int32_t parent_pid = 0;
  node_id child_node = 0;  ///< the node id the child's runtime takes
  std::string name;
  bool serve = false;         ///< no entry: serve actors until told to stop
  code_address entry;         ///< the trampoline that decodes args and calls target
  code_address target;        ///< the user's function
  wire::packed args;
};

/// Child → parent: the handshake succeeded.
struct welcome {
  static constexpr std::uint64_t troupe_type_id = 17;
  node_id node = 0;
  std::int32_t pid = 0;
};

/// Child → parent: the handshake failed (the child then exits with
/// refused_exit_code).
struct refusal {
  static constexpr std::uint64_t troupe_type_id = 18;
  error why;
};

/// Child → parent, just before it exits because its entry threw.
struct exit_notice {
  static constexpr std::uint64_t troupe_type_id = 19;
  remote_failure failure;
};

/// Nodes now reachable through the link this arrives on (a child's own
/// children), forwarded towards the root.
struct node_announce {
  static constexpr std::uint64_t troupe_type_id = 20;
  std::vector<node_id> nodes;
};

/// Nodes that are gone, with the reason, so every runtime can fail its
/// requests to them and tell its monitors.
struct node_down {
  static constexpr std::uint64_t troupe_type_id = 21;
  std::vector<node_id> nodes;
  exit_reason reason;
};

/// Request to a runtime's system actor: start an actor there.
struct spawn_request {
  static constexpr std::uint64_t troupe_type_id = 22;
  using response = actor_ref;
  code_address entry;
  code_address target;
  wire::packed args;
};

/// Message to a runtime's system actor: `watcher` wants a down for `target`.
struct monitor_request {
  static constexpr std::uint64_t troupe_type_id = 23;
  actor_ref watcher;
  actor_ref target;
};

/// Message to a runtime's system actor: stop `target`.
struct stop_request {
  static constexpr std::uint64_t troupe_type_id = 24;
  actor_ref target;
};

/// Message to a runtime's system actor: end it. A host (a process or
/// thread with no target) ends with `exitcode`; in any runtime every actor
/// but the system actor is stopped.
struct shutdown_request {
  static constexpr std::uint64_t troupe_type_id = 25;
  std::int32_t exitcode = 0;
};

/// Request to a runtime's system actor: how loaded is your host? (The
/// answer is troupe::rank_load, defined with the cluster API.)
struct load_query {
  static constexpr std::uint64_t troupe_type_id = 33;
  using response = rank_load;
};

/// A descriptor as it travels in a control frame (beside it, SCM_RIGHTS).
struct passed_fd {
  base::unique_fd fd;
};

/// Child → parent: this child sends to `peer`, a sibling; it would like a
/// direct link. The parent may ignore it (the peer is no sibling, or gone).
struct direct_link_request {
  static constexpr std::uint64_t troupe_type_id = 30;
  node_id peer = 0;
};

/// Parent → both siblings: one end of a fresh socket pair to `peer`. The
/// side with `offer_rings` offers the rings on it.
struct direct_link_grant {
  static constexpr std::uint64_t troupe_type_id = 31;
  node_id peer = 0;
  passed_fd socket;
  bool offer_rings = false;
};

/// Sibling → sibling, routed through the parent: the last frame the sender
/// routes that way; its frames now travel on the direct link, which the
/// receiver reads from here on.
struct route_end {
  static constexpr std::uint64_t troupe_type_id = 32;
  node_id from = 0;
};

}  // namespace troupe::detail

namespace troupe::wire {
template <>
struct codec<troupe::detail::passed_fd> {
  static constexpr std::size_t min_size = 4;
  static void encode(writer& w, const troupe::detail::passed_fd& v) { w.scalar(attach_fd(v.fd.get())); }
  static bool decode(reader& r, troupe::detail::passed_fd& out) {
    std::uint32_t index = 0;
    if (!r.scalar(index)) return false;
    const int fd = borrow_fd(index);
    if (fd < 0) return r.fail("a passed descriptor did not arrive");
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0) return r.fail("a passed descriptor could not be duplicated");
    out.fd.reset(copy);
    return true;
  }
};
}  // namespace troupe::wire
