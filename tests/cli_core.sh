#!/bin/sh
# CLI checks for info / train / eval: exit codes, messages, and a real
# Fashion-MNIST run (1 epoch of the MLP preset must exceed 80 % test accuracy).
. "$(dirname "$0")/lib_cli.sh"

expect_rc 0 "" "$ZS" --help
expect_rc 2 "" "$ZS"
expect_rc 2 "" "$ZS" frobnicate
for c in info train eval; do expect_rc 0 "" "$ZS" $c --help; grep -q usage "$T/out" && ok || bad "$c --help shows usage"; done
expect_rc 2 "" "$ZS" train --preset gsc-sparse
expect_rc 2 "" "$ZS" train --preset gsc-sparse --data x --epochs zero
grep -q -- "--epochs" "$T/err" && ok || bad "bad --epochs names the option"
expect_rc 2 "" "$ZS" train --preset gsc-sparse --data x --lr -1
expect_rc 2 "" "$ZS" eval --model m
expect_rc 2 "" "$ZS" eval --model m --data d --dense --int8-weights
expect_rc 1 "" "$ZS" info --preset nosuch
grep -q nosuch "$T/err" && ok || bad "unknown preset named"
expect_rc 3 "" "$ZS" info "$T/missing.safetensors"
grep -q "missing.safetensors" "$T/err" && ok || bad "missing model file named"
printf 'not a model' > "$T/junk.safetensors"
expect_rc 1 "" "$ZS" info "$T/junk.safetensors"

# info on gsc-sparse: the non-zero counts and k of the reference network
expect_rc 0 "" "$ZS" info --preset gsc-sparse
grep -E '^0 +cnn1 .* 1664 +1600 +768 ' "$T/out" >/dev/null && ok || bad "conv1 64x12 non-zeros"
grep -E '^4 +cnn2 .* 20480 ' "$T/out" >/dev/null && ok || bad "conv2 64x320 non-zeros"
grep -E '^9 +linear .* 160000 ' "$T/out" >/dev/null && ok || bad "linear 1000x160 non-zeros"
grep -q 'k=4767/' "$T/out" && grep -q 'k=800/' "$T/out" && grep -q 'k=100/' "$T/out" && ok || bad "k = 4767, 800, 100"

FM=/usr/share/datasets/fashion-mnist
if [ -f $FM/train-images-idx3-ubyte.gz ]; then
    expect_rc 0 "" "$ZS" train --preset mnist-mlp --data $FM/train-images-idx3-ubyte.gz --val $FM/t10k-images-idx3-ubyte.gz \
        --epochs 1 --batch 32 --lr 0.05 --momentum 0.9 --weight-decay 0 --out "$T/fm.safetensors" --csv "$T/fm.csv"
    grep -q 'epoch 1/1' "$T/err" && ok || bad "progress and epoch line on stderr"
    acc=$(sed -n 's/^validation accuracy: \([0-9.]*\)%.*/\1/p' "$T/out")
    echo "fashion-mnist mlp, 1 epoch: test accuracy $acc%"
    awk -v a="$acc" 'BEGIN { exit !(a > 80) }' && ok || bad "1 epoch Fashion-MNIST accuracy $acc% <= 80%"
    [ "$(wc -l < "$T/fm.csv")" -eq 2 ] && ok || bad "CSV has header + 1 epoch"
    expect_rc 0 "" "$ZS" eval --model "$T/fm.safetensors" --data $FM/t10k-images-idx3-ubyte.gz
    grep -q '^accuracy: ' "$T/out" && grep -q 'confusion' "$T/out" && ok || bad "eval prints accuracy and confusion"
    expect_rc 0 "" "$ZS" eval --model "$T/fm.safetensors" --data $FM/t10k-images-idx3-ubyte.gz --json
    grep -q '"accuracy":0\.[89]' "$T/out" && ok || bad "eval --json accuracy"
    expect_rc 0 "" "$ZS" info "$T/fm.safetensors"
    expect_rc 0 "" "$ZS" eval --model "$T/fm.safetensors" --data $FM/t10k-images-idx3-ubyte.gz --predictions "$T/p.csv"
    [ "$(wc -l < "$T/p.csv")" -eq 10001 ] && head -2 "$T/p.csv" | tail -1 | grep -Eq '^0,9,[0-9],0\.[0-9]+$' && ok || bad "--predictions: one line per sample"
    expect_rc 3 "" "$ZS" eval --model "$T/fm.safetensors" --data $FM/t10k-images-idx3-ubyte.gz --predictions /nonexistent/p.csv
    # a failed training run leaves an existing model untouched
    cp "$T/fm.safetensors" "$T/keep.safetensors"
    expect_rc 1 "" "$ZS" train --preset gsc-sparse --data $FM/t10k-images-idx3-ubyte.gz --out "$T/keep.safetensors" --quiet
    cmp -s "$T/fm.safetensors" "$T/keep.safetensors" && ok || bad "failed run must not touch --out"
    # continue training from a model
    expect_rc 0 "" "$ZS" train --init "$T/fm.safetensors" --data $FM/t10k-images-idx3-ubyte.gz --epochs 1 --quiet --out "$T/fm2.safetensors"
else
    skip "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)"
fi
finish
