#!/usr/bin/python3
"""st_read.py — a tiny safetensors reader using only json + numpy.

Prints every tensor as
    tensor <name> <dtype> [d0,d1,...] bytesum=<sum of raw bytes> sum=<float sum>
then every metadata entry as
    meta <key> = <value>
(bytesum is exact and independent of summation order, so a C program can
print the same line; sum is for people).

    /usr/bin/python3 scripts/st_read.py FILE            print
    /usr/bin/python3 scripts/st_read.py --check FILE    validate only; exit 1 if malformed
    /usr/bin/python3 scripts/st_read.py --write-fixture FILE
        write the fixture tests/data/st_numpy.safetensors is made from

Validation mirrors src/safetensors.c: header length within 16 MiB and the
file, a JSON object starting with '{', known dtypes, non-negative integer
shapes (<= 8 dims), data_offsets matching shape * dtype size inside the data
section, no overlaps, no duplicate keys, __metadata__ a string->string map.
It is not the safetensors package (which this machine does not have).
"""
import json
import struct
import sys

import numpy as np

MAX_HEADER = 16 << 20
DTYPES = {
    "BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16,
    "U16": np.uint16, "F16": np.float16, "BF16": None, "I32": np.int32,
    "U32": np.uint32, "F32": np.float32, "I64": np.int64, "U64": np.uint64,
    "F64": np.float64,
}
SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
         "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


class Malformed(Exception):
    pass


def _no_dupes(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise Malformed("duplicate key %r" % k)
        d[k] = v
    return d


def _uint(v, what):
    # Integral floats (2.0) pass, as in the C reader, where cJSON cannot tell.
    if isinstance(v, float) and v.is_integer() and 0 <= v <= 2.0 ** 53:
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise Malformed("%s is not a non-negative integer: %r" % (what, v))
    return v


def parse(buf):
    """Return (tensors: list of (name, dtype, shape, bytes)), metadata dict."""
    if len(buf) < 8:
        raise Malformed("file of %d bytes is shorter than 8" % len(buf))
    (n,) = struct.unpack("<Q", buf[:8])
    if n > MAX_HEADER:
        raise Malformed("header length %d over the limit" % n)
    if n > len(buf) - 8:
        raise Malformed("header length %d exceeds the file" % n)
    raw = buf[8:8 + n]
    if not raw.startswith(b"{"):
        raise Malformed("header does not start with '{'")
    try:
        hdr = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_dupes)
    except (UnicodeDecodeError, ValueError) as e:
        raise Malformed("header is not valid JSON: %s" % e)
    if not isinstance(hdr, dict):
        raise Malformed("header is not a JSON object")
    data = buf[8 + n:]
    meta = hdr.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise Malformed("__metadata__ is not a string->string map")
    out, ranges = [], []
    for name, e in hdr.items():
        if not isinstance(e, dict):
            raise Malformed("tensor %r: entry is not an object" % name)
        dt = e.get("dtype")
        if dt not in SIZES:
            raise Malformed("tensor %r: unknown dtype %r" % (name, dt))
        shape = e.get("shape")
        if not isinstance(shape, list) or len(shape) > 8:
            raise Malformed("tensor %r: bad shape %r" % (name, shape))
        shape = [_uint(d, "tensor %r shape" % name) for d in shape]
        numel = int(np.prod(shape, dtype=object)) if shape else 1
        if numel > (1 << 32):
            raise Malformed("tensor %r: too many elements" % name)
        off = e.get("data_offsets")
        if not isinstance(off, list) or len(off) != 2:
            raise Malformed("tensor %r: bad data_offsets" % name)
        b, t = (_uint(x, "tensor %r data_offsets" % name) for x in off)
        if b > t or t - b != numel * SIZES[dt] or t > len(data):
            raise Malformed("tensor %r: data_offsets [%d, %d] do not fit %s %s in %d bytes"
                            % (name, b, t, dt, shape, len(data)))
        ranges.append((b, t, name))
        out.append((name, dt, shape, data[b:t]))
    ranges.sort()
    for (b0, t0, n0), (b1, t1, n1) in zip(ranges, ranges[1:]):
        if b1 < t0:
            raise Malformed("tensors %r and %r overlap" % (n0, n1))
    return out, meta


def describe(name, dt, shape, raw):
    bytesum = int(np.frombuffer(raw, dtype=np.uint8).sum(dtype=np.uint64)) if raw else 0
    line = "tensor %s %s [%s] bytesum=%d" % (name, dt, ",".join(map(str, shape)), bytesum)
    if DTYPES[dt] is not None:
        a = np.frombuffer(raw, dtype=np.dtype(DTYPES[dt]).newbyteorder("<"))
        line += " sum=%.6g" % (float(a.astype(np.float64).sum()) if a.size else 0.0)
    return line


def write(path, tensors, meta):
    """tensors: list of (name, numpy array); contiguous data, header padded to 8."""
    hdr, off, blobs = {}, 0, []
    if meta:
        hdr["__metadata__"] = meta
    codes = {np.dtype(v).str[1:]: k for k, v in DTYPES.items() if v is not None}
    for name, a in tensors:
        a = np.array(a, order="C")  # ascontiguousarray would make a scalar 1-d
        dt = codes[a.dtype.newbyteorder("<").str[1:]]
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        hdr[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((-(8 + len(h))) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def write_fixture(path):
    write(path, [
        ("w", (np.arange(6, dtype=np.float32) * 0.5 - 1).reshape(2, 3)),
        ("idx", np.array([0, -1, 1 << 40, 7], dtype=np.int64)),
        ("flags", np.array([1, 0, 255], dtype=np.uint8)),
        ("s", np.array(np.pi, dtype=np.float64)),
        ("e", np.zeros((0, 3), dtype=np.float32)),
        ("h", np.array([1.5, -2.0], dtype=np.float16)),
    ], {"note": "from numpy", "quote": "a\"b\\c"})


def main(argv):
    args = argv[1:]
    if len(args) == 2 and args[0] == "--write-fixture":
        write_fixture(args[1])
        return 0
    check = bool(args) and args[0] == "--check"
    if check:
        args = args[1:]
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    try:
        with open(args[0], "rb") as f:
            buf = f.read()
        tensors, meta = parse(buf)
    except (OSError, Malformed) as e:
        print("%s: %s" % (args[0], e), file=sys.stderr)
        return 1
    if not check:
        for t in tensors:
            print(describe(*t))
        for k in sorted(meta):
            print("meta %s = %s" % (k, meta[k]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
