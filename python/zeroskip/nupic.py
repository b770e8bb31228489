"""zeroskip.nupic -- tensor names of zeroskip models <-> nupic.torch's.

zeroskip names (those of scripts/export_torch.py's PyTorch twin, and of
its safetensors files once st_io.unpack_sparse has turned packed sparse
layers back into weight + mask):
  <conv|linear>.weight, .bias, .mask (U8, 1 = kept; sparse layers only)
  <bn>.running_mean, .running_var, .num_batches_tracked (I64, shape [])
  <kwinner>.duty_cycle ([C] for 2d, [units] for 1d), .boost_strength (F32 []),
  .learning_iterations (I64 [])

nupic.torch (GSCSparseCNN and friends): a sparse layer is a SparseWeights /
SparseWeights2d wrapper, so its parameters are "<l>.module.weight",
"<l>.module.bias" plus a buffer "<l>.zero_mask" (1 = weight forced to
zero); KWinners2d duty cycles have shape (1, C, 1, 1); learning_iterations
is a plain attribute, not in the state_dict.

Both directions work on plain numpy arrays and need only the architecture
(zeroskip's JSON, as a dict); no torch.
"""
import numpy as np


def _layers(arch):
    """(sparse layer names, k-WTA layer names (name -> is_2d)) of `arch`."""
    sparse, kw = set(), {}
    for L in arch["layers"]:
        # "sparsity" (fraction of zero weights); "weight_sparsity" is its old name
        if L["type"] in ("conv2d", "linear") and L.get("sparsity", L.get("weight_sparsity", 0.0)) > 0:
            sparse.add(L["name"])
        elif L["type"] in ("kwinners", "kwinners2d"):
            kw[L["name"]] = L["type"] == "kwinners2d"
    return sparse, kw


def from_nupic(tensors, arch, learning_iterations=1000):
    """nupic.torch state_dict (name -> array) -> zeroskip names: wrappers'
    "<l>.module.weight" -> "<l>.weight", "<l>.zero_mask" (1 = zeroed) ->
    "<l>.mask" (1 = kept), duty cycles (1, C, 1, 1) -> (C), a missing
    "<kwinner>.learning_iterations" set to `learning_iterations`, and a
    missing mask of a sparse layer taken from its non-zero weights. Names
    already in zeroskip's form pass through unchanged."""
    out = {}
    for k, v in tensors.items():
        v = np.asarray(v)
        k2 = k.replace(".module.", ".")
        if k2.endswith(".zero_mask"):
            out[k2[:-len("zero_mask")] + "mask"] = (v == 0).astype(np.uint8)
        elif k2.endswith(".duty_cycle"):
            out[k2] = v.reshape(-1)
        else:
            out[k2] = v
    sparse, kw = _layers(arch)
    for name in kw:
        if name + ".learning_iterations" not in out:
            out[name + ".learning_iterations"] = np.array(learning_iterations, np.int64)
    for name in sparse:
        if name + ".mask" not in out and name + ".weight" in out:
            out[name + ".mask"] = (out[name + ".weight"] != 0).astype(np.uint8)
    return out


def to_nupic(tensors, arch):
    """zeroskip names -> nupic.torch's (the inverse of from_nupic, less
    learning_iterations): sparse layers' weight/bias under ".module.",
    "zero_mask" as bool (True = zeroed), 2d duty cycles as (1, C, 1, 1)."""
    sparse, kw = _layers(arch)
    out = {}
    for k, v in tensors.items():
        v = np.asarray(v)
        layer, _, field = k.rpartition(".")
        if layer in sparse and field in ("weight", "bias"):
            out[layer + ".module." + field] = v
        elif layer in sparse and field == "mask":
            out[layer + ".zero_mask"] = v == 0
        elif layer in kw and field == "learning_iterations":
            continue
        elif layer in kw and field == "duty_cycle" and kw[layer]:
            out[k] = v.reshape(1, -1, 1, 1)
        else:
            out[k] = v
    return out
