#!/usr/bin/env bash
# End-to-end tests of `taskroute serve` under attack and bad luck, each
# against the real server on a free loopback port, each bounded in time,
# each asserting outcomes (status codes, answers, exits), never durations:
#   - reloads that alternate a --fast router (smaller routing scratch) with
#     the full one under concurrent load: 0 failed requests, /healthz ok;
#   - a reload from a FIFO nobody writes: 202 pending, routing goes on,
#     SIGTERM still ends the process;
#   - slow-header and idle connection floods: /healthz and /metrics answer,
#     slow clients are cut off at the request deadline;
#   - request-smuggling framing shapes: refused (400/411) with an answer;
#   - /admin/reload of paths outside --reload-dir: 403 whether they exist or
#     not; the admin key when one is set;
#   - a feedback request_id that is not UTF-8: 400.
# Exit 0 pass, 1 fail, 77 skip (no trainer).
TR_E2E_NAME=tr_e2e_faults
. "$(dirname "$0")/server_lib.sh"
A=bench/attack/attack.py
[ -f "$A" ] || fail "no $A"
make_router
mkdir -p "$tmp/rd"
cp "$tmp/r.trm" "$tmp/rd/full.trm"
data=data/demo.jsonl
[ -f "$data" ] || data="$tmp/demo.jsonl"
[ -f "$data" ] || "$TR_BIN" synth -o "$data" > "$tmp/synth.log" 2>&1 || fail "synth"
"$TR_BIN" train "$data" --fast -o "$tmp/rd/fast.trm" > "$tmp/train_fast.log" 2>&1 || fail "train --fast"
last() { tail -n 1 <<< "$1"; }
jfield() { "$PY" -c "import json,sys; j=json.loads(sys.argv[1]); print($2)" "$1"; }

# ---- 1. reload down to a --fast router and back, under load
# The workers' first routes run on the --fast router, whose kNN-less heads
# need a smaller scratch; then the full router comes back while 4 clients
# route.
start_server flip --reload-dir "$tmp/rd"
U="http://127.0.0.1:$PORT_flip"
req POST "$U/admin/reload" "{\"path\": \"fast.trm\"}"
[ "$code" = 200 ] || fail "reload to the --fast router: $code $(cat "$tmp/body")"
out=$(timeout 60 "$PY" $A reload-flip "$PORT_flip" --clients 4 --reloads 6 --every 0.3 \
      --paths "$tmp/rd/full.trm" "$tmp/rd/fast.trm" full.trm) || fail "reload-flip did not finish"
s=$(last "$out")
[ "$(jfield "$s" 'j["reloads_ok"]')" = 6 ] || fail "reloads under load: $s"
[ "$(jfield "$s" 'j["requests"]')" -gt 100 ] || fail "too few requests under load: $s"
[ "$(jfield "$s" 'j["failed"]')" = 0 ] || fail "requests failed across reloads: $s"
req GET "$U/healthz"
[ "$code" = 200 ] && [ "$(jget "$tmp/body" 'j["status"]')" = ok ] || fail "healthz after the reloads: $code $(cat "$tmp/body")"
[ "$(jget "$tmp/body" 'j["router"]["path"]')" = "$tmp/rd/full.trm" ] || fail "the full router is not served: $(cat "$tmp/body")"
req POST "$U/v1/route" '{"prompt": "Sort a list in Python."}'
[ "$code" = 200 ] || fail "route after the reloads: $code $(cat "$tmp/body")"
ok "6 reloads between the full and the --fast router under 4 clients: $(jfield "$s" 'j["requests"]') requests, 0 failed, /healthz ok"

