#!/bin/sh
# cli_model_format.sh — the packed model format end to end, on the shipped
# models: they are stored packed (no dense weight or mask of a sparse layer)
# and gsc-sparse is >= 5x smaller on disk than gsc-dense; an old-form copy
# (dense weight + mask, written by scripts/st_io.py) gives the same `listen`
# output on real clips and `zeroskip convert` turns it back into the same
# tensors; `zeroskip info` prints the file's bytes; the PyTorch round trip
# (scripts/export_torch.py: zeroskip -> torch -> zeroskip -> torch) keeps
# every tensor and the listen output. Python parts need /usr/bin/python3 with
# numpy (torch for the round trip) and are skipped, loudly, without them.
# Prints `RESULT <passed> <failed>` last.
. "$(dirname "$0")/lib_cli.sh"

need "$ZS"
CLIPS="tests/data/audio/yes_1000ms.wav tests/data/audio/no_1000ms.wav tests/data/audio/silence_1000ms.wav
 tests/data/audio/noise_1000ms.wav tests/data/audio/0_george_0.wav tests/data/audio/7_jackson_32.wav"
[ -d demo/clips ] && CLIPS="$CLIPS $(ls demo/clips/*.wav 2>/dev/null)"
SP=models/gsc-sparse.safetensors
DN=models/gsc-dense.safetensors
if [ ! -f "$SP" ] || [ ! -f "$DN" ]; then bad "shipped models missing"; finish; fi

# ---- sizes and info --------------------------------------------------------
sp=$(wc -c <"$SP"); dn=$(wc -c <"$DN")
echo "    gsc-sparse $sp bytes, gsc-dense $dn bytes ($(awk "BEGIN{printf \"%.2f\", $dn/$sp}")x)"
check "gsc-sparse ($sp bytes) at least 5x smaller than gsc-dense ($dn bytes)" [ $((sp * 5)) -le "$dn" ]
if "$ZS" info "$SP" >"$T/info" 2>&1; then ok; else bad "info $SP"; fi
check "info prints the file's bytes" grep -q "^file: $sp bytes$" "$T/info"
check "info prints the bytes held in memory" grep -q "^in memory: model [0-9]* bytes.*inference plan [0-9]* bytes; per-sample scratch [0-9]* bytes" "$T/info"

if ! [ -x "$PY" ] || ! "$PY" -c 'import numpy' >/dev/null 2>&1; then
    skip "$PY with numpy not available: old-form and PyTorch checks skipped"; finish
fi

# ---- shipped sparse models: packed; old form equivalent --------------------
for m in gsc-sparse gsc-supersparse; do
    f=models/$m.safetensors
    [ -f "$f" ] || { bad "$f missing"; continue; }
    if "$PY" - "$f" "$T/$m.old.st" <<'EOF'; then ok; else bad "$m: packed in the file; old-form copy written"; fi
import json, sys
sys.path.insert(0, "scripts")
import st_io
t, meta = st_io.load(sys.argv[1])
arch = json.loads(meta["arch"])
sparse = [n for n, (_, sp) in st_io.weight_shapes(arch).items() if sp > 0]
assert sparse, "no sparse layer"
for n in sparse:
    assert n + ".weight_values" in t and n + ".weight_index" in t, n + " not packed"
    assert n + ".weight" not in t and n + ".mask" not in t, n + " has a dense weight or mask"
old = st_io.unpack_sparse(t, arch)
st_io.save(sys.argv[2], old, meta)
EOF
    "$ZS" listen --model "$f" $CLIPS >"$T/new.txt" 2>&1
    "$ZS" listen --model "$T/$m.old.st" $CLIPS >"$T/old.txt" 2>&1
    check "$m: listen output identical for the old and the packed form" cmp -s "$T/new.txt" "$T/old.txt"
    check "$m: listen printed every clip" [ "$(wc -l <"$T/new.txt")" -eq "$(echo $CLIPS | wc -w)" ]
    if "$ZS" convert "$T/$m.old.st" "$T/$m.conv.st"; then ok; else bad "$m: convert old form"; fi
    if "$PY" - "$f" "$T/$m.conv.st" <<'EOF'; then ok; else bad "$m: convert gives the shipped tensors"; fi
import sys
sys.path.insert(0, "scripts")
import st_io
a, _ = st_io.load(sys.argv[1])
b, _ = st_io.load(sys.argv[2])
assert list(a) == list(b), (list(a), list(b))
for k in a:
    assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and a[k].tobytes() == b[k].tobytes(), k
EOF
    check "$m: st_read.py --check accepts the packed file" "$PY" scripts/st_read.py --check "$f"
done

# ---- PyTorch round trip ----------------------------------------------------
if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
    skip "$PY has no torch: PyTorch round trip skipped"; finish
fi
if "$PY" - "$SP" "$T/rt.st" <<'EOF'; then ok; else bad "torch round trip: zeroskip -> torch -> zeroskip -> torch identical"; fi
import sys
sys.path.insert(0, "scripts")
import export_torch as ET
import st_io
m1, meta = ET.load_zeroskip(sys.argv[1])
import json
ET.save_zeroskip(m1, sys.argv[2], json.loads(meta["classes"]))
m2, _ = ET.load_zeroskip(sys.argv[2])
s1, s2 = m1.state_dict(), m2.state_dict()
assert list(s1) == list(s2)
for k in s1:
    assert s1[k].dtype == s2[k].dtype and bool((s1[k] == s2[k]).all()), k
a, _ = st_io.load(sys.argv[1])
b, _ = st_io.load(sys.argv[2])
assert sorted(a) == sorted(b), sorted(set(a) ^ set(b))
for k in a:
    assert a[k].shape == b[k].shape and a[k].tobytes() == b[k].tobytes(), k
EOF
"$ZS" listen --model "$SP" $CLIPS >"$T/a.txt" 2>&1
"$ZS" listen --model "$T/rt.st" $CLIPS >"$T/b.txt" 2>&1
check "torch-written file: listen output identical" cmp -s "$T/a.txt" "$T/b.txt"
finish
