#!/usr/bin/env bash
# Labelling throughput against the stand-in provider (tests/upstream_stub on
# loopback, every answer delayed by a fixed STUB_LATENCY_MS): answers per
# second of `taskroute label` at --concurrency 1, 8 and 64, two models, a
# choice matcher.  usage: bench/bench_label.sh [LATENCY_MS=50] [BIN=./taskroute]
set -eu
lat=${1:-50}
B=${2:-./taskroute}
tmp=$(mktemp -d /tmp/bench_label.XXXXXX)
trap 'kill $sp 2>/dev/null; rm -rf "$tmp"' EXIT
cc -O2 -pthread -o "$tmp/stub" tests/upstream_stub.c $(pkg-config --cflags --libs libmicrohttpd libcjson)
STUB_LATENCY_MS=$lat "$tmp/stub" "$tmp/port" 2>/dev/null &
sp=$!
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
U="http://127.0.0.1:$(cat "$tmp/port")/v1"
cat > "$tmp/up.json" <<JSON
{"models": {
  "a": {"base_url": "$U", "model": "quiz-slow-good", "price": {"input_per_mtok": 1, "output_per_mtok": 2}, "max_concurrency": 64},
  "b": {"base_url": "$U", "model": "quiz-slow-bad", "price": {"input_per_mtok": 1, "output_per_mtok": 2}, "max_concurrency": 64}}}
JSON
echo "stand-in latency ${lat} ms per answer; 2 models; $(nproc) cores"
printf "%-12s %8s %10s %10s\n" concurrency answers seconds answers/s
for c in 1 8 64; do
  n=$((c == 1 ? 50 : c == 8 ? 200 : 1000))
  for i in $(seq 1 $n); do echo "{\"id\":\"c$c-$i\",\"prompt\":\"bench $c $i ref=B\",\"gold\":\"B\"}"; done > "$tmp/p$c.jsonl"
  t0=$(date +%s.%N)
  "$B" label "$tmp/p$c.jsonl" --upstreams "$tmp/up.json" -o "$tmp/o$c.jsonl" --reference gold --match choice \
    --concurrency $c -q
  t1=$(date +%s.%N)
  awk -v c=$c -v n=$((2 * n)) -v t0=$t0 -v t1=$t1 'BEGIN {printf "%-12d %8d %10.2f %10.1f\n", c, n, t1 - t0, n / (t1 - t0)}'
done
