#!/usr/bin/env bash
# Attacks on `taskroute serve`, each against a server of its own on a free
# loopback port, each bounded in time (under 60 s), one line of outcome
# each.  The figures of the fault table in bench/RESULTS.md come from here.
#
# usage: bench/attack/run.sh [ATTACK ...]
#   attacks: reload-flip fifo-reload idle-flood slowloris smuggle path-reload [all of them]
#   TR_BIN   the taskroute binary [build/taskroute]; an older binary works too
#            (options it lacks are left out), which is how "before" is measured
#   TR_ATTACK_ROUTERS=DIR  reuse DIR/r.trm and DIR/fast.trm instead of training
#            them from data/demo.jsonl
set -u
cd "$(dirname "$0")/../.."
TR_BIN=${TR_BIN:-build/taskroute}
PY=/usr/bin/python3
A=bench/attack/attack.py
[ -x "$TR_BIN" ] || { echo "no binary at $TR_BIN" >&2; exit 1; }
attacks=("$@")
[ ${#attacks[@]} -gt 0 ] || attacks=(reload-flip fifo-reload idle-flood slowloris smuggle path-reload)
tmp=$(mktemp -d /tmp/tr_attack.XXXXXX)
spid=
cleanup() { [ -n "$spid" ] && kill -9 "$spid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
# two sockets per connection on this machine: client and server
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

mkdir -p "$tmp/rd"
if [ -n "${TR_ATTACK_ROUTERS:-}" ]; then
  cp "$TR_ATTACK_ROUTERS/r.trm" "$TR_ATTACK_ROUTERS/fast.trm" "$tmp/rd/"
else
  [ -f data/demo.jsonl ] || { echo "no data/demo.jsonl (make demo makes it)" >&2; exit 1; }
  "$TR_BIN" train data/demo.jsonl -o "$tmp/rd/r.trm" > "$tmp/train.log" 2>&1 || { echo "train failed" >&2; exit 1; }
  "$TR_BIN" train data/demo.jsonl --fast -o "$tmp/rd/fast.trm" >> "$tmp/train.log" 2>&1 || { echo "train --fast failed" >&2; exit 1; }
fi
help=$("$TR_BIN" serve --help 2>&1)
has() { grep -q -- "$1" <<< "$help"; }

# start [serve options...]: $P port, $spid pid
start() {
  local extra=()
  has --reload-dir && extra+=(--reload-dir "$tmp/rd")
  rm -f "$tmp/port"
  "$TR_BIN" serve "$tmp/rd/r.trm" --listen 127.0.0.1:0 --port-file "$tmp/port" --threads 2 -q "${extra[@]}" "$@" \
    2> "$tmp/server.log" &
  spid=$!
  for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
  P=$(cat "$tmp/port" 2>/dev/null) || { echo "server did not start" >&2; cat "$tmp/server.log" >&2; exit 1; }
}
stop() {
  kill -TERM "$spid" 2>/dev/null
  for _ in $(seq 150); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$spid" 2>/dev/null
  wait "$spid" 2>/dev/null
  spid=
}
field() { "$PY" -c "import json,sys; j=json.loads(sys.stdin.read().strip().splitlines()[-1]); print($1)"; }
code() { curl -s -m "${2:-10}" -o "$tmp/body" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
           --data-binary "$1" "http://127.0.0.1:$P/admin/reload"; }

for attack in "${attacks[@]}"; do
  case $attack in
  reload-flip)
    # the workers first route on the --fast router (a smaller heads
    # scratch), then reloads alternate with the full one under load
    start
    code "{\"path\": \"$tmp/rd/fast.trm\"}" > /dev/null
    out=$("$PY" $A reload-flip "$P" --clients 4 --reloads 7 --every 0.5 \
          --paths "$tmp/rd/r.trm" "$tmp/rd/fast.trm")
    stop
    echo "reload-flip: $(field '"%d requests under 7 reloads (full, --fast, ..., full), %d failed, %d reloads ok; then /healthz %d, /v1/route %d" % (j["requests"], j["failed"], j["reloads_ok"], j["healthz_after"], j["route_after"])' <<< "$out")"
    ;;
  fifo-reload)
    start --grace 2
    rm -f "$tmp/rd/stuck.trm"; mkfifo "$tmp/rd/stuck.trm"
    c1=$(code "{\"path\": \"$tmp/rd/stuck.trm\"}" 6); [ "$c1" = 000 ] && c1="no answer in 6 s"
    c2=$(code "{\"path\": \"$tmp/rd/stuck.trm\"}" 6); [ "$c2" = 000 ] && c2="no answer in 6 s"
    out=$("$PY" $A load "$P" --clients 2 --seconds 3)
    t0=$(date +%s.%N)
    kill -TERM "$spid"
    for _ in $(seq 150); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$spid" 2>/dev/null; then ended="still running 15 s after SIGTERM (--grace 2), killed"
    else ended="exited $("$PY" -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$(date +%s.%N)") s after SIGTERM (--grace 2)"; fi
    stop
    echo "fifo-reload: reload from a FIFO: $c1, again: $c2; then $(field '"%d of %d routes answered 200" % (j["statuses"].get("200", 0), j["requests"])' <<< "$out"); $ended"
    ;;
  idle-flood)
    start
    out=$("$PY" $A idle "$P" --conns 4100 --seconds 20)
    stop
    echo "idle-flood: $(field '"%d idle connections held 20 s: /healthz %d ok, %d failed; /metrics %d ok, %d failed" % (j["opened"], j["healthz_ok"], j["healthz_fail"], j["metrics_ok"], j["metrics_fail"])' <<< "$out")"
    ;;
  slowloris)
    start
    out=$("$PY" $A slowloris "$P" --conns 4100 --seconds 25)
    stop
    echo "slowloris: $(field '"%d connections sending a header byte a second for 25 s: /healthz %d ok, %d failed; %d still open at the end" % (j["opened"], j["healthz_ok"], j["healthz_fail"], j["still_open_at_end"])' <<< "$out")"
    ;;
  smuggle)
    start --conn-timeout 3
    out=$("$PY" $A smuggle "$P" --tries 2 --timeout 10)
    stop
    echo "smuggle: $(field '"%d of %d framing shapes refused at once (400/411/413), slowest answer %.1f s" % (j["refused_at_once"], j["shapes"], j["max_seconds"])' <<< "$out")"
    grep '"as_expected": false' <<< "$out" | sed 's/^/  not refused: /'
    ;;
  path-reload)
    start
    c1=$(code '{"path": "/etc/shadow"}'); m1=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['error']['message'])" "$tmp/body" 2>/dev/null)
    c2=$(code '{"path": "/etc/no-such-file"}'); m2=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['error']['message'])" "$tmp/body" 2>/dev/null)
    stop
    oracle=$([ "${m1//shadow/X}" = "${m2//no-such-file/X}" ] && echo "the same message" || echo "different messages (existence shows)")
    echo "path-reload: /etc/shadow -> $c1, /etc/no-such-file -> $c2, $oracle: '${m1:0:90}'"
    ;;
  *) echo "unknown attack $attack" >&2; exit 2 ;;
  esac
done
