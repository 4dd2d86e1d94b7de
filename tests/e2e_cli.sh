#!/usr/bin/env bash
# End-to-end: the CLI as a user drives it on the demo data: discover, train,
# inspect, route (every selection mode), eval; and the error paths a user
# meets (bad options -> 2, missing or corrupt files -> 1 with the path named).
. "$(dirname "$0")/cli_lib.sh"
# a small slice keeps this fast under sanitizers
head -n 1500 "$data" > "$tmp/d.jsonl"

# usage errors exit 2
"$bin" train >/dev/null 2>&1; check "train without args exits 2" [ $? -eq 2 ]
"$bin" train "$tmp/d.jsonl" -o "$tmp/x.trm" --dim abc >/dev/null 2>"$tmp/e"; rc=$?
check "bad --dim exits 2" [ $rc -eq 2 ]
check "bad --dim names the option" grep -q -- "--dim" "$tmp/e"
"$bin" train "$tmp/d.jsonl" -o "$tmp/x.trm" --heads prior-soft,nearest -q 2>"$tmp/e"; rc=$?
check "unknown --heads variant fails" [ $rc -eq 1 ]
check "unknown --heads variant is named with the known ones" grep -q "unknown head variant 'nearest' (known: prior-hard" "$tmp/e"
check "nothing written on a bad --heads" [ ! -e "$tmp/x.trm" ]
# a model name with CR/LF and an escape sequence is shown escaped, never raw
/usr/bin/python3 - "$tmp/d.jsonl" "$tmp/evil.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][:40]
rows[3]["scores"]["evil\r\nFAKE: injected\x1b[31m"] = 0.5
open(sys.argv[2], "w").write("".join(json.dumps(r) + "\n" for r in rows))
PY
"$bin" train "$tmp/evil.jsonl" -o "$tmp/x.trm" >/dev/null 2>"$tmp/e"; rc=$?
check "a model name with control characters fails the typo check" [ $rc -eq 1 ]
check "its name is shown escaped" grep -qF 'evil\r\nFAKE: injected\x1b[31m' "$tmp/e"
check "no raw CR or ESC reaches the terminal" [ "$(tr -cd '\r\033' < "$tmp/e" | wc -c)" = 0 ]
"$bin" train "$tmp/d.jsonl" -o "$tmp/x.trm" --knn-tasks 65 >/dev/null 2>"$tmp/e"; rc=$?
check "--knn-tasks out of range exits 2" [ $rc -eq 2 ]
"$bin" train "$tmp/d.jsonl" -o "$tmp/x.trm" --knn-mass 1.5 >/dev/null 2>"$tmp/e"; rc=$?
check "--knn-mass out of range exits 2" [ $rc -eq 2 ]
check "--knn-mass out of range names the option" grep -q -- "--knn-mass" "$tmp/e"
"$bin" train "$tmp/d.jsonl" -o "$tmp/x.trm" --projection int4 >/dev/null 2>"$tmp/e"; rc=$?
check "an unknown --projection exits 2" [ $rc -eq 2 ]
check "an unknown --projection names the choices" grep -q -- "--projection wants int8 or half, not 'int4'" "$tmp/e"
"$bin" nosuch >/dev/null 2>&1; check "unknown command exits 2" [ $? -eq 2 ]
"$bin" --version | grep -q taskroute; check "--version" [ $? -eq 0 ]
for c in synth embed discover train route eval inspect; do
  "$bin" $c --help > "$tmp/h" 2>&1; check "$c --help exits 0" [ $? -eq 0 ]
done

