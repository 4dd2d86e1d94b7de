#!/usr/bin/env bash
# taskroute label against the stand-in provider (tests/upstream_stub, on
# loopback): the dry run spends nothing; choice matching scores as the stub
# answered; costs from usage and, without usage, estimated and marked; a
# run killed with -9 midway resumes without asking any (prompt, model) pair
# twice; --max-spend stops within the limit; a scorer command that dies is
# a clear error and the re-run loses nothing; a judge's malformed verdict
# is no score, counted; 429 then 200 and a failing model; the server's
# decisions.jsonl as input; and the output trains.
TR_E2E_NAME=tr_e2e_label
. "$(dirname "$0")/server_lib.sh"
start_upstream_stub
B=$TR_BIN
U="http://127.0.0.1:$SP/v1"
cat > "$tmp/up.json" <<JSON
{"defaults": {"retries": 2, "backoff_ms": {"base": 20, "max": 200}, "retry_after_max_ms": 3000},
 "models": {
  "quiz-good": {"base_url": "$U", "price": {"input_per_mtok": 1, "output_per_mtok": 2}, "max_concurrency": 4},
  "quiz-bad": {"base_url": "$U", "price": {"input_per_mtok": 0.5, "output_per_mtok": 1}},
  "quiz-nousage": {"base_url": "$U", "price": {"input_per_mtok": 0.5, "output_per_mtok": 1}},
  "slow-good": {"base_url": "$U", "model": "quiz-slow-good", "price": {"input_per_mtok": 1, "output_per_mtok": 2}},
  "slow-bad": {"base_url": "$U", "model": "quiz-slow-bad", "price": {"input_per_mtok": 1, "output_per_mtok": 2}},
  "flaky": {"base_url": "$U", "model": "quiz-ratelimited-1-good", "price": {"input_per_mtok": 1, "output_per_mtok": 1}},
  "broken": {"base_url": "$U", "model": "fail", "price": {"input_per_mtok": 1, "output_per_mtok": 1}},
  "judge": {"base_url": "$U", "price": {"input_per_mtok": 3, "output_per_mtok": 3}}
 }}
JSON
pairs() { curl -s "http://127.0.0.1:$SP/stub/pairs"; }
asked() { pairs | awk -v m="$1" '$2 == m {s += $1} END {print s + 0}'; }
max_asked() { pairs | awk -v m="$1" '$2 == m && $1 > x {x = $1} END {print x + 0}'; }
trains() { "$B" train "$1" -o "$tmp/t.trm" -q > "$tmp/train.log" 2>&1 || fail "train refused $1: $(tail -n 3 "$tmp/train.log")"; }

# 1. dry run: the estimate, and not one call
prompts A 30 > "$tmp/a.jsonl"
"$B" label "$tmp/a.jsonl" --upstreams "$tmp/up.json" -o "$tmp/a.out" --reference gold --match choice \
  --models quiz-good,quiz-bad,quiz-nousage --dry-run > "$tmp/dry.txt" 2> "$tmp/dry.log" || fail "dry run failed"
grep -q '^total  *90 ' "$tmp/dry.txt" || fail "dry run: no total of 90 pairs: $(cat "$tmp/dry.txt")"
[ "$(asked quiz-good)" = 0 ] || fail "the dry run called a model"
[ ! -s "$tmp/a.out" ] || fail "the dry run wrote records"
ok "dry run: estimate printed, nothing called or written"

# 2. a run: choice scores, usage costs, estimated costs marked, then train
"$B" label "$tmp/a.jsonl" --upstreams "$tmp/up.json" -o "$tmp/a.out" --reference gold --match choice \
  --models quiz-good,quiz-bad,quiz-nousage 2> "$tmp/a.log" || fail "label failed: $(cat "$tmp/a.log")"
[ "$(wc -l < "$tmp/a.out")" = 30 ] || fail "expected 30 records"
"$PY" - "$tmp/a.out" <<'PY' || fail "records are not as the stub answered"
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    assert r["scores"] == {"quiz-good": 1, "quiz-bad": 0, "quiz-nousage": 0}, r
    assert abs(r["costs"]["quiz-good"] - (7 * 1 + 5 * 2) / 1e6) < 1e-12, r      # usage x price
    assert r["cost_estimated"] == {"quiz-nousage": True}, r
    assert "answers" not in r
