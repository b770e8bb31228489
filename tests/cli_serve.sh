#!/bin/sh
# cli_serve.sh — `zeroskip serve` end to end with the shipped gsc-sparse
# model: a new word learned and recognised (on a noisy, shifted copy it did
# not learn from) while the old classes' answers stay; bad requests answered
# with JSON errors while the server goes on; saves atomic and loadable; and,
# over the Unix socket, listens concurrent with learns that always answer
# exactly as the model version they report (old or new, never a mix).
# Prints `RESULT <passed> <failed>` last.
. "$(dirname "$0")/lib_cli.sh"
M=models/gsc-sparse.safetensors
D=tests/data/audio
# jq-free JSON field of line N of FILE: jget FILE N FIELD
jget() { "$PY" -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[int(sys.argv[2])-1]).get(sys.argv[3]))' "$@"; }

need "$ZS" "$M"

# variants of the micro_speech "yes": shifted by 0.1 s and with noise (python3 + numpy)
"$PY" - "$D/yes_1000ms.wav" "$T" <<'EOF' || bad "python3 could not write the test clips"
import sys, wave, numpy as np
src, out = sys.argv[1], sys.argv[2]
w = wave.open(src); x = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float64); w.close()
rng = np.random.default_rng(1)
def save(name, y):
    y = np.clip(y, -32768, 32767).astype(np.int16)
    o = wave.open(out + "/" + name, "wb"); o.setnchannels(1); o.setsampwidth(2); o.setframerate(16000)
    o.writeframes(y.tobytes()); o.close()
save("yes_shift.wav", np.concatenate([np.zeros(1600), x[:-1600]]) * 0.7)
save("yes_noisy.wav", np.concatenate([x[800:], np.zeros(800)]) * 1.3 + rng.normal(0, 0.001 * np.abs(x).max(), x.size))
EOF

# ---- stdin: learn a word, old answers kept, bad requests -----------------
long=$("$PY" -c 'print("listen " + "x" * 5000)')
{
    echo "listen $D/0_george_0.wav"
    echo "listen $D/7_jackson_32.wav"
    echo "listen $T/yes_noisy.wav"
    echo "learn $D/yes_1000ms.wav yes"
    echo "learn $T/yes_shift.wav yes"
    echo "listen $T/yes_noisy.wav"
    echo "listen $D/0_george_0.wav"
    echo "listen $D/7_jackson_32.wav"
    echo "frobnicate"
    echo "listen"
    echo "learn $D/yes_1000ms.wav"
    echo "listen $T/missing.wav"
    echo "learn $T/missing.wav yes"
    echo "{\"cmd\": 3}"
    echo "{not json"
    echo "$long"
    echo "save $T/no/such/dir/m.safetensors"
    echo "save $T/m.safetensors"
    echo "stats"
} >"$T/req"
"$ZS" serve --model "$M" <"$T/req" >"$T/out" 2>"$T/err"
rc=$?
check "serve exits 0 at the end of stdin" [ "$rc" -eq 0 ]
check "one answer per request (19)" [ "$(wc -l <"$T/out")" -eq 19 ]
check "every answer is one JSON object" "$PY" -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$T/out"
check "before learning, the noisy yes is not 'yes'" [ "$(jget "$T/out" 3 label)" != "yes" ]
check "learn adds the class 'yes'" [ "$(jget "$T/out" 4 new_class)" = "True" ] && [ "$(jget "$T/out" 4 classes)" = "13" ]
check "second learn uses it" [ "$(jget "$T/out" 5 new_class)" = "False" ] && [ "$(jget "$T/out" 5 version)" = "2" ]
check "the held-out noisy, shifted yes is recognised" [ "$(jget "$T/out" 6 label)" = "yes" ]
check "old class answer kept (george 0)" [ "$(jget "$T/out" 7 label)" = "$(jget "$T/out" 1 label)" ]
check "old class answer kept (jackson 7)" [ "$(jget "$T/out" 8 label)" = "$(jget "$T/out" 2 label)" ]
for n in 9 10 11 12 13 14 15 16 17; do
    check "bad request $n answered with ok=false" [ "$(jget "$T/out" $n ok)" = "False" ]
