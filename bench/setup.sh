#!/bin/sh
# setup.sh — install the peer engines that `zeroskip bench --peers` runs.
#
#   sh bench/setup.sh
#
# ONNX Runtime: npm onnxruntime-node@1.30.0 into bench/node_modules (git-
# ignored), CPU only: --onnxruntime-node-install=skip keeps the postinstall
# step from fetching CUDA/TensorRT providers. PyTorch is Debian's
# python3-torch under /usr/bin/python3; this script only checks for it.
set -e
cd "$(dirname "$0")"
if command -v npm >/dev/null 2>&1; then
    npm install --no-audit --no-fund --save-exact \
        onnxruntime-node@1.30.0 --onnxruntime-node-install=skip
    node -e "const o=require('./node_modules/onnxruntime-node'); console.log('onnxruntime-node', o.env.versions.node, 'ok')"
else
    echo "setup: npm not found: ONNX Runtime peer unavailable (apt install nodejs npm)" >&2
fi
PY=${PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import onnx' 2>/dev/null; then
    echo "setup: $PY cannot import onnx: the ONNX export (bench/export_onnx.py) needs it (apt install python3-onnx)" >&2
fi
if "$PY" -c 'import torch, numpy' 2>/dev/null; then
    "$PY" -c 'import torch; print("torch", torch.__version__, "ok")'
else
    echo "setup: $PY cannot import torch+numpy: PyTorch peer unavailable (apt install python3-torch)" >&2
fi