PY
grep -q "quiz-nousage' answered without usage" "$tmp/a.log" || fail "no warning for a model without usage"
[ "$(grep -c 'without usage' "$tmp/a.log")" = 1 ] || fail "the usage warning is not once per model"
trains "$tmp/a.out"
ok "choice scores, costs from usage, estimated costs marked, warning once, output trains"

# 2b. which prompts first, with the router just trained: deterministic, the asked number, ids of the input
for st in random uncertain stratified; do
  "$B" label "$tmp/a.jsonl" --print-sample --sample 7 --strategy $st --router "$tmp/t.trm" --seed 3 > "$tmp/s1.ids" \
    2> "$tmp/ps.log" || fail "--print-sample --strategy $st failed: $(cat "$tmp/ps.log")"
  "$B" label "$tmp/a.jsonl" --print-sample --sample 7 --strategy $st --router "$tmp/t.trm" --seed 3 > "$tmp/s2.ids"
  cmp -s "$tmp/s1.ids" "$tmp/s2.ids" || fail "$st: not deterministic"
  [ "$(sort -u "$tmp/s1.ids" | wc -l)" = 7 ] || fail "$st: not 7 distinct ids"
  grep -qx A1 "$tmp/s1.ids" || grep -qx "A[0-9]*" "$tmp/s1.ids" || fail "$st: ids not from the input"
done
"$B" label "$tmp/a.jsonl" --print-sample --sample 3 --strategy uncertain 2> "$tmp/ps.log"; [ $? = 2 ] || fail "uncertain without a router accepted"
# the router's tokenizer estimates what a provider did not report
"$B" label "$tmp/a.jsonl" --upstreams "$tmp/up.json" -o "$tmp/r.out" --reference gold --match choice --models quiz-nousage \
  --router "$tmp/t.trm" --sample 3 2> "$tmp/r.log" || fail "label with --router failed"
grep -q "estimated from the router's tokenizer" "$tmp/r.log" || fail "the estimate does not name the router's tokenizer"
ok "--print-sample: random, uncertain, stratified deterministic; tokens estimated by the router's tokenizer"

# 3. the same command again pays nothing
before=$(asked quiz-good)
"$B" label "$tmp/a.jsonl" --upstreams "$tmp/up.json" -o "$tmp/a.out" --reference gold --match choice \
  --models quiz-good,quiz-bad,quiz-nousage -q || fail "re-run failed"
[ "$(asked quiz-good)" = "$before" ] && [ "$(wc -l < "$tmp/a.out")" = 30 ] || fail "a re-run called again or wrote again"
ok "re-running a finished command calls nothing"

# 4. kill -9 midway, resume: no pair asked twice, every prompt written once
prompts K 40 > "$tmp/k.jsonl"
export STUB_LATENCY_MS=100
kargs=(label "$tmp/k.jsonl" --upstreams "$tmp/up.json" -o "$tmp/k.out" --reference gold --match choice
  --models slow-good,slow-bad --concurrency 4 --keep-answers)
"$B" "${kargs[@]}" -q 2> "$tmp/k1.log" &
kp=$!
for _ in $(seq 100); do [ "$(asked quiz-slow-good)" -ge 10 ] && break; sleep 0.05; done
kill -9 $kp; wait $kp 2>/dev/null
n1=$(wc -l < "$tmp/k.out")
[ "$n1" -lt 40 ] || fail "the run finished before the kill; the test proves nothing"
cp "$tmp/k.out.journal" "$tmp/k1.journal"
# a torn last line, as a kill inside a write leaves it
printf '{"kind":"answer","id":"K1","mo' >> "$tmp/k.out.journal"
"$B" "${kargs[@]}" 2> "$tmp/k2.log" || fail "resume failed: $(cat "$tmp/k2.log")"
grep -q "torn last line" "$tmp/k2.log" || fail "the torn journal line was not reported"
grep -q "resuming:" "$tmp/k2.log" || fail "no resume message"
# a call in flight at the kill had no answer recorded, so it is asked again (at most --concurrency of them);
# no pair the journal holds may be
pairs > "$tmp/pairs.txt"
"$PY" - "$tmp/k1.journal" "$tmp/k.jsonl" "$tmp/pairs.txt" <<'PY' || fail "a pair already answered was asked again"
import json, sys
def fnv(s):
    h = 14695981039346656037
    for b in s.encode():
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h
prompt = {json.loads(l)["id"]: json.loads(l)["prompt"] for l in open(sys.argv[2])}
up = {"slow-good": "quiz-slow-good", "slow-bad": "quiz-slow-bad"}
paid = set()
for l in open(sys.argv[1]):
    try: e = json.loads(l)
    except ValueError: continue
    if e["kind"] == "answer": paid.add((up[e["model"]], fnv(prompt[e["id"]])))
