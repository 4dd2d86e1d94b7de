# Helpers shared by the end-to-end scripts that run a server or the
# stand-in provider (tests/e2e_server*.sh, e2e_online.sh, e2e_gateway.sh,
# e2e_label*.sh, ...); sourced, not run.  Sets tmp (a temporary directory
# removed on exit), pids (killed on exit), and defines fail, ok, jget,
# prompts (labelling input for the stand-in), make_router (trains
# $tmp/r.trm, or copies $TR_E2E_ROUTER; exits 77 when training is not
# available), start_server, req, expect_error, header.  Set TR_E2E_NAME
# before sourcing to name the temporary directory.
set -u
TR_BIN=${TR_BIN:-build/taskroute}
PY=/usr/bin/python3
tmp=$(mktemp -d /tmp/${TR_E2E_NAME:-tr_e2e}.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for l in "$tmp"/*.log; do [ -f "$l" ] && { echo "--- $l"; tail -n 20 "$l"; }; done; exit 1; }
ok() { echo "ok - $*"; }
# jq-like: jget FILE 'python expression on j'
jget() { "$PY" -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1"; }
[ -x "$TR_BIN" ] || fail "no binary at $TR_BIN"
command -v curl >/dev/null || { echo "skip: curl missing"; exit 77; }

# make_router: $tmp/r.trm
make_router() {
  if [ -n "${TR_E2E_ROUTER:-}" ]; then
    cp "$TR_E2E_ROUTER" "$tmp/r.trm"
  else
    data=data/demo.jsonl
    if [ ! -f "$data" ]; then
      data="$tmp/demo.jsonl"
      if ! "$TR_BIN" synth -o "$data" > "$tmp/synth.log" 2>&1; then
        echo "skip: no data/demo.jsonl and \`taskroute synth\` is not available yet"; exit 77
      fi
    fi
    if ! "$TR_BIN" train "$data" -o "$tmp/r.trm" > "$tmp/train.log" 2>&1; then
      if grep -q "not built yet" "$tmp/train.log"; then
        echo "skip: \`taskroute train\` is not built yet"; exit 77
      fi
      fail "train failed"
    fi
  fi
}

start_server() {
  local name=$1; shift
  rm -f "$tmp/$name.port"
  "$TR_BIN" serve "$tmp/r.trm" --listen 127.0.0.1:0 --port-file "$tmp/$name.port" --threads 2 "$@" \
    2> "$tmp/$name.log" &
  local pid=$!
  pids+=($pid)
  for _ in $(seq 100); do [ -s "$tmp/$name.port" ] && break; kill -0 $pid 2>/dev/null || break; sleep 0.1; done
  [ -s "$tmp/$name.port" ] || fail "server $name did not start"
  eval "PORT_$name=$(cat "$tmp/$name.port"); PID_$name=$pid"
}

# start_upstream_stub -> $SP: tests/upstream_stub (an OpenAI-style chat API
# stand-in) built and listening on a free loopback port
start_upstream_stub() {
  cc -O1 -pthread -o "$tmp/upstream_stub" tests/upstream_stub.c $(pkg-config --cflags --libs libmicrohttpd libcjson) \
    || fail "cannot build tests/upstream_stub.c"
  "$tmp/upstream_stub" "$tmp/stub.port" 2> "$tmp/stub.log" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$tmp/stub.port" ] && break; sleep 0.1; done
  [ -s "$tmp/stub.port" ] || fail "upstream stub did not start"
  SP=$(cat "$tmp/stub.port")
}

# req METHOD URL [DATA] -> $code, body in $tmp/body, headers in $tmp/hdr
req() {
  local m=$1 url=$2
  if [ $# -ge 3 ]; then
    code=$(curl -s -m 20 -X "$m" -o "$tmp/body" -D "$tmp/hdr" -w '%{http_code}' -H 'Content-Type: application/json' \
      --data-binary "$3" "$url")
  else
    code=$(curl -s -m 20 -X "$m" -o "$tmp/body" -D "$tmp/hdr" -w '%{http_code}' "$url")
  fi
}
# expect_error CODE ERRCODE MESSAGE-SUBSTRING
expect_error() {
  [ "$code" = "$1" ] || fail "wanted HTTP $1, got $code: $(cat "$tmp/body")"
  [ "$(jget "$tmp/body" 'j["error"]["code"]')" = "$2" ] || fail "wanted error code $2: $(cat "$tmp/body")"
  jget "$tmp/body" 'j["error"]["message"]' | grep -qF -- "$3" || fail "wanted message with '$3': $(cat "$tmp/body")"
  [ -n "$(jget "$tmp/body" 'j["error"]["type"]')" ] || fail "no error type"
}
header() { grep -i "^$1:" "$tmp/hdr" | head -n1 | cut -d' ' -f2- | tr -d '\r'; }
# prompts PREFIX N [EXTRA]: N labelling prompts for the stand-in's quiz
# models, ids PREFIX1..PREFIXN, whose reference letter ("ref=X", also in
# "gold") cycles A..E; EXTRA is appended to each prompt.
prompts() {
  for i in $(seq 1 "$2"); do
    l=$(printf "\\x$(printf %x $((65 + i % 5)))")
    echo "{\"id\":\"$1$i\",\"prompt\":\"$1 question $i ref=$l${3:+ $3}\",\"gold\":\"$l\"}"
  done
}
