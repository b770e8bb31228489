#!/bin/sh
# CLI checks for `zeroskip bench`: exit codes, the table's rows and columns,
# the rounds and their ratios, the JSON document, exact MAC counts that do
# not depend on timing, the model sizes, --profile, the peers' protocol
# (skipped with a reason where node/torch are missing) and the plot. No
# timing assertions (speed is a benchmark, not a test); every run is --quick.
. "$(dirname "$0")/lib_cli.sh"
have_py() { "$PY" -c 'import json' 2>/dev/null; }

# --help and bad arguments
expect_rc 0 "" "$ZS" bench --help
grep -q '^usage: zeroskip bench' "$T/out" && ok || bad "bench --help shows usage"
for args in "--batch 0" "--batch abc" "--batch 1,,2" "--batch 1," "--networks 0" "--networks 300" \
           "--threads x" "--seconds -1" "--seconds 0" "--rounds 0" "--rounds 200" "--warmup -2" "--modes fast" \
           "--seed -3" "--frobnicate" "--quick extra" "--random --data x.safetensors"; do
    # shellcheck disable=SC2086
    expect_rc 2 "" "$ZS" bench $args
    grep -q 'usage: zeroskip bench' "$T/err" && ok || bad "bench $args prints usage"
done
expect_rc 2 "" "$ZS" bench --batch
grep -q -- '--batch' "$T/err" && ok || bad "missing value names --batch"
expect_rc 2 "" "$ZS" bench --batch 2,x
grep -q -- "--batch" "$T/err" && ok || bad "bad --batch names the option"
expect_rc 3 "" "$ZS" bench --model "$T/missing.safetensors" --quick
grep -q 'missing.safetensors' "$T/err" && ok || bad "missing model file named"
printf 'not a model' > "$T/junk.safetensors"
expect_rc 1 "" "$ZS" bench --model "$T/junk.safetensors" --quick

# --quick on the gsc-sparse preset: rows sparse/dense x batch {1,16} x networks {1,2}
expect_rc 0 "" "$ZS" bench --quick --model gsc-sparse --random
head -n 1 "$T/out" | grep -q 'dense rows: gsc-dense' && ok || bad "dense twin of a gsc preset is gsc-dense"
grep -q '^inputs: .* standard-normal samples .*--random.*; 2 rounds of 0.05 s per row' "$T/out" && ok || bad "inputs and rounds named"
hdr=$(grep '^engine ' "$T/out")
for col in mode thr batch nets words/s '(min..max)' per-net us/word cpu-us/w cpu/wall MACs/word GFLOP/s dense-eq; do
    case "$hdr" in *"$col"*) ok;; *) bad "table header lacks '$col': $hdr";; esac
done
[ "$(grep -cE '^zeroskip +sparse ' "$T/out")" -eq 4 ] && ok || bad "4 sparse rows"
[ "$(grep -cE '^zeroskip +dense ' "$T/out")" -eq 4 ] && ok || bad "4 dense rows"
for b in 1 16; do for n in 1 2; do for m in sparse dense; do
    grep -qE "^zeroskip +$m +1 +$b +$n +[0-9]+ +\([0-9]+\.\.[0-9]+\) +[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ " "$T/out" \
        && ok || bad "row $m t1 b$b n$n"
done; done; done
# conv1 sees a dense input: its useful MACs are exactly 64 filters x 12 taps x 28 x 28
grep -qE '^sparse MACs/word .* cnn1 602\.1k \(100% inputs non-zero\)' "$T/out" && ok || bad "sparse cnn1 MACs = 602,112"
grep -qE '^dense +MACs/word 13\.11M of 13\.11M' "$T/out" && ok || bad "dense MACs = 13.1 M"
# every ratio: a median and one value per round
for tb in "t1 b1" "t1 b16"; do
    grep -qE "^  $tb: sparse / zeroskip dense +median +[0-9.]+ +rounds: [0-9.]+ [0-9.]+\$" "$T/out" \
        && ok || bad "$tb ratio with 2 rounds"