# discover: stage-1 router + report
"$bin" discover "$tmp/d.jsonl" -o "$tmp/tasks.trm" --report "$tmp/tasks.md" --json "$tmp/tasks.json" -q
check "discover exits 0" [ $? -eq 0 ]
check "report has tasks" grep -q "^### " "$tmp/tasks.md"
check "report compares with labels" grep -q "NMI" "$tmp/tasks.md"
check "json report parses" python3 -c "import json,sys; d=json.load(open('$tmp/tasks.json')); assert d['n_tasks']>=2 and len(d['tasks'])==d['n_tasks']"
head -n 5 "$tmp/d.jsonl" | "$bin" route "$tmp/tasks.trm" -q > "$tmp/t.jsonl"
check "stage-1 route gives a task per prompt" [ "$(grep -c '"task"' "$tmp/t.jsonl")" -eq 5 ]

# train, inspect
"$bin" train "$tmp/d.jsonl" -o "$tmp/r.trm" 2> "$tmp/train.err"; check "train exits 0" [ $? -eq 0 ]
check "train says where its time went" grep -Eq "^taskroute train: [0-9.]+ s: embedding [0-9.]+ s, .*out-of-fold [0-9.]+ s, heads [0-9.]+ s$" "$tmp/train.err"
# neither our worker threads nor OpenBLAS's may change a bit of the router
"$bin" train "$tmp/d.jsonl" -o "$tmp/r1.trm" --threads 1 -q; check "train --threads 1 exits 0" [ $? -eq 0 ]
check "the router file does not depend on --threads" cmp -s "$tmp/r.trm" "$tmp/r1.trm"
OPENBLAS_NUM_THREADS=1 "$bin" train "$tmp/d.jsonl" -o "$tmp/r2.trm" --threads 3 -q
check "nor on OpenBLAS's thread count" cmp -s "$tmp/r.trm" "$tmp/r2.trm"
# --cv-predictions: a line per training record, every head, the router unchanged
"$bin" train "$tmp/d.jsonl" -o "$tmp/r3.trm" --cv-predictions "$tmp/oof.jsonl" -q; check "train --cv-predictions exits 0" [ $? -eq 0 ]
check "--cv-predictions leaves the router as it was" cmp -s "$tmp/r.trm" "$tmp/r3.trm"
check "--cv-predictions: one line per training record, every head, CV's choice" python3 -c "
import json, subprocess
def fnv(s):
    h = 14695981039346656037
    for b in s.encode(): h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h
train = [json.loads(l) for l in open('$tmp/d.jsonl')]
train = [r for r in train if fnv(r['id']) % 5 != 0]
rows = [json.loads(l) for l in open('$tmp/oof.jsonl')]
assert [r['id'] for r in rows] == [r['id'] for r in train], 'ids'
info = json.loads(subprocess.check_output(['$bin', 'inspect', '--json', '$tmp/r.trm']))
chosen = info['config']['heads']['quality']
assert all(0 <= r['task_index'] < len(info['tasks']) for r in rows), 'task_index'
assert len({r['task_index'] for r in rows}) == len(info['tasks']), 'every task has records' 
heads = set(rows[0]['q'])
assert chosen in heads and len(heads) >= 8, (chosen, heads)
assert {r['fold'] for r in rows} == set(range(5))
for r in rows:
    assert r['chosen'] == chosen and set(r['q']) == heads
    for h in r['q'].values():
        assert set(h) == set(train[0]['scores']) and all(v is None or 0 <= v <= 1 for v in h.values()), h"
# too few complete records for CV: one model's score dropped from all but 5 of 40
python3 -c "
import json, sys
for k, l in enumerate(open('$tmp/d.jsonl')):
    if k == 40: break
    r = json.loads(l)
    if k >= 5: r['scores'].pop(sorted(r['scores'])[0], None)
    print(json.dumps(r))" > "$tmp/few.jsonl"
