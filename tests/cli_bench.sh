#!/bin/sh
# CLI checks for `zeroskip bench`: exit codes, the table's rows and columns,
# the JSON document, exact MAC counts that do not depend on timing, and the
# plot. No peers and no timing assertions (speed is a benchmark, not a test).
ZS=${BUILD:-build}/zeroskip
PY=${PYTHON:-/usr/bin/python3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); }
no() { fail=$((fail + 1)); echo "FAIL: $*"; }
expect_rc() { want=$1; shift; "$@" >"$T/out" 2>"$T/err"; rc=$?; if [ $rc -eq "$want" ]; then ok; else no "'$*' exited $rc, want $want: $(head -c 300 "$T/err")"; fi; }
have_py() { "$PY" -c 'import json' 2>/dev/null; }

# --help and bad arguments
expect_rc 0 "$ZS" bench --help
grep -q '^usage: zeroskip bench' "$T/out" && ok || no "bench --help shows usage"
for bad in "--batch 0" "--batch abc" "--batch 1,,2" "--batch 1," "--networks 0" "--networks 300" \
           "--threads x" "--seconds -1" "--seconds 0" "--reps 0" "--warmup -2" "--modes fast" \
           "--seed -3" "--frobnicate" "--quick extra"; do
    # shellcheck disable=SC2086
    expect_rc 2 "$ZS" bench $bad
    grep -q 'usage: zeroskip bench' "$T/err" && ok || no "bench $bad prints usage"
done
expect_rc 2 "$ZS" bench --batch
grep -q -- '--batch' "$T/err" && ok || no "missing value names --batch"
expect_rc 2 "$ZS" bench --batch 2,x
grep -q -- "--batch" "$T/err" && ok || no "bad --batch names the option"
expect_rc 3 "$ZS" bench --model "$T/missing.safetensors" --quick
grep -q 'missing.safetensors' "$T/err" && ok || no "missing model file named"
printf 'not a model' > "$T/junk.safetensors"
expect_rc 1 "$ZS" bench --model "$T/junk.safetensors" --quick

# --quick on the gsc-sparse preset: rows sparse/dense x batch {1,16} x networks {1,2}
expect_rc 0 "$ZS" bench --quick --model gsc-sparse
head -n 1 "$T/out" | grep -q 'dense rows: gsc-dense' && ok || no "dense twin of a gsc preset is gsc-dense"
hdr=$(grep '^engine ' "$T/out")
for col in mode thr batch nets words/s '(min..max)' per-net us/word MACs/word GFLOP/s dense-eq bytes/net; do
    case "$hdr" in *"$col"*) ok;; *) no "table header lacks '$col': $hdr";; esac
done
[ "$(grep -cE '^zeroskip +sparse ' "$T/out")" -eq 4 ] && ok || no "4 sparse rows"
[ "$(grep -cE '^zeroskip +dense ' "$T/out")" -eq 4 ] && ok || no "4 dense rows"
for b in 1 16; do for n in 1 2; do for m in sparse dense; do
    grep -qE "^zeroskip +$m +1 +$b +$n +[0-9]+ +\([0-9]+\.\.[0-9]+\)" "$T/out" && ok || no "row $m t1 b$b n$n"
done; done; done
# conv1 sees a dense input: its useful MACs are exactly 64 filters x 12 taps x 28 x 28
grep -qE '^sparse MACs/word .* cnn1 602\.1k \(100% inputs non-zero\)' "$T/out" && ok || no "sparse cnn1 MACs = 602,112"
grep -qE '^dense +MACs/word 13\.11M of 13\.11M' "$T/out" && ok || no "dense MACs = 13.1 M"
grep -qE 'model bytes dense / sparse' "$T/out" && ok || no "bytes ratio printed"
grep -q 'peer' "$T/out" && no "no peers without --peers" || ok

# --json: one valid document with the rows and exact costs
expect_rc 0 "$ZS" bench --quick --json --model gsc-sparse --networks 1,2 --batch 1 --modes sparse
head -c 1 "$T/out" | grep -q '{' && ok || no "--json starts with {"
if have_py; then
    "$PY" - "$T/out" <<'EOF' && ok || no "--json document"
