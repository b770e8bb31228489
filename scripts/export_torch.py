#!/usr/bin/python3
"""export_torch.py -- move models between PyTorch and zeroskip.

Defines the PyTorch twin of zeroskip's networks (nupic.torch semantics:
SparseWeights masks, KWinners / KWinners2d with boosting and duty cycles),
built generically from the architecture JSON that zeroskip stores in a model
file's __metadata__["arch"], with the SAME tensor names as zeroskip:

  <conv|linear>.weight, .bias, .mask (U8, 1 = kept; sparse layers only)
       in PyTorch; in the file a sparse layer's weight + mask are stored
       packed (.weight_values + .weight_index [+ .weight_rowptr], see
       st_io.pack_sparse and docs/ARCHITECTURE.md); old dense + mask files
       load too
  <bn>.running_mean, .running_var, .num_batches_tracked (I64, shape [])
       (+ .weight/.bias when affine)
  <kwinner>.duty_cycle (F32 [C] for 2d, [units] for 1d),
       .boost_strength (F32 []), .learning_iterations (I64 [])

Usage
  export_torch.py new --arch gsc-sparse|gsc-dense|ARCH.json --out M.safetensors [--seed S]
        a freshly initialised PyTorch model (nupic init) saved for zeroskip
  export_torch.py export --torch STATE.pt --arch ... --out M.safetensors
        a PyTorch state_dict saved for zeroskip: this module's names, or a
        nupic.torch GSCSparseCNN-style state_dict (SparseWeights ".module.",
        "zero_mask", duty (1,C,1,1)), renamed by from_nupic()
  export_torch.py eval --model M.safetensors --data D.safetensors [--n 64] [--ref OUT.npy]
        load a zeroskip model into PyTorch, print eval-mode log-probs/accuracy;
        --compare LOGP.npy compares with outputs computed elsewhere

From Python: build_model(arch), load_zeroskip(path) -> (model, meta),
save_zeroskip(model, path, classes), PRESETS.

nupic.torch is not needed (and not installed); its layers are re-implemented
here. Deliberate differences from nupic.torch: k-WTA breaks ties by lower
index (torch.topk leaves them unspecified); duty cycles of 2d layers are
stored with shape [C] instead of [1, C, 1, 1].
"""
import argparse
import json
import math
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import st_io  # noqa: E402
from zeroskip import nupic as zs_nupic  # noqa: E402

GSC_CLASSES = ["unknown", "silence", "zero", "one", "two", "three", "four",
               "five", "six", "seven", "eight", "nine"]  # as src/presets.c


def _kw(name, percent_on, twod=True):
    d = {"type": "kwinners2d" if twod else "kwinners", "name": name,
         "percent_on": percent_on, "k_inference_factor": 1.5,
         "boost_strength": 1.5, "boost_strength_factor": 0.9,
         "duty_cycle_period": 1000}
    if twod:
        d["local"] = False
    return d


def _bn(name):
    return {"type": "batchnorm", "name": name, "affine": False,
            "momentum": 0.1, "eps": 1e-5}


def _gsc(sparse, units=1000, lin_sparsity=0.9, lin_on=0.1, name=None):
    def conv(n, sp):
        d = {"type": "conv2d", "name": n, "out_channels": 64, "kernel": [5, 5],
             "stride": 1, "padding": 0, "bias": True}
        if sparse:
            d["sparsity"] = sp
        return d
    lin = {"type": "linear", "name": "linear", "out_features": units, "bias": True}
    if sparse:
        lin["sparsity"] = lin_sparsity
    act = (lambda n, p, t: _kw(n + "_kwinner", p, t)) if sparse else \
        (lambda n, p, t: {"type": "relu", "name": n + "_relu"})
    return {"name": name or ("gsc-sparse" if sparse else "gsc-dense"),
            "input": [1, 32, 32], "layers": [
                conv("cnn1", 0.5), _bn("cnn1_batchnorm"), act("cnn1", 0.095, True),
                {"type": "maxpool2d", "name": "cnn1_maxpool", "kernel": 2, "stride": 2},
                conv("cnn2", 0.8), _bn("cnn2_batchnorm"), act("cnn2", 0.125, True),
                {"type": "maxpool2d", "name": "cnn2_maxpool", "kernel": 2, "stride": 2},
                {"type": "flatten", "name": "flatten"},
                lin, _bn("linear_bn"), act("linear", lin_on, False),
                {"type": "linear", "name": "output", "out_features": 12, "bias": True},
                {"type": "logsoftmax", "name": "softmax"}]}


