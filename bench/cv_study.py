#!/usr/bin/env python3
"""cv_study: how far each head's cross-validated choices are from a router
that knew the human task labels, on the training split only.

    build/taskroute train DATA.jsonl -o R.trm --cv-predictions OOF.jsonl
    bench/cv_study.py DATA.jsonl OOF.jsonl

For every head in OOF.jsonl (out-of-fold predicted qualities), each training
record's model is the head's highest predicted quality (lambda = 0; ties
go to the first model listed, where the router would take the cheaper);
we print the mean true score of those picks on the records with every
score.  The
"label oracle" sends each record to the model with the best mean score on
its human label ("task") in the *other* folds, so it is cross-fitted like
the heads.  Then, per label, the chosen head against the label oracle.
Standard library only.
"""
import collections
import json
import sys


def read_jsonl(path, need):
    """(line number, object) of each non-blank line; exits naming the file,
    line and field on bad JSON or a missing field."""
    out = []
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"cv_study: {path}:{no}: not JSON: {e.msg} at column {e.colno}")
            for k in need:
                if not isinstance(obj, dict) or k not in obj:
                    sys.exit(f"cv_study: {path}:{no}: field '{k}' missing")
            out.append((no, obj))
    return out


def main(data_path, oof_path):
    data = {r["id"]: r for _, r in read_jsonl(data_path, ("id",))}
    lines = read_jsonl(oof_path, ("id", "fold", "chosen", "q"))
    rows = [r for _, r in lines]
    if not rows:
        sys.exit(f"cv_study: {oof_path}: no rows")
    heads = list(rows[0]["q"])
    chosen = rows[0]["chosen"]
    models = list(rows[0]["q"][heads[0]])
    recs = []
    for no, r in lines:
        d = data.get(r["id"])
        if d is None:
            sys.exit(f"cv_study: {oof_path}:{no}: field 'id': {r['id']!r} is not in {data_path}")
        recs.append((r, d))
    complete = [(r, d) for r, d in recs if all(d.get("scores", {}).get(m) is not None for m in models)]
    labelled = all(d.get("task") for _, d in complete)
    folds = sorted({r["fold"] for r, _ in recs})

    def pick(q):
        best = None
        for m in models:
            v = q[m]
            if v is not None and (best is None or v > q[best]):
                best = m
        return best

    # label oracle, cross-fitted: each fold's labels' best models from the other folds
    own = {}
    if labelled:
        for f in folds:
            sums = collections.defaultdict(lambda: collections.defaultdict(lambda: [0.0, 0]))
            for r, d in recs:
                if r["fold"] == f or not d.get("task"):
                    continue
                for m in models:
                    s = d["scores"].get(m)
                    if s is not None:
                        a = sums[d["task"]][m]
                        a[0] += s
                        a[1] += 1
            for r, d in recs:
                if r["fold"] != f:
                    continue
                means = {m: a[0] / a[1] for m, a in sums[d["task"]].items() if a[1]}
                own[r["id"]] = max(models, key=lambda m: means.get(m, -1.0)) if means else None

    n = len(complete)
    print(f"{oof_path}: {len(recs)} training records, {n} with every score; {len(heads)} heads; CV chose {chosen}\n")
    print("| head | mean true score of its picks (lambda = 0) |")
    print("|---|---:|")
    for h in heads:
        q = sum(d["scores"][pick(r["q"][h])] for r, d in complete) / n
        print(f"| {'**' + h + '**' if h == chosen else h} | {q:.4f} |")
    best1 = max(models, key=lambda m: sum(d["scores"][m] for _, d in complete))
    print(f"| best single model ({best1}) | {sum(d['scores'][best1] for _, d in complete) / n:.4f} |")
    print(f"| per-record oracle | {sum(max(d['scores'][m] for m in models) for _, d in complete) / n:.4f} |")
    if not labelled:
        print("\n(no label oracle: some records have no \"task\" label)")
        return
    lo = sum(d["scores"][own[r["id"]]] for r, d in complete if own[r["id"]]) / n
    print(f"| label oracle (each label's best model in the other folds) | {lo:.4f} |")
    print(f"\nPer label, {chosen} against the label oracle (most records lost first):\n")
    print("| label | n | chosen head | label oracle | records vs label oracle |")
    print("|---|---:|---:|---:|---:|")
    per = collections.defaultdict(lambda: [0, 0.0, 0.0])
    for r, d in complete:
        a = per[d["task"]]
        a[0] += 1
        a[1] += d["scores"][pick(r["q"][chosen])]
        a[2] += d["scores"][own[r["id"]]] if own[r["id"]] else 0.0
    for t, (k, s1, s2) in sorted(per.items(), key=lambda kv: (kv[1][1] - kv[1][2], kv[0])):
        print(f"| {t} | {k} | {s1 / k:.4f} | {s2 / k:.4f} | {s1 - s2:+.1f} |")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: bench/cv_study.py DATA.jsonl OOF.jsonl (from `taskroute train --cv-predictions`)")
    main(sys.argv[1], sys.argv[2])
