#!/bin/sh
# cli_edges.sh — the command-line side of the "sharper edges" findings
# (docs/RELIABILITY.md F8-F19): outputs checked before training, write
# errors on --csv and stdout, escaped JSON, FIFOs (under `timeout`), atomic
# --predictions, exit codes of listen, misspelt architecture keys, file
# modes, resume with nothing to do, repeated options, trailing bytes, and
# documentation that must match the code.
# Ends with "RESULT <passed> <failed>".
export LC_ALL=C
ZS=${BUILD:-build}/zeroskip
case "$ZS" in /*) ;; *) ZS="$(pwd)/$ZS" ;; esac
PY=${PYTHON:-/usr/bin/python3}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib_cli.sh"
if [ ! -x "$ZS" ]; then no "$ZS not built"; echo "RESULT $pass $fail"; exit 1; fi

D="$T/data"; mkdir -p "$D"
mkidx "$D/mn" 200 28 10
DATA="$D/mn-images-idx3-ubyte"
TRAIN="train --preset mnist-mlp --data $DATA --batch 50 --lr 0.05"
expect_rc 0 "" "$ZS" $TRAIN --quiet --out "$T/m.st"
WAV=tests/data/audio/yes_1000ms.wav
GSC=models/gsc-sparse.safetensors

echo "== outputs are checked before training (F8)"
for bad in "--out $T" "--out $T/nodir/m.st" "--out /proc/version" "--checkpoint $T/nodir/c.st" "--csv $T" \
           "--csv $T/nodir/c.csv"; do
    # shellcheck disable=SC2086
    expect_rc 3 "" "$ZS" $TRAIN --epochs 20 $bad
    check '! grep -q "^training\|^epoch" "$T/err"' "'$bad': refused only after training started"
    o1=${bad%% *}; o2=${bad#* }
    check 'grep -qF -- "$o1 $o2" "$T/err"' "'$bad': message names the option and file: $(head -c 200 "$T/err")"
done
expect_rc 2 "empty" "$ZS" $TRAIN --out ""
expect_rc 2 "empty" "$ZS" $TRAIN --checkpoint=
expect_rc 2 "empty" "$ZS" eval --model "$T/m.st" --data "$DATA" --predictions ""
expect_rc 3 "predictions" "$ZS" eval --model "$T/m.st" --data "$DATA" --predictions "$T/nodir/p.csv"

echo "== write errors: --csv and stdout (F9)"
if [ -w /dev/full ]; then
    expect_rc 3 "/dev/full" "$ZS" $TRAIN --quiet --csv /dev/full
    check '! grep -q "^epoch" "$T/err"' "--csv /dev/full noticed before training"
    "$ZS" eval --model "$T/m.st" --data "$DATA" >/dev/full 2>"$T/err"; rc=$?
    check '[ $rc -eq 3 ] && grep -q stdout "$T/err"' "eval > /dev/full exits 3 (got $rc)"
    "$ZS" eval --model "$T/m.st" --data "$DATA" --json >/dev/full 2>"$T/err"; rc=$?
    check '[ $rc -eq 3 ]' "eval --json > /dev/full exits 3 (got $rc)"
    "$ZS" info "$T/m.st" >/dev/full 2>"$T/err"; rc=$?
    check '[ $rc -eq 3 ] && grep -q stdout "$T/err"' "info > /dev/full exits 3 (got $rc)"
    "$ZS" info --kernels >/dev/full 2>"$T/err"; rc=$?
    check '[ $rc -eq 3 ]' "info --kernels > /dev/full exits 3 (got $rc)"
else
    echo "SKIP: /dev/full not writable: write errors not tested"
fi

echo "== eval --json escapes the path and class names (F10)"
printf '%s' '{"input":[1,28,28],"classes":["q\"uote","back\\slash","2","3","4","5","6","7","8","9"],"layers":[
 {"type":"flatten"},{"type":"linear","out_features":16},{"type":"relu"},
 {"type":"linear","out_features":10},{"type":"logsoftmax"}]}' >"$T/q.json"
Q="$T/odd \"name\".st"
expect_rc 0 "" "$ZS" train --arch "$T/q.json" --data "$DATA" --quiet --out "$Q"
expect_rc 0 "" "$ZS" eval --model "$Q" --data "$DATA" --json
if "$PY" -c 'import json' 2>/dev/null; then
    "$PY" - "$T/out" "$Q" <<'EOF' && ok || no "eval --json is valid JSON with the exact path and names"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["model"] == sys.argv[2], d["model"]
assert d["classes"][:2] == ['q"uote', 'back\\slash'], d["classes"]
EOF
else
    echo "SKIP: no python json module: eval --json validity not checked"
fi
printf '%s' '{"input":[1,28,28],"classes":["a\nb","1","2","3","4","5","6","7","8","9"],"layers":[
 {"type":"flatten"},{"type":"linear","out_features":10},{"type":"logsoftmax"}]}' >"$T/nl.json"
expect_rc 1 "control character" "$ZS" train --arch "$T/nl.json" --data "$DATA" --quiet

echo "== FIFOs are refused, not waited on (F11)"
mkfifo "$T/fifo"
expect_rc 3 "FIFO" timeout 20 "$ZS" info "$T/fifo"
expect_rc 3 "FIFO" timeout 20 "$ZS" eval --model "$T/fifo" --data "$DATA"
expect_rc 3 "FIFO" timeout 20 "$ZS" eval --model "$T/m.st" --data "$T/fifo"
expect_rc 3 "FIFO" timeout 20 "$ZS" train --preset mnist-mlp --data "$T/fifo"
expect_rc 3 "regular" timeout 20 "$ZS" train --arch "$T/fifo" --data "$DATA"
expect_rc 3 "FIFO" timeout 20 "$ZS" features "$T/fifo"
expect_rc 3 "FIFO" timeout 20 "$ZS" listen --model "$GSC" "$T/fifo"
expect_rc 3 "FIFO" timeout 20 "$ZS" dataset stats "$T/fifo"
expect_rc 3 "" timeout 20 "$ZS" $TRAIN --quiet --csv "$T/fifo"

echo "== --predictions is atomic and errors say why (F12)"
printf 'old\n' >"$T/p.csv"
( trap '' XFSZ; ulimit -f 1; "$ZS" eval --model "$T/m.st" --data "$DATA" --predictions "$T/p.csv" >"$T/out" 2>"$T/err" ); rc=$?
check '[ $rc -eq 3 ]' "eval --predictions over the file size limit exits 3 (got $rc)"
check 'grep -q "File too large" "$T/err"' "the message gives the reason: $(head -c 200 "$T/err")"
check '[ "$(cat "$T/p.csv")" = old ]' "a failed --predictions leaves the old file"
check '[ -z "$(ls "$T" | grep "p.csv.tmp")" ]' "no temporary file left"
expect_rc 0 "" "$ZS" eval --model "$T/m.st" --data "$DATA" --predictions "$T/p.csv"
check '[ "$(wc -l <"$T/p.csv")" -eq 201 ]' "--predictions: header + 200 lines"
expect_rc 0 "" "$ZS" eval --model "$T/m.st" --data "$DATA" --predictions /dev/stdout
check 'grep -q "^index,label,predicted,confidence" "$T/out"' "--predictions /dev/stdout writes in place"
if [ -w /dev/full ]; then
    expect_rc 3 "/dev/full: write failed: No space left" "$ZS" eval --model "$T/m.st" --data "$DATA" --predictions /dev/full
fi
printf '%s' '{"input":[1,28,28],"layers":[{"type":"flatten"},{"type":"linear","out_features":10}]}' >"$T/nols.json"
expect_rc 1 "nols.json: training needs a logsoftmax" "$ZS" train --arch "$T/nols.json" --data "$DATA"
expect_rc 3 "missing.json: cannot open: No such file" "$ZS" train --arch "$T/missing.json" --data "$DATA"
head -c 100 "$T/m.st" >"$T/trunc.st"
expect_rc 1 "trunc.st" "$ZS" info "$T/trunc.st"

echo "== listen exit codes follow the README (F13)"
expect_rc 3 "missing.wav" "$ZS" listen --model "$GSC" "$T/missing.wav"
expect_rc 3 "missing.wav" "$ZS" listen --model "$GSC" "$WAV" "$T/missing.wav"
check 'grep -q "^$WAV	" "$T/out"' "the readable file is still recognised"
printf 'not audio' >"$T/junk.wav"
expect_rc 1 "junk.wav" "$ZS" listen --model "$GSC" "$T/junk.wav"
expect_rc 3 "missing.st" "$ZS" listen --model "$T/missing.st" "$WAV"

echo "== misspelt architecture keys (F14)"
printf '%s' '{"input":[1,28,28],"layers":[{"type":"flatten"},{"type":"linear","out_features":10,"weight_sparsty":0.9},{"type":"logsoftmax"}]}' >"$T/typo.json"
expect_rc 1 "weight_sparsty" "$ZS" train --arch "$T/typo.json" --data "$DATA" --quiet
printf '%s' '{"input":[1,28,28],"layers":[{"type":"flatten"},{"type":"linear","out_features":10,"sparsity":0.75},{"type":"logsoftmax"}]}' >"$T/sp.json"
expect_rc 0 "" "$ZS" train --arch "$T/sp.json" --data "$DATA" --quiet --out "$T/sp.st"
expect_rc 0 "" "$ZS" info "$T/sp.st"
check 'grep -Eq "^1 .* 75\.0% " "$T/out"' "sparsity 0.75: 75 % of the weights are zero"
expect_rc 0 "" "$ZS" info models/gsc-sparse.safetensors
check 'grep -Eq "^0 +cnn1 .* 52\.0% " "$T/out"' "shipped models with the old key weight_sparsity still load"

echo "== file modes, resume, repeated options (F15)"
( umask 077; "$ZS" $TRAIN --quiet --out "$T/u.st" ) >/dev/null 2>&1
check '[ "$(stat -c %a "$T/u.st")" = 600 ]' "umask 077: model mode $(stat -c %a "$T/u.st"), want 600"
chmod 640 "$T/u.st"
expect_rc 0 "" "$ZS" $TRAIN --quiet --out "$T/u.st"
check '[ "$(stat -c %a "$T/u.st")" = 640 ]' "replacing keeps mode 640 (got $(stat -c %a "$T/u.st"))"
expect_rc 0 "" "$ZS" $TRAIN --quiet --epochs 2 --checkpoint "$T/ck.st"
expect_rc 0 "nothing to do" "$ZS" train --init "$T/ck.st" --data "$DATA" --epochs 2 --batch 50 --lr 0.05 --out "$T/again.st"
check '! grep -q "^training\|^epoch" "$T/err"' "a finished checkpoint is not trained again"
expect_rc 2 "more than once" "$ZS" $TRAIN --epochs 1 --epochs 2
expect_rc 2 "more than once" "$ZS" eval --model "$T/m.st" --model="$T/m.st" --data "$DATA"
expect_rc 2 "more than once" "$ZS" listen --model "$GSC" --model "$GSC" "$WAV"

echo "== model files with trailing bytes (F16)"
cp "$T/m.st" "$T/tail.st"; printf 'x' >>"$T/tail.st"
expect_rc 1 "trailing" "$ZS" info "$T/tail.st"

echo "== documentation matches the code (F18)"
libs=$(sed -n 's/^LDLIBS *:= *//p' Makefile)
check 'grep -qF -- "$libs" README.md' "README's link line is the Makefile's LDLIBS ($libs)"
check '! grep -q openblas README.md' "README does not mention OpenBLAS"
check '! grep -q "PATH\.tmp," include/zeroskip.h' "zeroskip.h describes the temporary file as it is"
expect_rc 0 "" "$ZS" listen --help
check 'grep -q centred "$T/out" && ! grep -q "first second" "$T/out"' "listen --help: the word is centred"
check '! grep -q "and .zeroskip listen. (file mode) use .zs_clip_fit.," docs/DATASET.md && grep -q "zs_clip_fit_centred" docs/DATASET.md' \
    "DATASET.md: listen centres the word"
check '! grep -q "^the first second), .--top K" docs/AUDIO.md && grep -q "zs_clip_fit_centred" docs/AUDIO.md' \
    "AUDIO.md: listen centres the word"
check '! grep -q "Training always uses the reference" docs/ARCHITECTURE.md' "ARCHITECTURE.md: training has a fast path"
for f in F1 F2 F6; do
    check '! grep -E "^\| $f \|" docs/RELIABILITY.md | grep -Eq "\| open( \(low\))? \|$"' "RELIABILITY.md still lists $f as open"
done

echo "RESULT $pass $fail"
[ "$fail" -eq 0 ]
