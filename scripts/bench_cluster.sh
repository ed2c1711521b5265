#!/usr/bin/env bash
# The benchmarks across hosts: two fake hosts (scripts/fake_hosts.sh), one
# core's worth each in name only (they share this machine), RUNS rounds of
# troupe's hosts_pingpong and raw MPI's ping-pong alternately, then
# hosts_primes; JSON lines on stdout.
#   scripts/bench_cluster.sh BUILD_DIR [RUNS]
set -uo pipefail
build=$(realpath "$1")
runs=${2:-5}
source "$(dirname "$0")/fake_hosts.sh"
if ! fake_hosts_up 2; then
  echo "bench_cluster: no fake hosts (needs root and iproute2); skipping the workloads across hosts" >&2
  exit 0
fi
if [ ! -x "$build/bench/peer_mpi_pingpong" ]; then
  echo "bench_cluster: troupe was built without MPI; skipping the workloads across hosts" >&2
  exit 0
fi
export FAKE_MPIRUN_TIMEOUT=300
for _ in $(seq "$runs"); do
  fake_mpirun -np 2 "$build/bench/hosts_pingpong" 20000 | grep '^{'
  fake_mpirun -np 2 "$build/bench/peer_mpi_pingpong" 20000 | grep '^{'
done
for _ in $(seq "$runs"); do
  fake_mpirun -np 2 "$build/bench/hosts_primes" | grep '^{'
done
