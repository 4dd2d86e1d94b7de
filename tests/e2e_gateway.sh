#!/usr/bin/env bash
# End-to-end test of `taskroute serve` as a gateway in front of real-shaped
# providers: the real server, tests/upstream_stub playing every provider
# (429 then 200, 503 always, never answering, garbage JSON, a stream cut
# mid-way, answers with and without usage), all on loopback.  It asserts
# outcomes -- status codes, bodies, headers, the stub's request counts,
# /metrics counters and breaker states -- never durations.
#   start-up warnings; inbound keys (401 shape, reload); GET /v1/models;
#   virtual model names and the effective lambda; pinning with and without
#   fallback; retries (429 honoured, 503 retried, time-outs not); fallback
#   along the router's ranking (plain and streamed before the first byte);
#   header and body pass-through; rate-limit headers returned; usage, USD
#   per model and key, savings; the circuit breaker opening and closing;
#   prices rescaling the router's costs; the table reloaded with the router.
# Exit 0 pass, 1 fail, 77 skip (no trainer).
TR_E2E_NAME=tr_e2e_gateway
. "$(dirname "$0")/server_lib.sh"
make_router
start_upstream_stub
S="http://127.0.0.1:$SP"

data=data/demo.jsonl
[ -f "$data" ] || data="$tmp/demo.jsonl"
mapfile -t MODELS < <("$PY" -c "import json,sys; print('\n'.join(json.loads(open(sys.argv[1]).readline())['scores']))" "$data")
[ "${#MODELS[@]}" -ge 6 ] || fail "the demo data needs 6 models, has ${#MODELS[@]}"

# reference prices: every model at 1 USD per Mtok in and out
"$PY" - "$tmp/ref_prices.json" "${MODELS[@]}" <<'PYEOF'
import json, sys
json.dump({"models": {m: {"base_url": "http://127.0.0.1:9/v1", "price": {"input_per_mtok": 1, "output_per_mtok": 1}}
                      for m in sys.argv[2:]}}, open(sys.argv[1], "w"))
PYEOF
"$TR_BIN" train "$data" -o "$tmp/rp.trm" --prices "$tmp/ref_prices.json" > "$tmp/train_prices.log" 2>&1 || fail "train --prices"
grep -q "reference prices of ${#MODELS[@]} model(s) recorded" "$tmp/train_prices.log" || fail "train --prices said: $(cat "$tmp/train_prices.log")"
"$TR_BIN" inspect "$tmp/rp.trm" | grep -q "^reference prices: ${#MODELS[@]} of ${#MODELS[@]} models$" || fail "inspect: no reference prices"
"$TR_BIN" inspect "$tmp/r.trm" | grep -q "^default policy: lambda " || fail "inspect: no default policy"

# the router's best single model (the savings baseline) from a plain server
start_server plain
req GET "http://127.0.0.1:$PORT_plain/healthz"
BEST=$(jget "$tmp/body" 'j["policy"]["router_estimate"]["best_model"]')
DLAMBDA=$(jget "$tmp/body" 'j["policy"]["lambda"]')
[ "$(jget "$tmp/body" 'j["policy"]["source"]')" = router ] || fail "default policy source: $(cat "$tmp/body")"
[ -n "$BEST" ] || fail "no best model in /healthz: $(cat "$tmp/body")"
grep -q "default policy: the router's, lambda=" "$tmp/plain.log" || fail "no default policy line at start"
kill -TERM "$PID_plain"; wait "$PID_plain"
ok "the router's default policy: lambda $DLAMBDA, best single model $BEST"

# roles for the other models
others=()
for m in "${MODELS[@]}"; do [ "$m" = "$BEST" ] || others+=("$m"); done
R429=${others[0]}; R503=${others[1]}; RHANG=${others[2]}; RSW=${others[3]}; MISSING=${others[4]}

