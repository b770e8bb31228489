#!/usr/bin/python3
"""torch_bench.py — a zeroskip model run by PyTorch (CPU, eval) as a long-lived
peer of `zeroskip bench`, driven by a line protocol on stdin/stdout.

    /usr/bin/python3 bench/torch_bench.py --model M.safetensors \
        [--mode twin|kwta] [--input X.f32] [--check-in X.f32 --check-ref Y.f32]

The network is rebuilt from the model file by bench/zsmodel.py (the dense
twin by default: k-WTA -> ReLU, as gsc-dense) and run under
torch.inference_mode(). On start it prints one line "ready {json}" (engine,
version, OMP wait policy, and with --check-in/--check-ref "verify": max
|diff| and argmax agreement against zeroskip's log-probabilities) or
"error MESSAGE" and exits 2. Then, per stdin line:
  run SECONDS BATCH THREADS -> {"words": W, "wall": S, "cpu": S, "calls": C}
      torch.set_num_threads(THREADS); batches of BATCH inputs (cycled from
      --input, or standard normal) for at least SECONDS of wall time, after
      an untimed warm-up (max(0.2 s, 3 calls)) on the first use of
      (THREADS, BATCH); cpu = process CPU seconds (every thread) during it.
  quit (or end of input) -> exits 0.

OpenMP waiting: libgomp's default is to spin between parallel regions,
which collapses when the cores are shared with other work (2 threads,
batch 1: 7 words/s instead of ~300 on a 2-core machine while others
compile). Unless OMP_WAIT_POLICY is already set, this script sets it to
PASSIVE before importing torch; the policy used is in the ready line.
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads libgomp
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def fail(msg):
    print(f"error {msg}", flush=True)
    print(f"torch_bench: {msg}", file=sys.stderr)
    sys.exit(2)


try:
    import numpy as np  # noqa: E402
    import torch  # noqa: E402
    import zsmodel  # noqa: E402
except ImportError as e:
    fail(f"cannot import torch/numpy: {e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--mode", choices=("twin", "kwta"), default="twin")
    ap.add_argument("--input")
    ap.add_argument("--check-in")
    ap.add_argument("--check-ref")
    a = ap.parse_args()
    try:
        arch, tensors, _ = zsmodel.read_model(a.model)
        shape = zsmodel.input_shape(arch)
        net = zsmodel.build_torch(arch, tensors, a.mode)
        xs = zsmodel.load_raw_f32(a.input, shape) if a.input else zsmodel.random_inputs(256, shape)
    except (OSError, ValueError) as e:
        fail(str(e))
    info = {"engine": "pytorch", "version": torch.__version__, "mode": a.mode, "model": a.model,
            "input_shape": list(shape), "inputs": int(xs.shape[0]),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "")}
    if a.check_in and a.check_ref:
        xin = zsmodel.load_raw_f32(a.check_in, shape)
        ref = np.fromfile(a.check_ref, dtype="<f4").reshape(xin.shape[0], -1)
        with torch.inference_mode():
            info["verify"] = zsmodel.compare(net(torch.from_numpy(xin)).numpy(), ref)
    x = torch.from_numpy(np.ascontiguousarray(xs))
    batches, warm = {}, set()
    print("ready " + json.dumps(info), flush=True)
    for line in sys.stdin:
        w = line.split()
        if w and w[0] == "quit":
            break
        try:
            if len(w) != 4 or w[0] != "run":
                raise ValueError(f"unknown command '{line.strip()}'")
            secs, b, t = float(w[1]), int(w[2]), int(w[3])
            if secs <= 0 or b < 1 or t < 1:
                raise ValueError(f"bad run arguments '{line.strip()}'")
        except ValueError as e:
            print(f"error {e}", flush=True)
            continue
        if b not in batches:
            xb = torch.cat([x] * (-(-b // x.shape[0]))) if x.shape[0] < b else x
            batches[b] = [xb[i * b:(i + 1) * b] for i in range(xb.shape[0] // b)]
        bs = batches[b]
        torch.set_num_threads(t)
        with torch.inference_mode():
            calls = 0
            if (t, b) not in warm:
                t0 = time.perf_counter()
                while calls < 3 or time.perf_counter() - t0 < 0.2:
                    net(bs[calls % len(bs)])
                    calls += 1
                warm.add((t, b))
            calls = 0
            c0, t0 = time.process_time(), time.perf_counter()
            while True:
                net(bs[calls % len(bs)])
                calls += 1
                dt = time.perf_counter() - t0
                if dt >= secs and calls >= 2:
                    break
            cpu = time.process_time() - c0
        print(json.dumps({"words": calls * b, "wall": dt, "cpu": cpu, "calls": calls}), flush=True)


if __name__ == "__main__":
    main()
