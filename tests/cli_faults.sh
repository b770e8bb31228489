#!/bin/sh
# cli_faults.sh — faults injected into the zeroskip command:
#  (a) kill -9 during `train --out M --checkpoint C` (exactly inside a write,
#      before fsync, before rename with strace fault injection, and at random
#      times): M and C are the old files or complete new ones, never partial;
#  (b) disk full (a small tmpfs when mount works, RLIMIT_FSIZE, and injected
#      ENOSPC/EIO/EACCES): exit 3, message names the file, old model intact,
#      no temporary file left behind;
#  (c) resume: 1 epoch with --checkpoint, then --init CKPT --epochs 3 gives
#      a model byte-identical to an uninterrupted 3-epoch run;
#  (d) absurd sizes (header length, elements, tensors, layers, units) are
#      refused quickly, under `ulimit -v 2000000` (no large allocation);
#  (e) NaN/Inf weights, momentum, features and audio samples are refused
#      with a numeric error naming the file;
#  (f) representative CLI errors of every subcommand: documented exit code
#      (usage 2, input/format 1, I/O 3) and a message naming the file or
#      option.
# Data are generated here (tiny IDX files), so nothing outside the
# repository is needed. strace (fault injection) and mount (tmpfs) are
# optional: what needs them is skipped loudly when they are missing.
# Ends with "RESULT <passed> <failed>".
export LC_ALL=C
. "$(dirname "$0")/lib_cli.sh"
case "$ZS" in /*) ;; *) ZS="$(pwd)/$ZS" ;; esac
MNT="$T/mnt"
cleanup() { if [ -n "${MOUNTED:-}" ]; then umount "$MNT" 2>/dev/null; fi; rm -rf "$T"; }
trap cleanup EXIT
need "$ZS"
# strace runs: LeakSanitizer cannot work under ptrace (sanitizer builds)
st_run() { ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq "$@"; }
HAVE_STRACE=0
if command -v strace >/dev/null 2>&1 && strace -f -o /dev/null -e trace=none -e inject=getppid:error=EPERM true 2>/dev/null; then
    HAVE_STRACE=1
else
    skip "strace with fault injection not available: exact-moment kills and injected I/O errors not tested"
fi

# ---------------------------------------------------------------- helpers
# safetensors pieces (little-endian host, as od -tu8 reads it)
st_hlen() { od -An -tu8 -N8 "$1" | tr -d ' '; }
st_header() { tail -c +9 "$1" | head -c "$(st_hlen "$1")"; }
st_data() { tail -c +$((9 + $(st_hlen "$1"))) "$1"; }
# st_make OUT HEADER [DATAFILE]
st_make() { { le64 ${#2}; printf '%s' "$2"; [ -n "${3:-}" ] && cat "$3"; } >"$1"; }
# st_offset FILE TENSOR: start of the tensor's data, from the file's first byte
st_offset() {
    o=$(st_header "$1" | sed -n "s/.*\"$2\":{[^}]*\"data_offsets\":\[\([0-9]*\),.*/\1/p")
    [ -n "$o" ] && echo $((8 + $(st_hlen "$1") + o))
}
# poke FILE OFFSET OCTAL-BYTES: overwrite bytes in place
poke() { printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null; }
NAN='\000\000\300\177'; INF='\000\000\200\177'
# no_tmp DIR: no temporary file left in DIR
no_tmp() { [ -z "$(ls "$1" | grep '\.tmp\.')" ]; }
# only_tmp_extra DIR NAMES...: every file in DIR is one of NAMES or NAME.tmp.*
only_tmp_extra() {
    d=$1; shift
    for f in $(ls "$d"); do
        okf=0
        for n in "$@"; do case "$f" in "$n" | "$n".tmp.*) okf=1 ;; esac; done
        [ $okf -eq 1 ] || { echo "   unexpected file $d/$f"; return 1; }
    done
}

