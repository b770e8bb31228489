#!/bin/sh
# cli_st_python.sh — the C safetensors writer/reader against scripts/st_read.py
# (json + numpy only): a file written by C must read back in Python with the
# same tensors, byte sums and metadata; malformed files must fail --check.
# Skips (RESULT 0 0) without /usr/bin/python3 + numpy or the test binary.
BUILD=${BUILD:-build}
PY=/usr/bin/python3
BIN="$BUILD/tests/test_safetensors"
if ! [ -x "$PY" ] || ! "$PY" -c 'import numpy' >/dev/null 2>&1; then
    echo "SKIP: $PY with numpy not available"; echo "RESULT 0 0"; exit 0
fi
if ! [ -x "$BIN" ]; then
    echo "SKIP: $BIN not built"; echo "RESULT 0 0"; exit 0
fi
pass=0; fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/zs_stpy.XXXXXX") || { echo "RESULT 0 1"; exit 1; }
trap 'rm -rf "$dir"' EXIT

# 1. C writes; C and Python print the same tensor lines.
if "$BIN" --write "$dir/rt.safetensors" >"$dir/c.txt"; then ok; else bad "C writer"; fi
if "$PY" scripts/st_read.py "$dir/rt.safetensors" >"$dir/py_full.txt"; then ok; else bad "st_read.py on the C file"; fi
grep '^tensor ' "$dir/py_full.txt" | sed 's/ sum=.*//' >"$dir/py.txt"
if [ -s "$dir/c.txt" ] && cmp -s "$dir/c.txt" "$dir/py.txt"; then ok; else
    bad "tensor lines differ"; diff "$dir/c.txt" "$dir/py.txt"; fi
[ "$(grep -c '^tensor ' "$dir/py.txt")" -eq 8 ] && ok || bad "expected 8 tensors"
grep -q '^tensor scalar F64 \[\] ' "$dir/py.txt" && ok || bad "scalar shape []"
grep -q '^tensor empty BF16 \[0,4\] bytesum=0$' "$dir/py.txt" && ok || bad "zero-size tensor"
grep -q '^meta arch = gsc-dense$' "$dir/py_full.txt" && ok || bad "metadata arch"
grep -q '^tensor conv.weight F32 \[2,3\] bytesum=[0-9]* sum=-1e+30$' "$dir/py_full.txt" && ok || bad "conv.weight sum"
"$PY" scripts/st_read.py --check "$dir/rt.safetensors" && ok || bad "--check on a good file"

# 2. The committed numpy fixture passes --check; malformed files fail it.
"$PY" scripts/st_read.py --check tests/data/st_numpy.safetensors && ok || bad "--check fixture"
head -c 7 tests/data/st_numpy.safetensors >"$dir/short.st"
head -c 400 tests/data/st_numpy.safetensors >"$dir/trunc.st"
printf '\002\000\000\000\000\000\000\000[]' >"$dir/array.st"
printf '\377\377\377\377\377\377\377\377{}' >"$dir/huge.st"
for f in short trunc array huge; do
    if "$PY" scripts/st_read.py --check "$dir/$f.st" 2>/dev/null; then bad "--check accepted $f"; else ok; fi
done
echo "cli_st_python: $pass passed, $fail failed"
echo "RESULT $pass $fail"
[ "$fail" -eq 0 ]
