#!/bin/sh
# cli_dendrite_torch.sh — the active-dendrites layer (src/dendrite.c) against
# a PyTorch reference with autograd and finite differences
# (tests/dendrite_torch.py, through cffi on the shared library). Skipped,
# with the reason printed, without /usr/bin/python3 + numpy, cffi and torch,
# or when $BUILD is a sanitizer build (python3 cannot dlopen it).
BUILD=${BUILD:-build}
PY=${PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import numpy, cffi, torch' >/dev/null 2>&1; then
    echo "SKIP: the dendrite torch reference needs python3-numpy, python3-cffi and python3-torch"
    echo "RESULT 0 0"; exit 0
fi
LIB="$BUILD/libzeroskip.so"
if ! [ -e "$LIB" ]; then echo "SKIP: $LIB not built"; echo "RESULT 0 0"; exit 0; fi
if nm -D "$LIB" 2>/dev/null | grep -q ' U __[at]san_'; then
    echo "SKIP: $LIB is a sanitizer build; python3 cannot load it"
    echo "RESULT 0 0"; exit 0
fi
OMP_NUM_THREADS=1 "$PY" tests/dendrite_torch.py "$LIB"
