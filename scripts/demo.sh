#!/bin/sh
# make demo: install what is missing, build, listen to real clips with the
# shipped sparse model, then a short dense-vs-sparse speed comparison.
set -e
cd "$(dirname "$0")/.."
PKGS="build-essential libcjson-dev libdnnl-dev libsndfile1-dev libsamplerate0-dev libfftw3-dev zlib1g-dev"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "== installing:$missing"
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
    else
        echo "zeroskip demo: missing Debian packages:$missing"
        echo "install them with:  sudo apt-get install$missing"
        exit 1
    fi
fi
echo "== building"
make -s -j2 lib cli >/dev/null
ZS=build/zeroskip
MODEL=models/gsc-sparse.safetensors
DENSE=models/gsc-dense.safetensors
if [ ! -f $MODEL ]; then
    echo "no model yet: $MODEL has not been trained (make models)."
    echo "Here is the network it will be:"
    $ZS info --preset gsc-sparse
    exit 0
fi
cat <<'TXT'

== 1. Words heard by the shipped sparse model (models/gsc-sparse.safetensors)
   None of these voices was in its training data: george is a held-out
   speaker of the Free Spoken Digit Dataset; yes/silence come from micro_speech
   ("yes" is not one of the 10 digits, so the right answer is "unknown").
TXT
# judge FILE TRUTH NAME: the model's answer for FILE in a row of the table
# (counted in $right of $total)
judge() {
    line=$($ZS listen --model $MODEL "$1")
    heard=$(printf '%s' "$line" | cut -f2); conf=$(printf '%s' "$line" | cut -f3)
    mark=" "; [ "$heard" = "$2" ] && { mark="ok"; right=$((right + 1)); }
    total=$((total + 1))
    printf '%-32s %-9s %-9s %s %s\n' "$3" "$2" "$heard" "$conf" "$mark"
}
printf '%-32s %-9s %-9s %s\n' "file" "truth" "heard" "confidence"
right=0; total=0
for f in demo/clips/*.wav; do
    b=$(basename "$f" .wav)
    case "$b" in
        0_*) t=zero;; 1_*) t=one;; 2_*) t=two;; 3_*) t=three;; 4_*) t=four;;
        5_*) t=five;; 6_*) t=six;; 7_*) t=seven;; 8_*) t=eight;; 9_*) t=nine;;
        silence*) t=silence;; *) t=unknown;;
    esac
    judge "$f" "$t" "$f"
done
echo "   $right of $total right."
GSC=../shared/data/speech_commands_v0.02_test/_unknown_
if [ -d "$GSC" ]; then
    cat <<'TXT'

== 1b. Real people the model never heard: Speech Commands speakers held out
   from training (data/splits/speech_commands.txt), digits and other words
TXT
    right=0; total=0
    # every 8th clip of a held-out (test) speaker
    for f in $(ls "$GSC" | while read -r c; do
                   spk=$(echo "$c" | cut -d_ -f2)
                   grep -q "^$spk test" data/splits/speech_commands.txt && echo "$c"
               done | awk 'NR % 8 == 1'); do
        t=${f%%_*}
        case " zero one two three four five six seven eight nine " in *" $t "*) ;; *) t=unknown;; esac
        judge "$GSC/$f" "$t" "${f%.flac} (${f%%_*})"
    done
    echo "   $right of $total right (docs/RESULTS.md: all held-out real speech, with confidence intervals)."
fi
cat <<'TXT'

== 2. A 10 s recording of george saying 3 1 4 1 5 9 2 6 with pauses,
   scanned with a 1 s window every 0.1 s, each window centred on its word
   (zeroskip listen --stream): START_S END_S WORD CONFIDENCE
TXT
$ZS listen --model $MODEL --stream demo/george_31415926.wav
cat <<'TXT'

== 3. Speed: words/s of the sparse network (sparse-sparse kernels) against
   its dense twin (im2col + oneDNN GEMM), batch 1 and 16, one thread
   (docs/BENCHMARKS.md has the full tables, with ONNX Runtime and PyTorch)
TXT
if [ -f $DENSE ]; then dm=$DENSE; else dm=gsc-dense; fi
$ZS bench --model $MODEL --dense-model $dm --batch 1,16 --networks 1 --threads 1 \
    --seconds 1 --rounds 3 2>/dev/null | grep -v '^#' | head -20
echo
echo "Next: build/zeroskip --help, docs/RESULTS.md (accuracy, noise robustness), README.md."
