#!/usr/bin/python3
"""noise_study.py — what makes a sparse network more robust to noise than a dense one?

What it is: short controlled trainings on one fold of the 12-class real
Speech Commands task (scripts/gsc12_folds.py: train = folds 1 and 2's
speakers, test = fold 0's), each changing ONE thing against the baseline
(the gsc12 recipe for --epochs epochs), and the paper's noise score of each
model: the number of correct answers summed over α = 0, 0.05 … 0.5, where
every test clip becomes (1 − α)·x + α·U(−1, 1) (`dataset build --noise`,
seed 7), as in Ahmad & Scheinkman 2019 ("How can we be so dense?").

Rows: dense and sparse baselines after 2, 4 and --epochs epochs (training
length; each continues the previous one's checkpoint, which resumes
exactly); both networks trained without background-noise augmentation
(`--noise-p 0`: data); sparse with boost strength 0 (no boosting), with a fast
boost decay (x0.5 per epoch, so that β ends near the 0.06 the paper's 30
epochs of x0.9 reach), with twice the k (k-WTA percent_on x2); and,
inference only (the trained sparse baseline, nothing retrained): boost
strength set to 0, k_inference_factor 1.0 instead of 1.5.

    /usr/bin/python3 scripts/noise_study.py [--epochs 4] [--jobs 2]

Needs the features of scripts/gsc12_folds.py (--gsc12-data). Outputs:
--runs (models, logs), --out JSON, --md (the table of docs/RESULTS.md).
"""
import argparse
import csv
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import real_eval  # noqa: E402
import st_io  # noqa: E402

