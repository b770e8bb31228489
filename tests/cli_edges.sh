#!/bin/sh
# cli_edges.sh — the command-line side of the "sharper edges" findings
# (docs/RELIABILITY.md F8-F19): outputs checked before training, write
# errors on --csv and stdout, escaped JSON, FIFOs (under `timeout`), atomic
# --predictions, exit codes of listen, misspelt architecture keys, file
# modes, resume with nothing to do, repeated options, trailing bytes, and
# documentation that must match the code.
# Ends with "RESULT <passed> <failed>".
export LC_ALL=C
. "$(dirname "$0")/lib_cli.sh"
case "$ZS" in /*) ;; *) ZS="$(pwd)/$ZS" ;; esac
need "$ZS"

D="$T/data"; mkdir -p "$D"
mkidx "$D/mn" 200 28 10
DATA="$D/mn-images-idx3-ubyte"
TRAIN="train --preset mnist-mlp --data $DATA --batch 50 --lr 0.05"
expect_rc 0 "" "$ZS" $TRAIN --quiet --out "$T/m.st"
WAV=tests/data/audio/yes_1000ms.wav
GSC=models/gsc-sparse.safetensors

echo "== outputs are checked before training (F8)"
for args in "--out $T" "--out $T/nodir/m.st" "--out /proc/version" "--checkpoint $T/nodir/c.st" "--csv $T" \
           "--csv $T/nodir/c.csv"; do
    # shellcheck disable=SC2086
    expect_rc 3 "" "$ZS" $TRAIN --epochs 20 $args
    check "'$args': refused only after training started" eval '! grep -q "^training\|^epoch" "$T/err"'
    o1=${args%% *}; o2=${args#* }
    check "'$args': message names the option and file: $(head -c 200 "$T/err")" grep -qF -- "$o1 $o2" "$T/err"
done
expect_rc 2 "empty" "$ZS" $TRAIN --out ""
expect_rc 2 "empty" "$ZS" $TRAIN --checkpoint=
expect_rc 2 "empty" "$ZS" eval --model "$T/m.st" --data "$DATA" --predictions ""
expect_rc 3 "predictions" "$ZS" eval --model "$T/m.st" --data "$DATA" --predictions "$T/nodir/p.csv"

echo "== write errors: --csv and stdout (F9)"
if [ -w /dev/full ]; then
    expect_rc 3 "/dev/full" "$ZS" $TRAIN --quiet --csv /dev/full
    check "--csv /dev/full noticed before training" eval '! grep -q "^epoch" "$T/err"'
    "$ZS" eval --model "$T/m.st" --data "$DATA" >/dev/full 2>"$T/err"; rc=$?
    check "eval > /dev/full exits 3 (got $rc)" eval '[ $rc -eq 3 ] && grep -q stdout "$T/err"'
    "$ZS" eval --model "$T/m.st" --data "$DATA" --json >/dev/full 2>"$T/err"; rc=$?
    check "eval --json > /dev/full exits 3 (got $rc)" [ $rc -eq 3 ]
    "$ZS" info "$T/m.st" >/dev/full 2>"$T/err"; rc=$?
    check "info > /dev/full exits 3 (got $rc)" eval '[ $rc -eq 3 ] && grep -q stdout "$T/err"'
    "$ZS" info --kernels >/dev/full 2>"$T/err"; rc=$?
    check "info --kernels > /dev/full exits 3 (got $rc)" [ $rc -eq 3 ]
else
    skip "/dev/full not writable: write errors not tested"
fi

echo "== eval --json escapes the path and class names (F10)"
printf '%s' '{"input":[1,28,28],"classes":["q\"uote","back\\slash","2","3","4","5","6","7","8","9"],"layers":[
 {"type":"flatten"},{"type":"linear","out_features":16},{"type":"relu"},
 {"type":"linear","out_features":10},{"type":"logsoftmax"}]}' >"$T/q.json"
Q="$T/odd \"name\".st"
expect_rc 0 "" "$ZS" train --arch "$T/q.json" --data "$DATA" --quiet --out "$Q"
expect_rc 0 "" "$ZS" eval --model "$Q" --data "$DATA" --json
if "$PY" -c 'import json' 2>/dev/null; then
    "$PY" - "$T/out" "$Q" <<'EOF' && ok || bad "eval --json is valid JSON with the exact path and names"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["model"] == sys.argv[2], d["model"]
assert d["classes"][:2] == ['q"uote', 'back\\slash'], d["classes"]
EOF
else
    skip "no python json module: eval --json validity not checked"
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
check "eval --predictions over the file size limit exits 3 (got $rc)" [ $rc -eq 3 ]
check "the message gives the reason: $(head -c 200 "$T/err")" grep -q "File too large" "$T/err"
check "a failed --predictions leaves the old file" eval '[ "$(cat "$T/p.csv")" = old ]'
check "no temporary file left" eval '[ -z "$(ls "$T" | grep "p.csv.tmp")" ]'
expect_rc 0 "" "$ZS" eval --model "$T/m.st" --data "$DATA" --predictions "$T/p.csv"
check "--predictions: header + 200 lines" eval '[ "$(wc -l <"$T/p.csv")" -eq 201 ]'
expect_rc 0 "" "$ZS" eval --model "$T/m.st" --data "$DATA" --predictions /dev/stdout
check "--predictions /dev/stdout writes in place" grep -q "^index,label,predicted,confidence" "$T/out"
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
check "the readable file is still recognised" grep -q "^$WAV	" "$T/out"
printf 'not audio' >"$T/junk.wav"
expect_rc 1 "junk.wav" "$ZS" listen --model "$GSC" "$T/junk.wav"
expect_rc 3 "missing.st" "$ZS" listen --model "$T/missing.st" "$WAV"

echo "== misspelt architecture keys (F14)"
printf '%s' '{"input":[1,28,28],"layers":[{"type":"flatten"},{"type":"linear","out_features":10,"weight_sparsty":0.9},{"type":"logsoftmax"}]}' >"$T/typo.json"
expect_rc 1 "weight_sparsty" "$ZS" train --arch "$T/typo.json" --data "$DATA" --quiet
printf '%s' '{"input":[1,28,28],"layers":[{"type":"flatten"},{"type":"linear","out_features":10,"sparsity":0.75},{"type":"logsoftmax"}]}' >"$T/sp.json"
expect_rc 0 "" "$ZS" train --arch "$T/sp.json" --data "$DATA" --quiet --out "$T/sp.st"
expect_rc 0 "" "$ZS" info "$T/sp.st"
check "sparsity 0.75: 75 % of the weights are zero" grep -Eq "^1 .* 75\.0% " "$T/out"
expect_rc 0 "" "$ZS" info models/gsc-sparse.safetensors
check "shipped models with the old key weight_sparsity still load" grep -Eq "^0 +cnn1 .* 52\.0% " "$T/out"

echo "== file modes, resume, repeated options (F15)"
( umask 077; "$ZS" $TRAIN --quiet --out "$T/u.st" ) >/dev/null 2>&1
check "umask 077: model mode $(stat -c %a "$T/u.st"), want 600" eval '[ "$(stat -c %a "$T/u.st")" = 600 ]'
chmod 640 "$T/u.st"
expect_rc 0 "" "$ZS" $TRAIN --quiet --out "$T/u.st"
check "replacing keeps mode 640 (got $(stat -c %a "$T/u.st"))" eval '[ "$(stat -c %a "$T/u.st")" = 640 ]'
expect_rc 0 "" "$ZS" $TRAIN --quiet --epochs 2 --checkpoint "$T/ck.st"
expect_rc 0 "nothing to do" "$ZS" train --init "$T/ck.st" --data "$DATA" --epochs 2 --batch 50 --lr 0.05 --out "$T/again.st"
check "a finished checkpoint is not trained again" eval '! grep -q "^training\|^epoch" "$T/err"'
expect_rc 2 "more than once" "$ZS" $TRAIN --epochs 1 --epochs 2
expect_rc 2 "more than once" "$ZS" eval --model "$T/m.st" --model="$T/m.st" --data "$DATA"
expect_rc 2 "more than once" "$ZS" listen --model "$GSC" --model "$GSC" "$WAV"

echo "== model files with trailing bytes (F16)"
cp "$T/m.st" "$T/tail.st"; printf 'x' >>"$T/tail.st"
expect_rc 1 "trailing" "$ZS" info "$T/tail.st"

echo "== documentation matches the code (F18)"
libs=$(sed -n 's/^LDLIBS *:= *//p' Makefile)
check "README's link line is the Makefile's LDLIBS ($libs)" grep -qF -- "$libs" README.md
check "README does not mention OpenBLAS" eval '! grep -q openblas README.md'
check "zeroskip.h describes the temporary file as it is" eval '! grep -q "PATH\.tmp," include/zeroskip.h'
expect_rc 0 "" "$ZS" listen --help
check "listen --help: the word is centred" eval 'grep -q centred "$T/out" && ! grep -q "first second" "$T/out"'
check "DATASET.md: listen centres the word" \
    eval '! grep -q "and .zeroskip listen. (file mode) use .zs_clip_fit.," docs/DATASET.md && grep -q "zs_clip_fit_centred" docs/DATASET.md'
check "AUDIO.md: listen centres the word" \
    eval '! grep -q "^the first second), .--top K" docs/AUDIO.md && grep -q "zs_clip_fit_centred" docs/AUDIO.md'
check "ARCHITECTURE.md: training has a fast path" eval '! grep -q "Training always uses the reference" docs/ARCHITECTURE.md'
for f in F1 F2 F6; do
    check "RELIABILITY.md still lists $f as open" eval '! grep -E "^\| $f \|" docs/RELIABILITY.md | grep -Eq "\| open( \(low\))? \|$"'
done

finish