D="$T/data"; mkdir -p "$D" "$T/w"
mkidx "$D/mn" 256 28 10
mkidx "$D/sq" 24 32 12
TRAIN="train --preset mnist-mlp --data $D/mn-images-idx3-ubyte --batch 32 --lr 0.05 --momentum 0.9 --quiet"
# the model every fault must leave alone
expect_rc 0 "" "$ZS" $TRAIN --epochs 1 --seed 5 --out "$T/old.st"
cp "$T/old.st" "$T/old.copy"

# ------------------------------------------------ (c) resume is bit-identical
echo "== (c) resume"
expect_rc 0 "" "$ZS" $TRAIN --epochs 3 --out "$T/full.st" --checkpoint "$T/full.ckpt"
expect_rc 0 "" "$ZS" $TRAIN --epochs 1 --checkpoint "$T/c1.ckpt"
cp "$T/c1.ckpt" "$T/c1.copy"
expect_rc 0 "" "$ZS" train --init "$T/c1.ckpt" --data "$D/mn-images-idx3-ubyte" --batch 32 --lr 0.05 --momentum 0.9 --quiet \
    --epochs 2 --checkpoint "$T/c2.ckpt"
expect_rc 0 "" "$ZS" train --init "$T/c2.ckpt" --data "$D/mn-images-idx3-ubyte" --batch 32 --lr 0.05 --momentum 0.9 --quiet \
    --epochs 3 --out "$T/resumed.st" --checkpoint "$T/c3.ckpt"
check "1+1+1 resumed epochs != 3 uninterrupted epochs (model)" cmp -s "$T/full.st" "$T/resumed.st"
check "resumed checkpoint != uninterrupted checkpoint" cmp -s "$T/full.ckpt" "$T/c3.ckpt"
check "different seeds, epochs give different models" eval '! cmp -s "$T/full.st" "$T/old.st"'
expect_rc 0 "" "$ZS" train --init "$T/c1.copy" --data "$D/mn-images-idx3-ubyte" --batch 32 --lr 0.05 --momentum 0.9 --quiet \
    --epochs 3 --out "$T/resumed13.st"
check "1 + 2 resumed epochs != 3 uninterrupted epochs" cmp -s "$T/full.st" "$T/resumed13.st"
# a checkpoint that already holds all the epochs: nothing more to do, same model
expect_rc 0 "" "$ZS" train --init "$T/full.ckpt" --data "$D/mn-images-idx3-ubyte" --batch 32 --lr 0.05 --momentum 0.9 --quiet \
    --epochs 3 --out "$T/again.st"
check "resuming a finished checkpoint changed the model" cmp -s "$T/full.st" "$T/again.st"

