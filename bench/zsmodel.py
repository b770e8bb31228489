"""zsmodel.py — read a zeroskip model file and build the same network in PyTorch.

What it is: the minimal bridge the peer benchmarks need (bench/export_onnx.py,
bench/torch_bench.py): parse the safetensors file with json + numpy (there is
no `safetensors` package here), read the architecture from __metadata__
"arch", and build an eval-mode torch.nn.Sequential with zeroskip's weights.
What it is not: a training port. scripts/export_torch.py goes the other way
(PyTorch -> zeroskip) and carries the training semantics.

Two ways to build a network with k-WTA layers:
  mode="twin"  the dense twin, as gsc-dense: every k-WTA becomes a ReLU and
               masked weights are plain zeros in dense tensors. This is what
               the dense engines are timed on (same shapes, same MACs).
  mode="kwta"  the same function as zeroskip's inference: k-WTA kept (top-k
               on boosted values, unboosted values out), used to check the
               exported weights against zs_net_infer on the same inputs.

Architecture keys are read tolerantly (several spellings) and shapes are
taken from the weight tensors whenever they carry them.
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import st_io  # noqa: E402

_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16,
    "I64": np.int64, "I32": np.int32, "I16": np.int16, "I8": np.int8,
    "U8": np.uint8, "BOOL": np.bool_, "U16": np.uint16, "U32": np.uint32,
    "U64": np.uint64,
}


def read_safetensors(path):
    """Return (tensors: dict name -> np.ndarray, metadata: dict str -> str)."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (hlen,) = struct.unpack("<Q", blob[:8])
    if hlen > len(blob) - 8 or hlen > (16 << 20):
        raise ValueError(f"{path}: header length {hlen} out of range")
    header = json.loads(blob[8:8 + hlen].decode("utf-8"))
    base = 8 + hlen
    meta = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, info in header.items():
        dt = _DTYPES.get(info["dtype"])
        if dt is None:
            raise ValueError(f"{path}: tensor {name}: unknown dtype {info['dtype']}")
        a, b = info["data_offsets"]
        arr = np.frombuffer(blob[base + a:base + b], dtype=np.dtype(dt).newbyteorder("<"))
        tensors[name] = arr.reshape(info["shape"]).copy()
    return tensors, meta


def read_model(path):
    """Return (arch dict, tensors, metadata)."""
    tensors, meta = read_safetensors(path)
    if "arch" not in meta:
        raise ValueError(f"{path}: no 'arch' in __metadata__")
    arch = meta["arch"]
    if isinstance(arch, str):
        arch = json.loads(arch)
    if "layers" not in arch:
        raise ValueError(f"{path}: architecture has no 'layers' list")
    # sparse layers stored packed (kept values + indices) -> dense weight + mask
    return arch, st_io.unpack_sparse(tensors, arch), meta


def _get(d, *keys, default=None):
    for k in keys:
        if k in d and d[k] is not None:
            return d[k]
    return default


def _first(v):
    return int(v[0]) if isinstance(v, (list, tuple)) else int(v)


def _pair(v):
    return tuple(v) if isinstance(v, (list, tuple)) else (int(v), int(v))


def input_shape(arch):
    """(C, H, W) of one sample."""
    s = _get(arch, "input_shape", "input", "in_shape")
    if isinstance(s, dict):
        return (int(_get(s, "c", "C", default=1)), int(_get(s, "h", "H", default=1)),
                int(_get(s, "w", "W", default=1)))
    if s is not None:
        s = [int(v) for v in s]
        if len(s) == 4:  # (N, C, H, W)
            s = s[1:]
        while len(s) < 3:
            s = [1] + s
        return tuple(s)
    c = _get(arch, "in_c", "in_channels", default=1)
    h = _get(arch, "in_h", "height", default=32)
    w = _get(arch, "in_w", "width", default=32)
    return (int(c), int(h), int(w))


def _tensor(tensors, name, *suffixes):
    for s in suffixes:
        if f"{name}.{s}" in tensors:
            return tensors[f"{name}.{s}"]
    return None