done
check "unknown command named" [ "$(jget "$T/out" 9 status)" = "bad_request" ]
check "missing file: ZS_EIO" [ "$(jget "$T/out" 12 status)" = "ZS_EIO" ]
check "too-long line refused" grep -q "longer than 4096" "$T/out"
check "save to a missing directory fails cleanly" [ "$(jget "$T/out" 17 status)" = "ZS_EIO" ]
check "save ok" [ "$(jget "$T/out" 18 ok)" = "True" ]
check "stats after the errors: 2 learns, 9 errors" [ "$(jget "$T/out" 19 learns)" = "2" ] && [ "$(jget "$T/out" 19 errors)" = "9" ]
check "no temporary file left by save" [ -z "$(ls "$T" | grep -F m.safetensors. )" ]
# the saved model is the served one: listen gives the same answer
"$ZS" listen --model "$T/m.safetensors" --json "$T/yes_noisy.wav" >"$T/l" 2>&1
check "saved model recognises the word" [ "$(jget "$T/l" 1 label)" = "yes" ]
check "saved model answers as the server did" "$PY" -c '
import json,sys
a=json.loads(open(sys.argv[1]).read().splitlines()[5]); b=json.loads(open(sys.argv[2]).read())
sys.exit(0 if abs(a["confidence"]-b["confidence"])<1e-6 else 1)' "$T/out" "$T/l"
# --int8-weights: the same requests answered on the int8 path (snapshots
# keep it): the same labels, learning as before, other confidences
"$ZS" serve --model "$M" --int8-weights <"$T/req" >"$T/out8" 2>/dev/null
check "serve --int8-weights: 19 answers" [ "$(wc -l <"$T/out8")" -eq 19 ]
same=1
for n in 1 2 3 4 5 6 7 8; do [ "$(jget "$T/out8" $n label)" = "$(jget "$T/out" $n label)" ] || same=0; done
check "serve --int8-weights: the fp32 labels, the new word learned" [ $same -eq 1 ] && [ "$(jget "$T/out8" 6 label)" = "yes" ]
check "serve --int8-weights: answers from the int8 plan (other confidences)" "$PY" -c '
import json,sys
a=[json.loads(l) for l in open(sys.argv[1])]; b=[json.loads(l) for l in open(sys.argv[2])]
sys.exit(0 if any(a[i]["confidence"] != b[i]["confidence"] for i in (0, 1, 6, 7)) else 1)' "$T/out" "$T/out8"
"$ZS" serve --model "$M" --int8-weights --int8-weights </dev/null >/dev/null 2>&1
check "serve --int8-weights twice: usage (2)" [ $? -eq 2 ]
# quit stops early
printf 'stats\nquit\nstats\n' | "$ZS" serve --model "$M" >"$T/q" 2>&1
check "quit answers and stops the server" [ "$(wc -l <"$T/q")" -eq 2 ] && grep -q '"cmd":"quit"' "$T/q"
"$ZS" serve >/dev/null 2>&1
check "serve without --model: usage (2)" [ $? -eq 2 ]
"$ZS" serve --model "$T/missing.safetensors" </dev/null >/dev/null 2>&1
check "serve with a missing model: I/O error (3)" [ $? -eq 3 ]

# ---- socket: listens concurrent with learns -------------------------------
S=$T/sock
"$ZS" serve --model "$M" --socket "$S" </dev/null >"$T/sout" 2>"$T/serr" &
pid=$!
i=0
while [ ! -S "$S" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
"$PY" - "$S" "$D" "$T" <<'EOF' >"$T/conc" 2>&1
import json, socket, sys, threading
path, D, T = sys.argv[1:4]
def conn():
    s = socket.socket(socket.AF_UNIX); s.connect(path); return s, s.makefile("rw")
def ask(f, line):
    f.write(line + "\n"); f.flush(); return json.loads(f.readline())
ref = {}
_, fa = conn()
r = ask(fa, "listen %s/yes_noisy.wav" % T); ref[r["version"]] = r["probs"]
seen = []
stop = threading.Event()
def listener():
    _, fb = conn()
    while not stop.is_set():
        r = ask(fb, "listen %s/yes_noisy.wav" % T)
        seen.append((r["version"], r["probs"]))
t = threading.Thread(target=listener); t.start()
for k in range(4):
    lab = ["yes", "yes", "no", "yes"][k]
    r = ask(fa, "learn %s/%s wordy" % (D, ["yes_1000ms.wav", "no_1000ms.wav"][k % 2]))
    assert r["ok"], r
    r = ask(fa, "listen %s/yes_noisy.wav" % T); ref[r["version"]] = r["probs"]
stop.set(); t.join()
versions = sorted(set(v for v, _ in seen))
mismatch = sum(1 for v, p in seen if ref.get(v) != p)
print("answers", len(seen), "versions", versions, "mismatches", mismatch)
ask(fa, "quit")
sys.exit(0 if mismatch == 0 and len(versions) >= 2 else 1)
EOF
crc=$?
sed 's/^/    /' "$T/conc"
check "concurrent listens answer exactly as the version they report, over >= 2 versions" [ "$crc" -eq 0 ]
i=0
while kill -0 $pid 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
if kill -0 $pid 2>/dev/null; then kill $pid; bad "socket server did not quit"; else ok; fi
wait $pid
check "socket removed after quit" [ ! -e "$S" ]

finish
