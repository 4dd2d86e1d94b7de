#!/usr/bin/env bash
# End-to-end: `taskroute eval --folds K` on a slice of the demo data, as a
# user runs it: the JSON's shape (mean, se and per-fold values of every
# figure, paired differences with folds won), a progress line per fold, the
# same figures whatever --jobs, the table, the usage errors, and
# bench/kfold_compare.py's paired differences between two runs.
. "$(dirname "$0")/cli_lib.sh"
head -n 900 "$data" > "$tmp/d.jsonl"

"$bin" eval --folds 3 "$tmp/d.jsonl" --baselines --json --jobs 1 > "$tmp/k1.json" 2> "$tmp/k1.err"
check "eval --folds 3 exits 0" [ $? -eq 0 ]
check "a progress line per fold on stderr" [ "$(grep -c 'fold [0-2] of 3 done' "$tmp/k1.err")" -eq 3 ]
check "k-fold JSON: mean, se and per-fold values; paired differences with folds won" $py -c "
import json, math; d=json.load(open('$tmp/k1.json'))
assert d['folds'] == 3 and len(d['n_test']['folds']) == 3 and sum(d['n_test']['folds']) == d['n_test']['total'], d['n_test']
for name in ('taskroute', 'knn', 'linear', 'random-mix', 'task-prior-soft'):
    s = d['routers'][name]['q_at_c_best']
    assert len(s['folds']) == 3 and abs(sum(s['folds']) / 3 - s['mean']) < 1e-12, (name, s)
    m = s['mean']; sd = math.sqrt(sum((x - m) ** 2 for x in s['folds']) / 2)
    assert abs(sd / math.sqrt(3) - s['se']) < 1e-12, (name, s)
p = d['paired']['knn']['aiq_log']
assert p['won'] + p['lost'] + p['tied'] == 3, p
diffs = [a - b for a, b in zip(d['routers']['taskroute']['aiq_log']['folds'], d['routers']['knn']['aiq_log']['folds'])]
assert abs(sum(diffs) / 3 - p['mean']) < 1e-12 and p['won'] == sum(x > 0 for x in diffs), (p, diffs)
assert 'q_at_c_best' in d['paired']['best-single'] and len(d['heads']) == 3
assert len(d['reference']['best_model']) == 3"
"$bin" eval --folds 3 "$tmp/d.jsonl" --baselines --json --jobs 3 --threads 1 -q > "$tmp/k3.json" 2> "$tmp/k3.err"
check "--jobs 3 --threads 1 exits 0 and -q is quiet" [ $? -eq 0 -a ! -s "$tmp/k3.err" ]
check "the same figures whatever --jobs and --threads" cmp -s "$tmp/k1.json" "$tmp/k3.json"
"$bin" eval --folds 3 "$tmp/d.jsonl" -q > "$tmp/table.txt"
check "table: mean +- SE and paired differences" grep -q "taskroute minus each router" "$tmp/table.txt"
check "table: taskroute's row" grep -q "^taskroute  *0\.[0-9]* +- 0\.[0-9]*" "$tmp/table.txt"
check "table without --baselines has no kNN baseline" [ -z "$(grep '^knn ' "$tmp/table.txt")" ]

"$bin" train "$tmp/d.jsonl" -o "$tmp/r.trm" -q
"$bin" eval --folds 3 "$tmp/r.trm" "$tmp/d.jsonl" -q 2>/dev/null
check "--folds with a router file exits 2" [ $? -eq 2 ]
"$bin" eval "$tmp/r.trm" "$tmp/d.jsonl" --seed 3 -q 2>/dev/null
check "train options without --folds exit 2" [ $? -eq 2 ]
"$bin" eval --folds 3 "$tmp/d.jsonl" --plot "$tmp/x.svg" -q 2>/dev/null
check "--plot with --folds exits 2" [ $? -eq 2 ]
"$bin" eval --folds 1 "$tmp/d.jsonl" -q 2>/dev/null
check "--folds 1 exits 2" [ $? -eq 2 ]
"$bin" eval --folds 3 "$tmp/d.jsonl" --heads bogus -q 2> "$tmp/bogus.err"
rc=$?
check "a bad head name is an error naming it" [ $rc -eq 1 -a -n "$(grep bogus "$tmp/bogus.err")" ]
$py bench/kfold_compare.py "$tmp/k1.json:knn" "$tmp/k1.json" > "$tmp/cmp.md"
check "kfold_compare: the knn baseline against taskroute, paired" $py -c "
import json; d=json.load(open('$tmp/k1.json')); p=d['paired']['knn']['q_at_c_best']
row=[l for l in open('$tmp/cmp.md') if l.startswith('| Q@C_best |')][0].split('|')
assert row[4].strip().startswith('%+.4f' % -p['mean']), (row, p)
assert row[5].strip() == '%d / %d' % (p['lost'], p['won']), (row, p)"
$py bench/kfold_compare.py "$tmp/k1.json" "$tmp/k3.json" > "$tmp/same.md"
check "kfold_compare: a run against its twin differs by zero" grep -q "^| AIQ (log) | .* | +0.0000 ± 0.0000 | 0 / 0 |" "$tmp/same.md"
$py bench/kfold_compare.py "$tmp/k1.json:nosuch" "$tmp/k1.json" 2> "$tmp/cmp.err" > /dev/null
check "kfold_compare names a missing router" grep -q "routers.nosuch" "$tmp/cmp.err"
"$bin" eval --help | grep -q -- "--folds K"; check "--help documents --folds" [ $? -eq 0 ]
"$bin" eval --help | grep -q -- "--knn-cap"; check "--help lists the train options" [ $? -eq 0 ]

echo "fails: $fails"
[ $fails -eq 0 ]