def _gsc_fast():
    """Max-pool before k-WTA (the 2019 paper's order), explicit k."""
    a = _gsc(True, name="gsc-sparse-fast")
    L = a["layers"]
    for conv in ("cnn1", "cnn2"):
        i = next(j for j, l in enumerate(L) if l["name"] == conv + "_kwinner")
        kw = L.pop(i)
        kw.pop("percent_on")
        kw["k"] = 1200 if conv == "cnn1" else 200
        L.insert(i + 1, kw)  # after the max-pool
    return a


def _mlp(sparse):
    lin = {"type": "linear", "name": "fc1", "out_features": 1000 if sparse else 512, "bias": True}
    layers = [{"type": "flatten", "name": "flatten"}, lin]
    if sparse:
        lin["sparsity"] = 0.5
        layers += [_bn("fc1_bn"), _kw("fc1_kwinner", 0.1, False)]
    else:
        layers += [{"type": "relu", "name": "fc1_relu"}]
    layers += [{"type": "linear", "name": "output", "out_features": 10, "bias": True},
               {"type": "logsoftmax", "name": "softmax"}]
    return {"name": "mnist-sparse-mlp" if sparse else "mnist-mlp", "input": [1, 28, 28],
            "layers": layers}


# The same architectures as src/presets.c.
PRESETS = {
    "gsc-sparse": _gsc(True),
    "gsc-dense": _gsc(False),
    "gsc-supersparse": _gsc(True, units=1500, lin_sparsity=0.95,
                            lin_on=0.1, name="gsc-supersparse"),
    "gsc-sparse-fast": _gsc_fast(),
    "mnist-mlp": _mlp(False),
    "mnist-sparse-mlp": _mlp(True),
}


def round_half_even(x):
    return int(round(x))  # Python 3 round() is half-to-even


def k_counts(pool, percent_on, k_inference_factor, k=None):
    """(k, k_inference) over `pool` units (units, or channels for local 2d),
    as zeroskip computes them: k = round(pool * percent_on) (or an explicit
    k), k_inference = round(pool * (percent_on * k_inference_factor)), half to
    even, clamped to [1, pool]. nupic.torch's KWinners2d does the same; its
    vector KWinners truncates int(k * k_inference_factor) instead, which
    agrees for every zeroskip preset (100 * 1.5 = 150)."""
    if k is not None:
        percent_on = k / pool
        ki = round_half_even(k * k_inference_factor)
    else:
        k = round_half_even(pool * percent_on)
        ki = round_half_even(pool * (percent_on * k_inference_factor))
    return max(1, min(k, pool)), max(1, min(ki, pool))


# ---------------------------------------------------------------- layers ---

def kwta_mask(boosted, k):
    """boosted (N, U) -> float mask (N, U) with exactly min(k, U) ones per row:
    the largest boosted values, ties broken by lower index (stable sort)."""
    k = min(k, boosted.shape[1])
    order = torch.sort(boosted, dim=1, descending=True, stable=True)[1][:, :k]
    return torch.zeros_like(boosted).scatter_(1, order, 1.0)


class _KWTAFn(torch.autograd.Function):
    """out = x * mask; gradient flows only through winners."""
    @staticmethod
    def forward(ctx, x, mask):
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, g):
        mask, = ctx.saved_tensors
        return g * mask, None