done
grep -qE '^  t1 b1: sparse 2 networks / 1 \(aggregate\) +median' "$T/out" && ok || bad "networks ratio"
grep -qE '^  sparse +gsc-sparse +[0-9]+ +[0-9]+ +[0-9]+ +[0-9]+ +[1-9][0-9]*$' "$T/out" && ok || bad "sparse size row (file, model, plan, total, scratch)"
grep -qE '^  dense +gsc-dense +[0-9]+ +[0-9]+ +0 +[0-9]+ +0$' "$T/out" && ok || bad "dense size row: no plan, no scratch"
grep -qE '^load average \(1 min\): [0-9.]+ at start, [0-9.]+ at end' "$T/out" && ok || bad "load average printed"
grep -q 'peer' "$T/out" && bad "no peers without --peers" || ok
grep 'target' "$T/out" | grep -qv 'docs/BENCHMARKS.md' && bad "no targets in the output" || ok
grep -qE 'target >=|35714' "$ZS" && bad "target numbers compiled into the binary" || ok

# real features by default; a model they do not fit asks for --random
expect_rc 0 "" "$ZS" bench --quick --modes sparse --networks 1 --batch 1
grep -q '^inputs: 256 samples from bench/data/gsc_test_256.safetensors (real log-mel' "$T/out" \
    && ok || bad "default inputs are the real features"
grep -qE "^  sparse +models/gsc-sparse.safetensors +$(wc -c <models/gsc-sparse.safetensors) " "$T/out" \
    && ok || bad "default model: the shipped file, its bytes on disk"
# --int8-weights: said in the header, and the plan measured smaller (conv2 in int8)
expect_rc 0 "" "$ZS" bench --quick --modes sparse --networks 1 --batch 1 --int8-weights
grep -q '^zeroskip bench .*sparse-input convs in int8 (--int8-weights): not exact' "$T/out" && ok || bad "--int8-weights in the header"
awk '/^  sparse +models\/gsc-sparse/ { found = 1; ok = $5 > 0 && $5 < 200000 } END { exit !(found && ok) }' "$T/out" \
    && ok || bad "--int8-weights: the plan below 200,000 bytes"
expect_rc 1 "" "$ZS" bench --quick --model mnist-sparse-mlp --networks 1 --batch 1
grep -q 'the model wants 1x28x28 (give --data F or --random)' "$T/err" && ok || bad "shape mismatch of the default inputs explained"

# --json: one valid document with the rows, the rounds and exact costs
expect_rc 0 "" "$ZS" bench --quick --json --random --model gsc-sparse --networks 1,2 --batch 1 --rounds 3
head -c 1 "$T/out" | grep -q '{' && ok || bad "--json starts with {"
if have_py; then
    "$PY" - "$T/out" <<'EOF' && ok || bad "--json document"
import json, sys
d = json.load(open(sys.argv[1]))
rows = d["rows"]
assert len(rows) == 4, len(rows)
assert d["rounds"] == 3
for r in rows:
    assert r["engine"] == "zeroskip" and r["mode"] in ("sparse", "dense") and r["batch"] == 1, r
    for k in ("words_per_s", "words_per_s_min", "words_per_s_max", "words_per_s_per_network", "us_per_word",
              "cpu_us_per_word", "cpu_per_wall", "macs_per_word", "dense_macs_per_word", "gflops_useful",
              "gflops_dense_equivalent", "threads", "networks", "rounds", "words_per_s_rounds",
              "cpu_us_per_word_rounds"):
        assert k in r, k
    assert len(r["words_per_s_rounds"]) == 3 and len(r["cpu_us_per_word_rounds"]) == 3, r
    assert r["words_per_s_min"] <= r["words_per_s"] <= r["words_per_s_max"], r
    assert sorted(r["words_per_s_rounds"])[1] == r["words_per_s"], r  # median of 3
    assert r["dense_macs_per_word"] == 13106400, r["dense_macs_per_word"]
    assert r["cpu_us_per_word"] > 0
    if r["mode"] == "sparse":
        assert 0 < r["macs_per_word"] < r["dense_macs_per_word"], r
