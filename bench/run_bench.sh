#!/bin/sh
# run_bench.sh — the measurements behind docs/BENCHMARKS.md, in one go.
#
#   sh bench/setup.sh                 # once: ONNX Runtime into bench/node_modules
#   make BUILD=build build/zeroskip
#   BUILD=build sh bench/run_bench.sh [quick]
#
# Writes bench/out/ (git-ignored): <name>.txt (the table), <name>.json
# (every number), <name>.png (bar chart), plus machine.txt (lscpu, date,
# commit, load). Each run puts zeroskip and the peers in the same process
# run, so their ratio is measured under the same machine load; on a shared
# machine repeat it and compare the ratios, not the absolute numbers.
set -e
cd "$(dirname "$0")/.."
ZS=${BUILD:-build}/zeroskip
OUT=bench/out
mkdir -p "$OUT"
[ -x "$ZS" ] || { echo "run_bench: $ZS not built (make BUILD=${BUILD:-build} ${BUILD:-build}/zeroskip)" >&2; exit 2; }

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null) ($(git status --porcelain src cli 2>/dev/null | wc -l) uncommitted files in src/ cli/)"
    echo "zeroskip: $("$ZS" version)"
    echo "uptime: $(uptime)"
    lscpu
} >"$OUT/machine.txt"

run() {
    name=$1; shift
    echo "== $name: zeroskip bench $*" >&2
    "$ZS" bench "$@" --json-out "$OUT/$name.json" --plot "$OUT/$name.png" | tee "$OUT/$name.txt"
}

if [ "$1" = quick ]; then
    run quick --model gsc-sparse --peers --batch 1,64 --networks 1,2 --seconds 0.5 --reps 3
    exit 0
fi
# 1. gsc-sparse (nupic.torch GSCSparseCNN) vs its dense twin gsc-dense: the full grid
run gsc-sparse --model gsc-sparse --peers --reps 3
# 2. the codesigned preset (max-pool before k-WTA): the target configurations
run gsc-sparse-fast --model gsc-sparse-fast --peers --networks 1,20 --batch 1,64,256 --reps 3
# 3. gsc-supersparse, batch 1 and 64, one network
run gsc-supersparse --model gsc-supersparse --peers --networks 1 --batch 1,64 --reps 3