class KWinnersBase(nn.Module):
    def __init__(self, percent_on, k_inference_factor, boost_strength,
                 boost_strength_factor, duty_cycle_period, n_duty):
        super().__init__()
        self.percent_on = percent_on
        self.k_inference_factor = k_inference_factor
        self.boost_strength_factor = boost_strength_factor
        self.duty_cycle_period = duty_cycle_period
        self.register_buffer("duty_cycle", torch.zeros(n_duty))
        self.register_buffer("boost_strength", torch.tensor(float(boost_strength)))
        self.register_buffer("learning_iterations", torch.tensor(0, dtype=torch.int64))
        self.last_mask = None  # winners of the last forward (N, units), for tests

    def update_boost_strength(self):
        self.boost_strength.mul_(self.boost_strength_factor)

    def _select(self, x2, duty_units, k, units):
        """x2 (N, U) flat; duty_units (U) the duty of each unit."""
        bs = float(self.boost_strength)
        if bs > 0.0:
            td = float(k) / units
            boosted = x2.detach() * torch.exp((td - duty_units.to(x2.dtype)) * bs)
        else:
            boosted = x2.detach()
        return boosted

    def _update_duty(self, out, S):
        # nupic: learning_iterations += N; period = min(P, it);
        # duty = (duty * (period - N) + count(out > 0) / S) / period
        N = out.shape[0]
        self.learning_iterations += N
        period = min(self.duty_cycle_period, int(self.learning_iterations))
        C = self.duty_cycle.shape[0]
        active = out.detach().gt(0).reshape(N, C, S).sum(dim=(0, 2)).to(torch.float64) / S
        d = (self.duty_cycle.to(torch.float64) * (period - N) + active) / period
        self.duty_cycle.copy_(d.to(self.duty_cycle.dtype))


class KWinners(KWinnersBase):
    """nupic.torch KWinners over vectors (N, n)."""
    def __init__(self, n, percent_on, k_inference_factor=1.5, boost_strength=1.0,
                 boost_strength_factor=0.9, duty_cycle_period=1000):
        super().__init__(percent_on, k_inference_factor, boost_strength,
                         boost_strength_factor, duty_cycle_period, n)
        self.n = n
        self.k, self.k_inference = k_counts(n, percent_on, k_inference_factor)

    def forward(self, x):
        k = self.k if self.training else self.k_inference
        boosted = self._select(x, self.duty_cycle, k, self.n)
        mask = kwta_mask(boosted, k)
        self.last_mask = mask.detach().bool()
        out = _KWTAFn.apply(x, mask)
        if self.training:
            self._update_duty(out, 1)
        return out


class KWinners2d(KWinnersBase):
    """nupic.torch KWinners2d over feature maps (N, C, H, W), global or local."""
    def __init__(self, channels, hw, percent_on=0.1, k_inference_factor=1.5,
                 boost_strength=1.0, boost_strength_factor=0.9,
                 duty_cycle_period=1000, local=False):
        super().__init__(percent_on, k_inference_factor, boost_strength,
                         boost_strength_factor, duty_cycle_period, channels)
        self.channels, self.local = channels, local
        self.hw = hw
        n = channels * hw[0] * hw[1]
        self.n = n
        self.k, self.k_inference = k_counts(channels if local else n, percent_on,
                                            k_inference_factor)

    def forward(self, x):
        N, C, H, W = x.shape
        k = self.k if self.training else self.k_inference
        if self.local:
            # rank the C channels at every (h, w): rows are (n, h, w)
            xr = x.permute(0, 2, 3, 1).reshape(-1, C)
            boosted = self._select(xr, self.duty_cycle, k, C)
            mask = kwta_mask(boosted, k).reshape(N, H, W, C).permute(0, 3, 1, 2)
        else:
            duty_units = self.duty_cycle.repeat_interleave(H * W)
            boosted = self._select(x.reshape(N, -1), duty_units, k, C * H * W)
            mask = kwta_mask(boosted, k).reshape(x.shape)
        mask = mask.contiguous()
        self.last_mask = mask.detach().reshape(N, -1).bool()
        out = _KWTAFn.apply(x, mask)
        if self.training:
            self._update_duty(out, H * W)
        return out


class SparseConv2d(nn.Conv2d):
    """nn.Conv2d with a fixed mask buffer (U8, 1 = kept)."""
    def __init__(self, *a, weight_sparsity=0.0, **kw):
        super().__init__(*a, **kw)
        self.weight_sparsity = weight_sparsity
        self.register_buffer("mask", torch.ones(self.weight.shape, dtype=torch.uint8))


