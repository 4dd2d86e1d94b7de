#!/usr/bin/env python3
"""The cascade's k-fold table of bench/RESULTS.md ("Cascade and cache") from
`taskroute tune-cascade --folds K --json` outputs, one per verifier AUC.

Per arm, every figure as mean ± standard error over the folds; per AUC,
the paired difference cascade − plain routing (mean ± SE of the per-fold
differences, folds won / lost; for cost, won means cheaper).  Costs in
micro-USD per prompt.  Plain routing does not depend on the verifier: the
files must agree on it (checked).

usage: cascade_kfold_table.py NAME FILE:AUC [FILE:AUC ...]
"""
import json
import sys

FIGS = [("quality", "q"), ("cost", "c"), ("escalated", "p"), ("dibc_percent", "d"), ("q_at_cbest", "q"),
        ("saving", "p"), ("aiq_log", "q")]


def fmt(st, kind, sign=False):
    m, se = (st or {}).get("mean"), (st or {}).get("se")
    if m is None:
        return "–"
    if kind == "c":
        m, se = m * 1e6, se * 1e6
    if kind == "q":
        a, b = ("%+.4f" if sign else "%.4f") % m, "%.4f" % se
    elif kind == "c":
        f = ("%+.0f" if sign else "%.0f") if abs(m) >= 100 else ("%+.3g" if sign else "%.3g")
        a, b = f % m, "%.2g" % se
    elif kind == "p":
        a, b = ("%+.1f%%" if sign else "%.1f%%") % (100 * m), "%.1f" % (100 * se)
    else:
        a, b = ("%+.0f" if sign else "%.0f") % m, "%.0f" % se
    return "%s ± %s" % (a, b)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    name, runs = sys.argv[1], []
    for arg in sys.argv[2:]:
        path, _, auc = arg.rpartition(":")
        runs.append((auc, json.load(open(path))))
    j = runs[0][1]
    for auc, r in runs:
        if r["plain_routing"] != j["plain_routing"]:
            sys.exit("cascade_kfold_table.py: plain routing differs between the files (AUC %s)" % auc)
    nt = j["n_test"]
    print("%s: %d folds, %d test prompts (%s); λ %s per USD (each fold's router's default policy); "
          "best single model %s.\n" % (name, j["folds"], nt["total"], " / ".join("%d" % x for x in nt["folds"]),
                                       fmt(j["lambda"], "d"), ", ".join(sorted(set(j["best_single"]["model"])))))
    print("| %s | quality | cost (µUSD) | escalated | ΔIBC %% | Q@C_best | saving | AIQ (log) |" % name)
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    bs = j["best_single"]
    print("| best single model | %s | %s | | | | | |" % (fmt(bs["quality"], "q"), fmt(bs["cost"], "c")))
    print("| plain routing | " + " | ".join("0%" if k == "escalated" else fmt(j["plain_routing"].get(k), t)
                                          for k, t in FIGS) + " |")
    for auc, r in runs:
        print("| cascade, AUC %s | " % auc + " | ".join(fmt(r["cascade"].get(k), t) for k, t in FIGS) + " |")
        cells = []
        for k, t in FIGS:
            p = r["paired"].get(k)
            cells.append("" if p is None else "%s (%d/%d)" % (fmt(p, t, True), p["won"], p["lost"]))
        print("| cascade − plain, AUC %s | " % auc + " | ".join(cells) + " |")
    print()
    for auc, r in runs:
        print("AUC %s: start/threshold chosen per fold %s." % (
            auc, ", ".join("%s/%g" % ("router" if c.get("start") == "router" else "%g" % c["tolerance"],
                                      c["threshold"]) for c in r["chosen"])))


if __name__ == "__main__":
    main()
