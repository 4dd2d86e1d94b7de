# Helpers shared by the CLI end-to-end scripts (tests/e2e_cli.sh,
# e2e_kfold.sh, e2e_retrain.sh, e2e_tasks.sh); sourced, not run.  Sets bin
# (the binary, $TR_BIN or build/taskroute), tmp (a temporary directory
# removed on exit), fails (the count check adds to), py (Python 3) and data
# (the demo data: the script exits 77 when it is missing), and defines
# check NAME CONDITION... ("ok" or "FAIL" per check).
set -u
bin=${TR_BIN:-build/taskroute}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fails=0
check() { # check NAME CONDITION...
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails+1)); fi
}
[ -x "$bin" ] || { echo "no binary at $bin"; exit 1; }
py=/usr/bin/python3
[ -x $py ] || py=python3
data=data/demo.jsonl
[ -f "$data" ] || { echo "skip: $data missing"; exit 77; }