class Linear(nn.Linear):
    """nn.Linear that flattens a feature-map input, as zeroskip's linear does."""
    def forward(self, x):
        return super().forward(x.flatten(1) if x.dim() > 2 else x)


class SparseLinear(Linear):
    def __init__(self, *a, weight_sparsity=0.0, **kw):
        super().__init__(*a, **kw)
        self.weight_sparsity = weight_sparsity
        self.register_buffer("mask", torch.ones(self.weight.shape, dtype=torch.uint8))


def random_masks(model, rng):
    """nupic SparseWeights masks: every output unit keeps exactly
    round((1 - sparsity) * fan_in) weights, chosen at random."""
    for m in model.modules():
        if isinstance(m, (SparseConv2d, SparseLinear)):
            out_n = m.weight.shape[0]
            fan = m.weight[0].numel()
            nnz = round_half_even((1.0 - m.weight_sparsity) * fan)
            mask = np.zeros((out_n, fan), np.uint8)
            for o in range(out_n):
                mask[o, rng.choice(fan, nnz, replace=False)] = 1
            m.mask.copy_(torch.from_numpy(mask.reshape(m.weight.shape)))
            # nupic normalize_sparse_weights: kaiming-uniform over the non-zeros
            bound = 1.0 / math.sqrt(nnz)
            with torch.no_grad():
                m.weight.uniform_(-bound, bound)
                if m.bias is not None:
                    m.bias.uniform_(-bound, bound)
    apply_masks(model)


def apply_masks(model):
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (SparseConv2d, SparseLinear)):
                m.weight.mul_(m.mask.to(m.weight.dtype))


def mask_grads(model):
    for m in model.modules():
        if isinstance(m, (SparseConv2d, SparseLinear)) and m.weight.grad is not None:
            m.weight.grad.mul_(m.mask.to(m.weight.dtype))


