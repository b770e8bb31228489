#!/bin/sh
# Runs every test binary in $BUILD/tests (and tests/*.sh shell suites),
# then prints the one closing line: "N passed, M failed".
BUILD=${BUILD:-build}
pass=0; fail=0; crashed=""
for t in "$BUILD"/tests/test_* tests/cli_*.sh; do
    [ -e "$t" ] || continue
    case "$t" in *.o|*.d) continue;; esac
    echo "== $t"
    out=$(mktemp)
    case "$t" in
        *.sh) BUILD="$BUILD" sh "$t" >"$out" 2>&1 ;;
        *) "$t" >"$out" 2>&1 ;;
    esac
    rc=$?
    grep -v '^RESULT ' "$out" | tail -n 40
    res=$(grep '^RESULT ' "$out" | tail -n 1)
    rm -f "$out"
    if [ -z "$res" ]; then
        echo "   $t exited with status $rc without a result (crash?)"
        fail=$((fail + 1)); crashed="$crashed $t"
        continue
    fi
    set -- $res
    pass=$((pass + $2)); fail=$((fail + $3))
    if [ "$rc" -ne 0 ] && [ "$3" -eq 0 ]; then
        echo "   $t exited with status $rc"; fail=$((fail + 1)); crashed="$crashed $t"
    fi
done
[ -n "$crashed" ] && echo "crashed or failed to report:$crashed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