import json, sys
d = json.load(open(sys.argv[1]))
rows = d["rows"]
assert len(rows) == 2, len(rows)
for r in rows:
    assert r["engine"] == "zeroskip" and r["mode"] == "sparse" and r["batch"] == 1, r
    for k in ("words_per_s", "words_per_s_min", "words_per_s_max", "words_per_s_per_network", "us_per_word",
              "macs_per_word", "dense_macs_per_word", "gflops_useful", "gflops_dense_equivalent",
              "bytes_per_network", "threads", "networks", "reps"):
        assert k in r, k
    assert r["words_per_s_min"] <= r["words_per_s"] <= r["words_per_s_max"], r
    assert r["dense_macs_per_word"] == 13106400, r["dense_macs_per_word"]
    assert 0 < r["macs_per_word"] < r["dense_macs_per_word"], r
assert sorted(r["networks"] for r in rows) == [1, 2]
layers = d["cost_sparse"]["layers"]
assert [l["name"] for l in layers] == ["cnn1", "cnn2", "linear", "output"], layers
assert layers[0]["macs"] == 64 * 12 * 28 * 28, layers[0]
assert layers[0]["input_nonzero_fraction"] == 1.0
# kWTA at inference keeps round(1.5 * 100) = 150 of 1000 units -> 150 x 12 output MACs
assert abs(layers[3]["macs"] - 150 * 12) < 1e-6, layers[3]
assert d["peers_unavailable"] == []
print("json ok")
EOF
else
    echo "SKIP: $PY has no json module: --json checked by grep only"
    grep -q '"rows"' "$T/out" && grep -q '"words_per_s"' "$T/out" && ok || no "--json has rows"
fi

# --json-out: the table on stdout and the JSON document in a file
expect_rc 0 "$ZS" bench --quick --modes sparse --networks 1 --batch 1 --json-out "$T/b.json"
grep -qE '^zeroskip +sparse +1 +1 +1 ' "$T/out" && ok || no "--json-out keeps the table"
if have_py; then
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["rows"]) == 1 and "ratios" in d' "$T/b.json" \
        && ok || no "--json-out file is the JSON document"
else
    head -c 1 "$T/b.json" | grep -q '{' && ok || no "--json-out file starts with {"
fi
expect_rc 3 "$ZS" bench --quick --modes sparse --networks 1 --batch 1 --json-out "$T/no/such/dir/b.json"

# a model run dense on its own (no preset twin): the MLP, explicit options win over --quick
expect_rc 0 "$ZS" bench --quick --model mnist-sparse-mlp --batch 4 --networks 1 --threads 2
[ "$(grep -cE '^zeroskip +(sparse|dense) +2 +4 +1 ' "$T/out")" -eq 2 ] && ok || no "mnist rows t2 b4 n1"
head -n 1 "$T/out" | grep -q 'dense rows: mnist-sparse-mlp on the dense path' && ok || no "masked-dense rows named"

# --data: features from a data set file (a hand-made safetensors file of zeros)
mk_ds() { # FILE H: 2 samples of 1xHxH float32 zeros, labels 0
    fb=$((2 * $2 * $2 * 4))
    hdr="{\"features\":{\"dtype\":\"F32\",\"shape\":[2,1,$2,$2],\"data_offsets\":[0,$fb]},\"labels\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[$fb,$((fb + 8))]}}"
    while [ $((${#hdr} % 8)) -ne 0 ]; do hdr="$hdr "; done
    len=${#hdr}
    printf "$(printf '\\%03o\\%03o' $((len % 256)) $((len / 256)))\\000\\000\\000\\000\\000\\000" >"$1"
    printf '%s' "$hdr" >>"$1"
    head -c $((fb + 8)) /dev/zero >>"$1"
}
mk_ds "$T/d32.safetensors" 32
mk_ds "$T/d28.safetensors" 28
expect_rc 0 "$ZS" bench --quick --data "$T/d32.safetensors" --modes sparse --networks 1 --batch 4
grep -q "inputs: 2 samples from $T/d32.safetensors" "$T/out" && ok || no "--data inputs named"
expect_rc 1 "$ZS" bench --quick --data "$T/d28.safetensors"
grep -q 'samples are 1x28x28, the model wants 1x32x32' "$T/err" && ok || no "--data shape mismatch explained"
expect_rc 3 "$ZS" bench --quick --data "$T/none.safetensors"

# --plot writes a PNG when gnuplot is there
if command -v gnuplot >/dev/null 2>&1; then
    expect_rc 0 "$ZS" bench --quick --modes sparse --batch 1 --networks 1 --plot "$T/b.png"
    [ "$(head -c 4 "$T/b.png" | od -An -c | tr -d ' ')" = "211PNG" ] && ok || no "--plot writes a PNG"
else
    echo "SKIP: gnuplot not installed: --plot not checked"
fi

echo "RESULT $pass $fail"
[ "$fail" -eq 0 ]
