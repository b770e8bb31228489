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
