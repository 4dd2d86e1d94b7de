#!/usr/bin/env bash
# End-to-end test of online mode (`taskroute serve --online STATE.json`):
# routes prompts, posts feedback for them, checks the answers' "online"
# object, the exploration cap, feedback for unknown ids / other models, the
# /metrics counters, the state file after SIGTERM (non-zero counts), that
# the counts persist across a restart and a hot reload, and that a state
# file naming tasks/models the router lacks is loaded with the rest and the
# drop reported, and that the chat proxy routes online too (against
# tests/upstream_stub) with its feedback updating the posteriors.
# Exit 0 pass, 1 fail, 77 skip.
TR_E2E_NAME=tr_e2e_online
. "$(dirname "$0")/server_lib.sh"
make_router
ST="$tmp/online.json"
N=60
CAP=0.25

# route_and_feedback PORT : routes N prompts, posts feedback for each;
# counts explored answers into $explored and online updates into $updated
route_and_feedback() {
  local p=$1 i
  explored=0; updated=0
  for i in $(seq $N); do
    req POST "http://127.0.0.1:$p/v1/route" "{\"prompt\":\"Question $i: explain topic $((i % 7)) in detail, case $((i * 13 % 11))\",\"lambda\":100}"
    [ "$code" = 200 ] || fail "route $i: $code $(cat "$tmp/body")"
    local id model ex
    id=$(jget "$tmp/body" 'j["request_id"]')
    model=$(jget "$tmp/body" 'j["model"]')
    ex=$(jget "$tmp/body" 'j["online"]["explored"]')
    [ "$(jget "$tmp/body" 'j["online"]["policy"]')" = thompson ] || fail "no online policy: $(cat "$tmp/body")"
    [ "$ex" = True ] && explored=$((explored + 1))
    req POST "http://127.0.0.1:$p/v1/feedback" "{\"request_id\":\"$id\",\"model\":\"$model\",\"score\":$((i % 2))}"
    [ "$code" = 200 ] || fail "feedback $i: $code $(cat "$tmp/body")"
    [ "$(jget "$tmp/body" 'j["online_update"]')" = True ] && updated=$((updated + 1))
  done
}
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v k="$2" '$1 == k {print $2}'; }

# ---- online off by default: no "online" object, no online_update
start_server off --feedback-log "$tmp/fb0"
req POST "http://127.0.0.1:$PORT_off/v1/route" '{"prompt":"hello there","lambda":10}'
[ "$code" = 200 ] || fail "route (off): $code"
[ "$(jget "$tmp/body" '"online" in j')" = False ] || fail "online object without --online"
kill -TERM "$PID_off"; wait "$PID_off" 2>/dev/null
ok "online mode is off by default"

# ---- first run
start_server a --feedback-log "$tmp/fb" --online "$ST" --online-explore $CAP --online-save-every 1000
P=$PORT_a
req GET "http://127.0.0.1:$P/healthz"
[ "$(jget "$tmp/body" 'j["online"]')" = True ] || fail "healthz online flag"
route_and_feedback "$P"
[ "$updated" = "$N" ] || fail "only $updated of $N feedbacks updated the posteriors"
"$PY" -c "import sys; sys.exit(0 if $explored <= $CAP * $N + 1e-9 else 1)" || fail "explored $explored of $N > cap $CAP"
ok "route + feedback: $updated updates, $explored of $N explored (cap $CAP)"

[ "$(metric "$P" taskroute_online_decisions_total)" = "$N" ] || fail "metrics decisions: $(metric "$P" taskroute_online_decisions_total)"
[ "$(metric "$P" taskroute_online_explorations_total)" = "$explored" ] || fail "metrics explorations"
[ "$(metric "$P" taskroute_online_updates_total)" = "$N" ] || fail "metrics updates"
ok "metrics counters"

