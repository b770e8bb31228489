#!/usr/bin/env python3
"""enroll_eval.py — keyword enrollment measured on real clips.

Speech Commands v0.02 test clips (../shared/data/speech_commands_v0.02_test)
split by speaker: `zeroskip enroll` learns WORD from one clip each of the
first N speakers (sorted speaker ids); the word's clips of every other
speaker are the held-out set (recall), the clips of every other word
(and _unknown_) by speakers not enrolled measure false accepts (called
WORD). Old classes: accuracy of the model before and after on a data set
(--test, e.g. the test split of the model's data set), with `zeroskip eval`.

Held-out clips must be clips the model never trained on: --trained CSV
(repeatable) names the model's training data (a data set's
manifest_train.csv and manifest_val.csv, paths relative to the CSV), and
every clip listed there is left out of the held-out and false-accept sets
(counted in "excluded_trained"). The shipped digit models learned about 50
clips of each command word per word as `unknown` from the data set's
train/val speakers; the enrollment base model (scripts/enroll_base.sh) never
heard the command words, so for it only its other training clips (other
words, _silence_) are left out.

usage: enroll_eval.py --model M --word yes [--clips 20] [--test DATA]
                      [--trained CSV ...] [--negatives 300] [--replay DATA]
                      [--replay-n N] [--recall R] [--max-old F]
                      [--no-augment] [--seed S]
                      [--zeroskip build/zeroskip] [--out-json FILE]
Prints one JSON line of results (and writes it to --out-json).
"""
import argparse, csv, json, os, re, resource, subprocess, sys, tempfile, time

def speaker(f):
    """Speaker id of a Speech Commands file name (_unknown_ names start with their word)."""
    return os.path.basename(f).split("_nohash_")[0].split("_")[-1]

def listen(z, model, files):
    out = []
    for i in range(0, len(files), 200):
        r = subprocess.run([z, "listen", "--model", model, "--json"] + files[i:i + 200],
                           capture_output=True, text=True)
        out += [json.loads(l) for l in r.stdout.splitlines()]
    return out

