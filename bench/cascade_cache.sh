#!/usr/bin/env bash
# The figures of bench/RESULTS.md, "Cascade and cache": on each shared
# dataset, the cascade's 5-fold figures on SIMULATED verifier confidences
# of AUC 0.7, 0.8, 0.9 (bench/cascade_sim.py; a router trained per fold;
# the JSON in OUT/<dataset>.v<AUC>.kfold.json, the table by
# bench/cascade_kfold_table.py), a router (trained once into OUT) for the
# cache, the cache's hits against its similarity threshold
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
    nice ./taskroute tune-cascade --folds 5 "$OUT/$ds.v$auc.jsonl" --jobs 2 -q --json > "$OUT/$ds.v$auc.kfold.json"
  done
  python3 bench/cascade_kfold_table.py "$ds" "$OUT/$ds.v0.7.kfold.json:0.7" "$OUT/$ds.v0.8.kfold.json:0.8" \
    "$OUT/$ds.v0.9.kfold.json:0.9"
  echo "== $ds: cache trace"
  python3 bench/cache_trace.py "$f" "$OUT/$ds.trace.jsonl" 2000
  nice build/bench/bench_cache trace "$OUT/$ds.trm" "$OUT/$ds.trace.jsonl"
done
f="$DATA/mmlu-pro.jsonl"
[ -f "$f" ] && { echo "== cache miss at 100k entries"; nice build/bench/bench_cache overhead "$OUT/mmlu-pro.trm" "$f" 100000; }
exit 0
