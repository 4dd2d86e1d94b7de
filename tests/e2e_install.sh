#!/usr/bin/env bash
# End-to-end: `make install` into a temporary prefix, as a packager would,
# then use it as a library user would:
#  - the installed files: libtaskroute.so -> .so.MAJOR (the soname) -> .so.X.Y.Z,
#    and one version in the file names, taskroute.pc and tr_version();
#  - the shared library exports exactly the header's functions
#    (scripts/check-api.sh);
#  - the examples in docs/ (version, gateway, retraining) build against the
#    installed header through pkg-config, linked dynamically and statically
#    (`pkg-config --static` with only libtaskroute.a present), and both run
#    on the demo data.
set -u
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
[ -n "${TR_SANITIZED:-}" ] && { echo "skip: the install test runs in the plain build only"; exit 77; }
fail() { echo "FAIL $*"; exit 1; }
pre="$tmp/prefix"
make -s install PREFIX="$pre" > "$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "make install"; }

# ---- files, links, soname, one version
lib="$pre/lib"
real=$(readlink -f "$lib/libtaskroute.so") || fail "no $lib/libtaskroute.so"
ver=${real##*/libtaskroute.so.}
major=${ver%%.*}
[ "$(readlink "$lib/libtaskroute.so")" = "libtaskroute.so.$major" ] || fail "libtaskroute.so should link to libtaskroute.so.$major"
[ "$(readlink "$lib/libtaskroute.so.$major")" = "libtaskroute.so.$ver" ] || fail "libtaskroute.so.$major should link to libtaskroute.so.$ver"
soname=$(readelf -d "$real" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libtaskroute.so.$major" ] || fail "soname '$soname', want libtaskroute.so.$major"
[ -f "$lib/libtaskroute.a" ] || fail "no libtaskroute.a installed"
export PKG_CONFIG_PATH="$lib/pkgconfig"
pkg-config --exists taskroute || fail "taskroute.pc not found"
[ "$(pkg-config --modversion taskroute)" = "$ver" ] || fail "taskroute.pc says $(pkg-config --modversion taskroute), the library file $ver"

# ---- exported symbols = the header's functions
scripts/check-api.sh "$lib/libtaskroute.so" "$pre/include/taskroute.h" || fail "exported symbols differ from the header"

# ---- the examples, dynamically and statically linked
# the static view: the installed prefix without the shared library, so
# that -ltaskroute can only mean libtaskroute.a
st="$tmp/static"
mkdir -p "$st" && cp -a "$pre/include" "$pre/lib" "$st/" && rm -f "$st"/lib/libtaskroute.so*
CFLAGS_EX=(-std=c11 -Wall -Wextra -Werror)
build() {   # build NAME SOURCE: NAME (dynamic) and NAME-static
  local name=$1 src=$2
  cc "${CFLAGS_EX[@]}" "$src" $(pkg-config --cflags --libs taskroute) -Wl,-rpath,"$lib" -o "$tmp/$name" \
    || fail "$src does not build against the installed shared library"
  readelf -d "$tmp/$name" | grep -q "NEEDED.*\[libtaskroute.so.$major\]" || fail "$name does not need libtaskroute.so.$major"
  cc "${CFLAGS_EX[@]}" "$src" $(pkg-config --define-variable=prefix="$st" --static --cflags --libs taskroute) \
     -o "$tmp/$name-static" || fail "$src does not link statically with pkg-config --static"
  ! readelf -d "$tmp/$name-static" | grep -q 'NEEDED.*libtaskroute' || fail "$name-static still needs libtaskroute.so"
}
build version docs/example_version.c
for v in version version-static; do
  out=$("$tmp/$v") || fail "$v exited $?"
  [ "$out" = "header $ver library $ver" ] || fail "$v: '$out', want 'header $ver library $ver'"
done
build gw docs/example_gateway.c
build retrain docs/example_retrain.c

bin=${TR_BIN:-build/taskroute}
head -n 800 data/demo.jsonl > "$tmp/d.jsonl"
"$bin" train "$tmp/d.jsonl" -o "$tmp/r.trm" -q --dim 32 --vocab 400 --cv-folds 3 || fail "train"
for g in gw gw-static; do
  out=$("$tmp/$g" "$tmp/r.trm" "Translate this sentence to French: good morning" "Write a function that reverses a list")
  echo "$g: $out"
  [ "$(printf '%s\n' "$out" | grep -c 'task ')" -eq 2 ] || fail "$g: two decisions expected"
  "$tmp/$g" "$tmp/nope.trm" x 2> "$tmp/e"; [ $? -eq 1 ] && grep -q nope.trm "$tmp/e" || fail "$g: missing router not reported"
done
# retraining: the next 800 records with the first, against the router in
# service; both builds give the same reports and the same verdict, and a
# router only when accepted
head -n 1600 data/demo.jsonl > "$tmp/d2.jsonl"
for g in retrain retrain-static; do
  "$tmp/$g" "$tmp/r.trm" "$tmp/d2.jsonl" "$tmp/$g.trm" > "$tmp/$g.md" 2> "$tmp/$g.err"
  rc=$?
  echo "$g: exit $rc; $(head -n 1 "$tmp/$g.err")"
  case $rc in
    0) grep -q '^task ' "$tmp/$g.err" || fail "$g: accepted without the new tasks listed"
       "$tmp/gw" "$tmp/$g.trm" "Write a haiku about rain" > /dev/null || fail "$g: the new router does not route" ;;
    3) grep -q '"verdict":"refused"' "$tmp/$g.err" || fail "$g: refused without the evidence"
       [ ! -e "$tmp/$g.trm" ] || fail "$g: a refused router was written" ;;
    *) cat "$tmp/$g.err"; fail "$g exited $rc" ;;
  esac
  grep -q '^# Drift report: traffic' "$tmp/$g.md" && grep -q '^# Drift report: retraining' "$tmp/$g.md" \
    || fail "$g: the two drift reports expected on stdout"
done
cmp -s "$tmp/retrain.md" "$tmp/retrain-static.md" && cmp -s "$tmp/retrain.err" "$tmp/retrain-static.err" \
  || fail "the dynamic and static builds retrained differently"
echo "e2e_install: ok"
