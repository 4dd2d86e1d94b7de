#!/usr/bin/env bash
# End-to-end test of the verified cascade (model "taskroute:cascade") and
# the semantic answer cache (serve --cache) with tests/upstream_stub
# playing every provider and verifier, all on loopback.  Asserts outcomes
# (status, headers, bodies, the stub's request counts, /metrics), never
# durations; the one wait (TTL) is bounded.
#   tune-cascade and eval on simulated verifier confidences;
#   cascade: accepted; escalated up to the step cap with usage summed over
#   every answer and verification; a verifier that fails or says neither
#   yes nor no falls back to plain routing's model; streams refused.
#   cache: miss then hit (usage zero, no upstream call), whitespace and case
#   variants hit, another inbound key misses, "cache": false, streams not
#   cached, TTL, LRU eviction, purge on reload, /metrics counters.
# Exit 0 pass, 1 fail, 77 skip (no trainer).
TR_E2E_NAME=tr_e2e_cascade
. "$(dirname "$0")/server_lib.sh"
make_router
start_upstream_stub

data=data/demo.jsonl
[ -f "$data" ] || data="$tmp/demo.jsonl"
mapfile -t MODELS < <("$PY" -c "import json,sys; print('\n'.join(json.loads(open(sys.argv[1]).readline())['scores']))" "$data")

# table FILE PREFIX [VERIFIER_UPSTREAM]: every router model answered by the
# stub as "PREFIX-<i>" (the prefix picks the stub's verification answer)
table() {
  "$PY" - "$1" "$SP" "$2" "${3:-}" "${MODELS[@]}" <<'PYEOF'
import json, sys
f, sp, prefix, judge = sys.argv[1:5]; models = sys.argv[5:]
u = "http://127.0.0.1:%s/v1" % sp
t = {"defaults": {"timeout_ms": {"connect": 1000, "total": 5000}, "retries": 0},
     "models": {m: {"base_url": u, "model": "%s-%d" % (prefix, i), "price": {"input_per_mtok": 1 + i, "output_per_mtok": 2 + i}}
                for i, m in enumerate(models)}}
if judge: t["models"]["judge"] = {"base_url": u, "model": judge, "price": {"input_per_mtok": 1, "output_per_mtok": 1}}
json.dump(t, open(f, "w"))
PYEOF
}
upname() {   # upname PREFIX ROUTER-MODEL -> the stub's model name
  local i; for i in "${!MODELS[@]}"; do [ "${MODELS[$i]}" = "$2" ] && { echo "$1-$i"; return; }; done; echo "?"
}
count() { curl -s -m 5 "http://127.0.0.1:$SP/stub/count?model=$1"; }
P='Write a Python function that reverses a list.'
chat() {   # chat PORT MODEL PROMPT [extra JSON] [curl args...]
  local port=$1 model=$2 prompt=$3 extra=${4:-}; shift 4 2>/dev/null || shift $#
  local body
  body=$("$PY" -c "import json,sys; print(json.dumps({'model': sys.argv[1], 'messages': [{'role': 'user', 'content': sys.argv[2]}]}))" "$model" "$prompt")
  body="${body%\}}$extra}"
  code=$(curl -s -m 30 -o "$tmp/body" -D "$tmp/hdr" -w '%{http_code}' -H 'Content-Type: application/json' "$@" \
    --data-binary "$body" "http://127.0.0.1:$port/v1/chat/completions")
}
usage() { jget "$tmp/body" "'%d %d' % (j['usage']['prompt_tokens'], j['usage']['completion_tokens'])"; }

