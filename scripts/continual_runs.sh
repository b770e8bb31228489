#!/bin/sh
# continual_runs.sh — the forgetting experiments of docs/CONTINUAL.md:
# {dense, sparse, dendrites} x {no SI, SI} x SEEDS on permuted Fashion-MNIST
# (TASKS tasks) or split Fashion-MNIST (5 x 2 classes), one CSV per run in
# OUT (after_task,task,accuracy), then scripts/continual_report.py.
# Environment (defaults in brackets): PROTOCOL [permuted] TASKS [10]
# SEEDS ["1 2 3"] SAMPLES [5000] TEST [1000] EPOCHS [3] HIDDEN [512]
# BATCH [64] OPTIM [adam] LR [0.001] MODELS ["dense sparse dendrites"]
# SI [0.1] SIS ["0 $SI": the SI strengths to run, 0 = without] JOBS [2]
# HEAD [shared; task: --head task, runs named PROTOCOL_taskhead-...]
# CONTEXT [nearest; given: --context given, models named MODEL_ctxgiven]
# EVAL [all; seen: --eval seen, only the tasks trained so far are evaluated]
# OUT [results/continual] BUILD [build]. Every run is
# single-threaded (OMP_NUM_THREADS=1) under nice -n 10; a finished run (its
# CSV exists) is not run again.
set -eu
cd "$(dirname "$0")/.."
PROTOCOL=${PROTOCOL:-permuted}; TASKS=${TASKS:-10}; SEEDS=${SEEDS:-"1 2 3"}
SAMPLES=${SAMPLES:-5000}; TEST=${TEST:-1000}; EPOCHS=${EPOCHS:-3}; HIDDEN=${HIDDEN:-512}
BATCH=${BATCH:-64}; OPTIM=${OPTIM:-adam}; LR=${LR:-0.001}
MODELS=${MODELS:-"dense sparse dendrites"}; SI=${SI:-0.1}; SIS=${SIS:-"0 $SI"}; JOBS=${JOBS:-2}
OUT=${OUT:-results/continual}; BUILD=${BUILD:-build}
HEAD=${HEAD:-shared}; CONTEXT=${CONTEXT:-nearest}; EVAL=${EVAL:-all}
name=$PROTOCOL; extra=""; msuf=""
[ "$HEAD" = shared ] || { name=${PROTOCOL}_${HEAD}head; extra="--head $HEAD"; }
[ "$CONTEXT" = nearest ] || { msuf=_ctx$CONTEXT; extra="$extra --context $CONTEXT"; }
[ "$EVAL" = all ] || extra="$extra --eval $EVAL"
export OMP_NUM_THREADS=1
FM=${FM:-/usr/share/datasets/fashion-mnist}
mkdir -p "$OUT"
jobs_file=$(mktemp)
for s in $SEEDS; do
    for m in $MODELS; do
        for si in $SIS; do
            tag=$name-$TASKS-$m$msuf-si$si-seed$s
            [ -s "$OUT/$tag.csv" ] && continue
            echo "/usr/bin/time -f time:user=%Us,sys=%Ss,wall=%es $BUILD/zeroskip continual --protocol $PROTOCOL --tasks $TASKS --model $m --si $si --optimizer $OPTIM --lr $LR \
--hidden $HIDDEN --batch $BATCH --epochs $EPOCHS --samples $SAMPLES --test-samples $TEST --seed $s $extra \
--train $FM/train-images-idx3-ubyte.gz --test $FM/t10k-images-idx3-ubyte.gz --csv $OUT/$tag.csv.part \
> $OUT/$tag.log 2>&1 && mv $OUT/$tag.csv.part $OUT/$tag.csv" >>"$jobs_file"
        done
    done
done
# seed by seed, JOBS at a time, each under nice
xargs -P "$JOBS" -I{} nice -n 10 sh -c "{}" <"$jobs_file"
rm -f "$jobs_file"
