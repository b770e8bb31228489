#!/usr/bin/python3
"""export_onnx.py — export a zeroskip model file to ONNX for the peer benchmarks.

    /usr/bin/python3 bench/export_onnx.py --model M.safetensors --out M.onnx \
        [--mode twin|kwta] [--opset 13] [--check-in X.f32 --check-ref Y.f32] \
        [--int8-out M8.onnx --calib X.f32]

The network is rebuilt in PyTorch (bench/zsmodel.py) with zeroskip's weights,
BatchNorm folded into the conv/linear before it (eval statistics), and
exported in eval mode with a dynamic batch axis (input "x" (N, C, H, W),
output "logprob" (N, K)).
  --mode twin  (default) the dense twin: k-WTA -> ReLU, masked weights stored
               as zeros in dense tensors; what ONNX Runtime / PyTorch are
               timed on (the same MACs as gsc-dense).
  --mode kwta  k-WTA kept as TopK + ScatterElements ("masked dense"): the
               same function as zs_net_infer, for checking the export.
--check-in/--check-ref: raw float32 inputs (n, C, H, W) and zeroskip's
log-probabilities (n, K); the PyTorch module is compared against them.

--int8-out: also write a statically quantized copy in QDQ form (python3-onnx
only, no onnxruntime needed): QuantizeLinear/DequantizeLinear pairs on the
input, on every ReLU output (uint8, zero point 0) and after every MaxPool and
Flatten (same scale as their input), so ONNX Runtime fuses each
DQ -> Conv/Gemm -> ReLU -> Q into QLinearConv / QGemm; weights int8 per
output channel, symmetric, |q| <= 63 (ORT's reduce_range: the u8 x s8 AVX2
kernels saturate 16-bit sums with full-range weights), biases int32 at
scale x_scale * w_scale. The last Gemm (to the K classes) and LogSoftmax stay
fp32. Activation scales are calibrated on --calib (the bench's inputs: real
log-mel features): the input's 0.01..99.99th percentiles, each ReLU
output's 99.99th percentile. Its top-1 agreement with the fp32 model is
measured by ort_bench.js --agree-with (ONNX Runtime runs both).
Prints one JSON line on stdout.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import zsmodel  # noqa: E402


def _fuse(m, bn):
    """Copy of conv/linear m with the eval BatchNorm bn after it folded in."""
    with torch.no_grad():
        scale = torch.rsqrt(bn.running_var + bn.eps)
        if bn.weight is not None:
            scale = scale * bn.weight
        shift = -bn.running_mean * scale
        if bn.bias is not None:
            shift = shift + bn.bias
        b = m.bias if m.bias is not None else torch.zeros(m.weight.shape[0])
        if isinstance(m, nn.Conv2d):
            f = nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, bias=True)
        else:
            f = nn.Linear(m.in_features, m.out_features, bias=True)
        f.weight.copy_(m.weight * scale.reshape((-1,) + (1,) * (m.weight.dim() - 1)))
        f.bias.copy_(b * scale + shift)
    return f


def fold_bn(net):
    """Sequential with every conv/linear + following BatchNorm fused (eval)."""
    mods, i, src = [], 0, list(net)
    while i < len(src):
        m, nxt = src[i], src[i + 1] if i + 1 < len(src) else None
        if isinstance(m, (nn.Conv2d, nn.Linear)) and isinstance(nxt, (nn.BatchNorm1d, nn.BatchNorm2d)):
            mods.append(_fuse(m, nxt))
            i += 2
            continue
        mods.append(m)
        i += 1
    out = nn.Sequential(*mods)
    out.eval()
    return out


def relu_ranges(net, x):
    """99.99th percentile of each ReLU module's output, in module order."""
    vals = []
    hooks = [m.register_forward_hook(lambda _m, _i, o: vals.append(o.detach().numpy().ravel()))
             for m in net if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        net(torch.from_numpy(x))
    for h in hooks:
        h.remove()
    return [float(np.percentile(v, 99.99)) if v.size else 1.0 for v in vals]


def quantize_qdq(fp32_path, out_path, net, calib):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.load(fp32_path)
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    nodes = list(g.node)
    new_inits = []

    def const(name, arr):
        new_inits.append(numpy_helper.from_array(arr, name))
        return name

    # activation parameters: tensor name -> (scale, zero point) as uint8
    params = {}
    lo = min(0.0, float(np.percentile(calib, 0.01)))
    hi = max(0.0, float(np.percentile(calib, 99.99)))
    s = (hi - lo) / 255.0 or 1.0
    params[g.input[0].name] = (s, int(np.clip(round(-lo / s), 0, 255)))
    rr = relu_ranges(net, calib)
    relus = [n for n in nodes if n.op_type == "Relu"]
    if len(relus) != len(rr):
        raise RuntimeError(f"{len(relus)} Relu nodes, {len(rr)} ReLU modules")
    for n, r in zip(relus, rr):
        params[n.output[0]] = ((r if r > 0 else 1.0) / 255.0, 0)
    for n in nodes:  # MaxPool/Flatten outputs share their input's parameters
        if n.op_type in ("MaxPool", "Flatten", "Reshape") and n.input[0] in params:
            params[n.output[0]] = params[n.input[0]]

    gemms = [n for n in nodes if n.op_type == "Gemm"]
    qnodes = [n for n in nodes if n.op_type == "Conv" or (n.op_type == "Gemm" and n is not gemms[-1])]
    rename = {}  # consumer input -> dequantized name
    out_nodes = []
    for t, (sc, zp) in params.items():
        qs, qz = const(t + "_scale", np.array(sc, np.float32)), const(t + "_zp", np.array(zp, np.uint8))
        out_nodes.append(helper.make_node("QuantizeLinear", [t, qs, qz], [t + "_q"], name=t + "_Q"))
        out_nodes.append(helper.make_node("DequantizeLinear", [t + "_q", qs, qz], [t + "_dq"], name=t + "_DQ"))
        rename[t] = t + "_dq"
    for n in qnodes:
        x = n.input[0]
        if x not in params:
            raise RuntimeError(f"{n.name}: input {x} has no calibration")
        xs = params[x][0]
        W = numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)
        axis = 0
        if n.op_type == "Gemm":
            tb = [a.i for a in n.attribute if a.name == "transB"]
            axis = 0 if (tb and tb[0]) else 1
        red = tuple(i for i in range(W.ndim) if i != axis)
        amax = np.max(np.abs(W), axis=red)
        ws = np.where(amax > 0, amax / 63.0, 1.0).astype(np.float32)
        shp = [1] * W.ndim
        shp[axis] = -1
        Wq = np.clip(np.round(W / ws.reshape(shp)), -63, 63).astype(np.int8)
        wn = n.input[1]
        const(wn + "_q", Wq)
        const(wn + "_scale", ws)
        const(wn + "_zp", np.zeros(ws.shape, np.int8))
        out_nodes.append(helper.make_node("DequantizeLinear", [wn + "_q", wn + "_scale", wn + "_zp"], [wn + "_dq"],
                                          name=wn + "_DQ", axis=axis))
        ins = [rename.get(x, x), wn + "_dq"]
        if len(n.input) > 2 and n.input[2]:
            bn = n.input[2]
            B = numpy_helper.to_array(inits[bn]).astype(np.float32)
            bs = (xs * ws).astype(np.float32)
            const(bn + "_q", np.round(B / bs).astype(np.int32))
            const(bn + "_scale", bs)
            const(bn + "_zp", np.zeros(bs.shape, np.int32))
            out_nodes.append(helper.make_node("DequantizeLinear", [bn + "_q", bn + "_scale", bn + "_zp"],
                                              [bn + "_dq"], name=bn + "_DQ", axis=0))
            ins.append(bn + "_dq")
        del n.input[:]
        n.input.extend(ins)
    # every other consumer of a quantized tensor reads its dequantized copy
    for n in nodes:
        if n in qnodes:
            continue
        for i, t in enumerate(n.input):
            if t in rename:
                n.input[i] = rename[t]
    # topological order: each Q/DQ pair right after its producer
    producers = {}
    for n in out_nodes:
        producers.setdefault(n.input[0].replace("_q", "") if n.op_type == "DequantizeLinear" else n.input[0], []).append(n)
    ordered = []
    placed = set()

    def place(n):
        if id(n) not in placed:
            placed.add(id(n))
            ordered.append(n)

    for t in [g.input[0].name]:
        for q in [x for x in out_nodes if x.input[0] in (t, t + "_q")]:
            place(q)
    wdq = [x for x in out_nodes if x.op_type == "DequantizeLinear" and x.input[0] not in
           {t + "_q" for t in params}]
    for x in wdq:
        place(x)
    for n in nodes:
        place(n)
        for t in n.output:
            if t in params:
                for q in [x for x in out_nodes if x.input[0] in (t, t + "_q")]:
                    place(q)
    del g.node[:]
    g.node.extend(ordered)
    used = {i for n in g.node for i in n.input}
    keep = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(keep + [t for t in new_inits if t.name in used])
    onnx.checker.check_model(m)
    tmp = out_path + ".tmp"
    onnx.save(m, tmp)
    os.replace(tmp, out_path)
    return {"int8_onnx": out_path, "int8_bytes": os.path.getsize(out_path),
            "int8_quantized_nodes": [n.name or n.op_type for n in qnodes],
            "int8_activation_tensors": len(params), "calib_samples": int(calib.shape[0])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--mode", choices=("twin", "kwta"), default="twin")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--check-in")
    ap.add_argument("--check-ref")
    ap.add_argument("--int8-out")
    ap.add_argument("--calib")
    a = ap.parse_args()
    if a.opset < 13:
        ap.error("--opset must be >= 13")
    if a.int8_out and (not a.calib or a.mode != "twin"):
        ap.error("--int8-out needs --calib and --mode twin")

    arch, tensors, _ = zsmodel.read_model(a.model)
    shape = zsmodel.input_shape(arch)
    net = fold_bn(zsmodel.build_torch(arch, tensors, a.mode))
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
    if a.int8_out:
        res.update(quantize_qdq(a.out, a.int8_out, net, zsmodel.load_raw_f32(a.calib, shape)))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
