#!/usr/bin/env python3
"""dendrite_torch.py LIB -- the active-dendrites layer of src/dendrite.c
(zs_dendrite_forward / zs_dendrite_backward, called through cffi from the
shared library LIB) against a PyTorch reference written from Iyer et al.
2022 (absolute-max gating: out = (W x + b) * sigmoid(d[s*]), s* = argmax_s
|u_s . c|), whose gradients come from autograd in float64 (and are checked
against finite differences by torch.autograd.gradcheck), plus central
finite differences of the C forward itself. Several shapes: one sample (the
row path), batches (the GEMM path), contexts per sample, k-WTA-like sparse
upstream gradients, mixed-sign segment responses.

Prints one line per check, "ok ..." or "FAIL ...", then "RESULT <passed>
<failed>"."""
import sys

import numpy as np
import torch
from cffi import FFI

ffi = FFI()
ffi.cdef("""
void zs_dendrite_forward(float *out, float *a, float *gate, int32_t *sel, const float *x, const float *w,
                         const float *b, const float *useg, const float *ctx, const int32_t *cid, int N, int I,
                         int U, int S, int C, int P);
void zs_dendrite_backward(float *dx, float *dw, float *db, float *duseg, const float *dout, const float *x,
                          const float *w, const float *a, const float *gate, const int32_t *sel, const float *ctx,
                          const int32_t *cid, int N, int I, int U, int S, int C);
""")
lib = ffi.dlopen(sys.argv[1])
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print("ok", what)
    else:
        failed += 1
        print("FAIL", what)


def fptr(a):
    return ffi.cast("float *", a.ctypes.data)


def iptr(a):
    return ffi.cast("int32_t *", a.ctypes.data) if a is not None else ffi.NULL


def c_forward(x, w, b, useg, ctx, cid):
    N, I = x.shape
    U = w.shape[0]
    S, C = useg.shape[1], useg.shape[2]
    P = ctx.shape[0]
    out = np.zeros((N, U), np.float32)
    a = np.zeros((N, U), np.float32)
    gate = np.zeros((P, U), np.float32)
    sel = np.zeros((P, U), np.int32)
    lib.zs_dendrite_forward(fptr(out), fptr(a), fptr(gate), iptr(sel), fptr(x), fptr(w), fptr(b), fptr(useg),
                            fptr(ctx), iptr(cid), N, I, U, S, C, P)
    return out, a, gate, sel


def torch_layer(x, w, b, useg, ctx, cid):
    """the reference: every tensor float64, autograd does the rest"""
    a = x @ w.T + b                                   # (N, U)
    d = torch.einsum("usc,pc->pus", useg, ctx)        # (P, U, S)
    sel = d.abs().argmax(dim=2, keepdim=True)         # (P, U, 1)
    g = torch.sigmoid(torch.gather(d, 2, sel).squeeze(2))  # (P, U)
    return a * g[cid], a, g, sel.squeeze(2)


def case(name, N, I, U, S, C, P, seed, drop=0.0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (N, I)).astype(np.float32)
    x[rng.random((N, I)) < 0.3] = 0.0                 # some zero inputs (sparse rows)
    w = rng.uniform(-0.5, 0.5, (U, I)).astype(np.float32)
    b = rng.uniform(-0.5, 0.5, U).astype(np.float32)
    useg = rng.uniform(-0.5, 0.5, (U, S, C)).astype(np.float32)
    ctx = rng.uniform(-1, 1, (P, C)).astype(np.float32)
    cid = rng.integers(0, P, N).astype(np.int32)
    dout = rng.uniform(-1, 1, (N, U)).astype(np.float32)
    dout[rng.random((N, U)) < drop] = 0.0             # k-WTA: losers pass no gradient

    out, a, gate, sel = c_forward(x, w, b, useg, ctx, cid)
    dx = np.zeros_like(x); dw = np.zeros_like(w); db = np.zeros_like(b); du = np.zeros_like(useg)
    lib.zs_dendrite_backward(fptr(dx), fptr(dw), fptr(db), fptr(du), fptr(dout), fptr(x), fptr(w), fptr(a),
                             fptr(gate), iptr(sel), fptr(ctx), iptr(cid), N, I, U, S, C)

    T = {k: torch.tensor(v, dtype=torch.float64, requires_grad=k in "x w b useg".split())
         for k, v in dict(x=x, w=w, b=b, useg=useg, ctx=ctx).items()}
    tcid = torch.tensor(cid, dtype=torch.long)
    tout, ta, tg, tsel = torch_layer(T["x"], T["w"], T["b"], T["useg"], T["ctx"], tcid)
    (tout * torch.tensor(dout, dtype=torch.float64)).sum().backward()

    def close(c, t, tol=2e-5):
        t = t.detach().numpy()
        return np.allclose(c, t, rtol=tol, atol=tol * max(1.0, float(np.abs(t).max())))

    check(np.array_equal(sel, tsel.numpy()), f"{name}: selected segment = torch argmax |d|")
    check(close(gate, tg), f"{name}: gate = torch sigmoid(d[s*])")
    check(close(a, ta) and close(out, tout), f"{name}: forward = torch")
    for k, c in (("x", dx), ("w", dw), ("b", db), ("useg", du)):
        check(close(c, T[k].grad, 1e-4), f"{name}: d{k} = torch autograd")
    # only the selected segment of each (context in use, unit) gets gradient
    used = np.zeros((U, S), bool)
    for n in range(N):
        for u in range(U):
            if dout[n, u] != 0:
                used[u, sel[cid[n], u]] = True
    check(not np.any(np.abs(du).sum(axis=2)[~used]), f"{name}: unselected segments get no gradient")

    # the torch reference itself against finite differences (float64)
    def f(x_, w_, b_, u_):
        return (torch_layer(x_, w_, b_, u_, T["ctx"], tcid)[0] * torch.tensor(dout, dtype=torch.float64)).sum()
    args = tuple(T[k].detach().clone().requires_grad_(True) for k in ("x", "w", "b", "useg"))
    check(torch.autograd.gradcheck(f, args, eps=1e-6, atol=1e-5), f"{name}: torch reference passes gradcheck")

    # central finite differences of the C forward (float32), a few coordinates each
    def c_obj():
        o, _, _, s_ = c_forward(x, w, b, useg, ctx, cid)
        return float((o.astype(np.float64) * dout).sum()), np.array_equal(s_, sel)
    bad = 0
    for arr, grad in ((x, dx), (w, dw), (b, db), (useg, du)):
        flat, gflat = arr.reshape(-1), grad.reshape(-1)
        for j in rng.choice(flat.size, min(12, flat.size), replace=False):
            keep = flat[j]
            h = 1e-2
            flat[j] = keep + h; lp, same_p = c_obj()
            flat[j] = keep - h; lm, same_m = c_obj()
            flat[j] = keep
            if not (same_p and same_m):
                continue  # the step switched a unit's selected segment: not differentiable there
            fd = (lp - lm) / (2 * h)
            bad += abs(fd - gflat[j]) > 2e-3 * max(1.0, abs(fd))
    check(bad == 0, f"{name}: C gradients = finite differences of the C forward ({bad} off)")


case("one sample", 1, 7, 5, 3, 6, 1, 1)
case("batch, 2 contexts", 9, 13, 11, 4, 8, 2, 2)
case("batch, sparse upstream", 33, 20, 16, 5, 10, 3, 3, drop=0.8)
case("wide", 64, 40, 24, 10, 40, 10, 4, drop=0.9)
print(f"RESULT {passed} {failed}")
sys.exit(1 if failed else 0)
