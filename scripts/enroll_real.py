#!/usr/bin/python3
"""enroll_real.py — keyword enrollment on a base model whose features were
learned on real speech, "leave words out", speaker-disjoint.

The 10 command words are split into two groups (G1 = yes,no,up,down,left,
G2 = right,on,off,stop,go). For the test fold T (default 0) and each group
G, base model B_G is `zeroskip train --preset gsc-sparse` (the recipe of
scripts/gsc12_folds.py) on the real Speech Commands clips of the other
folds' speakers (data/splits/speech_commands.txt), classes unknown, silence
and the OTHER group's words: no clip of a word of G is anywhere in its
training or validation data (`_unknown_` words and digits stay unknown).
Features come from the 12-class build of every clip (--all, made by
gsc12_folds.py build_all: copy 0 is the clip itself, copies 1..4 augmented).
Train = every copy of the training folds' base-class clips, except the
speakers whose SHA-1 puts them in val (1 in 5); val = every copy of those
speakers' base-class clips (the replay set of enroll: --replay-n of them
learned against, the rest calibrate the bias cap).

Each word W of G is then enrolled into B_G with `zeroskip enroll` from one
clip each of 20 training-fold speakers (the first 20 sorted speaker ids
that said W), --negatives = up to 300 clips of other words by those
speakers, --replay = B_G's val set; and measured on fold-T speakers only
(copy 0 features, `zeroskip eval --predictions`): recall = W's clips
called W; false accepts = every other fold-T clip (other command words,
`_unknown_`, `_silence_`) called W; old classes = accuracy on fold-T clips
of B_G's classes before and after.

    /usr/bin/python3 scripts/enroll_real.py [--test-fold 0] [--groups G1,G2]
        [--seeds 1,2,3] [--epochs 15] [--max-samples 0] [--base real|mixed]
        [--probe] [--train-only] [--out /work/data/enroll-real]

--base mixed adds the non-Speech-Commands examples of --mixed (the
enroll-base data set: synthetic voices, FSDD, noise) to the training and
validation data, with the digits as classes (docs/CONTINUAL.md, "Base
models learned on real speech"). The replay set's first half (--replay-n)
is learned against, the second half calibrates the cap.

Steps whose output exists are skipped (features, base models); the runs
append JSON lines to OUT/fold{T}/runs.jsonl and a Markdown table is printed.
"""
import argparse, csv, hashlib, json, os, resource, subprocess, sys, time
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import st_io  # noqa: E402

GROUPS = {"G1": ["yes", "no", "up", "down", "left"], "G2": ["right", "on", "off", "stop", "go"]}
CLASSES12 = ["unknown", "silence", "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def is_val(speaker, path):
    key = speaker if speaker.startswith("gsc:") else path
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) % 5 == 0


