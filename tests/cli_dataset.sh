#!/bin/sh
# cli_dataset.sh — `zeroskip dataset build|stats` on a tiny manifest made
# here from ../shared/data (FSDD + micro_speech; skipped loudly if absent):
# labels, shapes, split counts, speaker-disjointness, determinism (same seed
# -> same bytes, whatever the thread count) and the error cases. Needs only
# the zeroskip binary and POSIX tools. Ends with "RESULT <passed> <failed>".
. "$(dirname "$0")/lib_cli.sh"
SHARED=../shared/data
# stat_count FILE CLASS: the count of CLASS in `dataset stats FILE`.
stat_count() { "$ZS" dataset stats "$1" | awk -v c="$2" '$2 == c { print $3 }'; }
stat_n() { "$ZS" dataset stats "$1" | awk 'NR == 1 { print $2 }'; }
# failed_cleanly: the last run failed with an operation error (not usage, not a crash).
failed_cleanly() { [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ] && [ "$rc" -lt 128 ]; }
differ() { ! cmp -s "$1" "$2"; }
# rows FILE: data rows of a CSV (without the header).
rows() { tail -n +2 "$1" | grep -c .; }

need "$ZS"

# ---- usage and manifest errors (no audio needed) ---------------------------
run "$ZS" dataset
check "dataset without subcommand exits 2 (got $rc)" [ "$rc" -eq 2 ]
run "$ZS" dataset build
check "build without --manifest exits 2 (got $rc)" [ "$rc" -eq 2 ]
check "build usage names --manifest" grep -q -- "--manifest" "$T/err"
run "$ZS" dataset build --manifest x.csv --out "$T/o" --augment -1
check "--augment -1 exits 2 (got $rc)" [ "$rc" -eq 2 ]
run "$ZS" dataset build --manifest x.csv --out "$T/o" --augment many
check "--augment many exits 2 (got $rc)" [ "$rc" -eq 2 ]
run "$ZS" dataset build --manifest x.csv --out "$T/o" --frobnicate
check "unknown option exits 2 (got $rc)" [ "$rc" -eq 2 ]
run "$ZS" dataset build --manifest x.csv --out "$T/o" --threads 0
check "--threads 0 exits 2 (got $rc)" [ "$rc" -eq 2 ]
run "$ZS" dataset build --help
check "build --help exits 0 (got $rc)" [ "$rc" -eq 0 ]
check "build --help documents --augment" grep -q -- "--augment" "$T/out"
run "$ZS" dataset stats
check "stats without FILE exits 2 (got $rc)" [ "$rc" -eq 2 ]
run "$ZS" dataset stats "$T/nothere.safetensors"
check "stats on a missing file fails (got $rc)" failed_cleanly
check "stats names the missing file" grep -q "nothere.safetensors" "$T/err"

run "$ZS" dataset build --manifest "$T/missing.csv" --out "$T/o"
check "missing manifest fails (got $rc)" failed_cleanly
check "missing manifest is named" grep -q "missing.csv" "$T/err"

# bad_manifest NAME CSV WHAT [TEXT]: `dataset build` of the manifest CSV
# (\n: a new line) exits 1 and, given TEXT, its message contains TEXT
bad_manifest() {
    printf '%b' "$2" >"$T/$1.csv"
    run "$ZS" dataset build --manifest "$T/$1.csv" --out "$T/o"
    check "$3 exits 1 (got $rc)" [ "$rc" -eq 1 ]
    if [ -n "${4:-}" ]; then check "$3: message lacks '$4'" grep -qF -- "$4" "$T/err"; fi
}
H='path,label,source,speaker,split\n'
bad_manifest badrow "${H}a.wav,zero,x,s1,train\nb.wav,one,x,s1\n" "short CSV row" "badrow.csv:3:"
bad_manifest badlabel "${H}a.wav,seventy,x,s1,train\n" "unknown label" "badlabel.csv:2: unknown label 'seventy'"
bad_manifest badsplit "${H}a.wav,zero,x,s1,dev\n" "unknown split" "unknown split 'dev'"
bad_manifest badheader 'file,class,split\na.wav,zero,train\n' "header without path/label" "header must name the columns"
bad_manifest badquote 'path,label,split\n"a.wav,zero,train\n' "unterminated quote"
bad_manifest empty 'path,label,split\n' "manifest without rows"

