#!/bin/sh
# continual_runs.sh — the forgetting experiments of docs/CONTINUAL.md:
# {dense, sparse, dendrites} x {no SI, SI} x SEEDS on permuted Fashion-MNIST
# (TASKS tasks) or split Fashion-MNIST (5 x 2 classes), one CSV per run in
# OUT (after_task,task,accuracy), then scripts/continual_report.py.
# Environment (defaults in brackets): PROTOCOL [permuted] TASKS [10]
# SEEDS ["1 2 3"] SAMPLES [3000] TEST [1000] EPOCHS [1] HIDDEN [512]
# MODELS ["dense sparse dendrites"] SI [0.1] JOBS [2] OUT [results/continual]
# BUILD [build]; learning rates per model: LR_dense [0.05] LR_sparse [0.1]
# LR_dendrites [0.2].
set -eu
cd "$(dirname "$0")/.."
PROTOCOL=${PROTOCOL:-permuted}; TASKS=${TASKS:-10}; SEEDS=${SEEDS:-"1 2 3"}
SAMPLES=${SAMPLES:-3000}; TEST=${TEST:-1000}; EPOCHS=${EPOCHS:-1}; HIDDEN=${HIDDEN:-512}
MODELS=${MODELS:-"dense sparse dendrites"}; SI=${SI:-0.1}; JOBS=${JOBS:-2}
OUT=${OUT:-results/continual}; BUILD=${BUILD:-build}
LR_dense=${LR_dense:-0.05}; LR_sparse=${LR_sparse:-0.1}; LR_dendrites=${LR_dendrites:-0.2}
FM=${FM:-/usr/share/datasets/fashion-mnist}
mkdir -p "$OUT"
jobs_file=$(mktemp)
for m in $MODELS; do
    eval lr=\$LR_$m
    for si in 0 "$SI"; do
        for s in $SEEDS; do
            tag=$PROTOCOL-$TASKS-$m-si$si-seed$s
            [ -s "$OUT/$tag.csv" ] && continue
            echo "$BUILD/zeroskip continual --protocol $PROTOCOL --tasks $TASKS --model $m --si $si --lr $lr \
--hidden $HIDDEN --epochs $EPOCHS --samples $SAMPLES --test-samples $TEST --seed $s \
--train $FM/train-images-idx3-ubyte.gz --test $FM/t10k-images-idx3-ubyte.gz --csv $OUT/$tag.csv.part \
> $OUT/$tag.log 2>&1 && mv $OUT/$tag.csv.part $OUT/$tag.csv" >>"$jobs_file"
        done
    done
done
# JOBS at a time, each under nice
xargs -P "$JOBS" -I{} nice -n 10 sh -c "{}" <"$jobs_file"
rm -f "$jobs_file"
