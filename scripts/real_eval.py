#!/usr/bin/python3
"""real_eval.py — the honest test: trained models on held-out REAL speech.

What it is: the speaker-disjoint real-speech split (`splits`) and the
evaluation of keyword-spotting models on the held-out real speakers (`eval`).

Real speech on disk (../shared/data):
  speech_commands_v0.02_test/  2,474 clips of 119 Speech Commands speakers
      (file names carry the speaker ID): 10 command words, `_unknown_`
      (105 digits zero..nine and 84 other words), `_silence_` (408 snippets
      of the set's background-noise recordings, no speaker)
  fsdd/recordings/  6 FSDD speakers, 50 takes of each digit

The split (data/splits/speech_commands.txt, written by `splits`, committed):
  * every Speech Commands speaker who says a digit (58 speakers) is a TEST
    speaker with all of their clips: no digit of Speech Commands is ever
    trained on, and the non-digit words they say are the held-out words;
  * the other 61 speakers go to train (80 %) or val (20 %) by the SHA-1 of
    their ID; their words are training/validation `unknown` examples;
  * `_silence_` snippets (no speaker) by file number: n mod 4 = 0, 1 train,
    2 val, 3 test. They are cut from six long recordings, so the
    snippets of different splits share recordings (noted in the report).
  * FSDD: jackson, theo, yweweler, lucas train; nicolas val; george test
    (as scripts/make_corpus.py).

`eval` builds the held-out test clips into features exactly as training
clips are built (`zeroskip dataset build`, centred 1 s, log-mel), runs
`zeroskip eval --predictions` for each model and reports, with Wilson 95 %
confidence intervals: accuracy on real digits (Speech Commands test speakers,
FSDD george, both), the rejection rate of real non-digit words (predicted
`unknown` or `silence`), silence accuracy, per-word results and confusion
matrices. `--task gsc12` evaluates the 12-class command models instead
(labels yes..go, unknown = every other word, silence).

    /usr/bin/python3 scripts/real_eval.py splits
    /usr/bin/python3 scripts/real_eval.py eval models/gsc-sparse.safetensors ... \
        [--json results/real_eval.json] [--md results/real_eval.md]
"""
import argparse
import csv
import hashlib
import json
import math
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DIGITS = "zero one two three four five six seven eight nine".split()
CLASSES = ["unknown", "silence"] + DIGITS
COMMANDS = "yes no up down left right on off stop go".split()
CLASSES12 = ["unknown", "silence"] + COMMANDS
GSC = "speech_commands_v0.02_test"
FSDD_SPLIT = {"jackson": "train", "theo": "train", "yweweler": "train",
              "lucas": "train", "nicolas": "val", "george": "test"}
SPLIT_FILE = os.path.join(ROOT, "data", "splits", "speech_commands.txt")
N_FOLDS = 3


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ split --
def gsc_clips(shared):
    """[(path, folder, word, speaker or None, number or None)] of the GSC folder."""
    root = os.path.join(shared, GSC)
    out = []
    for folder in sorted(os.listdir(root)):
        d = os.path.join(root, folder)
        if not os.path.isdir(d):
            continue
        for f in sorted(os.listdir(d)):
            if not f.endswith(".flac"):
                continue
            stem = f[:-5]
            if folder == "_silence_":
                out.append((os.path.join(d, f), folder, "", None, int(stem)))
            elif folder == "_unknown_":
                w, spk = stem.split("_")[:2]
                out.append((os.path.join(d, f), folder, w, spk, None))
            else:
                out.append((os.path.join(d, f), folder, folder, stem.split("_")[0], None))
    return out


def sha_frac(s):
    return int(hashlib.sha1(s.encode()).hexdigest()[:8], 16) / 2 ** 32


def make_split(shared):
    """{speaker: split}, {speaker: fold} for the Speech Commands speakers."""
    clips = gsc_clips(shared)
    spk = sorted({c[3] for c in clips if c[3]})
    digit_spk = {c[3] for c in clips if c[1] == "_unknown_" and c[2] in DIGITS}
    split = {}
    for s in spk:
        split[s] = "test" if s in digit_spk else ("val" if sha_frac(s) < 0.2 else "train")
    # 12-class folds: speakers sorted by hash, dealt round-robin into N_FOLDS
    order = sorted(spk, key=lambda s: (hashlib.sha1(("fold" + s).encode()).hexdigest(), s))
    fold = {s: i % N_FOLDS for i, s in enumerate(order)}
    return split, fold


