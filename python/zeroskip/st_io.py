"""zeroskip.st_io -- tiny safetensors reader/writer with json + numpy only.

The format: 8-byte little-endian header length, a JSON header mapping each
tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
relative to the data section) plus an optional "__metadata__" string->string
map, then the raw little-endian tensor bytes.

This is not the `safetensors` package (which is not installed here); it is
enough to write the reference files the C tests read and to move models
between zeroskip and PyTorch.
"""
import json
import struct

import numpy as np

DTYPES = {
    "BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16,
    "U16": np.uint16, "F16": np.float16, "I32": np.int32, "U32": np.uint32,
    "F32": np.float32, "I64": np.int64, "U64": np.uint64, "F64": np.float64,
}
_KIND = {("b", 1): "BOOL", ("u", 1): "U8", ("i", 1): "I8", ("i", 2): "I16",
         ("u", 2): "U16", ("f", 2): "F16", ("i", 4): "I32", ("u", 4): "U32",
         ("f", 4): "F32", ("i", 8): "I64", ("u", 8): "U64", ("f", 8): "F64"}


def _st_dtype(a):
    key = (a.dtype.kind, a.dtype.itemsize)
    if key not in _KIND:
        raise ValueError("unsupported dtype %s" % a.dtype)
    return _KIND[key]


