#!/bin/sh
# cli_dendrite_torch.sh — the active-dendrites layer (src/dendrite.c) against
# a PyTorch reference with autograd and finite differences
# (tests/dendrite_torch.py, through cffi on the shared library). Skipped,
# with the reason printed, without /usr/bin/python3 + numpy, cffi and torch,
# or when $BUILD is a sanitizer build (python3 cannot dlopen it).
. "$(dirname "$0")/lib_cli.sh"
if ! "$PY" -c 'import numpy, cffi, torch' >/dev/null 2>&1; then
    skip_suite "the dendrite torch reference needs python3-numpy, python3-cffi and python3-torch"
fi
LIB="$BUILD/libzeroskip.so"
if ! [ -e "$LIB" ]; then skip_suite "$LIB not built"; fi
if sanitized "$LIB"; then skip_suite "$LIB is a sanitizer build; python3 cannot load it"; fi
OMP_NUM_THREADS=1 "$PY" tests/dendrite_torch.py "$LIB"