# ---- tune-cascade and eval on the demo data with simulated verifier confidences
"$PY" bench/cascade_sim.py "$data" "$tmp/demo_v.jsonl" 0.85 > "$tmp/sim.log" || fail "cascade_sim.py"
"$TR_BIN" tune-cascade "$tmp/r.trm" "$tmp/demo_v.jsonl" -o "$tmp/tuned.json" -q > "$tmp/tune.out" 2> "$tmp/tune.log" || fail "tune-cascade"
"$PY" - "$tmp/tuned.json" <<'PYEOF' || fail "the tuned file: $(cat "$tmp/tuned.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert (j.get("start") == "router") != ("tolerance" in j), j
assert j.get("start") == "router" or 0 <= j["tolerance"] <= 1, j
assert 0 <= j["threshold"] <= 1 and j["max_steps"] == 3 and j["k"] == 4, j
t = j["tuned"]["test"]
for k in ("quality", "cost", "q_at_cbest"): assert k in t["cascade"] and k in t["plain_routing"], t
PYEOF
grep -q "^cascade " "$tmp/tune.out" || fail "tune-cascade table: $(cat "$tmp/tune.out")"
"$TR_BIN" eval "$tmp/r.trm" "$tmp/demo_v.jsonl" -q > "$tmp/eval.out" 2>&1 || fail "eval with verifier confidences"
grep -q "^cascade: " "$tmp/eval.out" || fail "eval shows no cascade: $(tail -5 "$tmp/eval.out")"
"$TR_BIN" eval "$tmp/r.trm" "$data" -q > "$tmp/eval0.out" 2>&1 || fail "eval"
grep -q "^cascade: " "$tmp/eval0.out" && fail "eval shows a cascade without confidences"
"$TR_BIN" tune-cascade "$tmp/r.trm" "$data" -q 2> "$tmp/tune0.log" && fail "tune-cascade without confidences succeeded"
grep -q 'no "verify" confidences' "$tmp/tune0.log" || fail "tune-cascade's message: $(cat "$tmp/tune0.log")"
ok "tune-cascade writes the cascade file from simulated confidences; eval shows the cascade only when the data has them"

printf '{"tolerance": 1.0, "threshold": 0.5, "max_steps": 2, "k": 3}\n' > "$tmp/cascade2.json"
printf '{"tolerance": 1.0, "threshold": 0.5, "max_steps": 16, "k": 3}\n' > "$tmp/cascade16.json"
printf '{"tolerance": 1.0, "threshold": 0.5, "max_steps": 3, "k": 2, "verifier": "judge"}\n' > "$tmp/cascadej.json"

# ---- the chain the server must walk, from /v1/route's predictions (route/cascade.h)
table "$tmp/up_yes.json" yes
start_server yes --upstreams "$tmp/up_yes.json" --cascade "$tmp/cascade16.json" --cache 100 --cache-ttl 5
req POST "http://127.0.0.1:$PORT_yes/v1/route" "{\"prompt\": \"$P\"}"
[ "$code" = 200 ] || fail "route: $code"
PLAIN=$(jget "$tmp/body" 'j["model"]')
cp "$tmp/body" "$tmp/route.json"
# the chain from the cheapest within tolerance 1 (no start), or from a start model
chain_of() {
  "$PY" - "$tmp/route.json" "${1:-}" <<'PYEOF'
import json, sys
ms = json.load(open(sys.argv[1]))["models"]
q = {m["name"]: m["quality"] for m in ms if m["candidate"]}; c = {m["name"]: m["cost"] for m in ms if m["candidate"]}
def cheapest(ok):
    best = None
    for m in q:   # the router's order, as the server scans it
        if ok(m) and (best is None or c[m] < c[best] or (c[m] == c[best] and q[m] > q[best])): best = m
    return best
qmax = max(q.values()); m = sys.argv[2] or cheapest(lambda x: q[x] >= qmax - 1.0); chain = []
while m is not None:
    chain.append(m); cur = q[m]; m = cheapest(lambda x: q[x] > cur)
print("\n".join(chain))
PYEOF
}
mapfile -t CHAIN < <(chain_of)
[ "${#CHAIN[@]}" -ge 2 ] || { echo "skip: the demo router's chain for the test prompt has ${#CHAIN[@]} model(s)"; exit 77; }
ok "the chain for the test prompt: ${CHAIN[*]} (plain routing: $PLAIN)"