write_table() {   # write_table FILE PRICE_OF_R429
  "$PY" - "$1" "$SP" "$BEST" "$R429" "$R503" "$RHANG" "$RSW" "$2" <<'PYEOF'
import json, sys
f, sp, best, r429, r503, rhang, rsw, p429 = sys.argv[1:]
u = "http://127.0.0.1:%s/v1" % sp
price = lambda i, o: {"input_per_mtok": i, "output_per_mtok": o}
json.dump({
  "_comment": "the gateway test's table",
  "defaults": {"timeout_ms": {"connect": 1000, "total": 5000}, "retries": 2,
               "backoff_ms": {"base": 10, "max": 50}, "retry_after_max_ms": 3000,
               "breaker": {"failures": 3, "cooldown_ms": 4000}},
  "models": {
    best: {"base_url": u, "model": "ok-best", "api_key_env": "TR_GW_UPKEY", "price": price(1, 1)},
    r429: {"base_url": u, "model": "ratelimited-2-a", "api_key_env": "TR_GW_UNSET", "price": price(float(p429), float(p429))},
    r503: {"base_url": u, "model": "unavail-b", "price": price(1, 1)},
    rhang: {"base_url": u, "model": "hang-c", "timeout_ms": 800, "price": price(1, 1)},
    rsw: {"base_url": u, "model": "switch-d", "price": price(1, 1)},
    "cheapo": {"base_url": u, "model": "ok-cheapo", "price": price(0.1, 0.2)},
    "spare": {"base_url": u, "model": "nousage-spare", "price": price(0.1, 0.2)},
    "limited": {"base_url": u, "model": "ratelimited-e"},
    "junk": {"base_url": u, "model": "garbage-f"},
    "cutter": {"base_url": u, "model": "cut-g"}}}, open(f, "w"))
PYEOF
}
write_table "$tmp/up.json" 1
KEY1=client-key-one-0123456789; KEY2=client-key-two-0123456789; KEY3=client-key-three-012345678
printf '# inbound keys\n%s\n\n  %s  \n' "$KEY1" "$KEY2" > "$tmp/keys.txt"
# the router without reference prices first: start-up says so
TR_GW_UPKEY=sekrit start_server gw --upstreams "$tmp/up.json" --api-keys "$tmp/keys.txt"
U="http://127.0.0.1:$PORT_gw"

auth=(-H "Authorization: Bearer $KEY1")
reqh() {   # reqh METHOD URL DATA [curl args...] -> $code, $tmp/body, $tmp/hdr
  local m=$1 url=$2 d=$3; shift 3
  if [ -n "$d" ]; then
    code=$(curl -s -m 30 -X "$m" -o "$tmp/body" -D "$tmp/hdr" -w '%{http_code}' -H 'Content-Type: application/json' "$@" --data-binary "$d" "$url")
  else
    code=$(curl -s -m 30 -X "$m" -o "$tmp/body" -D "$tmp/hdr" -w '%{http_code}' "$@" "$url")
  fi
}
# ---- start-up warnings
for want in "router model '$MISSING' has no entry in the upstream table" "model 'cheapo' is not one of the router's" \
    "\$TR_GW_UNSET (api_key_env) is not set" "holds no reference prices"; do
  grep -qF -- "$want" "$tmp/gw.log" || fail "no start-up warning '$want': $(cat "$tmp/gw.log")"
done
ok "start-up warnings: a router model without upstream, a table model the router lacks, an unset key, no reference prices"

