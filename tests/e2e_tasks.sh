#!/usr/bin/env bash
# End-to-end: tasks as a user meets them on the demo data.  The taxonomy
# report (Markdown, JSON, heatmap) with slugs, keywords, the best and the
# best value model; decisions that carry the stable task id, the slug and
# "ood"; a domain the router never saw flagged, ordinary prompts not;
# `taskroute rename` (atomic, refusals with their exit codes) and the name
# surviving a warm-started retrain on a subsample with another seed, which
# keeps the task of nearly every prompt; drift counting OOD traffic.
. "$(dirname "$0")/cli_lib.sh"

# 1. the taxonomy report
"$bin" discover "$data" -o "$tmp/tasks.trm" --report "$tmp/tasks.md" --json "$tmp/tasks.json" -q
check "discover exits 0" [ $? -eq 0 ]
check "heatmap written beside the report" grep -q 'class="cell"' "$tmp/tasks-heatmap.svg"
check "report links the heatmap by its name" grep -q '](tasks-heatmap.svg)' "$tmp/tasks.md"
check "report has the overview, keywords, best value and OOD share" $py - "$tmp/tasks.md" <<'PY'
import sys
md = open(sys.argv[1]).read()
for s in ("## Tasks at a glance", "Keywords: ", "best value **", "Out of distribution: ", "outside the training split"):
    assert s in md, s
PY
check "report JSON: per task slug, name, keywords, 3 prompts, best and best value model with quality" $py - "$tmp/tasks.json" <<'PY'
import json, re, sys
j = json.load(open(sys.argv[1]))
slugs, names = set(), set()
for t in j["tasks"]:
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", t["slug"]) and len(t["slug"]) <= 40, t["slug"]
    assert t["slug"] not in slugs and t["name"] not in names, t
    slugs.add(t["slug"]); names.add(t["name"])
    assert len(t["keywords"]) >= 3 and t["name"] == ", ".join(t["keywords"][:3]), t
    assert len(t["exemplars"]) == 3
    assert t["best_quality"] >= t["best_value_quality"] >= t["best_quality"] - 0.02 - 1e-9, t
    assert t["best_value_cost"] <= t["best_cost"], t
assert j["ood"]["outside_prompts"] > 700 and j["ood"]["outside_share"] <= 0.10, j["ood"]
PY

# 2. a domain the router never saw
$py - "$data" "$tmp/nosql.jsonl" "$tmp/sql.jsonl" <<'PY'
import json, sys
with open(sys.argv[2], "w") as a, open(sys.argv[3], "w") as b:
    for line in open(sys.argv[1]):
        (b if json.loads(line)["task"] == "sql" else a).write(line)
PY
"$bin" train "$tmp/nosql.jsonl" -o "$tmp/nosql.trm" --heads prior-soft -q; check "train without the sql prompts" [ $? -eq 0 ]
"$bin" route "$tmp/nosql.trm" --brief -q < "$tmp/sql.jsonl" > "$tmp/sql.out"
$py - "$tmp/nosql.jsonl" "$tmp/test.jsonl" <<'PY'
import json, sys
def fnv(s):
    h = 14695981039346656037
    for b in s.encode():
        h ^= b; h = (h * 1099511628211) % 2**64
    return h
with open(sys.argv[2], "w") as f:
    for line in open(sys.argv[1]):
        if fnv(json.loads(line)["id"]) % 5 == 0: f.write(line)
PY
"$bin" route "$tmp/nosql.trm" --brief -q < "$tmp/test.jsonl" > "$tmp/test.out"
check "most of the unseen domain is out of distribution, at most 10% of ordinary test prompts" $py - "$tmp/sql.out" "$tmp/test.out" <<'PY'
import json, sys
share = lambda p: sum(json.loads(l)["ood"] for l in open(p)) / sum(1 for _ in open(p))
a, b = share(sys.argv[1]), share(sys.argv[2])
print("sql flagged %.3f, ordinary %.3f" % (a, b))
assert a >= 0.8 and b <= 0.10, (a, b)
PY
cat "$tmp/test.jsonl" "$tmp/sql.jsonl" > "$tmp/traffic.jsonl"
"$bin" drift "$tmp/nosql.trm" "$tmp/traffic.jsonl" --json -q > "$tmp/drift.json"
check "drift counts the OOD traffic as decisions do" $py - "$tmp/drift.json" "$tmp/sql.out" "$tmp/test.out" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
flagged = sum(json.loads(l)["ood"] for p in sys.argv[2:] for l in open(p))
assert d["threshold_source"] == "router" and d["ood_count"] == flagged, (d["ood_count"], flagged)
PY
"$bin" drift "$tmp/nosql.trm" "$tmp/traffic.jsonl" -q | grep -q "calibrated at training to flag 5%"
check "drift Markdown says how much traffic is OOD" [ $? -eq 0 ]