"$bin" train "$tmp/few.jsonl" -o "$tmp/r4.trm" --cv-predictions "$tmp/oof1.jsonl" -q 2> "$tmp/e"; rc=$?
check "--cv-predictions without CV exits 1" [ $rc -eq 1 ]
check "...saying it needs cross-validation, writing nothing" sh -c "grep -q 'need cross-validation' '$tmp/e' && [ ! -e '$tmp/r4.trm' ] && [ ! -e '$tmp/oof1.jsonl' ]"
"$bin" train "$tmp/d.jsonl" -o "$tmp/r6.trm" --cv-predictions - 2> /dev/null > "$tmp/oof-stdout.jsonl"
check "--cv-predictions - writes the same lines to standard output" cmp -s "$tmp/oof.jsonl" "$tmp/oof-stdout.jsonl"
python3 bench/cv_study.py "$tmp/d.jsonl" "$tmp/oof.jsonl" > "$tmp/cvs.md"
check "bench/cv_study.py reads them: every head and the label oracle" sh -c "grep -q '^| label oracle' '$tmp/cvs.md' && [ \$(grep -c '^| ' '$tmp/cvs.md') -ge 14 ]"
{ head -n 1 "$tmp/oof.jsonl"; echo 'not json'; } > "$tmp/oof-bad.jsonl"
python3 bench/cv_study.py "$tmp/d.jsonl" "$tmp/oof-bad.jsonl" > /dev/null 2> "$tmp/e"; rc=$?
check "bench/cv_study.py names the bad line of its input" sh -c "[ $rc -ne 0 ] && grep -q 'oof-bad.jsonl:2: not JSON' '$tmp/e'"
"$bin" train "$tmp/d.jsonl" -o "$tmp/r5.trm" --cv-predictions "$tmp/no/such/dir/oof.jsonl" -q 2> "$tmp/e"; rc=$?
check "--cv-predictions to a bad path exits 1, naming it, no router" sh -c "[ $rc -eq 1 ] && grep -q 'no/such/dir/oof.jsonl' '$tmp/e' && [ ! -e '$tmp/r5.trm' ]"
"$bin" inspect "$tmp/r.trm" > "$tmp/i.txt"; check "inspect exits 0" [ $? -eq 0 ]
check "inspect says full router" grep -q "full router" "$tmp/i.txt"
"$bin" inspect --json "$tmp/r.trm" | python3 -c "import json,sys; d=json.load(sys.stdin); assert d['has_heads'] and len(d['models'])>=2"
check "inspect --json" [ $? -eq 0 ]
"$bin" inspect --json "$tmp/r.trm" | python3 -c "import json,sys; c=json.load(sys.stdin)['config']; assert c['embedding']=='sentencepiece-tfidf-svd' and c['bigrams']==1 and c['max_features']==50000 and c['projection']=='int8' and c['tokenizer_rule']=='script-runs', c"
check "inspect --json: the embedding and its features" [ $? -eq 0 ]