def accuracy(z, model, data):
    r = subprocess.run([z, "eval", "--model", model, "--data", data], capture_output=True, text=True)
    m = re.search(r"accuracy[^0-9]*([0-9.]+)\s*%", r.stdout + r.stderr)
    if not m:
        sys.exit("eval failed: " + r.stdout + r.stderr)
    return float(m.group(1))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--word", default="yes")
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--root", default="../shared/data/speech_commands_v0.02_test")
    ap.add_argument("--test")
    ap.add_argument("--trained", action="append", default=[],
                    help="manifest CSV of the model's training data; its clips are not measured")
    ap.add_argument("--old-real", action="store_true",
                    help="old classes on real clips: FSDD speaker george (a test speaker, digits) + _silence_")
    ap.add_argument("--fsdd", default="../shared/data/fsdd/recordings")
    ap.add_argument("--replay")
    ap.add_argument("--replay-n", type=int)
    ap.add_argument("--negatives", type=int, default=0,
                    help="up to N clips of other words by the enrollment speakers, learned as not WORD")
    ap.add_argument("--recall", type=float)
    ap.add_argument("--max-old", type=float)
    ap.add_argument("--no-augment", action="store_true")
    ap.add_argument("--neg-weight", type=float)
    ap.add_argument("--l2", type=float)
    ap.add_argument("--seed", type=int, help="enroll --seed: the replay draw")
    ap.add_argument("--zeroskip", default="build/zeroskip")
    ap.add_argument("--out-json")
    a = ap.parse_args()
    wdir = os.path.join(a.root, a.word)
    by_spk = {}
    for f in sorted(os.listdir(wdir)):
        by_spk.setdefault(speaker(f), []).append(os.path.join(wdir, f))
    spk = sorted(by_spk)
    enroll_spk = spk[:a.clips]
    enroll = [by_spk[s][0] for s in enroll_spk]
    held = [f for s in spk[a.clips:] for f in by_spk[s]]
    others = []
    for d in sorted(os.listdir(a.root)):
        p = os.path.join(a.root, d)
        if d in (a.word, "_silence_") or not os.path.isdir(p):
            continue
        others += [os.path.join(p, f) for f in sorted(os.listdir(p))
                   if speaker(f) not in enroll_spk]
    negs = []
    for d in sorted(os.listdir(a.root)):
        p = os.path.join(a.root, d)
        if d in (a.word, "_silence_") or not os.path.isdir(p):
            continue
        negs += [os.path.join(p, f) for f in sorted(os.listdir(p)) if speaker(f) in enroll_spk]
    negs = negs[::max(1, len(negs) // a.negatives)][:a.negatives] if a.negatives else []
    seen = set()
    for m in a.trained:
        d = os.path.dirname(os.path.abspath(m))
        with open(m, newline="") as f:
            seen |= {os.path.realpath(os.path.join(d, r["path"])) for r in csv.DictReader(f)}
    n_held, n_others = len(held), len(others)
    held = [f for f in held if os.path.realpath(f) not in seen]
    others = [f for f in others if os.path.realpath(f) not in seen]
    excluded = {"heldout": n_held - len(held), "other": n_others - len(others)}
    tmp = tempfile.mkdtemp(prefix="zs_enroll_")
    out = os.path.join(tmp, "enrolled.safetensors")
    cmd = [a.zeroskip, "enroll", "--model", a.model, "--word", a.word, "--out", out]
    if a.replay:
        cmd += ["--replay", a.replay] + (["--replay-n", str(a.replay_n)] if a.replay_n else [])
    if negs:
        lst = os.path.join(tmp, "negatives.txt")
        with open(lst, "w") as f:
            f.write("\n".join(negs) + "\n")
        cmd += ["--negatives", lst]
    if a.recall:
        cmd += ["--recall", str(a.recall)]
    if a.max_old is not None:
        cmd += ["--max-old", str(a.max_old)]
    if a.neg_weight is not None:
        cmd += ["--neg-weight", str(a.neg_weight)]
    if a.l2 is not None:
        cmd += ["--l2", str(a.l2)]
    if a.no_augment:
        cmd += ["--no-augment"]
    if a.seed is not None:
        cmd += ["--seed", str(a.seed)]
    t0 = time.time()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(cmd + enroll, capture_output=True, text=True)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode:
        sys.exit("enroll failed: " + r.stderr)
    summary = json.loads(r.stdout)
    summary["wall_s"] = round(time.time() - t0, 3)
    summary["cpu_s"] = round(ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime, 3)
    summary["load_avg"] = os.getloadavg()[0]
    h = listen(a.zeroskip, out, held)
    o_new = listen(a.zeroskip, out, others)
    res = {
        "word": a.word, "enroll_clips": len(enroll), "enroll_speakers": len(enroll_spk), "negative_clips": len(negs),
        "heldout_clips": len(held),
        "heldout_speakers": len({speaker(f) for f in held}),
        "excluded_trained": excluded,
        "recall": round(100.0 * sum(x.get("label") == a.word for x in h) / len(h), 2),
        "other_clips": len(others),
        "false_accept": round(100.0 * sum(x.get("label") == a.word for x in o_new) / len(others), 2),
        "enroll": summary, "command": " ".join(cmd[:1] + cmd[1:]) + " CLIP...",
    }
    if a.old_real:
        names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
        old = [(os.path.join(a.fsdd, f), names[int(f.split("_")[0])]) for f in sorted(os.listdir(a.fsdd))
               if f.split("_")[1] == "george"]
        sil = os.path.join(a.root, "_silence_")
        old += [(os.path.join(sil, f), "silence") for f in sorted(os.listdir(sil))]
        files = [f for f, _ in old]
        for tag, mdl in (("before", a.model), ("after", out)):
            r = listen(a.zeroskip, mdl, files)
            res["old_real_acc_" + tag] = round(100.0 * sum(x.get("label") == l for x, (_, l) in zip(r, old)) / len(old), 2)
        res["old_real_clips"] = len(old)
        res["old_real_drop"] = round(res["old_real_acc_before"] - res["old_real_acc_after"], 2)
    if a.test:
        res["old_acc_before"] = accuracy(a.zeroskip, a.model, a.test)
        res["old_acc_after"] = accuracy(a.zeroskip, out, a.test)
        res["old_acc_drop"] = round(res["old_acc_before"] - res["old_acc_after"], 2)
    line = json.dumps(res)
    print(line)
    if a.out_json:
        with open(a.out_json, "a") as f:
            f.write(line + "\n")
    os.remove(out)
    if negs:
        os.remove(lst)
    os.rmdir(tmp)

if __name__ == "__main__":
    main()
