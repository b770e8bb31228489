#!/usr/bin/python3
"""enroll_probe.py — what a model's features allow for keyword enrollment,
best case: a linear probe on the code that feeds the output layer.

For each word W, the real Speech Commands clips that the model never
trained on (--exclude: the model's data-set manifests) are split by speaker
into two halves; a logistic-regression row (L2, class-balanced, full batch)
is fitted on one half (W against every other word and _unknown_) and
measured on the other, then the halves swap. Reported per word: the
false-accept rate on the other half's other words at the threshold that
keeps 90 % recall of W there (an oracle threshold: the best the feature can
do for that recall), and the recall at 5 % false accepts. Far more examples
than enrollment has (about 90 clips of W and 1,000 of other words per fit),
so it bounds what fitting one row on this code can reach.

usage: enroll_probe.py --model M [--model M2 ...] --features DIR
                       [--exclude manifest_train.csv ...] [--layer NAME]
                       [--root ../shared/data/speech_commands_v0.02_test]
DIR/test.safetensors: the log-mel features of every clip under --root but
_silence_ (`zeroskip dataset build --classes unknown,yes,... --augment 0
--splits test` of DIR/manifest.csv, made here if DIR has none).
--layer: the probed layer's output (default: the input of the last linear
layer, i.e. what `zeroskip enroll` fits its row on).
"""
import argparse, csv, os, subprocess, sys
import numpy as np
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st_io  # noqa: E402
from export_torch import load_zeroskip  # noqa: E402


def code(model, x, layer):
    names = [n for n, _ in model.named_children()]
    if layer is None:
        lin = [n for n, m in model.named_children() if isinstance(m, torch.nn.Linear)]
        stop = names.index(lin[-1])
    else:
        stop = names.index(layer) + 1
    with torch.no_grad():
        out = []
        for i in range(0, len(x), 512):
            h = torch.from_numpy(x[i:i + 512])
            for m in list(model.children())[:stop]:
                h = m(h)
            out.append(h.reshape(len(h), -1).numpy())
    return np.concatenate(out)


def fit(h, y, l2=1e-3, steps=300):
    h = torch.from_numpy(h).double()
    y = torch.from_numpy(y.astype(np.float64))
    mu, sd = h.mean(0), h.std(0) + 1e-6
    z = (h - mu) / sd
    w = torch.zeros(h.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    pw = (1 - y).sum() / y.sum()
    opt = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        s = z @ w + b
        loss = torch.nn.functional.binary_cross_entropy_with_logits(s, y, pos_weight=pw) + l2 * (w * w).sum()
        loss.backward()
        return loss
    opt.step(closure)
    return lambda g: (((torch.from_numpy(g).double() - mu) / sd) @ w + b).detach().numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append", required=True)
    ap.add_argument("--features", required=True)
    ap.add_argument("--root", default="../shared/data/speech_commands_v0.02_test")
    ap.add_argument("--zeroskip", default="build/zeroskip")
    ap.add_argument("--exclude", action="append", default=[])
    ap.add_argument("--layer")
    ap.add_argument("--words", default="yes,no,up,down,left,right,on,off,stop,go")
    a = ap.parse_args()
    words = a.words.split(",")
    mdir = os.path.abspath(a.features)
    if not os.path.exists(os.path.join(mdir, "test.safetensors")):
        os.makedirs(mdir, exist_ok=True)
        with open(os.path.join(mdir, "manifest.csv"), "w") as f:
            f.write("path,label,split,word\n")
            for d in sorted(os.listdir(a.root)):
                p = os.path.join(a.root, d)
                if d == "_silence_" or not os.path.isdir(p):
                    continue
                for c in sorted(os.listdir(p)):
                    f.write("%s,%s,test,%s\n" % (os.path.abspath(os.path.join(p, c)),
                                                 d if d in words else "unknown", d))
        subprocess.run([a.zeroskip, "dataset", "build", "--manifest", os.path.join(mdir, "manifest.csv"),
                        "--out", mdir, "--classes", "unknown," + ",".join(words), "--augment", "0",
                        "--splits", "test", "--threads", "1", "--quiet"], check=True)
    t, _ = st_io.load(os.path.join(mdir, "test.safetensors"))
    x = np.ascontiguousarray(t["features"], dtype=np.float32)
    with open(os.path.join(mdir, "manifest_test.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(x)
    seen = set()
    for m in a.exclude:
        d = os.path.dirname(os.path.abspath(m))
        with open(m, newline="") as f:
            seen |= {os.path.realpath(os.path.join(d, r["path"])) for r in csv.DictReader(f)}
    keep = np.array([os.path.realpath(os.path.join(mdir, r["path"])) not in seen for r in rows])
    word = np.array([r["word"] for r in rows])
    spk = np.array([os.path.basename(r["path"]).split("_nohash_")[0].split("_")[-1] for r in rows])
    half = np.array([int(s[:8], 16) % 2 for s in spk])
    print("clips %d, never trained on %d, excluded %d" % (len(rows), keep.sum(), (~keep).sum()))
    for mp in a.model:
        model, _ = load_zeroskip(mp)
        h = code(model, x, a.layer)
        print("%s (%s, %d dims)" % (mp, a.layer or "input of the last linear layer", h.shape[1]))
        print("| word | clips (speakers) | false accepts at 90 % recall | recall at 5 % false accepts |")
        print("|---|---|---|---|")
        for w in words:
            fa90, r5 = [], []
            for tr in (0, 1):
                A, B = keep & (half == tr), keep & (half != tr)
                score = fit(h[A], (word[A] == w).astype(np.int64))
                s = score(h[B])
                pos, neg = s[word[B] == w], s[word[B] != w]
                thr = np.quantile(pos, 0.10)
                fa90.append((neg >= thr).mean() * 100)
                r5.append((pos > np.quantile(neg, 0.95)).mean() * 100)
            n = (keep & (word == w)).sum()
            print("| %s | %d (%d) | %.1f %% | %.1f %% |" % (w, n, len(set(spk[keep & (word == w)])),
                                                       np.mean(fa90), np.mean(r5)))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
