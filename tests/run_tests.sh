#!/bin/sh
# Runs the test binary of every tests/test_*.c (only those: a stale binary
# in $BUILD/tests whose source is gone is not run) and every tests/cli_*.sh
# suite, each under `timeout` (ZS_TEST_TIMEOUT seconds, default 600; a hang
# counts as a failure), then prints the one closing line:
# "N passed, M failed, K skipped". A suite reports "RESULT <passed> <failed>";
# every line it prints that starts with "SKIP" counts one skip. A suite whose
# checks were all skipped (0 passed, 0 failed) is reported as such.
BUILD=${BUILD:-build}
LIMIT=${ZS_TEST_TIMEOUT:-600}
pass=0; fail=0; skip=0; crashed=""; empty=""
if command -v timeout >/dev/null 2>&1; then TO="timeout -k 10 $LIMIT"; else TO=""; fi
for src in tests/test_*.c tests/cli_*.sh; do
    [ -e "$src" ] || continue
    case "$src" in
        *.sh) t=$src ;;
        *) t="$BUILD/tests/$(basename "$src" .c)"
           if [ ! -x "$t" ]; then
               echo "== $t"
               echo "   $t was not built (make tests)"
               fail=$((fail + 1)); crashed="$crashed $t"
               continue
           fi ;;
    esac
    echo "== $t"
    out=$(mktemp)
    case "$t" in
        *.sh) BUILD="$BUILD" $TO sh "$t" >"$out" 2>&1 ;;
        *) $TO "$t" >"$out" 2>&1 ;;
    esac
    rc=$?
    grep -v '^RESULT ' "$out" | tail -n 40
    res=$(grep '^RESULT ' "$out" | tail -n 1)
    s=$(grep -c '^SKIP' "$out")
    rm -f "$out"
    skip=$((skip + s))
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "   $t did not finish within $LIMIT s (timeout)"
        fail=$((fail + 1)); crashed="$crashed $t"
        continue
    fi
    if [ -z "$res" ]; then
        echo "   $t exited with status $rc without a result (crash?)"
        fail=$((fail + 1)); crashed="$crashed $t"
        continue
    fi
    set -- $res
    pass=$((pass + $2)); fail=$((fail + $3))
    if [ "$2" -eq 0 ] && [ "$3" -eq 0 ]; then
        echo "   $t: every check skipped ($s skips)"
        empty="$empty $t"
    fi
    if [ "$rc" -ne 0 ] && [ "$3" -eq 0 ]; then
        echo "   $t exited with status $rc"; fail=$((fail + 1)); crashed="$crashed $t"
    fi
done
[ -n "$crashed" ] && echo "crashed, timed out or failed to report:$crashed"
[ -n "$empty" ] && echo "ran no checks (all skipped):$empty"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
