#!/bin/sh
# cli_enroll.sh — `zeroskip enroll` end to end with the shipped gsc-sparse
# model: "yes" enrolled from 5 variants of the micro_speech clip (negatives:
# "no" and noise; replay: a small data set of old-class clips labelled with
# the model's own answers) is recognised on a variant it did not learn
# from; the old clips keep their answers (the cap: none of the replayed
# calibration examples the model had right may become "yes"); the old
# classes' probabilities keep their ratios; usage, I/O and bad-input errors
# leave no output file. Prints `RESULT <passed> <failed>` last.
. "$(dirname "$0")/lib_cli.sh"
M=models/gsc-sparse.safetensors
D=tests/data/audio
label() { "$ZS" listen --model "$1" --json "$2" | "$PY" -c 'import json,sys; print(json.loads(sys.stdin.readline())["label"])'; }

need "$ZS" "$M"

# variants (shift, gain, a little noise) of the "yes" clip and of the old-class clips
"$PY" - "$D" "$T" <<'EOF' || bad "python3 could not write the test clips"
import sys, wave, numpy as np
src, out = sys.argv[1], sys.argv[2]
def load(name):
    w = wave.open(src + "/" + name); x = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float64); w.close()
    return x
def save(name, y):
    y = np.clip(y, -32768, 32767).astype(np.int16)
    o = wave.open(out + "/" + name, "wb"); o.setnchannels(1); o.setsampwidth(2); o.setframerate(16000)
    o.writeframes(y.tobytes()); o.close()
rng = np.random.default_rng(7)
def variants(name, tag, n):
    x = load(name)
    for i in range(n):
        s = int(rng.integers(-1200, 1200)); y = np.roll(x, s) * rng.uniform(0.5, 1.5)
        save("%s_%d.wav" % (tag, i), y + rng.normal(0, 0.002 * np.abs(x).max(), x.size))
variants("yes_1000ms.wav", "yes", 6)
for name, tag in (("0_george_0.wav", "g0"), ("7_jackson_32.wav", "j7"), ("silence_1000ms.wav", "sil"), ("noise_1000ms.wav", "noise")):
    variants(name, tag, 6)
EOF
for f in "$T"/g0_*.wav "$T"/j7_*.wav "$T"/sil_*.wav; do
    "$ZS" features --centre --out "$f.f32" "$f" || bad "features $f"