# ---- accepted: the first model answers, its verifier says yes
chat "$PORT_yes" taskroute:cascade "$P" ', "cache": false'
[ "$code" = 200 ] || fail "cascade accepted: $code $(cat "$tmp/body")"
[ "$(header X-Taskroute-Cascade)" = accepted ] || fail "accepted header: $(cat "$tmp/hdr")"
[ "$(header X-Taskroute-Cascade-Models)" = "${CHAIN[0]}" ] || fail "accepted chain: $(header X-Taskroute-Cascade-Models)"
[ "$(header X-Taskroute-Model)" = "${CHAIN[0]}" ] || fail "accepted model header"
[ "$(header X-Taskroute-Verifier-Confidence)" = 1 ] || fail "confidence header: $(header X-Taskroute-Verifier-Confidence)"
[ "$(count "verify:$(upname yes "${CHAIN[0]}")")" = 1 ] || fail "one verification of the first model"
[ "$(usage)" = "27 8" ] || fail "accepted usage (7+20, 5+3): $(usage)"
[ -z "$(header X-Taskroute-Cache)" ] || fail "\"cache\": false still looked up"
chat "$PORT_yes" taskroute:cascade "$P" ', "stream": true'
expect_error 400 invalid_field "does not stream"
ok "cascade accepted: one answer, one verification (k=3), usage summed; streams refused with 400"

