#!/usr/bin/env bash
# bench_quality: train the router on each dataset's EVAL.md train split and
# score it, its ablations and every baseline on the test split; Markdown
# tables (with training time and peak memory) on stdout, curves as SVG.
#
#   bench/bench_quality.sh [DATA.jsonl ...]      (default: ../shared/data/*.jsonl)
#
# Plots go to bench/figures/<dataset>.svg.  Run from the project root after
# `make`; needs /usr/bin/time and python3.
set -euo pipefail
bin=${TR_BIN:-build/taskroute}
[ $# -gt 0 ] || set -- ../shared/data/mmlu-pro.jsonl ../shared/data/llmrouter.jsonl
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p bench/figures
echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores, $(date -u +%Y-%m-%d)"
for data in "$@"; do
  [ -f "$data" ] || { echo "bench_quality: $data missing, skipped" >&2; continue; }
  name=$(basename "$data" .jsonl)
  /usr/bin/time -f "%e %M" -o "$tmp/time" "$bin" train "$data" -o "$tmp/$name.trm" -q
  read -r secs kb < "$tmp/time"
  "$bin" eval "$tmp/$name.trm" "$data" --baselines --json --plot "bench/figures/$name.svg" -q > "$tmp/$name.json"
  size=$(stat -c %s "$tmp/$name.trm")
  python3 - "$tmp/$name.json" "$name" "$secs" "$kb" "$size" <<'PY'
import json, math, sys
d = json.load(open(sys.argv[1])); name, secs, kb, size = sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def f(v, pct=False):
    if v is None: return "-"
    if isinstance(v, float) and math.isinf(v): return "inf"
    return f"{100*v:.1f}%" if pct else f"{v:.4f}"
print(f"\n### {name}: {d['n_test']} test prompts\n")
print(f"best single model {d['best_model']}: Q_best {d['q_best']:.4f} at C_best {d['c_best']:.3g} USD; oracle {d['q_oracle']:.4f}.")
print(f"Heads chosen by cross-validation on the training split: quality `{d['heads_quality']}`, cost `{d['heads_cost']}`.")
print(f"Training (embed, graph, Leiden, classifier, heads with CV): {secs:.1f} s wall, peak RSS {kb/1024:.0f} MiB; router file {size/2**20:.1f} MiB.\n")
print("| router | Q@C_best | gap captured | C@Q_best | cost saving | Q_max | C@Q_max | AIQ lin | AIQ log | ECE |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for k, r in d["routers"].items():
    nm = f"**{k}**" if k == "taskroute" else k
    print(f"| {nm} | {f(r['q_at_c_best'])} | {f(r['gap_captured'])} | {f(r['c_at_q_best'])} | {f(r['cost_saving'], True)} | "
          f"{f(r['q_max'])} | {r['c_at_q_max']:.3g} | {f(r['aiq_lin'])} | {f(r['aiq_log'])} | {f(r['ece'])} |")
print("\nRisk mode (realised on the test split) and budget mode:\n")
print("| α | realised risk | quality | cost |\n|---:|---:|---:|---:|")
for e in d.get("risk", []): print(f"| {e['alpha']:.2f} | {e['realised_risk']:.3f} | {e['mean_quality']:.4f} | {e['mean_cost']:.3g} |")
print("\n| budget (USD/query) | realised cost | quality |\n|---:|---:|---:|")
for e in d.get("budget", []): print(f"| {e['budget']:.3g} | {e['realised_cost']:.3g} | {e['mean_quality']:.4f} |")
lo = d.get("label_oracle")
if lo:
    print(f"\nBy human label (`eval --by-label`; the label is never a router input), taskroute at its highest-quality setting. "
          f"Label oracle (each label's training-best model): {lo['quality']:.4f}; taskroute on the same prompts: {lo['taskroute']:.4f}.\n")
    print("| label | n | taskroute | best single | label's best | oracle | prompts vs label's best | label's training-best model | taskroute's top pick |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---|")
    for k, v in d["by_label"].items():
        print(f"| {k} | {v['n']:.0f} | {v['taskroute']:.4f} | {v['best_single']:.4f} | {v['label_best']:.4f} | {v['oracle']:.4f} | "
              f"{v['prompts_vs_label_best']:+.1f} | {v['label_best_model']} | {v['top_pick']} ({100*v['top_pick_share']:.0f}%) |")
PY
done