def write_split(shared, path=SPLIT_FILE):
    split, fold = make_split(shared)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        f.write("# Speech Commands (../shared/data/speech_commands_v0.02_test) speakers: SPEAKER SPLIT FOLD\n"
                "# Written by scripts/real_eval.py splits. SPLIT is for the digit models:\n"
                "#   test  = every speaker who says a digit (all their clips are held out);\n"
                "#   train/val = the others, by SHA-1 of the ID (20 % val).\n"
                "# FOLD (0-2) is the speaker-disjoint 3-fold split of the 12-class command models.\n"
                "# _silence_ snippets (no speaker): number mod 4 = 0,1 train; 2 val; 3 test.\n"
                "# FSDD: jackson theo yweweler lucas train; nicolas val; george test.\n")
        for s in sorted(split):
            f.write(f"{s} {split[s]} {fold[s]}\n")
    os.replace(path + ".tmp", path)
    n = {k: sum(1 for v in split.values() if v == k) for k in ("train", "val", "test")}
    log(f"real_eval: {path}: {len(split)} speakers, " + ", ".join(f"{k} {v}" for k, v in n.items()))


def read_split(path=SPLIT_FILE):
    split, fold = {}, {}
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            s, sp, fo = line.split()
            split[s], fold[s] = sp, int(fo)
    return split, fold


def digit_folds(shared, k=3):
    """{speaker: fold} for the Speech Commands TEST speakers (every speaker who
    says a digit), dealt into k speaker-disjoint folds for the digit models'
    k-fold (scripts/digit_folds.py): speakers with the most digits first
    (ties by SHA-1 of the ID), each to the fold with the fewest digits so far
    (then the fewest speakers, then the lowest number), so the folds hold
    about as many digits each."""
    split, _ = read_split()
    nd = {}
    for path, folder, word, spk, num in gsc_clips(shared):
        if spk is not None and split.get(spk) == "test":
            nd[spk] = nd.get(spk, 0) + (word in DIGITS)
    order = sorted(nd, key=lambda s: (-nd[s], hashlib.sha1(("digitfold" + s).encode()).hexdigest(), s))
    fold, load = {}, [[0, 0, i] for i in range(k)]
    for s in order:
        b = min(load)
        fold[s] = b[2]
        b[0] += nd[s]
        b[1] += 1
    return fold


def silence_split(number):
    return ("train", "train", "val", "test")[number % 4]


def real_rows(shared, task="digits", which=("test",), fold=None):
    """Manifest rows (dicts) of real clips. task digits: split by the digit
    split; task gsc12: `which` names folds ("fold0".."fold4") or "all"."""
    split, folds = read_split()
    rows = []
    for path, folder, word, spk, num in gsc_clips(shared):
        if spk is None:
            sp = silence_split(num)
            fo = num % N_FOLDS
            label, speaker = "silence", "gsc-silence:%d" % (num % 4)
        else:
            if spk not in split:
                raise SystemExit(f"real_eval: speaker {spk} missing from {SPLIT_FILE}; rerun `splits`")
            sp, fo = split[spk], folds[spk]
            speaker = "gsc:" + spk
            if task == "digits":
                label = word if word in DIGITS else "unknown"
            else:
                label = word if word in COMMANDS else "unknown"
        if task == "digits" and sp not in which:
            continue
        if task == "gsc12" and "all" not in which and f"fold{fo}" not in which:
            continue
        kind = "silence" if spk is None else ("digit" if word in DIGITS else
                                              ("command" if word in COMMANDS else "word"))
        rows.append(dict(path=path, label=label, source="gsc", speaker=speaker,
                         split=sp if task == "digits" else f"fold{fo}", word=word or "_silence_",
                         detail=kind))
    if task == "digits":
        fsdd = os.path.join(shared, "fsdd", "recordings")
        for f in sorted(os.listdir(fsdd)):
            if not f.endswith(".wav"):
                continue
            d, spk, _ = f[:-4].split("_")
            if FSDD_SPLIT[spk] in which:
                rows.append(dict(path=os.path.join(fsdd, f), label=DIGITS[int(d)], source="fsdd",
                                 speaker="fsdd:" + spk, split=FSDD_SPLIT[spk], word=DIGITS[int(d)],
                                 detail="digit"))
    return rows