printf 'path,label,source,speaker,split\nno/such/clip.wav,zero,x,s1,train\n' >"$T/nofile.csv"
run "$ZS" dataset build --manifest "$T/nofile.csv" --out "$T/nofile" --quiet
check "missing audio file fails (got $rc)" failed_cleanly
check "missing audio file is named" grep -q "no/such/clip.wav" "$T/err"
check "nothing written after a failure" [ ! -e "$T/nofile/train.safetensors" ]

# ---- a tiny real data set ---------------------------------------------------
if [ ! -d "$SHARED/fsdd/recordings" ] || [ ! -d "$SHARED/micro_speech" ]; then
    skip "$SHARED/fsdd or $SHARED/micro_speech absent: dataset build on real audio not tested"
    finish
fi
S=$(cd "$SHARED" && pwd)
F=$S/fsdd/recordings
M=$T/m.csv
mkdir -p "$T/sub"
cp "$S/micro_speech/no_1000ms.wav" "$T/sub/no.wav"
{
    echo "path,label,source,speaker,split,word"
    for d in 0 1 2 3 4 5 6 7 8 9; do
        set -- zero one two three four five six seven eight nine
        shift "$d"
        echo "$F/${d}_jackson_0.wav,$1,fsdd,fsdd:jackson,train,$1"
    done
    for d in 0 1 2 3 4; do
        set -- zero one two three four
        shift "$d"
        echo "$F/${d}_theo_0.wav,$1,fsdd,fsdd:theo,train,$1"
        echo "$F/${d}_nicolas_0.wav,$1,fsdd,fsdd:nicolas,val,$1"
    done
    for d in 5 6 7 8 9; do
        set -- five six seven eight nine
        shift $((d - 5))
        echo "$F/${d}_george_0.wav,$1,fsdd,fsdd:george,test,$1"
    done
    echo "$S/micro_speech/yes_1000ms.wav,unknown,micro_speech,micro_speech:yes,test,yes"
    echo "sub/no.wav,unknown,micro_speech,micro_speech:no,test,no"
    echo "$S/micro_speech/noise_1000ms.wav,silence,micro_speech,micro_speech:noise,test,"
    echo "$S/micro_speech/silence_1000ms.wav,silence,micro_speech,micro_speech:silence,test,"
} >"$M"
check "test manifest has 29 clips" [ "$(rows "$M")" -eq 29 ]

run "$ZS" dataset build --manifest "$M" --out "$T/a" --augment 2 --seed 7 --quiet
check "build succeeds (rc $rc: $(head -c 300 "$T/err"))" [ "$rc" -eq 0 ]
for s in train val test; do
    check "$s.safetensors written" [ -s "$T/a/$s.safetensors" ]
    check "manifest_$s.csv written" [ -s "$T/a/manifest_$s.csv" ]
done
check "no speaker warning for a disjoint manifest" [ ! -s "$T/err" ]
check "counts table printed" grep -q "^nine .* 3 .* 0 .* 1 .* 4\$" "$T/out"

# sizes: train 15 clips x (1 + 2 copies); val and test are not augmented
check "train has 45 examples" [ "$(stat_n "$T/a/train.safetensors")" = 45 ]
check "val has 5 examples" [ "$(stat_n "$T/a/val.safetensors")" = 5 ]
check "test has 9 examples" [ "$(stat_n "$T/a/test.safetensors")" = 9 ]
"$ZS" dataset stats "$T/a/train.safetensors" >"$T/stats"
check "shape 1x32x32, 12 classes" grep -q "examples of 1x32x32, 12 classes" "$T/stats"
check "log-mel range: max 0 dB, floor -80 dB" grep -q "min -80.000 max 0.000" "$T/stats"
check "train zero = 6 (2 clips x 3)" [ "$(stat_count "$T/a/train.safetensors" zero)" = 6 ]
check "train nine = 3" [ "$(stat_count "$T/a/train.safetensors" nine)" = 3 ]
check "train unknown = 0" [ "$(stat_count "$T/a/train.safetensors" unknown)" = 0 ]
check "test unknown = 2" [ "$(stat_count "$T/a/test.safetensors" unknown)" = 2 ]
check "test silence = 2" [ "$(stat_count "$T/a/test.safetensors" silence)" = 2 ]
check "test zero = 0" [ "$(stat_count "$T/a/test.safetensors" zero)" = 0 ]
check "val four = 1" [ "$(stat_count "$T/a/val.safetensors" four)" = 1 ]

