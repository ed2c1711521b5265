#pragma once

// The TCP side of joining a cluster, blocking with deadlines: it runs
// before the loop does. Separate from the rendezvous so that it can be
// tested without a launcher.

#include <chrono>
#include <cstdint>
#include <string>

#include "framework/base/result.hpp"
#include "framework/base/unique_fd.hpp"
#include "framework/transport/auth.hpp"

namespace troupe::detail::cluster_net {

using clock = std::chrono::steady_clock;

/// The address this rank offers the others: TROUPE_CLUSTER_ADDRESS if set,
/// else the first IPv4 address of TROUPE_CLUSTER_INTERFACE if set, else
/// the first IPv4 address of an interface that is up and not loopback,
/// else 127.0.0.1 (one host).
result<std::string> local_address();
/// TROUPE_CLUSTER_PORT, or 0 (any free port).
std::uint16_t port_from_env() noexcept;

/// A listening TCP socket.
struct listening {
  base::unique_fd fd;
  std::string address;  ///< numeric, as bound
  std::uint16_t port = 0;
};
/// Binds `address`:`port` (0: any free port) and listens.
result<listening> listen_tcp(const std::string& address, std::uint16_t port);

/// TROUPE_CLUSTER_SILENCE_MS, or 6 s.
std::chrono::milliseconds default_silence() noexcept;

/// Sets up a connected socket as a rank link: no Nagle delay, and keepalive
/// probes with a user timeout, so that a host that stops answering (cable,
/// power, a frozen machine: nothing sends an RST) is declared down within
/// about `silence` instead of the kernel's two hours.
result<void> tune_link_socket(int fd, std::chrono::milliseconds silence = default_silence());

/// Connects to rank `address`:`port`, runs the mutual HMAC handshake with
/// `key` as the connecting side, then says which rank it is. Retries a
/// refused connect until `deadline`.
result<base::unique_fd> connect_rank(const std::string& address, std::uint16_t port, const transport::auth_key& key,
                                     int my_rank, clock::time_point deadline);

/// A connection accepted and proven.
struct accepted_rank {
  base::unique_fd fd;
  int rank = -1;
};
/// Accepts one connection on `listen_fd`, runs the handshake as the
/// accepting side (nothing it sends is read beyond the handshake's fixed
/// sizes until it has proven the key; each connection has at most 5 s to
/// do so), then reads the rank it claims. errc::timeout at `deadline`; any
/// other error concerns that connection alone (it is closed).
result<accepted_rank> accept_rank(int listen_fd, const transport::auth_key& key, clock::time_point deadline);

}  // namespace troupe::detail::cluster_net
