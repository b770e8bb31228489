#!/usr/bin/python3
"""gsc12_folds.py — the 12-class Speech Commands models, speaker-disjoint k-fold.

What it is: the standard keyword-spotting label set (unknown, silence, yes,
no, up, down, left, right, on, off, stop, go) trained and tested on the real
Speech Commands clips of ../shared/data/speech_commands_v0.02_test, with
the speakers dealt into 3 folds (data/splits/speech_commands.txt, column
FOLD; background-noise snippets by number mod 3). The features of every
clip are built once (augmented copies included); for each fold f and each
network: train = the other folds' clips and copies, test = fold f's clips;
train with `zeroskip train`, evaluate on fold f. Accuracy is
reported as mean ± std over the folds; the models of fold 0 are the shipped
ones (models/gsc12-{sparse,dense}.safetensors), since every fold's model has
a held-out accuracy and a model trained on all folds would have none.

    /usr/bin/python3 scripts/gsc12_folds.py [--folds 0,1,2] [--nets gsc-sparse,gsc-dense]
        [--epochs 30] [--lrs 0.01,0.02,0.04] [--max-samples 0] [--augment 4] [--jobs 2]

Recipe: nupic.torch's GSC one (SGD, momentum 0, weight decay 0.01, lr
x0.9 and boost x0.9 per epoch, batch 16, first epoch at batch 4, 30
epochs) over every training example each epoch (--max-samples 0), from
scratch. The initial learning rate is chosen per network and per test fold
by nested cross-validation (--lrs with more than one value): for test fold
f, each candidate trains on one of the two other folds and is scored on
the third (its clips themselves, no augmented copy); the best one then
trains on both and is tested on fold f. So no test clip ever chooses
anything. The held-out fold is passed as --val only to draw the learning
curve.

Outputs: data/gsc12/fold{f}/ (features), results/gsc12/ (models, logs,
curves), results/gsc12.json (per fold and network: accuracy, per class,
confusion; mean and std).
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import real_eval  # noqa: E402
import st_io  # noqa: E402


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def build_all(args):
    """One `dataset build` of every clip (all as `train`, augmented): copy 0 of
    each clip is the clip itself, so the folds are slices of this one file."""
    d = os.path.join(args.data, "all")
    os.makedirs(d, exist_ok=True)
    rows = real_eval.real_rows(args.shared, "gsc12", ("all",))
    man = os.path.join(d, "manifest.csv")
    with open(man + ".tmp", "w") as fh:
        fh.write("path,label,source,speaker,split,word,detail\n")
        for r in rows:
            fh.write(f"{r['path']},{r['label']},gsc,{r['speaker']},train,{r['word']},{r['split']}\n")
    os.replace(man + ".tmp", man)
    if not os.path.exists(os.path.join(d, "train.safetensors")):
        cmd = [args.zeroskip, "dataset", "build", "--manifest", man, "--out", d,
               "--classes", ",".join(real_eval.CLASSES12), "--augment", str(args.augment),
               "--seed", str(args.seed), "--noise-dir", args.noise_dir, "--reverb", str(args.reverb),
               "--band-limit", str(args.band_limit), "--spec-mask", "0.5", "--threads", str(args.jobs), "--quiet"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return d, {r["path"]: r["split"] for r in rows}


def build_split(args, name, all_dir, fold_of, train_folds, test_fold):
    """data/gsc12/NAME/: train = every copy of the clips of train_folds,
    test = copy 0 (the clip itself) of test_fold's."""
    d = os.path.join(args.data, name)
    if os.path.exists(os.path.join(d, "test.safetensors")):
        return d
    os.makedirs(d, exist_ok=True)
    t, meta = st_io.load(os.path.join(all_dir, "train.safetensors"))
    with open(os.path.join(all_dir, "manifest_train.csv")) as fh:
        man = list(csv.DictReader(fh))
    fold = np.array([int(fold_of[r["path"]][len("fold"):]) for r in man])
    copy0 = np.array([r["copy"] == "0" for r in man])
    for part, sel in (("train", np.isin(fold, list(train_folds))), ("test", (fold == test_fold) & copy0)):
        st_io.save(os.path.join(d, part + ".safetensors.tmp"),
                   {"features": t["features"][sel], "labels": t["labels"][sel]}, meta)
        os.replace(os.path.join(d, part + ".safetensors.tmp"), os.path.join(d, part + ".safetensors"))
    return d


def build_fold(args, f, all_dir, fold_of):
    """fold f: train = every copy of the other folds' clips, test = fold f's clips."""
    return build_split(args, f"fold{f}", all_dir, fold_of, {0, 1, 2} - {f}, f)


def build_inner(args, f, all_dir, fold_of):
    """The learning-rate selection split of test fold f: train = every copy
    of the clips of the lower of the two other folds, val = the clips (copy
    0) of the higher one. Fold f's clips are in neither."""
    a, b = sorted({0, 1, 2} - {f})
    return build_split(args, f"inner{f}", all_dir, fold_of, {a}, b)