twice = [(m, h) for n, m, h in (l.split() for l in open(sys.argv[3])) if m in up.values() and int(n) > 1]
assert not [p for p in twice if p in paid], twice
assert len(twice) <= 4, twice
assert len(paid) > 0
PY
[ "$(pairs | grep -c ' quiz-slow-good ')" = 40 ] && [ "$(pairs | grep -c ' quiz-slow-bad ')" = 40 ] || fail "not every pair was asked"
[ "$(cut -d, -f1 "$tmp/k.out" | sort -u | wc -l)" = 40 ] && [ "$(wc -l < "$tmp/k.out")" = 40 ] || fail "records missing or repeated"
trains "$tmp/k.out"
ok "kill -9 after $n1 records, resumed: no answered pair asked again, 40 records, output trains"
unset STUB_LATENCY_MS

# 5. --max-spend: stops before the limit could be passed; what was paid stays below it
prompts M 40 > "$tmp/m.jsonl"
"$B" label "$tmp/m.jsonl" --upstreams "$tmp/up.json" -o "$tmp/m.out" --reference gold --match choice \
  --models quiz-good --max-tokens 10 --max-spend 0.0002 2> "$tmp/m.log" || fail "max-spend run failed: $(cat "$tmp/m.log")"
grep -q "stopped at --max-spend" "$tmp/m.log" || fail "no stop message"
"$PY" - "$tmp/m.out.journal" <<'PY' || fail "the spend passed the limit"
import json, sys
s = sum(json.loads(l)["usd"] for l in open(sys.argv[1]))
assert 0 < s <= 0.0002, s
PY
n=$(wc -l < "$tmp/m.out")
[ "$n" -gt 0 ] && [ "$n" -lt 40 ] || fail "expected some records, not all: $n"
[ "$(pairs | grep -c ' quiz-good ')" -ge "$n" ] || true
ok "--max-spend stopped after $n of 40 prompts, spend within the limit"

# 6. a scorer that dies: a clear error, the answers kept; the re-run asks nothing again
prompts S 20 > "$tmp/s.jsonl"
cat > "$tmp/die.sh" <<'SH'
n=0; while read -r l; do n=$((n+1)); [ $n -gt 6 ] && exit 3; echo 0.5; done
SH
"$B" label "$tmp/s.jsonl" --upstreams "$tmp/up.json" -o "$tmp/s.out" --scorer "sh $tmp/die.sh" \
  --models quiz-good,quiz-bad -q 2> "$tmp/s1.log" && fail "a dead scorer did not fail the run"
grep -q "scorer command .* exited with status 3 after 6 scores" "$tmp/s1.log" || fail "unclear scorer error: $(cat "$tmp/s1.log")"
grep -q "resume" "$tmp/s1.log" || fail "the error does not say how to go on"
"$B" label "$tmp/s.jsonl" --upstreams "$tmp/up.json" -o "$tmp/s.out" --reference gold \
  --scorer 'while read -r l; do case "$l" in *"the answer is"*) echo 1;; *) echo 0;; esac; done' \
  --models quiz-good,quiz-bad -q 2> "$tmp/s2.log" || fail "the re-run with a working scorer failed: $(cat "$tmp/s2.log")"
