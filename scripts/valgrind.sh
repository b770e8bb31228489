#!/bin/sh
# scripts/valgrind.sh — the CLI's main paths under Valgrind Memcheck:
# info, train (1 tiny epoch, with --checkpoint and --csv), resume from the
# checkpoint, eval (sparse and --dense), features, listen (files and
# --stream), dataset stats. Every run must exit as it does natively, with no
# Memcheck error and no definite or indirect leak
# (--error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite,indirect).
#
#   sh scripts/valgrind.sh            uses $BUILD/zeroskip (default build/)
#
# Notes
#  - Valgrind 3.19 has no AVX-512: under it the CPU reports AVX2, so
#    zeroskip's kernels run their AVX2 versions (ZS_ISA=scalar is run too
#    for the inference paths) and oneDNN JITs AVX2 code.
#  - oneDNN's JIT GEMM (training, --dense) makes vector loads past the end of
#    its own packing buffers and reads below the stack pointer; these are in
#    generated code with no object file and are suppressed by
#    scripts/valgrind.supp, which matches nothing else (see the file).
#  - "possibly lost" and "still reachable" blocks (OpenMP's thread pool,
#    oneDNN's kernel cache, FFTW's planner) are not counted as errors.
#  - Data are generated (tiny IDX files); models trained natively first.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ZS="$(pwd)/$BUILD/zeroskip"
[ -x "$ZS" ] || { echo "valgrind.sh: $ZS not built (make BUILD=$BUILD cli)"; exit 2; }
command -v valgrind >/dev/null || { echo "valgrind.sh: SKIP: valgrind not installed"; exit 0; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export LC_ALL=C OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
VG="valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite,indirect
    --show-leak-kinds=definite,indirect --suppressions=$(pwd)/scripts/valgrind.supp --num-callers=30"
byte() { printf "\\$(printf '%03o' $(($1 & 255)))"; }
be32() { byte $(($1 >> 24)); byte $(($1 >> 16)); byte $(($1 >> 8)); byte "$1"; }
mkidx() { # PREFIX N SIDE CLASSES
    { be32 2051; be32 "$2"; be32 "$3"; be32 "$3"
      awk -v n="$2" -v s="$3" -v k="$4" 'BEGIN { srand(1); for (i = 0; i < n; i++) { c = i % k;
          for (p = 0; p < s * s; p++) printf "%c", (p % k == c) ? 200 + int(rand() * 55) : int(rand() * 60) } }'
    } >"$1-images-idx3-ubyte"
    { be32 2049; be32 "$2"; awk -v n="$2" -v k="$4" 'BEGIN { for (i = 0; i < n; i++) printf "%c", i % k }'; } >"$1-labels-idx1-ubyte"
}
mkidx "$T/mn" 32 28 10
mkidx "$T/sq" 16 32 12
"$ZS" train --preset gsc-sparse-fast --data "$T/sq-images-idx3-ubyte" --epochs 1 --batch 8 --quiet --out "$T/gsc.st" ||
    { echo "valgrind.sh: native training failed"; exit 1; }
WAV=tests/data/audio/yes_1000ms.wav
pass=0; fail=0
# vg NAME WANT_RC [ENV=VALUE] -- ARGS...
vg() {
    name=$1; want=$2; shift 2
    envs=""
    while [ "$1" != "--" ]; do envs="$envs $1"; shift; done
    shift
    start=$(date +%s)
    env $envs $VG "$ZS" "$@" >"$T/out" 2>"$T/err"; rc=$?
    secs=$(( $(date +%s) - start ))
    if [ "$rc" -eq "$want" ] && ! grep -q '^==[0-9]*==' "$T/err"; then
        pass=$((pass + 1)); echo "ok   $name (${secs}s)"
    else
        fail=$((fail + 1)); echo "FAIL $name: exit $rc (want $want, 9 = Memcheck errors), ${secs}s"
        grep -A 25 '^==[0-9]*==' "$T/err" | head -n 60
    fi
}
vg "info MODEL" 0 -- info "$T/gsc.st"
vg "info --preset --kernels" 0 -- info --preset gsc-sparse --kernels
vg "train 1 epoch + checkpoint + csv" 0 -- train --preset mnist-mlp --data "$T/mn-images-idx3-ubyte" --epochs 1 --batch 16 \
    --momentum 0.9 --quiet --out "$T/m.st" --checkpoint "$T/c.st" --csv "$T/c.csv"
vg "train resume from checkpoint" 0 -- train --init "$T/c.st" --data "$T/mn-images-idx3-ubyte" --epochs 2 --batch 16 \
    --momentum 0.9 --quiet --out "$T/m2.st"
vg "train sparse preset (k-WTA, BN, masks)" 0 -- train --preset mnist-sparse-mlp --data "$T/mn-images-idx3-ubyte" \
    --epochs 1 --batch 16 --quiet --out "$T/s.st"
vg "eval (sparse plan)" 0 -- eval --model "$T/s.st" --data "$T/mn-images-idx3-ubyte"
vg "eval --dense --json" 0 -- eval --model "$T/s.st" --data "$T/mn-images-idx3-ubyte" --dense --json
vg "eval gsc (sparse plan), ZS_ISA=scalar" 0 ZS_ISA=scalar -- eval --model "$T/gsc.st" --data "$T/sq-images-idx3-ubyte"
vg "features" 0 -- features "$WAV"
vg "features --noise --out" 0 -- features "$WAV" --noise 0.1 --out "$T/f.f32"
vg "listen files --top 3 --json" 0 -- listen --model "$T/gsc.st" --top 3 --json "$WAV" tests/data/audio/0_george_0.wav
vg "listen, ZS_ISA=scalar" 0 ZS_ISA=scalar -- listen --model "$T/gsc.st" "$WAV"
vg "listen --stream" 0 -- listen --model "$T/gsc.st" --stream tests/data/audio/no_1000ms.wav --hop 0.5
vg "dataset stats" 0 -- dataset stats "$T/mn-images-idx3-ubyte"
# error paths free what they allocated
vg "error: junk model" 1 -- info "$WAV"
vg "error: shape mismatch" 1 -- eval --model "$T/m.st" --data "$T/sq-images-idx3-ubyte"
vg "error: unwritable --out" 3 -- train --preset mnist-mlp --data "$T/mn-images-idx3-ubyte" --epochs 1 --quiet --out /nonexistent/m.st
echo "valgrind: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
