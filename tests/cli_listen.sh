#!/bin/sh
# cli_listen.sh — `zeroskip features` and `zeroskip listen` end to end:
# features vs the committed reference, every bad input (missing file, not
# audio, truncated header, zero samples, absurd length, unsupported channel
# count, bad arguments), file mode, --top/--json, multi-file calls with a
# failing file, and --stream over a 4 s concatenation (file, raw PCM and WAV
# on stdin).
#
# The model is trained here, in seconds, on the test clips themselves
# (classes silence, unknown, yes, no; yes/no from micro_speech, two FSDD
# digits as unknown): it checks the plumbing (features -> model -> labels,
# windows and timing of detections), not generalisation.
# Prints `RESULT <passed> <failed>` last.
. "$(dirname "$0")/lib_cli.sh"
D=tests/data/audio
# err_has TEXT DESC: the last stderr contains TEXT
err_has() { if grep -qF -- "$1" "$T/err"; then ok; else bad "$2: stderr lacks '$1':"; sed 's/^/    /' "$T/err" | head -3; fi; }
out_has() { if grep -qE -- "$1" "$T/out"; then ok; else bad "$2: stdout lacks /$1/:"; sed 's/^/    /' "$T/out" | head -8; fi; }

need "$ZS"

# WAV headers, in plain sh
# wav_header CHANNELS RATE DATA_BYTES: 16-bit PCM
wav_header() {
    printf 'RIFF'; le32 $((36 + $3)); printf 'WAVEfmt '; le32 16; le16 1; le16 "$1"; le32 "$2"
    le32 $(($2 * $1 * 2)); le16 $(($1 * 2)); le16 16; printf 'data'; le32 "$3"
}
pcm() { tail -c 32000 "$D/$1.wav"; }   # the micro_speech clips: 44-byte header + 1 s

# ---- features -------------------------------------------------------------
expect_rc 0 "" "$ZS" features --help
out_has "^usage: zeroskip features" "features --help"
expect_rc 0 "" "$ZS" features "$D/yes_1000ms.wav" --out "$T/yes.f32"
check "features --out writes 4096 bytes" [ "$(wc -c <"$T/yes.f32")" -eq 4096 ]
expect_rc 0 "" "$ZS" features "$D/no_1000ms.wav"
check "features prints 32 lines" [ "$(wc -l <"$T/out")" -eq 32 ]
check "features prints 32 values per line" [ "$(awk '{ if (NF != 32) bad = 1 } END { print bad + 0 }' "$T/out")" -eq 0 ]
# text output vs the committed reference (printed with 4 decimals)
od -A n -v -t f4 -w128 "$D/no_1000ms.logmel.f32" >"$T/ref.txt"
check "features text matches reference within 0.01 dB" awk -v R="$T/ref.txt" '
    { getline line < R; n = split(line, r, " "); for (i = 1; i <= 32; i++) { d = $i - r[i]; if (d < 0) d = -d; if (d > m) m = d } }
    END { printf "    features vs reference: max %.5f dB\n", m; exit !(m <= 0.01) }' "$T/out"
expect_rc 0 "" "$ZS" features "$D/no_1000ms.wav" --csv
check "features --csv: 32 comma-separated values" [ "$(awk -F, '{ if (NF != 32) bad = 1 } END { print bad + 0 }' "$T/out")" -eq 0 ]
expect_rc 0 "" "$ZS" features "$D/yes_1000ms.wav" --noise 0.1 --seed 7 --out "$T/n1.f32"
expect_rc 0 "" "$ZS" features "$D/yes_1000ms.wav" --noise 0.1 --seed 7 --out "$T/n2.f32"
expect_rc 0 "" "$ZS" features "$D/yes_1000ms.wav" --noise 0.1 --seed 8 --out "$T/n3.f32"
check "same noise seed, same features" cmp -s "$T/n1.f32" "$T/n2.f32"
check "other noise seed, other features" sh -c "! cmp -s '$T/n1.f32' '$T/n3.f32'"
check "noise changes the features" sh -c "! cmp -s '$T/n1.f32' '$T/yes.f32'"
expect_rc 0 "" "$ZS" features "$D/0_george_0.wav" --out "$T/g.f32"

