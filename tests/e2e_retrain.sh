#!/usr/bin/env bash
# End-to-end: scheduled retraining as a cron job drives it.  Warm start with
# a drift report; a planted regression refused with exit 3, the current
# file untouched and the drift report written with the guard's evidence;
# --force; a model added and one retired between runs; kill -9 during the
# write leaves a valid file; `taskroute drift`; feedback
# merged from the server's logs.
. "$(dirname "$0")/cli_lib.sh"
head -n 1200 "$data" > "$tmp/d.jsonl"

"$bin" train "$tmp/d.jsonl" -o "$tmp/cur.trm" -q; check "base train" [ $? -eq 0 ]
cp "$tmp/cur.trm" "$tmp/cur.orig"

# usage: warm-start options without --warm-start
"$bin" train "$tmp/d.jsonl" -o "$tmp/x.trm" --drift-report "$tmp/x.md" -q 2>/dev/null
check "--drift-report without --warm-start exits 2" [ $? -eq 2 ]
"$bin" train --help | grep -q "3 refused as a regression"; check "--help documents exit 3" [ $? -eq 0 ]

# warm start on the same data with another seed
"$bin" train "$tmp/d.jsonl" --seed 9 --warm-start "$tmp/cur.trm" -o "$tmp/next.trm" \
  --drift-report "$tmp/drift.md" --drift-json "$tmp/drift.json" -q
check "warm-start train exits 0" [ $? -eq 0 ]
check "drift report (md) has its sections" grep -q "^## Splits and merges" "$tmp/drift.md"
check "drift report shows the guard" grep -q "Verdict: \*\*accepted\*\*" "$tmp/drift.md"
check "drift json: embedder reused, most tasks matched" $py -c "
import json; d=json.load(open('$tmp/drift.json'))
assert d['kind']=='retrain' and d['embedder']=='reused', d
assert d['matched'] >= 0.8*d['tasks_after'], (d['matched'], d['tasks_after'])
assert d['guard']['verdict']=='accepted'"
# the reused embedder's parameters are recorded, not the options given
"$bin" train "$tmp/d.jsonl" --warm-start "$tmp/cur.trm" --max-features 700 --no-bigrams --min-df 3 \
  -o "$tmp/next2.trm" -q
check "warm start with embedder options exits 0" [ $? -eq 0 ]
check "warm start records the reused embedder's parameters" $py -c "
import json, subprocess
cfg = lambda f: json.loads(subprocess.run(['$bin', 'inspect', '--json', f], capture_output=True, text=True).stdout)['config']
a, b = cfg('$tmp/cur.trm'), cfg('$tmp/next2.trm')
for k in ('vocab_size', 'min_df', 'max_features', 'bigrams'):
    assert a[k] == b[k], (k, a[k], b[k])
assert (b['max_features'], b['bigrams'], b['min_df']) == (50000, 1, 2), b"
"$bin" inspect "$tmp/next.trm" --json > "$tmp/inspect.json"
check "CONF records the warm start" grep -q '"warm_start"' "$tmp/inspect.json"
check "CONF stores the OOD threshold" grep -q '"ood_threshold"' "$tmp/inspect.json"

# planted regression: the training split's scores shuffled across prompts
$py - "$tmp/d.jsonl" "$tmp/bad.jsonl" <<'PY'
import json, random, sys
def fnv(s):
    h = 14695981039346656037
    for b in s.encode():
        h ^= b; h = (h * 1099511628211) % 2**64
    return h
rows = [json.loads(l) for l in open(sys.argv[1])]
train = [r for r in rows if fnv(r['id']) % 5 != 0]
sc = [r['scores'] for r in train]
random.Random(1).shuffle(sc)
for r, s in zip(train, sc): r['scores'] = s
with open(sys.argv[2], 'w') as f:
    for r in rows: f.write(json.dumps(r) + '\n')
PY
"$bin" train "$tmp/bad.jsonl" --warm-start "$tmp/cur.trm" -o "$tmp/cur.trm" --drift-report "$tmp/bad.md" \
  --drift-json "$tmp/bad.json" -q 2>"$tmp/bad.err"