# ---- inbound keys
reqh GET "$U/healthz" ""
[ "$code" = 200 ] || fail "healthz needs no key: $code"
reqh GET "$U/v1/models" ""; expect_error 401 invalid_api_key "didn't provide an API key"
[ "$(jget "$tmp/body" 'j["error"]["type"]')" = invalid_request_error ] || fail "401 type"
reqh GET "$U/v1/models" "" -H "Authorization: Bearer wrong-key-0123456789"; expect_error 401 invalid_api_key "Incorrect API key"
grep -q "wrong-key" "$tmp/body" && fail "the 401 echoes the key"
reqh POST "$U/v1/route" '{"prompt": "hi"}'; expect_error 401 invalid_api_key "API key"
reqh GET "$U/metrics" ""; expect_error 401 invalid_api_key "API key"
reqh POST "$U/admin/reload" "" -H "Authorization: Bearer wrong-key-0123456789"; expect_error 401 invalid_api_key "API key"
# now the router trained with reference prices (equal to the table's)
cp "$tmp/rp.trm" "$tmp/r.trm"
reqh POST "$U/admin/reload" "" "${auth[@]}"
[ "$code" = 200 ] || fail "admin reload with a key: $code $(cat "$tmp/body")"
grep -q "rescale .* model(s)' cost estimates" "$tmp/gw.log" && fail "equal prices rescaled costs"
reqh GET "$U/v1/models" "" -H "Authorization: Bearer $KEY2"
[ "$code" = 200 ] || fail "the second key (white space around it in the file): $code"
ok "inbound keys: 401 OpenAI-shaped without or with a wrong key (never echoed), /healthz open"

# ---- GET /v1/models
reqh GET "$U/v1/models" "" "${auth[@]}"
"$PY" - "$tmp/body" "$MISSING" "${MODELS[@]}" <<'PYEOF' || fail "/v1/models: $(cat "$tmp/body")"
import json, sys
j = json.load(open(sys.argv[1])); missing = sys.argv[2]; models = sys.argv[3:]
assert j["object"] == "list"
ids = [d["id"] for d in j["data"]]
assert all(d["object"] == "model" and isinstance(d["created"], int) and d["owned_by"] for d in j["data"])
for v in ["taskroute", "taskroute:quality", "taskroute:cheap", "taskroute:cascade"]: assert v in ids, v
for m in models: assert (m in ids) == (m != missing), m
for t in ["cheapo", "spare", "limited"]: assert t in ids, t
assert len(ids) == len(set(ids))
PYEOF
ok "/v1/models: the policies, the routable models and the table's own, in OpenAI's list format"

# ---- virtual model names and the effective lambda
chat() {   # chat MODEL [extra JSON fields] [curl args...]
  local model=$1 extra=${2:-}; shift 2 2>/dev/null || shift $#
  reqh POST "$U/v1/chat/completions" "{\"model\": \"$model\"$extra, \"messages\": [{\"role\": \"user\", \"content\": \"Write a Python function that reverses a list.\"}]}" "${auth[@]}" "$@"
}
only_best=", \"taskroute\": {\"models\": [\"$BEST\"]}"
names=(taskroute:cheap taskroute:lambda=123 taskroute:quality taskroute:budget=0.5 taskroute)
wants=(inf 123 0 "" "$DLAMBDA")
for i in "${!names[@]}"; do
  name=${names[$i]}; want=${wants[$i]}
  chat "$name" "$only_best"
  [ "$code" = 200 ] || fail "chat with $name: $code $(cat "$tmp/body")"
  [ "$(header X-Taskroute-Policy)" = "$name" ] || fail "$name: policy header $(header X-Taskroute-Policy)"
  lam=$(header X-Taskroute-Lambda)
  if [ -n "$want" ]; then
    "$PY" -c "import sys; a,b=sys.argv[1],sys.argv[2]; assert a==b or abs(float(a)-float(b))<=1e-5*abs(float(b)), (a,b)" "$lam" "$want" \
      || fail "$name: lambda header $lam, wanted $want"
  else
    "$PY" -c "import sys; float(sys.argv[1])" "$lam" || fail "$name: lambda header '$lam'"
  fi