# bad inputs, made here
printf 'this is not audio\n' >"$T/notes.txt"
head -c 20 "$D/yes_1000ms.wav" >"$T/trunc-header.wav"
head -c 44 "$D/yes_1000ms.wav" >"$T/no-samples.wav"
{ wav_header 1 16000 0; } >"$T/empty.wav"
i=0
while [ $i -lt 35 ]; do pcm yes_1000ms; i=$((i + 1)); done >"$T/long.raw"
{ wav_header 1 16000 $((35 * 32000)); cat "$T/long.raw"; } >"$T/long.wav"
{ wav_header 9 16000 31986; pcm yes_1000ms | head -c 31986; } >"$T/nine.wav"

expect_rc 3 "" "$ZS" features "$T/missing.wav"
err_has "missing.wav: cannot open: No such file" "features: missing file"
expect_rc 1 "" "$ZS" features "$T/notes.txt"
err_has "notes.txt: not a readable audio file" "features: not audio"
expect_rc 1 "" "$ZS" features "$T/trunc-header.wav"
err_has "trunc-header.wav: not a readable audio file" "features: truncated header"
expect_rc 1 "" "$ZS" features "$T/no-samples.wav"
err_has "no-samples.wav: no audio samples" "features: header without samples"
expect_rc 1 "" "$ZS" features "$T/empty.wav"
err_has "empty.wav: no audio samples" "features: empty WAV"
expect_rc 1 "" "$ZS" features "$T/nine.wav"
err_has "nine.wav: 9 channels; at most 8 are supported" "features: 9 channels"
expect_rc 1 "" "$ZS" features "$T/long.wav" --max-seconds 10
err_has "long.wav: 35.00 s of audio, more than the limit of 10 s" "features: too long"
expect_rc 2 "" "$ZS" features
expect_rc 2 "" "$ZS" features "$D/yes_1000ms.wav" --bogus
expect_rc 2 "" "$ZS" features "$D/yes_1000ms.wav" --noise 1.5
expect_rc 2 "" "$ZS" features "$D/yes_1000ms.wav" --noise
expect_rc 2 "" "$ZS" features "$D/yes_1000ms.wav" --out "$T/x.f32" --csv
expect_rc 2 "" "$ZS" features "$D/yes_1000ms.wav" "$D/no_1000ms.wav"

