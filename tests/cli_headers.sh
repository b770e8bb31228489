#!/bin/sh
# The command uses only the public API: every cli/*.c and cli/*.h includes
# "zeroskip.h", "cli.h" and system headers, nothing from src/. Checked twice:
# the quoted includes by name, and each file compiled on its own with only
# include/ (and cli/) on the include path, so an angle-bracket include of a
# library header cannot slip through either.
. "$(dirname "$0")/lib_cli.sh"
CC=${CC:-cc}
for f in cli/*.c cli/*.h; do
    inc=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" | grep -vE '"(zeroskip|cli)\.h"')
    if [ -n "$inc" ]; then bad "$f includes a non-public header: $inc"; else ok; fi
done
# the check itself must catch a violation
printf '#include "cli.h"\n#include "zs_internal.h"\n' >"$T/bad.c"
grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$T/bad.c" | grep -qvE '"(zeroskip|cli)\.h"' \
    && ok || bad "the include check misses zs_internal.h"
if command -v "$CC" >/dev/null 2>&1; then
    for f in cli/*.c; do
        if "$CC" -std=c11 -D_GNU_SOURCE -fsyntax-only -Iinclude -Icli "$f" 2>"$T/err"; then ok
        else bad "$f does not compile with only include/ on the path: $(head -c 300 "$T/err")"; fi
    done
else
    skip "no C compiler ($CC): the compile check is not run"
fi
finish