# feedback for an unknown id, for a known id twice, for another model
req POST "http://127.0.0.1:$P/v1/feedback" '{"request_id":"tr-nope-1","model":"x","score":1}'
[ "$code" = 200 ] || fail "unknown feedback: $code"
[ "$(jget "$tmp/body" 'j["online_update"]')" = False ] || fail "unknown id updated: $(cat "$tmp/body")"
jget "$tmp/body" 'j["online_reason"]' | grep -q "unknown or expired" || fail "reason: $(cat "$tmp/body")"
grep -q '"tr-nope-1"' "$tmp/fb/feedback.jsonl" || fail "unknown-id feedback not logged"
req POST "http://127.0.0.1:$P/v1/route" '{"prompt":"one more question about lists","lambda":100}'
id=$(jget "$tmp/body" 'j["request_id"]'); model=$(jget "$tmp/body" 'j["model"]')
req POST "http://127.0.0.1:$P/v1/feedback" "{\"request_id\":\"$id\",\"model\":\"${model}-other\",\"score\":1}"
[ "$(jget "$tmp/body" 'j["online_update"]')" = False ] || fail "other model updated"
jget "$tmp/body" 'j["online_reason"]' | grep -q "another model" || fail "reason other model: $(cat "$tmp/body")"
req POST "http://127.0.0.1:$P/v1/feedback" "{\"request_id\":\"$id\",\"model\":\"$model\",\"score\":1}"
[ "$(jget "$tmp/body" 'j["online_update"]')" = True ] || fail "right model after a wrong one: $(cat "$tmp/body")"
req POST "http://127.0.0.1:$P/v1/feedback" "{\"request_id\":\"$id\",\"model\":\"$model\",\"score\":1}"
[ "$(jget "$tmp/body" 'j["online_update"]')" = False ] || fail "second feedback for one id updated twice"
ok "feedback: unknown id, other model, duplicate -> online_update false; logged anyway"

# a hot reload keeps the posteriors
req POST "http://127.0.0.1:$P/admin/reload" ''
[ "$code" = 200 ] || fail "reload: $code $(cat "$tmp/body")"
grep -q "carried over to the reloaded router: kept [1-9]" "$tmp/a.log" || fail "reload did not carry the state"
[ -s "$ST" ] || fail "no state file after reload"
ok "hot reload carries the posteriors and saves"

kill -TERM "$PID_a"; wait "$PID_a" 2>/dev/null
[ -s "$ST" ] || fail "no state file after SIGTERM"
n1=$(jget "$ST" 'sum(e["n"] for e in j["entries"])')
d1=$(jget "$ST" 'j["decisions"]')
[ "$(jget "$ST" 'int(sum(e["n"] for e in j["entries"]))')" = $((N + 1)) ] || fail "state update count $n1, wanted $((N + 1))"
[ "$d1" = $((N + 1)) ] || fail "state decisions $d1"
ok "state saved on SIGTERM: $n1 updates, $d1 decisions"

# ---- restart: the counts persist and keep growing
start_server b --online "$ST" --online-explore $CAP
grep -q "online state $ST: kept [1-9]" "$tmp/b.log" || fail "restart did not load the state"
route_and_feedback "$PORT_b"
kill -TERM "$PID_b"; wait "$PID_b" 2>/dev/null
[ "$(jget "$ST" 'int(sum(e["n"] for e in j["entries"]))')" = $((2 * N + 1)) ] || fail "counts did not persist"
[ "$(jget "$ST" 'j["decisions"]')" = $((2 * N + 1)) ] || fail "decisions did not persist"
"$PY" -c "import json,sys; j=json.load(open('$ST')); sys.exit(0 if j['explored'] <= $CAP * j['decisions'] else 1)" \
  || fail "exploration over the cap across restarts"
ok "restart: counts persist ($((2 * N + 1)) updates), exploration under the cap"

