#!/usr/bin/env bash
# End-to-end test of `taskroute serve`: starts the real server (and
# tests/upstream_stub as the upstream chat API) on free loopback ports,
# drives every endpoint with curl, checks status codes AND error messages,
# reloads under concurrent load, refuses a bad router file, proxies
# (plain, streaming, upstream 500 -> 502 and hang -> 504 when the request
# forbids fallback, fallback otherwise), and stops
# everything cleanly.  Exit 0 pass, 1 fail, 77 skip (no trainer yet).
# TR_E2E_ROUTER=path uses that router file instead of training one.
TR_E2E_NAME=tr_e2e_server
. "$(dirname "$0")/server_lib.sh"
make_router
cp "$tmp/r.trm" "$tmp/r_good.trm"

# ---- the upstream stub
start_upstream_stub


# ---- first a plain server to learn the models
start_server plain --feedback-log "$tmp/fb" --max-body 4096 --conn-timeout 2 --reload-dir "$tmp"
P=$PORT_plain
req GET "http://127.0.0.1:$P/healthz"
[ "$code" = 200 ] || fail "healthz: $code"
[ "$(jget "$tmp/body" 'j["status"]')" = ok ] || fail "healthz status"
jget "$tmp/body" 'j["router"]["id"]' | grep -q '^fnv1a64:' || fail "healthz router id"
NM=$(jget "$tmp/body" 'len(j["router"]["models"])')
[ "$NM" -ge 2 ] || fail "the router needs 2 models at least, has $NM"
mapfile -t MODELS < <(jget "$tmp/body" '"\n".join(j["router"]["models"])')
M0=${MODELS[0]}; M1=${MODELS[1]}; M2=${MODELS[2]:-}
ok "healthz: $NM models ($M0, $M1, ...)"

U="http://127.0.0.1:$P"
req POST "$U/v1/route" '{"prompt": "Solve for x: 3x + 7 = 22. Show your steps."}'
[ "$code" = 200 ] || fail "route: $code $(cat "$tmp/body")"
"$PY" - "$tmp/body" "$NM" <<'PYEOF' || fail "route answer shape: $(cat "$tmp/body")"
import json, sys
j = json.load(open(sys.argv[1])); n = int(sys.argv[2])
assert j["request_id"].startswith("tr-")
assert isinstance(j["model"], str) and j["model"]
t = j["task"]; assert isinstance(t["id"], int) and isinstance(t["name"], str) and 0 <= t["probability"] <= 1
assert len(j["models"]) == n
assert all(set(m) == {"name", "quality", "cost", "candidate"} for m in j["models"])
assert j["model"] in [m["name"] for m in j["models"]]
assert j["routed_on"] == "prompt"
PYEOF
[ "$(header X-Taskroute-Model)" = "$(jget "$tmp/body" 'j["model"]')" ] || fail "X-Taskroute-Model header"
RID=$(jget "$tmp/body" 'j["request_id"]')
ok "route by prompt -> $(jget "$tmp/body" 'j["model"]') / $(jget "$tmp/body" 'j["task"]["name"]')"
req POST "$U/v1/route" '{"prompt": "Solve for x: 3x + 7 = 22. Show your steps."}'
[ "$(jget "$tmp/body" 'j["request_id"]')" != "$RID" ] || fail "request ids repeat"

req POST "$U/v1/route" '{"messages": [{"role": "system", "content": "You are a coder."}, {"role": "user", "content": "Write a C function that reverses a string."}], "lambda": 10}'
[ "$code" = 200 ] && [ "$(jget "$tmp/body" 'j["routed_on"]')" = messages ] || fail "route by messages: $(cat "$tmp/body")"
[ "$(jget "$tmp/body" 'j["selection"]["mode"]')" = lambda ] || fail "selection mode"
ok "route by messages"
req POST "$U/v1/route" "{\"prompt\": \"hello there\", \"models\": [\"$M1\"]}"
[ "$code" = 200 ] && [ "$(jget "$tmp/body" 'j["model"]')" = "$M1" ] || fail "models restriction: $(cat "$tmp/body")"
ok "route restricted to $M1"