def save(path, tensors, metadata=None):
    """Write `tensors` (dict name -> numpy array) and `metadata` (dict str ->
    str) to `path`. Tensors are packed back to back in insertion order with no
    holes (what the reference `safetensors` library requires); the header is
    padded with spaces to a multiple of 8 bytes."""
    header = {}
    blobs = []
    off = 0
    for name, a in tensors.items():
        a = np.array(a, order="C", copy=False)  # keeps 0-d shapes
        st = _st_dtype(a)
        raw = a.astype(np.dtype(DTYPES[st]).newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": st, "shape": list(a.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise ValueError("metadata must map str to str")
        header["__metadata__"] = dict(metadata)
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * ((-len(hj)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def load(path):
    """Return (tensors, metadata): dict name -> numpy array (native byte
    order, a copy), dict str -> str."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("%s: too short for a safetensors file" % path)
    (hlen,) = struct.unpack("<Q", data[:8])
    if hlen > len(data) - 8:
        raise ValueError("%s: header length %d beyond the file" % (path, hlen))
    header = json.loads(data[8:8 + hlen].decode("utf-8"))
    base = 8 + hlen
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    for name, e in header.items():
        dt = np.dtype(DTYPES[e["dtype"]]).newbyteorder("<")
        b, end = e["data_offsets"]
        shape = tuple(e["shape"])
        n = int(np.prod(shape)) if shape else 1
        if end - b != n * dt.itemsize or base + end > len(data):
            raise ValueError("%s: tensor %s has a bad byte range" % (path, name))
        a = np.frombuffer(data, dtype=dt, count=n, offset=base + b)
        out[name] = a.reshape(shape).astype(dt.newbyteorder("="))
    return out, meta


# ------------------------------------------------ zeroskip packed weights ---
#
# zeroskip model files store a sparse conv/linear layer (weight_sparsity > 0)
# as its kept weights only (docs/ARCHITECTURE.md, "Model files"):
#   fixed form (every output unit keeps nnz_per_unit weights):
#     <layer>.weight_values F32 [out, nnz_per_unit]
#     <layer>.weight_index  U16 (fan_in <= 65536) or I32 [out, nnz_per_unit]
#   CSR form (otherwise):
#     <layer>.weight_rowptr I32 [out + 1], .weight_values F32 [nnz],
#     .weight_index U16/I32 [nnz]
# Indices count into the unit's fan_in (Ci*Kh*Kw or I), strictly ascending.
# Checkpoints may add <layer>.weight_values.momentum (shape of the values).
# Old files hold <layer>.weight F32 (dense) + <layer>.mask U8 instead; both
# functions below leave such layers alone.

def _round_half_even(x):
    return int(round(x))  # Python 3 round() is half-to-even, as zeroskip's


def weight_shapes(arch):
    """{layer name: (weight shape, sparsity)} for every conv2d and
    linear layer of a zeroskip architecture dict (the JSON in
    __metadata__["arch"]), walking shapes as zeroskip does."""
    c, h, w = arch["input"]
    flat = None
    out = {}
    for L in arch["layers"]:
        t, name = L["type"], L["name"]
        sp = float(L.get("sparsity", L.get("weight_sparsity", 0.0)))
        if t == "conv2d":
            kern = L.get("kernel", 3)
            kh, kw = kern if isinstance(kern, list) else (kern, kern)
            s, p = L.get("stride", 1), L.get("padding", 0)
            out[name] = ((L["out_channels"], c, kh, kw), sp)
            c, h, w = L["out_channels"], (h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1
        elif t == "linear":
            n_in = flat if flat is not None else c * h * w
            out[name] = ((L["out_features"], n_in), sp)
            flat = L["out_features"]
        elif t == "maxpool2d":
            k = L.get("kernel", 2)
            s = L.get("stride", k)
            h, w = (h - k) // s + 1, (w - k) // s + 1
        elif t == "flatten":
            flat = c * h * w
    return out


def nnz_per_unit(sparsity, fan_in):
    """Kept weights per output unit: round((1 - sparsity) * fan_in), half to even."""
    return _round_half_even((1.0 - sparsity) * fan_in)


def unpack_sparse(tensors, arch):
    """Return a copy of `tensors` where every packed layer is replaced by the
    dense form: <layer>.weight (F32, zeros where masked) and <layer>.mask (U8,
    1 = kept); a packed momentum becomes <layer>.weight.momentum. Validates
    as zeroskip's loader does (ValueError naming the tensor)."""
    shapes = weight_shapes(arch)
    out = {}
    for k, v in tensors.items():
        layer = None
        for suf in (".weight_values.momentum", ".weight_values", ".weight_index", ".weight_rowptr"):
            if k.endswith(suf) and k[:-len(suf)] in shapes:
                layer = k[:-len(suf)]
                break
        if layer is None:
            out[k] = v
            continue
        if layer + ".weight" in out:
            continue  # done at its first packed tensor
        if layer + ".weight" in tensors or layer + ".mask" in tensors:
            raise ValueError("tensor '%s.weight': layer %s is stored both packed and dense" % (layer, layer))
        shape, sp = shapes[layer]
        n_out = shape[0]
        fan = int(np.prod(shape[1:]))
        val = tensors.get(layer + ".weight_values")
        idx = tensors.get(layer + ".weight_index")
        rp = tensors.get(layer + ".weight_rowptr")
        if val is None or idx is None:
            raise ValueError("tensor '%s.weight_%s' missing" % (layer, "values" if val is None else "index"))
        if idx.dtype not in (np.uint16, np.int32):
            raise ValueError("tensor '%s.weight_index': dtype %s, expected U16 or I32" % (layer, idx.dtype))
        if rp is None:
            nnz = nnz_per_unit(sp, fan)
            for nm, a in (("weight_values", val), ("weight_index", idx)):
                if a.shape != (n_out, nnz):
                    raise ValueError("tensor '%s.%s': shape %s, expected %s" % (layer, nm, a.shape, (n_out, nnz)))
            rows = [(o, idx[o].astype(np.int64), val[o]) for o in range(n_out)]
        else:
            if rp.dtype != np.int32 or rp.shape != (n_out + 1,) or rp[0] != 0 or np.any(np.diff(rp) < 0) \
                    or np.any(np.diff(rp) > fan) or rp[-1] != val.shape[0] or val.ndim != 1 or idx.shape != val.shape:
                raise ValueError("tensor '%s.weight_rowptr': not a valid I32 [%d] row pointer for %s values"
                                 % (layer, n_out + 1, val.shape))
            rows = [(o, idx[rp[o]:rp[o + 1]].astype(np.int64), val[rp[o]:rp[o + 1]]) for o in range(n_out)]
        w = np.zeros((n_out, fan), np.float32)
        m = np.zeros((n_out, fan), np.uint8)
        mom_p = tensors.get(layer + ".weight_values.momentum")
        mom = np.zeros((n_out, fan), np.float32) if mom_p is not None else None
        if mom_p is not None and mom_p.shape != val.shape:
            raise ValueError("tensor '%s.weight_values.momentum': shape %s, expected %s" % (layer, mom_p.shape, val.shape))
        k0 = 0
        for o, ix, vv in rows:
            if ix.size and (ix.min() < 0 or ix.max() >= fan):
                raise ValueError("tensor '%s.weight_index': unit %d: index outside [0, %d)" % (layer, o, fan))
            if np.any(np.diff(ix) <= 0):
                raise ValueError("tensor '%s.weight_index': unit %d: indices not strictly ascending" % (layer, o))
            w[o, ix] = vv
            m[o, ix] = 1
            if mom is not None:
                mom[o, ix] = mom_p.reshape(-1)[k0:k0 + ix.size]
            k0 += ix.size
        out[layer + ".weight"] = w.reshape(shape)
        out[layer + ".mask"] = m.reshape(shape)
        if mom is not None:
            out[layer + ".weight.momentum"] = mom.reshape(shape)
    return out


def pack_sparse(tensors, arch):
    """Return a copy of `tensors` where every layer with a <layer>.mask is
    stored packed (fixed form when every unit keeps nnz_per_unit weights,
    else CSR), in place of <layer>.weight and <layer>.mask; a weight
    momentum that is zero off the mask is packed too. Tensor order is kept
    (the packed tensors take the weight's place)."""
    shapes = weight_shapes(arch)
    out = {}
    for k, v in tensors.items():
        layer = k[:-len(".weight")] if k.endswith(".weight") else None
        if k.endswith(".mask") and k[:-5] in shapes:
            continue
        if k.endswith(".weight.momentum") and k[:-16] in shapes and k[:-16] + ".mask" in tensors:
            layer = k[:-16]
            m = np.asarray(tensors[layer + ".mask"]).reshape(v.shape[0], -1) != 0
            mv = np.asarray(v, np.float32).reshape(m.shape)
            if np.all(mv.view(np.uint32)[~m] == 0):
                fixed = np.all(m.sum(1) == nnz_per_unit(shapes[layer][1], m.shape[1]))
                mp = mv[m]  # row-major: unit by unit, as the values
                out[layer + ".weight_values.momentum"] = mp.reshape(m.shape[0], -1) if fixed else mp
            else:
                out[k] = v
            continue
        if layer is None or layer not in shapes or layer + ".mask" not in tensors:
            out[k] = v
            continue
        shape, sp = shapes[layer]
        n_out, fan = shape[0], int(np.prod(shape[1:]))
        w = np.asarray(v, np.float32).reshape(n_out, fan)
        m = np.asarray(tensors[layer + ".mask"]).reshape(n_out, fan) != 0
        counts = m.sum(1)
        idx_dt = np.uint16 if fan <= 65536 else np.int32
        cols = np.nonzero(m)[1].astype(idx_dt)  # row-major: unit by unit, ascending
        vals = w[m]
        if np.all(counts == nnz_per_unit(sp, fan)):
            out[layer + ".weight_values"] = vals.reshape(n_out, -1)
            out[layer + ".weight_index"] = cols.reshape(n_out, -1)
        else:
            out[layer + ".weight_rowptr"] = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
            out[layer + ".weight_values"] = vals
            out[layer + ".weight_index"] = cols
    return out