rc=$?
check "regression refused with exit 3" [ $rc -eq 3 ]
check "refusal names the figures and the test" grep -q "AIQ(log).*beyond noise" "$tmp/bad.err"
check "current file untouched" cmp -s "$tmp/cur.trm" "$tmp/cur.orig"
check "drift report written on refusal, with the verdict" grep -q "Verdict: \*\*refused\*\*" "$tmp/bad.md"
check "drift report shows the evidence table" grep -q "^| AIQ (log cost) | " "$tmp/bad.md"
check "drift json: the guard's evidence (both figures, difference, interval)" $py -c "
import json; g=json.load(open('$tmp/bad.json'))['guard']
assert g['verdict']=='refused' and g['reason'], g
for k in ('q_at_c_best', 'aiq_log'):
    f = g[k]; lo, hi = f['ci']
    assert abs(f['after'] - f['before'] - f['diff']) < 1e-9 and lo <= hi, f
assert g['aiq_log']['ci'][1] < -g['max_regression'] or g['q_at_c_best']['ci'][1] < -g['max_regression'], g
assert g['resamples'] == 1000 and g['level'] == 0.95, g"
check "no temporary file left" [ -z "$(ls "$tmp" | grep '\.tmp\.')" ]
"$bin" train "$tmp/bad.jsonl" --warm-start "$tmp/cur.trm" -o "$tmp/forced.trm" --force -q
check "--force writes it anyway" [ $? -eq 0 -a -s "$tmp/forced.trm" ]

# a model retired (frontier-xl) and one added (tiny-1b renamed tiny-2b)
$py - "$tmp/d.jsonl" "$tmp/models.jsonl" <<'PY'
import json, sys
with open(sys.argv[2], 'w') as f:
    for l in open(sys.argv[1]):
        r = json.loads(l)
        for k in ('scores', 'costs'):
            r[k].pop('frontier-xl', None)
            if 'tiny-1b' in r[k]: r[k]['tiny-2b'] = r[k].pop('tiny-1b')
        f.write(json.dumps(r) + '\n')
PY
"$bin" train "$tmp/models.jsonl" --warm-start "$tmp/cur.trm" -o "$tmp/m.trm" --drift-json "$tmp/m.json" -q
check "retrain with a model added and one retired" [ $? -eq 0 ]
check "drift lists the added and retired models" $py -c "
import json; d=json.load(open('$tmp/m.json'))
assert d['models_added']==['tiny-2b'] and sorted(d['models_retired'])==['frontier-xl','tiny-1b'], d"
head -n 3 "$tmp/models.jsonl" | "$bin" route "$tmp/m.trm" -q > "$tmp/route.jsonl"
check "the new router routes with the new model set" [ "$(grep -c '"model"' "$tmp/route.jsonl")" -eq 3 ]
check "no decision names a retired model" [ -z "$(grep frontier-xl "$tmp/route.jsonl")" ]

# taskroute drift: in-distribution traffic vs traffic with planted OOD prompts
sed -n 1201,1500p "$data" > "$tmp/traffic.jsonl"
"$bin" drift "$tmp/cur.trm" "$tmp/traffic.jsonl" -q > "$tmp/t.md"; check "drift exits 0" [ $? -eq 0 ]
check "drift markdown has the share table" grep -q "share at training" "$tmp/t.md"
"$bin" drift "$tmp/cur.trm" "$tmp/traffic.jsonl" --json -q > "$tmp/t.json"
$py - "$tmp/traffic.jsonl" "$tmp/ood.jsonl" <<'PY'
import json, random, sys
rnd = random.Random(3)
rows = [json.loads(l) for l in open(sys.argv[1])][:200]
for i in range(100):  # random kana: no task looks like it
    w = ''.join(chr(rnd.randint(0x3041, 0x30FF)) for _ in range(rnd.randint(10, 30)))
    rows.append({'id': 'ood-%d' % i, 'prompt': w})
with open(sys.argv[2], 'w') as f:
    for r in rows: f.write(json.dumps({'id': r['id'], 'prompt': r['prompt']}) + '\n')
