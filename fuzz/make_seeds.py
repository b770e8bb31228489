#!/usr/bin/python3
"""make_seeds.py — writes the seed corpora fuzz/corpus/{safetensors,dataset}/.

Small, deterministic inputs that reach the interesting branches: valid files
(every dtype, scalar and zero-size tensors, metadata, class names, the three
feature layouts, IDX plain and gzip, the first Fashion-MNIST test images when
installed) and a few malformed ones. Run from the repository root:

    /usr/bin/python3 fuzz/make_seeds.py

Two more seeds are copies: safetensors/numpy_fixture.st is
tests/data/st_numpy.safetensors, and safetensors/c_roundtrip.st is written by
`build/tests/test_safetensors --write fuzz/corpus/safetensors/c_roundtrip.st`.
(The fuzzers add what they find to build-fuzz/corpus/, not to git.)
"""
import gzip
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
import st_read  # noqa: E402

ST = "fuzz/corpus/safetensors"
DS = "fuzz/corpus/dataset"


def st_bytes(tensors, meta):
    tmp = "/tmp/zs_seed.%d" % os.getpid()
    st_read.write(tmp, tensors, meta)
    with open(tmp, "rb") as f:
        b = f.read()
    os.unlink(tmp)
    return b


def raw(header, data=b""):
    h = header.encode()
    return struct.pack("<Q", len(h)) + h + data


def put(d, name, b):
    with open(os.path.join(d, name), "wb") as f:
        f.write(b)


def idx_pair(images, labels, gz=False):
    n, r, c = images.shape
    im = struct.pack(">IIII", 0x803, n, r, c) + images.astype(np.uint8).tobytes()
    lb = struct.pack(">II", 0x801, n) + labels.astype(np.uint8).tobytes()
    if gz:
        im, lb = gzip.compress(im, mtime=0), gzip.compress(lb, mtime=0)
    return b"\x01" + struct.pack("<I", len(im)) + im + lb


def main():
    os.makedirs(ST, exist_ok=True)
    os.makedirs(DS, exist_ok=True)
    rng = np.random.default_rng(1)
    # --- safetensors
    with open("tests/data/st_numpy.safetensors", "rb") as f:
        put(ST, "numpy_fixture.st", f.read())
    put(ST, "all_dtypes.st", st_bytes([
        ("f32", rng.standard_normal((2, 3)).astype(np.float32)),
        ("f64", np.array(2.5)),
        ("f16", np.array([1, -2], dtype=np.float16)),
        ("i8", np.array([-1, 2, 3], dtype=np.int8)),
        ("u8", np.array([255], dtype=np.uint8)),
        ("i16", np.array([1], dtype=np.int16)),
        ("u16", np.array([1], dtype=np.uint16)),
        ("i32", np.array([[1], [2]], dtype=np.int32)),
        ("u32", np.array([7], dtype=np.uint32)),
        ("i64", np.array([1 << 40], dtype=np.int64)),
        ("u64", np.array([3], dtype=np.uint64)),
        ("b", np.array([True, False])),
        ("empty", np.zeros((0, 5), dtype=np.float32)),
        ("d8", np.ones((1, 1, 1, 1, 1, 1, 1, 2), dtype=np.uint8)),
    ], {"arch": "gsc-sparse", "esc": "q\"\\\n\u00e9"}))
    put(ST, "bf16.st", raw('{"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}', b"\x80\x3f\x00\x40"))
    put(ST, "empty.st", raw("{}      "))
    put(ST, "meta_only.st", raw('{"__metadata__":{"a":"b","classes":"[\\"x\\"]"}}'))
    put(ST, "gap_and_unsorted.st", raw('{"b":{"dtype":"U8","shape":[1],"data_offsets":[4,5]},'
                                       '"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}', b"abcdef"))
    put(ST, "bad_overlap.st", raw('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                                  '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', bytes(12)))
    put(ST, "bad_json.st", raw('{"a":{"dtype":"F32","shape":[2],'))
    put(ST, "bad_size.st", raw('{"a":{"dtype":"I64","shape":[3,1000000000],"data_offsets":[0,24]}}', bytes(24)))
    put(ST, "short.st", b"\x05\x00\x00")
    # --- data sets (byte 0 even: safetensors in memory)
    x = rng.random((3, 1, 2, 2), dtype=np.float32)
    put(DS, "st_nchw_classes.bin", b"\x00" + st_bytes(
        [("features", x), ("labels", np.array([0, 2, 1], dtype=np.int32))],
        {"format": "zeroskip-dataset", "classes": '["yes","no","up"]'}))
    put(DS, "st_nd_i64.bin", b"\x00" + st_bytes(
        [("features", rng.random((2, 5), dtype=np.float32)), ("labels", np.array([4, 0], dtype=np.int64))], {}))
    put(DS, "st_nhw_u8.bin", b"\x00" + st_bytes(
        [("labels", np.array([1, 1], dtype=np.uint8)), ("features", rng.random((2, 2, 3), dtype=np.float32))], {}))
    put(DS, "st_bad_label.bin", b"\x00" + st_bytes(
        [("features", x), ("labels", np.array([0, 5, 1], dtype=np.int32))], {"classes": '["a","b"]'}))
    put(DS, "st_bad_rank.bin", b"\x00" + st_bytes(
        [("features", np.zeros(3, dtype=np.float32)), ("labels", np.zeros(3, dtype=np.int32))], {}))
    # (byte 0 odd: IDX images + labels)
    im = rng.integers(0, 256, (2, 3, 3))
    put(DS, "idx_plain.bin", idx_pair(im, np.array([3, 1])))
    put(DS, "idx_gz.bin", idx_pair(im, np.array([0, 9]), gz=True))
    put(DS, "idx_bad_count.bin", idx_pair(im, np.array([3, 1]))[:-1])
    fm = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
    if os.path.exists(fm):
        with gzip.open(fm) as f:
            b = f.read(16 + 3 * 784)
        with gzip.open(fm.replace("images-idx3", "labels-idx1")) as f:
            lb = f.read(8 + 3)
        img = np.frombuffer(b[16:], dtype=np.uint8).reshape(3, 28, 28)
        put(DS, "idx_fashion3_gz.bin", idx_pair(img, np.frombuffer(lb[8:], dtype=np.uint8), gz=True))


if __name__ == "__main__":
    main()
