#!/usr/bin/python3
"""torch_train_speed.py -- PyTorch training throughput on the same data, the
same network (built by scripts/export_torch.py from zeroskip's architecture
JSON) and the same batch size as `zeroskip train`, for the training-speed
table of docs/RESULTS.md. Prints one JSON line.

  bench/torch_train_speed.py --arch gsc-dense --data data/gsc/train.safetensors \
      [--batch 16] [--samples 2000] [--threads 2]

Times `--samples` samples of SGD (lr 0.01, weight decay 0.01, masks
re-applied, nupic semantics) after a warm-up batch; reports samples/s and the
implied epoch time for the whole file.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import export_torch as et  # noqa: E402
import st_io  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="gsc-dense")
    ap.add_argument("--data", required=True)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    arch = et.PRESETS[a.arch] if a.arch in et.PRESETS else json.load(open(a.arch))
    model = et.new_model(arch, a.seed)
    t, _ = st_io.load(a.data)
    x = torch.from_numpy(np.ascontiguousarray(t["features"], dtype=np.float32))
    if x.dim() == 3:
        x = x.unsqueeze(1)
    y = torch.from_numpy(t["labels"].astype(np.int64))
    n = x.shape[0]
    opt = torch.optim.SGD(model.parameters(), lr=0.01, weight_decay=0.01)
    g = torch.Generator().manual_seed(a.seed)
    order = torch.randperm(n, generator=g)
    B = a.batch
    et.sgd_step(model, opt, x[order[:B]], y[order[:B]])  # warm-up
    done, i = 0, B
    t0 = time.perf_counter()
    while done < a.samples:
        idx = order[i % n: i % n + B]
        if len(idx) < B:
            idx = order[:B]
        et.sgd_step(model, opt, x[idx], y[idx])
        done += len(idx)
        i += B
    dt = time.perf_counter() - t0
    print(json.dumps({"peer": "pytorch", "torch": torch.__version__, "arch": a.arch, "batch": B,
                      "threads": a.threads, "samples": done, "seconds": dt,
                      "samples_per_s": done / dt, "epoch_s_for_file": n / (done / dt), "n_file": n}))


if __name__ == "__main__":
    main()
