#!/bin/sh
# The command uses only the public API: every cli/*.c and cli/*.h includes
# "zeroskip.h", "cli.h" and system headers, nothing from src/. Checked twice:
# the quoted includes by name, and each file compiled on its own with only
# include/ (and cli/) on the include path, so an angle-bracket include of a
# library header cannot slip through either.
CC=${CC:-cc}
pass=0; fail=0
ok() { pass=$((pass + 1)); }
no() { fail=$((fail + 1)); echo "FAIL: $*"; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
for f in cli/*.c cli/*.h; do
    bad=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" | grep -vE '"(zeroskip|cli)\.h"')
    if [ -n "$bad" ]; then no "$f includes a non-public header: $bad"; else ok; fi
done
# the check itself must catch a violation
printf '#include "cli.h"\n#include "zs_internal.h"\n' >"$T/bad.c"
grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$T/bad.c" | grep -qvE '"(zeroskip|cli)\.h"' \
    && ok || no "the include check misses zs_internal.h"
if command -v "$CC" >/dev/null 2>&1; then
    for f in cli/*.c; do
        if "$CC" -std=c11 -D_GNU_SOURCE -fsyntax-only -Iinclude -Icli "$f" 2>"$T/err"; then ok
        else no "$f does not compile with only include/ on the path: $(head -c 300 "$T/err")"; fi
    done
else
    echo "SKIP: no C compiler ($CC): the compile check is not run"
fi
echo "RESULT $pass $fail"
[ "$fail" -eq 0 ]