def build_torch(arch, tensors, mode="twin"):
    """torch.nn.Sequential in eval mode with the model's weights."""
    if mode not in ("twin", "kwta"):
        raise ValueError(f"mode must be twin or kwta, not {mode}")
    c, h, w = input_shape(arch)
    mods = []

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    for i, L in enumerate(arch["layers"]):
        typ = L["type"]
        name = L.get("name", f"{typ}{i}")
        if typ == "conv2d":
            wt = _tensor(tensors, name, "weight")
            if wt is None:
                raise ValueError(f"layer {name}: no {name}.weight")
            co, ci, kh, kw = wt.shape
            mask = _tensor(tensors, name, "mask")
            if mask is not None:
                wt = wt * (mask.reshape(wt.shape) != 0)
            stride = _pair(_get(L, "stride", default=1))
            pad = _pair(_get(L, "padding", "pad", default=0))
            b = _tensor(tensors, name, "bias")
            m = nn.Conv2d(ci, co, (kh, kw), stride=stride, padding=pad, bias=b is not None)
            m.weight.data = t(wt)
            if b is not None:
                m.bias.data = t(b)
            mods.append(m)
            c = co
            h = (h + 2 * pad[0] - kh) // stride[0] + 1
            w = (w + 2 * pad[1] - kw) // stride[1] + 1
        elif typ == "linear":
            wt = _tensor(tensors, name, "weight")
            if wt is None:
                raise ValueError(f"layer {name}: no {name}.weight")
            o, n_in = wt.shape
            mask = _tensor(tensors, name, "mask")
            if mask is not None:
                wt = wt * (mask.reshape(wt.shape) != 0)
            b = _tensor(tensors, name, "bias")
            m = nn.Linear(n_in, o, bias=b is not None)
            m.weight.data = t(wt)
            if b is not None:
                m.bias.data = t(b)
            mods.append(m)
            c, h, w = o, 1, 1
        elif typ == "batchnorm":
            rm = _tensor(tensors, name, "running_mean")
            rv = _tensor(tensors, name, "running_var")
            if rm is None or rv is None:
                raise ValueError(f"layer {name}: running statistics missing")
            g = _tensor(tensors, name, "weight", "gamma")
            be = _tensor(tensors, name, "bias", "beta")
            eps = float(_get(L, "eps", default=1e-5))
            affine = g is not None
            n = rm.shape[0]
            m = (nn.BatchNorm2d if h * w > 1 else nn.BatchNorm1d)(n, eps=eps, affine=affine)
            m.running_mean.data = t(rm)
            m.running_var.data = t(rv)
            if affine:
                m.weight.data = t(g)
                m.bias.data = t(be if be is not None else np.zeros(n))
            mods.append(m)
        elif typ == "maxpool2d":
            k = int(_first(_get(L, "kernel_size", "kernel", "pool", default=2)))
            s = _first(_get(L, "stride", default=k))
            mods.append(nn.MaxPool2d(k, s))
            h = (h - k) // s + 1
            w = (w - k) // s + 1
        elif typ == "relu":
            mods.append(nn.ReLU())
        elif typ == "flatten":
            mods.append(nn.Flatten())
            c, h, w = c * h * w, 1, 1
        elif typ == "dropout":
            pass  # identity in eval mode
        elif typ == "logsoftmax":
            mods.append(nn.LogSoftmax(dim=1))
        elif typ in ("kwinners", "kwinners2d"):
            if mode == "twin":
                mods.append(nn.ReLU())
            else:
                duty = _tensor(tensors, name, "duty_cycle", "duty_cycles", "duty")
                n_units = c * h * w
                local = bool(_get(L, "local", default=False)) and typ == "kwinners2d"
                units = c if local else n_units
                # as src/net.c: round half to even (Python's round) of
                # k * factor, or of units * percent_on * factor; in [1, units]
                k = _get(L, "k_inference")
                if k is None:
                    kif = float(_get(L, "k_inference_factor", default=1.5))
                    if _get(L, "k") is not None:
                        k = round(float(L["k"]) * kif)
                    else:
                        k = round(units * (float(_get(L, "percent_on")) * kif))
                k = max(1, min(int(k), units))
                bs = _tensor(tensors, name, "boost_strength")  # current value
                boost = float(bs.ravel()[0]) if bs is not None else float(_get(L, "boost_strength", default=1.0))
                mods.append(KWinners(int(k), duty, boost, local, typ == "kwinners2d"))
        else:
            raise ValueError(f"layer {name}: unknown type {typ}")
    net = nn.Sequential(*mods)
    net.eval()
    return net


