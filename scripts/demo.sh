#!/usr/bin/env bash
# `make demo`: the main job on the project's own demo data, end to end:
# discover the task types, train the router, evaluate it against every single
# model and the baselines, route a prompt of each kind, and say what routing
# bought.  Outputs go to demo-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=./build/taskroute
out=demo-out
mkdir -p "$out"
data=data/demo.jsonl
if [ ! -f "$data" ]; then
  echo "demo: $data missing; regenerating it with taskroute synth" >&2
  "$bin" synth -o "$data"
fi
echo "== 1. discover the task types in $data"
"$bin" discover "$data" -o "$out/tasks.trm" --report "$out/tasks.md" --json "$out/tasks.json" -q
sed -n '/^## Tasks at a glance/,/^## Tasks$/p' "$out/tasks.md" | sed '$d'
echo "(full report: $out/tasks.md; task x model quality heatmap: $out/tasks-heatmap.svg)"
echo
echo "== 2. train the router"
"$bin" train "$data" -o "$out/router.trm" -q
"$bin" inspect "$out/router.trm" | head -n 3
echo
echo "== 3. evaluate on the test split (prompts training never saw), with baselines"
"$bin" eval "$out/router.trm" "$data" --baselines --plot "$out/curve.svg" -q | grep -v '^heads:'
"$bin" eval "$out/router.trm" "$data" --json -q > "$out/eval.json"
echo
echo "== 4. route a prompt of each kind"
: > "$out/examples.jsonl"
for kind in code summarization legal medical creative logic; do
  grep -m 1 "\"task\":\"$kind\"" "$data" >> "$out/examples.jsonl" || true
done
"$bin" route "$out/router.trm" --brief -q < "$out/examples.jsonl" > "$out/examples.out"
py=$(command -v python3 || true)
if [ -z "$py" ]; then
  cat "$out/examples.out"
  echo "demo: (python3 not found: the figures are in $out/eval.json)"
  exit 0
fi
"$py" - "$out/examples.jsonl" "$out/examples.out" "$out/eval.json" "$out" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
decs = [json.loads(l) for l in open(sys.argv[2])]
for r, d in zip(recs, decs):
    p = r["prompt"].replace("\n", " ")
    p = p if len(p) <= 66 else p[:65] + "\u2026"
    print('  %-66s -> %-17s (task %d "%s")' % (p, d["model"], d["task_id"], d["task"]))
print("  %d prompts went to %d different models" % (len(decs), len({d["model"] for d in decs})))
print()
e = json.load(open(sys.argv[3]))
t = e["routers"]["taskroute"]
best, qb, cb = e["best_model"], e["q_best"], e["c_best"]
qr, cr = t["q_max"], t["c_at_q_max"]
if qr > qb and cr < cb:
    print("demo: the router beats the best single model (%s): quality %.3f against %.3f (%+.3f) at %.0f%% lower "
          "cost per query (%.3g against %.3g USD); it matches %s's quality at %.0f%% of its cost"
          % (best, qr, qb, qr - qb, 100 * (1 - cr / cb), cr, cb, best, 100 * t["c_at_q_best"]))
else:
    print("demo: the router reaches quality %.3f at %.3g USD per query; the best single model (%s) %.3f at %.3g USD"
          % (qr, cr, best, qb, cb))
print("demo: cost-quality plot: %s/curve.svg; task report: %s/tasks.md; router: %s/router.trm" % ((sys.argv[4],) * 3))
PY
