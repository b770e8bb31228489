# lib_cli.sh — helpers shared by the CLI suites (sourced, not run: the test
# runner only runs tests/cli_*.sh). The sourcing script sets $T (a scratch
# directory) first. Counters: $pass, $fail; a suite ends with
# `echo "RESULT $pass $fail"`.
pass=0; fail=0
ok() { pass=$((pass + 1)); }
no() { fail=$((fail + 1)); echo "FAIL: $*"; }
skip() { echo "SKIP: $*"; }
# check 'SHELL CONDITION' 'message if it is false'
check() { if eval "$1"; then ok; else no "$2"; fi; }
# run CMD... with stdout/stderr to $T/out, $T/err; exit code in $rc
run() { "$@" >"$T/out" 2>"$T/err"; rc=$?; }
# expect_rc RC PATTERN CMD...: exit code RC and stderr matching PATTERN (grep -E)
expect_rc() {
    want=$1; pat=$2; shift 2
    run "$@"
    if [ "$rc" -ne "$want" ]; then no "'$*' exited $rc, want $want: $(head -c 300 "$T/err")"
    elif [ -n "$pat" ] && ! grep -Eq -- "$pat" "$T/err"; then no "'$*': stderr lacks /$pat/: $(head -c 300 "$T/err")"
    else ok; fi
}
# binary integers
byte() { printf "\\$(printf '%03o' $(($1 & 255)))"; }
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
