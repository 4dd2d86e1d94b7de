#!/usr/bin/env bash
# `taskroute synth` end to end: help and exit codes, the file is written whole,
# the same seed gives the same bytes, another seed other bytes.
set -u
bin=${TR_BIN:-build/taskroute}
[ -x "$bin" ] || { echo "no binary at $bin"; exit 77; }
tmp=$(mktemp -d /tmp/e2e_synth.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$bin" synth --help > "$tmp/help" || fail "--help exit $?"
grep -q -- '--prompts N .*\[4000\]' "$tmp/help" || fail "--help lacks the prompts default"
grep -q -- '--seed S .*\[42\]' "$tmp/help" || fail "--help lacks the seed default"

"$bin" synth --bogus -o "$tmp/x.jsonl" 2> "$tmp/err"; rc=$?
[ $rc -eq 2 ] || fail "unknown option: exit $rc, want 2"
grep -q "unknown option '--bogus'" "$tmp/err" || fail "unknown option message: $(cat "$tmp/err")"
"$bin" synth --models 99 -o "$tmp/x.jsonl" 2> /dev/null; rc=$?
[ $rc -eq 2 ] || fail "--models 99: exit $rc, want 2"
"$bin" synth --prompts 12x -o "$tmp/x.jsonl" 2> /dev/null; rc=$?
[ $rc -eq 2 ] || fail "--prompts 12x: exit $rc, want 2"
"$bin" synth --prompts 10 2> /dev/null; rc=$?
[ $rc -eq 2 ] || fail "missing -o: exit $rc, want 2"
[ ! -e "$tmp/x.jsonl" ] || fail "a usage error left a file"
"$bin" synth -q --prompts 10 -o "$tmp/no/such/dir/x.jsonl" 2> /dev/null; rc=$?
[ $rc -eq 1 ] || fail "unwritable output: exit $rc, want 1"

"$bin" synth -q --prompts 500 --seed 7 -o "$tmp/a.jsonl" || fail "synth a"
"$bin" synth -q --prompts=500 --seed=7 -o "$tmp/b.jsonl" || fail "synth b"
"$bin" synth -q --prompts 500 --seed 8 -o "$tmp/c.jsonl" || fail "synth c"
[ "$(wc -l < "$tmp/a.jsonl")" -eq 500 ] || fail "want 500 lines, got $(wc -l < "$tmp/a.jsonl")"
cmp -s "$tmp/a.jsonl" "$tmp/b.jsonl" || fail "same seed, different bytes"
cmp -s "$tmp/a.jsonl" "$tmp/c.jsonl" && fail "different seeds, same bytes"
ls "$tmp" | grep -q tmp && fail "a temporary file was left behind"
"$bin" synth -q --prompts 500 --seed 7 -o - > "$tmp/d.jsonl" || fail "synth to stdout"
cmp -s "$tmp/a.jsonl" "$tmp/d.jsonl" || fail "stdout differs from the file"
"$bin" synth -q --prompts 50 --models 3 --tasks 2 --missing 0 --noise 0 -o - |
  /usr/bin/python3 -c '
import json, sys
rs = [json.loads(l) for l in sys.stdin]
assert len(rs) == 50
assert all(len(r["scores"]) == 3 and len(r["costs"]) == 3 for r in rs), "missing 0 drops labels"
assert len({r["task"] for r in rs}) <= 2
' || fail "--models/--tasks/--missing not honoured"
echo "e2e_synth: ok"
