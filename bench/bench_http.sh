#!/usr/bin/env bash
# Throughput and latency of `taskroute serve` on POST /v1/route (loopback,
# wrk).  Prompts: the first N prompts of ../shared/data/mmlu-pro.jsonl, turned
# into request bodies in a temp dir at bench time.
#
# usage: bench/bench_http.sh ROUTER.trm [--threads T] [--conns C] [--secs S] [--prompts N] [--pin]
#   server worker threads T [2], wrk connections C [64] on 1 wrk thread,
#   S seconds [10] after a 2 s warm-up, N prompts [200].  --pin puts the
#   server on CPU 0 and wrk on CPU 1 (taskset): the figure is then what one
#   server core sustains, without the two fighting over both cores.
# Prints decisions/s, p50/p90/p99 latency, errors, the server's CPU time per
# request and its RSS.
set -eu
TR_BIN=${TR_BIN:-build/taskroute}
router=${1:?usage: bench/bench_http.sh ROUTER.trm [--threads T] [--conns C] [--secs S] [--prompts N] [--pin]}
shift
threads=2; conns=64; secs=10; nprompts=200; pin_srv=; pin_wrk=
while [ $# -gt 0 ]; do
  case $1 in
    --threads) threads=$2; shift 2 ;;
    --conns) conns=$2; shift 2 ;;
    --secs) secs=$2; shift 2 ;;
    --prompts) nprompts=$2; shift 2 ;;
    --pin) pin_srv="taskset -c 0"; pin_wrk="taskset -c 1"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
data=${TR_SHARED_DATA:-../shared/data}/mmlu-pro.jsonl
[ -f "$data" ] || { echo "no $data" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 1; }
tmp=$(mktemp -d /tmp/tr_bench_http.XXXXXX)
spid=
cleanup() { [ -n "$spid" ] && kill "$spid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

/usr/bin/python3 - "$data" "$nprompts" > "$tmp/bodies.txt" <<'PY'
import json, sys
n = int(sys.argv[2])
with open(sys.argv[1]) as f:
    for k, line in enumerate(f):
        if k >= n: break
        print(json.dumps({"prompt": json.loads(line)["prompt"]}))
PY
avg=$(awk '{ s += length($0) } END { printf "%d", s / NR }' "$tmp/bodies.txt")

$pin_srv "$TR_BIN" serve "$router" --listen 127.0.0.1:0 --port-file "$tmp/port" --threads "$threads" -q 2> "$tmp/server.log" &
spid=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || { cat "$tmp/server.log"; exit 1; }
url="http://127.0.0.1:$(cat "$tmp/port")"
curl -sf -d "$(head -n1 "$tmp/bodies.txt")" "$url/v1/route" > /dev/null || { echo "server does not route" >&2; exit 1; }

export TR_BENCH_BODIES="$tmp/bodies.txt"
$pin_wrk wrk -t1 -c"$conns" -d2s -s bench/bench_http.lua "$url" > /dev/null        # warm-up
rss0=$(awk '/VmRSS/ { print $2 }' "/proc/$spid/status")
# the server's CPU time (user + system, clock ticks) around the timed run:
# CPU per request is steadier than requests/s on a shared machine
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$spid/stat"; }
cpu0=$(cpu_ticks)
(sleep "$((secs / 2))"; curl -s "$url/metrics" > "$tmp/mid_metrics") &
$pin_wrk wrk -t1 -c"$conns" -d"${secs}s" --latency -s bench/bench_http.lua "$url" > "$tmp/wrk.txt"
cpu1=$(cpu_ticks)
# per thread: CPU ticks; per worker: the connections it held mid-run
workers=$(for t in /proc/"$spid"/task/*; do awk '{ printf "%d ", $14 + $15 }' "$t/stat"; done)
wconns=$(awk '/^taskroute_worker_connections\{/ { printf "%s ", $2 }' "$tmp/mid_metrics" 2>/dev/null)
rss1=$(awk '/VmRSS/ { print $2 }' "/proc/$spid/status")
hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$spid/status")
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
blas=$(/usr/bin/python3 -c "import ctypes; l=ctypes.CDLL('libopenblas.so.0'); l.openblas_get_config.restype=ctypes.c_char_p; print(l.openblas_get_config().decode())" 2>/dev/null || echo unknown)
echo "BLAS: $blas; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "commit $commit; $(nproc) cores${pin_srv:+ (server pinned to CPU 0, wrk to CPU 1)}; server threads $threads; wrk 1 thread, $conns connections, ${secs}s; $nprompts mmlu-pro prompts (mean body $avg bytes)"
grep '^RESULT' "$tmp/wrk.txt"
awk -v t="$((cpu1 - cpu0))" -v hz="$(getconf CLK_TCK)" -v s="$secs" '/^RESULT/ {
  split($2, a, "="); printf "server CPU: %.2f cores busy, %.1f us per request\n", t / hz / s, 1e6 * t / hz / a[2] }' "$tmp/wrk.txt"
echo "server threads' CPU ticks since start: $workers; connections per worker mid-run (with that query's): ${wconns:-n/a}"
echo "server RSS: ${rss0} kB before, ${rss1} kB after, peak ${hwm} kB"