def save(path, feats, labels, classes, rows):
    st_io.save(path + ".tmp", {"features": np.ascontiguousarray(feats), "labels": labels.astype(np.int32)},
               {"format": "zeroskip-dataset", "classes": json.dumps(classes, separators=(",", ":"))})
    os.replace(path + ".tmp", path)
    man = path.replace(".safetensors", ".csv").replace("/train.", "/manifest_train.").replace(
        "/val.", "/manifest_val.").replace("/test.", "/manifest_test.")
    with open(man + ".tmp", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["path", "label", "word", "speaker", "fold", "copy"], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    os.replace(man + ".tmp", man)


DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def build(a, T, g, d):
    """d/{train,val,test}.safetensors (+ manifest_*.csv) of base B_g for test
    fold T. --base real: the real clips only; --base mixed: also every
    non-Speech-Commands example of --mixed (the enroll-base data set:
    synthetic voices, FSDD, noise; classes unknown, silence, the digits),
    with the real digits labelled as digits."""
    if os.path.exists(os.path.join(d, "test.safetensors")):
        return
    os.makedirs(d, exist_ok=True)
    t, meta = st_io.load(os.path.join(a.all, "train.safetensors"))
    assert json.loads(meta["classes"]) == CLASSES12
    with open(os.path.join(a.all, "manifest.csv")) as f:
        fold = {r["path"]: r["detail"] for r in csv.DictReader(f)}
    with open(os.path.join(a.all, "manifest_train.csv")) as f:
        man = list(csv.DictReader(f))
    assert len(man) == len(t["labels"])
    left = set(GROUPS[g])
    classes = [c for c in CLASSES12 if c not in left]
    if a.base == "mixed":
        classes = classes[:2] + DIGITS + classes[2:]
        for r in man:
            if r["word"] in DIGITS:
                r["label"] = r["word"]
    sel = {"train": [], "val": [], "test": []}
    for i, r in enumerate(man):
        fo = fold[r["path"]]
        if fo == f"fold{T}":
            if r["copy"] == "0":  # every clip of the test fold; left-out words labelled unknown (scored by word)
                sel["test"].append(i)
        elif r["label"] not in left:
            sel["val" if is_val(r["speaker"], r["path"]) else "train"].append(i)
    for name, idx in sel.items():
        idx = np.array(idx)
        feats = t["features"][idx]
        lab = np.array([classes.index(man[i]["label"]) if man[i]["label"] in classes else 0 for i in idx])
        rows = [dict(path=man[i]["path"], label=man[i]["label"], word=man[i]["word"], speaker=man[i]["speaker"],
                     fold=fold[man[i]["path"]], copy=man[i]["copy"]) for i in idx]
        if a.base == "mixed" and name != "test":
            m, mm = st_io.load(os.path.join(a.mixed, name + ".safetensors"))
            mc = json.loads(mm["classes"])
            with open(os.path.join(a.mixed, "manifest_%s.csv" % name)) as f:
                mr = list(csv.DictReader(f))
            keep = np.array([r["source"] != "gsc" for r in mr])
            assert not any(r["word"] in left for r in mr)
            feats = np.concatenate([m["features"][keep], feats])
            lab = np.concatenate([np.array([classes.index(mc[y]) for y in m["labels"][keep]]), lab])
            rows = [dict(path=r["path"], label=r["label"], word=r["word"], speaker=r["speaker"], fold="",
                         copy=r["copy"]) for r, k in zip(mr, keep) if k] + rows
        save(os.path.join(d, name + ".safetensors"), feats, lab, classes, rows)
        log(f"enroll_real: fold{T} {g} {a.base} {name}: {len(lab)} examples")


def train(a, d):
    out = os.path.join(d, "base.safetensors")
    if os.path.exists(out):
        return out
    # gsc-sparse (fuzz/corpus/arch/preset_gsc-sparse.json is the preset as
    # JSON) with one output per class of the data set
    arch = json.load(open(os.path.join(ROOT, "fuzz", "corpus", "arch", "preset_gsc-sparse.json")))
    classes = json.loads(st_io.load(os.path.join(d, "val.safetensors"))[1]["classes"])
    arch["classes"] = classes
    assert arch["layers"][-2]["name"] == "output"
    arch["layers"][-2]["out_features"] = len(classes)
    with open(os.path.join(d, "arch.json"), "w") as f:
        json.dump(arch, f)
    cmd = [a.zeroskip, "train", "--arch", os.path.join(d, "arch.json"), "--seed", str(a.train_seed),
           "--data", os.path.join(d, "train.safetensors"), "--val", os.path.join(d, "val.safetensors"),
           "--epochs", str(a.epochs), "--batch", "16", "--first-batch", "4" if a.base == "real" else "16", "--lr", "0.01", "--momentum", "0",
           "--weight-decay", "0.01", "--lr-gamma", "0.9", "--csv", os.path.join(d, "curve.csv"),
           "--out", out, "--quiet"] + (["--max-samples", str(a.max_samples)] if a.max_samples else [])
    t0, ru0 = time.time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(os.path.join(d, "train.log"), "w") as lg:
        lg.write(" ".join(cmd) + "\n")
        lg.flush()
        subprocess.run(["nice", "-n", "10"] + cmd, check=True, stdout=lg, stderr=subprocess.STDOUT,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        lg.write("wall %.1f s, cpu %.1f s, load %.2f\n" % (time.time() - t0, ru1.ru_utime + ru1.ru_stime
                                                           - ru0.ru_utime - ru0.ru_stime, os.getloadavg()[0]))
    log(f"enroll_real: trained {out} in {time.time() - t0:.0f} s")
    return out


def classes_of(model):
    with open(model, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        return json.loads(json.loads(f.read(n))["__metadata__"]["classes"])


def predict(a, model, data, tmp):
    subprocess.run([a.zeroskip, "eval", "--model", model, "--data", data, "--predictions", tmp],
                   check=True, stdout=subprocess.DEVNULL)
    cls = classes_of(model)
    with open(tmp) as f:
        return [cls[int(r["predicted"])] for r in csv.DictReader(f)]


def speaker(f):
    return os.path.basename(f).split("_nohash_")[0].split("_")[-1]


def enroll_run(a, T, g, d, base, word, seed, fh):
    with open(os.path.join(a.all, "manifest.csv")) as f:
        rows = list(csv.DictReader(f))
    train_rows = [r for r in rows if r["detail"] != f"fold{T}" and r["word"] != "_silence_"]
    by_spk = {}
    for r in sorted(train_rows, key=lambda r: r["path"]):
        if r["word"] == word:
            by_spk.setdefault(r["speaker"], []).append(r["path"])
    spk = sorted(by_spk)[:a.clips]
    clips = [by_spk[s][0] for s in spk]
    negs = sorted(r["path"] for r in train_rows if r["speaker"] in spk and r["word"] != word)
    negs = negs[::max(1, len(negs) // a.negatives)][:a.negatives]
    with open(os.path.join(d, "manifest_val.csv")) as f:
        n_val = sum(1 for _ in csv.DictReader(f))
    replay_n = n_val // 2
    out = os.path.join(d, f"enrolled-{word}-s{seed}.safetensors")
    lst = os.path.join(d, f"negatives-{word}.txt")
    with open(lst, "w") as f:
        f.write("\n".join(negs) + "\n")
    cmd = [a.zeroskip, "enroll", "--model", base, "--word", word, "--out", out,
           "--replay", os.path.join(d, "val.safetensors"), "--replay-n", str(replay_n),
           "--negatives", lst, "--seed", str(seed)]
    t0, ru0 = time.time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(["nice", "-n", "10"] + cmd + clips, capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode:
        sys.exit("enroll failed: " + r.stderr)
    summary = json.loads(r.stdout)
    summary.update(wall_s=round(time.time() - t0, 2),
                   cpu_s=round(ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime, 2),
                   load_avg=os.getloadavg()[0])
    with open(os.path.join(d, "manifest_test.csv")) as f:
        test = list(csv.DictReader(f))
    tmp = os.path.join(d, "pred.csv")
    before = predict(a, base, os.path.join(d, "test.safetensors"), tmp)
    after = predict(a, out, os.path.join(d, "test.safetensors"), tmp)
    base_cls = classes_of(base)
    old = [i for i, t in enumerate(test) if t["label"] in base_cls]
    pos = [i for i, t in enumerate(test) if t["word"] == word]
    oth = [i for i, t in enumerate(test) if t["word"] != word]
    res = dict(test_fold=T, group=g, word=word, seed=seed, enroll_clips=len(clips), enroll_speakers=len(spk),
               negative_clips=len(negs), replay_n=replay_n, calibration=n_val - replay_n,
               heldout_clips=len(pos), heldout_speakers=len({test[i]["speaker"] for i in pos}),
               recall=round(100.0 * sum(after[i] == word for i in pos) / len(pos), 2),
               other_clips=len(oth),
               false_accept=round(100.0 * sum(after[i] == word for i in oth) / len(oth), 2),
               false_accept_by_kind={k: round(100.0 * sum(after[i] == word for i in ix) / max(1, len(ix)), 2)
                                     for k, ix in (("other_new_words", [i for i in oth if test[i]["label"] not in base_cls]),
                                                   ("old_classes", old))},
               old_clips=len(old),
               old_acc_before=round(100.0 * sum(before[i] == test[i]["label"] for i in old) / len(old), 2),
               old_acc_after=round(100.0 * sum(after[i] == test[i]["label"] for i in old) / len(old), 2),
               enroll=summary, command=" ".join(cmd) + " CLIP...")
    res["old_acc_drop"] = round(res["old_acc_before"] - res["old_acc_after"], 2)
    os.remove(out)
    os.remove(tmp)
    line = json.dumps(res)
    print(line, flush=True)
    fh.write(line + "\n")
    fh.flush()
    return res


def table(results):
    print("| word (held-out clips / speakers) | base | recall, seeds | false accepts, seeds | old-class drop (points), seeds |")
    print("|---|---|---|---|---|")
    by = {}
    for r in results:
        by.setdefault((r["test_fold"], r["word"]), []).append(r)
    for (T, w), rs in by.items():
        rs.sort(key=lambda r: r["seed"])
        print("| %s (%d / %d) | B_%s fold %d, old %.2f %% | %s %% | %s %% of %d | %s |" % (
            w, rs[0]["heldout_clips"], rs[0]["heldout_speakers"], rs[0]["group"], T, rs[0]["old_acc_before"],
            " / ".join("%.2f" % r["recall"] for r in rs), " / ".join("%.2f" % r["false_accept"] for r in rs),
            rs[0]["other_clips"], " / ".join("%.2f" % r["old_acc_drop"] for r in rs)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--all", default="/work/data/speech-gsc12/all")
    ap.add_argument("--out", default="/work/data/enroll-real")
    ap.add_argument("--zeroskip", default=os.path.join(ROOT, "build", "zeroskip"))
    ap.add_argument("--test-fold", type=int, default=0)
    ap.add_argument("--groups", default="G1,G2")
    ap.add_argument("--words", help="only these words of the groups")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--base", choices=("real", "mixed"), default="real")
    ap.add_argument("--mixed", default="/work/data/enroll-base", help="data set added by --base mixed")
    ap.add_argument("--max-samples", type=int, default=0)
    ap.add_argument("--train-seed", type=int, default=1)
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--negatives", type=int, default=300)
    ap.add_argument("--probe", action="store_true", help="run enroll_probe.py on each base, then stop")
    ap.add_argument("--probe-features", default="/work/data/enroll-probe")
    ap.add_argument("--train-only", action="store_true")
    a = ap.parse_args()
    T = a.test_fold
    results = []
    for g in a.groups.split(","):
        d = os.path.join(a.out, f"fold{T}", g if a.base == "real" else g + "-mixed")
        build(a, T, g, d)
        base = train(a, d)
        if a.train_only:
            continue
        if a.probe:
            subprocess.run(["/usr/bin/python3", os.path.join(HERE, "enroll_probe.py"), "--model", base,
                            "--features", a.probe_features, "--zeroskip", a.zeroskip, "--words", ",".join(GROUPS[g]),
                            "--exclude", os.path.join(d, "manifest_train.csv"),
                            "--exclude", os.path.join(d, "manifest_val.csv")], check=True)
            continue
        with open(os.path.join(a.out, f"fold{T}", "runs-%s.jsonl" % a.base), "a") as fh:
            for w in GROUPS[g]:
                if a.words and w not in a.words.split(","):
                    continue
                for s in a.seeds.split(","):
                    results.append(enroll_run(a, T, g, d, base, w, int(s), fh))
    if results:
        table(results)


if __name__ == "__main__":
    main()
