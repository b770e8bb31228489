#!/bin/sh
# cli_ffi.sh — the Python module's cffi declarations (python/zeroskip/_ffi.py)
# must match include/zeroskip.h: tests/ffi_abi.py has the C compiler check
# every prototype and compares struct layouts and enum values. Needs no
# built library (runs under sanitizer builds too); skipped without
# python3-cffi. Prints `RESULT <passed> <failed>` last.
PY=${PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import cffi' 2>/dev/null; then
    echo "SKIP: the cffi declaration check needs python3-cffi"
    echo "RESULT 0 0"; exit 0
fi
"$PY" tests/ffi_abi.py "${CC:-cc}"
