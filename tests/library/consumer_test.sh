#!/usr/bin/env bash
# The path a user of troupe takes, from this build: install it into a
# scratch prefix, compile the umbrella header alone with the pkg-config
# flags, then build and run samples/standalone (a project of its own)
# against the installed troupe and against the source tree as a subproject.
#   consumer_test.sh BUILD_DIR SOURCE_DIR CXX
set -euo pipefail
build=$1
source=$2
cxx=$3
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
step() { echo "--- $*"; }
fail() { echo "FAIL: $*"; exit 1; }

step "meson install into $scratch/prefix"
meson install -C "$build" --no-rebuild --quiet --destdir "$scratch/prefix"
pc_dir=$(dirname "$(find "$scratch/prefix" -name troupe.pc | head -n 1)")
[ -f "$pc_dir/troupe.pc" ] || fail "no troupe.pc installed"
# A build configured before pkgconfig.relocatable was the default names its
# prefix outright: point it at the scratch copy, as moving an install would.
if ! grep -q '^prefix=${pcfiledir}' "$pc_dir/troupe.pc"; then
  sed -i -E "s|^prefix=(.*)|prefix=$scratch/prefix\1|" "$pc_dir/troupe.pc"
fi
export PKG_CONFIG_PATH=$pc_dir
lib_dir=$(pkg-config --variable=libdir troupe)
include_dir=$(pkg-config --variable=includedir troupe)/troupe
[ -f "$include_dir/troupe.hpp" ] || fail "the umbrella header is not at include/troupe/troupe.hpp"
ls "$lib_dir"/libtroupe.* >/dev/null 2>&1 || fail "no libtroupe in $lib_dir"
echo "installed: $(find "$include_dir" -name '*.hpp' | wc -l) headers, $(cd "$lib_dir" && echo libtroupe.*)"

step "only public headers are installed"
leaked=$(cd "$include_dir" && find . -name '*.cpp' -o -name '*.in' -o -path '*/detail/*' -o -name 'meson.build')
[ -z "$leaked" ] || fail "installed files that are not public headers: $leaked"

step "the umbrella header compiles alone with -std=c++20 and the pkg-config flags"
for compiler in "$cxx" clang++; do
  command -v "$compiler" >/dev/null || continue
  echo '#include <troupe.hpp>' | "$compiler" -std=c++20 $(pkg-config --cflags troupe) \
      -Wall -Wextra -Wpedantic -Werror -fsyntax-only -x c++ - ||
    fail "$compiler: <troupe.hpp> does not compile alone"
  echo "$compiler: ok"
done

check_run() {
  local out
  out=$(timeout 120 "$@") || fail "$1 exited with $?: $out"
  echo "$out"
  grep -q '^troupe [0-9]*\.[0-9]*\.[0-9]*$' <<<"$out" || fail "no version line"
  grep -q 'the most common is "the" (5 times)' <<<"$out" || fail "wrong census"
  grep -q 'a pool of 2 counted 80 letters in 5 lines' <<<"$out" || fail "wrong pool result"
}

step "samples/standalone against the installed troupe (pkg-config)"
CXX=$cxx meson setup "$scratch/installed" "$source/samples/standalone" --wrap-mode=nodownload \
  -Dwerror=true >/dev/null
ninja -C "$scratch/installed" >/dev/null
LD_LIBRARY_PATH=$lib_dir check_run "$scratch/installed/word_census"

step "samples/standalone against the source tree as a subproject"
mkdir -p "$scratch/project/subprojects"
cp "$source"/samples/standalone/meson.build "$source"/samples/standalone/*.cpp "$scratch/project/"
ln -s "$source" "$scratch/project/subprojects/troupe"
CXX=$cxx meson setup "$scratch/subproject" "$scratch/project" --wrap-mode=nodownload \
  --force-fallback-for=troupe -Dbuildtype=plain -Dwerror=true >/dev/null
ninja -C "$scratch/subproject" >/dev/null
grep -qi 'dependency troupe found: YES .*(overridden)' "$scratch/subproject/meson-logs/meson-log.txt" ||
  fail "the subproject build did not use troupe_dep from the subproject"
check_run "$scratch/subproject/word_census"
echo "both ways built and ran"
