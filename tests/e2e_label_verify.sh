#!/usr/bin/env bash
# taskroute label --verify against the stand-in provider (tests/upstream_stub,
# on loopback): every answer is shown to its verifier and the confidence
# lands in the record's "verify" (a model whose verifier says Yes -> 1, No ->
# 0, a verifier that fails -> absent and counted), its cost apart in
# "verify_costs", in the dry run's estimate and in --max-spend; --verifier names another
# entry; a run killed with -9 midway resumes without asking any verification
# the journal holds again; and tune-cascade reads the output.
TR_E2E_NAME=tr_e2e_label_verify
. "$(dirname "$0")/server_lib.sh"
start_upstream_stub
B=$TR_BIN
U="http://127.0.0.1:$SP/v1"
cat > "$tmp/up.json" <<JSON
{"defaults": {"retries": 0},
 "models": {
  "quiz-good": {"base_url": "$U", "price": {"input_per_mtok": 1, "output_per_mtok": 2}},
  "quiz-doubt": {"base_url": "$U", "price": {"input_per_mtok": 0.5, "output_per_mtok": 1}},
  "quiz-vdown": {"base_url": "$U", "price": {"input_per_mtok": 0.2, "output_per_mtok": 0.4}},
  "slow-good": {"base_url": "$U", "model": "quiz-slow-good", "price": {"input_per_mtok": 1, "output_per_mtok": 2},
                "max_concurrency": 2},
  "fast-doubt": {"base_url": "$U", "model": "quiz-doubt-fast", "price": {"input_per_mtok": 1, "output_per_mtok": 2}},
  "doubter": {"base_url": "$U", "model": "quiz-doubt-verifier", "price": {"input_per_mtok": 3, "output_per_mtok": 3}}
 }}
JSON
count() { curl -s "http://127.0.0.1:$SP/stub/count?model=$1"; }
M3=quiz-good,quiz-doubt,quiz-vdown

# 1. the dry run counts the verifications in, and calls nothing
prompts V 40 > "$tmp/v.jsonl"
"$B" label "$tmp/v.jsonl" --upstreams "$tmp/up.json" -o "$tmp/v.out" --reference gold --match choice --models $M3 \
  --dry-run > "$tmp/dry0.txt" || fail "dry run failed"
"$B" label "$tmp/v.jsonl" --upstreams "$tmp/up.json" -o "$tmp/v.out" --reference gold --match choice --models $M3 \
  --verify --verify-samples 3 --dry-run > "$tmp/dry1.txt" || fail "dry run with --verify failed"
grep -q "verifications included" "$tmp/dry1.txt" || fail "the dry run does not say it counts verifications"
t0=$(awk '$1 == "total" {print $NF}' "$tmp/dry0.txt"); t1=$(awk '$1 == "total" {print $NF}' "$tmp/dry1.txt")
"$PY" -c "import sys; sys.exit(not float('$t1') > float('$t0') > 0)" || fail "the estimate with --verify ($t1) is not above without ($t0)"
[ "$(count verify:quiz-good)" = 0 ] || fail "the dry run verified"
ok "dry run: verifications estimated (\$$t1 against \$$t0), nothing called"

# 2. a run: confidences as the verifiers said, costs apart, failures counted
"$B" label "$tmp/v.jsonl" --upstreams "$tmp/up.json" -o "$tmp/v.out" --reference gold --match choice --models $M3 \
  --verify --verify-samples 3 2> "$tmp/v.log" || fail "label --verify failed: $(cat "$tmp/v.log")"
[ "$(wc -l < "$tmp/v.out")" = 40 ] || fail "expected 40 records"
"$PY" - "$tmp/v.out" <<'PY' || fail "verify fields are not as the verifiers said"
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    assert r["verify"] == {"quiz-good": 1, "quiz-doubt": 0}, r                  # Yes, No; quiz-vdown's verifier is down
    vc = r["verify_costs"]
    assert set(vc) == {"quiz-good", "quiz-doubt"}, r
    assert abs(vc["quiz-good"] - (20 * 1 + 3 * 2) / 1e6) < 1e-12, r              # the stub's usage: 20 in, k out
    assert abs(vc["quiz-doubt"] - (20 * 0.5 + 3 * 1) / 1e6) < 1e-12, r
    assert abs(r["costs"]["quiz-good"] - (7 * 1 + 5 * 2) / 1e6) < 1e-12, r        # the answer's cost is its own
    assert r["scores"] == {"quiz-good": 1, "quiz-doubt": 0, "quiz-vdown": 0}, r
PY
awk '$1 == "quiz-vdown" {exit !($(NF-2) == 0 && $(NF-1) == 40)}' "$tmp/v.log" || fail "verifier failures not counted: $(cat "$tmp/v.log")"
awk '$1 == "quiz-good" {exit !($(NF-2) == 40 && $(NF-1) == 0)}' "$tmp/v.log" || fail "verifications not counted: $(cat "$tmp/v.log")"
grep -q "verifier quiz-vdown on quiz-vdown's answer" "$tmp/v.log" || fail "no warning for the failing verifier"
[ "$(count verify:quiz-good)" = 40 ] && [ "$(count verify:quiz-doubt)" = 40 ] || fail "not one verification per answer"
ok "Yes -> 1, No -> 0, a verifier down -> absent and counted (40); verification costs apart"

# 3. re-running pays nothing; --verifier without --verify is a usage error
"$B" label "$tmp/v.jsonl" --upstreams "$tmp/up.json" -o "$tmp/v.out" --reference gold --match choice --models $M3 \
  --verify --verify-samples 3 -q || fail "re-run failed"
