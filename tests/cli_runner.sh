#!/bin/sh
# cli_runner.sh — tests/run_tests.sh itself, on a fake tree (docs/RELIABILITY.md
# F17): skips are counted and printed, a hanging suite fails after the
# timeout instead of stalling the run, a suite whose checks are all skipped
# is named, and a stale test binary whose source is gone is not run.
# Ends with "RESULT <passed> <failed>".
export LC_ALL=C
. "$(dirname "$0")/lib_cli.sh"
if ! command -v timeout >/dev/null 2>&1; then skip_suite "no timeout command: run_tests.sh not checked"; fi
mkdir -p "$T/tests" "$T/b/tests"
cp tests/run_tests.sh "$T/tests/"
# a binary test with its source: 3 checks pass, 1 skip line
printf '/* fake */\n' >"$T/tests/test_ok.c"
printf '#!/bin/sh\necho "SKIP: one thing"\necho "RESULT 3 0"\n' >"$T/b/tests/test_ok"
# a stale binary whose source is gone: it would report a failure
printf '#!/bin/sh\necho "RESULT 0 1"\nexit 1\n' >"$T/b/tests/test_gone"
# a shell suite whose checks are all skipped
printf 'echo "SKIP: a"\necho "SKIP: b"\necho "RESULT 0 0"\n' >"$T/tests/cli_allskip.sh"
chmod +x "$T/b/tests/test_ok" "$T/b/tests/test_gone"

(cd "$T" && BUILD=b ZS_TEST_TIMEOUT=5 timeout 60 sh tests/run_tests.sh >"$T/out" 2>&1); rc=$?
[ $rc -eq 0 ] && ok || bad "a clean fake run exits 0 (got $rc): $(tail -3 "$T/out")"
[ "$(tail -n 1 "$T/out")" = "3 passed, 0 failed, 3 skipped" ] && ok || bad "summary line: '$(tail -n 1 "$T/out")'"
grep -q 'test_gone' "$T/out" && bad "a stale binary was run" || ok
grep -q 'ran no checks (all skipped): tests/cli_allskip.sh' "$T/out" && ok || bad "an all-skipped suite is named"

# a hanging suite: fails after ZS_TEST_TIMEOUT, the others still run
printf 'sleep 300\necho "RESULT 1 0"\n' >"$T/tests/cli_hang.sh"
start=$(date +%s)
(cd "$T" && BUILD=b ZS_TEST_TIMEOUT=3 timeout 60 sh tests/run_tests.sh >"$T/out" 2>&1); rc=$?
took=$(($(date +%s) - start))
[ $rc -ne 0 ] && [ $rc -ne 124 ] && ok || bad "a hanging suite makes the run fail (rc $rc), without the outer timeout"
[ $took -lt 40 ] && ok || bad "the hang was cut after the timeout (took $took s)"
grep -q 'cli_hang.sh did not finish within 3 s' "$T/out" && ok || bad "the timeout is reported: $(tail -4 "$T/out")"
[ "$(tail -n 1 "$T/out")" = "3 passed, 1 failed, 3 skipped" ] && ok || bad "summary with the hang: '$(tail -n 1 "$T/out")'"
rm "$T/tests/cli_hang.sh"

# a source without its binary is a failure (not silently nothing)
printf '/* fake */\n' >"$T/tests/test_unbuilt.c"
(cd "$T" && BUILD=b ZS_TEST_TIMEOUT=5 timeout 60 sh tests/run_tests.sh >"$T/out" 2>&1); rc=$?
[ $rc -ne 0 ] && grep -q 'test_unbuilt was not built' "$T/out" && ok || bad "an unbuilt test fails the run"

finish