def train(args, net, f, d, lr, tag=""):
    name = f"{net}-fold{f}{tag}"
    cmd = ["--preset", net, "--seed", str(args.seed),
           "--data", os.path.join(d, "train.safetensors"), "--val", os.path.join(d, "test.safetensors"),
           "--epochs", str(args.epochs), "--batch", "16", "--first-batch", str(args.first_batch),
           "--lr", str(lr), "--momentum", "0", "--weight-decay", "0.01", "--lr-gamma", "0.9",
           "--csv", os.path.join(args.runs, name + ".csv")]
    if args.max_samples:
        cmd += ["--max-samples", str(args.max_samples)]
    return real_eval.run_train(args.zeroskip, cmd, args.runs, name, "gsc12")


def evaluate(args, model, d):
    r = subprocess.run([args.zeroskip, "eval", "--model", model, "--data", os.path.join(d, "test.safetensors"),
                        "--json"], check=True, capture_output=True, text=True)
    return json.loads(r.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--zeroskip", default=os.path.join(ROOT, "build", "zeroskip"))
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "gsc12"))
    ap.add_argument("--runs", default=os.path.join(ROOT, "results", "gsc12"))
    ap.add_argument("--noise-dir", default=os.path.join(ROOT, "data", "corpus", "noise"))
    ap.add_argument("--folds", default="0,1,2")
    ap.add_argument("--nets", default="gsc-sparse,gsc-dense")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--max-samples", type=int, default=0, help="samples per epoch (0: all)")
    ap.add_argument("--first-batch", type=int, default=4)
    ap.add_argument("--lrs", default="0.01,0.02,0.04",
                    help="initial learning rates; more than one: chosen per network and test fold by nested CV")
    ap.add_argument("--augment", type=int, default=4)
    ap.add_argument("--reverb", type=float, default=0.3)
    ap.add_argument("--band-limit", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(ROOT, "results", "gsc12.json"))
    args = ap.parse_args()
    args.shared = os.path.abspath(args.shared)
    os.makedirs(args.runs, exist_ok=True)
    folds = [int(x) for x in args.folds.split(",")]
    nets = args.nets.split(",")
    all_dir, fold_of = build_all(args)
    dirs = {f: build_fold(args, f, all_dir, fold_of) for f in folds}
    lrs = [float(x) for x in args.lrs.split(",")]
    chosen, inner = {}, {}
    if len(lrs) > 1:
        idirs = {f: build_inner(args, f, all_dir, fold_of) for f in folds}
        cand = [(n, f, lr) for f in folds for n in nets for lr in lrs]
        with ThreadPoolExecutor(args.jobs) as ex:
            ims = dict(zip(cand, ex.map(lambda c: train(args, c[0], c[1], idirs[c[1]], c[2], f"-inner-lr{c[2]:g}"), cand)))
        for (n, f, lr), m in ims.items():
            inner.setdefault(n, {}).setdefault(f"fold{f}", {})[f"{lr:g}"] = 100 * evaluate(args, m, idirs[f])["accuracy"]
        for n in nets:
            for f in folds:
                sc = inner[n][f"fold{f}"]
                best = max(lrs, key=lambda lr: (sc[f"{lr:g}"], -lr))  # ties: the smaller rate
                chosen[(n, f)] = best
                log(f"gsc12: {n} fold {f}: inner validation " +
                    ", ".join(f"lr {lr:g} {sc[f'{lr:g}']:.2f} %" for lr in lrs) + f" -> lr {best:g}")
    else:
        chosen = {(n, f): lrs[0] for f in folds for n in nets}
    jobs = [(n, f) for f in folds for n in nets]
    with ThreadPoolExecutor(args.jobs) as ex:
        models = dict(zip(jobs, ex.map(lambda j: train(args, j[0], j[1], dirs[j[1]], chosen[j]), jobs)))
    res = {n: {} for n in nets}
    for (n, f), m in models.items():
        e = evaluate(args, m, dirs[f])
        res[n][f"fold{f}"] = dict(accuracy=100 * e["accuracy"], n=e["n"], correct=e["correct"],
                                  confusion=e["confusion"], classes=e["classes"], lr=chosen[(n, f)])
    summary = {}
    for n in nets:
        accs = [res[n][f"fold{f}"]["accuracy"] for f in folds]
        summary[n] = dict(mean=statistics.mean(accs), std=statistics.stdev(accs) if len(accs) > 1 else 0.0,
                          folds=accs)
        log(f"gsc12: {n}: {summary[n]['mean']:.2f} ± {summary[n]['std']:.2f} % over folds {folds}")
    with open(args.out, "w") as fh:
        json.dump(dict(folds=folds, epochs=args.epochs, max_samples=args.max_samples,
                       first_batch=args.first_batch, lrs=lrs, inner=inner, augment=args.augment,
                       reverb=args.reverb, band_limit=args.band_limit,
                       train_examples={f: int(st_io.load(os.path.join(dirs[f], "train.safetensors"))[0]["labels"].shape[0])
                                       for f in folds},
                       summary=summary, results=res), fh, indent=1)


if __name__ == "__main__":
    main()
