#!/bin/sh
# scripts/tsan.sh — the multi-network, multi-threaded paths under
# ThreadSanitizer: builds the library and tests/test_concurrency (plus the
# other threaded tests) in $BUILD (default build-tsan) with
# -fsanitize=thread and runs them. Exit status 0 only if every test passes
# and TSan reports nothing.
#
#   sh scripts/tsan.sh                 clang (default), build-tsan/
#   TSAN_CC=gcc sh scripts/tsan.sh     with gcc's libtsan
#
# Libraries that are not instrumented (libgomp, oneDNN's JIT code, FFTW,
# libsndfile, libsamplerate) are invisible to TSan: races inside them are
# not seen, and libgomp's barriers are not understood, which can produce
# false reports around OpenMP regions. With libgomp 12 / oneDNN 2.6 here
# none appeared (OMP_NUM_THREADS=1 or 2, and test_concurrency also asks
# for 2 GEMM threads per caller through zs_set_threads), so no suppression
# file is used. If one appears inside libgomp, rerun with
# TSAN_OMP_THREADS=1 before suspecting zeroskip.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-tsan}
CC=${TSAN_CC:-clang}
TESTS=${TSAN_TESTS:-"test_concurrency test_frontend test_plan"}
JOBS=${JOBS:-2}
targets=""
for t in $TESTS; do targets="$targets $BUILD/tests/$t"; done
make -j"$JOBS" BUILD="$BUILD" CC="$CC" OPT="-O1 -g -fsanitize=thread -fno-omit-frame-pointer" $targets
export OMP_NUM_THREADS=${TSAN_OMP_THREADS:-2}
export TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
fail=0
for t in $TESTS; do
    log="$BUILD/tests/$t.tsan.log"
    echo "== $t (TSan, OMP_NUM_THREADS=$OMP_NUM_THREADS)"
    if "$BUILD/tests/$t" >"$log" 2>&1; then rc=0; else rc=$?; fi
    grep -E '^RESULT |^SKIP' "$log" || true
    races=$(grep -c '^WARNING: ThreadSanitizer' "$log" || true)
    echo "   exit $rc, $races TSan warnings (log: $log)"
    if [ "$rc" -ne 0 ] || [ "$races" -ne 0 ]; then
        fail=1
        grep -A 30 '^WARNING: ThreadSanitizer' "$log" | head -n 80
        grep '^FAIL ' "$log" | head -n 40 || true
    fi
done
[ "$fail" -eq 0 ] && echo "tsan: clean" || echo "tsan: FAILED"
exit "$fail"
