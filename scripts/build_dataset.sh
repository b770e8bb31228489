#!/bin/sh
# build_dataset.sh — the whole speech data set in one command:
#   1. scripts/make_corpus.py  -> data/corpus/ (WAVs, manifest.csv, noise beds)
#                                 and data/splits/*.txt
#   2. zeroskip dataset build  -> data/gsc/{train,val,test}.safetensors
#                                 + data/gsc/manifest_{split}.csv
# Deterministic from SEED. Environment overrides (defaults in brackets):
#   SEED [1]  AUGMENT [1]  JOBS [2]  BUILD [build]  PYTHON [/usr/bin/python3]
#   CORPUS [data/corpus]  OUT [data/gsc]
#   AUG_SOURCE [gsc=5,fsdd=2]  copies per training clip of the real sources
#   REVERB [0.3] BAND_LIMIT [0.2] SPEC_MASK [0.5]  augmentation probabilities
# Every choice of the features step is recorded in $OUT/build.json.
# Extra arguments go to make_corpus.py (e.g. --espeak-renditions 3).
# See docs/DATASET.md.
set -eu
cd "$(dirname "$0")/.."
SEED=${SEED:-1}
AUGMENT=${AUGMENT:-1}
JOBS=${JOBS:-2}
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
CORPUS=${CORPUS:-data/corpus}
OUT=${OUT:-data/gsc}
AUG_SOURCE=${AUG_SOURCE:-gsc=5,fsdd=2}
REVERB=${REVERB:-0.3}
BAND_LIMIT=${BAND_LIMIT:-0.2}
SPEC_MASK=${SPEC_MASK:-0.5}

if [ ! -x "$BUILD/zeroskip" ]; then
    echo "build_dataset: $BUILD/zeroskip not found; run 'make BUILD=$BUILD cli' first" >&2
    exit 1
fi
t0=$(date +%s)
[ -f data/splits/speech_commands.txt ] || "$PYTHON" scripts/real_eval.py splits
"$PYTHON" scripts/make_corpus.py --out "$CORPUS" --seed "$SEED" --jobs "$JOBS" "$@"
t1=$(date +%s)
"$BUILD/zeroskip" dataset build --manifest "$CORPUS/manifest.csv" --out "$OUT" \
    --augment "$AUGMENT" --seed "$SEED" --noise-dir "$CORPUS/noise" --threads "$JOBS" \
    --augment-source "$AUG_SOURCE" --reverb "$REVERB" --band-limit "$BAND_LIMIT" --spec-mask "$SPEC_MASK"
t2=$(date +%s)
echo "build_dataset: corpus $((t1 - t0)) s, features $((t2 - t1)) s, total $((t2 - t0)) s -> $OUT"
