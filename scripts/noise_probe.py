#!/usr/bin/python3
"""noise_probe.py — why is our sparse network not more robust than dense?

What it is: the paper's noise score (correct answers over α = 0 … 0.5 of
`(1 − α)·x + α·U(−1, 1)`, data/gsc/noise/test_a*.safetensors built by
`make models`) of trained models, and of copies of the sparse models whose
k-WTA boost strength is set to another value at inference. Boosting
multiplies each unit's activation by exp(β·(target − duty cycle)) before the
top-k choice, in training and in inference (nupic.torch's KWinners). The
paper trains 30 epochs with β = 1.5 × 0.9^epoch, so its models end with
β ≈ 0.06 — almost no boosting; ours, trained 4 (+2) epochs, end near β ≈ 0.8.
Only the boost_strength tensors differ between a model and its copies;
nothing is retrained.

    /usr/bin/python3 scripts/noise_probe.py MODEL... [--boost 0.06 0] [--out results/noise_probe.json]
"""
import argparse
import glob
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import st_io  # noqa: E402

import numpy as np  # noqa: E402


def noise_score(zs, model, files):
    out = []
    for f in files:
        r = subprocess.run([zs, "eval", "--model", model, "--data", f, "--json"], check=True,
                           capture_output=True, text=True)
        out.append(json.loads(r.stdout)["correct"])
    return out


def with_boost(model, beta, path):
    t, meta = st_io.load(model)
    n = 0
    for k in t:
        if k.endswith(".boost_strength"):
            t[k] = np.array(beta, np.float32)
            n += 1
    st_io.save(path, t, meta)
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--boost", type=float, nargs="*", default=[0.06, 0.0])
    ap.add_argument("--noise", default=os.path.join(ROOT, "data", "gsc", "noise"))
    ap.add_argument("--zeroskip", default=os.path.join(ROOT, "build", "zeroskip"))
    ap.add_argument("--work", default=os.path.join(ROOT, "results", "noise_probe"))
    ap.add_argument("--out", default=os.path.join(ROOT, "results", "noise_probe.json"))
    a = ap.parse_args()
    files = sorted(glob.glob(os.path.join(a.noise, "test_a*.safetensors")))
    if not files:
        sys.exit("noise_probe: no %s/test_a*.safetensors (make models builds them)" % a.noise)
    os.makedirs(a.work, exist_ok=True)
    rows = []
    for m in a.models:
        t, _ = st_io.load(m)
        betas = sorted({float(v) for k, v in t.items() if k.endswith(".boost_strength")})
        levels = noise_score(a.zeroskip, m, files)
        rows.append(dict(model=os.path.basename(m), boost=betas, levels=levels, score=sum(levels)))
        print(f"{os.path.basename(m)} (boost {betas}): noise score {sum(levels)}: {levels}", flush=True)
        if not betas:
            continue
        for b in a.boost:
            p = os.path.join(a.work, os.path.basename(m).replace(".safetensors", f"-boost{b:g}.safetensors"))
            with_boost(m, b, p)
            levels = noise_score(a.zeroskip, p, files)
            rows.append(dict(model=os.path.basename(m), boost=[b], levels=levels, score=sum(levels)))
            print(f"{os.path.basename(m)} at boost {b:g}: noise score {sum(levels)}: {levels}", flush=True)
    with open(a.out, "w") as f:
        json.dump(dict(files=[os.path.basename(x) for x in files], rows=rows), f, indent=1)


if __name__ == "__main__":
    main()