# 3. stable ids in decisions, rename, a warm start that keeps both
head -n 1500 "$data" > "$tmp/d.jsonl"
"$bin" train "$tmp/d.jsonl" -o "$tmp/cur.trm" --heads prior-soft -q; check "train a router" [ $? -eq 0 ]
"$bin" inspect "$tmp/cur.trm" --json > "$tmp/cur.json"
head -n 200 "$tmp/d.jsonl" | "$bin" route "$tmp/cur.trm" -q > "$tmp/r0.jsonl"
check "decisions carry the stable id, the slug and ood" $py - "$tmp/cur.json" "$tmp/r0.jsonl" <<'PY'
import json, sys
tasks = json.load(open(sys.argv[1]))["tasks"]
by_id = {t["id"]: t for t in tasks}
for line in open(sys.argv[2]):
    d = json.loads(line)
    t = by_id[d["task_id"]]
    assert t["name"] == d["task"] and t["slug"] == d["task_slug"], (t, d)
    assert tasks[d["task_index"]]["id"] == d["task_id"]
    assert isinstance(d["ood"], bool) and isinstance(d["ood_score"], float)
PY
id=$($py -c "import json; print(json.load(open('$tmp/cur.json'))['tasks'][1]['id'])")
"$bin" rename "$tmp/cur.trm" "$id" "My own task" -q; check "rename exits 0" [ $? -eq 0 ]
check "no temporary file left" [ -z "$(ls "$tmp" | grep '\.tmp\.')" ]
"$bin" inspect "$tmp/cur.trm" | grep -q "My own task  *my-own-task .*(renamed)"
check "inspect shows the name, its slug and that a person gave it" [ $? -eq 0 ]
cp "$tmp/cur.trm" "$tmp/before.trm"
"$bin" rename "$tmp/cur.trm" 9999 "x" 2>"$tmp/e1"; check "unknown id exits 1" [ $? -eq 1 ]
check "the message lists the ids" grep -q "its ids: " "$tmp/e1"
"$bin" rename "$tmp/cur.trm" "$id" "" 2>/dev/null; check "an empty name exits 2" [ $? -eq 2 ]
other=$($py -c "import json; print(json.load(open('$tmp/cur.json'))['tasks'][0]['name'])")
"$bin" rename "$tmp/cur.trm" "$id" "$other" 2>/dev/null; check "another task's name exits 2" [ $? -eq 2 ]
"$bin" rename "$tmp/cur.trm" "$id" 2>/dev/null; check "a missing name exits 2" [ $? -eq 2 ]
check "refused renames leave the file as it was" cmp -s "$tmp/cur.trm" "$tmp/before.trm"
"$bin" rename "$tmp/cur.trm" "$id" "Elsewhere" -o "$tmp/other.trm" -q
check "rename -o writes another file" cmp -s "$tmp/cur.trm" "$tmp/before.trm"
"$bin" inspect "$tmp/other.trm" | grep -q "Elsewhere"; check "the other file has the name" [ $? -eq 0 ]
$py - "$tmp/d.jsonl" "$tmp/sub.jsonl" <<'PY'
import sys
with open(sys.argv[2], "w") as f:
    for i, line in enumerate(open(sys.argv[1])):
        if i % 10 != 3: f.write(line)
PY
"$bin" train "$tmp/sub.jsonl" --warm-start "$tmp/cur.trm" --seed 7 -o "$tmp/next.trm" --heads prior-soft --force -q
check "warm start on a 90% subsample with another seed" [ $? -eq 0 ]
"$bin" inspect "$tmp/next.trm" | grep -q "My own task  *my-own-task .*(renamed)"
check "the name survives the warm start" [ $? -eq 0 ]
"$bin" route "$tmp/cur.trm" --brief -q < "$tmp/d.jsonl" > "$tmp/a.out"
"$bin" route "$tmp/next.trm" --brief -q < "$tmp/d.jsonl" > "$tmp/b.out"
check ">= 95% of prompts keep their task id" $py - "$tmp/a.out" "$tmp/b.out" <<'PY'
import json, sys
a = [json.loads(l)["task_id"] for l in open(sys.argv[1])]
b = [json.loads(l)["task_id"] for l in open(sys.argv[2])]
same = sum(x == y for x, y in zip(a, b)) / len(a)
print("kept %.3f" % same)
assert len(a) == len(b) == 1500 and same >= 0.95, same
PY

echo "fails: $fails"
[ $fails -eq 0 ]