for s in train val test; do
    # labels in the file, in order, equal the labels of manifest_$s.csv
    "$ZS" dataset stats --labels "$T/a/$s.safetensors" | awk -F '\t' 'NF == 3 { print $3 }' >"$T/l1"
    tail -n +2 "$T/a/manifest_$s.csv" | cut -d, -f2 >"$T/l2"
    check "$s: file labels match manifest_$s.csv" cmp -s "$T/l1" "$T/l2"
    check "$s: manifest rows = examples" [ "$(rows "$T/a/manifest_$s.csv")" -eq "$(stat_n "$T/a/$s.safetensors")" ]
    # each example's label is the label its path has in the input manifest
    tail -n +2 "$T/a/manifest_$s.csv" | awk -F, '{ print $7 "," $2 }' | sort -u >"$T/p1"
    tail -n +2 "$M" | awk -F, -v s="$s" '$5 == s { print $1 "," $2 }' | sort -u >"$T/p2"
    check "$s: (path, label) pairs as in the input manifest" cmp -s "$T/p1" "$T/p2"
    tail -n +2 "$T/a/manifest_$s.csv" | cut -d, -f4 | sort -u >"$T/spk_$s"
done
check "train copies are 0,1,2 per clip" [ "$(tail -n +2 "$T/a/manifest_train.csv" | cut -d, -f6 | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')" = "0:15 1:15 2:15 " ]
check "train speakers are jackson and theo" [ "$(tr '\n' ' ' <"$T/spk_train")" = "fsdd:jackson fsdd:theo " ]
check "train and val share no speaker" [ -z "$(comm -12 "$T/spk_train" "$T/spk_val")" ]
check "train and test share no speaker" [ -z "$(comm -12 "$T/spk_train" "$T/spk_test")" ]
check "val and test share no speaker" [ -z "$(comm -12 "$T/spk_val" "$T/spk_test")" ]

# determinism: same seed -> same bytes, with 1 or 3 threads
run "$ZS" dataset build --manifest "$M" --out "$T/b" --augment 2 --seed 7 --threads 1 --quiet
check "rebuild succeeds" [ "$rc" -eq 0 ]
run "$ZS" dataset build --manifest "$M" --out "$T/c" --augment 2 --seed 7 --threads 3 --quiet
for s in train val test; do
    check "same seed, 1 thread: $s.safetensors identical" cmp -s "$T/a/$s.safetensors" "$T/b/$s.safetensors"
    check "same seed, 3 threads: $s.safetensors identical" cmp -s "$T/a/$s.safetensors" "$T/c/$s.safetensors"
    check "same seed: manifest_$s.csv identical" cmp -s "$T/a/manifest_$s.csv" "$T/b/manifest_$s.csv"
