#!/usr/bin/env bash
# The shared library exports exactly the functions include/taskroute.h
# declares with TR_API: no internal symbol leaks out, no public one is
# missing.  Prints the difference and fails when the two lists disagree.
#   scripts/check-api.sh [LIB.so [HEADER]]   (defaults: build/libtaskroute.so, include/taskroute.h)
set -euo pipefail
lib=${1:-build/libtaskroute.so}
hdr=${2:-include/taskroute.h}
[ -e "$lib" ] || { echo "check-api: $lib not found (make first)" >&2; exit 1; }
[ -f "$hdr" ] || { echo "check-api: $hdr not found" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# A public declaration starts its line with TR_API and names its function
# before the first parenthesis on that line; one without TR_API would be
# hidden by the build, so it is an error too.
sed -n 's/^TR_API[^(]*[ *]\(tr_[A-Za-z0-9_]*\)(.*/\1/p' "$hdr" | sort -u > "$tmp/header"
if grep -n '^[A-Za-z][A-Za-z0-9_ *]*[ *]tr_[A-Za-z0-9_]*(' "$hdr" | grep -v '^[0-9]*:TR_API ' > "$tmp/bare"; then
  sed 's/^/check-api: declared without TR_API (the library would not export it): /' "$tmp/bare" >&2
  exit 1
fi
# defined dynamic symbols of every kind but the absolute version-node ones
nm -D --defined-only "$lib" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' | sort -u > "$tmp/exported"
nh=$(wc -l < "$tmp/header"); ne=$(wc -l < "$tmp/exported")
[ "$nh" -gt 0 ] || { echo "check-api: no TR_API declaration found in $hdr" >&2; exit 1; }
if ! cmp -s "$tmp/header" "$tmp/exported"; then
  echo "check-api: $lib exports $ne symbols, $hdr declares $nh functions" >&2
  comm -13 "$tmp/header" "$tmp/exported" | sed 's/^/  exported, not in the header: /' >&2
  comm -23 "$tmp/header" "$tmp/exported" | sed 's/^/  in the header, not exported: /' >&2
  exit 1
fi
echo "check-api: $ne exported symbols = the header's $nh functions"
