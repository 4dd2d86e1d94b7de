#!/usr/bin/env bash
# The figures of bench/RESULTS.md, "Cascade and cache": on each shared
# dataset, a router (trained once into OUT), the cascade tuned and scored
# on SIMULATED verifier confidences of AUC 0.7, 0.8, 0.9
# (bench/cascade_sim.py), the cache's hits against its similarity threshold
# on a trace with paraphrases (bench/cache_trace.py), and a miss's cost at
# 100k entries (bench_cache overhead).  Needs `make bench`.
#   bench/cascade_cache.sh [DATA_DIR [OUT]]
set -eu
DATA=${1:-${TR_SHARED_DATA:-../shared/data}}
OUT=${2:-/tmp/tr_cascade_cache}
mkdir -p "$OUT"
for ds in mmlu-pro llmrouter; do
  f="$DATA/$ds.jsonl"
  [ -f "$f" ] || { echo "skip: no $f"; continue; }
  [ -f "$OUT/$ds.trm" ] || nice ./taskroute train "$f" -o "$OUT/$ds.trm" -q
  echo "== $ds: cascade (simulated verifier)"
  for auc in 0.7 0.8 0.9; do
    nice python3 bench/cascade_sim.py "$f" "$OUT/$ds.v$auc.jsonl" "$auc"
    nice ./taskroute tune-cascade "$OUT/$ds.trm" "$OUT/$ds.v$auc.jsonl" -q
  done
  echo "== $ds: cache trace"
  python3 bench/cache_trace.py "$f" "$OUT/$ds.trace.jsonl" 2000
  nice build/bench/bench_cache trace "$OUT/$ds.trm" "$OUT/$ds.trace.jsonl"
done
f="$DATA/mmlu-pro.jsonl"
[ -f "$f" ] && { echo "== cache miss at 100k entries"; nice build/bench/bench_cache overhead "$OUT/mmlu-pro.trm" "$f" 100000; }
exit 0
