#!/usr/bin/env bash
# bench_quality: the evaluation protocol's k-fold figures of the router and
# every baseline on each dataset: `taskroute eval --folds K --baselines`
# (a router trained per fold with the defaults, or with the train options
# given after --), then Markdown tables on stdout: every figure as mean ±
# standard error over the folds, and taskroute's fold-paired differences
# with each baseline.  The cost-quality curves of fold 0 (the test split)
# go to bench/figures/<dataset>.svg.
#
#   bench/bench_quality.sh [DATA.jsonl ...] [-- train options]
#                          (default: ../shared/data/{mmlu-pro,llmrouter}.jsonl)
#
# K is TR_FOLDS (default 5); the k-fold JSON stays in bench/figures/<dataset>-kfold.json
# for bench/kfold_compare.py.  Run from the project root after `make`;
# needs /usr/bin/time and python3.
set -euo pipefail
bin=${TR_BIN:-build/taskroute}
K=${TR_FOLDS:-5}
data=(); opts=()
while [ $# -gt 0 ]; do
  if [ "$1" = -- ]; then shift; opts=("$@"); break; fi
  data+=("$1"); shift
done
[ ${#data[@]} -gt 0 ] || data=(../shared/data/mmlu-pro.jsonl ../shared/data/llmrouter.jsonl)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p bench/figures
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $(date -u +%Y-%m-%d)"
for d in "${data[@]}"; do
  [ -f "$d" ] || { echo "bench_quality: $d missing, skipped" >&2; continue; }
  name=$(basename "$d" .jsonl)
  /usr/bin/time -f "%e %M" -o "$tmp/time" "$bin" eval --folds "$K" "$d" --baselines --json "${opts[@]}" \
    > "bench/figures/$name-kfold.json"
  read -r secs kb < "$tmp/time"
  "$bin" train "$d" -o "$tmp/$name.trm" -q "${opts[@]}"
  "$bin" eval "$tmp/$name.trm" "$d" --baselines --plot "bench/figures/$name.svg" -q > /dev/null
  python3 - "bench/figures/$name-kfold.json" "$name" "$secs" "$kb" "$bin eval --folds $K $d --baselines ${opts[*]}" <<'PY'
import json, math, sys
d = json.load(open(sys.argv[1])); name, secs, kb, cmd = sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
K = d["folds"]
def ms(s, pct=False, signed=False):
    m, se = s.get("mean"), s.get("se")
    if m is None: return "–"
    k, dec = (100, 1) if pct else (1, 4)
    x = k * m if abs(k * m) >= 0.5 * 10 ** -dec else 0.0   # no "-0.0"
    v = f"{x:+.{dec}f}" if signed else f"{x:.{dec}f}"
    return v + ("%" if pct else "") + ("" if se is None else f" ± {k*se:.{dec}f}")
ref = d["reference"]
print(f"\n### {name}: {K} folds, {d['n_test']['total']} test prompts ({' / '.join(str(n) for n in d['n_test']['folds'])})\n")
print(f"Command: `{cmd.strip()}` ({secs:.0f} s wall on 2 cores, peak RSS {kb/1024:.0f} MiB).")
bm = sorted(set(ref["best_model"]))
print(f"Best single model {', '.join(bm)}: Q_best {ms(ref['q_best'])}; oracle {ms(ref['q_oracle'])}. "
      f"Heads chosen by cross-validation inside each fold's training part: "
      f"{', '.join(h['quality'] for h in d['heads'])}.\n")
print("| router | Q@C_best | gap captured | cost saving | Q_max | AIQ (lin) | AIQ (log) | ECE |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for k, r in d["routers"].items():
    if k.startswith("heads:"): continue
    nm = f"**{k}**" if k == "taskroute" else k
    print(f"| {nm} | {ms(r['q_at_c_best'])} | {ms(r['gap_captured'])} | {ms(r['cost_saving'], True)} | {ms(r['q_max'])} | "
          f"{ms(r['aiq_lin'])} | {ms(r['aiq_log'])} | {ms(r['ece'])} |")
t = d["routers"]["taskroute"]
print(f"\ntaskroute per fold: Q@C_best {' '.join(f'{v:.4f}' for v in t['q_at_c_best']['folds'])}; "
      f"AIQ (log) {' '.join(f'{v:.4f}' for v in t['aiq_log']['folds'])}.")
print(f"\ntaskroute minus each router, fold by fold: mean ± standard error of the {K} differences (folds won / lost):\n")
print("| against | Q@C_best | cost saving | AIQ (lin) | AIQ (log) |")
print("|---|---:|---:|---:|---:|")
for k, p in d["paired"].items():
    if k.startswith("heads:"): continue
    cell = lambda f, pct=False: "" if f not in p else "–" if p[f]["mean"] is None else f"{ms(p[f], pct, True)} ({p[f]['won']}/{p[f]['lost']})"
    nm = "best single model" if k == "best-single" else k
    print(f"| {nm} | {cell('q_at_c_best')} | {cell('cost_saving', True)} | {cell('aiq_lin')} | {cell('aiq_log')} |")
PY
done