done
chat taskroute:cascade "$only_best"
[ "$code" = 200 ] && [ "$(header X-Taskroute-Cascade)" = accepted ] || fail "cascade of one model: $(cat "$tmp/hdr")"
chat taskroute:bogus ""; expect_error 400 unknown_model "names no policy"
chat gpt-4o "$only_best"
[ "$code" = 200 ] && header X-Taskroute-Note | grep -q "neither a policy nor a model" || fail "unknown model name: $code $(cat "$tmp/hdr")"
reqh POST "$U/v1/route" '{"prompt": "Write a Python function that reverses a list.", "lambda": 7}' "${auth[@]}"
"$PY" - "$tmp/body" <<'PYEOF' || fail "route selection: $(cat "$tmp/body")"
import json, sys
j = json.load(open(sys.argv[1]))
s = j["selection"]; assert s["mode"] == "lambda" and s["lambda"] == 7 and s["policy"] == "lambda=7", s
t = j["task"]; assert isinstance(t["id"], int) and t["id"] >= 0 and isinstance(t["index"], int) and t["name"], t
import re; assert re.fullmatch(r"[a-z0-9-]+", t["slug"]), t
PYEOF
[ "$(header X-Taskroute-Task-Id)" = "$(jget "$tmp/body" 'j["task"]["id"]')" ] || fail "task id header"
[ "$(header X-Taskroute-Task)" = "$(jget "$tmp/body" 'j["task"]["slug"]')" ] || fail "task slug header"
header X-Taskroute-Task | grep -qE '^[a-z0-9-]+$' || fail "task header not a slug: $(header X-Taskroute-Task)"
# a prompt like the demo's own (its code prompts name Go, Ruby, TypeScript)
reqh POST "$U/v1/route" '{"prompt": "Write a Go function that deduplicates an array."}' "${auth[@]}"
[ "$(jget "$tmp/body" 'j["ood"]')" = False ] && [ "$(header X-Taskroute-OOD)" = false ] \
  || fail "an ordinary prompt flagged out of distribution: $(header X-Taskroute-OOD) $(cat "$tmp/body")"
# a prompt in a script the training data never had: like no task
reqh POST "$U/v1/route" '{"prompt": "Ωμέγα λόγος ψυχή θάλασσα ουρανός φως νύχτα"}' "${auth[@]}"
[ "$(jget "$tmp/body" 'j["ood"]')" = True ] && [ "$(header X-Taskroute-OOD)" = true ] \
  || fail "an unseen script not flagged out of distribution: $(header X-Taskroute-OOD) $(cat "$tmp/body")"
reqh GET "$U/metrics" "" "${auth[@]}"
grep -qE '^taskroute_ood_decisions_total [1-9]' "$tmp/body" || fail "no OOD decision counted in /metrics"
reqh POST "$U/v1/route" '{"prompt": "Write a Python function that reverses a list."}' "${auth[@]}"
"$PY" -c "import json,sys; j=json.load(open(sys.argv[1])); s=j['selection']; assert s['policy']=='taskroute' and abs(s['lambda']-float(sys.argv[2]))<=1e-5*float(sys.argv[2]), s" "$tmp/body" "$DLAMBDA" \
  || fail "route without a knob: the router's default: $(cat "$tmp/body")"
ok "virtual names (cheap, lambda=, quality, budget=, taskroute, a cascade of one model), 400 for a bad one; lambda, stable task ids and the OOD flag in JSON, headers and /metrics"

# ---- pinning, 429 then 200, pass-through
count() { curl -s "$S/stub/count?model=$1" | tr -d '\n'; }
chat "$R429" ", \"fallback\": false"
[ "$code" = 200 ] || fail "429 then 200: $code $(cat "$tmp/body")"
[ "$(count ratelimited-2-a)" = 3 ] || fail "429 twice then 200: the stub saw $(count ratelimited-2-a) requests"
[ "$(header X-Taskroute-Model)" = "$R429" ] || fail "pinned model header: $(header X-Taskroute-Model)"
ok "pinned $R429: two 429s (Retry-After honoured), then 200 from the same model"

chat "$BEST" ", \"user\": \"u-17\", \"temperature\": 0.25, \"fallback\": true, \"taskroute\": {\"lambda\": 1}" \
  -H "X-Trace-Id: trace-42" -H "Connection: keep-alive, X-Hop-Only" -H "X-Hop-Only: 1"