# ------------------------------------------------ (a) kill -9
echo "== (a) kill -9 during train --out/--checkpoint"
W="$T/w"
if [ $HAVE_STRACE -eq 1 ]; then
    # writes of one checkpoint of this network (header + tensors), counted
    rm -f "$W"/*
    st_run -o "$T/trace" -e trace=write "$ZS" $TRAIN --epochs 1 --checkpoint "$W/count.ckpt" >/dev/null 2>&1
    NW=$(grep -c 'write(' "$T/trace")
    [ "$NW" -ge 3 ] && ok || bad "could not count the writes of a checkpoint ($NW)"
    for how in "write:signal=KILL:when=3" "fsync:signal=KILL" "rename:signal=KILL"; do
        rm -f "$W"/*; cp "$T/old.st" "$W/M"
        st_run -o /dev/null -e trace=write,fsync,rename -e inject="$how" "$ZS" $TRAIN --epochs 1 --out "$W/M" \
            >/dev/null 2>&1; rc=$?
        check "killed at $how: exit status 0" [ $rc -ne 0 ]
        check "killed at $how (saving --out): the old model changed" cmp -s "$W/M" "$T/old.st"
        check "killed at $how: stray files besides M and M.tmp.*" only_tmp_extra "$W" M
        check "killed at $how: expected the temporary file M.tmp.<pid> to remain" eval '[ -n "$(ls "$W" | grep "^M\.tmp\.")" ]'
        expect_rc 0 "" "$ZS" info "$W/M"
    done
    # inside the 2nd checkpoint (3rd write of it), then at its fsync: the
    # 1st checkpoint stays, identical to c1.ckpt, and resuming from it
    # reproduces the uninterrupted run
    for how in "write:signal=KILL:when=$((NW + 3))" "fsync:signal=KILL:when=2"; do
        rm -f "$W"/*
        st_run -o /dev/null -e trace=write,fsync -e inject="$how" "$ZS" $TRAIN --epochs 3 --checkpoint "$W/C" \
            --out "$W/M" >/dev/null 2>&1; rc=$?
        check "killed at $how: exit status 0" [ $rc -ne 0 ]
        check "killed in checkpoint 2 at $how: C is not checkpoint 1" cmp -s "$W/C" "$T/c1.copy"
        check "killed at $how: M exists" [ ! -e "$W/M" ]
        check "killed at $how: stray files" only_tmp_extra "$W" C
        expect_rc 0 "" "$ZS" train --init "$W/C" --data "$D/mn-images-idx3-ubyte" --batch 32 --lr 0.05 --momentum 0.9 \
            --quiet --epochs 3 --out "$W/M"
        check "resumed after kill at $how != uninterrupted run" cmp -s "$W/M" "$T/full.st"
    done
fi
# real kill -9 at pseudo-random moments of a long run writing a checkpoint
# every epoch (~0.3 s) and then --out
seed=7
for k in 1 2 3 4 5 6; do
    rm -f "$W"/*; cp "$T/old.st" "$W/M"
    seed=$(( (seed * 1103515245 + 12345) % 2147483648 ))
    delay=$(awk -v s=$seed 'BEGIN { printf "%.2f", 0.2 + (s % 1000) / 400 }')
    "$ZS" $TRAIN --epochs 1000 --checkpoint "$W/C" --out "$W/M" >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    check "kill -9 after ${delay}s: the old model changed" cmp -s "$W/M" "$T/old.st"
    check "kill -9 after ${delay}s: stray files" only_tmp_extra "$W" M C
    if [ -e "$W/C" ]; then
        expect_rc 0 "" "$ZS" info "$W/C"
    fi
    echo "   kill -9 after ${delay}s: checkpoint $([ -e "$W/C" ] && echo present, loads || echo 'not yet written'), $(ls "$W" | grep -c '\.tmp\.') temporary file(s)"
done

# ------------------------------------------------ (b) disk full
echo "== (b) disk full"
mkdir -p "$MNT"
if mount -t tmpfs -o size=2400k tmpfs "$MNT" 2>/dev/null; then
    MOUNTED=1
    cp "$T/old.st" "$MNT/M"     # 1.6 MB of 2.4 MB: a second copy cannot fit
    expect_rc 3 "$MNT/M.*(No space|space left)" "$ZS" $TRAIN --epochs 1 --out "$MNT/M"
    check "tmpfs full: the old model changed" cmp -s "$MNT/M" "$T/old.st"
    check "tmpfs full: temporary file left behind: $(ls "$MNT")" no_tmp "$MNT"
    expect_rc 3 "$MNT/C.*(No space|space left)" "$ZS" $TRAIN --epochs 2 --checkpoint "$MNT/C"
    check "tmpfs full: checkpoint or temporary left: $(ls "$MNT")" eval '[ ! -e "$MNT/C" ] && no_tmp "$MNT"'
    umount "$MNT" && MOUNTED=
else
    skip "cannot mount a tmpfs (not root?): disk-full tested with RLIMIT_FSIZE and injected ENOSPC only"
fi
# RLIMIT_FSIZE: the write fails with EFBIG once SIGXFSZ is ignored
rm -f "$W"/*; cp "$T/old.st" "$W/M"
( trap '' XFSZ; ulimit -f 1000; "$ZS" $TRAIN --epochs 1 --out "$W/M" >"$T/out" 2>"$T/err" ); rc=$?
check "RLIMIT_FSIZE: exit $rc, want 3: $(head -c 200 "$T/err")" [ $rc -eq 3 ]
check "RLIMIT_FSIZE: message should name $W/M and say 'too large': $(head -c 200 "$T/err")" grep -q "$W/M.*too large" "$T/err"
check "RLIMIT_FSIZE: old model changed or temporary left" eval 'cmp -s "$W/M" "$T/old.st" && no_tmp "$W"'
( trap '' XFSZ; ulimit -f 1; "$ZS" features tests/data/audio/yes_1000ms.wav --out "$W/f.f32" >"$T/out" 2>"$T/err" ); rc=$?
check "features --out over RLIMIT_FSIZE: exit $rc, $(head -c 200 "$T/err")" \
    eval '[ $rc -eq 3 ] && grep -q "f.f32" "$T/err" && [ ! -e "$W/f.f32" ] && no_tmp "$W"'
if [ $HAVE_STRACE -eq 1 ]; then
    for how in "write:error=ENOSPC:when=3" "fsync:error=EIO" "rename:error=EACCES"; do
        rm -f "$W"/*; cp "$T/old.st" "$W/M"
        run st_run -o /dev/null -e trace=write,fsync,rename -e inject="$how" "$ZS" $TRAIN --epochs 1 --out "$W/M"
        check "injected $how: exit $rc (want 3), message: $(head -c 200 "$T/err")" eval '[ $rc -eq 3 ] && grep -q "$W/M" "$T/err"'
        check "injected $how: old model changed or temporary left: $(ls "$W")" eval 'cmp -s "$W/M" "$T/old.st" && no_tmp "$W"'
    done
    rm -f "$W"/*
    run st_run -o /dev/null -e trace=write -e inject="write:error=ENOSPC:when=$((NW + 2))" "$ZS" $TRAIN --epochs 3 \
        --checkpoint "$W/C"
    check "ENOSPC in checkpoint 2: exit $rc (want 3), checkpoint 1 kept, no temporary: $(head -c 200 "$T/err")" \
        eval '[ $rc -eq 3 ] && cmp -s "$W/C" "$T/c1.copy" && no_tmp "$W"'
fi

# ------------------------------------------------ (d) absurd sizes
echo "== (d) resource limits (under ulimit -v 2000000, 20 s each)"
# a tiny model to edit: 2x2 inputs, 2 classes
printf '{"name":"tiny","input":[1,2,2],"layers":[{"type":"flatten","name":"f"},{"type":"linear","name":"fc","out_features":2},{"type":"logsoftmax","name":"s"}]}' >"$T/tiny.json"
mkidx "$D/tiny" 8 2 2
expect_rc 0 "" "$ZS" train --arch "$T/tiny.json" --data "$D/tiny-images-idx3-ubyte" --quiet --out "$T/tiny.st"
H=$(st_header "$T/tiny.st"); st_data "$T/tiny.st" >"$T/tiny.data"
# bounded: limited virtual memory and time. Sanitizer builds reserve
# terabytes of shadow address space and cannot start under ulimit -v: there
# the refusals are checked with the time limit only, and the one case that
# does allocate today (2^30 weights) is skipped rather than risk 12 GiB.
LIMV=2000000
if ! ( ulimit -v $LIMV; exec "$ZS" version ) >/dev/null 2>&1; then
    skip "$ZS cannot run under ulimit -v $LIMV (sanitizer build?): no memory cap in (d)"
    LIMV=
fi
lim() { ( [ -n "$LIMV" ] && ulimit -v $LIMV; exec timeout 20 "$@" ); }
refused() { # NAME FILE [PATTERN]: `info FILE` exits 1 quickly with a message naming FILE
    run lim "$ZS" info "$2"
    if [ "$rc" -ne 1 ]; then bad "$1: info exited $rc, want 1: $(head -c 300 "$T/err")"
    elif ! grep -q "$2" "$T/err"; then bad "$1: message does not name the file: $(head -c 300 "$T/err")"
    elif [ -n "${3:-}" ] && ! grep -Eiq "$3" "$T/err"; then bad "$1: message lacks /$3/: $(head -c 300 "$T/err")"
    else ok; echo "   $1: $(head -c 160 "$T/err")"; fi
}
{ le64 4611686018427387904; printf '{}'; } >"$T/hdr_huge.st"
refused "header length 2^62" "$T/hdr_huge.st" "limit|header"
{ le64 $((16 * 1024 * 1024 + 1)); printf '{"a":1}'; } >"$T/hdr_16m.st"
refused "header length 16 MiB + 1" "$T/hdr_16m.st" "limit|header"
{ le64 -1; } >"$T/hdr_max.st"
refused "header length 2^64-1" "$T/hdr_max.st"
st_make "$T/elems.st" "$(printf '%s' "$H" | sed 's/"fc.bias":{"dtype":"F32","shape":\[2\]/"fc.bias":{"dtype":"F32","shape":[1000000,1000000]/')" "$T/tiny.data"
check "could not craft the 10^12-element file" eval 'st_header "$T/elems.st" | grep -q 1000000,1000000'
refused "tensor of 10^12 elements" "$T/elems.st" "limit|elements"
cp "$T/tiny.data" "$T/extra.data"; printf 'abcd' >>"$T/extra.data"
st_make "$T/extra.st" "$(printf '%s' "$H" | sed 's/^{/{"zz_extra":{"dtype":"F32","shape":[1],"data_offsets":[40,44]},/')" "$T/extra.data"
refused "tensor not in the architecture" "$T/extra.st" "zz_extra.*not in the architecture"
many=$(awk 'BEGIN { printf "{"; for (i = 0; i < 5000; i++) printf "%s\"t%d\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}", i ? "," : "", i; printf "}" }')
st_make "$T/many.st" "$many"
refused "5000 tensors" "$T/many.st" "limit|tensors"
# architecture JSON inside the model: 10^9 units, 2^30 weights, 300 layers
arch_model() { # OUT ARCH-JSON (no tensors: they must not be needed to refuse)
    a=$(printf '%s' "$2" | sed 's/"/\\"/g')
    st_make "$1" "{\"__metadata__\":{\"format\":\"zeroskip\",\"arch\":\"$a\"}}"
}
arch_model "$T/units.st" '{"input":[1,8,8],"layers":[{"type":"flatten"},{"type":"linear","out_features":1000000000},{"type":"logsoftmax"}]}'
refused "architecture with 10^9 units" "$T/units.st" "out_features"
layers=$(awk 'BEGIN { for (i = 0; i < 300; i++) printf "{\"type\":\"relu\"},"; }')
arch_model "$T/layers.st" "{\"input\":[1,1,1],\"layers\":[$layers{\"type\":\"logsoftmax\"}]}"
refused "architecture with 301 layers" "$T/layers.st" "limit|layers"
# within every per-layer limit, but 2^30 weights (12 GiB with gradients and
# momentum) declared by a 300-byte file: must be refused before allocating
if [ -n "$LIMV" ]; then
    arch_model "$T/weights.st" '{"input":[1,8,8],"layers":[{"type":"flatten"},{"type":"linear","out_features":16777216},{"type":"linear","out_features":2},{"type":"logsoftmax"}]}'
    refused "2^30 weights declared, no data" "$T/weights.st"
    check "2^30 weights: refused only because allocation failed under ulimit -v (no size check before allocating): $(head -c 200 "$T/err")" eval '! grep -qi "out of memory" "$T/err"'
    # under ZS_MAX_PARAMS (2^28), still 256 M parameters (3 GiB with gradients
    # and momentum) that a 300-byte file cannot hold: the loader must compare
    # the declared tensors with the file before building the network
    arch_model "$T/params.st" '{"input":[1,8,8],"layers":[{"type":"flatten"},{"type":"linear","out_features":4000000},{"type":"linear","out_features":2},{"type":"logsoftmax"}]}'
    refused "256 M parameters declared, no data" "$T/params.st"
    check "256 M parameters: refused only because allocation failed under ulimit -v (the loader allocates before checking the file holds the tensors): $(head -c 200 "$T/err")" eval '! grep -qi "out of memory" "$T/err"'
    printf '{"input":[1,8,8],"layers":[{"type":"flatten"},{"type":"linear","out_features":16777216},{"type":"linear","out_features":2},{"type":"logsoftmax"}]}' >"$T/big.json"
    run lim "$ZS" train --arch "$T/big.json" --data "$D/tiny-images-idx3-ubyte" --quiet
    check "train --arch with 2^30 weights: exit $rc, want a limit error: $(head -c 200 "$T/err")" eval '[ $rc -eq 1 ] && ! grep -qi "out of memory" "$T/err"'
else
    skip "2^30-weight architectures: no memory cap available"
fi
# data files: 10^12 features, an IDX file claiming 2^31 images
st_make "$T/data_huge.st" '{"features":{"dtype":"F32","shape":[1000000,1,1000,1000],"data_offsets":[0,16]},"labels":{"dtype":"I32","shape":[1000000],"data_offsets":[16,20]}}'
printf '0123456789abcdef0123' >>"$T/data_huge.st"
run lim "$ZS" eval --model "$T/tiny.st" --data "$T/data_huge.st"
check "eval with 10^12 features: exit $rc: $(head -c 200 "$T/err")" eval '[ $rc -eq 1 ] && grep -q data_huge.st "$T/err"'
{ be32 2051; be32 2147483647; be32 28; be32 28; printf 'xxxx'; } >"$T/big-images-idx3-ubyte"
{ be32 2049; be32 2147483647; printf 'x'; } >"$T/big-labels-idx1-ubyte"
run lim "$ZS" eval --model "$T/old.st" --data "$T/big-images-idx3-ubyte"
check "IDX claiming 2^31 images: exit $rc: $(head -c 200 "$T/err")" eval '[ $rc -eq 1 ] && grep -q big-images "$T/err"'

# ------------------------------------------------ (e) NaN / Inf
echo "== (e) NaN and Inf"
for what in NAN INF; do
    eval "bytes=\$$what"
    cp "$T/old.st" "$T/bad_$what.st"
    off=$(st_offset "$T/bad_$what.st" fc1.weight)
    check "no fc1.weight in the header" [ -n "$off" ]
    poke "$T/bad_$what.st" $((off + 4 * 1000)) "$bytes"
    expect_rc 1 "bad_$what.st.*(NaN|Inf)" "$ZS" info "$T/bad_$what.st"
    expect_rc 1 "bad_$what.st.*(NaN|Inf)" "$ZS" eval --model "$T/bad_$what.st" --data "$D/mn-images-idx3-ubyte"
done
cp "$T/c1.copy" "$T/bad_mom.ckpt"
off=$(st_offset "$T/bad_mom.ckpt" output.weight.momentum)
check "no output.weight.momentum in the checkpoint header" [ -n "$off" ]
poke "$T/bad_mom.ckpt" $((off + 8)) "$NAN"
expect_rc 1 "bad_mom.ckpt.*(NaN|Inf)" "$ZS" train --init "$T/bad_mom.ckpt" --data "$D/mn-images-idx3-ubyte" --quiet --epochs 2
cp "$T/old.st" "$T/bad_bias.st"
off=$(st_offset "$T/bad_bias.st" output.bias)
poke "$T/bad_bias.st" "$off" '\000\000\200\377'   # -Inf
expect_rc 1 "bad_bias.st.*(NaN|Inf)" "$ZS" info "$T/bad_bias.st"
# finite weights whose products overflow: reported at eval, never predicted
cp "$T/old.st" "$T/overflow.st"
for t in fc1.weight output.weight; do
    off=$(st_offset "$T/overflow.st" $t)
    i=0; while [ $i -lt 400 ]; do poke "$T/overflow.st" $((off + 4 * i)) '\312\362\111\161'; i=$((i + 1)); done  # 1e30
done
expect_rc 0 "" "$ZS" info "$T/overflow.st"
expect_rc 1 "(NaN|Inf)" "$ZS" eval --model "$T/overflow.st" --data "$D/mn-images-idx3-ubyte"
check "overflowing model: eval printed an accuracy" eval '! grep -q "accuracy" "$T/out"'
check "overflowing model: the message should name the model or the data: $(head -c 200 "$T/err")" eval 'grep -Eq "overflow.st|mn-images" "$T/err"'
expect_rc 1 "(NaN|Inf)" "$ZS" eval --model "$T/overflow.st" --data "$D/mn-images-idx3-ubyte" --dense
# eval data with a NaN feature: reported (file named), never predicted
printf '\000\000\200\077' >"$T/one"
for i in 1 2 3 4 5 6 7; do cat "$T/one"; done >"$T/feat"; printf "$NAN" >>"$T/feat"
printf '\000\000\000\000\001\000\000\000' >>"$T/feat"
st_make "$T/nan_data.st" '{"features":{"dtype":"F32","shape":[2,1,2,2],"data_offsets":[0,32]},"labels":{"dtype":"I32","shape":[2],"data_offsets":[32,40]}}' "$T/feat"
expect_rc 1 "nan_data.st.*(NaN|Inf)" "$ZS" eval --model "$T/tiny.st" --data "$T/nan_data.st"
check "NaN data: eval printed an accuracy" eval '! grep -q "accuracy" "$T/out"'
expect_rc 1 "nan_data.st.*(NaN|Inf)" "$ZS" train --init "$T/tiny.st" --data "$T/nan_data.st" --quiet
# a float WAV with a NaN sample
{ printf 'RIFF'; le32 $((36 + 400)); printf 'WAVEfmt '; le32 16; byte 3; byte 0; byte 1; byte 0; le32 16000; le32 64000
  byte 4; byte 0; byte 32; byte 0; printf 'data'; le32 400
  i=0; while [ $i -lt 100 ]; do if [ $i -eq 50 ]; then printf "$NAN"; else printf '\000\000\000\077'; fi; i=$((i + 1)); done
} >"$T/nan.wav"
expect_rc 1 "nan.wav.*(NaN|nan|infinite)" "$ZS" features "$T/nan.wav"

# ------------------------------------------------ (f) CLI errors: exit code and the culprit named
echo "== (f) CLI errors"
expect_rc 0 "" "$ZS" train --preset gsc-sparse-fast --data "$D/sq-images-idx3-ubyte" --epochs 1 --batch 8 --quiet --out "$T/gsc.st"
WAV=tests/data/audio/yes_1000ms.wav
printf 'garbage' >"$T/junk.bin"
printf '{"input":[1,28,28],' >"$T/bad.json"
# usage: 2, the option named
expect_rc 2 "--epochs" "$ZS" train --preset mnist-mlp --data x --epochs 0
expect_rc 2 "--lr" "$ZS" train --preset mnist-mlp --data x --lr nan
expect_rc 2 "--seed" "$ZS" train --preset mnist-mlp --data x --seed -3
expect_rc 2 "--batch" "$ZS" train --preset mnist-mlp --data x --batch 99999999999999999999
expect_rc 2 "--frob" "$ZS" train --preset mnist-mlp --data x --frob
expect_rc 2 "--data" "$ZS" train --preset mnist-mlp
expect_rc 2 "--preset" "$ZS" info --preset
expect_rc 2 "--model" "$ZS" eval --data x
expect_rc 2 "--noise" "$ZS" features "$WAV" --noise 1.5
expect_rc 2 "--max-seconds" "$ZS" features "$WAV" --max-seconds -1
expect_rc 2 "--top" "$ZS" listen --model "$T/gsc.st" --top 0 "$WAV"
expect_rc 2 "--hop" "$ZS" listen --model "$T/gsc.st" --stream "$WAV" --hop 7
expect_rc 2 "frob" "$ZS" dataset frob
expect_rc 2 "--batch" "$ZS" bench --batch abc
expect_rc 2 "--networks" "$ZS" bench --networks 0
expect_rc 2 "frobnicate" "$ZS" frobnicate
# I/O: 3, the file named
expect_rc 3 "nonexist.st" "$ZS" info "$T/nonexist.st"
expect_rc 3 "$T" "$ZS" info "$T"
expect_rc 3 "nonexist-images" "$ZS" train --preset mnist-mlp --data "$T/nonexist-images-idx3-ubyte"
expect_rc 3 "nonexist.st" "$ZS" train --preset mnist-mlp --data "$D/mn-images-idx3-ubyte" --val "$T/nonexist.st" --quiet
expect_rc 3 "nonexist.json" "$ZS" train --arch "$T/nonexist.json" --data "$D/mn-images-idx3-ubyte"
expect_rc 3 "/nonexistent/m.st" "$ZS" train --preset mnist-mlp --data "$D/mn-images-idx3-ubyte" --quiet --out /nonexistent/m.st
expect_rc 3 "/nonexistent/c.csv" "$ZS" train --preset mnist-mlp --data "$D/mn-images-idx3-ubyte" --quiet --csv /nonexistent/c.csv
expect_rc 3 "nonexist.st" "$ZS" eval --model "$T/nonexist.st" --data "$D/mn-images-idx3-ubyte"
expect_rc 3 "nonexist.wav" "$ZS" features "$T/nonexist.wav"
expect_rc 3 "/nonexistent/f.f32" "$ZS" features "$WAV" --out /nonexistent/f.f32
expect_rc 3 "nonexist.st" "$ZS" listen --model "$T/nonexist.st" "$WAV"
expect_rc 3 "nonexist.st" "$ZS" dataset stats "$T/nonexist.st"
expect_rc 3 "nonexist.csv" "$ZS" dataset build --manifest "$T/nonexist.csv" --out "$T/ds"
expect_rc 3 "nonexist.st" "$ZS" bench --model "$T/nonexist.st" --quick
# input/format: 1, the file named
expect_rc 1 "junk.bin" "$ZS" info "$T/junk.bin"
expect_rc 1 "junk.bin" "$ZS" eval --model "$T/junk.bin" --data "$D/mn-images-idx3-ubyte"
expect_rc 1 "junk.bin" "$ZS" eval --model "$T/old.st" --data "$T/junk.bin"
expect_rc 1 "junk.bin" "$ZS" train --init "$T/junk.bin" --data "$D/mn-images-idx3-ubyte"
expect_rc 1 "bad.json" "$ZS" train --arch "$T/bad.json" --data "$D/mn-images-idx3-ubyte"
expect_rc 1 "sq-images" "$ZS" train --preset mnist-mlp --data "$D/sq-images-idx3-ubyte" --quiet
expect_rc 1 "sq-images" "$ZS" eval --model "$T/old.st" --data "$D/sq-images-idx3-ubyte"
expect_rc 1 "junk.bin" "$ZS" features "$T/junk.bin"
expect_rc 1 "junk.bin" "$ZS" listen --model "$T/gsc.st" "$T/junk.bin"
expect_rc 1 "old.st" "$ZS" listen --model "$T/old.st" "$WAV"
expect_rc 1 "junk.bin" "$ZS" dataset stats "$T/junk.bin"
expect_rc 1 "junk.bin" "$ZS" bench --model "$T/junk.bin" --quick
expect_rc 1 "nosuch" "$ZS" info --preset nosuch

finish
