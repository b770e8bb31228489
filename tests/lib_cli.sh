# lib_cli.sh — the preamble every tests/cli_*.sh suite shares (sourced, not
# run: the test runner only runs tests/cli_*.sh):
#   . "$(dirname "$0")/lib_cli.sh"
# It sets BUILD (default build), ZS (the command $BUILD/zeroskip), PY
# ($PYTHON, default /usr/bin/python3), a scratch directory $T that is removed
# on exit, and the counters $pass and $fail. A suite ends with `finish`: it
# prints "<suite>: N passed, M failed" and "RESULT <passed> <failed>" (what
# tests/run_tests.sh counts) and exits non-zero when a check failed.
BUILD=${BUILD:-build}
ZS=$BUILD/zeroskip
PY=${PYTHON:-/usr/bin/python3}
SUITE=$(basename "$0" .sh)
pass=0; fail=0
T=$(mktemp -d "${TMPDIR:-/tmp}/zs_$SUITE.XXXXXX") || { echo "FAIL: mktemp"; echo "RESULT 0 1"; exit 1; }
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
skip() { echo "SKIP: $*"; }
# check DESC CMD...: passes when CMD succeeds (a compound condition:
# check DESC eval 'CONDITION')
check() { check_desc=$1; shift; if "$@"; then ok; else bad "$check_desc"; fi; }
finish() { echo "$SUITE: $pass passed, $fail failed"; echo "RESULT $pass $fail"; [ "$fail" -eq 0 ]; exit; }
# skip_suite REASON: nothing of the suite can run here
skip_suite() { skip "$*"; echo "RESULT 0 0"; exit 0; }
# need FILE...: a suite that cannot run without FILE (built or shipped) fails
need() { for f in "$@"; do [ -e "$f" ] || bad "$f missing (not built?)"; done; [ "$fail" -eq 0 ] || finish; }
# sanitized LIB: LIB is a sanitizer build (python3 cannot dlopen it)
sanitized() { nm -D "$1" 2>/dev/null | grep -q ' U __[at]san_'; }
# run CMD... with stdout/stderr to $T/out, $T/err; exit code in $rc
run() { "$@" >"$T/out" 2>"$T/err"; rc=$?; }
# expect_rc RC PATTERN CMD...: exit code RC and stderr matching PATTERN (grep -E)
expect_rc() {
    want=$1; pat=$2; shift 2
    run "$@"
    if [ "$rc" -ne "$want" ]; then bad "'$*' exited $rc, want $want: $(head -c 300 "$T/err")"
    elif [ -n "$pat" ] && ! grep -Eq -- "$pat" "$T/err"; then bad "'$*': stderr lacks /$pat/: $(head -c 300 "$T/err")"
    else ok; fi
}
# binary integers
byte() { printf "\\$(printf '%03o' $(($1 & 255)))"; }
le16() { byte "$1"; byte $(($1 >> 8)); }
le32() { byte "$1"; byte $(($1 >> 8)); byte $(($1 >> 16)); byte $(($1 >> 24)); }
be32() { byte $(($1 >> 24)); byte $(($1 >> 16)); byte $(($1 >> 8)); byte "$1"; }
le64() { n=$1; i=0; while [ $i -lt 8 ]; do byte "$n"; n=$((n >> 8)); i=$((i + 1)); done; }
# mkidx PREFIX N SIDE CLASSES: IDX images PREFIX-images-idx3-ubyte and labels;
# class c lights every pixel p with p % CLASSES == c (learnable, deterministic)
mkidx() {
    { be32 2051; be32 "$2"; be32 "$3"; be32 "$3"
      awk -v n="$2" -v s="$3" -v k="$4" 'BEGIN { srand(1); for (i = 0; i < n; i++) { c = i % k;
          for (p = 0; p < s * s; p++) printf "%c", (p % k == c) ? 200 + int(rand() * 55) : int(rand() * 60) } }'
    } >"$1-images-idx3-ubyte"
    { be32 2049; be32 "$2"; awk -v n="$2" -v k="$4" 'BEGIN { for (i = 0; i < n; i++) printf "%c", i % k }'; } >"$1-labels-idx1-ubyte"
}
