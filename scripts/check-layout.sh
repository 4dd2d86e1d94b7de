#!/usr/bin/env bash
# The library's folders depend one way, in the data flow's order: a file in
# src/F may include headers of F and of the folders before F, never after.
# upstream (the binary's client of model providers) comes last: no library
# folder may call it.  The CLI, the server and the MPI trainer are clients
# and may include any of these folders (the server never the CLI; the MPI
# trainer the CLI's helpers but not the server).  Also: no two source files
# share a name.  Prints the offending lines; exit 1 when there is one.
set -u
cd "$(dirname "$0")/.."
order=(base kernels data embed cluster classify heads router route eval retrain train dist label upstream)
rank() { local i; for i in "${!order[@]}"; do [ "${order[$i]}" = "$1" ] && { echo "$i"; return; }; done; echo -1; }
bad=0
for dir in src/*/; do
  f=$(basename "$dir")
  r=$(rank "$f")
  while IFS=: read -r file line inc; do
    g=${inc%%/*}
    [ "$g" = "$f" ] && continue
    if [ "$f" = cli ]; then ok=1
    elif [ "$f" = server ]; then [ "$g" != cli ] && ok=1 || ok=0
    elif [ "$f" = mpi ]; then [ "$g" != server ] && ok=1 || ok=0
    else rg=$(rank "$g"); [ "$r" -ge 0 ] && [ "$rg" -ge 0 ] && [ "$rg" -lt "$r" ] && ok=1 || ok=0
    fi
    [ "$ok" = 1 ] || { echo "layout: $file:$line includes $inc ($f may not call $g)"; bad=1; }
  done < <(grep -Hn -o '^#include "[a-z_]*/[^"]*"' "$dir"*.[ch] "$dir"*.cc 2>/dev/null | sed 's/#include "\(.*\)"/\1/')
done
dups=$(find src -name '*.[ch]' -o -name '*.cc' | xargs -n1 basename | sort | uniq -d)
[ -z "$dups" ] || { echo "layout: file names used twice: $dups"; bad=1; }
[ $bad -eq 0 ] && echo "layout: ok (${order[*]} <- cli, server, mpi)"
exit $bad