done
run "$ZS" dataset build --manifest "$M" --out "$T/d" --augment 2 --seed 8 --quiet
check "another seed changes train" differ "$T/a/train.safetensors" "$T/d/train.safetensors"
check "another seed leaves test alone" cmp -s "$T/a/test.safetensors" "$T/d/test.safetensors"
# --noise-p: 0.8 is the default (same bytes); 0 (no background noise) changes train only
run "$ZS" dataset build --manifest "$M" --out "$T/p8" --augment 2 --seed 7 --noise-p 0.8 --quiet
check "--noise-p 0.8: train identical to the default build's" cmp -s "$T/a/train.safetensors" "$T/p8/train.safetensors"
run "$ZS" dataset build --manifest "$M" --out "$T/p0" --augment 2 --seed 7 --noise-p 0 --quiet
check "--noise-p 0 builds (rc $rc)" [ "$rc" -eq 0 ]
check "--noise-p 0 changes train" differ "$T/a/train.safetensors" "$T/p0/train.safetensors"
check "--noise-p 0 leaves val alone" cmp -s "$T/a/val.safetensors" "$T/p0/val.safetensors"
check "--noise-p 0 is recorded in build.json" grep -q '"noise_p": 0,' "$T/p0/build.json"
run "$ZS" dataset build --manifest "$M" --out "$T/p2" --noise-p 1.5 --quiet
check "--noise-p 1.5 exits 2 (got $rc)" [ "$rc" -eq 2 ]
run "$ZS" dataset build --manifest "$M" --out "$T/e" --augment 0 --quiet
check "--augment 0: train has 15 examples" [ "$(stat_n "$T/e/train.safetensors")" = 15 ]
# val/test do not depend on --augment
check "--augment 0: val identical to the augmented build's" cmp -s "$T/a/val.safetensors" "$T/e/val.safetensors"

# a manifest without val/test clips: those files are not written, and stale
# ones from an earlier build in the same directory are removed
head -n 11 "$M" >"$T/trainonly.csv"
run "$ZS" dataset build --manifest "$T/trainonly.csv" --out "$T/e" --quiet
check "train-only manifest builds (rc $rc)" [ "$rc" -eq 0 ]
check "train-only: 10 train examples" [ "$(stat_n "$T/e/train.safetensors")" = 10 ]
check "train-only: stale test file removed" [ ! -e "$T/e/test.safetensors" ]
check "train-only: stale test manifest removed" [ ! -e "$T/e/manifest_test.csv" ]
check "train-only: says so" grep -q "no test clips" "$T/err"

# --splits: only the named splits are built; the others are left alone
cp "$T/e/train.safetensors" "$T/e/train.before"
run "$ZS" dataset build --manifest "$M" --out "$T/e" --splits test --quiet
check "--splits test builds (rc $rc)" [ "$rc" -eq 0 ]
check "--splits test: test as in the full build" cmp -s "$T/a/test.safetensors" "$T/e/test.safetensors"
check "--splits test: train left alone" cmp -s "$T/e/train.before" "$T/e/train.safetensors"
run "$ZS" dataset build --manifest "$M" --out "$T/e" --splits dev
check "--splits dev exits 2 (got $rc)" [ "$rc" -eq 2 ]

# --noise: the paper's (1 - a) x + a u on every example, seeded
run "$ZS" dataset build --manifest "$M" --out "$T/n1" --splits test --noise 0.1 --quiet
run "$ZS" dataset build --manifest "$M" --out "$T/n2" --splits test --noise 0.1 --threads 1 --quiet
check "--noise: same bytes again" cmp -s "$T/n1/test.safetensors" "$T/n2/test.safetensors"
check "--noise: differs from the clean test set" differ "$T/a/test.safetensors" "$T/n1/test.safetensors"
run "$ZS" dataset build --manifest "$M" --out "$T/n3" --augment 2 --noise 0.1 --quiet
check "--noise with --augment builds (rc $rc)" [ "$rc" -eq 0 ]
check "--noise with --augment: 45 train examples" [ "$(stat_n "$T/n3/train.safetensors")" = 45 ]
run "$ZS" dataset build --manifest "$M" --out "$T/n4" --noise 1.5
check "--noise 1.5 exits 2 (got $rc)" [ "$rc" -eq 2 ]

# a speaker in two splits is reported (and still built)
sed 's/fsdd:george,test/fsdd:jackson,test/' "$M" >"$T/shared.csv"
run "$ZS" dataset build --manifest "$T/shared.csv" --out "$T/f" --quiet
check "shared speaker: still built (rc $rc)" [ "$rc" -eq 0 ]
check "shared speaker: warned" grep -q "warning: speaker 'fsdd:jackson' is in both train and test" "$T/err"

finish
