#!/usr/bin/env bash
# Generates the API reference from the public headers with Doxygen and fails
# on any warning (an undocumented public member, a broken reference).
#   docs_test.sh SOURCE_DIR [OUTPUT_DIR]   (default: a scratch directory)
set -euo pipefail
source=$1
out=${2:-}
if [ -z "$out" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
command -v doxygen >/dev/null || { echo "FAIL: doxygen is not installed (apt-get install doxygen)"; exit 1; }
mkdir -p "$out"
cd "$source"
{ cat docs/Doxyfile; echo "OUTPUT_DIRECTORY = $out"; echo "WARN_LOGFILE = $out/warnings.txt"; } | doxygen -
if [ -s "$out/warnings.txt" ]; then
  echo "FAIL: $(wc -l < "$out/warnings.txt") Doxygen warnings:"
  cat "$out/warnings.txt"
  exit 1
fi
echo "reference: $(find "$out/html" -name '*.html' | wc -l) pages in $out/html, no warnings"