def build_model(arch):
    """nn.Sequential from an architecture dict (zeroskip's JSON)."""
    c, h, w = arch["input"]
    flat = None  # feature count once flattened
    layers = OrderedDict()
    for L in arch["layers"]:
        t, name = L["type"], L["name"]
        if t == "conv2d":
            kern = L.get("kernel", 3)
            kh, kw = kern if isinstance(kern, list) else (kern, kern)
            s, p = L.get("stride", 1), L.get("padding", 0)
            sp = L.get("sparsity", L.get("weight_sparsity", 0.0))  # old name, same meaning
            cls = SparseConv2d if sp > 0 else nn.Conv2d
            extra = {"weight_sparsity": sp} if sp > 0 else {}
            layers[name] = cls(c, L["out_channels"], (kh, kw), stride=s, padding=p,
                               bias=bool(L.get("bias", True)), **extra)
            c, h, w = L["out_channels"], (h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1
        elif t == "linear":
            n_in = flat if flat is not None else c * h * w
            sp = L.get("sparsity", L.get("weight_sparsity", 0.0))  # old name, same meaning
            cls = SparseLinear if sp > 0 else Linear
            extra = {"weight_sparsity": sp} if sp > 0 else {}
            layers[name] = cls(n_in, L["out_features"], bias=bool(L.get("bias", True)), **extra)
            flat = L["out_features"]
        elif t == "batchnorm":
            kw_ = dict(eps=L.get("eps", 1e-5), momentum=L.get("momentum", 0.1),
                       affine=bool(L.get("affine", True)))
            layers[name] = nn.BatchNorm1d(flat, **kw_) if flat is not None \
                else nn.BatchNorm2d(c, **kw_)
        elif t == "kwinners2d":
            pool = c if L.get("local", False) else c * h * w
            layers[name] = KWinners2d(
                c, (h, w), percent_on=L["k"] / pool if "k" in L else L.get("percent_on", 0.1),
                k_inference_factor=L.get("k_inference_factor", 1.5),
                boost_strength=L.get("boost_strength", 1.0),
                boost_strength_factor=L.get("boost_strength_factor", 0.9),
                duty_cycle_period=L.get("duty_cycle_period", 1000),
                local=L.get("local", False))
            if "k" in L:
                layers[name].k, layers[name].k_inference = k_counts(
                    pool, None, L.get("k_inference_factor", 1.5), k=L["k"])
        elif t == "kwinners":
            n = flat if flat is not None else c * h * w
            layers[name] = KWinners(
                n, percent_on=L["k"] / n if "k" in L else L.get("percent_on", 0.1),
                k_inference_factor=L.get("k_inference_factor", 1.5),
                boost_strength=L.get("boost_strength", 1.0),
                boost_strength_factor=L.get("boost_strength_factor", 0.9),
                duty_cycle_period=L.get("duty_cycle_period", 1000))
            if "k" in L:
                layers[name].k, layers[name].k_inference = k_counts(
                    n, None, L.get("k_inference_factor", 1.5), k=L["k"])
        elif t == "maxpool2d":
            k = L.get("kernel", 2)
            s = L.get("stride", k)
            layers[name] = nn.MaxPool2d(k, s)
            h, w = (h - k) // s + 1, (w - k) // s + 1
        elif t == "relu":
            layers[name] = nn.ReLU()
        elif t == "flatten":
            layers[name] = nn.Flatten()
            flat = c * h * w
        elif t == "dropout":
            layers[name] = nn.Dropout(L.get("p", L.get("rate", 0.5)))
        elif t == "logsoftmax":
            layers[name] = nn.LogSoftmax(dim=1)
        else:
            raise ValueError("unknown layer type %r (layer %s)" % (t, name))
    model = nn.Sequential(layers)
    model.arch = arch
    return model


def new_model(arch, seed=42):
    torch.manual_seed(seed)
    model = build_model(arch)
    random_masks(model, np.random.RandomState(seed))
    return model


# ------------------------------------------------------------ file I/O -----

def state_to_numpy(model):
    """zeroskip tensors (name -> numpy) from the model's state."""
    out = OrderedDict()
    for k, v in model.state_dict().items():
        a = v.detach().cpu().numpy()
        if k.endswith(".mask"):
            a = a.astype(np.uint8)
        elif k.endswith(".num_batches_tracked") or k.endswith(".learning_iterations"):
            a = np.array(int(a), dtype=np.int64)  # shape []
        elif k.endswith(".boost_strength"):
            a = np.array(float(a), dtype=np.float32)
        else:
            a = a.astype(np.float32)
        out[k] = a
    return out


def save_zeroskip(model, path, classes=None, arch=None):
    arch = arch or model.arch
    n_out = [L for L in arch["layers"] if L["type"] == "linear"][-1]["out_features"]
    if classes is None:
        classes = GSC_CLASSES if n_out == 12 else [str(i) for i in range(n_out)]
    meta = {"format": "zeroskip", "arch": json.dumps(arch, separators=(",", ":")),
            "classes": json.dumps(list(classes))}
    st_io.save(path, st_io.pack_sparse(state_to_numpy(model), arch), meta)


def from_nupic(tensors, model, learning_iterations=1000):
    """Rename a nupic.torch state_dict to zeroskip's names (the mapping is
    zeroskip.nupic.from_nupic, shared with the Python module)."""
    return zs_nupic.from_nupic(tensors, model.arch, learning_iterations)


def load_state(model, tensors):
    sd = model.state_dict()
    missing = [k for k in sd if k not in tensors]
    if missing:
        raise ValueError("model file lacks tensors: %s" % ", ".join(missing))
    new = {}
    for k, v in sd.items():
        a = tensors[k]
        if tuple(a.shape) != tuple(v.shape):
            raise ValueError("%s: shape %s in file, %s expected" % (k, a.shape, tuple(v.shape)))
        new[k] = torch.from_numpy(np.array(a)).to(v.dtype)
    model.load_state_dict(new)


def load_zeroskip(path):
    tensors, meta = st_io.load(path)
    if meta.get("format") != "zeroskip":
        raise ValueError("%s: __metadata__.format is not 'zeroskip'" % path)
    arch = json.loads(meta["arch"])
    model = build_model(arch)
    load_state(model, st_io.unpack_sparse(tensors, arch))
    model.eval()
    return model, meta


def sgd_step(model, opt, x, y):
    """One zeroskip-style training step: forward (train mode), mean NLL,
    backward, masked grads zeroed, SGD step, weights re-masked."""
    model.train()
    opt.zero_grad()
    logp = model(x)
    loss = F.nll_loss(logp, y)
    loss.backward()
    mask_grads(model)
    opt.step()
    apply_masks(model)
    return float(loss), logp.detach()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("new", help="fresh PyTorch model -> zeroskip file")
    a.add_argument("--arch", required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--seed", type=int, default=42)
    a.add_argument("--train-steps", type=int, default=0,
                   help="take this many SGD steps on random data first (non-trivial BN and duty state)")
    a = sub.add_parser("export", help="PyTorch state_dict (.pt) -> zeroskip file")
    a.add_argument("--torch", required=True)
    a.add_argument("--arch", required=True)
    a.add_argument("--out", required=True)
    a = sub.add_parser("eval", help="zeroskip file -> PyTorch, eval outputs")
    a.add_argument("--model", required=True)
    a.add_argument("--data", help="safetensors with features F32 [N,C,H,W], labels I32 [N]")
    a.add_argument("--n", type=int, default=0, help="first N samples only (0 = all)")
    a.add_argument("--save", help="write the log-probs here (.npy)")
    a.add_argument("--compare", help="log-probs (.npy, N x K) to compare with")
    a.add_argument("--atol", type=float, default=1e-4)
    args = ap.parse_args()

    def get_arch(s):
        if s in PRESETS:
            return PRESETS[s]
        with open(s) as f:
            return json.load(f)

    if args.cmd == "new":
        model = new_model(get_arch(args.arch), args.seed)
        if args.train_steps:
            c, h, w = model.arch["input"]
            n_out = [L for L in model.arch["layers"] if L["type"] == "linear"][-1]["out_features"]
            g = torch.Generator().manual_seed(args.seed)
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=0.01)
            for _ in range(args.train_steps):
                x = torch.randn(16, c, h, w, generator=g)
                y = torch.randint(0, n_out, (16,), generator=g)
                sgd_step(model, opt, x, y)
            for m in model.modules():
                if isinstance(m, KWinnersBase):
                    m.update_boost_strength()
        save_zeroskip(model, args.out)
        print("wrote", args.out)
    elif args.cmd == "export":
        model = build_model(get_arch(args.arch))
        sd = torch.load(args.torch, map_location="cpu")
        if isinstance(sd, nn.Module):
            sd = sd.state_dict()
        t = {k: v.detach().cpu().numpy() for k, v in sd.items()}
        if any(".module." in k or k.endswith("zero_mask") for k in t) or \
                not any(k.endswith("learning_iterations") for k in t):
            t = from_nupic(t, model)  # a nupic.torch state_dict
        load_state(model, t)
        save_zeroskip(model, args.out)
        print("wrote", args.out)
    else:
        model, meta = load_zeroskip(args.model)
        classes = json.loads(meta.get("classes", "[]"))
        if args.data:
            d, _ = st_io.load(args.data)
            x, y = d["features"], d.get("labels")
        else:
            c, h, w = model.arch["input"]
            x, y = np.random.RandomState(0).randn(8, c, h, w).astype(np.float32), None
        if args.n:
            x = x[:args.n]
            y = y[:args.n] if y is not None else None
        with torch.no_grad():
            logp = model(torch.from_numpy(x)).numpy()
        pred = logp.argmax(1)
        print("%s: %d samples, %d classes" % (args.model, len(x), logp.shape[1]))
        if y is not None:
            print("accuracy %.4f" % float((pred == y).mean()))
        for i in range(min(len(x), 8)):
            lab = classes[pred[i]] if pred[i] < len(classes) else str(pred[i])
            print("sample %d: predicted %s  logp %s" % (i, lab, np.array2string(logp[i], precision=4)))
        if args.save:
            np.save(args.save, logp)
        if args.compare:
            other = np.load(args.compare)
            diff = float(np.abs(other - logp).max())
            same = float((other.argmax(1) == pred).mean())
            print("max |diff| %.3g, argmax agreement %.4f" % (diff, same))
            if diff > args.atol:
                sys.exit(1)


if __name__ == "__main__":
    main()