PY
"$bin" drift "$tmp/cur.trm" "$tmp/ood.jsonl" --json -q > "$tmp/o.json"
check "drift: OOD share near the calibrated 5% on normal traffic, every planted OOD prompt flagged" $py -c "
import json; a=json.load(open('$tmp/t.json')); b=json.load(open('$tmp/o.json'))
assert a['threshold_source'] == 'router' and a['ood_share'] <= 0.10, a['ood_share']
# 200 of the normal prompts (flagged as in t.json at most) and 100 planted ones
assert b['ood_count'] >= 100 and b['ood_count'] <= 100 + a['ood_count'], (a['ood_count'], b['ood_count'])
assert abs(sum(t['share_traffic'] for t in a['tasks']) - 1) < 1e-6"
"$bin" drift "$tmp/cur.trm" "$tmp/traffic.jsonl" --json --threshold -1e9 -q > "$tmp/h.json"
check "drift --threshold overrides the router's" $py -c "
import json; d=json.load(open('$tmp/h.json')); assert d['ood_share'] == 1 and d['ood_threshold'] == -1e9, d
assert d['threshold_source'] == 'option', d"
"$bin" drift "$tmp/cur.trm" >/dev/null 2>&1; check "drift without traffic exits 2" [ $? -eq 2 ]

# feedback from the server's logs, joined on request_id
$py - "$tmp/traffic.jsonl" "$tmp/dec.jsonl" "$tmp/fb.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
with open(sys.argv[2], 'w') as d, open(sys.argv[3], 'w') as f:
    rows = [r for r in rows if 'mid-70b' in r.get('scores', {})][:50]
    assert len(rows) == 50
    for i, r in enumerate(rows):
        d.write(json.dumps({'request_id': 'r%d' % i, 'prompt': r['prompt'], 'model': 'mid-70b', 'task': 0, 'ts': '2026-01-01T00:00:00Z'}) + '\n')
        f.write(json.dumps({'ts': '2026-01-01T00:00:01Z', 'unix_ms': 1, 'request_id': 'r%d' % i, 'model': 'mid-70b', 'score': r['scores']['mid-70b']}) + '\n')
    f.write(json.dumps({'request_id': 'nobody', 'model': 'mid-70b', 'score': 1}) + '\n')
    f.write('{"torn line\n')
PY
"$bin" train "$tmp/d.jsonl" --feedback "$tmp/fb.jsonl" --decisions "$tmp/dec.jsonl" -o "$tmp/fbk.trm" 2>"$tmp/fb.err"
check "train --feedback exits 0" [ $? -eq 0 ]
check "feedback joined: 50 records, 1 unmatched, 1 bad line" grep -q "52 lines, 50 decisions, 1 bad, 1 without a prompt; 50 records added" "$tmp/fb.err"

# kill -9 while the new router is being written: the target stays a valid router
cat "$data" "$data" | $py -c "
import sys, json
for i, l in enumerate(sys.stdin):
    r = json.loads(l); r['id'] = 'k%d' % i; print(json.dumps(r))" > "$tmp/big.jsonl"
cp "$tmp/cur.orig" "$tmp/live.trm"
"$bin" train "$tmp/big.jsonl" --warm-start "$tmp/cur.orig" --force -o "$tmp/live.trm" -q &
pid=$!
# stop the writer the moment its temporary file appears; if the temporary
# file is still there while it is stopped, the rename has not happened yet
seen=0
for _ in $(seq 1 60000); do
  if ls "$tmp"/live.trm.tmp.* >/dev/null 2>&1; then
    kill -STOP $pid 2>/dev/null
    ls "$tmp"/live.trm.tmp.* >/dev/null 2>&1 && seen=1
    break
  fi
  kill -0 $pid 2>/dev/null || break
  sleep 0.001
done
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
echo "killed while the temporary file existed: $seen"
"$bin" inspect "$tmp/live.trm" >/dev/null 2>&1
check "after kill -9 the router file is still a valid router" [ $? -eq 0 ]
if [ $seen -eq 1 ]; then
  check "killed mid-write: the old file is intact" cmp -s "$tmp/live.trm" "$tmp/cur.orig"
fi

echo "fails: $fails"
[ $fails -eq 0 ]
