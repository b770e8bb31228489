#!/usr/bin/python3
"""digit_folds.py — the digit models with real Speech Commands digits in
training, measured by speaker-disjoint k-fold.

What it is: the 58 Speech Commands speakers who say a digit (the TEST
speakers of data/splits/speech_commands.txt) are dealt into k folds
(scripts/real_eval.py digit_folds: about as many digits per fold, no speaker
in two folds). For fold f and each network, the model is trained on the
digit data set (data/gsc/train.safetensors: synthetic voices, FSDD, the
words and noise of the 61 non-test Speech Commands speakers) PLUS every
clip of the other folds' test speakers (their digits as digits, their other
words as `unknown`, each clip plus --digit-copies / --word-copies augmented
copies), and tested on fold f's speakers (digits, other words), the test
`_silence_` snippets and FSDD george — none of which it trained on.

Each Speech Commands test clip is thus predicted by exactly one model, the
one that never heard its speaker: the pooled numbers (n = 105 digits,
1,336 other words) carry Wilson 95 % intervals; FSDD george and silence are
tested by every fold's model (mean ± std over folds).

Training continues the shipped models (--init-dir, default models/) with
the nupic recipe (SGD, momentum 0, weight decay 0.01, lr and boost x0.9
per epoch, batch 16). The models of fold 0 are the shipped ones (their
held-out speakers are fold 0's).

    /usr/bin/python3 scripts/digit_folds.py [--k 3] [--folds 0,1,2]
        [--nets gsc-sparse,gsc-dense] [--epochs 2]
        [--max-samples 15000] [--lr 0.005] [--jobs 2]

Outputs: --work (features: the real test clips, the per-fold training
files), --runs (models NET-fold{f}.safetensors, logs, curves), --out JSON
(per fold and network, pooled), --md (the tables of docs/RESULTS.md).
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

METRICS = (("digits_gsc", "Speech Commands digits"), ("reject_words", "non-digit words rejected"),
           ("digits_fsdd", "FSDD george digits"), ("digits_all", "real digits (all)"),
           ("silence", "silence"))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def build_train_real(args, rows):
    """Augmented features of every Speech Commands test speaker's clips
    (digits and words; copy 0 is the clip itself)."""
    d = os.path.join(args.work, "real_train")
    os.makedirs(d, exist_ok=True)
    man = os.path.join(d, "manifest.csv")
    with open(man + ".tmp", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["path", "label", "source", "speaker", "split", "word", "detail"])
        for r in rows:
            src = "gscdigit" if r["label"] in real_eval.DIGITS else "gsc"
            w.writerow([r["path"], r["label"], src, r["speaker"], "train", r["word"], r["detail"]])
    cmd = [args.zeroskip, "dataset", "build", "--manifest", man, "--out", d, "--splits", "train",
           "--augment", "0", "--augment-source", f"gscdigit={args.digit_copies},gsc={args.word_copies}",
           "--seed", str(args.seed), "--noise-dir", args.noise_dir, "--reverb", "0.3", "--band-limit", "0.2",
           "--spec-mask", "0.5", "--threads", str(args.jobs), "--quiet"]
    key = open(man + ".tmp").read() + " ".join(cmd[1:])
    stamp = os.path.join(d, ".built")
    if not (os.path.exists(stamp) and open(stamp).read() == key):
        os.replace(man + ".tmp", man)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(stamp, "w") as fh:
            fh.write(key)
    else:
        os.remove(man + ".tmp")
    with open(os.path.join(d, "manifest_train.csv")) as fh:
        return list(csv.DictReader(fh)), os.path.join(d, "train.safetensors")


def build_fold(args, f, folds, real_man, real_file):
    """data/gsc train + the other folds' speakers' clips (every copy)."""
    d = os.path.join(args.work, f"fold{f}")
    out = os.path.join(d, "train.safetensors")
    if os.path.exists(out):
        return out
    os.makedirs(d, exist_ok=True)
    base, meta = st_io.load(os.path.join(args.data, "train.safetensors"))
    real, rmeta = st_io.load(real_file)
    if base["features"].shape[1:] != real["features"].shape[1:]:
        raise SystemExit("digit_folds: feature shapes differ between the data set and the real clips")
    sel = np.array([folds[r["speaker"][4:]] != f for r in real_man])
    t = {"features": np.concatenate([base["features"], real["features"][sel]]),
         "labels": np.concatenate([base["labels"], real["labels"][sel].astype(base["labels"].dtype)])}
    st_io.save(out + ".tmp", t, meta)
    os.replace(out + ".tmp", out)
    log(f"digit_folds: fold {f}: {len(base['labels'])} + {int(sel.sum())} examples")
    return out


def train(args, net, f, data):
    init = os.path.join(args.init_dir, net + args.init_suffix + ".safetensors")
    cmd = ["--init", init, "--seed", str(args.seed),
           "--data", data, "--val", os.path.join(args.data, "val.safetensors"),
           "--epochs", str(args.epochs), "--batch", "16", "--lr", str(args.lr), "--momentum", "0",
           "--weight-decay", "0.01", "--lr-gamma", "0.9", "--csv", os.path.join(args.runs, f"{net}-fold{f}.csv")]
    if args.max_samples:
        cmd += ["--max-samples", str(args.max_samples)]
    return real_eval.run_train(args.zeroskip, cmd, args.runs, f"{net}-fold{f}", "digit_folds")


def pct(xs):
    return dict(mean=statistics.mean(xs), std=statistics.stdev(xs) if len(xs) > 1 else 0.0, folds=xs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--zeroskip", default=os.path.join(ROOT, "build", "zeroskip"))
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "gsc"), help="the digit data set")
    ap.add_argument("--noise-dir", default=os.path.join(ROOT, "data", "corpus", "noise"))
    ap.add_argument("--work", default=os.path.join(ROOT, "data", "digit_folds"))
    ap.add_argument("--runs", default=os.path.join(ROOT, "results", "digit_folds"))
    ap.add_argument("--init-dir", default=os.path.join(ROOT, "models"))
    ap.add_argument("--init-suffix", default="", help="the models to continue are INIT_DIR/NET<suffix>.safetensors")
    ap.add_argument("--k", type=int, default=3)
    ap.add_argument("--folds", help="folds to run (default all k)")
    ap.add_argument("--nets", default="gsc-sparse,gsc-dense")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--max-samples", type=int, default=15000, help="samples per epoch (0: all)")
    ap.add_argument("--lr", type=float, default=0.005)
    ap.add_argument("--digit-copies", type=int, default=24,
                    help="augmented copies per real digit clip (besides the clip itself)")
    ap.add_argument("--word-copies", type=int, default=2,
                    help="augmented copies per real non-digit clip (besides the clip itself)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(ROOT, "results", "digit_folds.json"))
    ap.add_argument("--md", default=os.path.join(ROOT, "results", "digit_folds.md"))
    args = ap.parse_args()
    args.shared = os.path.abspath(args.shared)
    os.makedirs(args.runs, exist_ok=True)
    folds = real_eval.digit_folds(args.shared, args.k)
    run_folds = [int(x) for x in args.folds.split(",")] if args.folds else list(range(args.k))
    nets = args.nets.split(",")

    test_rows = real_eval.real_rows(args.shared, "digits", ("test",))
    gsc_words = [r for r in test_rows if r["source"] == "gsc" and r["label"] != "silence"]
    real_man, real_file = build_train_real(args, gsc_words)
    data = {f: build_fold(args, f, folds, real_man, real_file) for f in run_folds}
    jobs = [(n, f) for f in run_folds for n in nets]
    with ThreadPoolExecutor(args.jobs) as ex:
        models = dict(zip(jobs, ex.map(lambda j: train(args, j[0], j[1], data[j[1]]), jobs)))

    # held-out test: every real test clip once (copy 0, no augmentation)
    man, feats = real_eval.build_features(args.zeroskip, test_rows, os.path.join(args.work, "real_test"))
    fold_of = [folds[r["speaker"][4:]] if r["speaker"].startswith("gsc:") else None for r in man]
    res = {n: {} for n in nets}
    pooled = {n: [None] * len(man) for n in nets}
    for (n, f), m in models.items():
        pred = real_eval.predict(args.zeroskip, m, feats, os.path.join(args.work, "pred.csv"))
        idx = [i for i in range(len(man)) if fold_of[i] in (None, f)]
        sc = real_eval.score_digits([man[i] for i in idx], [pred[i] for i in idx])
        sc["confusion"] = real_eval.confusion([pred[i] for i in idx], len(real_eval.CLASSES))
        res[n][f"fold{f}"] = sc
        for i in range(len(man)):
            if fold_of[i] == f:
                pooled[n][i] = pred[i]
        log(f"digit_folds: {n} fold {f}: " + "; ".join(f"{t} {real_eval.fmt(sc[k])}" for k, t in METRICS))
    summary = {}
    for n in nets:
        s = {k: pct([res[n][f"fold{f}"][k]["pct"] for f in run_folds]) for k, _ in METRICS}
        if set(run_folds) == set(range(args.k)):
            idx = [i for i in range(len(man)) if fold_of[i] is not None]
            ps = real_eval.score_digits([man[i] for i in idx], [pooled[n][i] for i in idx])
            s["pooled"] = {k: ps[k] for k in ("digits_gsc", "reject_words", "reject_commands", "reject_other")}
            s["pooled"]["false_digits"] = ps["false_digits"]
            s["pooled"]["confusion"] = real_eval.confusion([pooled[n][i] for i in idx], len(real_eval.CLASSES))
        summary[n] = s
    counts = {f"fold{f}": {k: sum(1 for i in range(len(man)) if fold_of[i] == f and real_eval.kind_of(man[i]["word"]) == k)
                           for k in ("digit", "command word", "other word")} for f in range(args.k)}
    out = dict(k=args.k, folds=run_folds, nets=nets, epochs=args.epochs, max_samples=args.max_samples,
               lr=args.lr, digit_copies=args.digit_copies, word_copies=args.word_copies,
               init_dir=os.path.relpath(args.init_dir, ROOT), counts=counts,
               speakers={f"fold{f}": sum(1 for v in folds.values() if v == f) for f in range(args.k)},
               summary=summary, results=res)
    with open(args.out + ".tmp", "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    os.replace(args.out + ".tmp", args.out)
    write_md(out, args.md)


def write_md(out, path):
    L = [f"Speaker-disjoint {out['k']}-fold over the {sum(out['speakers'].values())} Speech Commands speakers "
         "who say a digit (" + ", ".join(f"fold {f[4:]}: {out['speakers'][f]} speakers, {c['digit']} digits, "
                                         f"{c['command word'] + c['other word']} other words"
                                         for f, c in out["counts"].items()) + "). "
         "Each fold's model trained on the other folds' speakers (their digits as digits) and the digit data "
         "set; it is tested on its fold's speakers, the test `_silence_` snippets and FSDD george.", ""]
    if all("pooled" in s for s in out["summary"].values()):
        L += ["Pooled over the folds (each Speech Commands clip answered by the model that never heard its "
              "speaker; 95 % Wilson intervals):", "",
              "| network | Speech Commands digits | non-digit words rejected | commands rejected | other words rejected |",
              "|---|---|---|---|---|"]
        for n, s in out["summary"].items():
            p = s["pooled"]
            L.append(f"| {n} | " + " | ".join(real_eval.fmt(p[k]) for k in
                                               ("digits_gsc", "reject_words", "reject_commands", "reject_other")) + " |")
        L.append("")
    L += ["Mean ± std over the folds (per fold in brackets):", "",
          "| network | " + " | ".join(t for _, t in METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    for n, s in out["summary"].items():
        L.append(f"| {n} | " + " | ".join(
            f"{s[k]['mean']:.1f} ± {s[k]['std']:.1f} % ({', '.join('%.1f' % v for v in s[k]['folds'])})"
            for k, _ in METRICS) + " |")
    for n, s in out["summary"].items():
        if "pooled" in s:
            L += ["", real_eval.md_confusion(s["pooled"]["confusion"], real_eval.CLASSES,
                                             f"Confusion, {n}, Speech Commands test speakers pooled over the folds")]
            if s["pooled"]["false_digits"]:
                L += ["", "Words most often heard as a digit: " +
                      ", ".join(f"{w} → {d} ({c})" for w, d, c in s["pooled"]["false_digits"])]
    with open(path, "w") as fh:
        fh.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