# ---- escalated: every verifier says no; the cap stops at 2 models, then at the chain's end
table "$tmp/up_no.json" doubt
start_server no2 --upstreams "$tmp/up_no.json" --cascade "$tmp/cascade2.json"
chat "$PORT_no2" taskroute:cascade "$P"
[ "$code" = 200 ] || fail "escalated: $code $(cat "$tmp/body")"
[ "$(header X-Taskroute-Cascade)" = escalated ] || fail "escalated header: $(cat "$tmp/hdr")"
[ "$(header X-Taskroute-Cascade-Models)" = "${CHAIN[0]},${CHAIN[1]}" ] || fail "cap of 2: $(header X-Taskroute-Cascade-Models)"
[ "$(header X-Taskroute-Model)" = "${CHAIN[1]}" ] || fail "escalated model header"
jget "$tmp/body" 'j["choices"][0]["message"]["content"]' | grep -q "model=$(upname doubt "${CHAIN[1]}") " || fail "the second model's answer: $(cat "$tmp/body")"
[ "$(usage)" = "34 13" ] || fail "usage of 2 answers + 1 verification (7+20+7, 5+3+5): $(usage)"
[ "$(count "verify:$(upname doubt "${CHAIN[1]}")")" = 0 ] || fail "the last allowed model was verified"
start_server no16 --upstreams "$tmp/up_no.json" --cascade "$tmp/cascade16.json"
chat "$PORT_no16" taskroute:cascade "$P"
n=${#CHAIN[@]}
want=$(IFS=,; echo "${CHAIN[*]}")
[ "$code" = 200 ] && [ "$(header X-Taskroute-Cascade-Models)" = "$want" ] || fail "the whole chain: $(header X-Taskroute-Cascade-Models), wanted $want"
[ "$(usage)" = "$((7 * n + 20 * (n - 1))) $((5 * n + 3 * (n - 1)))" ] || fail "usage over $n answers: $(usage)"
req GET "http://127.0.0.1:$PORT_no16/metrics"
grep -q '^taskroute_cascade_total{outcome="escalated"} 1$' "$tmp/body" || fail "metrics: escalated count"
ok "cascade escalated: capped at max_steps (2), else the whole chain ($n models); usage summed over answers and verifications"

# ---- "start": "router": the chain begins at plain routing's model
printf '{"start": "router", "threshold": 0.5, "max_steps": 16, "k": 3}\n' > "$tmp/cascader.json"
start_server nor --upstreams "$tmp/up_no.json" --cascade "$tmp/cascader.json"
chat "$PORT_nor" taskroute:cascade "$P"
want=$(chain_of "$PLAIN" | paste -sd, -)
[ "$code" = 200 ] && [ "$(header X-Taskroute-Cascade-Models)" = "$want" ] || fail "from the router's choice: $(header X-Taskroute-Cascade-Models), wanted $want"
# a default policy that prices quality low: the router picks the cheapest, the chain climbs from there
start_server norl --upstreams "$tmp/up_no.json" --cascade "$tmp/cascader.json" --policy lambda=1e9
chat "$PORT_norl" taskroute:cascade "$P"
[ "$code" = 200 ] && [ "$(header X-Taskroute-Cascade-Models)" = "$(IFS=,; echo "${CHAIN[*]}")" ] || fail "from the cheapest choice: $(header X-Taskroute-Cascade-Models), wanted ${CHAIN[*]}"
printf '{"start": "cheapest"}\n' > "$tmp/cascadebad.json"
"$TR_BIN" serve "$tmp/r.trm" --cascade "$tmp/cascadebad.json" --port 0 2> "$tmp/bad.log" && fail "serve took a bad cascade file"
grep -q "field 'start'" "$tmp/bad.log" || fail "bad start's message: $(cat "$tmp/bad.log")"
ok "a cascade from the router's choice ($want; under a high lambda ${CHAIN[*]}), verified and escalated; a bad \"start\" refused naming the field"

# ---- verifier failure: plain routing's model answers
table "$tmp/up_vf.json" vdown
start_server vf --upstreams "$tmp/up_vf.json" --cascade "$tmp/cascade16.json"
chat "$PORT_vf" taskroute:cascade "$P"
[ "$code" = 200 ] || fail "verifier failure: $code $(cat "$tmp/body")"
[ "$(header X-Taskroute-Cascade)" = fallback ] || fail "fallback header: $(cat "$tmp/hdr")"
[ "$(header X-Taskroute-Model)" = "$PLAIN" ] || fail "fallback answered by $(header X-Taskroute-Model), plain routing picks $PLAIN"
want=${CHAIN[0]}; [ "$PLAIN" = "${CHAIN[0]}" ] || want="${CHAIN[0]},$PLAIN"
[ "$(header X-Taskroute-Cascade-Models)" = "$want" ] || fail "fallback chain: $(header X-Taskroute-Cascade-Models)"
table "$tmp/up_j.json" judged vjunk-judge
start_server vj --upstreams "$tmp/up_j.json" --cascade "$tmp/cascadej.json"
chat "$PORT_vj" taskroute:cascade "$P"
[ "$code" = 200 ] && [ "$(header X-Taskroute-Cascade)" = fallback ] || fail "a verifier saying neither yes nor no: $(cat "$tmp/hdr")"
[ "$(count verify:vjunk-judge)" = 1 ] && [ "$(count "verify:$(upname judged "${CHAIN[0]}")")" = 0 ] || fail "the table's verifier judged"
ok "verifier failure (HTTP 500, or an answer saying neither yes nor no from the table's verifier): plain routing's model answers"

# ---- the cache (server 'yes': --cache 100 --cache-ttl 5)
Y=$PORT_yes
up=$(upname yes "$PLAIN")
n0=$(count "$up")
chat "$Y" taskroute "$P" "" -H "Authorization: Bearer key-one"
[ "$code" = 200 ] && [ "$(header X-Taskroute-Cache)" = miss ] || fail "first: $code $(header X-Taskroute-Cache)"
first=$(jget "$tmp/body" 'j["choices"][0]["message"]["content"]')
chat "$Y" taskroute "$P" "" -H "Authorization: Bearer key-one"
[ "$code" = 200 ] && [ "$(header X-Taskroute-Cache)" = hit ] || fail "repeat: $(header X-Taskroute-Cache)"
[ "$(usage)" = "0 0" ] || fail "a hit's usage: $(usage)"
[ "$(jget "$tmp/body" 'j["choices"][0]["message"]["content"]')" = "$first" ] || fail "a hit's answer"
[ "$(header X-Taskroute-Model)" = "$PLAIN" ] || fail "a hit's model header"
chat "$Y" taskroute "  WRITE a python   function that reverses a LIST. " "" -H "Authorization: Bearer key-one"
[ "$(header X-Taskroute-Cache)" = hit ] || fail "white space and case: $(header X-Taskroute-Cache)"
[ "$(count "$up")" = $((n0 + 1)) ] || fail "hits called the upstream: $(count "$up") calls"
chat "$Y" taskroute "$P" "" -H "Authorization: Bearer key-two"
[ "$(header X-Taskroute-Cache)" = miss ] || fail "another key shares the entry"
chat "$Y" taskroute "$P" ', "cache": false' -H "Authorization: Bearer key-one"
[ -z "$(header X-Taskroute-Cache)" ] && [ "$(count "$up")" = $((n0 + 3)) ] || fail "\"cache\": false"
chat "$Y" taskroute:quality "$P" "" -H "Authorization: Bearer key-one"
[ "$(header X-Taskroute-Cache)" = miss ] || fail "another policy shares the entry"
chat "$Y" taskroute "Explain photosynthesis briefly." ', "stream": true' -H "Authorization: Bearer key-one"
[ "$code" = 200 ] && [ -z "$(header X-Taskroute-Cache)" ] || fail "a stream looked up"
chat "$Y" taskroute "Explain photosynthesis briefly." "" -H "Authorization: Bearer key-one"
[ "$(header X-Taskroute-Cache)" = miss ] || fail "a stream was stored"
req GET "http://127.0.0.1:$Y/metrics"
grep -q '^taskroute_cache_lookups_total{result="hit"} 2$' "$tmp/body" || fail "metrics hits: $(grep cache_lookups "$tmp/body")"
grep -q '^taskroute_cache_lookups_total{result="miss"} 4$' "$tmp/body" || fail "metrics misses: $(grep cache_lookups "$tmp/body")"
"$PY" -c "import re,sys; v=float(re.search(r'^taskroute_cache_saved_usd_total (\S+)$', open(sys.argv[1]).read(), re.M).group(1)); assert v > 0, v" "$tmp/body" \
  || fail "USD saved"
ok "cache: miss then hit (usage 0, no upstream call), white space and case hit, keys and policies apart, opt-out, streams not cached, /metrics"

# purge on reload (the entry stored anew first: the TTL is short)
chat "$Y" taskroute "$P" "" -H "Authorization: Bearer key-one"
chat "$Y" taskroute "$P" "" -H "Authorization: Bearer key-one"
[ "$(header X-Taskroute-Cache)" = hit ] || fail "hit before the reload"
req POST "http://127.0.0.1:$Y/admin/reload" ""
[ "$code" = 200 ] || fail "reload: $code $(cat "$tmp/body")"
chat "$Y" taskroute "$P" "" -H "Authorization: Bearer key-one"
[ "$(header X-Taskroute-Cache)" = miss ] || fail "the reload did not purge"
# TTL: 5 s (bounded wait)
chat "$Y" taskroute "$P" "" -H "Authorization: Bearer key-one"
[ "$(header X-Taskroute-Cache)" = hit ] || fail "hit before the TTL"
sleep 5.2
chat "$Y" taskroute "$P" "" -H "Authorization: Bearer key-one"
[ "$(header X-Taskroute-Cache)" = miss ] || fail "expired entry hit"
ok "cache: purged on reload; entries expire after --cache-ttl"

# LRU eviction: two entries
start_server lru --upstreams "$tmp/up_yes.json" --cache 2
for p in "$P" "Explain photosynthesis briefly." "Translate good morning into French."; do
  chat "$PORT_lru" taskroute "$p" ""
  [ "$(header X-Taskroute-Cache)" = miss ] || fail "lru fill"
done
chat "$PORT_lru" taskroute "Translate good morning into French." ""
[ "$(header X-Taskroute-Cache)" = hit ] || fail "the newest was evicted"
chat "$PORT_lru" taskroute "$P" ""
[ "$(header X-Taskroute-Cache)" = miss ] || fail "the oldest was kept"
req GET "http://127.0.0.1:$PORT_lru/metrics"
grep -q '^taskroute_cache_evictions_total{reason="capacity"} [12]$' "$tmp/body" || fail "evictions: $(grep evictions "$tmp/body")"
ok "cache: LRU eviction at --cache 2, counted"
for p in yes no2 no16 vf vj lru; do eval "kill -TERM \$PID_$p; wait \$PID_$p" 2>/dev/null; done
echo "e2e_cascade_cache: all passed"