ALPHAS = ["%.2f" % (0.05 * i) for i in range(11)]
FOLD = 0


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def noise_sets(args):
    """fold 0's clips at every α (no augmentation)."""
    d = os.path.join(args.work, "noise")
    os.makedirs(d, exist_ok=True)
    man = os.path.join(d, "manifest.csv")
    with open(os.path.join(args.gsc12_data, "all", "manifest.csv")) as fh:
        rows = [r for r in csv.DictReader(fh) if r["detail"] == f"fold{FOLD}"]
    with open(man, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow(dict(r, split="test"))
    files = []
    for a in ALPHAS:
        f = os.path.join(d, f"test_a{a}.safetensors")
        if not os.path.exists(f):
            subprocess.run([args.zeroskip, "dataset", "build", "--manifest", man, "--out", os.path.join(d, "tmp"),
                            "--splits", "test", "--noise", a, "--noise-seed", "7", "--quiet", "--threads", "1",
                            "--classes", ",".join(real_eval.CLASSES12)], check=True, stdout=subprocess.DEVNULL)
            os.replace(os.path.join(d, "tmp", "test.safetensors"), f)
        files.append(f)
    return files


def clean_train(args):
    """fold 0's training examples built without background noise (--noise-p 0),
    every other augmentation and seed as gsc12_folds.py's."""
    d = os.path.join(args.work, "nonoise")
    out = os.path.join(d, "train.safetensors")
    if os.path.exists(out):
        return out
    bj = json.load(open(os.path.join(args.gsc12_data, "all", "build.json")))
    cmd = [args.zeroskip, "dataset", "build", "--manifest", os.path.join(args.gsc12_data, "all", "manifest.csv"),
           "--out", os.path.join(d, "all"), "--classes", ",".join(real_eval.CLASSES12),
           "--augment", str(bj["augment"]), "--seed", str(bj["seed"]), "--noise-dir", bj["noise_dir"],
           "--reverb", str(bj["reverb_p"]), "--band-limit", str(bj["band_limit_p"]),
           "--spec-mask", str(bj["spec_mask_p"]), "--noise-p", "0", "--threads", "1", "--quiet"]
    if not os.path.exists(os.path.join(d, "all", "build.json")):   # written last
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    t, meta = st_io.load(os.path.join(d, "all", "train.safetensors"))
    with open(os.path.join(args.gsc12_data, "all", "manifest.csv")) as fh:
        fold_of = {r["path"]: r["detail"] for r in csv.DictReader(fh)}
    with open(os.path.join(d, "all", "manifest_train.csv")) as fh:
        sel = np.array([fold_of[r["path"]] != f"fold{FOLD}" for r in csv.DictReader(fh)])
    st_io.save(out + ".tmp", {"features": t["features"][sel], "labels": t["labels"][sel]}, meta)
    os.replace(out + ".tmp", out)
    return out


def arch(args, net, **kw):
    """The preset's architecture with every k-WTA layer's keys changed by kw
    (percent_on is multiplied by kw['k_mult'])."""
    t, meta = st_io.load(os.path.join(ROOT, "models", "gsc12-sparse.safetensors"))
    a = json.loads(meta["arch"])
    a["classes"] = real_eval.CLASSES12
    for layer in a["layers"]:
        if layer["type"].startswith("kwinners"):
            for k, v in kw.items():
                if k == "k_mult":
                    layer["percent_on"] = layer["percent_on"] * v
                else:
                    layer[k] = v
    a["name"] = net
    p = os.path.join(args.runs, net + ".json")
    with open(p, "w") as fh:
        json.dump(a, fh)
    return p


def train(args, name, start, data, epochs):
    cmd = start + ["--seed", "1", "--data", data, "--epochs", str(epochs), "--batch", "16", "--first-batch", "4",
                   "--lr", "0.01", "--momentum", "0", "--weight-decay", "0.01", "--lr-gamma", "0.9", "--quiet"]
    return real_eval.run_train(args.zeroskip, cmd, args.runs, name, "noise_study")


def chain(args, net, data):
    """net after 2, 4, ..., --epochs epochs, each run resuming the last checkpoint."""
    outs = {}
    prev = None
    for e in range(2, args.epochs + 1, 2):
        name = f"{net}-e{e}"
        start = ["--preset", net] if prev is None else ["--init", os.path.join(args.runs, prev + ".ckpt")]
        outs[e] = train(args, name, start, data, e)
        prev = name
    return outs


def score(args, model, files):
    levels = []
    for f in files:
        r = subprocess.run([args.zeroskip, "eval", "--model", model, "--data", f, "--json"], check=True,
                           capture_output=True, text=True)
        levels.append(json.loads(r.stdout)["correct"])
    return levels


def inference_copy(args, model, name, boost=None, k_inf=None):
    t, meta = st_io.load(model)
    if boost is not None:
        for k in t:
            if k.endswith(".boost_strength"):
                t[k] = np.array(boost, np.float32)
    if k_inf is not None:
        a = json.loads(meta["arch"])
        for layer in a["layers"]:
            if layer["type"].startswith("kwinners"):
                layer["k_inference_factor"] = k_inf
        meta = dict(meta, arch=json.dumps(a, separators=(",", ":")))
    p = os.path.join(args.runs, name + ".safetensors")
    st_io.save(p, t, meta)
    return p


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--zeroskip", default=os.path.join(ROOT, "build", "zeroskip"))
    ap.add_argument("--gsc12-data", default=os.path.join(ROOT, "data", "gsc12"))
    ap.add_argument("--work", default=os.path.join(ROOT, "data", "noise_study"))
    ap.add_argument("--runs", default=os.path.join(ROOT, "results", "noise_study"))
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--variants", default="all",
                    help="comma-separated subset of nonoise-sparse,nonoise-dense,boost0,fastdecay,k2 (default all)")
    ap.add_argument("--extra", action="append", default=[], metavar="NET:EPOCHS:PATH",
                    help="also score this model of the baseline recipe (e.g. the gsc12 fold-0 models)")
    ap.add_argument("--out", default=os.path.join(ROOT, "results", "noise_study.json"))
    ap.add_argument("--md", default=os.path.join(ROOT, "results", "noise_study.md"))
    args = ap.parse_args()
    os.makedirs(args.runs, exist_ok=True)
    base = os.path.join(args.gsc12_data, f"fold{FOLD}", "train.safetensors")
    E = args.epochs
    jobs = {
        "nonoise-sparse": lambda: train(args, f"gsc-sparse-nonoise-e{E}", ["--preset", "gsc-sparse"], clean_train(args), E),
        "nonoise-dense": lambda: train(args, f"gsc-dense-nonoise-e{E}", ["--preset", "gsc-dense"], clean_train(args), E),
        "boost0": lambda: train(args, f"gsc-sparse-boost0-e{E}",
                                ["--arch", arch(args, "gsc-sparse-boost0", boost_strength=0.0)], base, E),
        "fastdecay": lambda: train(args, f"gsc-sparse-fastdecay-e{E}",
                                   ["--arch", arch(args, "gsc-sparse-fastdecay", boost_strength_factor=0.5)], base, E),
        "k2": lambda: train(args, f"gsc-sparse-k2-e{E}", ["--arch", arch(args, "gsc-sparse-k2", k_mult=2.0)], base, E),
        "chain-sparse": lambda: chain(args, "gsc-sparse", base),
        "chain-dense": lambda: chain(args, "gsc-dense", base),
    }
    if args.variants != "all":
        keep = set(args.variants.split(",")) | {"chain-sparse", "chain-dense"}
        jobs = {k: v for k, v in jobs.items() if k in keep}
    clean_train(args)  # once, before the jobs that share it
    with ThreadPoolExecutor(args.jobs) as ex:
        done = {k: f for k, f in zip(jobs, ex.map(lambda j: j(), jobs.values()))}
    files = noise_sets(args)
    sp, de = done["chain-sparse"], done["chain-dense"]
    rows = []
    def add(label, net, change, model):
        lv = score(args, model, files)
        rows.append(dict(label=label, net=net, change=change, model=os.path.relpath(model, ROOT),
                         levels=lv, score=sum(lv), clean=lv[0]))
        log(f"noise_study: {label}: noise score {sum(lv)} {lv}")
    for e in sorted(de):
        add(f"dense, {e} epochs", "gsc-dense", "training length" if e != E else "baseline", de[e])
    for e in sorted(sp):
        add(f"sparse, {e} epochs", "gsc-sparse", "training length" if e != E else "baseline", sp[e])
    for x in args.extra:
        net, e, path = x.split(":", 2)
        add(f"{'sparse' if 'sparse' in net else 'dense'}, {e} epochs (scripts/gsc12_folds.py fold 0)", net,
            "training length", path)
    for key, label, net, change in (
            ("nonoise-dense", f"dense, no noise augmentation, {E} epochs", "gsc-dense", "data"),
            ("nonoise-sparse", f"sparse, no noise augmentation, {E} epochs", "gsc-sparse", "data"),
            ("boost0", f"sparse, boost strength 0, {E} epochs", "gsc-sparse", "boost strength"),
            ("fastdecay", f"sparse, boost decay 0.5 per epoch (β {1.5 * 0.5 ** E:.2g} at the end), {E} epochs",
             "gsc-sparse", "boost decay"),
            ("k2", f"sparse, k x2, {E} epochs", "gsc-sparse", "k")):
        if key in done:
            add(label, net, change, done[key])
    add(f"sparse {E} epochs, boost set to 0 at inference", "gsc-sparse", "boost at inference",
        inference_copy(args, sp[E], f"gsc-sparse-e{E}-infboost0", boost=0.0))
    add(f"sparse {E} epochs, k_inference_factor 1.0", "gsc-sparse", "k at inference",
        inference_copy(args, sp[E], f"gsc-sparse-e{E}-kinf1", k_inf=1.0))
    n = int(st_io.load(files[0])[0]["labels"].shape[0])
    out = dict(fold=FOLD, epochs=E, alphas=[float(a) for a in ALPHAS], clips=n, rows=rows)
    with open(args.out, "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")
    L = [f"Fold {FOLD} of the 12-class task ({n} clips of speakers never trained on, × {len(ALPHAS)} noise "
         f"levels: the best possible score is {n * len(ALPHAS):,}); one seed per row.", "",
         "| model | what changes | noise score | clean (α 0) | " + " | ".join(f"α {a}" for a in ALPHAS[1:]) + " |",
         "|---|---|---|---|" + "---|" * (len(ALPHAS) - 1)]
    for r in rows:
        L.append(f"| {r['label']} | {r['change']} | {r['score']:,} | {r['clean']} | " +
                 " | ".join(str(v) for v in r["levels"][1:]) + " |")
    with open(args.md, "w") as fh:
        fh.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