# the latency profile: unigram features only, capped, no kNN heads
"$bin" train "$tmp/d.jsonl" -o "$tmp/x.trm" --max-features 0 >/dev/null 2>"$tmp/e"; rc=$?
check "--max-features 0 exits 2" [ $rc -eq 2 ]
check "--max-features 0 names the option" grep -q -- "--max-features" "$tmp/e"
"$bin" train "$tmp/d.jsonl" -o "$tmp/fast.trm" --no-bigrams --max-features 500 --heads prior-soft,prior+ridge -q
check "train --no-bigrams --max-features exits 0" [ $? -eq 0 ]
"$bin" inspect --json "$tmp/fast.trm" | python3 -c "import json,sys; c=json.load(sys.stdin)['config']; assert c['bigrams']==0 and c['max_features']==500, c"
check "the fast router records its features" [ $? -eq 0 ]
head -n 20 "$tmp/d.jsonl" | "$bin" route "$tmp/fast.trm" --brief -q > "$tmp/fast.out"
"$bin" train "$tmp/d.jsonl" -o "$tmp/fast2.trm" --fast -q
"$bin" inspect --json "$tmp/fast2.trm" | python3 -c "import json,sys; c=json.load(sys.stdin)['config']; assert c['max_features']==8000 and c['bigrams']==1 and c['heads']['quality'] in ('prior-soft','prior+ridge') and all(not r['quality'].startswith('knn') for r in c['heads']['cv']), c"
check "train --fast is the latency profile" [ $? -eq 0 ]
# --projection half: embedder format 4, twice the projection's bytes
"$bin" train "$tmp/d.jsonl" -o "$tmp/fast2h.trm" --fast --projection half -q
embd_bytes() { "$bin" inspect --json "$1" | python3 -c "import json,sys; d=json.load(sys.stdin); assert d['config']['projection']==sys.argv[1], d['config']; print([s['bytes'] for s in d['sections'] if s['tag']=='EMBD'][0])" "$2"; }
b8=$(embd_bytes "$tmp/fast2.trm" int8); b16=$(embd_bytes "$tmp/fast2h.trm" half)
check "--projection half records itself and stores more bytes ($b16 > $b8)" test "${b8:-0}" -gt 0 -a "${b16:-0}" -gt "${b8:-0}"
head -n 20 "$tmp/d.jsonl" | "$bin" route "$tmp/fast2h.trm" --brief -q > "$tmp/fast2h.out"
check "the half router routes" [ "$(grep -c '"model"' "$tmp/fast2h.out")" -eq 20 ]
"$bin" train "$tmp/d.jsonl" -o "$tmp/fast3.trm" --max-features 700 --fast --heads prior-soft -q
"$bin" inspect --json "$tmp/fast3.trm" | python3 -c "import json,sys; c=json.load(sys.stdin)['config']; assert c['max_features']==700 and c['heads']['quality']=='prior-soft', c"
check "train --fast: options given explicitly win" [ $? -eq 0 ]
check "the fast router routes" [ "$(grep -c '"model"' "$tmp/fast.out")" -eq 20 ]

# --knn-cap: a smaller kNN store (the HEAD section shrinks), still a router
"$bin" train "$tmp/d.jsonl" -o "$tmp/x.trm" --knn-cap -1 >/dev/null 2>"$tmp/e"; rc=$?
check "--knn-cap -1 exits 2" [ $rc -eq 2 ]
"$bin" train "$tmp/d.jsonl" -o "$tmp/cap.trm" --knn-cap 20 --heads knn-tau -q
check "train --knn-cap exits 0" [ $? -eq 0 ]
"$bin" train "$tmp/d.jsonl" -o "$tmp/nocap.trm" --knn-cap 0 --heads knn-tau -q
head_bytes() { "$bin" inspect --json "$1" | python3 -c "import json,sys; print([s['bytes'] for s in json.load(sys.stdin)['sections'] if s['tag']=='HEAD'][0])"; }
check "--knn-cap 20 stores fewer prompts than no cap" [ "$(head_bytes "$tmp/cap.trm")" -lt "$(head_bytes "$tmp/nocap.trm")" ]
head -n 5 "$tmp/d.jsonl" | "$bin" route "$tmp/cap.trm" -q > "$tmp/cap.out"
check "the capped router routes" [ "$(grep -c '"model"' "$tmp/cap.out")" -eq 5 ]

# route: each mode gives one decision per prompt, with a model
head -n 20 "$tmp/d.jsonl" > "$tmp/p.jsonl"
for mode in "" "--lambda 100" "--tolerance 0.05" "--budget 0.001" "--risk 0.2" "--best"; do
  "$bin" route "$tmp/r.trm" $mode -q < "$tmp/p.jsonl" > "$tmp/o.jsonl"; rc=$?
  check "route $mode exits 0" [ $rc -eq 0 ]
  check "route $mode: 20 decisions with a model" [ "$(grep -c '"model"' "$tmp/o.jsonl")" -eq 20 ]
done
check "route: no key twice in a decision" python3 -c "
import json
def once(pairs):
    keys = [k for k, _ in pairs]
    assert len(keys) == len(set(keys)), keys
    return dict(pairs)
