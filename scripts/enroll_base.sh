#!/bin/sh
# enroll_base.sh — the enrollment base model: gsc-sparse trained from scratch
# on a variant of the speech data set that has never heard the Speech
# Commands command words, so that `zeroskip enroll` of one of them is
# measured on a word that is really new (scripts/enroll_eval.py,
# docs/CONTINUAL.md "Keyword enrollment on real clips").
#   1. OUT/manifest.csv: the corpus manifest (scripts/build_dataset.sh) less
#      every `unknown` row whose word is one of WORDS, whatever its source
#      (Speech Commands, espeak-ng, flite, festival, micro_speech), in every
#      split; paths made absolute; everything else (digits, other words,
#      silence, noise, splits) row for row the same;
#   2. zeroskip dataset build with build_dataset.sh's augmentation
#      (recorded in OUT/build.json);
#   3. zeroskip train --preset gsc-sparse from scratch, the recipe of
#      scripts/train_models.sh with INIT_REV= EPOCHS=4 MAX_SAMPLES=21000
#      LR=0.01, seed 1 -> MODEL (and OUT/train.log, OUT/curve.csv).
# Environment (defaults): CORPUS [data/corpus] OUT [data/enroll-base]
#   MODEL [models/gsc-sparse-enrollbase.safetensors] JOBS [2] BUILD [build]
#   WORDS [yes no up down left right on off stop go]
#   EPOCHS [4] MAX_SAMPLES [21000] LR [0.01] SEED [1]
# Steps whose output exists are skipped.
set -eu
cd "$(dirname "$0")/.."
CORPUS=${CORPUS:-data/corpus}
OUT=${OUT:-data/enroll-base}
MODEL=${MODEL:-models/gsc-sparse-enrollbase.safetensors}
JOBS=${JOBS:-2}
BUILD=${BUILD:-build}
WORDS=${WORDS:-"yes no up down left right on off stop go"}
EPOCHS=${EPOCHS:-4}
MAX_SAMPLES=${MAX_SAMPLES:-21000}
LR=${LR:-0.01}
SEED=${SEED:-1}
ZS=$BUILD/zeroskip
[ -x "$ZS" ] || { echo "enroll_base: $ZS not found; run 'make BUILD=$BUILD cli' first" >&2; exit 1; }
[ -f "$CORPUS/manifest.csv" ] || { echo "enroll_base: $CORPUS/manifest.csv not found; run scripts/build_dataset.sh first" >&2; exit 1; }
mkdir -p "$OUT"
if [ ! -f "$OUT/train.safetensors" ]; then
    /usr/bin/python3 - "$CORPUS/manifest.csv" "$OUT/manifest.csv" $WORDS <<'EOF'
import csv, os, sys
src, dst, words = sys.argv[1], sys.argv[2], set(sys.argv[3:])
base = os.path.dirname(os.path.abspath(src))
with open(src, newline="") as f:
    rows = list(csv.DictReader(f))
keep = [r for r in rows if not (r["label"] == "unknown" and r["word"] in words)]
for r in keep:
    r["path"] = os.path.normpath(os.path.join(base, r["path"]))
tmp = dst + ".tmp"
with open(tmp, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0].keys()), lineterminator="\n")
    w.writeheader()
    w.writerows(keep)
os.replace(tmp, dst)
print("enroll_base: %d of %d manifest rows kept (%d unknown rows of %s removed)"
      % (len(keep), len(rows), len(rows) - len(keep), " ".join(sorted(words))))
EOF
    "$ZS" dataset build --manifest "$OUT/manifest.csv" --out "$OUT" --augment 1 --seed 1 \
        --noise-dir "$CORPUS/noise" --threads "$JOBS" --augment-source gsc=5,fsdd=2 \
        --reverb 0.3 --band-limit 0.2 --spec-mask 0.5
fi
if [ ! -f "$MODEL" ]; then
    tmp="$OUT/model-s$SEED.safetensors"
    OMP_NUM_THREADS=1 nice -n 10 "$ZS" train --preset gsc-sparse --seed "$SEED" \
        --data "$OUT/train.safetensors" --val "$OUT/val.safetensors" --epochs "$EPOCHS" \
        --max-samples "$MAX_SAMPLES" --batch 16 --lr "$LR" --momentum 0 --weight-decay 0.01 \
        --lr-gamma 0.9 --out "$tmp" --csv "$OUT/curve.csv" > "$OUT/train.log" 2>&1
    mkdir -p "$(dirname "$MODEL")"
    "$ZS" convert "$tmp" "$MODEL"
fi
"$ZS" eval --model "$MODEL" --data "$OUT/test.safetensors"
