#!/bin/sh
# train_speed.sh — training throughput of zeroskip (sparse, dense) and PyTorch
# (dense) on the same data file and batch size, in one run; JSON lines out.
#   TRAIN_FILE [data/gsc/train.safetensors] BATCH [16] SAMPLES [3000] THREADS [1]
set -eu
cd "$(dirname "$0")/.."
DATA=${TRAIN_FILE:-data/gsc/train.safetensors}
BATCH=${BATCH:-16}
SAMPLES=${SAMPLES:-3000}
THREADS=${THREADS:-1}
N=$(build/zeroskip dataset stats "$DATA" | sed -n 's/.*[^0-9]\([0-9][0-9]*\) examples.*/\1/p' | head -1)
sub=$(mktemp -d)
trap 'rm -rf "$sub"' EXIT
for net in gsc-sparse gsc-dense; do
    OMP_NUM_THREADS=$THREADS build/zeroskip train --preset $net --data "$DATA" --epochs 1 --batch "$BATCH" \
        --max-samples "$SAMPLES" --quiet --csv "$sub/$net.csv" >/dev/null
    secs=$(tail -1 "$sub/$net.csv" | cut -d, -f7)
    awk -v s="$secs" -v n="$SAMPLES" -v N="$N" -v net=$net -v t=$THREADS \
        'BEGIN { printf "{\"trainer\":\"zeroskip\",\"arch\":\"%s\",\"threads\":%d,\"samples_per_s\":%.2f,\"epoch_s_for_file\":%.1f}\n", net, t, n/s, N/(n/s) }'
done
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    /usr/bin/python3 bench/torch_train_speed.py --arch gsc-dense --data "$DATA" --batch "$BATCH" \
        --samples "$SAMPLES" --threads "$THREADS" |
        sed 's/"peer": "pytorch"/"trainer": "pytorch"/'
fi
