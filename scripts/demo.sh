#!/bin/sh
# make demo: listen to real clips with the shipped sparse model, then compare speed.
set -e
ZS=build/zeroskip
if [ ! -f models/gsc-sparse.safetensors ]; then
    echo "no model yet: models/gsc-sparse.safetensors has not been trained (make models)."
    echo "Here is the network it will be:"
    $ZS info --preset gsc-sparse
    exit 0
fi
