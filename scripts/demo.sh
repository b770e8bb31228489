#!/bin/sh
# make demo: install what is missing, build, listen to real clips with the
# shipped sparse model, then a short dense-vs-sparse speed comparison.
set -e
cd "$(dirname "$0")/.."
PKGS="build-essential libcjson-dev libdnnl-dev libsndfile1-dev libsamplerate0-dev libfftw3-dev zlib1g-dev"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "== installing:$missing"
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
    else
        echo "zeroskip demo: missing Debian packages:$missing"
        echo "install them with:  sudo apt-get install$missing"
        exit 1
    fi
fi
echo "== building"
make -s -j2 lib cli >/dev/null
ZS=build/zeroskip
if [ ! -f models/gsc-sparse.safetensors ]; then
    echo "no model yet: models/gsc-sparse.safetensors has not been trained (make models)."
    echo "Here is the network it will be:"
    $ZS info --preset gsc-sparse
    exit 0
fi