# ---- listen: arguments (no model needed) ---------------------------------
expect_rc 0 "" "$ZS" listen --help
out_has "^usage: zeroskip listen" "listen --help"
expect_rc 2 "" "$ZS" listen "$D/yes_1000ms.wav"
expect_rc 2 "" "$ZS" listen --model "$T/m.st"
expect_rc 2 "" "$ZS" listen --model "$T/m.st" --top 0 "$D/yes_1000ms.wav"
expect_rc 2 "" "$ZS" listen --model "$T/m.st" --stream - --hop 5
expect_rc 2 "" "$ZS" listen --model "$T/m.st" --stream - --smooth 0
expect_rc 2 "" "$ZS" listen --model "$T/m.st" --stream - --threshold 2
expect_rc 2 "" "$ZS" listen --model "$T/m.st" --stream - "$D/yes_1000ms.wav"
expect_rc 2 "" "$ZS" listen --model "$T/m.st" --raw-rate 16000 "$D/yes_1000ms.wav"
expect_rc 2 "" "$ZS" listen --model "$T/m.st" --bogus "$D/yes_1000ms.wav"
expect_rc 2 "" "$ZS" listen --model "$T/m.st" --int8 --int16 --calib models/calib-gsc-train.safetensors "$D/yes_1000ms.wav"
expect_rc 2 "" "$ZS" listen --model "$T/m.st" --int16 "$D/yes_1000ms.wav"
# the int16 integer scheme gives the fp32 labels on the six real clips (shipped model)
"$ZS" listen --model models/gsc-sparse.safetensors $D/*.wav 2>/dev/null | cut -f1,2 >"$T/l32"
"$ZS" listen --model models/gsc-sparse.safetensors --int16 --calib models/calib-gsc-train.safetensors $D/*.wav 2>/dev/null | cut -f1,2 >"$T/l16"
[ -s "$T/l32" ] && [ "$(wc -l <"$T/l32")" -eq 6 ] && cmp -s "$T/l32" "$T/l16" && ok || bad "listen --int16: labels as fp32 on the six clips"
# the int8 path (zs_net_set_int8_weights): the same labels on the six clips
"$ZS" listen --model models/gsc-sparse.safetensors --int8-weights $D/*.wav 2>/dev/null | cut -f1,2 >"$T/l8w"
cmp -s "$T/l32" "$T/l8w" && ok || bad "listen --int8-weights: labels as fp32 on the six clips"
expect_rc 2 "" "$ZS" listen --model "$T/m.st" --int8 --calib models/calib-gsc-train.safetensors --int8-weights "$D/yes_1000ms.wav"
expect_rc 3 "" "$ZS" listen --model "$T/m.st" "$D/yes_1000ms.wav"
err_has "m.st" "listen: missing model is named"

# ---- a small model trained on the test clips ------------------------------
# classes: 0 silence, 1 unknown, 2 yes, 3 no. Examples: each clip clean and
# with three noise levels, plus 1 s windows cut every 0.125 s from a 5 s
# concatenation (silence, yes, noise, no, silence): a window holding all of
# a word's loud core (yes 1.45-1.8 s, no 3.45-3.75 s) is that word, one
# holding none of either is silence, the others are left out.
{ pcm silence_1000ms; pcm yes_1000ms; pcm noise_1000ms; pcm no_1000ms; pcm silence_1000ms; } >"$T/cat5.raw"
n=0
: >"$T/labels"
: >"$T/feats"
# Whole clips are centred as `listen FILE` centres them; stream windows are
# taken as they are, as `listen --stream` sees them ($CENTRE).
CENTRE=--centre
add() {   # add WAV LABEL [NOISE SEED]
    if [ -n "$3" ]; then "$ZS" features "$1" $CENTRE --noise "$3" --seed "$4" --out "$T/f.f32"
    else "$ZS" features "$1" $CENTRE --out "$T/f.f32"; fi || return
    cat "$T/f.f32" >>"$T/feats"
    le32 "$2" >>"$T/labels"
    n=$((n + 1))
}
for spec in silence_1000ms:0 noise_1000ms:0 0_george_0:1 7_jackson_32:1 yes_1000ms:2 no_1000ms:3; do
    clip=${spec%:*}; lab=${spec#*:}
    add "$D/$clip.wav" "$lab"
    add "$D/$clip.wav" "$lab" 0.003 1
    add "$D/$clip.wav" "$lab" 0.01 2
    add "$D/$clip.wav" "$lab" 0.02 3
done
k=0
CENTRE=
while [ $k -le 32 ]; do   # window start k * 0.125 s
    lab=
    case $k in
        0|1|2|3|15|16|17|18|19|31|32) lab=0 ;;
        7|8|9|10|11) lab=2 ;;
        22|23|24|25|26|27) lab=3 ;;
    esac
    if [ -n "$lab" ]; then
        { wav_header 1 16000 32000; tail -c +$((4000 * k + 1)) "$T/cat5.raw" | head -c 32000; } >"$T/w.wav"
        add "$T/w.wav" "$lab"
        add "$T/w.wav" "$lab" 0.005 $k
    fi
    k=$((k + 1))
done
fb=$((n * 4096))
hdr='{"features":{"dtype":"F32","shape":['$n',1,32,32],"data_offsets":[0,'$fb']},"labels":{"dtype":"I32","shape":['$n'],"data_offsets":['$fb','$((fb + 4 * n))']},"__metadata__":{"classes":"[\"silence\",\"unknown\",\"yes\",\"no\"]"}}'
{ le32 ${#hdr}; le32 0; printf '%s' "$hdr"; cat "$T/feats" "$T/labels"; } >"$T/train.st"
cat >"$T/arch.json" <<'EOF'
{"name":"listen-test","input":[1,32,32],"classes":["silence","unknown","yes","no"],"layers":[
 {"type":"flatten","name":"flatten"},
 {"type":"linear","name":"fc1","out_features":64,"bias":true,"weight_sparsity":0.5},
 {"type":"batchnorm","name":"fc1_bn","affine":false,"momentum":0.1,"eps":1e-5},
 {"type":"kwinners","name":"fc1_kwinner","percent_on":0.25,"k_inference_factor":1.0,
  "boost_strength":0.0,"boost_strength_factor":1.0,"duty_cycle_period":1000},
 {"type":"linear","name":"output","out_features":4,"bias":true,"weight_sparsity":0.0},
 {"type":"logsoftmax","name":"softmax"}]}
EOF
M=$T/model.st
if ! "$ZS" train --arch "$T/arch.json" --data "$T/train.st" --epochs 60 --batch 8 --lr 0.02 --seed 1 \
        --out "$M" --quiet >"$T/train.log" 2>&1 || [ ! -s "$M" ]; then
    skip "listen checks with a model: zeroskip train could not build one:"
    sed 's/^/    /' "$T/train.log" | tail -5
    finish
fi

# ---- listen: files ---------------------------------------------------------
expect_rc 0 "" "$ZS" listen --model "$M" \
    "$D/yes_1000ms.wav" "$D/no_1000ms.wav" "$D/silence_1000ms.wav" "$D/noise_1000ms.wav"
cat "$T/out" | sed 's/^/    /'
check "listen: 4 lines" [ "$(wc -l <"$T/out")" -eq 4 ]
out_has "^$D/yes_1000ms.wav	yes	(0|1)\.[0-9]{4}$" "listen: yes"
out_has "^$D/no_1000ms.wav	no	" "listen: no"
out_has "^$D/silence_1000ms.wav	silence	" "listen: silence"
out_has "^$D/noise_1000ms.wav	silence	" "listen: noise is silence"
expect_rc 0 "" "$ZS" listen --model "$M" "$D/7_jackson_32.wav"
out_has "	unknown	" "listen: FSDD digit is unknown to this model"
expect_rc 0 "" "$ZS" listen --model "$M" --top 3 "$D/yes_1000ms.wav"
check "--top 3: 7 tab-separated fields" [ "$(awk -F'\t' '{ print NF }' "$T/out")" -eq 7 ]
check "--top 3: probabilities descend and sum <= 1" awk -F'\t' '{ exit !($3 >= $5 && $5 >= $7 && $3 + $5 + $7 <= 1.0001) }' "$T/out"
expect_rc 0 "" "$ZS" listen --model "$M" --top 9 "$D/yes_1000ms.wav"
check "--top beyond K lists all 4 classes" [ "$(awk -F'\t' '{ print NF }' "$T/out")" -eq 9 ]
check "--top 4: probabilities sum to 1" awk -F'\t' '{ s = $3 + $5 + $7 + $9; exit !(s > 0.999 && s < 1.001) }' "$T/out"
expect_rc 0 "" "$ZS" listen --model "$M" --json --top 2 "$D/no_1000ms.wav"
out_has '^\{"file":"[^"]*no_1000ms.wav","label":"no","confidence":[0-9.e-]+,"top":\[\{"label":"no","confidence":[0-9.e-]+\},\{"label":"[a-z]+","confidence":[0-9.e-]+\}\]\}$' "listen --json"

# multi-file with failures: the good files still get their line; exit 3
# because one file could not be read (I/O), as everywhere else
expect_rc 3 "" "$ZS" listen --model "$M" "$D/yes_1000ms.wav" "$T/missing.wav" \
    "$T/notes.txt" "$T/trunc-header.wav" "$T/no-samples.wav" "$T/nine.wav" "$T/long.wav" "$D/no_1000ms.wav"
check "listen: two result lines for the two good files" [ "$(wc -l <"$T/out")" -eq 2 ]
out_has "^$D/yes_1000ms.wav	yes	" "listen: first good file"
out_has "^$D/no_1000ms.wav	no	" "listen: last good file"
err_has "missing.wav: cannot open: No such file" "listen: missing file"
err_has "notes.txt: not a readable audio file" "listen: not audio"
err_has "trunc-header.wav: not a readable audio file" "listen: truncated header"
err_has "no-samples.wav: no audio samples" "listen: zero samples"
err_has "nine.wav: 9 channels" "listen: 9 channels"
err_has "long.wav: 35.00 s of audio, more than the limit of 30 s (use --stream" "listen: absurd length"
err_has "6 of 8 files failed" "listen: failure count"
expect_rc 1 "" "$ZS" listen --model "$M" --json "$T/notes.txt" "$D/yes_1000ms.wav"
out_has '^\{"file":"[^"]*notes.txt","error":"[^"]*not a readable audio file[^"]*","status":"ZS_EFORMAT"\}$' "listen --json error object"
out_has '"label":"yes"' "listen --json: the good file after the bad one"

# ---- listen --stream -------------------------------------------------------
# 4 s: silence, yes, noise, no, 1 s each: the loud part of "yes" is at
# 1.45-1.8 s, of "no" at 3.45-3.75 s
{ pcm silence_1000ms; pcm yes_1000ms; pcm noise_1000ms; pcm no_1000ms; } >"$T/cat.raw"
{ wav_header 1 16000 128000; cat "$T/cat.raw"; } >"$T/cat.wav"
expect_rc 0 "" "$ZS" listen --model "$M" --stream "$T/cat.wav" --hop 0.25 --smooth 1
cp "$T/out" "$T/stream_file.txt"
sed 's/^/    /' "$T/out"
check "stream: every line is START END LABEL CONF" awk '
    { if (NF != 4 || $1 !~ /^[0-9]+\.[0-9][0-9][0-9]$/ || $2 !~ /^[0-9]+\.[0-9][0-9][0-9]$/ || $1 + 0 > $2 + 0 || $4 <= 0.5 || $4 > 1) bad = 1 }
    END { exit bad + 0 }' "$T/out"
check "stream: 'yes' detected around its core 1.45-1.8 s" awk '$3 == "yes" && $1 <= 1.45 && $2 >= 1.8 { f = 1 } END { exit !f }' "$T/out"
check "stream: 'no' detected around its core 3.45-3.75 s" awk '$3 == "no" && $1 <= 3.45 && $2 >= 3.75 { f = 1 } END { exit !f }' "$T/out"
check "stream: each detection overlaps its word" awk '
    ($3 == "yes" && ($2 < 1.45 || $1 > 1.8)) || ($3 == "no" && ($2 < 3.45 || $1 > 3.75)) { bad = 1 }
    END { exit bad + 0 }' "$T/out"
check "stream: no words are silence/unknown" awk '$3 == "silence" || $3 == "unknown" { f = 1 } END { exit f + 0 }' "$T/out"
check "stream: detections end by 4 s" awk '$2 > 4.0 { f = 1 } END { exit f + 0 }' "$T/out"
err_has "4.00 s of audio, 13 windows" "stream: 13 windows of hop 0.25 over 4 s"
err_has "real-time factor" "stream: real-time factor on stderr"
expect_rc 0 "" sh -c "'$ZS' listen --model '$M' --stream - --raw-rate 16000 --hop 0.25 --smooth 1 <'$T/cat.raw'"
check "stream: raw stdin == file" cmp -s "$T/out" "$T/stream_file.txt"
expect_rc 0 "" sh -c "cat '$T/cat.wav' | '$ZS' listen --model '$M' --stream - --hop 0.25 --smooth 1"
check "stream: WAV pipe == file" cmp -s "$T/out" "$T/stream_file.txt"
expect_rc 0 "" "$ZS" listen --model "$M" --stream "$T/cat.wav" --hop 0.25
cp "$T/out" "$T/stream_smooth3.txt"
sed 's/^/    /' "$T/out"
check "stream (smooth 3): 'yes' and 'no' around their cores" awk '
    $3 == "yes" && $1 <= 1.45 && $2 >= 1.8 { y = 1 } $3 == "no" && $1 <= 3.45 && $2 >= 3.75 { n = 1 } END { exit !(y && n) }' "$T/out"
expect_rc 0 "" "$ZS" listen --model "$M" --stream "$T/cat.wav" --hop 0.25 --windows "$T/win.csv"
check "--windows: header and 13 windows" [ "$(wc -l <"$T/win.csv")" -eq 14 ]
check "--windows: window,start_s,state then the 4 classes" grep -q '^window,start_s,state,silence,unknown,yes,no$' "$T/win.csv"
check "--windows: the first window (silence) is gated, a state per window" awk -F, '
    NR == 2 && $3 != "g" { bad = 1 } NR > 1 && $3 !~ /^[gec]$/ { bad = 1 } END { exit bad + 0 }' "$T/win.csv"
check "--windows: same detections as without" cmp -s "$T/out" "$T/stream_smooth3.txt"
expect_rc 0 "" "$ZS" listen --model "$M" --stream "$T/cat.wav" --hop 0.25 --min-gap 3
check "--min-gap 3: yes and no stay two detections" [ "$(cut -d' ' -f3 "$T/out" | tr '\n' ' ')" = "yes no " ]
expect_rc 0 "" "$ZS" listen --model "$M" --stream "$T/cat.wav" --hop 0.25 --gate-db 60 --windows "$T/win60.csv"
check "--gate-db 60 gates more windows than the default" sh -c "[ \$(grep -c ',g,' '$T/win60.csv') -gt \$(grep -c ',g,' '$T/win.csv') ]"
expect_rc 0 "" "$ZS" listen --model "$M" --stream "$T/cat.wav" --hop 0.25 --gate-db 0 --no-centre --windows "$T/win0.csv"
check "--gate-db 0 --no-centre: 13 windows, all 'c'" [ "$(grep -c ',c,' "$T/win0.csv")" -eq 13 ]
expect_rc 2 "" "$ZS" listen --model "$M" --stream "$T/cat.wav" --hop 0.25 --gate-db 99
expect_rc 2 "" "$ZS" listen --model "$M" --stream "$T/cat.wav" --hop 0.25 --min-gap -1
expect_rc 0 "" "$ZS" listen --model "$M" --stream "$T/cat.wav" --hop 0.5 --smooth 1
err_has "4.00 s of audio, 7 windows" "stream: 7 windows of hop 0.5 over 4 s"
expect_rc 0 "" "$ZS" listen --model "$M" --stream "$D/0_george_0.wav"
err_has "1 windows" "stream: one zero-padded window for a 0.3 s file"
expect_rc 0 "" "$ZS" listen --model "$M" --stream "$T/long.wav" --hop 1
err_has "35.00 s of audio, 35 windows" "stream: 35 s file in 35 windows"
expect_rc 1 "" "$ZS" listen --model "$M" --stream "$T/notes.txt"
err_has "notes.txt: not a readable audio file" "stream: not audio"
expect_rc 1 "" sh -c "'$ZS' listen --model '$M' --stream - --raw-rate 16000 </dev/null"
err_has "<stdin>: no audio samples" "stream: empty stdin"
expect_rc 1 "" sh -c "cat '$T/notes.txt' | '$ZS' listen --model '$M' --stream -"
err_has "<stdin>: not a readable audio file" "stream: text on stdin"
expect_rc 3 "" "$ZS" listen --model "$M" --stream "$T/missing.wav"
err_has "missing.wav: cannot open" "stream: missing file"

finish
