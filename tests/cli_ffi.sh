#!/bin/sh
# cli_ffi.sh — the Python module's cffi declarations (python/zeroskip/_ffi.py)
# must match include/zeroskip.h: tests/ffi_abi.py has the C compiler check
# every prototype and compares struct layouts and enum values. Needs no
# built library (runs under sanitizer builds too); skipped without
# python3-cffi. Prints `RESULT <passed> <failed>` last.
. "$(dirname "$0")/lib_cli.sh"
if ! "$PY" -c 'import cffi' 2>/dev/null; then skip_suite "the cffi declaration check needs python3-cffi"; fi
"$PY" tests/ffi_abi.py "${CC:-cc}"
