#!/usr/bin/python3
"""Active-learning simulation for `taskroute label --strategy`: on a routing
dataset whose labels are all known, hide the training split's labels, reveal
them ("label") in rounds chosen by each strategy from the same random seed
set, train a router on what is labelled after each round and score it on the
held-out test split (Q@C_best, `taskroute eval --json`).

usage: bench/label_active.py DATA.jsonl [--seeds 3] [--start 200] [--step 200]
       [--rounds 4] [--bin ./taskroute] [--out results.json]
Prints one line per (strategy, seed, size) and a table of means +- SE.
"""
import argparse, json, math, os, random, subprocess, sys, tempfile

ap = argparse.ArgumentParser()
ap.add_argument("data")
ap.add_argument("--seeds", type=int, default=3)
ap.add_argument("--start", type=int, default=200)
ap.add_argument("--step", type=int, default=200)
ap.add_argument("--rounds", type=int, default=4)
ap.add_argument("--bin", default="./taskroute")
ap.add_argument("--threads", default="2")
ap.add_argument("--out", default=None)
a = ap.parse_args()

def fnv(s):
    h = 14695981039346656037
    for b in s.encode():
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h

recs = [json.loads(l) for l in open(a.data) if l.strip()]
pool = [r for r in recs if fnv(r["id"]) % 5 != 0]
by_id = {r["id"]: r for r in pool}
tmp = tempfile.mkdtemp(prefix="label_active.")

def run(args):
    return subprocess.run([a.bin] + args, check=True, capture_output=True, text=True).stdout

def train_eval(ids, tag):
    f = os.path.join(tmp, tag + ".jsonl")
    with open(f, "w") as o:
        for i in ids:
            o.write(json.dumps(by_id[i]) + "\n")
    r = os.path.join(tmp, tag + ".trm")
    run(["train", f, "-o", r, "--seed", "42", "--threads", a.threads, "-q"])
    j = json.loads(run(["eval", r, a.data, "--json", "-q"]))
    return r, j

def qcb(j):
    for k in ("q_at_c_best",):
        if k in j: return j[k]
    return j["routers"]["taskroute"]["q_at_c_best"]

def select(unl, n, strategy, router, seed):
    f = os.path.join(tmp, "unlabelled.jsonl")
    with open(f, "w") as o:
        for i in unl:
            o.write(json.dumps({"id": i, "prompt": by_id[i]["prompt"]}) + "\n")
    args = ["label", f, "--print-sample", "--sample", str(n), "--strategy", strategy, "--seed", str(seed)]
    if strategy != "random": args += ["--router", router]
    return run(args).split()

rows = []
for seed in range(1, a.seeds + 1):
    rng = random.Random(seed)
    ids = sorted(by_id)
    seed_set = rng.sample(ids, a.start)
    r0, j0 = train_eval(seed_set, "s%d_seed" % seed)
    q0 = qcb(j0)
    for strategy in ("random", "uncertain", "stratified"):
        lab, router = list(seed_set), r0
        rows.append((strategy, seed, len(lab), q0))
        print(strategy, seed, len(lab), "%.4f" % q0, flush=True)
        for k in range(a.rounds):
            unl = sorted(set(ids) - set(lab))
            lab += select(unl, a.step, strategy, router, seed * 100 + k)
            router, j = train_eval(lab, "s%d_%s_%d" % (seed, strategy, k))
            rows.append((strategy, seed, len(lab), qcb(j)))
            print(strategy, seed, len(lab), "%.4f" % qcb(j), flush=True)

print("\nQ@C_best on the test split, mean +- SE over %d seeds" % a.seeds)
sizes = sorted({r[2] for r in rows})
print("%-8s" % "labelled" + "".join("%20s" % s for s in ("random", "uncertain", "stratified")))
for n in sizes:
    line = "%-8d" % n
    for s in ("random", "uncertain", "stratified"):
        v = [r[3] for r in rows if r[0] == s and r[2] == n]
        m = sum(v) / len(v)
        se = math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1) / len(v)) if len(v) > 1 else 0
        line += "%20s" % ("%.4f +- %.4f" % (m, se))
    print(line)
if a.out:
    json.dump(rows, open(a.out, "w"))

def mean_se(v):
    m = sum(v) / len(v)
    return m, (math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1) / len(v)) if len(v) > 1 else 0)

q = {(s, sd, n): v for s, sd, n, v in rows}
seeds = sorted({r[1] for r in rows})
print("\nQ@C_best minus random's, paired per seed (mean +- SE, seeds ahead)")
for s in ("uncertain", "stratified"):
    for n in sizes[1:]:
        d = [q[(s, sd, n)] - q[("random", sd, n)] for sd in seeds]
        m, se = mean_se(d)
        print("%-10s %5d  %+.4f +- %.4f  %d of %d" % (s, n, m, se, sum(x > 0 for x in d), len(d)))

# Labels each strategy needs to reach random's Q@C_best at the largest size,
# per seed, interpolated linearly between rounds ("-": not within the rounds).
top = sizes[-1]
print("\nlabels to reach random's Q@C_best at %d labels (per seed, interpolated between rounds):" % top)
for s in ("random", "uncertain", "stratified"):
    need = []
    for sd in seeds:
        t, prev, got = q[("random", sd, top)], None, None
        for n in sizes:
            v = q[(s, sd, n)]
            if v >= t:
                got = n if prev is None or v == prev[1] else prev[0] + (t - prev[1]) / (v - prev[1]) * (n - prev[0])
                break
            prev = (n, v)
        need.append(got)
    print("%-10s %s" % (s, " ".join("%d" % x if x is not None else "-" for x in need)))
