#!/usr/bin/env bash
# Run every unit test binary in BUILD/tests, then the end-to-end scripts in
# tests/e2e_*.sh, and close on one "N passed, N failed" line.
# TR_VALGRIND=1 runs the unit tests under valgrind memcheck.
set -u
build=${1:-build}
pass=0; fail=0; skip=0; failed=()
vg=()
if [ "${TR_VALGRIND:-}" = 1 ]; then
  vg=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --suppressions=tests/valgrind.supp)
fi
for t in "$build"/tests/test_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  if TR_BIN="$build/taskroute" "${vg[@]}" "$t" > "$build/tests/$name.log" 2>&1; then
    pass=$((pass+1)); echo "PASS $name ($(grep -c '^\[       OK \]' "$build/tests/$name.log") cases)"
  else
    fail=$((fail+1)); failed+=("$name"); echo "FAIL $name"; tail -n 40 "$build/tests/$name.log"
  fi
done
if [ "${TR_VALGRIND:-}" != 1 ]; then
  for s in tests/e2e_*.sh; do
    [ -f "$s" ] || continue
    name=$(basename "$s" .sh)
    TR_BIN="$build/taskroute" bash "$s" > "$build/tests/$name.log" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then pass=$((pass+1)); echo "PASS $name"
    elif [ $rc -eq 77 ]; then skip=$((skip+1)); echo "SKIP $name: $(tail -n 1 "$build/tests/$name.log")"
    else fail=$((fail+1)); failed+=("$name"); echo "FAIL $name"; tail -n 40 "$build/tests/$name.log"; fi
  done
fi
[ $fail -gt 0 ] && echo "failed: ${failed[*]}"
echo "tests: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
