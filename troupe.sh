#!/usr/bin/env bash
# troupe's one entry point: installs what is missing, builds with meson, runs.
#   ./troupe.sh tour                  build everything and run every sample
#   ./troupe.sh test [--sanitize] [--sanitize-gcc[-lean]] [--fuzz-seconds N] [--chaos-seconds N]
#                                     build and run the full test suite
#                                     (--sanitize: clang with ASan+UBSan, then
#                                     the shared-memory suites under TSan, then
#                                     each fuzz target over its corpus and for
#                                     N seconds, 60 by default; --sanitize-gcc:
#                                     the suite with g++'s ASan+UBSan; -lean: its
#                                     tests alone, without UBSan's null and
#                                     alignment checks; --chaos-seconds:
#                                     the chaos run's length, 8 by default)
#   ./troupe.sh bench [RUNS]          optimised build, every benchmark RUNS times, medians
#   ./troupe.sh docs                  the API reference (Doxygen HTML) in build-docs/html
set -euo pipefail
cd "$(dirname "$0")"
root=$(pwd)

packages=(g++ meson ninja-build pkg-config python3 libuv1-dev doctest-dev
          libcpp-httplib-dev libboost1.81-dev libfmt-dev libssl-dev doxygen
          libopenmpi-dev openmpi-bin iproute2 procps)

need_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "troupe: installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# configure DIR [meson options...]: set up a build directory once, reuse it after.
configure() {
  local dir=$1
  shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" --wrap-mode=nodownload "$@" >/dev/null
  fi
}

# Prints "N passed, N failed" from meson test logs and returns the failures.
summarise() {
  python3 - "$@" <<'PY'
import json, sys
passed = failed = skipped = 0
for log in sys.argv[1:]:
  with open(log) as f:
    for line in f:
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(min(failed, 255))
PY
}