for l in open('$tmp/o.jsonl'): json.loads(l, object_pairs_hook=once)
"
m1=$(python3 -c "import json; print(json.load(open('$tmp/tasks.json'))['tasks'][0]['models'][0]['model'])" 2>/dev/null || echo "")
if [ -n "$m1" ]; then
  "$bin" route "$tmp/r.trm" --models "$m1" -q < "$tmp/p.jsonl" > "$tmp/o.jsonl"
  check "--models restricts to $m1" [ "$(grep -c "\"model\":\"$m1\"" "$tmp/o.jsonl")" -eq 20 ]
fi
"$bin" route "$tmp/r.trm" --models no-such-model < "$tmp/p.jsonl" > /dev/null 2> "$tmp/e"; rc=$?
check "unknown --models exits 2" [ $rc -eq 2 ]
check "unknown model named" grep -q "no-such-model" "$tmp/e"
printf '{"prompt": 5}\nnot json\n' | "$bin" route "$tmp/r.trm" > /dev/null 2> "$tmp/e"; rc=$?
check "bad route input exits 1" [ $rc -eq 1 ]
check "bad route input names line 2" grep -q "stdin:2" "$tmp/e"

# eval
"$bin" eval "$tmp/r.trm" "$tmp/d.jsonl" --baselines --json > "$tmp/ev.json"; rc=$?
check "eval exits 0" [ $rc -eq 0 ]
check "eval json has our router and baselines" python3 -c "
import json; d=json.load(open('$tmp/ev.json'))
assert 'taskroute' in d['routers'] and len(d['routers'])>=5, d['routers'].keys()
for k in ('q_at_c_best','gap_captured','c_at_q_best','cost_saving','q_max','aiq_lin','aiq_log'): assert k in d['routers']['taskroute'], k"
"$bin" eval "$tmp/r.trm" "$tmp/d.jsonl" --plot "$tmp/c.svg" > /dev/null; check "eval --plot writes svg" grep -q "<svg" "$tmp/c.svg"
check "eval json breaks the test split down by label" python3 -c "
import json; d=json.load(open('$tmp/ev.json')); b=d['by_label']; lo=d['label_oracle']
assert len(b)>=2 and sum(v['n'] for v in b.values())==lo['n_labelled']==d['n_test'], (len(b), lo)
assert all(v['taskroute']<=v['oracle']+1e-12 and v['label_best']<=v['oracle']+1e-12 for v in b.values())
lost=[v['prompts_vs_label_best'] for v in b.values()]; assert lost==sorted(lost), lost
assert abs(sum(v['taskroute']*v['n'] for v in b.values())/lo['n_labelled']-lo['taskroute'])<1e-9"
"$bin" eval "$tmp/r.trm" "$tmp/d.jsonl" --by-label > "$tmp/ev.txt"
check "eval --by-label prints the label table" grep -q "^all labelled" "$tmp/ev.txt"

# corrupt and missing files: exit 1, path named, nothing crashes
"$bin" inspect "$tmp/none.trm" > /dev/null 2> "$tmp/e"; rc=$?
check "missing router exits 1" [ $rc -eq 1 ]
check "missing router named" grep -q "none.trm" "$tmp/e"
cp "$tmp/r.trm" "$tmp/bad.trm"
printf '\xff\xff\xff\xff' | dd of="$tmp/bad.trm" bs=1 seek=300 conv=notrunc 2>/dev/null
"$bin" inspect "$tmp/bad.trm" > /dev/null 2> "$tmp/e"; rc=$?
check "corrupt router exits 1" [ $rc -eq 1 ]
check "corrupt router: checksum named" grep -qi "checksum\|corrupt" "$tmp/e"
printf '{"id":"1","prompt":"x","scores":{"a":7}}\n' > "$tmp/bad.jsonl"
"$bin" train "$tmp/bad.jsonl" -o "$tmp/z.trm" 2> "$tmp/e"; rc=$?
check "bad data exits 1" [ $rc -eq 1 ]
check "bad data names file:line and field" grep -q "bad.jsonl:1.*scores" "$tmp/e"
check "no output written on failure" [ ! -e "$tmp/z.trm" ]

echo "e2e_cli: $fails failed"
[ $fails -eq 0 ]