[ "$(max_asked quiz-good)" = 1 ] && [ "$(max_asked quiz-bad)" = 1 ] || fail "the scorer's crash cost a pair twice"
[ "$(wc -l < "$tmp/s.out")" = 20 ] || fail "not every prompt written after the re-run"
"$PY" - "$tmp/s.out" <<'PY' || fail "scores are not the scorer's"
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    assert r["scores"]["quiz-good"] in (0.5, 1) and r["scores"]["quiz-bad"] in (0.5, 0), r
PY
ok "a dying scorer: clear error, nothing lost, re-run pays nothing twice"

# 7. a judge: verdicts and their cost apart; a malformed verdict is no score, counted
{ prompts J 24; prompts G 6 "judge=garbage"; } > "$tmp/j.jsonl"
"$B" label "$tmp/j.jsonl" --upstreams "$tmp/up.json" -o "$tmp/j.out" --judge judge --reference gold \
  --models quiz-good,quiz-bad 2> "$tmp/j.log" || fail "judge run failed: $(cat "$tmp/j.log")"
"$PY" - "$tmp/j.out" <<'PY' || fail "judge records wrong"
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    assert set(r["judge_costs"]) == {"quiz-good", "quiz-bad"}, r
    if "judge=garbage" in r["prompt"]:
        assert r["scores"] == {}, r
    else:
        assert r["scores"] == {"quiz-good": 1, "quiz-bad": 0}, r
PY
awk '$1 == "quiz-good" {exit !($NF == 6)}' "$tmp/j.log" || fail "malformed verdicts not counted: $(cat "$tmp/j.log")"
trains "$tmp/j.out"   # partial labels: 6 records with costs and no scores
ok "judge: scores, judge costs apart, 6 malformed verdicts per model counted and left unscored; train takes the partial labels"

# 8. 429 then 200 (retried), a model that always fails (left unlabelled)
prompts F 3 > "$tmp/f.jsonl"
"$B" label "$tmp/f.jsonl" --upstreams "$tmp/up.json" -o "$tmp/f.out" --reference gold --match choice \
  --models flaky,broken 2> "$tmp/f.log" || fail "run with failing models failed: $(cat "$tmp/f.log")"
"$PY" - "$tmp/f.out" <<'PY' || fail "429/5xx handling wrong"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
assert len(rs) == 3
for r in rs:
    assert r["scores"] == {"flaky": 1} and "broken" not in r["costs"], r
PY
awk '$1 == "broken" {exit !($3 == 3)}' "$tmp/f.log" || fail "failures not counted"
ok "429 retried to an answer; a failing model counted and left unlabelled"

# 9. the server's decisions.jsonl as input
for i in 1 2 3; do
  echo "{\"unix_ms\":1,\"request_id\":\"req-$i\",\"prompt\":\"D question $i ref=B\",\"model\":\"x\",\"task\":2,\"task_name\":\"t\",\"policy\":\"default\",\"lambda\":0}"
done > "$tmp/decisions.jsonl"
"$B" label "$tmp/decisions.jsonl" --upstreams "$tmp/up.json" -o "$tmp/d.out" --judge judge --models quiz-good -q \
  || fail "decisions.jsonl input failed"
[ "$("$PY" -c 'import json,sys; print(" ".join(sorted(json.loads(l)["id"] for l in open(sys.argv[1]))))' "$tmp/d.out")" = "req-1 req-2 req-3" ] \
  || fail "ids are not the request ids"
ok "decisions.jsonl read as is (request_id as id)"

# 10. usage errors name what is missing
"$B" label "$tmp/a.jsonl" --upstreams "$tmp/up.json" -o "$tmp/x.out" 2> "$tmp/u.log"; [ $? = 2 ] || fail "no scorer: not a usage error"
grep -q "nothing scores the answers" "$tmp/u.log" || fail "unclear usage message"
"$B" label "$tmp/a.jsonl" --upstreams "$tmp/up.json" -o "$tmp/x.out" --reference gold --models nosuch 2> "$tmp/u.log"; [ $? = 2 ] || fail "unknown model accepted"
ok "usage errors"
echo "e2e_label: all passed"