cmd=${1:-}
shift || true
case "$cmd" in
  tour)
    need_packages "${packages[@]}"
    configure build-tour -Dbuildtype=release -Dtests=false
    ninja -C build-tour >/dev/null
    ok=0; bad=0
    # Samples that write files do so in a scratch directory, removed at the end.
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    for exe in build-tour/samples/[0-9][0-9]_*; do
      [ -f "$exe" ] && [ -x "$exe" ] || continue
      name=$(basename "$exe")
      echo "=== $name: $(head -n 1 "samples/$name.cpp" | sed 's|^// *||')"
      if (cd "$scratch" && timeout 120 "$root/$exe"); then ok=$((ok + 1)); else bad=$((bad + 1)); echo "!!! $name failed"; fi
      echo
    done
    echo "tour: $ok samples ran, $bad failed"
    [ "$bad" -eq 0 ]
    ;;
  test)
    sanitize=0
    sanitize_gcc=0
    fuzz_seconds=60
    chaos_seconds=8
    while (($#)); do
      case "$1" in
        --sanitize) sanitize=1 ;;
        --sanitize-gcc) sanitize_gcc=1 ;;
        --sanitize-gcc-lean) sanitize_gcc=2 ;;
        --fuzz-seconds) fuzz_seconds=${2:?--fuzz-seconds needs a number}; shift ;;
        --chaos-seconds) chaos_seconds=${2:?--chaos-seconds needs a number}; shift ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
      esac
      shift
    done
    need_packages "${packages[@]}"
    # Test builds carry line tables only (-g1): stack traces and sanitizer
    # reports keep their file:line, and the builds take a third less time.
    if ((sanitize)); then
      need_packages clang libclang-rt-14-dev
      dir=build-sanitize
      CXX=clang++ configure "$dir" -Dbuildtype=debug -Dwerror=true -Dcpp_args=-g1 \
        -Db_sanitize=address,undefined -Db_lundef=false
      export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
      export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    elif ((sanitize_gcc)); then
      dir=build-sanitize-gcc
      gcc_args=(-Dcpp_args=-g1)
      if ((sanitize_gcc == 2)); then
        # The CI-sized run: the tests, without the samples and benchmark
        # programs, and without UBSan's null and alignment checks, which
        # more than double g++'s code for every coroutine at -O0 (and its
        # build time). The clang run keeps all of them; ASan reports a null
        # dereference under both.
        dir=build-sanitize-gcc-lean
        gcc_args=("-Dcpp_args=-g1 -fno-sanitize=null,alignment" -Dsamples=false -Dbench=false)
      fi
      CXX=g++ configure "$dir" -Dbuildtype=debug -Dwerror=true "${gcc_args[@]}" \
        -Db_sanitize=address,undefined -Db_lundef=false
      export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
      export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    else
      dir=build-test
      configure "$dir" -Dwerror=true -Dcpp_args=-g1
    fi
    current=$(meson introspect "$dir" --buildoptions |
      python3 -c 'import json,sys; print(next((o["value"] for o in json.load(sys.stdin) if o["name"] == "chaos_seconds"), ""))')
    [ "$current" = "$chaos_seconds" ] || meson configure "$dir" -Dchaos_seconds="$chaos_seconds" >/dev/null
    ninja -C "$dir"
    set +e
    meson test -C "$dir" --print-errorlogs --num-processes 2
    set -e
    logs=("$dir/meson-logs/testlog.json")
    if ((sanitize)); then
      # ThreadSanitizer does not follow forks: the suites of the "tsan"
      # meson suite run the shared-memory code as threads of one process.
      CXX=clang++ configure build-tsan -Dbuildtype=debug -Dwerror=true -Dcpp_args=-g1 -Db_sanitize=thread \
        -Db_lundef=false -Dsamples=false
      export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/support/tsan.supp
      ninja -C build-tsan $(meson introspect build-tsan --tests |
        python3 -c 'import json,sys; print(" ".join(sorted({t["cmd"][0].split("/build-tsan/")[1] for t in json.load(sys.stdin) if any(x.endswith("tsan") for x in t["suite"])})))')
      set +e
      meson test -C build-tsan --no-rebuild --print-errorlogs --suite tsan
      set -e
      logs+=(build-tsan/meson-logs/testlog.json)
      # libFuzzer targets (ASan+UBSan): the stored corpus first (seeds and
      # past faults), then fresh inputs for the given time.
      CXX=clang++ configure build-fuzz -Dfuzz=true -Dwerror=true -Dcpp_args=-g1 -Db_sanitize=address,undefined \
        -Db_lundef=false -Dtests=false -Dsamples=false -Dbench=false
      meson configure build-fuzz -Dfuzz_seconds="$fuzz_seconds" >/dev/null
      ninja -C build-fuzz
      set +e
      meson test -C build-fuzz --no-rebuild --print-errorlogs --suite fuzz --num-processes 2
      set -e
      logs+=(build-fuzz/meson-logs/testlog.json)
    fi
    summarise "${logs[@]}"
    ;;
  docs)
    need_packages doxygen
    rm -rf build-docs
    bash tests/library/docs_test.sh "$root" "$root/build-docs"
    ;;
  bench)
    runs=${1:-5}
    need_packages "${packages[@]}" python3-matplotlib
    configure build-bench -Dbuildtype=release -Db_lto=true -Dtests=false -Dsamples=false
    ninja -C build-bench >/dev/null
    mkdir -p bench/results
    stamp=$(date +%Y%m%d-%H%M%S)
    out=bench/results/$stamp.jsonl
    # Each round runs every troupe program, then every peer (the Python
    # multiprocessing scripts and the C++ Boost.Interprocess program), so
    # the two sides alternate and share the machine's mood of the moment.
    {
      for _ in $(seq "$runs"); do
        for exe in build-bench/bench/*; do
          [ -f "$exe" ] && [ -x "$exe" ] || continue
          case $(basename "$exe") in hosts_* | peer_mpi_*) continue ;; esac  # run across hosts below
          "$exe"
        done
        for peer in bench/peers/*.py; do python3 "$peer"; done
      done
    } | tee "$out"
    # Across hosts: two fake hosts under mpirun (root only; skipped, saying
    # so, where namespaces cannot be made).
    bash scripts/bench_cluster.sh build-bench "$runs" | tee -a "$out"
    python3 scripts/bench_table.py "$out"
    # The chart needs Debian's matplotlib, so Debian's python3 draws it.
    chart_python=/usr/bin/python3
    [ -x "$chart_python" ] || chart_python=python3
    "$chart_python" scripts/bench_chart.py "$out" "bench/results/$stamp.png"
    cp "bench/results/$stamp.png" bench/ratios.png
    echo "chart: bench/results/$stamp.png (copied to bench/ratios.png, shown in the README)"
    ;;
  *)
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
