# Fake hosts for programs that span hosts, sourced by the cluster tests and
# benchmarks: network namespaces h1..hN, each with eth0 = 10.77.0.i/24,
# joined by a bridge in a switch namespace. Names carry a prefix of this
# run, so runs never collide, and nothing touches the root namespace.
# Needs root and iproute2.
#   fake_hosts_up N        makes them (returns non-zero, saying why, if it cannot)
#   fake_mpirun ARGS...    Open MPI's mpirun as if on h1, launching ranks on the
#                          fake hosts through scripts/nsexec, TCP over eth0 only,
#                          no core binding (with it, a rank and every process it
#                          forks share one core); ended after FAKE_MPIRUN_TIMEOUT
#                          seconds if that is set
#   fake_hosts_down        removes them (also on exit)

fake_hosts_scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export TROUPE_NETNS_PREFIX="trp$$"
fake_hosts_names=()
fake_hosts_file=$(mktemp)

fake_hosts_down() {
  for ns in "${fake_hosts_names[@]}"; do ip netns del "$ns" 2>/dev/null; done
  fake_hosts_names=()
  rm -f "$fake_hosts_file"
}
trap fake_hosts_down EXIT

fake_hosts_up() {
  local n=$1 p=$TROUPE_NETNS_PREFIX i h
  [ "$(id -u)" -eq 0 ] || { echo "fake hosts need root (network namespaces)" >&2; return 1; }
  command -v ip >/dev/null || { echo "fake hosts need iproute2 (ip)" >&2; return 1; }
  ip netns add "${p}sw" || { echo "cannot create network namespaces (ip netns add failed)" >&2; return 1; }
  fake_hosts_names+=("${p}sw")
  ip -n "${p}sw" link add br0 type bridge || { echo "cannot create a bridge in a namespace" >&2; return 1; }
  ip -n "${p}sw" link set br0 up
  for i in $(seq "$n"); do
    h=${p}h$i
    ip netns add "$h" || { echo "cannot create namespace $h" >&2; return 1; }
    fake_hosts_names+=("$h")
    ip -n "${p}sw" link add "sw$i" type veth peer name eth0 netns "$h" || { echo "cannot create a veth pair" >&2; return 1; }
    ip -n "${p}sw" link set "sw$i" master br0 up
    ip -n "$h" link set lo up
    ip -n "$h" addr add "10.77.0.$i/24" dev eth0
    ip -n "$h" link set eth0 up
  done
  for i in $(seq "$n"); do echo "h$i slots=1"; done >"$fake_hosts_file"
}

fake_mpirun() {
  command -v mpirun >/dev/null || { echo "needs Open MPI's mpirun (openmpi-bin)" >&2; return 1; }
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    timeout "${FAKE_MPIRUN_TIMEOUT:-0}" ip netns exec "${TROUPE_NETNS_PREFIX}h1" unshare --uts /bin/bash -c 'hostname h1; exec "$@"' mpirun \
    mpirun --hostfile "$fake_hosts_file" --mca plm_rsh_agent "$fake_hosts_scripts/nsexec" \
    --mca oob_tcp_if_include eth0 --mca btl_tcp_if_include eth0 --mca btl tcp,self --bind-to none "$@"
}

# How many namespaces of this run are left.
fake_hosts_left() { ip netns list | grep -c "^$TROUPE_NETNS_PREFIX" || true; }
