#!/usr/bin/env bash
# `taskroute embed` end to end: help, usage errors (exit 2), a small fit on a
# generated dataset, the TRF32 header and size, determinism across threads,
# and a runtime error (exit 1) on a missing file.
set -u
bin=${TR_BIN:-build/taskroute}
[ -x "$bin" ] || { echo "no binary at $bin"; exit 77; }
tmp=$(mktemp -d /tmp/e2e_embed.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$bin" embed --help > "$tmp/help" || fail "--help exit $?"
grep -q -- "--dim D" "$tmp/help" || fail "help lacks --dim"
grep -q "\[256\]" "$tmp/help" || fail "help lacks the default dim"

"$bin" embed > /dev/null 2>&1; [ $? -eq 2 ] || fail "no args should exit 2"
"$bin" embed x.jsonl > /dev/null 2>&1; [ $? -eq 2 ] || fail "missing -o should exit 2"
"$bin" embed x.jsonl -o y --dim 0 > /dev/null 2>&1; [ $? -eq 2 ] || fail "--dim 0 should exit 2"
"$bin" embed x.jsonl -o y --dim 12abc > /dev/null 2>&1; [ $? -eq 2 ] || fail "--dim 12abc should exit 2"
"$bin" embed x.jsonl -o y --bogus > /dev/null 2>&1; [ $? -eq 2 ] || fail "unknown option should exit 2"
"$bin" embed "$tmp/none.jsonl" -o "$tmp/o.f32" 2> "$tmp/err"; [ $? -eq 1 ] || fail "missing file should exit 1"
[ -e "$tmp/o.f32" ] && fail "output written on failure"

# a small dataset: 4 topics x 30 prompts, ids 0..119, with non-ASCII text
/usr/bin/python3 - "$tmp/d.jsonl" <<'PY'
import json, random, sys
random.seed(3)
topics = [["integral", "derivative", "matrix", "théorème", "limit"],
          ["recipe", "oven", "flour", "crème", "butter"],
          ["pointer", "compile", "Python", "thread", "loop"],
          ["empire", "treaty", "中文", "dynasty", "king"]]
with open(sys.argv[1], "w") as f:
    for i in range(120):
        t = topics[i % 4]
        p = "Explain the %s and the %s, then the %s. 😀" % tuple(random.choice(t) for _ in range(3))
        f.write(json.dumps({"id": str(i), "prompt": p, "task": str(i % 4),
                            "scores": {"a": 1, "b": 0}, "costs": {"a": 0.01, "b": 0.001}},
                           ensure_ascii=False) + "\n")
PY
"$bin" embed "$tmp/d.jsonl" -o "$tmp/a.f32" --dim 8 --vocab 200 --threads 1 2> "$tmp/log" || { cat "$tmp/log"; fail "embed failed"; }
grep -q "120 records" "$tmp/log" || { cat "$tmp/log"; fail "no record count on stderr"; }
/usr/bin/python3 - "$tmp/a.f32" <<'PY' || fail "bad output file"
import struct, sys, math
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"TRF32\0\0\0", b[:8]
ver, n, d = struct.unpack("<IQI", b[8:24])
assert (ver, n, d) == (1, 120, 8), (ver, n, d)
assert len(b) == 24 + n * d * 4, len(b)
v = struct.unpack("<%df" % (n * d), b[24:])
for i in range(n):
    s = sum(x * x for x in v[i * d:(i + 1) * d])
    assert abs(s - 1) < 1e-4, (i, s)
PY
"$bin" embed "$tmp/d.jsonl" -o "$tmp/b.f32" --dim 8 --vocab 200 --threads 2 -q 2> "$tmp/log2" || fail "embed --threads 2 failed"
[ -s "$tmp/log2" ] && fail "-q still printed: $(cat "$tmp/log2")"
cmp -s "$tmp/a.f32" "$tmp/b.f32" || fail "1 and 2 threads differ"
"$bin" embed "$tmp/d.jsonl" -o "$tmp/c.f32" --dim 8 --vocab 200 --seed 7 -q || fail "seed 7 failed"
cmp -s "$tmp/a.f32" "$tmp/c.f32" && fail "another seed gave the same bytes"
"$bin" embed "$tmp/d.jsonl" -o - --dim 8 --vocab 200 --all -q | head -c 8 | grep -q TRF32 || fail "stdout output"
echo "e2e_embed: ok"