# ---- a state file from another router: foreign entries dropped and said so
"$PY" - "$ST" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
j["entries"].append({"task_id": 987654, "model": "m", "a": 2, "b": 2, "n": 3})
j["entries"].append({"task_id": j["entries"][0]["task_id"], "model": "no-such-model", "a": 2, "b": 2, "n": 3})
json.dump(j, open(sys.argv[1], "w"))
PY
start_server c --online "$ST"
grep -q "dropped 2 for tasks/models this router does not have (first: task 987654 / model m (no such task))" "$tmp/c.log" \
  || fail "foreign entries not reported: $(grep online "$tmp/c.log")"
kill -TERM "$PID_c"; wait "$PID_c" 2>/dev/null
[ "$(jget "$ST" 'int(sum(e["n"] for e in j["entries"]))')" = $((2 * N + 1)) ] || fail "foreign entries survived"
ok "foreign state entries dropped and reported"

# ---- the chat proxy in online mode: the routed model answers, the answer
# says whether it explored, and feedback on it updates the posteriors
start_upstream_stub
start_server m --online "$tmp/chat_state.json"
req GET "http://127.0.0.1:$PORT_m/healthz"
"$PY" - "$tmp/body" "$SP" > "$tmp/up.json" <<'PY'
import json, sys
models = json.load(open(sys.argv[1]))["router"]["models"]
print(json.dumps({"models": {m: {"base_url": "http://127.0.0.1:%s/v1" % sys.argv[2], "model": "ok-" + m}
                             for m in models}, "timeout_ms": 2000}))
PY
kill -TERM "$PID_m"; wait "$PID_m" 2>/dev/null
rm -f "$tmp/chat_state.json"
start_server chat --online "$tmp/chat_state.json" --online-explore 0.5 --upstreams "$tmp/up.json" --feedback-log "$tmp/fb2"
U="http://127.0.0.1:$PORT_chat"
req POST "$U/v1/chat/completions" '{"messages": [{"role": "user", "content": "Write a function that reverses a list."}]}'
[ "$code" = 200 ] || fail "chat (online): $code $(cat "$tmp/body")"
cm=$(header X-Taskroute-Model); cid=$(header X-Taskroute-Request-Id); co=$(header X-Taskroute-Online)
[ -n "$cm" ] || fail "chat (online): no X-Taskroute-Model"
case "$co" in exploit|explored) ;; *) fail "chat (online): X-Taskroute-Online is '$co'" ;; esac
[ "$(jget "$tmp/body" 'j["choices"][0]["message"]["content"]')" = "echo model=ok-$cm auth=none" ] \
  || fail "chat (online): the answer is not the routed model's: $(cat "$tmp/body")"
req POST "$U/v1/feedback" "{\"request_id\":\"$cid\",\"model\":\"$cm\",\"score\":1}"
[ "$(jget "$tmp/body" 'j["online_update"]')" = True ] || fail "chat feedback did not update: $(cat "$tmp/body")"
[ "$(metric "$PORT_chat" taskroute_online_decisions_total)" = 1 ] || fail "chat online decisions metric"
kill -TERM "$PID_chat"; wait "$PID_chat" 2>/dev/null
[ "$(jget "$tmp/chat_state.json" 'int(sum(e["n"] for e in j["entries"]))')" = 1 ] || fail "chat update not saved"
ok "chat proxy, online: routed model ($cm, $co) answers; its feedback updates and is saved"

# ---- a corrupt state file refuses to start (it would be overwritten)
echo '{"not": "a state"}' > "$tmp/bad.json"
if "$TR_BIN" serve "$tmp/r.trm" --listen 127.0.0.1:0 --online "$tmp/bad.json" 2> "$tmp/bad.log"; then
  fail "served with a corrupt state file"
fi
grep -q "not an online state file" "$tmp/bad.log" || fail "corrupt state message: $(cat "$tmp/bad.log")"
ok "corrupt state file refused"
echo "e2e_online: all passed"