# ---- errors: status and message
req POST "$U/v1/route" '{"prompt": "unterminated'; expect_error 400 invalid_json "malformed JSON"
req POST "$U/v1/route" '{"prompt": 42}'; expect_error 400 invalid_field '"prompt" must be a string'
req POST "$U/v1/route" '{"prompt": "   "}'; expect_error 400 empty_prompt '"prompt" is empty'
req POST "$U/v1/route" '{"prompt": "x", "models": ["no-such-model"]}'; expect_error 400 unknown_model "unknown model 'no-such-model'"
req POST "$U/v1/route" '{"prompt": "x", "lambda": 1, "risk": 0.1}'; expect_error 400 invalid_field "at most one of lambda"
req POST "$U/v1/route" '{"prompt": "x", "lambda": "big"}'; expect_error 400 invalid_field '"lambda" must be a number'
req GET "$U/v1/route"; expect_error 405 method_not_allowed "use POST"
[ "$(header Allow)" = POST ] || fail "405 without Allow header"
req GET "$U/no/such/path"; expect_error 404 not_found "no endpoint /no/such/path"
req POST "$U/v1/route" "{\"prompt\": \"$(head -c 5000 /dev/zero | tr '\0' a)\"}"; expect_error 413 body_too_large "larger than 4096 bytes"
req POST "$U/v1/chat/completions" '{"messages": [{"role": "user", "content": "hi"}]}'; expect_error 503 unavailable "no upstreams configured"
# a client that stalls mid-headers is cut off after --conn-timeout
t0=$SECONDS
exec 3<>"/dev/tcp/127.0.0.1/$P"
printf 'POST /v1/route HTTP/1.1\r\nHost: x\r\n' >&3
timeout 10 cat <&3 > /dev/null
exec 3<&-
[ $((SECONDS - t0)) -le 5 ] || fail "a stalled client was not cut off by --conn-timeout 2"
ok "errors: 400 (json, type, empty, unknown model, knobs), 405, 404, 413, 503"

# ---- feedback
req POST "$U/v1/feedback" "{\"request_id\": \"$RID\", \"model\": \"$M0\", \"score\": 0.75}"
[ "$code" = 200 ] || fail "feedback: $code $(cat "$tmp/body")"
grep -qF "\"request_id\":\"$RID\"" "$tmp/fb/feedback.jsonl" || fail "feedback not in the log"
"$PY" -c "import json,sys; [json.loads(l) for l in open(sys.argv[1])]" "$tmp/fb/feedback.jsonl" || fail "feedback log not JSONL"
req POST "$U/v1/feedback" '{"request_id": "r", "model": "m", "score": 2}'; expect_error 400 invalid_field '"score" must be a number in [0, 1]'
req POST "$U/v1/feedback" '{"model": "m", "score": 1}'; expect_error 400 invalid_field '"request_id" is required'
# the decision log carries what feedback joins on (train --feedback/--decisions)
"$PY" - "$tmp/fb/decisions.jsonl" "$RID" <<'PYEOF' || fail "decision log lacks the routed request"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
hit = [r for r in rows if r["request_id"] == sys.argv[2]]
assert hit and hit[0]["prompt"] and hit[0]["model"] and isinstance(hit[0]["task"], int), hit
PYEOF
ok "feedback recorded and validated; decision logged for the join"

# ---- metrics
req GET "$U/metrics"
[ "$code" = 200 ] || fail "metrics $code"
for want in 'taskroute_requests_total{endpoint="/v1/route",status="200"}' 'taskroute_requests_total{endpoint="/v1/route",status="400"}' \
    'taskroute_decisions_total{model=' 'taskroute_task_decisions_total{task=' 'taskroute_request_duration_seconds_bucket{endpoint="/v1/route",le="+Inf"}' \
    'taskroute_errors_total{code="unknown_model"} 1' 'taskroute_reloads_total{result="ok"} 0'; do
  grep -qF "$want" "$tmp/body" || fail "metrics lack $want"
done
ok "metrics"

