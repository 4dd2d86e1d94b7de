#!/usr/bin/env bash
# `make demo`: the main job on the project's own demo data, end to end:
# discover the task types, train the router, evaluate it against baselines,
# route a few prompts.  Outputs go to demo-out/.
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
"$bin" discover "$data" -o "$out/tasks.trm" --report "$out/tasks.md" --json "$out/tasks.json"
sed -n '1,40p' "$out/tasks.md"
echo
echo "== 2. train the router"
"$bin" train "$data" -o "$out/router.trm"
"$bin" inspect "$out/router.trm" | head -20
echo
echo "== 3. evaluate on the test split (docs/evaluation.md), with baselines"
"$bin" eval "$out/router.trm" "$data" --baselines --plot "$out/curve.svg"
echo
echo "== 4. route three prompts"
head -n 3 "$data" | "$bin" route "$out/router.trm" --brief
echo
echo "demo: outputs in $out/ (tasks.md, router.trm, curve.svg)"