[ "$code" = 200 ] || fail "pass-through request: $code $(cat "$tmp/body")"
"$PY" - "$tmp/body" "$KEY1" <<'PYEOF' || fail "pass-through: $(cat "$tmp/body")"
import json, sys
j = json.load(open(sys.argv[1])); r = j["stub_received"]
h = {k.lower(): v for k, v in r["headers"].items()}
assert h.get("x-trace-id") == "trace-42", h
assert h.get("authorization") == "Bearer sekrit", h          # the upstream's key, never the client's
assert sys.argv[2] not in json.dumps(r), "the inbound key reached the provider"
assert "x-hop-only" not in h, h
b = r["body"]
assert b["model"] == "ok-best" and b["user"] == "u-17" and b["temperature"] == 0.25, b
assert "taskroute" not in b and "fallback" not in b, b
PYEOF
[ "$(header x-ratelimit-remaining-requests)" = 99 ] || fail "rate-limit header not returned: $(cat "$tmp/hdr")"
ok "pass-through: extra headers and body fields reach the provider; hop-by-hop, Authorization and our fields do not; its rate-limit headers come back"

chat limited ", \"fallback\": false"
[ "$code" = 429 ] || fail "429 always: $code $(cat "$tmp/body")"
[ "$(header Retry-After)" = 1 ] && [ "$(header x-ratelimit-remaining-requests)" = 99 ] || fail "429 headers: $(cat "$tmp/hdr")"
[ "$(jget "$tmp/body" 'j["error"]["code"]')" = rate_limit_exceeded ] || fail "429 body not the provider's: $(cat "$tmp/body")"
[ "$(count ratelimited-e)" = 3 ] || fail "429 always: $(count ratelimited-e) attempts, wanted 3"
ok "a provider that keeps answering 429: three attempts, then its 429 with Retry-After to the client"

# ---- 503 always: retried, then 502 or fallback along the ranking
chat "$R503" ", \"fallback\": false"
expect_error 502 upstream_error "answered HTTP 503"
[ "$(count unavail-b)" = 3 ] || fail "503: $(count unavail-b) attempts, wanted 3"
chat "$R503" ", \"taskroute\": {\"models\": [\"$R503\", \"$BEST\"]}"
[ "$code" = 200 ] || fail "503 with fallback: $code $(cat "$tmp/body")"
[ "$(header X-Taskroute-Model)" = "$BEST" ] && [ "$(header X-Taskroute-Fallback-From)" = "$R503" ] || fail "fallback headers: $(cat "$tmp/hdr")"
# streamed: the fallback happens before the first byte
curl -sN -m 30 -D "$tmp/hdr" -o "$tmp/sse" "${auth[@]}" -H 'Content-Type: application/json' \
  -d "{\"model\": \"$R503\", \"stream\": true, \"taskroute\": {\"models\": [\"$R503\", \"$BEST\"]}, \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}" \
  "$U/v1/chat/completions"
grep -q 'part2' "$tmp/sse" && grep -q '\[DONE\]' "$tmp/sse" && [ "$(header X-Taskroute-Model)" = "$BEST" ] \
  || fail "streamed fallback: $(cat "$tmp/hdr" "$tmp/sse")"
ok "503 always: 3 attempts then 502 when pinned without fallback; with fallback the next in the router's ranking answers (plain and streamed)"

# ---- never answering: one attempt (a time-out is not retried), 504
chat "$RHANG" ", \"fallback\": false"
expect_error 504 upstream_timeout "timed out after 800 ms"
[ "$(count hang-c)" = 1 ] || fail "hang: $(count hang-c) attempts, wanted 1"
ok "a provider that never answers: 504 after its time-out, not retried"

# ---- garbage, a cut stream, usage present and absent
chat junk ""
[ "$code" = 200 ] && grep -q "Bad Gateway (but sent as 200)" "$tmp/body" || fail "garbage: $code $(cat "$tmp/body")"
curl -sN -m 30 -o "$tmp/cut" "${auth[@]}" -H 'Content-Type: application/json' \
  -d '{"model": "cutter", "stream": true, "messages": [{"role": "user", "content": "hi"}]}' "$U/v1/chat/completions"