# ------------------------------------------------------------ statistics --
def wilson(k, n, z=1.959964):
    """Wilson score 95 % interval (percent) for k successes out of n."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    den = 1 + z * z / n
    c = (p + z * z / (2 * n)) / den
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (100 * max(0.0, c - h), 100 * min(1.0, c + h))


def stat(k, n):
    lo, hi = wilson(k, n)
    return dict(k=k, n=n, pct=100.0 * k / n if n else float("nan"), lo=lo, hi=hi)


def fmt(s):
    return f"{s['pct']:.1f} % [{s['lo']:.1f}, {s['hi']:.1f}] ({s['k']}/{s['n']})"


# ------------------------------------------------------------------ eval ---
def build_features(zs, rows, out_dir, split="test", classes=None):
    os.makedirs(out_dir, exist_ok=True)
    man = os.path.join(out_dir, "manifest.csv")
    fields = ["path", "label", "source", "speaker", "split", "word", "detail"]
    with open(man + ".tmp", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(dict(r, split=split))
    cmd = [zs, "dataset", "build", "--manifest", man, "--out", out_dir, "--splits", split,
           "--quiet", "--threads", "2"]
    if classes:
        cmd += ["--classes", ",".join(classes)]
    # features already built from this very manifest and command are reused
    stamp = os.path.join(out_dir, ".built")
    key = open(man + ".tmp").read() + " ".join(cmd[1:])
    if not (os.path.exists(stamp) and open(stamp).read() == key and os.path.exists(man)
            and open(man).read() == open(man + ".tmp").read()
            and os.path.exists(os.path.join(out_dir, f"{split}.safetensors"))):
        os.replace(man + ".tmp", man)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(stamp, "w") as f:
            f.write(key)
    else:
        os.remove(man + ".tmp")
    with open(os.path.join(out_dir, f"manifest_{split}.csv")) as f:
        return list(csv.DictReader(f)), os.path.join(out_dir, f"{split}.safetensors")


def run_train(zs, train_args, runs, name, who):
    """`zeroskip train TRAIN_ARGS --out RUNS/NAME.safetensors --checkpoint
    RUNS/NAME.ckpt` on one thread, its output in RUNS/NAME.log; a model
    already there is kept. Returns the model's path."""
    out = os.path.join(runs, name + ".safetensors")
    if os.path.exists(out):
        return out
    cmd = [zs, "train"] + train_args + ["--out", out, "--checkpoint", os.path.join(runs, name + ".ckpt")]
    with open(os.path.join(runs, name + ".log"), "w") as lg:
        subprocess.run(cmd, check=True, stdout=lg, stderr=subprocess.STDOUT, env=dict(os.environ, OMP_NUM_THREADS="1"))
    log(f"{who}: trained {name}")
    return out


def predict(zs, model, data, tmp):
    subprocess.run([zs, "eval", "--model", model, "--data", data, "--predictions", tmp],
                   check=True, stdout=subprocess.DEVNULL)
    with open(tmp) as f:
        return [(int(r["label"]), int(r["predicted"]), float(r["confidence"])) for r in csv.DictReader(f)]


def score_digits(man, pred):
    """Metrics of the digit task from manifest rows and predictions."""
    res = {}
    def acc(sel):
        idx = [i for i, r in enumerate(man) if sel(r)]
        return stat(sum(pred[i][1] == pred[i][0] for i in idx), len(idx))
    def rej(sel):  # predicted unknown or silence
        idx = [i for i, r in enumerate(man) if sel(r)]
        return stat(sum(pred[i][1] in (0, 1) for i in idx), len(idx))
    res["digits_gsc"] = acc(lambda r: r["source"] == "gsc" and r["label"] in DIGITS)
    res["digits_fsdd"] = acc(lambda r: r["source"] == "fsdd")
    res["digits_all"] = acc(lambda r: r["label"] in DIGITS)
    res["reject_words"] = rej(lambda r: r["source"] == "gsc" and r["label"] == "unknown")
    res["reject_commands"] = rej(lambda r: r["source"] == "gsc" and r["label"] == "unknown"
                                 and r["word"] in COMMANDS)
    res["reject_other"] = rej(lambda r: r["source"] == "gsc" and r["label"] == "unknown"
                              and r["word"] not in COMMANDS)
    res["silence"] = acc(lambda r: r["label"] == "silence")
    res["all"] = acc(lambda r: True)
    # words most often taken for a digit
    fa = {}
    for i, r in enumerate(man):
        if r["label"] == "unknown" and pred[i][1] >= 2:
            key = (r["word"], CLASSES[pred[i][1]])
            fa[key] = fa.get(key, 0) + 1
    res["false_digits"] = sorted(([w, d, c] for (w, d), c in fa.items()), key=lambda x: -x[2])[:12]
    return res


def score_gsc12(man, pred):
    res = {}
    def acc(sel):
        idx = [i for i, r in enumerate(man) if sel(r)]
        return stat(sum(pred[i][1] == pred[i][0] for i in idx), len(idx))
    res["all"] = acc(lambda r: True)
    res["commands"] = acc(lambda r: r["label"] in COMMANDS)
    res["unknown"] = acc(lambda r: r["label"] == "unknown")
    res["silence"] = acc(lambda r: r["label"] == "silence")
    return res


