#!/bin/sh
# hw/synth.sh — Yosys generic synthesis of hw/zs_core.v (what `make hw-synth`
# runs): per configuration, buffers sized for the model by the model
# compiler, coarse synthesis (memories kept as $mem cells, multipliers as
# $mul), then gate mapping to 6-input LUTs with ABC. Prints one line per
# configuration:
#   kind lanes lut6 ff mul mul_bits mem_bits_sync mem_bits_async
# (mul_bits: sum over multipliers of A-width x B-width; mem_bits_sync: memories
# with a registered read port = block RAM; mem_bits_async: asynchronous read
# = LUT RAM) and keeps each Yosys log in $BUILD/hw/synth-<kind>-<lanes>.log.
# Environment: BUILD, HW_MODEL, HW_CALIB, HW_DENSE_MODEL, SYNTH_LANES
# ("1 4 16 64"), SYNTH_DENSE_LANES ("16").
set -eu
BUILD=${BUILD:-build}
HW_MODEL=${HW_MODEL:-models/gsc-sparse.safetensors}
HW_CALIB=${HW_CALIB:-models/calib-gsc.safetensors}
HW_DENSE_MODEL=${HW_DENSE_MODEL:-models/gsc-dense.safetensors}
SYNTH_LANES=${SYNTH_LANES:-1 4 16 64}
SYNTH_DENSE_LANES=${SYNTH_DENSE_LANES:-16}
mkdir -p "$BUILD/hw"
echo "kind lanes lut6 ff mul mul_bits mem_bits_sync mem_bits_async"
one() { # KIND LANES MODEL FLAG
    kind=$1; l=$2; model=$3; flag=$4
    log=$BUILD/hw/synth-$kind-$l.log
    chp=$("$BUILD/zeroskip" hw-compile --model "$model" --calib "$HW_CALIB" --lanes "$l" $flag --params |
          sed 's/^\(.*\)=\(.*\)$/-set \1 \2/' | tr '\n' ' ')
    nice -n 10 yosys -q -l "$log" -p "read_verilog hw/zs_core.v; chparam $chp zs_core; \
        synth -top zs_core -noalumacc -run begin:fine; write_json $log.json; \
        chtype -map \$mul zs_mul_cell; opt -fast -full; techmap; opt -fast; abc -lut 6; opt_clean; \
        tee -o $log.fine stat" >/dev/null
    lut=$(awk '/\$lut/ {s += $2} END {print s + 0}' "$log.fine")
    ff=$(awk '/\$_DFF|\$_SDFF|\$_DFFE|\$_SDFFE|\$_SDFFCE|\$_ALDFF|\$_DLATCH/ {s += $2} END {print s + 0}' "$log.fine")
    echo "$kind $l $lut $ff $(/usr/bin/python3 hw/synth_stats.py "$log.json")"
    rm -f "$log.json"
}
for l in $SYNTH_LANES; do one sparse "$l" "$HW_MODEL" ""; done
for l in $SYNTH_DENSE_LANES; do one dense "$l" "$HW_DENSE_MODEL" --dense; done
