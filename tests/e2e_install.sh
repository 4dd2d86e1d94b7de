#!/usr/bin/env bash
# End-to-end: `make install` into a temporary prefix, then build the gateway
# example (docs/example_gateway.c) against it through pkg-config, as a
# gateway author would, and route with it.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
[ -n "${TR_SANITIZED:-}" ] && { echo "skip: the install test runs in the plain build only"; exit 77; }
make -s install PREFIX="$tmp/prefix" > "$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; echo "FAIL make install"; exit 1; }
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
pkg-config --exists taskroute || { echo "FAIL taskroute.pc not found"; exit 1; }
cc -std=c11 -Wall -Wextra -Werror docs/example_gateway.c $(pkg-config --cflags --libs taskroute) \
   -Wl,-rpath,"$tmp/prefix/lib" -o "$tmp/gw" || { echo "FAIL example does not build against the installed library"; exit 1; }
bin=${TR_BIN:-build/taskroute}
head -n 800 data/demo.jsonl > "$tmp/d.jsonl"
"$bin" train "$tmp/d.jsonl" -o "$tmp/r.trm" -q --dim 32 --vocab 400 --cv-folds 3 || { echo "FAIL train"; exit 1; }
out=$("$tmp/gw" "$tmp/r.trm" "Translate this sentence to French: good morning" "Write a function that reverses a list")
echo "$out"
[ "$(printf '%s\n' "$out" | grep -c 'task ')" -eq 2 ] || { echo "FAIL two decisions expected"; exit 1; }
"$tmp/gw" "$tmp/nope.trm" x 2> "$tmp/e"; [ $? -eq 1 ] && grep -q nope.trm "$tmp/e" || { echo "FAIL missing router not reported"; exit 1; }
echo "e2e_install: ok"
