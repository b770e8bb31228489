#!/usr/bin/python3
"""python_module.py -- the Python module (python/zeroskip) against the CLI.

Run by tests/cli_python.sh with PYTHONPATH=python and ZEROSKIP_LIBRARY /
ZEROSKIP_CLI naming the build's library and CLI. Checks: recognition of the
demo clips equals `zeroskip listen` (from the file, and from a numpy array at
the file's own rate), features equal `zeroskip features --centre`,
batched inference, library errors as exceptions with the library's
message, streaming equal to `listen --stream` (file; raw PCM through a pipe,
the live-audio path; numpy array; any chunking), training a tiny network
(learns, deterministic, save/load), the nupic.torch state_dict round trip
(numpy always; against PyTorch's forward where torch is installed).
Prints `RESULT <passed> <failed>` last.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile
import wave

import numpy as np

import zeroskip as zs

Z = os.environ.get("ZEROSKIP_CLI", "build/zeroskip")
MODEL = "models/gsc-sparse.safetensors"
CLIPS = sorted(glob.glob("demo/clips/*.wav"))
LONG = "demo/george_31415926.wav"
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)
    return cond


def raises(fn, status, text, what):
    """fn() must raise ZeroskipError with `status` and `text` in its message."""
    try:
        fn()
    except zs.ZeroskipError as e:
        ok = e.status == status and text in str(e) and str(e) == e.message
        return check(ok, "%s: got %s %r, want %s containing %r" % (what, e.status, str(e), status, text))
    except Exception as e:  # noqa: BLE001
        return check(False, "%s: raised %s %r, not ZeroskipError" % (what, type(e).__name__, e))
    return check(False, "%s: no exception" % what)


def cli(*args, stdin=None):
    r = subprocess.run([Z, *args], stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        print("zeroskip %s failed: %s" % (" ".join(args), r.stderr.decode()[-500:]))
    return r.stdout.decode()


def read_wav(path):
    """int16 mono WAV -> (float32 in [-1, 1), rate), as libsndfile scales it."""
    with wave.open(path) as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        return x.astype(np.float32) / 32768.0, w.getframerate(), x


def fmt(dets):
    return "".join("%.3f %.3f %s %.4f\n" % (d.start, d.end, d.label, d.confidence) for d in dets)


# ---- module and library --------------------------------------------------
ver = cli("version").split()
check(len(ver) > 1 and zs.version() == ver[1], "zs.version() %s vs `zeroskip version` %s" % (zs.version(), ver))
check("gsc-sparse" in zs.presets(), "presets")
env = dict(os.environ)
if os.path.realpath(env.pop("ZEROSKIP_LIBRARY", "")) == os.path.realpath("build/libzeroskip.so"):
    # as the README says: PYTHONPATH=python finds build/libzeroskip.so by itself
    env["PYTHONPATH"] = os.path.abspath("python")
    r = subprocess.run([sys.executable, "-c", "import zeroskip, zeroskip._ffi as f; print(zeroskip.version(), f.loaded_from)"],
                       env=env, cwd="/", stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = r.stdout.decode().split()
    check(len(out) == 2 and out[0] == zs.version() and os.path.samefile(out[1], "build/libzeroskip.so"),
          "PYTHONPATH=python alone finds build/libzeroskip.so: %s" % r.stdout.decode())
m = zs.Model.load(MODEL)
check(m.input_shape == (1, 32, 32) and m.num_classes == 12, "model shape %s %d" % (m.input_shape, m.num_classes))
check(m.labels[:3] == ["unknown", "silence", "zero"], "labels %s" % m.labels)

# ---- the demo clips: Python = CLI ------------------------------------------
want = {}
for line in cli("listen", "--model", MODEL, "--json", "--top", "12", *CLIPS).splitlines():
    o = json.loads(line)
    want[o["file"]] = o
check(len(want) == len(CLIPS) == 12, "CLI answered for %d of %d clips" % (len(want), len(CLIPS)))
text = cli("listen", "--model", MODEL, *CLIPS)
py_text = ""
feats = []
for f in CLIPS:
    r = m.recognise(f)
    py_text += "%s\t%s\t%.4f\n" % (f, r.label, r.confidence)
    w = want.get(f, {"top": []})
    check(all(abs(r.probs[t["label"]] - t["confidence"]) <= 1e-6 for t in w["top"]) and len(w["top"]) == 12,
          "%s: probabilities differ from listen --json" % f)
    x, rate, _ = read_wav(f)
    r2 = m.recognise(x, rate=rate)   # from numpy at the file's own rate
    check(r2.label == r.label and max(abs(r2.probs[k] - r.probs[k]) for k in r.probs) < 1e-5,
          "%s: numpy input at %d Hz: %s vs %s" % (f, rate, r2.label, r.label))
    ft = zs.features(f)
    with tempfile.NamedTemporaryFile(suffix=".f32") as tf:
        cli("features", f, "--centre", "--out", tf.name)
        check(np.array_equal(np.fromfile(tf.name, "<f4").reshape(1, 32, 32), ft),
              "%s: features differ from zeroskip features --centre" % f)
    feats.append(ft)
check(py_text == text, "recognise != zeroskip listen:\n%s---\n%s" % (py_text, text))
check([f.split("/")[-1].split("_")[0] for f in CLIPS[:10]] ==
      [{"zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
        "seven": "7", "eight": "8", "nine": "9"}.get(m.recognise(f).label, "?") for f in CLIPS[:10]],
      "the shipped model recognises the ten digit clips")
# the README's Python example prints what `zeroskip listen` prints
readme = open("README.md").read()
block = readme.split("## Python", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
r = subprocess.run([sys.executable, "-c", block], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
check(r.returncode == 0 and sorted(r.stdout.decode().splitlines()) == sorted(text.splitlines()),
      "README example output != zeroskip listen:\n%s%s---\n%s" % (r.stdout.decode(), r.stderr.decode()[-300:], text))
X = np.stack(feats)
lp = m.infer(X)
check(lp.shape == (12, 12) and np.allclose(np.exp(lp).sum(1), 1, atol=1e-4), "batched infer shape/softmax")
check(all(np.array_equal(lp[i], m.infer(X[i])[0]) for i in range(len(X))), "batch infer = one by one")
check(np.array_equal(m.predict(X), lp.argmax(1)), "predict")
m.set_int8_weights(True)
lq = m.infer(X)
check(lq.shape == lp.shape and np.array_equal(lq.argmax(1), lp.argmax(1)) and not np.array_equal(lq, lp),
      "int8 path: other log-probs, the same answers on these clips")
m.set_int8_weights(False)
check(np.array_equal(m.infer(X), lp), "int8 path off: the fp32 bits again")

# ---- errors: ZeroskipError with the library's message -----------------------
raises(lambda: zs.Model.load("/nonexistent/m.safetensors"), "ZS_EIO", "/nonexistent/m.safetensors", "load missing file")
with tempfile.NamedTemporaryFile(suffix=".safetensors") as tf:
    tf.write(b"\x08\0\0\0\0\0\0\0{broken}")
    tf.flush()
    raises(lambda: zs.Model.load(tf.name), "ZS_EFORMAT", tf.name, "load a malformed model")
raises(lambda: zs.Model.create("no-such-preset"), "ZS_EINVAL", "no-such-preset", "unknown preset")
raises(lambda: zs.load_audio("README.md"), "ZS_EFORMAT", "not a readable audio file", "load_audio of text")
bad = X[:1].copy()
bad[0, 0, 3, 3] = np.nan
raises(lambda: m.infer(bad), "ZS_ENUMERIC", "", "infer NaN")
raises(lambda: m.infer(np.zeros((2, 1, 16, 16), np.float32)), "ZS_ESHAPE", "(1, 32, 32)", "infer bad shape")
raises(lambda: list(m.stream("/nonexistent.wav")), "ZS_EIO", "/nonexistent.wav", "stream missing file")
raises(lambda: list(m.stream(LONG, hop=5.0)), "ZS_EINVAL", "hop", "stream bad hop")
raises(lambda: list(m.stream(np.zeros(0, np.float32), rate=16000)), "ZS_EFORMAT", "no audio samples", "stream empty")

# ---- streaming = listen --stream (file, pipe, numpy, chunking) --------------
for hop in ("0.25", "0.1"):
    c = cli("listen", "--model", MODEL, "--stream", LONG, "--hop", hop)
    p = fmt(m.stream(LONG, hop=float(hop)))
    check(p == c and c.count("\n") >= 3, "stream %s hop %s: python\n%s!= CLI\n%s" % (LONG, hop, p, c))
x8, rate8, i16 = read_wav(LONG)
x16 = zs.resample(x8, rate8, 16000)
pcm16 = np.clip(np.round(x16 * 32768), -32768, 32767).astype("<i2")
with tempfile.TemporaryDirectory() as d:
    raw8, raw16 = os.path.join(d, "a8.raw"), os.path.join(d, "a16.raw")
    i16.astype("<i2").tofile(raw8)
    pcm16.tofile(raw16)
    ref = cli("listen", "--model", MODEL, "--stream", LONG)
    with open(raw8, "rb") as f:   # live-audio path: raw PCM on stdin
        c8 = cli("listen", "--model", MODEL, "--stream", "-", "--raw-rate", "8000", stdin=f)
    check(c8 == ref, "raw 8 kHz on stdin != the WAV file:\n%s---\n%s" % (c8, ref))
    with open(raw16, "rb") as f:
        c16 = cli("listen", "--model", MODEL, "--stream", "-", "--raw-rate", "16000", stdin=f)
    check(c16.count("\n") >= 3, "raw 16 kHz on stdin found %d words" % c16.count("\n"))
    # Python reading a pipe, as from `arecord -t raw -f S16_LE -r 16000 -c 1`
    proc = subprocess.Popen(["cat", raw16], stdout=subprocess.PIPE)
    p16 = fmt(m.stream(proc.stdout, raw_rate=16000))
    proc.wait()
    check(p16 == c16, "Python on a raw pipe != CLI on stdin:\n%s---\n%s" % (p16, c16))
    a16 = pcm16.astype(np.float32) / 32768.0
    pa = fmt(m.stream(a16, rate=16000))
    check(pa == c16, "Python on an array != CLI on the same samples:\n%s---\n%s" % (pa, c16))
    check(fmt(m.stream(a16, rate=16000, chunk=777)) == pa, "stream depends on chunk size")
gen = m.stream(LONG)
first = next(gen)
check(isinstance(first, zs.Detection) and first.end > first.start, "stream yields Detection lazily")
gen.close()

# ---- training a tiny network ----------------------------------------------
arch = {"name": "tiny", "input": [1, 4, 4], "layers": [
    {"type": "flatten", "name": "flatten"},
    {"type": "linear", "name": "fc1", "out_features": 64, "bias": True, "weight_sparsity": 0.5},
    {"type": "batchnorm", "name": "fc1_bn", "affine": False},
    {"type": "kwinners", "name": "fc1_kwinner", "percent_on": 0.25, "boost_strength": 1.0},
    {"type": "linear", "name": "output", "out_features": 3, "bias": True},
    {"type": "logsoftmax", "name": "softmax"}]}
rng = np.random.RandomState(0)
protos = rng.randn(3, 1, 4, 4).astype(np.float32)


def data(n, seed):
    r = np.random.RandomState(seed)
    y = r.randint(0, 3, n).astype(np.int32)
    return (protos[y] + 0.5 * r.randn(n, 1, 4, 4)).astype(np.float32), y


xt, yt = data(600, 1)
xv, yv = data(300, 2)
t1 = zs.Model.create(arch, seed=5, labels=["a", "b", "c"])
check(t1.labels == ["a", "b", "c"] and t1.arch_name == "tiny", "create from a dict with labels")
before = t1.evaluate(xv, yv)["accuracy"]
res = t1.train(xt, yt, val=(xv, yv), epochs=3, batch=16, lr=0.05, momentum=0.9, weight_decay=0.0)
check(res["accuracy"] > 0.9 and res["accuracy"] > before + 0.2,
      "tiny net learns: %.3f -> %.3f" % (before, res["accuracy"]))
t2 = zs.Model.create(arch, seed=5, labels=["a", "b", "c"])
t2.train(xt, yt, epochs=3, batch=16, lr=0.05, momentum=0.9, weight_decay=0.0)
check(np.array_equal(t1.infer(xv), t2.infer(xv)), "training is deterministic for a seed")
s3 = zs.Model.create(arch, seed=6)
xb, yb = xt[:32], yt[:32]
losses = [s3.train_step(xb, yb, lr=0.05)[0] for _ in range(20)]
check(losses[-1] < 0.5 * losses[0], "train_step lowers the loss: %.3f -> %.3f" % (losses[0], losses[-1]))
raises(lambda: t1.train(xt, yt, epochs=0), "ZS_EINVAL", "", "train with epochs=0")
try:
    t1.train(xt, yt + 3)
    check(False, "labels out of range accepted")
except zs.ZeroskipError as e:
    check(e.status == "ZS_EINVAL" and "[0, 3)" in str(e), "labels out of range: %s" % e)
with tempfile.TemporaryDirectory() as d:
    p = os.path.join(d, "tiny.safetensors")
    t1.save(p)
    t1b = zs.Model.load(p)
    check(np.array_equal(t1b.infer(xv), t1.infer(xv)) and t1b.labels == ["a", "b", "c"], "save/load round trip")
check(zs.Model.from_bytes(t1.to_bytes()).infer(xv[:5]).tolist() == t1.infer(xv[:5]).tolist(), "to/from bytes")

# ---- enrollment (zs_net_add_class + zs_net_learn, where the library has them)
try:
    zs._ffi.lib().zs_net_add_class
    has_enroll = True
except AttributeError:
    has_enroll = False
    print("SKIP: enrollment (this libzeroskip has no zs_net_add_class)")
if has_enroll:
    e = zs.Model.load(MODEL)
    yes = "tests/data/audio/yes_1000ms.wav"
    base = {f: e.recognise(f).label for f in CLIPS[:10]}
    check(e.recognise(yes).label != "yes", "before enrollment there is no 'yes'")
    x, rate, _ = read_wav(yes)
    rs = np.random.RandomState(4)
    clips = [x] + [(np.roll(x, sh) * g + 0.003 * rs.randn(x.size)).astype(np.float32)
                   for sh, g in ((800, 0.8), (-800, 1.2), (1600, 1.0), (-1600, 0.7))]
    k = e.enroll("yes", clips, rate=rate, epochs=10)
    check(k == 12 and e.num_classes == 13 and e.labels[-1] == "yes", "enroll adds class 12 'yes': %s" % e.labels)
    check(e.recognise(yes).label == "yes", "the enrolled word is recognised: %s" % (e.recognise(yes),))
    check(all(e.recognise(f).label == base[f] for f in base), "old classes keep their answers after enrollment")
    old = zs.Model.load(MODEL).infer(X)
    new = e.infer(X)
    # old logits unchanged: log-probs shift by the same per-clip constant
    d = new[:, :12] - old
    check(np.abs(d - d[:, :1]).max() < 1e-4, "enrollment leaves the old classes' logits as they were")
    raises(lambda: e.add_class("yes"), "ZS_EINVAL", "'yes' exists", "add an existing class")
    c = e.clone()
    check(np.array_equal(c.infer(X), e.infer(X)) and c.labels == e.labels, "clone")
    c.learn(X[:2], [0, 0], lr=0.5)
    check(not np.array_equal(c.infer(X), e.infer(X)), "learn changes the clone, not the original")

# ---- PyTorch state_dict (nupic.torch names) ---------------------------------
sd = m.to_state_dict(torch_tensors=False)
check("cnn1.module.weight" in sd and "cnn1.zero_mask" in sd and "linear.module.weight" in sd
      and "output.weight" in sd and "cnn1_kwinner.learning_iterations" not in sd
      and sd["cnn1_kwinner.duty_cycle"].shape == (1, 64, 1, 1)
      and sd["linear_kwinner.duty_cycle"].shape == (1000,), "nupic names and shapes: %s" % sorted(sd)[:8])
m2 = zs.Model.from_state_dict(sd, "gsc-sparse")
check(np.array_equal(m2.infer(X), m.infer(X)), "state_dict round trip (numpy) gives identical log-probs")
check(m2.labels == m.labels, "from_state_dict keeps the preset's labels")
sd_bad = dict(sd)
del sd_bad["cnn2.module.bias"]
raises(lambda: zs.Model.from_state_dict(sd_bad), "ZS_EFORMAT", "cnn2.bias", "state_dict lacking a tensor")
sd_bad = dict(sd)
sd_bad["output.weight"] = sd["output.weight"][:5]
raises(lambda: zs.Model.from_state_dict(sd_bad), "ZS_ESHAPE", "output.weight", "state_dict bad shape")

try:
    import torch
except ImportError:
    torch = None
    print("SKIP: PyTorch round trip (python3-torch is not installed)")
if torch is not None:
    sys.path.insert(0, "scripts")
    import export_torch as ET
    tm = ET.new_model(ET.PRESETS["gsc-sparse"], seed=3)
    opt = torch.optim.SGD(tm.parameters(), lr=0.01, momentum=0.9)
    g = torch.Generator().manual_seed(3)
    for _ in range(3):   # non-trivial BatchNorm statistics and duty cycles
        ET.sgd_step(tm, opt, torch.randn(8, 1, 32, 32, generator=g), torch.randint(0, 12, (8,), generator=g))
    tm.eval()
    # the state_dict as nupic.torch's GSCSparseCNN holds it
    nupic_sd = {}
    for k, v in tm.state_dict().items():
        layer, _, field = k.rpartition(".")
        if layer in ("cnn1", "cnn2", "linear") and field in ("weight", "bias"):
            nupic_sd[layer + ".module." + field] = v.clone()
        elif field == "mask":
            nupic_sd[layer + ".zero_mask"] = v == 0
        elif field == "learning_iterations":
            continue
        elif layer in ("cnn1_kwinner", "cnn2_kwinner") and field == "duty_cycle":
            nupic_sd[k] = v.reshape(1, -1, 1, 1).clone()
        else:
            nupic_sd[k] = v.clone()
    zm = zs.Model.from_state_dict(nupic_sd, "gsc-sparse")
    with torch.no_grad():
        ref = tm(torch.from_numpy(X)).numpy()
    got = zm.infer(X)
    print("PyTorch vs zeroskip on the 12 demo clips: max abs log-prob difference %.3g" % np.abs(got - ref).max())
    check(np.array_equal(got.argmax(1), ref.argmax(1)) and np.abs(got - ref).max() < 1e-3,
          "nupic state_dict -> zeroskip: same predictions as PyTorch (max |dlogp| %.2g)"
          % np.abs(got - ref).max())
    back = zm.to_state_dict()
    check(sorted(back) == sorted(nupic_sd) and
          all(torch.equal(back[k].to(nupic_sd[k].dtype), nupic_sd[k]) for k in nupic_sd),
          "to_state_dict returns the nupic state_dict it was given")
    zm2 = zs.Model.from_state_dict(back)
    check(np.array_equal(zm2.infer(X), got), "second round trip: identical predictions")

print("python_module: %d passed, %d failed" % (passed, failed))
print("RESULT %d %d" % (passed, failed))
sys.exit(1 if failed else 0)
