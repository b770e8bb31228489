#!/bin/sh
# cli_python.sh — the Python module (python/zeroskip, cffi over
# $BUILD/libzeroskip.so) against the CLI: tests/python_module.py does the
# checks (recognition = listen, streaming = listen --stream incl. raw PCM
# through a pipe, errors, training, PyTorch state_dict round trip).
# Skipped, with the reason printed, where python3-numpy or python3-cffi is
# missing or $BUILD is a sanitizer build (python3 cannot dlopen it).
# Prints `RESULT <passed> <failed>` last.
BUILD=${BUILD:-build}
PY=${PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import numpy, cffi' 2>/dev/null; then
    echo "SKIP: the Python module tests need python3-numpy and python3-cffi"
    echo "RESULT 0 0"; exit 0
fi
if nm -D "$BUILD/libzeroskip.so" 2>/dev/null | grep -q ' U __[at]san_'; then
    echo "SKIP: $BUILD/libzeroskip.so is a sanitizer build; python3 cannot load it"
    echo "RESULT 0 0"; exit 0
fi
PYTHONPATH=python ZEROSKIP_LIBRARY=$BUILD/libzeroskip.so ZEROSKIP_CLI=$BUILD/zeroskip \
    "$PY" tests/python_module.py
