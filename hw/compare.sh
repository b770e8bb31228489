#!/bin/sh
# hw/compare.sh DIR [LANES] — every audio file under DIR through
#   zeroskip listen (fp32), zeroskip listen --int8 (library integer path) and
#   build/zeroskip-hw --check (the simulated core; fails on any logit that
#   differs from the library's integer path)
# then prints: clips, fp32-vs-int8 top-1 agreement, hw-vs-int8 label
# agreement, and the mean/min/max cycles per clip. Files go in sorted order;
# outputs are kept in $OUT (default build/hw/compare-<LANES>).
set -eu
DIR=$1
LANES=${2:-16}
BUILD=${BUILD:-build}
M=${HW_MODEL:-models/gsc-sparse.safetensors}
C=${HW_CALIB:-models/calib-gsc.safetensors}
OUT=${OUT:-$BUILD/hw/compare-$LANES}
mkdir -p "$OUT"
find -L "$DIR" -type f \( -name '*.wav' -o -name '*.flac' \) | sort >"$OUT/files"
n=$(wc -l <"$OUT/files")
# xargs batches keep command lines short; every tool prints one line per file
xargs "$BUILD/zeroskip" listen --model "$M" <"$OUT/files" >"$OUT/fp32.tsv"
xargs "$BUILD/zeroskip" listen --model "$M" --int8 --calib "$C" <"$OUT/files" >"$OUT/int8.tsv"
rc=0
xargs nice -n 10 "$BUILD/zeroskip-hw" --model "$M" --calib "$C" --lanes "$LANES" --check \
    <"$OUT/files" >"$OUT/hw.tsv" 2>"$OUT/hw.err" || rc=$?
echo "clips: $n"
echo "fp32 vs int8 top-1 agreement: $(paste "$OUT/fp32.tsv" "$OUT/int8.tsv" | awk -F'\t' '$1 == $4 && $2 == $5 {a++} END {print a + 0}') / $n"
echo "hw vs int8 label agreement:   $(paste "$OUT/hw.tsv" "$OUT/int8.tsv" | awk -F'\t' '$1 == $4 && $2 == $5 {a++} END {print a + 0}') / $n"
echo "hw logits == library int8 logits (--check): $([ $rc -eq 0 ] && [ ! -s "$OUT/hw.err" ] && echo "all $(wc -l <"$OUT/hw.tsv") clips" || echo "FAILED (see $OUT/hw.err)")"
awk -F'\t' '{s += $3; if (min == "" || $3 < min) min = $3; if ($3 > max) max = $3} END {printf "cycles per clip (%d lanes): mean %.0f, min %d, max %d\n", '"$LANES"', s / NR, min, max}' "$OUT/hw.tsv"
[ $rc -eq 0 ]
