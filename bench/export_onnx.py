#!/usr/bin/python3
"""export_onnx.py — export a zeroskip model file to ONNX for the peer benchmarks.

    /usr/bin/python3 bench/export_onnx.py --model M.safetensors --out M.onnx \
        [--mode twin|kwta] [--opset 13] [--check-in X.f32 --check-ref Y.f32]

The network is rebuilt in PyTorch (bench/zsmodel.py) with zeroskip's weights
and exported in eval mode with a dynamic batch axis (input "x" (N, C, H, W),
output "logprob" (N, K)).
  --mode twin  (default) the dense twin: k-WTA -> ReLU, masked weights stored
               as zeros in dense tensors; what ONNX Runtime / PyTorch are
               timed on (the same MACs as gsc-dense).
  --mode kwta  k-WTA kept as TopK + ScatterElements ("masked dense"): the
               same function as zs_net_infer, for checking the export.
--check-in/--check-ref: raw float32 inputs (n, C, H, W) and zeroskip's
log-probabilities (n, K); the PyTorch module is compared against them and
the result goes into the JSON line printed on stdout.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import zsmodel  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--mode", choices=("twin", "kwta"), default="twin")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--check-in")
    ap.add_argument("--check-ref")
    a = ap.parse_args()
    if a.opset < 13:
        ap.error("--opset must be >= 13")

    arch, tensors, _ = zsmodel.read_model(a.model)
    shape = zsmodel.input_shape(arch)
    net = zsmodel.build_torch(arch, tensors, a.mode)
    x = torch.from_numpy(zsmodel.random_inputs(2, shape, seed=1))
    tmp = a.out + ".tmp"
    with torch.no_grad():
        torch.onnx.export(net, x, tmp, input_names=["x"], output_names=["logprob"],
                          dynamic_axes={"x": {0: "N"}, "logprob": {0: "N"}},
                          opset_version=a.opset, do_constant_folding=True)
    os.replace(tmp, a.out)
    res = {"onnx": a.out, "mode": a.mode, "opset": a.opset, "input_shape": list(shape),
           "dense_macs": zsmodel.dense_macs(arch, tensors),
           "params": int(sum(p.numel() for p in net.parameters())),
           "bytes": os.path.getsize(a.out)}
    try:
        import onnx
        onnx.checker.check_model(onnx.load(a.out))
        res["onnx_checker"] = "ok"
    except ImportError:
        res["onnx_checker"] = "onnx package unavailable"
    if a.check_in and a.check_ref:
        xin = zsmodel.load_raw_f32(a.check_in, shape)
        ref = np.fromfile(a.check_ref, dtype="<f4").reshape(xin.shape[0], -1)
        with torch.no_grad():
            out = net(torch.from_numpy(xin)).numpy()
        res["verify_torch"] = zsmodel.compare(out, ref)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
