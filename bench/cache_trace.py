#!/usr/bin/env python3
"""A traffic trace for the answer cache, built from a routing JSONL file.

Each of BASE prompts (a seeded sample) is sent once ("new"), and most come
back once later as one of:
  repeat      the same text;
  variant     white space and letter case changed (runs of spaces doubled,
              a leading/trailing space, the first sentence upper-cased);
  paraphrase  a templated rewrite: a polite frame around the question
              ("Please answer the following question.\\n...", "Q: ...\\nA:",
              "...\\n\\nThink step by step.", "I need help with this:\\n..."),
              which changes words but not the question.
The source id of each request is its base prompt's id: a cache hit whose
stored request has another source served another question's answer (a
wrong hit).  Order: each base at a random time, its return a little later.
Writes {"prompt", "source", "kind"} per line.  Deterministic for a seed.

usage: cache_trace.py DATA.jsonl OUT.jsonl [BASE [SEED]]
"""
import json
import random
import sys

FRAMES = ["Please answer the following question.\n{q}", "Q: {q}\nA:", "{q}\n\nThink step by step.",
          "I need help with this:\n{q}"]


def variant(q, rng):
    s = q.replace(" ", "  ") if rng.random() < 0.5 else " " + q + " "
    first = s.split(".")[0]
    return s.replace(first, first.upper(), 1) if rng.random() < 0.5 else s.lower()


def main():
    src, dst = sys.argv[1], sys.argv[2]
    base = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    recs = [json.loads(l) for l in open(src) if l.strip()]
    seen, pool = set(), []
    for r in recs:   # one record per distinct prompt
        if r["prompt"] not in seen:
            seen.add(r["prompt"])
            pool.append(r)
    sample = rng.sample(pool, min(base, len(pool)))
    events = []
    for r in sample:
        t = rng.random()
        events.append((t, r["prompt"], r["id"], "new"))
        u = rng.random()
        if u < 0.2:
            continue
        kind = "repeat" if u < 0.4 else "variant" if u < 0.6 else "paraphrase"
        q = r["prompt"] if kind == "repeat" else variant(r["prompt"], rng) if kind == "variant" \
            else rng.choice(FRAMES).format(q=r["prompt"])
        events.append((t + rng.random() * 0.2, q, r["id"], kind))
    events.sort(key=lambda e: e[0])
    with open(dst, "w") as out:
        for _, q, sid, kind in events:
            out.write(json.dumps({"prompt": q, "source": str(sid), "kind": kind}) + "\n")
    print("cache_trace.py: %s: %d requests from %d base prompts" % (dst, len(events), len(sample)))


if __name__ == "__main__":
    main()
