#!/usr/bin/env python3
"""kfold_compare: fold-paired differences between two k-fold evaluations.

    taskroute eval --folds 5 DATA.jsonl [options A] --json > a.json
    taskroute eval --folds 5 DATA.jsonl [options B] --json > b.json
    bench/kfold_compare.py a.json b.json            (taskroute of a minus taskroute of b)
    bench/kfold_compare.py a.json:knn a.json        (any router of either file: FILE:ROUTER)

Both runs must have scored the same folds of the same data (the folds are
fixed by the records' ids, so any two runs on one file do).  Prints a
Markdown table: each figure's mean +- standard error over the folds in
either run, and the mean +- standard error of the per-fold difference A - B
with the folds A wins and loses (lower is better for ECE and C@Q_best).
A difference smaller than its standard error is no difference.  Standard
library only.
"""
import json
import math
import sys

FIGURES = [("q_at_c_best", "Q@C_best", 1), ("gap_captured", "gap captured", 1), ("cost_saving", "cost saving", 1),
           ("q_max", "Q_max", 1), ("aiq_lin", "AIQ (lin)", 1), ("aiq_log", "AIQ (log)", 1), ("ece", "ECE", -1)]


def load(spec):
    path, _, router = spec.partition(":")
    router = router or "taskroute"
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"kfold_compare: {path}: {e}")
    for k in ("folds", "n_test", "routers"):
        if k not in d:
            sys.exit(f"kfold_compare: {path}: field '{k}' missing (not the JSON of `taskroute eval --folds K --json`)")
    if router not in d["routers"]:
        sys.exit(f"kfold_compare: {path}: field 'routers.{router}' missing; routers: {', '.join(d['routers'])}")
    return path, router, d


def mean_se(x):
    if not x or any(v is None or not math.isfinite(v) for v in x):
        return None, None
    m = sum(x) / len(x)
    if len(x) < 2:
        return m, None
    return m, math.sqrt(sum((v - m) ** 2 for v in x) / (len(x) - 1)) / math.sqrt(len(x))


def fmt(m, se, signed=False):
    if m is None:
        return "–"
    s = f"{m:+.4f}" if signed else f"{m:.4f}"
    return s if se is None else f"{s} ± {se:.4f}"


def main(a_spec, b_spec):
    pa, ra, a = load(a_spec)
    pb, rb, b = load(b_spec)
    if a["folds"] != b["folds"] or a["n_test"]["folds"] != b["n_test"]["folds"]:
        sys.exit(f"kfold_compare: {pa} and {pb} did not score the same folds "
                 f"({a['folds']} folds of {a['n_test']['folds']} against {b['folds']} of {b['n_test']['folds']})")
    K = a["folds"]
    print(f"A = {ra} in {pa}, B = {rb} in {pb}; {K} folds, {a['n_test']['total']} test prompts\n")
    print("| figure | A | B | A − B | folds A wins / loses |")
    print("|---|---:|---:|---:|---:|")
    for key, title, better in FIGURES:
        fa = a["routers"][ra].get(key, {}).get("folds")
        fb = b["routers"][rb].get(key, {}).get("folds")
        if fa is None or fb is None:
            continue
        ma, sa = mean_se(fa)
        mb, sb = mean_se(fb)
        ok = [x is not None and y is not None and math.isfinite(x) and math.isfinite(y) for x, y in zip(fa, fb)]
        d = [x - y for x, y, k in zip(fa, fb, ok) if k]
        md, sd = mean_se(d) if all(ok) else (None, None)
        won = sum(better * v > 0 for v in d)
        lost = sum(better * v < 0 for v in d)
        print(f"| {title} | {fmt(ma, sa)} | {fmt(mb, sb)} | {fmt(md, sd, True)} | {won} / {lost} |")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
