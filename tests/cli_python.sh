#!/bin/sh
# cli_python.sh — the Python module (python/zeroskip, cffi over
# $BUILD/libzeroskip.so) against the CLI: tests/python_module.py does the
# checks (recognition = listen, streaming = listen --stream incl. raw PCM
# through a pipe, errors, training, PyTorch state_dict round trip).
# Skipped, with the reason printed, where python3-numpy or python3-cffi is
# missing or $BUILD is a sanitizer build (python3 cannot dlopen it).
# Prints `RESULT <passed> <failed>` last.
. "$(dirname "$0")/lib_cli.sh"
if ! "$PY" -c 'import numpy, cffi' 2>/dev/null; then
    skip_suite "the Python module tests need python3-numpy and python3-cffi"
fi
if sanitized "$BUILD/libzeroskip.so"; then
    skip_suite "$BUILD/libzeroskip.so is a sanitizer build; python3 cannot load it"
fi
PYTHONPATH=python ZEROSKIP_LIBRARY=$BUILD/libzeroskip.so ZEROSKIP_CLI=$ZS \
    "$PY" tests/python_module.py
