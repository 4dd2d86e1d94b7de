#!/usr/bin/env bash
# End-to-end: `taskroute tune-cascade --folds K` on a slice of the demo data
# with a PERFECT simulated verifier (confidence 1 for a right answer, 0 for
# a wrong one): a router per fold, the cascade tuned on the fold's training
# part, and the k-fold JSON's shape (mean, se and per-fold values, paired
# cascade - plain with folds won); with quality alone to maximise the
# cascade cannot lose to plain routing; the same figures whatever --jobs;
# fold 0 of 5 is `train` + `tune-cascade` on the split; the table; the
# usage errors.
. "$(dirname "$0")/cli_lib.sh"
head -n 900 "$data" > "$tmp/d.jsonl"
$py - "$tmp/d.jsonl" "$tmp/v.jsonl" <<'PY'
import json, sys
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as out:
    for line in f:
        r = json.loads(line)
        r["verify"] = {m: 1.0 if s >= 0.5 else 0.0 for m, s in r["scores"].items() if s is not None}
        out.write(json.dumps(r) + "\n")
PY

"$bin" tune-cascade --folds 3 "$tmp/v.jsonl" --lambda 0 --json --jobs 1 > "$tmp/k1.json" 2> "$tmp/k1.err"
check "tune-cascade --folds 3 exits 0" [ $? -eq 0 ]
check "a progress line per fold on stderr" [ "$(grep -c 'fold [0-2] of 3 done' "$tmp/k1.err")" -eq 3 ]
check "k-fold JSON: 3 folds, mean, se and per-fold values, paired differences with folds won" $py -c "
import json, math; d=json.load(open('$tmp/k1.json')); K=3
assert d['folds'] == K and len(d['n_test']['folds']) == K and sum(d['n_test']['folds']) == d['n_test']['total'], d['n_test']
assert len(d['chosen']) == K and len(d['best_single']['model']) == K and len(d['n_train']['folds']) == K
for arm in ('cascade', 'plain_routing'):
    for k in ('quality', 'cost', 'q_at_cbest', 'saving', 'aiq_log'):
        s = d[arm][k]
        assert len(s['folds']) == K, (arm, k, s)
        if None in s['folds']:   # a figure a fold does not reach (saving) has no mean
            assert s['mean'] is None, (arm, k, s); continue
        m = sum(s['folds']) / K
        assert abs(m - s['mean']) < 1e-12, (arm, k, s)
        sd = math.sqrt(sum((x - m) ** 2 for x in s['folds']) / (K - 1))
        assert abs(sd / math.sqrt(K) - s['se']) < 1e-12, (arm, k, s)
assert len(d['cascade']['escalated']['folds']) == K
for k, better in (('quality', 1), ('cost', -1), ('aiq_log', 1)):
    p = d['paired'][k]
    diffs = [a - b for a, b in zip(d['cascade'][k]['folds'], d['plain_routing'][k]['folds'])]
    assert abs(sum(diffs) / K - p['mean']) < 1e-12, (k, p, diffs)
    assert p['won'] == sum(x * better > 0 for x in diffs) and p['won'] + p['lost'] + p['tied'] == K, (k, p, diffs)"
check "a perfect verifier: the cascade's quality is at least plain routing's in every fold, and above on the mean" $py -c "
import json; d=json.load(open('$tmp/k1.json')); p=d['paired']['quality']
assert p['lost'] == 0 and p['mean'] > 0, p
assert max(d['cascade']['escalated']['folds']) > 0, d['cascade']['escalated']"
"$bin" tune-cascade --folds 3 "$tmp/v.jsonl" --lambda 0 --json --jobs 3 --threads 1 -q > "$tmp/k3.json" 2> "$tmp/k3.err"
check "--jobs 3 --threads 1 exits 0 and -q is quiet" [ $? -eq 0 -a ! -s "$tmp/k3.err" ]
check "the same figures whatever --jobs and --threads" cmp -s "$tmp/k1.json" "$tmp/k3.json"
"$bin" tune-cascade --folds 3 "$tmp/v.jsonl" -q > "$tmp/table.txt"
check "table: the figures of both arms and the paired difference" grep -q "^quality  *0\.[0-9]* +- 0\.[0-9]*  *0\.[0-9]* +- 0\.[0-9]*  *[-+]0\.[0-9]* +- 0\.[0-9]* ([0-3]/[0-3])" "$tmp/table.txt"

"$bin" tune-cascade --folds 1 "$tmp/v.jsonl" -q 2> "$tmp/bad.err"
check "--folds 1 exits 2 naming the range" [ $? -eq 2 -a -n "$(grep -- '--folds wants a whole number in \[2, 100\]' "$tmp/bad.err")" ]
"$bin" tune-cascade --folds x "$tmp/v.jsonl" -q 2>/dev/null
check "--folds x exits 2" [ $? -eq 2 ]
"$bin" train "$tmp/d.jsonl" -o "$tmp/r.trm" -q
"$bin" tune-cascade --folds 3 "$tmp/r.trm" "$tmp/v.jsonl" -q 2>/dev/null
check "--folds with a router file exits 2" [ $? -eq 2 ]
"$bin" tune-cascade "$tmp/r.trm" "$tmp/v.jsonl" --lambda 0 --json -q > "$tmp/one.json"
"$bin" tune-cascade --folds 5 "$tmp/v.jsonl" --lambda 0 --json -q > "$tmp/k5.json"
check "fold 0 of 5 is train + tune-cascade on the split" $py -c "
import json; one=json.load(open('$tmp/one.json')); k=json.load(open('$tmp/k5.json')); t=one['tuned']
assert k['n_test']['folds'][0] == t['n_test'] and k['n_train']['folds'][0] == t['n_train'], (k['n_test'], t)
assert k['chosen'][0] == {'tolerance': one['tolerance'], 'threshold': one['threshold']}, (k['chosen'], one)
for arm in ('cascade', 'plain_routing'):
    for f in ('quality', 'cost', 'q_at_cbest', 'aiq_log'):
        assert k[arm][f]['folds'][0] == t['test'][arm][f], (arm, f, k[arm][f], t['test'][arm])"
"$bin" tune-cascade --folds 3 "$tmp/v.jsonl" -o "$tmp/c.json" -q 2> "$tmp/o.err"
check "-o with --folds exits 2 and says why" [ $? -eq 2 -a -n "$(grep 'not with --folds' "$tmp/o.err")" -a ! -e "$tmp/c.json" ]
"$bin" tune-cascade "$tmp/r.trm" "$tmp/v.jsonl" --seed 3 -q 2>/dev/null
check "train options without --folds exit 2" [ $? -eq 2 ]
"$bin" tune-cascade --folds 3 "$tmp/d.jsonl" -q 2> "$tmp/nov.err"
check "no confidences: an error that says so" [ $? -eq 1 -a -n "$(grep 'no "verify" confidences' "$tmp/nov.err")" ]
"$bin" tune-cascade --help | grep -q -- "--folds K"; check "--help documents --folds" [ $? -eq 0 ]

echo "fails: $fails"
[ $fails -eq 0 ]