[ "$(count verify:quiz-good)" = 40 ] && [ "$(wc -l < "$tmp/v.out")" = 40 ] || fail "a re-run verified again or wrote again"
"$B" label "$tmp/v.jsonl" --upstreams "$tmp/up.json" -o "$tmp/x.out" --reference gold --verifier doubter 2> "$tmp/u.log"
[ $? = 2 ] && grep -q "needs --verify" "$tmp/u.log" || fail "--verifier without --verify accepted"
ok "a re-run verifies nothing again; --verifier needs --verify"

# 3b. --max-spend counts the verifications: answers and verifications together stay within the limit
prompts S 40 > "$tmp/s.jsonl"
"$B" label "$tmp/s.jsonl" --upstreams "$tmp/up.json" -o "$tmp/s.out" --reference gold --match choice --models quiz-good \
  --verify --max-tokens 10 --max-spend 0.0005 2> "$tmp/s.log" || fail "max-spend run failed: $(cat "$tmp/s.log")"
grep -q "stopped at --max-spend" "$tmp/s.log" || fail "no stop message"
"$PY" - "$tmp/s.out.journal" <<'PY' || fail "answers and verifications passed the limit"
import json, sys
es = [json.loads(l) for l in open(sys.argv[1])]
assert any(e["kind"] == "verify" for e in es)
s = sum(e["usd"] for e in es)
assert 0 < s <= 0.0005, s
PY
n=$(wc -l < "$tmp/s.out")
[ "$n" -gt 0 ] && [ "$n" -lt 40 ] || fail "expected some records, not all: $n"
ok "--max-spend with --verify stopped after $n of 40 prompts, answers and verifications within the limit"

# 4. --verifier: another entry verifies every model's answers
prompts W 5 > "$tmp/w.jsonl"
"$B" label "$tmp/w.jsonl" --upstreams "$tmp/up.json" -o "$tmp/w.out" --reference gold --match choice \
  --models quiz-good,quiz-doubt --verify --verifier doubter -q || fail "label --verifier failed"
"$PY" - "$tmp/w.out" <<'PY' || fail "--verifier's confidences wrong"
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    assert r["verify"] == {"quiz-good": 0, "quiz-doubt": 0}, r
    assert abs(r["verify_costs"]["quiz-good"] - (20 * 3 + 4 * 3) / 1e6) < 1e-12, r
PY
[ "$(count verify:quiz-doubt-verifier)" = 10 ] || fail "the named verifier was not asked once per answer"
ok "--verifier: the named entry verified all 10 answers"

# 5. kill -9 midway, resume: no verification the journal holds is asked again.  The slow model (2 at a time)
# lags behind the fast one, so at the kill many prompts have one pair verified and no record yet.
prompts K 30 > "$tmp/k.jsonl"
export STUB_LATENCY_MS=100
kargs=(label "$tmp/k.jsonl" --upstreams "$tmp/up.json" -o "$tmp/k.out" --reference gold --match choice
  --models slow-good,fast-doubt --concurrency 4 --verify)
"$B" "${kargs[@]}" -q 2> "$tmp/k1.log" &
kp=$!
for _ in $(seq 200); do [ "$(count verify:quiz-slow-good)" -ge 6 ] && break; sleep 0.05; done
kill -9 $kp; wait $kp 2>/dev/null
n1=$(wc -l < "$tmp/k.out")
[ "$n1" -lt 30 ] || fail "the run finished before the kill; the test proves nothing"
v1=$(grep -c '"kind":"verify"' "$tmp/k.out.journal")
[ "$v1" -gt $((2 * n1)) ] || fail "no prompt had a verification journaled and no record at the kill; the test proves nothing"
"$B" "${kargs[@]}" 2> "$tmp/k2.log" || fail "resume failed: $(cat "$tmp/k2.log")"
grep -q "resuming:" "$tmp/k2.log" || fail "no resume message"
"$PY" - "$tmp/k.out.journal" "$tmp/k.out" <<'PY' || fail "a verification was paid twice, or is missing"
import json, sys
seen = {}
for l in open(sys.argv[1]):
    e = json.loads(l)
    if e["kind"] == "verify":
        key = (e["id"], e["model"])
        assert key not in seen, ("verified twice", key)
        seen[key] = e["confidence"]
assert len(seen) == 60, len(seen)
rs = [json.loads(l) for l in open(sys.argv[2])]
assert len(rs) == 30 and len({r["id"] for r in rs}) == 30
for r in rs:
    assert r["verify"] == {"slow-good": 1, "fast-doubt": 0}, r
PY
# the verifications in flight at the kill were never answered, so they are asked again (at most --concurrency)
g=$(count verify:quiz-slow-good); d=$(count verify:quiz-doubt-fast)
[ $((g + d)) -ge 60 ] && [ $((g + d)) -le 64 ] || fail "verifications asked: $g + $d (expected 60, plus at most 4 in flight at the kill)"
unset STUB_LATENCY_MS
ok "kill -9 after $n1 records and $v1 verifications, resumed: none verified twice, 30 records with confidences"

# 6. the loop closes: train on the labels, tune the cascade on their confidences
"$B" train "$tmp/v.out" -o "$tmp/r.trm" -q > "$tmp/train.log" 2>&1 || fail "train refused the output: $(tail -n 3 "$tmp/train.log")"
"$B" tune-cascade "$tmp/r.trm" "$tmp/v.out" -o "$tmp/cascade.json" -q > "$tmp/tune.out" 2> "$tmp/tune.log" \
  || fail "tune-cascade refused the output: $(cat "$tmp/tune.log")"
"$PY" - "$tmp/cascade.json" <<'PY' || fail "the tuned cascade file: $(cat "$tmp/cascade.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert 0 <= j["threshold"] <= 1 and 0 <= j["tolerance"] <= 1 and "tuned" in j, j
PY
ok "train and tune-cascade read the labelled output"
echo "e2e_label_verify: all passed"
