#!/usr/bin/python3
"""torch_bench.py — words/s of a zeroskip model run by PyTorch (CPU, eval).

    /usr/bin/python3 bench/torch_bench.py --model M.safetensors \
        [--mode twin|kwta] [--batch 1,16,64,256] [--threads 1,2] \
        [--seconds 2] [--reps 5] [--input X.f32] \
        [--check-in X.f32 --check-ref Y.f32]

The network is rebuilt from the model file by bench/zsmodel.py (the dense
twin by default: k-WTA -> ReLU, as gsc-dense), run under
torch.inference_mode() with torch.set_num_threads(T). For each (threads,
batch): warm-up (max(0.2 s, 3 calls)), then `reps` repetitions of about
seconds/reps each; words/s of every repetition; the median, min and max are
reported. Prints one JSON document on stdout:
  {"engine": "pytorch", "version": ..., "rows": [{"threads", "batch",
   "words_per_s", "words_per_s_min", "words_per_s_max", "us_per_word",
   "reps", "calls"}], "verify": {...}}
Inputs: --input (raw float32 (n, C, H, W), cycled) or standard normal.

OpenMP waiting: libgomp's default is to spin between parallel regions,
which collapses when the cores are shared with other work (2 threads,
batch 1: 7 words/s instead of ~300 on this 2-core machine while others
compile). Unless OMP_WAIT_POLICY is already set, this script sets it to
PASSIVE before importing torch; the policy used is in the JSON.
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads libgomp
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import zsmodel  # noqa: E402


def int_list(s):
    v = [int(t) for t in s.split(",") if t]
    if not v or min(v) < 1:
        raise argparse.ArgumentTypeError(f"bad list '{s}'")
    return v


def time_config(net, x, batch, seconds, reps):
    if x.shape[0] < batch:  # repeat the inputs to fill one batch
        x = torch.cat([x] * (-(-batch // x.shape[0])))
    batches = [x[i * batch:(i + 1) * batch] for i in range(x.shape[0] // batch)]
    with torch.inference_mode():
        t0, calls = time.perf_counter(), 0
        while calls < 3 or time.perf_counter() - t0 < 0.2:
            net(batches[calls % len(batches)])
            calls += 1
        rates, total = [], 0
        slot = seconds / reps
        for _ in range(reps):
            t0, calls = time.perf_counter(), 0
            while True:
                net(batches[calls % len(batches)])
                calls += 1
                dt = time.perf_counter() - t0
                if dt >= slot and calls >= 2:
                    break
            rates.append(calls * batch / dt)
            total += calls
    rates.sort()
    med = rates[len(rates) // 2] if len(rates) % 2 else 0.5 * (rates[len(rates) // 2 - 1] + rates[len(rates) // 2])
    return {"batch": batch, "words_per_s": med, "words_per_s_min": rates[0],
            "words_per_s_max": rates[-1], "us_per_word": 1e6 / med, "reps": reps,
            "calls": total}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--mode", choices=("twin", "kwta"), default="twin")
    ap.add_argument("--batch", type=int_list, default=[1, 16, 64, 256])
    ap.add_argument("--threads", type=int_list, default=[1, 2])
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--input")
    ap.add_argument("--check-in")
    ap.add_argument("--check-ref")
    a = ap.parse_args()
    if a.seconds <= 0 or a.reps < 1:
        ap.error("--seconds must be > 0 and --reps >= 1")

    arch, tensors, _ = zsmodel.read_model(a.model)
    shape = zsmodel.input_shape(arch)
    net = zsmodel.build_torch(arch, tensors, a.mode)
    res = {"engine": "pytorch", "version": torch.__version__, "mode": a.mode,
           "model": a.model, "input_shape": list(shape),
           "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
           "dense_macs": zsmodel.dense_macs(arch, tensors), "rows": []}
    if a.check_in and a.check_ref:
        xin = zsmodel.load_raw_f32(a.check_in, shape)
        ref = np.fromfile(a.check_ref, dtype="<f4").reshape(xin.shape[0], -1)
        with torch.inference_mode():
            res["verify"] = zsmodel.compare(net(torch.from_numpy(xin)).numpy(), ref)
    xs = zsmodel.load_raw_f32(a.input, shape) if a.input else zsmodel.random_inputs(max(a.batch), shape)
    x = torch.from_numpy(np.ascontiguousarray(xs))
    for t in a.threads:
        torch.set_num_threads(t)
        for b in a.batch:
            row = time_config(net, x, b, a.seconds, a.reps)
            row["threads"] = t
            res["rows"].append(row)
            print(f"pytorch threads {t} batch {b}: {row['words_per_s']:.0f} words/s",
                  file=sys.stderr)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