done
# the replay data set: the old-class variants, labelled with the model's answers
"$ZS" listen --model "$M" --json "$T"/g0_*.wav "$T"/j7_*.wav "$T"/sil_*.wav >"$T/old.json"
"$PY" - "$T" <<'EOF' || bad "python3 could not write the replay data set"
import sys, json, struct, numpy as np
t = sys.argv[1]
classes = ["unknown", "silence", "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
rows = [json.loads(l) for l in open(t + "/old.json")]
X = np.stack([np.fromfile(r["file"] + ".f32", np.float32) for r in rows]).reshape(-1, 1, 32, 32)
Y = np.array([classes.index(r["label"]) for r in rows], np.int32)
fx, fy = X.tobytes(), Y.tobytes()
h = {"__metadata__": {"format": "zeroskip-dataset", "classes": json.dumps(classes, separators=(",", ":"))},
     "features": {"dtype": "F32", "shape": list(X.shape), "data_offsets": [0, len(fx)]},
     "labels": {"dtype": "I32", "shape": [len(Y)], "data_offsets": [len(fx), len(fx) + len(fy)]}}
hb = json.dumps(h).encode(); hb += b" " * (-len(hb) % 8)
open(t + "/replay.safetensors", "wb").write(struct.pack("<Q", len(hb)) + hb + fx + fy)
EOF
printf '%s\n' "$D/no_1000ms.wav" "$T/noise_0.wav" "$T/noise_1.wav" "$T/noise_2.wav" >"$T/neg.txt"

"$ZS" enroll --model "$M" --word yes --out "$T/e.safetensors" --negatives "$T/neg.txt" \
    --replay "$T/replay.safetensors" --replay-n 6 "$T"/yes_[0-4].wav >"$T/out" 2>"$T/err"
rc=$?
check "enroll exits 0 ($(cat "$T/err"))" [ "$rc" -eq 0 ]
check "summary: 13 classes, 5 clips x 9 (augmented), 4 negatives, 6 replayed, 12 calibration" "$PY" -c '
import json, sys
j = json.loads(open(sys.argv[1]).read())
assert (j["classes"], j["clips"], j["positives"], j["negatives"], j["replayed"], j["calibration"]) == (13, 5, 45, 4, 6, 12), j
assert j["calibration_right"] == 12 and j["calibration_right_called"] == 0, j' "$T/out"
check "before enrollment the held-out yes is not 'yes'" [ "$(label "$M" "$T/yes_5.wav")" != "yes" ]
check "the held-out variant is recognised" [ "$(label "$T/e.safetensors" "$T/yes_5.wav")" = "yes" ]
for f in "$D/0_george_0.wav" "$D/7_jackson_32.wav" "$D/silence_1000ms.wav" "$T/g0_5.wav" "$T/j7_5.wav"; do
    check "old answer kept: $f" [ "$(label "$T/e.safetensors" "$f")" = "$(label "$M" "$f")" ]
done
# the old classes' probabilities keep their ratios (their logits are untouched)
"$ZS" listen --model "$M" --json --top 12 "$D/0_george_0.wav" "$D/no_1000ms.wav" >"$T/p0"
"$ZS" listen --model "$T/e.safetensors" --json --top 13 "$D/0_george_0.wav" "$D/no_1000ms.wav" >"$T/p1"
check "old classes' log-probability differences unchanged" "$PY" -c '
import json, sys, math
for a, b in zip(open(sys.argv[1]), open(sys.argv[2])):
    p = {t["label"]: t["confidence"] for t in json.loads(a)["top"]}
    q = {t["label"]: t["confidence"] for t in json.loads(b)["top"]}
    assert len(p) == 12 and len(q) == 13, (p, q)
    # printed with 6 decimals: compare the classes above 1 % (rounding < 1e-4 relative)
    d = [math.log(p[k]) - math.log(q[k]) for k in p if p[k] > 0.01]
    assert len(d) >= 2 and max(d) - min(d) < 1e-3, (d, p, q)' "$T/p0" "$T/p1"

# errors: usage 2, I/O 3, failed operation 1; no output file
"$ZS" enroll --model "$M" --out "$T/x.safetensors" "$T/yes_0.wav" 2>/dev/null
check "missing --word: exit 2" [ $? -eq 2 ]
"$ZS" enroll --model "$M" --word yes --out "$T/x.safetensors" "$T/yes_0.wav" 2>/dev/null
check "neither negatives nor replay: exit 2" [ $? -eq 2 ]
"$ZS" enroll --model "$M" --word yes --out "$T/x.safetensors" --recall 2 --negatives "$T/neg.txt" "$T/yes_0.wav" 2>/dev/null
check "--recall 2: exit 2" [ $? -eq 2 ]
"$ZS" enroll --model "$M" --word yes --out "$T/x.safetensors" --neg-weight 1.5 --negatives "$T/neg.txt" "$T/yes_0.wav" 2>/dev/null
check "--neg-weight 1.5: exit 2" [ $? -eq 2 ]
"$ZS" enroll --model "$M" --word zero --out "$T/x.safetensors" --negatives "$T/neg.txt" "$T/yes_0.wav" 2>/dev/null
check "an existing class: exit 1" [ $? -eq 1 ]
"$ZS" enroll --model "$M" --word yes --out "$T/x.safetensors" --negatives "$T/neg.txt" "$T/missing.wav" 2>/dev/null
check "a missing clip: exit 3" [ $? -eq 3 ]
"$ZS" enroll --model "$M" --word yes --out "$T/x.safetensors" --negatives "$T/missing.txt" "$T/yes_0.wav" 2>/dev/null
check "a missing negatives list: exit 3" [ $? -eq 3 ]
"$ZS" enroll --model "$M" --word yes --out "$T/no/dir/x.safetensors" --negatives "$T/neg.txt" "$T/yes_0.wav" 2>/dev/null
check "an unwritable --out: exit 3" [ $? -eq 3 ]
check "no output file after the failures" [ ! -e "$T/x.safetensors" ]

finish