class KWinners(torch.nn.Module):
    """Eval-mode k-WTA: top-k of x * exp(-boost * duty), unboosted values out.
    Global 2d ranks over C*H*W per sample; local ranks over C at each (h, w).
    Ties go to torch.topk's order (random float inputs make them rare)."""

    def __init__(self, k, duty, boost, local, is2d):
        super().__init__()
        self.k, self.local, self.is2d = k, local, is2d
        d = np.zeros(1, np.float32) if duty is None else np.asarray(duty, np.float32).ravel()
        factor = np.exp(-boost * d).astype(np.float32)
        if factor.size > 1:
            factor = factor.reshape((1, -1, 1, 1) if is2d else (1, -1))
        self.register_buffer("factor", torch.from_numpy(factor))

    def forward(self, x):
        boosted = x * self.factor
        if self.is2d and self.local:
            idx = torch.topk(boosted, self.k, dim=1).indices
            return torch.zeros_like(x).scatter(1, idx, x.gather(1, idx))
        flat = x.reshape(x.shape[0], -1)
        idx = torch.topk(boosted.reshape(x.shape[0], -1), self.k, dim=1).indices
        out = torch.zeros_like(flat).scatter(1, idx, flat.gather(1, idx))
        return out.reshape(x.shape)


def dense_macs(arch, tensors):
    """Multiply-adds per sample of the network run dense (conv + linear)."""
    c, h, w = input_shape(arch)
    total = 0
    for L in arch["layers"]:
        typ, name = L["type"], L.get("name", "")
        if typ == "conv2d":
            co, ci, kh, kw = tensors[f"{name}.weight"].shape
            stride = _pair(_get(L, "stride", default=1))
            pad = _pair(_get(L, "padding", "pad", default=0))
            h = (h + 2 * pad[0] - kh) // stride[0] + 1
            w = (w + 2 * pad[1] - kw) // stride[1] + 1
            c = co
            total += co * ci * kh * kw * h * w
        elif typ == "linear":
            o, i = tensors[f"{name}.weight"].shape
            total += o * i
            c, h, w = o, 1, 1
        elif typ == "maxpool2d":
            k = int(_first(_get(L, "kernel_size", "kernel", "pool", default=2)))
            s = _first(_get(L, "stride", default=k))
            h, w = (h - k) // s + 1, (w - k) // s + 1
        elif typ == "flatten":
            c, h, w = c * h * w, 1, 1
    return total


def random_inputs(n, shape, seed=0):
    """Standard-normal inputs (n, C, H, W), the default bench input."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n,) + tuple(shape)).astype(np.float32)


def load_raw_f32(path, shape):
    """Raw little-endian float32 (n, C, H, W) as written by `zeroskip bench`."""
    a = np.fromfile(path, dtype="<f4")
    per = int(np.prod(shape))
    if a.size == 0 or a.size % per:
        raise ValueError(f"{path}: {a.size} floats is not a multiple of {per}")
    return a.reshape((-1,) + tuple(shape))


def compare(out, ref):
    """Max |out - ref| and fraction of argmax agreement."""
    out = np.asarray(out, np.float64)
    ref = np.asarray(ref, np.float64).reshape(out.shape)
    return {
        "n": int(out.shape[0]),
        "max_abs_diff": float(np.max(np.abs(out - ref))) if out.size else 0.0,
        "argmax_agree": float(np.mean(out.argmax(1) == ref.argmax(1))) if out.size else 1.0,
    }

