#!/usr/bin/env bash
# Runs a troupe program under Open MPI's mpirun on fake hosts: network
# namespaces h1..hN (10.77.0.i/24 on eth0, joined by a bridge in a switch
# namespace), made for this run alone and removed at the end.
#   cluster_test.sh [--hosts N] [--recovery] [--alone] [--env NAME=VALUE]... --expect REGEX -- PROGRAM [ARGS...]
# --recovery: mpirun --enable-recovery (a rank dies on purpose; without it
#   mpirun ends the whole job), and mpirun's exit status is not checked.
# --alone: run PROGRAM without a launcher instead (one machine).
# --env: set in every rank's environment (mpirun -x); @NETNS@ in it becomes
#   the prefix of this run's namespaces (the switch is @NETNS@sw, host i's
#   port on it sw<i>).
# Passes when the output matches REGEX (Python re.search, MULTILINE), has no
# line starting "FAILED", the exit status is 0 (unless --recovery), no
# process of PROGRAM outlives the run and no namespace is left. Needs root,
# iproute2 and Open MPI; without them it fails and says so.
set -uo pipefail
hosts=2
recovery=0
alone=0
expect=
extra=()
while (($#)); do
  case $1 in
    --hosts) hosts=$2; shift 2 ;;
    --recovery) recovery=1; shift ;;
    --alone) alone=1; shift ;;
    --expect) expect=$2; shift 2 ;;
    --env) extra+=(-x "$2"); shift 2 ;;
    --) shift; break ;;
    *) echo "cluster_test.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
program=$(realpath "$1")
shift
here=$(cd "$(dirname "$0")" && pwd)

fail() { echo "cluster test: $*" >&2; exit 1; }

check_output() {  # OUTPUT RC
  echo "$1"
  grep -q "^FAILED" <<<"$1" && fail "the program reported failures"
  python3 -c 'import re,sys; sys.exit(0 if re.search(sys.argv[1], sys.stdin.read(), re.M) else 1)' "$expect" <<<"$1" ||
    fail "the output does not match: $expect"
  if [ "$recovery" -eq 0 ] && [ "$2" -ne 0 ]; then fail "exit status $2"; fi
}

if [ "$alone" -eq 1 ]; then
  out=$(timeout 120 "$program" "$@" 2>&1)
  check_output "$out" $?
  echo "cluster test alone: passed"
  exit 0
fi

source "$here/../../scripts/fake_hosts.sh"
fake_hosts_up "$hosts" || fail "cannot make $hosts fake hosts"
[ "$recovery" -eq 1 ] && extra+=(--enable-recovery)
extra=("${extra[@]//@NETNS@/$TROUPE_NETNS_PREFIX}")
started=$(date +%s)
out=$(FAKE_MPIRUN_TIMEOUT=240 fake_mpirun -np "$hosts" "${extra[@]}" "$program" "$@" 2>&1)
rc=$?
check_output "$out" $rc
echo "mpirun exited with $rc after $(($(date +%s) - started)) s"

# Clean teardown: no process of the program left anywhere (all fake hosts
# share this machine's process table), then the namespaces go.
deadline=$(($(date +%s) + 5))
# (Command lines that start with the program: this script names it too.)
while pgrep -f "^$program( |\$)" >/dev/null; do
  [ "$(date +%s)" -lt "$deadline" ] || { pgrep -af "^$program( |\$)"; fail "processes of the program outlived mpirun"; }
  sleep 0.1
done
fake_hosts_down
left=$(fake_hosts_left)
[ "$left" -eq 0 ] || fail "$left namespaces left"
echo "cluster test on $hosts hosts: passed"
