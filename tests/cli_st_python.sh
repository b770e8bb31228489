#!/bin/sh
# cli_st_python.sh — the C safetensors writer/reader against scripts/st_read.py
# (json + numpy only): a file written by C must read back in Python with the
# same tensors, byte sums and metadata; malformed files must fail --check.
# Skips (RESULT 0 0) without python3 + numpy or the test binary.
. "$(dirname "$0")/lib_cli.sh"
BIN="$BUILD/tests/test_safetensors"
if ! [ -x "$PY" ] || ! "$PY" -c 'import numpy' >/dev/null 2>&1; then skip_suite "$PY with numpy not available"; fi
if ! [ -x "$BIN" ]; then skip_suite "$BIN not built"; fi

# 1. C writes; C and Python print the same tensor lines.
if "$BIN" --write "$T/rt.safetensors" >"$T/c.txt"; then ok; else bad "C writer"; fi
if "$PY" scripts/st_read.py "$T/rt.safetensors" >"$T/py_full.txt"; then ok; else bad "st_read.py on the C file"; fi
grep '^tensor ' "$T/py_full.txt" | sed 's/ sum=.*//' >"$T/py.txt"
if [ -s "$T/c.txt" ] && cmp -s "$T/c.txt" "$T/py.txt"; then ok; else
    bad "tensor lines differ"; diff "$T/c.txt" "$T/py.txt"; fi
[ "$(grep -c '^tensor ' "$T/py.txt")" -eq 8 ] && ok || bad "expected 8 tensors"
grep -q '^tensor scalar F64 \[\] ' "$T/py.txt" && ok || bad "scalar shape []"
grep -q '^tensor empty BF16 \[0,4\] bytesum=0$' "$T/py.txt" && ok || bad "zero-size tensor"
grep -q '^meta arch = gsc-dense$' "$T/py_full.txt" && ok || bad "metadata arch"
grep -q '^tensor conv.weight F32 \[2,3\] bytesum=[0-9]* sum=-1e+30$' "$T/py_full.txt" && ok || bad "conv.weight sum"
"$PY" scripts/st_read.py --check "$T/rt.safetensors" && ok || bad "--check on a good file"

# 2. The committed numpy fixture passes --check; malformed files fail it.
"$PY" scripts/st_read.py --check tests/data/st_numpy.safetensors && ok || bad "--check fixture"
head -c 7 tests/data/st_numpy.safetensors >"$T/short.st"
head -c 400 tests/data/st_numpy.safetensors >"$T/trunc.st"
printf '\002\000\000\000\000\000\000\000[]' >"$T/array.st"
printf '\377\377\377\377\377\377\377\377{}' >"$T/huge.st"
for f in short trunc array huge; do
    if "$PY" scripts/st_read.py --check "$T/$f.st" 2>/dev/null; then bad "--check accepted $f"; else ok; fi
done
finish