# ---- 2. admin paths and key
req POST "$U/admin/reload" '{"path": "/etc/shadow"}'; expect_error 403 forbidden '"path" is not allowed'
m1=$(jget "$tmp/body" 'j["error"]["message"]')
req POST "$U/admin/reload" '{"path": "/etc/no-such-file-here"}'; expect_error 403 forbidden '"path" is not allowed'
m2=$(jget "$tmp/body" 'j["error"]["message"]')
[ "$m1" = "$m2" ] || fail "refusals differ for an existing and a missing file: '$m1' / '$m2'"
cp "$tmp/r.trm" "$tmp/other.trm"
req POST "$U/admin/reload" '{"path": "../other.trm"}'; expect_error 403 forbidden '"path" is not allowed'
req POST "$U/admin/reload" "{\"path\": \"$tmp/rd/../other.trm\"}"; expect_error 403 forbidden '"path" is not allowed'
ln -s /etc/passwd "$tmp/rd/link.trm"
req POST "$U/admin/reload" '{"path": "link.trm"}'; expect_error 403 forbidden '"path" is not allowed'
req POST "$U/admin/reload" '{"path": "missing.trm"}'; expect_error 409 reload_refused "missing.trm"
head -c 4096 /dev/urandom > "$tmp/rd/bad.trm"
req POST "$U/admin/reload" '{"path": "bad.trm"}'; expect_error 409 reload_refused "bad.trm"
req POST "$U/admin/reload" "{\"path\": \"$tmp/r.trm\"}"   # the served file, by its configured name
[ "$code" = 200 ] || fail "reload of the configured file: $code $(cat "$tmp/body")"
kill -TERM "$PID_flip"; wait "$PID_flip" || fail "exit code after SIGTERM"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$tmp/admin.key"
start_server key --admin-key-file "$tmp/admin.key"
U="http://127.0.0.1:$PORT_key"
req POST "$U/admin/reload"; expect_error 401 unauthorized "admin key"
code=$(curl -s -m 20 -o "$tmp/body" -w '%{http_code}' -X POST -H "Authorization: Bearer wrong-key-0123456789" "$U/admin/reload")
expect_error 401 unauthorized "admin key"
code=$(curl -s -m 20 -o "$tmp/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat "$tmp/admin.key")" "$U/admin/reload")
[ "$code" = 200 ] || fail "reload with the admin key: $code $(cat "$tmp/body")"
# ---- feedback ids must be UTF-8 (the logs are JSONL)
printf '{"request_id": "tr-\xff\xfe", "model": "m", "score": 1}' > "$tmp/fb.json"
code=$(curl -s -m 20 -o "$tmp/body" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$tmp/fb.json" "$U/v1/feedback")
[ "$code" = 503 ] || fail "feedback without a log: $code"   # off here; the parser is checked below with a log
kill -TERM "$PID_key"; wait "$PID_key" || fail "exit code after SIGTERM"
start_server fb --feedback-log "$tmp/fb"
code=$(curl -s -m 20 -o "$tmp/body" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$tmp/fb.json" "http://127.0.0.1:$PORT_fb/v1/feedback")
expect_error 400 invalid_field "UTF-8"
[ ! -s "$tmp/fb/feedback.jsonl" ] || fail "a non-UTF-8 id reached the feedback log"
kill -TERM "$PID_fb"; wait "$PID_fb" || fail "exit code after SIGTERM"
ok "admin reload: outside paths, .., links out refused alike (403); admin key required when set; non-UTF-8 feedback id refused"

# ---- 3. a reload that blocks (a FIFO nobody writes to)
start_server fifo --reload-dir "$tmp/rd" --reload-wait 1 --grace 2
U="http://127.0.0.1:$PORT_fifo"
mkfifo "$tmp/rd/stuck.trm"
req POST "$U/admin/reload" '{"path": "stuck.trm"}'
[ "$code" = 202 ] && [ "$(jget "$tmp/body" 'j["status"]')" = pending ] || fail "blocked reload: $code $(cat "$tmp/body")"
req POST "$U/admin/reload" '{"path": "stuck.trm"}'
[ "$code" = 202 ] || fail "second reload while one is blocked: $code $(cat "$tmp/body")"
req POST "$U/admin/reload" '{"path": "full.trm"}'
expect_error 503 unavailable "waiting to start"
out=$(timeout 30 "$PY" $A load "$PORT_fifo" --clients 2 --seconds 2) || fail "load did not finish"
s=$(last "$out")
[ "$(jfield "$s" 'j["failed"]')" = 0 ] && [ "$(jfield "$s" 'j["requests"]')" -gt 10 ] || fail "routing while a reload blocks: $s"
req GET "$U/healthz"
[ "$code" = 200 ] && [ "$(jget "$tmp/body" 'j["reload"]["state"]')" = loading ] || fail "healthz while a reload blocks: $code $(cat "$tmp/body")"
kill -HUP "$PID_fifo"   # queued behind the blocked one; must not block the signal loop
kill -TERM "$PID_fifo"
for _ in $(seq 150); do kill -0 "$PID_fifo" 2>/dev/null || break; sleep 0.1; done
kill -0 "$PID_fifo" 2>/dev/null && fail "server still running 15 s after SIGTERM with --grace 2 while a reload blocks"
wait "$PID_fifo"; rc=$?
[ $rc = 0 ] || fail "exit code $rc after SIGTERM with a blocked reload"
grep -q "reload is still blocked" "$tmp/fifo.log" || fail "the blocked reload is not reported"
ok "blocked reload: 202 pending, $(jfield "$s" 'j["requests"]') routes answered meanwhile, /healthz shows it, SIGTERM exits 0"

# ---- 4. connection floods
start_server flood --request-timeout 3 --max-conns-per-client 40 --max-conns 120
U="http://127.0.0.1:$PORT_flood"
out=$(timeout 60 "$PY" $A slowloris "$PORT_flood" --conns 300 --seconds 7) || fail "slowloris did not finish"
s=$(last "$out")
[ "$(jfield "$s" 'j["healthz_fail"]')" = 0 ] && [ "$(jfield "$s" 'j["healthz_ok"]')" -ge 3 ] || fail "healthz under a slow-header flood: $s"
[ "$(jfield "$s" 'j["metrics_fail"]')" = 0 ] || fail "metrics under a slow-header flood: $s"
[ "$(jfield "$s" 'j["still_open_at_end"]')" = 0 ] || fail "slow clients outlived the request deadline: $s"
out=$(timeout 60 "$PY" $A idle "$PORT_flood" --conns 300 --seconds 5) || fail "idle flood did not finish"
s2=$(last "$out")
[ "$(jfield "$s2" 'j["healthz_fail"]')" = 0 ] || fail "healthz under an idle flood: $s2"
req GET "$U/metrics"
grep -q '^taskroute_connections_closed_total{reason="per_client_limit"} [1-9]' "$tmp/body" || fail "no per-client evictions counted"
grep -q '^taskroute_connections_closed_total{reason="request_timeout"} [1-9]' "$tmp/body" || fail "no deadline closes counted"
kill -TERM "$PID_flood"; wait "$PID_flood" || fail "exit code after SIGTERM"
ok "floods of 300 slow-header and 300 idle connections: /healthz and /metrics answered throughout, slow clients cut off"

# ---- 5. request smuggling shapes
start_server smug --conn-timeout 30 --request-timeout 30
out=$(timeout 120 "$PY" $A smuggle "$PORT_smug" --tries 1 --timeout 10) || fail "smuggle did not finish"
bad=$(grep -c '"as_expected": false' <<< "$out")
[ "$bad" = 0 ] || fail "framing shapes not refused with an answer: $(grep '"as_expected": false' <<< "$out")"
kill -TERM "$PID_smug"; wait "$PID_smug" || fail "exit code after SIGTERM"
ok "$(jfield "$(last "$out")" 'j["refused_at_once"]') smuggling shapes refused with an answer; a well-formed request still 200"
echo "all server fault checks passed"