assert sorted(r["networks"] for r in rows) == [1, 1, 2, 2]
layers = d["cost_sparse"]["layers"]
assert [l["name"] for l in layers] == ["cnn1", "cnn2", "linear", "output"], layers
assert layers[0]["macs"] == 64 * 12 * 28 * 28, layers[0]
assert layers[0]["input_nonzero_fraction"] == 1.0
# kWTA at inference keeps round(1.5 * 100) = 150 of 1000 units -> 150 x 12 output MACs
assert abs(layers[3]["macs"] - 150 * 12) < 1e-6, layers[3]
q = d["ratios"]["sparse_vs_zs_dense_t1_b1"]
assert len(q["rounds"]) == 3 and all(v > 0 for v in q["rounds"]), q
assert q["median"] == sorted(q["rounds"])[1], q
s = d["size"]
assert s["sparse"]["plan_bytes_in_memory"] > 0 and s["dense"]["plan_bytes_in_memory"] == 0, s
assert s["sparse"]["model_bytes_in_memory"] > 0 and s["sparse"]["file_bytes"] > 0, s
assert s["sparse"]["scratch_bytes_per_thread"] > 0 and s["dense"]["scratch_bytes_per_thread"] == 0, s
assert d["peers_unavailable"] == []
assert "busy_warning" in d and "loadavg_start" in d
print("json ok")
EOF
else
    skip "$PY has no json module: --json checked by grep only"
    grep -q '"rows"' "$T/out" && grep -q '"words_per_s_rounds"' "$T/out" && ok || bad "--json has rows"
fi

# --json-out: the table on stdout and the JSON document in a file
expect_rc 0 "" "$ZS" bench --quick --random --modes sparse --networks 1 --batch 1 --json-out "$T/b.json"
grep -qE '^zeroskip +sparse +1 +1 +1 ' "$T/out" && ok || bad "--json-out keeps the table"
if have_py; then
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["rows"]) == 1 and "ratios" in d' "$T/b.json" \
        && ok || bad "--json-out file is the JSON document"
else
    head -c 1 "$T/b.json" | grep -q '{' && ok || bad "--json-out file starts with {"
fi
expect_rc 3 "" "$ZS" bench --quick --random --modes sparse --networks 1 --batch 1 --json-out "$T/no/such/dir/b.json"

# a model run dense on its own (no preset twin): the MLP, explicit options win over --quick
expect_rc 0 "" "$ZS" bench --quick --random --model mnist-sparse-mlp --batch 4 --networks 1 --threads 2
[ "$(grep -cE '^zeroskip +(sparse|dense) +2 +4 +1 ' "$T/out")" -eq 2 ] && ok || bad "mnist rows t2 b4 n1"
head -n 1 "$T/out" | grep -q 'dense rows: mnist-sparse-mlp on the dense path' && ok || bad "masked-dense rows named"

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
expect_rc 0 "" "$ZS" bench --quick --data "$T/d32.safetensors" --modes sparse --networks 1 --batch 4
grep -q "inputs: 2 samples from $T/d32.safetensors" "$T/out" && ok || bad "--data inputs named"
expect_rc 1 "" "$ZS" bench --quick --data "$T/d28.safetensors"
grep -q 'samples are 1x28x28, the model wants 1x32x32' "$T/err" && ok || bad "--data shape mismatch explained"
expect_rc 3 "" "$ZS" bench --quick --data "$T/none.safetensors"

