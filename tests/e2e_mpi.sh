#!/usr/bin/env bash
# taskroute-mpi end to end on the demo data, 3 ranks on one machine
# (oversubscribed): the router trained by `mpirun -np 3` against the
# single-process one (it loads, routes, has the task count within one, its
# taxonomy has NMI >= 0.9 with the single-process one, and its test-split
# quality is within the spread of the single process's 5-fold figures, their
# standard deviation over the folds); 1 vs 3 ranks on a sample smaller
# than the data (the assignment path) give the same taxonomy and quality;
# discover writes its report; embed writes the single process's bytes; a
# bad record on the last rank fails the job naming the rank, its bytes and
# the line, and writes nothing; unsupported options are usage errors.
# Skips (77) without Open MPI or taskroute-mpi (scripts/deps.sh mpi; make mpi).
set -u
bin=${TR_BIN:-build/taskroute}
mpibin=$(dirname "$bin")/taskroute-mpi
data=data/demo.jsonl
py=/usr/bin/python3
if [ -n "${TR_SANITIZED:-}" ]; then echo "not under the sanitizers: Open MPI's own allocations would be reported"; exit 77; fi
command -v mpirun > /dev/null 2>&1 || { echo "Open MPI not installed: scripts/deps.sh mpi && make mpi"; exit 77; }
[ -x "$mpibin" ] || { echo "no $mpibin: make mpi"; exit 77; }
[ -x "$bin" ] || { echo "no binary at $bin"; exit 77; }
[ -f "$data" ] || { echo "no $data"; exit 77; }
tmp=$(mktemp -d /tmp/e2e_mpi.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
run() {   # run NP ARGS...: mpirun, quiet about itself
  local np=$1; shift
  local root=()
  [ "$(id -u)" = 0 ] && root=(--allow-run-as-root)
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none \
    mpirun "${root[@]}" --oversubscribe -np "$np" "$mpibin" "$@"
}

# figures of a router on the test split: Q@C_best AIQ_log n_tasks
figures() {
  "$bin" eval -q --json "$1" "$data" > "$tmp/eval.json" || fail "eval of $1"
  "$bin" inspect "$1" > "$tmp/inspect.txt" || fail "inspect of $1"
  $py - "$tmp/eval.json" "$tmp/inspect.txt" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1]))["routers"]["taskroute"]