grep -q part0 "$tmp/cut" && ! grep -q '\[DONE\]' "$tmp/cut" || fail "cut stream: $(cat "$tmp/cut")"
[ "$(count cut-g)" = 1 ] || fail "a cut stream was retried: $(count cut-g)"
chat spare ""
[ "$code" = 200 ] || fail "no usage: $code"
chat cheapo ""
[ "$code" = 200 ] || fail "cheapo: $code"
reqh GET "$U/metrics" "" "${auth[@]}"
m() { grep -v '^#' "$tmp/body" | grep -F "$1" | head -n1 | awk '{print $NF}'; }
[ "$(m 'taskroute_upstream_answers_total{result="malformed"}')" -ge 1 ] || fail "garbage not counted malformed"
[ "$(m "taskroute_upstream_model_tokens_total{model=\"spare\",kind=\"prompt\"}")" = 0 ] || fail "usage absent counted"
[ "$(m "taskroute_upstream_model_tokens_total{model=\"cheapo\",kind=\"prompt\"}")" = 7 ] || fail "cheapo tokens"
"$PY" -c "import sys; assert abs(float(sys.argv[1]) - (7*0.1 + 5*0.2)/1e6) < 1e-12" "$(m 'taskroute_upstream_usd_total{model="cheapo"}')" \
  || fail "cheapo USD: $(m 'taskroute_upstream_usd_total{model="cheapo"}')"
"$PY" -c "import sys; assert float(sys.argv[1]) > 0" "$(m "taskroute_saved_usd_total ")" || fail "no saving counted: $(grep usd "$tmp/body")"
[ "$(m "taskroute_upstream_retries_total{model=\"$R429\"}")" = 2 ] || fail "retries of $R429"
[ "$(m "taskroute_upstream_failures_total{model=\"$R429\",reason=\"http_429\"}")" = 2 ] || fail "429s of $R429"
[ "$(m "taskroute_upstream_failures_total{model=\"$R503\",reason=\"http_5xx\"}")" -ge 3 ] || fail "5xx of $R503"
[ "$(m "taskroute_upstream_failures_total{model=\"$RHANG\",reason=\"timeout\"}")" = 1 ] || fail "timeouts of $RHANG"
grep -q '^taskroute_key_requests_total{key="k[0-9a-f]\{12\}"} [1-9]' "$tmp/body" || fail "no per-key requests"
grep -q '^taskroute_key_usd_total{key="k[0-9a-f]\{12\}"} 0\.[0-9]*[1-9]' "$tmp/body" || fail "no per-key USD: $(grep key_ "$tmp/body")"
grep -qF "$KEY1" "$tmp/body" && fail "a key in the metrics"
ok "garbage passed on and counted, a cut stream not retried, usage absent/present, USD per model and key, saving against $BEST"

# ---- the circuit breaker opens and closes
curl -s "$S/stub/down" > /dev/null
chat "$RSW" ", \"fallback\": false"
expect_error 502 upstream_error "answered HTTP 503"
chat "$RSW" ", \"fallback\": false"
expect_error 503 unavailable "open circuit"
[ "$(count switch-d)" = 3 ] || fail "the open circuit still sent requests: $(count switch-d)"
reqh GET "$U/metrics" "" "${auth[@]}"
[ "$(m "taskroute_upstream_breaker_state{model=\"$RSW\"}")" = 1 ] || fail "breaker not open: $(grep breaker "$tmp/body")"
[ "$(m "taskroute_upstream_skipped_total{model=\"$RSW\",reason=\"breaker_open\"}")" -ge 1 ] || fail "skips not counted"
# routed requests pass over it to the next model
chat "$RSW" ", \"taskroute\": {\"models\": [\"$RSW\", \"$BEST\"]}"
[ "$code" = 200 ] && [ "$(header X-Taskroute-Model)" = "$BEST" ] || fail "fallback past an open circuit: $code $(cat "$tmp/hdr")"
curl -s "$S/stub/up" > /dev/null
sleep 5   # past the 4 s cool-down: the next request probes
chat "$RSW" ", \"fallback\": false"
[ "$code" = 200 ] || fail "the probe after the cool-down: $code $(cat "$tmp/body")"
reqh GET "$U/metrics" "" "${auth[@]}"
[ "$(m "taskroute_upstream_breaker_state{model=\"$RSW\"}")" = 0 ] || fail "breaker not closed: $(grep breaker "$tmp/body")"
[ "$(m "taskroute_upstream_breaker_opens_total{model=\"$RSW\"}")" = 1 ] || fail "opens"
ok "breaker: 3 failures open it (503 without an attempt, fallback passes over it), a probe after the cool-down closes it"

# ---- prices rescale the router's costs; the table reloads with the router
reqh POST "$U/v1/route" '{"prompt": "Translate good morning into French.", "lambda": 1e12}' "${auth[@]}"
CHEAP=$(jget "$tmp/body" 'j["model"]')
C0=$(jget "$tmp/body" "[m['cost'] for m in j['models'] if m['name'] == '$R429'][0]")
write_table "$tmp/up.json" 1000
reqh POST "$U/admin/reload" "" "${auth[@]}"
[ "$code" = 200 ] || fail "reload with new prices: $code $(cat "$tmp/body")"
grep -q "the upstream table's prices rescale 1 model(s)' cost estimates" "$tmp/gw.log" || fail "no rescale note: $(tail -5 "$tmp/gw.log")"
reqh POST "$U/v1/route" '{"prompt": "Translate good morning into French.", "lambda": 1e12}' "${auth[@]}"
C1=$(jget "$tmp/body" "[m['cost'] for m in j['models'] if m['name'] == '$R429'][0]")
"$PY" -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); assert abs(b/a-1000)<1, (a,b)" "$C0" "$C1" || fail "cost not rescaled: $C0 -> $C1"
if [ "$CHEAP" = "$R429" ]; then
  [ "$(jget "$tmp/body" 'j["model"]')" != "$R429" ] || fail "the cheapest model, 1000 times dearer, is still chosen"
fi
echo '{"models": {"x": {"base_url": "http://x", "price": {"input_per_mtok": -1, "output_per_mtok": 1}}}}' > "$tmp/up.json"
reqh POST "$U/admin/reload" "" "${auth[@]}"
expect_error 409 reload_refused "up.json: models.x.price.input_per_mtok must be a number >= 0"
chat "$BEST" ", \"fallback\": false"
[ "$code" = 200 ] || fail "the old table stopped serving after a refused reload: $code"
ok "prices: the table's price x1000 rescales that model's cost estimate at reload ($C0 -> $C1); a malformed table is refused (409, file and field) and the old one serves"

# ---- keys reload with SIGHUP
write_table "$tmp/up.json" 1
printf '%s\n%s\n' "$KEY2" "$KEY3" > "$tmp/keys.txt"
kill -HUP "$PID_gw"
for _ in $(seq 50); do
  reqh GET "$U/v1/models" "" -H "Authorization: Bearer $KEY3"; [ "$code" = 200 ] && break; sleep 0.1
done
[ "$code" = 200 ] || fail "new key not admitted after SIGHUP"
reqh GET "$U/v1/models" "" "${auth[@]}"; expect_error 401 invalid_api_key "Incorrect API key"
printf 'short\n' > "$tmp/keys.txt"
reqh POST "$U/admin/reload" "" -H "Authorization: Bearer $KEY3"
expect_error 409 reload_refused "keys.txt:1: a key must have 16 to 256 characters"
reqh GET "$U/v1/models" "" -H "Authorization: Bearer $KEY3"
[ "$code" = 200 ] || fail "a refused keys file dropped the old keys"
ok "keys reload with SIGHUP (a removed key gets 401, a new one 200); a bad keys file is refused and the old keys stay"

kill -TERM "$PID_gw"; wait "$PID_gw"; [ $? = 0 ] || fail "gateway exit code"
ok "SIGTERM: clean exit"
echo "all gateway end-to-end checks passed"