# --profile: per-stage time, GMAC/s, the measured peak and the floors
expect_rc 0 "" "$ZS" bench --profile --quick --random --model gsc-sparse --json-out "$T/p.json"
grep -qE '^per-stage profile .*fp32 FMA peak [0-9.]+ GFLOP/s = [0-9.]+ GMAC/s, streaming pass [0-9.]+ GB/s' "$T/out" \
    && ok || bad "--profile names the peaks"
grep -qE '^stage +layer +kernel +us/word +% +MACs/word +GMAC/s +%peak +floor us +x floor' "$T/out" \
    && ok || bad "--profile header"
grep -qE '^conv_[a-z_]+ +cnn1 .* 602\.1k ' "$T/out" && ok || bad "--profile: conv1 with its MACs"
grep -qE '^conv_kwta_pool +cnn1 +conv_kwta_pool ' "$T/out" && ok || bad "--profile: conv1, k-WTA and pool as one fused stage"
grep -qE '^total +[0-9.]+ +100\.0 +[0-9.]+ +[0-9.]+$' "$T/out" && ok || bad "--profile total and floor"
grep -q '^zeroskip +sparse' "$T/out" && bad "--profile runs no rounds" || ok
if have_py; then
    "$PY" - "$T/p.json" <<'EOF' && ok || bad "--profile JSON"
import json, sys
p = json.load(open(sys.argv[1]))["profile"]
assert p["peak_gflops"] > 0 and p["stream_gbps"] > 0, p
st = p["stages"]
assert st and all(s["us_per_word"] >= 0 and s["floor_us"] > 0 for s in st), st
conv = [s for s in st if s["layer"] == "cnn1" and "conv" in s["stage"]]
assert conv and conv[0]["macs_per_word"] == 64 * 12 * 28 * 28, conv
assert abs(sum(s["floor_us"] for s in st) - p["floor_us_per_word"]) < 1e-6 * p["floor_us_per_word"]
EOF
fi
expect_rc 1 "" "$ZS" bench --profile --quick --random --model gsc-dense
grep -q 'forced dense\|plan' "$T/err" && ok || bad "--profile without a fast plan explains"

# peers: long-lived processes, alternated with zeroskip in every round
PEERS="--quick --peers --modes sparse --networks 1 --batch 1 --seconds 0.02"
# shellcheck disable=SC2086
expect_rc 0 "" env ZS_BENCH_DIR="$T/nowhere" "$ZS" bench $PEERS
grep -q '^peer onnxruntime unavailable: ' "$T/out" && ok || bad "peer without bench/ scripts: unavailable, reason given"
# shellcheck disable=SC2086
expect_rc 0 "" env PYTHON="$T/no-python" "$ZS" bench $PEERS --json-out "$T/np.json"
grep -q "^peer pytorch unavailable: cannot run $T/no-python" "$T/out" && ok || bad "missing python named"
grep -qE '^zeroskip +sparse +1 +1 +1 ' "$T/out" && ok || bad "zeroskip rows without peers"
# a peer that never answers is dropped after ZS_BENCH_PEER_TIMEOUT, and killed
cat >"$T/slowpy" <<'EOF'
#!/bin/sh
case "$1" in *export_onnx.py) echo "no export here" >&2; exit 1;; esac
exec sleep 60
EOF
chmod +x "$T/slowpy"
t0=$(date +%s)
# shellcheck disable=SC2086
expect_rc 0 "" env PYTHON="$T/slowpy" ZS_BENCH_PEER_TIMEOUT=1 "$ZS" bench $PEERS
grep -q '^peer pytorch unavailable: no ready line within 1 s' "$T/out" && ok || bad "silent peer dropped"
grep -q '^peer onnxruntime unavailable: export to ONNX failed: no export here' "$T/out" && ok || bad "export failure named"
[ $(($(date +%s) - t0)) -lt 40 ] && ok || bad "silent peer killed, not waited for"
if command -v node >/dev/null 2>&1 && [ -d bench/node_modules/onnxruntime-node ] && \
   /usr/bin/python3 -c 'import torch, onnx' 2>/dev/null; then
    # shellcheck disable=SC2086
    expect_rc 0 "" "$ZS" bench $PEERS --json-out "$T/peers.json"
    for e in onnxruntime onnxruntime-int8 pytorch; do
        grep -qE "^$e +dense +1 +1 +1 +[0-9]+ " "$T/out" && ok || bad "peer row $e"
    done
    grep -qE '^peer onnxruntime-int8 .*top-1 agreement with the fp32 model on the 256 bench inputs: [0-9.]+%' "$T/out" \
        && ok || bad "int8 agreement printed"
    grep -qE '^  t1 b1: sparse / best dense peer +median +[0-9.]+ +rounds: [0-9.]+ [0-9.]+ +\(int8 faster in [0-2] of 2 rounds\)' \
        "$T/out" && ok || bad "per-round ratio against the best dense peer"
    grep -qE '^  t1 b1: onnxruntime int8 / fp32 +median' "$T/out" && ok || bad "int8 / fp32 ratio"
    grep -qE '^  t1 b1: same, by CPU time per word +median +[0-9.]+ +rounds: [0-9.]+ [0-9.]+$' "$T/out" \
        && ok || bad "CPU-time ratio against the best dense peer"
    if have_py; then
        "$PY" - "$T/peers.json" <<'EOF' && ok || bad "peers JSON"