m = re.search(r"(\d+) tasks", open(sys.argv[2]).read())
print(r["q_at_c_best"], r["aiq_log"], m.group(1))
PY
}
# NMI of the task ids two decision files give the same prompts
nmi() {
  $py - "$1" "$2" <<'PY'
import json, math, sys
from collections import Counter
a = [json.loads(l)["task_id"] for l in open(sys.argv[1])]
b = [json.loads(l)["task_id"] for l in open(sys.argv[2])]
assert len(a) == len(b) and a
n = len(a)
def h(c): return -sum(v / n * math.log(v / n) for v in c.values())
ca, cb, cab = Counter(a), Counter(b), Counter(zip(a, b))
mi = sum(v / n * math.log(v * n / (ca[x] * cb[y])) for (x, y), v in cab.items())
d = (h(ca) + h(cb)) / 2
print("%.4f" % (mi / d if d > 0 else 1.0))
PY
}
test_prompts() { grep '"id"' "$data" | $py -c '
import json, sys
for l in sys.stdin:
    print(json.dumps({"id": json.loads(l)["id"], "prompt": json.loads(l)["prompt"]}))'; }
test_prompts > "$tmp/prompts.jsonl"

# usage errors: exit 2, nothing run
run 2 train > /dev/null 2>&1; [ $? -eq 2 ] || fail "no arguments should exit 2"
run 2 train "$data" -o "$tmp/x.trm" --warm-start "$tmp/old.trm" 2> "$tmp/err"; [ $? -eq 2 ] || fail "--warm-start should exit 2"
grep -q "not supported under MPI" "$tmp/err" || fail "no word on --warm-start: $(cat "$tmp/err")"
run 2 train - -o "$tmp/x.trm" > /dev/null 2>&1; [ $? -eq 2 ] || fail "stdin should exit 2"
run 1 train --help | grep -q -- "--sample N" || fail "help lacks --sample"

# the single process and 3 ranks on the whole training split
"$bin" train -q "$data" -o "$tmp/one.trm" || fail "single-process train"
run 3 train "$data" -o "$tmp/mpi3.trm" 2> "$tmp/log3" || { cat "$tmp/log3"; fail "mpirun -np 3 train"; }
grep -q "rank 2 reads" "$tmp/log3" || fail "no byte ranges on stderr"
grep -q "rank 1: [0-9]* records; read" "$tmp/log3" || fail "no per-rank summary"
"$bin" route -q --brief "$tmp/one.trm" < "$tmp/prompts.jsonl" > "$tmp/one.dec" || fail "route single"
"$bin" route -q --brief "$tmp/mpi3.trm" < "$tmp/prompts.jsonl" > "$tmp/mpi3.dec" || fail "route mpi"
[ "$(wc -l < "$tmp/mpi3.dec")" = "$(wc -l < "$tmp/prompts.jsonl")" ] || fail "the MPI router did not route every prompt"
read -r q1 a1 t1 <<< "$(figures "$tmp/one.trm")"
read -r q3 a3 t3 <<< "$(figures "$tmp/mpi3.trm")"
n13=$(nmi "$tmp/one.dec" "$tmp/mpi3.dec")
# the yardstick: how much the single process's figures move from fold to
# fold (the evaluation protocol's 5-fold; standard deviation = SE * sqrt(5))
"$bin" eval -q --folds 5 --json "$data" > "$tmp/kfold.json" || fail "eval --folds 5"
read -r sdq sda <<< "$($py -c '
import json, sys
r = json.load(open(sys.argv[1]))["routers"]["taskroute"]
k = len(r["q_at_c_best"]["folds"])
print(r["q_at_c_best"]["se"] * k ** 0.5, r["aiq_log"]["se"] * k ** 0.5)' "$tmp/kfold.json")"
echo "single: Q@C_best $q1 AIQ_log $a1 tasks $t1; 3 ranks: Q@C_best $q3 AIQ_log $a3 tasks $t3; NMI $n13; 5-fold spread: Q@C_best $sdq AIQ_log $sda"
$py - "$q1" "$q3" "$a1" "$a3" "$t1" "$t3" "$n13" "$sdq" "$sda" <<'PY' || fail "the 3-rank router differs from the single-process one"
import sys
q1, q3, a1, a3, t1, t3, n, sdq, sda = map(float, sys.argv[1:])
assert 0 < sdq < 0.1 and 0 < sda < 0.1, ("fold spread", sdq, sda)
assert abs(q1 - q3) <= sdq, ("Q@C_best", q1, q3, sdq)
assert abs(a1 - a3) <= sda, ("AIQ_log", a1, a3, sda)
assert abs(t1 - t3) <= 1, ("tasks", t1, t3)
assert n >= 0.9, ("NMI", n)
PY

# a sample smaller than the data: discovery on 1500 prompts, the rest assigned
run 1 train "$data" -o "$tmp/s1.trm" --sample 1500 -q || fail "mpirun -np 1 --sample 1500"
run 3 train "$data" -o "$tmp/s3.trm" --sample 1500 -q || fail "mpirun -np 3 --sample 1500"
"$bin" route -q --brief "$tmp/s1.trm" < "$tmp/prompts.jsonl" > "$tmp/s1.dec" || fail "route s1"
"$bin" route -q --brief "$tmp/s3.trm" < "$tmp/prompts.jsonl" > "$tmp/s3.dec" || fail "route s3"
read -r qs1 as1 ts1 <<< "$(figures "$tmp/s1.trm")"
read -r qs3 as3 ts3 <<< "$(figures "$tmp/s3.trm")"
ns=$(nmi "$tmp/s1.dec" "$tmp/s3.dec")
nso=$(nmi "$tmp/one.dec" "$tmp/s3.dec")
echo "sample 1500: 1 rank Q@C_best $qs1 tasks $ts1; 3 ranks Q@C_best $qs3 AIQ_log $as3 tasks $ts3; NMI 1 vs 3 ranks $ns; NMI with the single process on every prompt $nso"
$py - "$qs1" "$qs3" "$as1" "$as3" "$ts1" "$ts3" "$ns" "$q1" "$qs3" "$sdq" "$sda" <<'PY' || fail "1 and 3 ranks differ on a sample"
import sys
q1, q3, a1, a3, t1, t3, n, qone, qs, sdq, sda = map(float, sys.argv[1:])
assert abs(q1 - q3) <= sdq and abs(a1 - a3) <= sda and abs(t1 - t3) <= 1 and n >= 0.9, (q1, q3, a1, a3, t1, t3, n)
assert abs(qone - qs) <= 2 * sdq, ("sample vs every prompt", qone, qs, sdq)
PY
"$bin" inspect --json "$tmp/s3.trm" | grep -q '"sample":1500' || fail "config lacks the sample size"

# discover: a stage-1 router and the report counting every prompt
run 3 discover "$data" -o "$tmp/d3.trm" --report "$tmp/d3.md" --json "$tmp/d3.json" --sample 1500 -q || fail "discover"
grep -q "sample of 1500 prompts" "$tmp/d3.md" || fail "report does not say it was made on a sample"
$py -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["n_prompts"] == 3196 and j["sample_prompts"] == 1500 and abs(sum(t["share"] for t in j["tasks"]) - 1) < 1e-6, j["n_prompts"]' "$tmp/d3.json" || fail "report counts"
"$bin" route -q --brief "$tmp/d3.trm" < "$tmp/prompts.jsonl" > /dev/null || fail "route with the discover router"

# embed: the single process's bytes (the sample holds every prompt)
"$bin" embed -q "$data" -o "$tmp/e1.f32" --dim 32 || fail "embed"
run 3 embed "$data" -o "$tmp/e3.f32" --dim 32 -q || fail "mpirun embed"
cmp -s "$tmp/e1.f32" "$tmp/e3.f32" || fail "embed under MPI differs from the single process"

# a bad record on the last rank: the job fails, naming it; nothing written
sed '3500s/"scores":{"tiny-1b":[0-9.]*/"scores":{"tiny-1b":1.5/' "$data" > "$tmp/bad.jsonl"
run 3 train "$tmp/bad.jsonl" -o "$tmp/bad.trm" -q 2> "$tmp/err"; rc=$?
[ $rc -ne 0 ] || fail "a bad record should fail the job"
grep -q "rank 2 of 3 (.*bad.jsonl bytes [0-9]*-[0-9]*, lines [0-9]*-4000).*bad.jsonl:3500: field 'scores.tiny-1b'" "$tmp/err" || { cat "$tmp/err"; fail "the message does not name the rank, its bytes and the record"; }
ls "$tmp" | grep -q '^bad.trm' && fail "a router file was written by a failed job"
echo "ok"
