#!/usr/bin/env python3
"""Add a SIMULATED verifier's confidence to a routing JSONL file.

For every answer with a score, the verifier's confidence is drawn so that
its AUC for telling right answers (score >= 0.5) from wrong ones is the
AUC asked for: a binormal model, z ~ N(mu * right, 1) with
mu = sqrt(2) * Phi^-1(AUC), squashed to (0, 1) by a logistic.  Written as
"verify": {model: confidence} beside "scores" (docs/cascade.md), so
`taskroute tune-cascade` can tune and score the cascade on it.  This is a
simulation of a verifier of stated accuracy, not a measurement of a real
one.  Deterministic for a seed.

usage: cascade_sim.py IN.jsonl OUT.jsonl AUC [SEED]
"""
import json
import math
import random
import sys
from statistics import NormalDist


def main():
    src, dst, auc = sys.argv[1], sys.argv[2], float(sys.argv[3])
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    if not 0.5 <= auc < 1:
        sys.exit("cascade_sim.py: AUC must be in [0.5, 1)")
    mu = math.sqrt(2) * NormalDist().inv_cdf(auc)
    rng = random.Random(seed)
    pos, neg = [], []
    with open(src) as f, open(dst, "w") as out:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            ver = {}
            for m, s in (r.get("scores") or {}).items():
                if s is None:
                    continue
                right = s >= 0.5
                z = rng.gauss(mu if right else 0.0, 1.0)
                c = 1.0 / (1.0 + math.exp(-(z - mu / 2)))
                ver[m] = round(c, 5)
                (pos if right else neg).append(c)
            r["verify"] = ver
            out.write(json.dumps(r) + "\n")
    # the AUC reached, on a sample of pairs
    k = 200000
    won = sum(1.0 if a > b else 0.5 if a == b else 0.0
              for a, b in zip((rng.choice(pos) for _ in range(k)), (rng.choice(neg) for _ in range(k))))
    print("cascade_sim.py: %s: verifier AUC %.3f (asked %.2f), %d right and %d wrong answers"
          % (dst, won / k, auc, len(pos), len(neg)))


if __name__ == "__main__":
    main()