import json, sys
d = json.load(open(sys.argv[1]))
eng = sorted(r["engine"] for r in d["rows"])
assert eng == ["onnxruntime", "onnxruntime-int8", "pytorch", "zeroskip"], eng
for r in d["rows"]:
    assert len(r["words_per_s_rounds"]) == 2 and r["cpu_us_per_word"] > 0, r
ag = d["peers"]["onnxruntime-int8"]["agree"]
assert ag["n"] == 256 and 0.9 <= ag["top1"] <= 1, ag
assert d["peers"]["export"]["int8_quantized_nodes"], d["peers"]["export"]
assert len(d["ratios"]["sparse_vs_best_dense_peer"]["rounds"]) == 2
EOF
    fi
else
    skip "peers not checked: node, bench/node_modules/onnxruntime-node or python3 torch+onnx missing"
fi

# --learn: learn steps/s of the sparse model and its dense twin, interleaved
# rounds, real features by default; --data and --random exclude each other
expect_rc 0 "" "$ZS" bench --learn --rounds 2 --seconds 0.05 --json
if have_py; then
    "$PY" - "$T/out" <<'EOF' && ok || bad "--learn JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["bench"] == "learn" and d["inputs"].endswith("gsc_test_256.safetensors"), d
assert len(d["round_ratios"]) == 2 and len(d["round_cpu_ratios"]) == 2, d
assert d["sparse_steps_per_s"] > 0 and d["dense_steps_per_s"] > 0 and d["sparse_cpu_us_per_step"] > 0, d
EOF
else
    grep -q '"round_ratios"' "$T/out" && ok || bad "--learn JSON has the rounds"
fi
expect_rc 0 "" "$ZS" bench --learn --rounds 1 --seconds 0.05 --random
grep -q 'inputs: pseudo-random' "$T/out" && grep -q 'sparse / dense (median of per-round ratios)' "$T/out" \
    && ok || bad "--learn --random table"
expect_rc 2 "" "$ZS" bench --learn --random --data bench/data/gsc_test_256.safetensors
expect_rc 2 "" "$ZS" bench --learn --rounds 0

# --plot writes a PNG when gnuplot is there
if command -v gnuplot >/dev/null 2>&1; then
    expect_rc 0 "" "$ZS" bench --quick --random --modes sparse --batch 1 --networks 1 --plot "$T/b.png"
    [ "$(head -c 4 "$T/b.png" | od -An -c | tr -d ' ')" = "211PNG" ] && ok || bad "--plot writes a PNG"
else
    skip "gnuplot not installed: --plot not checked"
fi

finish
