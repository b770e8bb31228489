#!/bin/sh
# cli_hw.sh — the FPGA core (hw/zs_core.v, Verilator) against the library's
# integer path: build/zeroskip-hw --check on the real clips of
# tests/data/audio must give int32 logits equal to zs_qnet_infer bit for
# bit, the same labels as `zeroskip listen --int8`, the same logits at 4 and
# 16 lanes with fewer cycles at 16; the model compiler writes its images;
# bad arguments exit 2. Builds build/zeroskip-hw once (make hw) when it is
# missing or older than its sources. Skipped, with the reason, when
# verilator is not installed or the build is not the plain one (sanitizer
# builds do not rebuild the simulator).
# Prints `RESULT <passed> <failed>` last.
. "$(dirname "$0")/lib_cli.sh"
H=$BUILD/zeroskip-hw
M=models/gsc-sparse.safetensors
C=models/calib-gsc.safetensors

# the model compiler needs only the CLI
if "$ZS" hw-compile --model "$M" --calib "$C" --lanes 4 --out "$T/img" >"$T/out" 2>&1 &&
   [ -s "$T/img/wrow.hex" ] && [ -s "$T/img/ptr.hex" ] && [ -s "$T/img/chan3.hex" ] && grep -q "ZS_LANES = 4;" "$T/img/params.vh"; then ok
else bad "hw-compile --out"; cat "$T/out"; fi
"$ZS" hw-compile --model "$M" --lanes 4 --params >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "hw-compile without --calib: exit 2"
"$ZS" hw-compile --model "$M" --calib "$C" --lanes 3 --params >"$T/out" 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q "power of two" "$T/out"; then ok; else bad "3 lanes: exit $rc"; cat "$T/out"; fi

if ! command -v verilator >/dev/null 2>&1; then
    skip "verilator not installed: the cycle-accurate core is not tested (apt-get install verilator)"
    finish
fi
if [ "$BUILD" != build ]; then
    skip "$BUILD is not the plain build: the simulator is built and tested in build/ only"
    finish
fi
stale=0
[ -x "$H" ] || stale=1
for s in hw/zs_core.v hw/sim/zeroskip_hw.cpp hw/build.sh "$BUILD/libzeroskip.a"; do
    [ -x "$H" ] && [ "$s" -nt "$H" ] && stale=1
done
if [ $stale -eq 1 ]; then
    echo "building $H (make hw, once)"
    make -s hw BUILD="$BUILD" HW_LANES="4 16" HW_DENSE_LANES="" >"$T/build.log" 2>&1 || { bad "make hw"; tail -20 "$T/build.log"; }
fi
need "$H"

CLIPS="tests/data/audio/0_george_0.wav tests/data/audio/7_jackson_32.wav tests/data/audio/no_1000ms.wav tests/data/audio/noise_1000ms.wav tests/data/audio/silence_1000ms.wav tests/data/audio/yes_1000ms.wav"
if "$H" --model "$M" --calib "$C" --lanes 4 --check --logits $CLIPS >"$T/h4" 2>"$T/e4"; then ok
else bad "zeroskip-hw --check (4 lanes): logits differ from the library"; cat "$T/e4"; fi
[ "$(wc -l <"$T/h4")" -eq 6 ] && ok || bad "6 lines from zeroskip-hw"
if "$H" --model "$M" --calib "$C" --lanes 16 --check --logits $CLIPS >"$T/h16" 2>"$T/e16"; then ok
else bad "zeroskip-hw --check (16 lanes)"; cat "$T/e16"; fi
cut -f1,2,4 "$T/h4" >"$T/l4"; cut -f1,2,4 "$T/h16" >"$T/l16"
cmp -s "$T/l4" "$T/l16" && ok || bad "4 and 16 lanes: different labels/logits"
if paste "$T/h4" "$T/h16" | awk -F'\t' '{ if ($7 >= $3) exit 1 }'; then ok; else bad "16 lanes not faster than 4"; fi
"$ZS" listen --model "$M" --int8 --calib "$C" $CLIPS >"$T/li" 2>&1
cut -f1,2 "$T/li" >"$T/li2"; cut -f1,2 "$T/h4" >"$T/h42"
cmp -s "$T/li2" "$T/h42" && ok || { bad "labels differ from listen --int8"; paste "$T/li2" "$T/h42"; }
# usage errors
"$H" --model "$M" $CLIPS >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "no --calib: exit 2"
"$H" --model "$M" --calib "$C" --lanes 2 $CLIPS >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "unbuilt lane count: exit 2"
"$H" --model "$M" --calib "$C" --lanes 4 /nonexistent.wav >/dev/null 2>&1; [ $? -ne 0 ] && ok || bad "missing file: non-zero exit"
finish
