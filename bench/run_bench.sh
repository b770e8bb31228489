#!/bin/sh
# run_bench.sh — the measurements behind docs/BENCHMARKS.md, in one go.
#
#   sh bench/setup.sh                 # once: ONNX Runtime into bench/node_modules
#   make BUILD=build build/zeroskip
#   BUILD=build sh bench/run_bench.sh [quick]
#
# Writes bench/out/ (git-ignored): <name>.txt (the table), <name>.json
# (every number), <name>.png (bar chart), plus machine.txt (lscpu, date,
# commit, load). Inside each run the engines alternate round by round
# (`zeroskip bench --rounds`), so the per-round ratios compare runs made
# seconds apart under the same load; on a shared machine trust those ratios
# more than the absolute words/s.
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
    "$ZS" bench "$@" --json-out "$OUT/$name.json" | tee "$OUT/$name.txt"
}

if [ "$1" = quick ]; then
    run quick --peers --batch 1,64 --networks 1,2 --seconds 0.5 --rounds 3
    exit 0
fi
# 1. the shipped gsc-sparse against its dense twin gsc-dense and the peers
#    (defaults: batch 1,64, networks 1,20, threads 1,<CPUs>, 5 rounds of 1 s)
run gsc-sparse --peers --plot "$OUT/gsc-sparse.png"
# 2. where its time goes, stage by stage, against this core's peak
run gsc-sparse-profile --profile
ZS_ISA=avx2 "$ZS" bench --profile | tee "$OUT/gsc-sparse-profile-avx2.txt"
# 3. gsc-supersparse, one network
run gsc-supersparse --model models/gsc-supersparse.safetensors --peers --networks 1
