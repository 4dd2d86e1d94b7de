#!/usr/bin/env bash
# What the gateway adds to a request: POST /v1/chat/completions through
# `taskroute serve` (routing under the default policy, the upstream client,
# the transfer thread) against the same request sent straight to the
# stand-in provider (tests/upstream_stub.c), both on loopback, measured side
# by side in alternating rounds with wrk on one connection (requests one
# after another, so latency is per request, not queueing).
#
# usage: bench/bench_gateway.sh ROUTER.trm DATA.jsonl [--secs S] [--rounds R] [--prompts N]
#   S seconds per measurement [5], R rounds of (direct, proxy) [3], the
#   first N prompts of DATA as chat messages [200].
# Prints one line per measurement (requests, p50, p90, p99, max, and the
# gateway's CPU time per request: zero for the direct runs, which it does
# not see), then the medians over the rounds and the difference proxy -
# direct.  Latency percentiles on a shared machine carry its load: read
# them with the CPU figure, which does not.
set -eu
TR_BIN=${TR_BIN:-build/taskroute}
router=${1:?usage: bench/bench_gateway.sh ROUTER.trm DATA.jsonl [--secs S] [--rounds R] [--prompts N]}
data=${2:?usage: bench/bench_gateway.sh ROUTER.trm DATA.jsonl [--secs S] [--rounds R] [--prompts N]}
shift 2
secs=5; rounds=3; nprompts=200
while [ $# -gt 0 ]; do
  case $1 in
    --secs) secs=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --prompts) nprompts=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 1; }
tmp=$(mktemp -d /tmp/tr_bench_gateway.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

cc -O2 -pthread -o "$tmp/stub" tests/upstream_stub.c $(pkg-config --cflags --libs libmicrohttpd libcjson)
"$tmp/stub" "$tmp/stub.port" 2> "$tmp/stub.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/stub.port" ] && break; sleep 0.1; done
sp=$(cat "$tmp/stub.port")

/usr/bin/python3 - "$router" "$data" "$nprompts" "$sp" "$tmp" "$TR_BIN" <<'PY'
import json, subprocess, sys
router, data, n, sp, tmp, tr_bin = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
desc = json.loads(subprocess.run([tr_bin, "inspect", router, "--json"], capture_output=True, check=True).stdout)
models = [m["name"] if isinstance(m, dict) else m for m in desc["models"]]
url = "http://127.0.0.1:%s/v1" % sp
json.dump({"models": {m: {"base_url": url, "model": "ok-%d" % i, "price": {"input_per_mtok": 1, "output_per_mtok": 1}}
                      for i, m in enumerate(models)}}, open(tmp + "/up.json", "w"))
with open(data) as f, open(tmp + "/proxy.txt", "w") as p, open(tmp + "/direct.txt", "w") as d:
    for k, line in enumerate(f):
        if k >= n: break
        msgs = [{"role": "user", "content": json.loads(line)["prompt"]}]
        p.write(json.dumps({"model": "taskroute", "messages": msgs}) + "\n")
        d.write(json.dumps({"model": "ok-0", "messages": msgs}) + "\n")
PY

"$TR_BIN" serve "$router" --listen 127.0.0.1:0 --port-file "$tmp/port" --threads 2 -q --upstreams "$tmp/up.json" \
  2> "$tmp/server.log" &
pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || { cat "$tmp/server.log"; exit 1; }
proxy="http://127.0.0.1:$(cat "$tmp/port")"
direct="http://127.0.0.1:$sp"

spid=${pids[1]}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$spid/stat"; }
hz=$(getconf CLK_TCK)
run() {   # run NAME URL BODIES SECS: wrk's line, plus the server's CPU per request
  local c0 c1 line
  c0=$(cpu_ticks)
  line=$(TR_BENCH_BODIES=$3 wrk -t1 -c1 -d"$4"s -s bench/bench_gateway.lua "$2" | sed -n "s/^RESULT /$1 /p")
  c1=$(cpu_ticks)
  echo "$line server_cpu_us=$(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v l="$line" \
    'BEGIN { split(l, f, " "); for (i in f) if (f[i] ~ /^requests=/) { sub("requests=", "", f[i]); n = f[i] } printf "%.1f", (b - a) / hz * 1e6 / n }')"
}
run warmup-direct "$direct" "$tmp/direct.txt" 2 > /dev/null
run warmup-proxy "$proxy" "$tmp/proxy.txt" 2 > /dev/null
for r in $(seq "$rounds"); do
  run direct "$direct" "$tmp/direct.txt" "$secs"
  run proxy "$proxy" "$tmp/proxy.txt" "$secs"
done | tee "$tmp/results"
/usr/bin/python3 - "$tmp/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    name, *kv = line.split()
    rows.setdefault(name, []).append({k: float(v) for k, v in (x.split("=") for x in kv)})
med = {n: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for n, rs in rows.items()}
for n in ("direct", "proxy"):
    m = med[n]
    print("median %-6s requests %6d  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  server CPU %.1f us/request  (errors %d, non-2xx %d)"
          % (n, m["requests"], m["p50_ms"], m["p90_ms"], m["p99_ms"], m["server_cpu_us"], m["errors"], m["status_errors"]))
d, p = med["direct"], med["proxy"]
print("added by the gateway: p50 %+.3f ms, p90 %+.3f ms, p99 %+.3f ms" % (p["p50_ms"] - d["p50_ms"], p["p90_ms"] - d["p90_ms"], p["p99_ms"] - d["p99_ms"]))
PY