def kind_of(word):
    return ("silence" if word == "_silence_" else "digit" if word in DIGITS else
            "command word" if word in COMMANDS else "other word")


def confusion(pred, k):
    m = [[0] * k for _ in range(k)]
    for y, p, _ in pred:
        m[y][p] += 1
    return m


def md_confusion(m, classes, title):
    short = [c[:5] for c in classes]
    out = [f"{title} (rows true, columns predicted)", "",
           "| | " + " | ".join(short) + " |", "|---" * (len(classes) + 1) + "|"]
    for i, c in enumerate(classes):
        out.append(f"| **{c}** | " + " | ".join(str(v) for v in m[i]) + " |")
    return "\n".join(out)


def cmd_eval(args):
    zs = args.zeroskip
    which = ("test",) if not args.val else ("val",)
    classes = CLASSES if args.task == "digits" else CLASSES12
    if args.task == "digits":
        rows = real_rows(args.shared, "digits", which)
    else:
        rows = real_rows(args.shared, "gsc12", tuple(f"fold{f}" for f in args.folds.split(",")))
    man, data = build_features(zs, rows, args.work, classes=None if args.task == "digits" else classes)
    results = {}
    for model in args.models:
        pred = predict(zs, model, data, os.path.join(args.work, "pred.csv"))
        if len(pred) != len(man):
            raise SystemExit(f"real_eval: {model}: {len(pred)} predictions for {len(man)} clips")
        sc = score_digits(man, pred) if args.task == "digits" else score_gsc12(man, pred)
        sc["confusion"] = confusion(pred, len(classes))
        results[model] = sc
        name = os.path.basename(model)
        if args.task == "digits":
            print(f"{name}: real digits {fmt(sc['digits_all'])}; Speech Commands digits "
                  f"{fmt(sc['digits_gsc'])}; FSDD george {fmt(sc['digits_fsdd'])}; "
                  f"non-digit words rejected {fmt(sc['reject_words'])}; silence {fmt(sc['silence'])}")
        else:
            print(f"{name}: all {fmt(sc['all'])}; commands {fmt(sc['commands'])}; "
                  f"unknown {fmt(sc['unknown'])}; silence {fmt(sc['silence'])}")
    counts = {}
    for r in man:
        kind = kind_of(r["word"])
        counts[kind] = counts.get(kind, 0) + 1
    out = dict(task=args.task, split=which[0] if args.task == "digits" else args.folds,
               clips=len(man), counts=counts, classes=classes, results=results)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
            f.write("\n")
    if args.md and args.task == "digits":
        write_md(out, args.md)


def write_md(out, path):
    L = [f"Held-out real speech ({out['clips']} clips: " +
         ", ".join(f"{v} {k}" for k, v in sorted(out["counts"].items())) +
         "); 95 % Wilson intervals in brackets.", "",
         "| model | real digits (all) | Speech Commands digits | FSDD george digits | "
         "non-digit words rejected | commands rejected | other words rejected | silence |",
         "|---|---|---|---|---|---|---|---|"]
    for m, s in out["results"].items():
        L.append(f"| {os.path.basename(m)} | " + " | ".join(
            fmt(s[k]) for k in ("digits_all", "digits_gsc", "digits_fsdd", "reject_words",
                                "reject_commands", "reject_other", "silence")) + " |")
    for m, s in out["results"].items():
        L += ["", md_confusion(s["confusion"], out["classes"], f"Confusion, {os.path.basename(m)}")]
        if s["false_digits"]:
            L += ["", "Words most often heard as a digit: " +
                  ", ".join(f"{w} → {d} ({c})" for w, d, c in s["false_digits"])]
    with open(path, "w") as f:
        f.write("\n".join(L) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("splits", help="write data/splits/speech_commands.txt")
    p.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "data"))
    p = sub.add_parser("eval", help="evaluate models on held-out real speech")
    p.add_argument("models", nargs="+")
    p.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "data"))
    p.add_argument("--zeroskip", default=os.path.join(ROOT, "build", "zeroskip"))
    p.add_argument("--work", default=os.path.join(ROOT, "data", "real"))
    p.add_argument("--task", choices=("digits", "gsc12"), default="digits")
    p.add_argument("--folds", default="0,1,2", help="gsc12: folds to test on")
    p.add_argument("--val", action="store_true", help="digits: the validation speakers instead")
    p.add_argument("--json")
    p.add_argument("--md")
    args = ap.parse_args()
    if args.cmd == "splits":
        write_split(os.path.abspath(args.shared))
    else:
        args.shared = os.path.abspath(args.shared)
        cmd_eval(args)


if __name__ == "__main__":
    main()
