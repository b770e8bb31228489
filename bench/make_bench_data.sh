#!/bin/sh
# make_bench_data.sh — rebuild bench/data/gsc_test_256.safetensors, the real
# inputs `zeroskip bench` uses by default: the log-mel features (1x32x32, as
# `zeroskip dataset build` computes them) of 256 clips of the Speech Commands
# v0.02 test set (CC BY 4.0, ../shared/data/speech_commands_v0.02_test, see
# bench/data/LICENSE.md): every digit (105, labelled zero..nine), 51 other
# words and 5 of each of the 10 command words (labelled unknown) and 50
# background-noise snippets (silence), the first ones of each folder in name
# order.
#
#   make build/zeroskip && sh bench/make_bench_data.sh [SRC_DIR]
set -e
cd "$(dirname "$0")/.."
SRC=${1:-../shared/data/speech_commands_v0.02_test}
ZS=${BUILD:-build}/zeroskip
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
[ -d "$SRC/_unknown_" ] || { echo "make_bench_data: $SRC: no Speech Commands test set" >&2; exit 2; }
SRC=$(cd "$SRC" && pwd)
{
    echo "path,label,split"
    for f in $(ls "$SRC/_unknown_" | sort); do
        w=${f%%_*}
        case $w in zero|one|two|three|four|five|six|seven|eight|nine) echo "$SRC/_unknown_/$f,$w,test";; esac
    done
    n=0
    for f in $(ls "$SRC/_unknown_" | sort); do
        w=${f%%_*}
        case $w in zero|one|two|three|four|five|six|seven|eight|nine) ;; *) [ $n -lt 51 ] && echo "$SRC/_unknown_/$f,unknown,test"; n=$((n + 1));; esac
    done
    for d in yes no up down left right on off stop go; do
        ls "$SRC/$d" | sort | head -n 5 | sed "s|^|$SRC/$d/|; s|\$|,unknown,test|"
    done
    ls "$SRC/_silence_" | sort | head -n 50 | sed "s|^|$SRC/_silence_/|; s|\$|,silence,test|"
} >"$T/manifest.csv"
"$ZS" dataset build --manifest "$T/manifest.csv" --out "$T/out" --splits test --quiet
cp "$T/out/test.safetensors" bench/data/gsc_test_256.safetensors
"$ZS" dataset stats bench/data/gsc_test_256.safetensors
