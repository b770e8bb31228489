#!/usr/bin/python3
"""codesign_table.py — accuracy table of the codesigned candidates (issue 10).

For each model file: accuracy on the test split (`zeroskip eval`), the noise
score (correct answers summed over the noisy copies of the test split,
test_a0.00 … test_a0.50, as docs/RESULTS.md), the real-speech numbers of
scripts/real_eval.py (its --json output: real digits, non-digit words
rejected) and the file's bytes. Models named NET-sSEED.safetensors are
grouped by NET: mean ± standard deviation over seeds, and the seed count.

    /usr/bin/python3 scripts/codesign_table.py MODEL... --real REAL.json [REAL2.json ...] \
        [--test data/gsc/test.safetensors] [--noise-dir data/gsc/noise] [--json OUT.json] [--prev OLD.json...]
"""
import argparse
import glob
import json
import os
import re
import statistics
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def correct(zs, model, data):
    r = json.loads(subprocess.run([zs, "eval", "--model", model, "--data", data, "--json"], check=True,
                                  capture_output=True, text=True).stdout)
    return r["correct"], r["accuracy"]


def ms(v, d=2):
    if len(v) == 1:
        return f"{v[0]:.{d}f}"
    return f"{statistics.mean(v):.{d}f} ± {statistics.stdev(v):.{d}f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", nargs="+")
    ap.add_argument("--zeroskip", default=os.path.join(ROOT, "build", "zeroskip"))
    ap.add_argument("--test", default=os.path.join(ROOT, "data", "gsc", "test.safetensors"))
    ap.add_argument("--noise-dir", default=os.path.join(ROOT, "data", "gsc", "noise"))
    ap.add_argument("--real", nargs="*", default=[])
    ap.add_argument("--json")
    ap.add_argument("--prev", nargs="*", default=[], help="--json files of earlier runs: their models are not re-evaluated")
    a = ap.parse_args()
    prev = {}
    for f in a.prev:
        for rs in json.load(open(f)).values():
            for r in rs:
                prev[r["model"]] = r
    real = {}
    for f in a.real:
        for k, v in json.load(open(f))["results"].items():
            real[os.path.basename(k)] = v
    noise = sorted(glob.glob(os.path.join(a.noise_dir, "test_a*.safetensors")))
    rows = {}
    for m in a.models:
        base = os.path.basename(m)
        seeded = re.search(r"-s\d+\.safetensors$", base)
        net = base[:seeded.start()] if seeded else base.replace(".safetensors", "") + " (file)"
        r = {"model": m, "bytes": os.path.getsize(m)}
        if m in prev:
            r.update({k: prev[m][k] for k in ("test_acc", "noise_score")})
        else:
            r["test_acc"] = 100 * correct(a.zeroskip, m, a.test)[1]
            r["noise_score"] = sum(correct(a.zeroskip, m, f)[0] for f in noise) if len(noise) == 11 else None
        if base in real:
            r["real_digits"] = real[base]["digits_all"]["pct"]
            r["real_reject"] = real[base]["reject_words"]["pct"]
        rows.setdefault(net, []).append(r)
        print(base, json.dumps({k: v for k, v in r.items() if k != "model"}), flush=True)
    print()
    print("| network | seeds | test split % | real digits % | non-digit words rejected % | noise score | file bytes |")
    print("|---|---|---|---|---|---|---|")
    for net, rs in rows.items():
        col = lambda k: [r[k] for r in rs if r.get(k) is not None]
        rd, rj, ns = col("real_digits"), col("real_reject"), col("noise_score")
        print(f"| {net} | {len(rs)} | {ms(col('test_acc'))} | {ms(rd) if rd else 'n/a'} | {ms(rj) if rj else 'n/a'} | "
              f"{ms(ns, 0) if ns else 'n/a'} | {rs[0]['bytes']:,} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
