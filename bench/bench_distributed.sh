#!/usr/bin/env bash
# Training under MPI (docs/distributed.md): time and peak memory per rank of
# `taskroute-mpi train` for each rank count and sample size, and, against a
# reference router (the single process's, trained here with --single or
# given with --reference), the NMI of the two taxonomies on the test split's
# prompts, each one's NMI with the records' `task` labels, and the routing
# figures on the test split (--eval).
#
#   bench/bench_distributed.sh DATA.jsonl OUTDIR [--ranks "1 2 4"] [--sample "100000"]
#                              [--single [--seed-too S] | --reference ROUTER.trm] [--eval]
#                              [-- TRAIN OPTIONS]
#
# --seed-too S also trains the single process with seed S: its distance to
# the reference is the seed-to-seed noise the distributed runs are judged by.
#
# Everything runs under nice, one job at a time.  Rows go to OUTDIR/summary.md
# as they finish; logs and routers stay in OUTDIR.  Needs `make mpi`.
set -u
data=${1:?usage: bench/bench_distributed.sh DATA.jsonl OUTDIR [options]}
out=${2:?usage: bench/bench_distributed.sh DATA.jsonl OUTDIR [options]}
shift 2
ranks="1 2 4"; samples="100000"; single=0; ref=""; do_eval=0; extra=(); seed2=""
while [ $# -gt 0 ]; do
  case "$1" in
    --ranks) ranks=$2; shift 2 ;;
    --sample) samples=$2; shift 2 ;;
    --single) single=1; shift ;;
    --seed-too) seed2=$2; shift 2 ;;
    --reference) ref=$2; shift 2 ;;
    --eval) do_eval=1; shift ;;
    --) shift; extra=("$@"); break ;;
    *) echo "bench_distributed: unknown option $1" >&2; exit 2 ;;
  esac
done
bin=build/taskroute; mpibin=build/taskroute-mpi; py=/usr/bin/python3
[ -x "$mpibin" ] || { echo "bench_distributed: no $mpibin (make mpi)" >&2; exit 1; }
mkdir -p "$out"
sum="$out/summary.md"
root=(); [ "$(id -u)" = 0 ] && root=(--allow-run-as-root)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# the test split's prompts (fnv1a64(id) % 5 == 0) with their labels
if [ ! -s "$out/test.jsonl" ]; then
  $py - "$data" "$out/test.jsonl" <<'PY'
import json, sys
def fnv(s):
    h = 14695981039346656037
    for b in s.encode():
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h
with open(sys.argv[1]) as f, open(sys.argv[2], "w") as o:
    for l in f:
        j = json.loads(l)
        if fnv(j["id"]) % 5 == 0:
            o.write(json.dumps({"id": j["id"], "prompt": j["prompt"], "task": j.get("task")}) + "\n")
PY
fi

nmi() {   # nmi DECISIONS_A DECISIONS_B|labels -> NMI of their task ids (or the labels)
  $py - "$1" "$2" "$out/test.jsonl" <<'PY'
import json, math, sys
from collections import Counter
def tasks(p):
    if p == "labels":
        return [json.loads(l)["task"] for l in open(sys.argv[3])]
    return [json.loads(l)["task_id"] for l in open(p)]
a, b = tasks(sys.argv[1]), tasks(sys.argv[2])
n = len(a)
def h(c): return -sum(v / n * math.log(v / n) for v in c.values())
ca, cb, cab = Counter(a), Counter(b), Counter(zip(a, b))
mi = sum(v / n * math.log(v * n / (ca[x] * cb[y])) for (x, y), v in cab.items())
print("%.3f" % (2 * mi / (h(ca) + h(cb))))
PY
}
figures() {   # figures ROUTER -> "Q@C_best AIQ_lin AIQ_log"
  nice "$bin" eval -q --json "$1" "$data" | $py -c '
import json, sys
r = json.load(sys.stdin)["routers"]["taskroute"]
print("%.4f %.4f %.4f" % (r["q_at_c_best"], r["aiq_lin"], r["aiq_log"]))'
}
describe() {  # describe ROUTER NAME -> quality and taxonomy columns
  local r=$1 name=$2 q="" n_ref="" n_lab
  nice "$bin" route -q --brief "$r" < "$out/test.jsonl" > "$out/$name.dec"
  n_lab=$(nmi "$out/$name.dec" labels)
  [ -n "$ref" ] && [ -f "$out/ref.dec" ] && n_ref=$(nmi "$out/ref.dec" "$out/$name.dec")
  [ $do_eval = 1 ] && q=$(figures "$r")
  echo "$(tr_tasks "$r") | ${n_ref:--} | $n_lab | ${q:--}"
}
tr_tasks() { "$bin" inspect "$1" | sed -n 's/.*, \([0-9]*\) tasks,.*/\1/p'; }

{
  echo; echo "### $(basename "$data") on $(date -u +%F) (commit $(git rev-parse --short HEAD), load $(cut -d' ' -f1-3 /proc/loadavg))"
  echo
  echo "| run | wall | per rank: records, seconds (read / sample / pass), peak memory | tasks | NMI vs reference | NMI vs labels | Q@C_best AIQ_lin AIQ_log |"
  echo "|---|---:|---|---:|---:|---:|---|"
} >> "$sum"

if [ $single = 1 ]; then
  nice /usr/bin/time -v "$bin" train "$data" -o "$out/single.trm" "${extra[@]}" 2> "$out/single.log"
  ref="$out/single.trm"
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$out/single.log")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$out/single.log")
  ref_set=1
fi
if [ -n "$ref" ]; then
  nice "$bin" route -q --brief "$ref" < "$out/test.jsonl" > "$out/ref.dec"
  if [ "${ref_set:-0}" = 1 ]; then
    echo "| single process | $wall | $(awk "BEGIN{printf \"%.2f GiB\", $rss/1048576}") | $(describe "$ref" single) |" >> "$sum"
  fi
fi
if [ -n "$seed2" ]; then
  nice /usr/bin/time -v "$bin" train "$data" -o "$out/single-seed$seed2.trm" "${extra[@]}" --seed "$seed2" 2> "$out/single-seed$seed2.log"
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$out/single-seed$seed2.log")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$out/single-seed$seed2.log")
  echo "| single process, seed $seed2 | $wall | $(awk "BEGIN{printf \"%.2f GiB\", $rss/1048576}") | $(describe "$out/single-seed$seed2.trm" "seed$seed2") |" >> "$sum"
fi

for s in $samples; do
  for r in $ranks; do
    name="np$r-s$s"
    start=$(date +%s.%N)
    nice mpirun "${root[@]}" --oversubscribe -np "$r" "$mpibin" train "$data" -o "$out/$name.trm" --sample "$s" \
      "${extra[@]}" 2> "$out/$name.log" || { echo "| $name | failed (see $name.log) |" >> "$sum"; continue; }
    wall=$(awk "BEGIN{printf \"%.0f s\", $(date +%s.%N) - $start}")
    per=$(sed -n 's/.*rank \([0-9]*\): \([0-9]*\) records; read \([0-9.]*\) s, sample \([0-9.]*\) s, pass \([0-9.]*\) s, total [0-9.]* s; peak memory \([0-9]*\) MiB/\1: \2, \3 \/ \4 \/ \5 s, \6 MiB/p' "$out/$name.log" | paste -sd';' - | sed 's/;/; /g')
    echo "| $r ranks, sample $s | $wall | $per | $(describe "$out/$name.trm" "$name") |" >> "$sum"
  done
done
cat "$sum"