# ---- connections spread over the two workers: four idle keep-alive
# connections opened back to back, then the metrics request's own
port=${U##*:}
exec 5<>"/dev/tcp/127.0.0.1/$port" 6<>"/dev/tcp/127.0.0.1/$port" 7<>"/dev/tcp/127.0.0.1/$port" 8<>"/dev/tcp/127.0.0.1/$port"
sleep 0.3
req GET "$U/metrics"
exec 5>&- 6>&- 7>&- 8>&-
spread=$(awk '/^taskroute_worker_connections\{/ { n++; s += $2; if (n == 1 || $2 < lo) lo = $2; if ($2 > hi) hi = $2 }
              END { printf "%d %d %d %d", n, s, lo, hi }' "$tmp/body")
read -r nw sum lo hi <<< "$spread"
[ "$nw" = 2 ] && [ "$sum" -ge 5 ] && [ $((hi - lo)) -le 1 ] || fail "connections per worker: $(grep '^taskroute_worker_connections{' "$tmp/body" | tr '\n' ' ')"
ok "connections spread over the workers ($lo and $hi of $sum)"

# ---- reload: admin endpoint, SIGHUP, bad files, under load
req POST "$U/admin/reload"
[ "$code" = 200 ] && [ "$(jget "$tmp/body" 'j["router"]["generation"]')" = 2 ] || fail "admin reload: $(cat "$tmp/body")"
kill -HUP "$PID_plain"
for _ in $(seq 50); do req GET "$U/healthz"; [ "$(jget "$tmp/body" 'j["router"]["generation"]')" = 3 ] && break; sleep 0.1; done
[ "$(jget "$tmp/body" 'j["router"]["generation"]')" = 3 ] || fail "SIGHUP reload"
ok "reload by POST /admin/reload and SIGHUP"

head -c 4096 /dev/urandom > "$tmp/bad.trm"
req POST "$U/admin/reload" "{\"path\": \"$tmp/bad.trm\"}"
expect_error 409 reload_refused "reload refused, the old router keeps serving"
req POST "$U/admin/reload" "{\"path\": \"$tmp/missing.trm\"}"
expect_error 409 reload_refused "missing.trm"
cp "$tmp/bad.trm" "$tmp/r.trm"; kill -HUP "$PID_plain"; sleep 0.5
grep -q "SIGHUP reload refused" "$tmp/plain.log" || fail "bad file on SIGHUP not reported"
req POST "$U/v1/route" '{"prompt": "still serving?"}'
[ "$code" = 200 ] || fail "old router stopped serving after a refused reload"
req GET "$U/healthz"
[ "$(jget "$tmp/body" 'j["router"]["generation"]')" = 3 ] || fail "generation moved on a refused reload"
cp "$tmp/r_good.trm" "$tmp/r.trm"
ok "bad router files refused (409 + message, SIGHUP), old router keeps serving"

# 4 client loops for 5 s while reloading 10 times; count non-200 answers.
# Each curl run sends 50 requests over one keep-alive connection (URL
# globbing), so the load does not depend on how fast processes start.
loop() {
  local end=$((SECONDS + 5)) n=0
  while [ $SECONDS -lt $end ] && [ $n -lt 200 ]; do
    curl -s -m 10 -w '\n%{http_code}\n' -d '{"prompt": "Translate good morning into French."}' "$U/v1/route?n=[1-50]" \
      | grep -E '^[0-9]{3}$'
    n=$((n + 1))
  done > "$tmp/load.$1"
}
lpids=()
for i in 1 2 3 4; do loop $i & lpids+=($!); done
reloads=0
for _ in $(seq 10); do
  sleep 0.4
  c=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST "$U/admin/reload")
  [ "$c" = 200 ] && reloads=$((reloads + 1))
done
wait "${lpids[@]}"
total=$(cat "$tmp"/load.* | wc -l)
bad=$(cat "$tmp"/load.* | grep -vc '^200$')
[ "$reloads" = 10 ] || fail "only $reloads of 10 reloads succeeded"
[ "$total" -gt 100 ] || fail "only $total requests in the load loop"
[ "$bad" = 0 ] || fail "$bad of $total requests failed during reloads: $(sort "$tmp"/load.* | uniq -c)"
ok "reload x10 under 4 concurrent client loops: $total requests, 0 failed"

# ---- clean shutdown
kill -TERM "$PID_plain"
for _ in $(seq 100); do kill -0 "$PID_plain" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID_plain" 2>/dev/null && fail "server still running 10 s after SIGTERM"
wait "$PID_plain"; rc=$?
[ $rc = 0 ] || fail "server exited $rc after SIGTERM"
ok "SIGTERM: clean exit 0"

# ---- the proxy
HANG=${M2:-$M1}
cat > "$tmp/up_a.json" <<JSON
{"models": {"$M0": {"base_url": "http://127.0.0.1:$SP/v1/", "model": "ok-$M0", "api_key_env": "TR_E2E_KEY"},
            "$M1": {"base_url": "http://127.0.0.1:$SP/v1", "model": "fail-$M1"}
            ${M2:+, \"$M2\": {\"base_url\": \"http://127.0.0.1:$SP/v1\", \"model\": \"hang-$M2\"\}}},
 "timeout_ms": 1000}
JSON
sed -i 's/\\}/}/; s/\\"/"/g' "$tmp/up_a.json"
TR_E2E_KEY=sekrit start_server proxy --upstreams "$tmp/up_a.json"
U="http://127.0.0.1:$PORT_proxy"
req POST "$U/v1/chat/completions" "{\"model\": \"$M0\", \"messages\": [{\"role\": \"user\", \"content\": \"Say hi\"}]}"
[ "$code" = 200 ] || fail "proxy: $code $(cat "$tmp/body")"
[ "$(jget "$tmp/body" 'j["choices"][0]["message"]["content"]')" = "echo model=ok-$M0 auth=Bearer sekrit" ] \
  || fail "proxy body: $(cat "$tmp/body")"
[ "$(header X-Taskroute-Model)" = "$M0" ] || fail "X-Taskroute-Model: $(cat "$tmp/hdr")"
[ -n "$(header X-Taskroute-Task)" ] || fail "no X-Taskroute-Task"
header X-Taskroute-Request-Id | grep -q '^tr-' || fail "no X-Taskroute-Request-Id"
ok "proxy: model rewritten, key sent, headers set"

# streaming: chunks must arrive spread in time (passed through, not buffered)
curl -sN -m 20 -D "$tmp/hdr" -H 'Content-Type: application/json' \
  -d "{\"model\": \"$M0\", \"stream\": true, \"messages\": [{\"role\": \"user\", \"content\": \"Say hi\"}]}" \
  "$U/v1/chat/completions" | while IFS= read -r line; do [ -n "$line" ] && echo "$(date +%s.%N) $line"; done > "$tmp/sse"
grep -q 'part0' "$tmp/sse" && grep -q 'part2' "$tmp/sse" && grep -q '\[DONE\]' "$tmp/sse" || fail "stream content: $(cat "$tmp/sse")"
grep -q "ok-$M0" "$tmp/sse" || fail "stream model not rewritten"
"$PY" - "$tmp/sse" <<'PYEOF' || fail "stream arrived in one piece: $(cat "$tmp/sse")"
import sys
t = [float(l.split(" ", 1)[0]) for l in open(sys.argv[1])]
assert len(t) == 5 and t[-1] - t[0] >= 0.2, t
PYEOF
header Content-Type | grep -q text/event-stream || fail "stream content type"
[ "$(header X-Taskroute-Model)" = "$M0" ] || fail "stream X-Taskroute-Model"
ok "proxy: SSE stream passed through chunk by chunk"

req POST "$U/v1/chat/completions" "{\"model\": \"$M1\", \"fallback\": false, \"messages\": [{\"role\": \"user\", \"content\": \"Say hi\"}]}"
expect_error 502 upstream_error "answered HTTP 500"
ok "proxy: upstream 500 -> 502 (the request forbids fallback)"
if [ -n "$M2" ]; then
  t0=$(date +%s.%N)
  req POST "$U/v1/chat/completions" "{\"model\": \"$M2\", \"fallback\": false, \"messages\": [{\"role\": \"user\", \"content\": \"Say hi\"}]}"
  t1=$(date +%s.%N)
  expect_error 504 upstream_timeout "timed out after 1000 ms"
  "$PY" -c "import sys; d=float(sys.argv[2])-float(sys.argv[1]); assert 0.9 <= d <= 4, d" "$t0" "$t1" || fail "504 took $t0..$t1"
  ok "proxy: hanging upstream -> 504 after the 1 s time-out"
else
  echo "note: 2-model router, hang test skipped"
fi
req GET "$U/metrics"
for want in 'taskroute_upstream_answers_total{result="ok"} 2' 'taskroute_upstream_tokens_total{kind="prompt"} 18' \
    'taskroute_upstream_tokens_total{kind="completion"} 8'; do
  grep -qF "$want" "$tmp/body" || fail "metrics lack $want: $(grep upstream_ "$tmp/body")"
done
ok "proxy: answers read for the metrics (2 ok, usage tokens counted, the stream's from its last chunk)"
req POST "$U/v1/chat/completions" '{"messages": "hi"}'; expect_error 400 invalid_field '"messages" must be an array'
req POST "$U/v1/chat/completions" '{"messages": [{"role": "user", "content": "x"}], "taskroute": {"models": ["nope"]}}'
expect_error 400 unknown_model "unknown model 'nope'"
kill -TERM "$PID_proxy"; wait "$PID_proxy"; [ $? = 0 ] || fail "proxy server exit code"

# fallback: the failing model falls back to M0
start_server fb --upstreams "$tmp/up_a.json" --fallback "$M0"
U="http://127.0.0.1:$PORT_fb"
req POST "$U/v1/chat/completions" "{\"model\": \"$M1\", \"messages\": [{\"role\": \"user\", \"content\": \"Say hi\"}]}"
[ "$code" = 200 ] || fail "fallback: $code $(cat "$tmp/body")"
[ "$(header X-Taskroute-Model)" = "$M0" ] && [ "$(header X-Taskroute-Fallback-From)" = "$M1" ] || fail "fallback headers: $(cat "$tmp/hdr")"
req GET "$U/metrics"
grep -qF 'taskroute_upstream_fallbacks_total 1' "$tmp/body" || fail "fallback not counted"
ok "proxy: fallback model used once after an upstream 500"
kill -TERM "$PID_fb"; wait "$PID_fb"; [ $? = 0 ] || fail "fallback server exit code"

# a 2xx answer that is not a chat answer passes through unchanged, counted
echo "{\"models\": {\"$M0\": {\"base_url\": \"http://127.0.0.1:$SP/v1\", \"model\": \"malformed-x\"}}}" > "$tmp/up_m.json"
start_server mal --upstreams "$tmp/up_m.json"
U="http://127.0.0.1:$PORT_mal"
req POST "$U/v1/chat/completions" "{\"model\": \"$M0\", \"messages\": [{\"role\": \"user\", \"content\": \"Say hi\"}]}"
[ "$code" = 200 ] && [ "$(cat "$tmp/body")" = '{"choices":[{"message":{"content":"cut' ] || fail "malformed answer not passed on: $code $(cat "$tmp/body")"
req GET "$U/metrics"
grep -qF 'taskroute_upstream_answers_total{result="malformed"} 1' "$tmp/body" || fail "malformed answer not counted"
grep -q "malformed answer (passed on as is): malformed JSON" "$tmp/mal.log" || fail "malformed answer not logged"
kill -TERM "$PID_mal"; wait "$PID_mal"; [ $? = 0 ] || fail "mal server exit code"
ok "proxy: a malformed 2xx answer passes through unchanged, counted and logged"

# a bad upstream file is refused at start
echo '{"models": {}}' > "$tmp/up_bad.json"
"$TR_BIN" serve "$tmp/r.trm" --listen 127.0.0.1:0 --upstreams "$tmp/up_bad.json" 2> "$tmp/bad_start.log" && fail "empty upstream table accepted"
grep -q '"models" must be a non-empty object' "$tmp/bad_start.log" || fail "bad upstream message: $(cat "$tmp/bad_start.log")"
ok "bad upstream table refused at start"
echo "all server end-to-end checks passed"
