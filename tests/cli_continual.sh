#!/bin/sh
# cli_continual.sh — `zeroskip continual` end to end at a tiny scale (a few
# seconds): permuted and split Fashion-MNIST, dense / sparse / dendrites,
# Adam and SGD, with and without SI; every run learns (task 1 well above
# chance right after it), prints its summary and writes the accuracy matrix
# as CSV; the dendritic run infers the context; on split, the task-masked
# head (--head task) beats the shared head by a wide margin (dense MLP,
# same seed), --context given and --task-id inferred run and say so; usage
# and I/O errors exit 2 and 3. Skipped without Debian's dataset-fashion-mnist.
. "$(dirname "$0")/lib_cli.sh"
FM=/usr/share/datasets/fashion-mnist
TR=$FM/train-images-idx3-ubyte.gz
TE=$FM/t10k-images-idx3-ubyte.gz
if ! [ -r "$TR" ] || ! [ -r "$TE" ]; then skip_suite "$FM (Debian dataset-fashion-mnist) not installed"; fi
export OMP_NUM_THREADS=1
SMALL="--samples 500 --test-samples 100 --hidden 128 --epochs 2 --train $TR --test $TE"

run_continual() { # name expected-tasks args...
    name=$1; nt=$2; shift 2
    if "$ZS" continual "$@" $SMALL --csv "$T/$name.csv" >"$T/$name.out" 2>&1; then ok; else
        bad "$name: exit $?"; cat "$T/$name.out"; return; fi
    grep -q "^average accuracy [0-9.]* %, mean forgetting" "$T/$name.out" && ok || bad "$name: no summary"
    [ "$(wc -l <"$T/$name.csv")" -eq $((nt * nt + 1)) ] && ok || bad "$name: CSV rows"
    # task 1 right after learning it: above chance (10 %; split: 50 %) by a margin
    a=$(awk -F, '$1 == 1 && $2 == 1 { print $3 }' "$T/$name.csv")
    lim=35; case "$*" in *split*) lim=70 ;; esac
    awk -v a="$a" -v l="$lim" 'BEGIN { exit !(a > l) }' && ok || bad "$name: task 1 accuracy $a <= $lim"
}
run_continual dense 2 --protocol permuted --tasks 2 --model dense
run_continual sparse_si 2 --protocol permuted --tasks 2 --model sparse --si 0.1
run_continual dendrites 3 --protocol permuted --tasks 3 --model dendrites
grep -q "context inferred right" "$T/dendrites.out" && ok || bad "dendrites: context inference not reported"
run_continual dendrites_sgd 2 --protocol permuted --tasks 2 --model dendrites --optimizer sgd --lr 0.5 --si 0.1
run_continual split 5 --protocol split --model dendrites
"$ZS" continual --protocol permuted --tasks 3 --model dendrites --eval seen $SMALL --csv "$T/seen.csv" >"$T/seen.out" 2>&1 &&
    [ "$(wc -l <"$T/seen.csv")" -eq 7 ] && grep -q "3 segments per unit" "$T/seen.out" && ok ||
    bad "--eval seen: not 6 rows (or segments not reported)"
run_continual split_dense 5 --protocol split --model dense
run_continual split_task 5 --protocol split --model dense --head task
grep -q "task head, task given at test" "$T/split_task.out" && ok || bad "split_task: head not reported"
avg() { sed -n 's/^average accuracy \([0-9.]*\) %.*/\1/p' "$T/$1.out"; }
sh_avg=$(avg split_dense); tk_avg=$(avg split_task)
# the shared head forgets the earlier tasks' pairs; the masked one keeps them
awk -v s="$sh_avg" -v t="$tk_avg" 'BEGIN { exit !(t != "" && s != "" && t > s + 10) }' && ok ||
    bad "task head average $tk_avg not > shared head $sh_avg + 10"
run_continual split_ctx 5 --protocol split --model dendrites --head task --context given --task-id inferred
grep -q "context given (the nearest prototype's task right" "$T/split_ctx.out" && ok || bad "split_ctx: not reported"
grep -q "task head, task inferred at test" "$T/split_ctx.out" && ok || bad "split_ctx: task id not reported"
"$ZS" continual --head task --train "$TR" --test "$TE" >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "--head task on permuted: not 2"
"$ZS" continual --protocol split --head two --train "$TR" --test "$TE" >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "bad head: not 2"
"$ZS" continual --eval some --train "$TR" --test "$TE" >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "bad eval: not 2"
"$ZS" continual --protocol split --context none --train "$TR" --test "$TE" >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "bad context: not 2"

"$ZS" continual --optimizer rmsprop --train "$TR" --test "$TE" >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "bad optimizer: not 2"
"$ZS" continual --model big --train "$TR" --test "$TE" >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "bad model: not 2"
"$ZS" continual --train "$TR" >/dev/null 2>&1; [ $? -eq 2 ] && ok || bad "missing --test: not 2"
"$ZS" continual --train "$T/none.gz" --test "$TE" >/dev/null 2>&1; [ $? -eq 3 ] && ok || bad "missing file: not 3"
"$ZS" continual --train "$TR" --test "$TE" --csv "$T/no/dir/x.csv" >/dev/null 2>&1; [ $? -eq 3 ] && ok || bad "unwritable --csv: not 3"
finish
