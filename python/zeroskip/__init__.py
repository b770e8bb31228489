"""zeroskip -- sparse-sparse neural networks from Python (libzeroskip via cffi).

    import zeroskip
    m = zeroskip.Model.load("models/gsc-sparse.safetensors")
    r = m.recognise("demo/clips/7_george_3.wav")      # same front end as the CLI
    print(r.label, r.confidence)                       # seven 0.916...
    for d in m.stream("demo/george_31415926.wav"):     # = zeroskip listen --stream
        print(d.start, d.end, d.label, d.confidence)

What it is: a thin layer over include/zeroskip.h. Arrays are numpy float32
(features (N, C, H, W), audio 1-d in [-1, 1] at any rate), labels int32.
Every library failure raises ZeroskipError carrying zs_last_error()'s
message and the status name. A Model is not thread-safe (like a zs_net);
use one per thread.

What it is not: a PyTorch layer. to_state_dict / from_state_dict move
weights to and from PyTorch (nupic.torch GSCSparseCNN names); see
scripts/export_torch.py for the PyTorch twin of the networks.
"""
import json
import os
import tempfile
from collections import namedtuple

import numpy as np

from . import nupic, st_io
from ._ffi import ffi, lib

__all__ = ["Model", "ZeroskipError", "Result", "Detection", "load_audio", "resample",
           "clip_centred", "logmel", "features", "version", "presets", "model_path",
           "SAMPLE_RATE", "CLIP_SAMPLES", "N_MELS", "N_FRAMES"]

SAMPLE_RATE = 16000
CLIP_SAMPLES = 16000
N_MELS = 32
N_FRAMES = 32

_STATUS = {0: "ZS_OK", 1: "ZS_EINVAL", 2: "ZS_ENOMEM", 3: "ZS_EIO", 4: "ZS_EFORMAT",
           5: "ZS_ESHAPE", 6: "ZS_EUNSUPPORTED", 7: "ZS_ENUMERIC", 8: "ZS_ELIMIT"}


class ZeroskipError(Exception):
    """A libzeroskip call failed. str(e) is the library's message;
    e.status is the status name ("ZS_EFORMAT"), e.code its number."""
    def __init__(self, code, message):
        self.code = int(code)
        self.status = _STATUS.get(self.code, "ZS_%d" % self.code)
        self.message = message
        super().__init__(message or self.status)


def _check(st):
    if st != 0:
        msg = ffi.string(lib().zs_last_error()).decode("utf-8", "replace")
        raise ZeroskipError(st, msg)


def _optional(name):
    """A library function that older libzeroskip builds lack."""
    try:
        return getattr(lib(), name)
    except AttributeError:
        raise ZeroskipError(6, "this libzeroskip (%s) has no %s" % (version(), name)) from None


def _f32(a, name, finite=False):
    a = np.ascontiguousarray(a, dtype=np.float32)
    if finite and a.size and not np.all(np.isfinite(a)):
        raise ZeroskipError(7, "%s: NaN or Inf in the input" % name)
    return a


def _path(p):
    return os.fsencode(p)


def version():
    """Version of the library loaded (zs_version())."""
    return ffi.string(lib().zs_version()).decode()


def presets():
    """Names of the built-in architectures."""
    p = lib().zs_presets()
    out, i = [], 0
    while p[i] != ffi.NULL:
        out.append(ffi.string(p[i]).decode())
        i += 1
    return out


def model_path(name):
    """Path of a shipped model ("gsc-sparse", "gsc-dense", "gsc-supersparse"):
    share/zeroskip/models of the installed prefix, else models/ of the source
    tree this package sits in."""
    dirs = []
    try:
        from . import _install
        dirs.append(_install.MODELS)
    except ImportError:
        pass
    dirs.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models"))
    for d in dirs:
        p = os.path.normpath(os.path.join(d, name + ".safetensors"))
        if os.path.exists(p):
            return p
    raise FileNotFoundError("no shipped model %r in %s" % (name, ", ".join(dirs)))


# ---- audio front end (the CLI's) -------------------------------------------

def _take_floats(ptr, n):
    try:
        return np.frombuffer(ffi.buffer(ptr, 4 * n), dtype=np.float32).copy()
    finally:
        lib().free(ptr)


def load_audio(path, rate=SAMPLE_RATE, max_seconds=0.0):
    """Any file libsndfile reads, mixed to mono and resampled to `rate`
    (zs_audio_load): float32 in [-1, 1]. max_seconds > 0 refuses longer."""
    pp, pn = ffi.new("float **"), ffi.new("size_t *")
    _check(lib().zs_audio_load(_path(path), int(rate), float(max_seconds), pp, pn))
    return _take_floats(pp[0], pn[0])


def resample(x, rate_in, rate_out=SAMPLE_RATE):
    """Mono audio from rate_in to rate_out (libsamplerate, best sinc, as the
    file loaders do)."""
    x = _f32(x, "audio").reshape(-1)
    if int(rate_in) == int(rate_out):
        return x.copy()
    pp, pn = ffi.new("float **"), ffi.new("size_t *")
    _check(lib().zs_audio_resample(ffi.from_buffer("float[]", x), x.size, int(rate_in),
                                   int(rate_out), pp, pn))
    return _take_floats(pp[0], pn[0])


def clip_centred(x):
    """The 1 s clip the data sets and `listen` use (zs_clip_fit_centred):
    the speech centred in the second, or its loudest second."""
    x = _f32(x, "audio").reshape(-1)
    out = np.zeros(CLIP_SAMPLES, np.float32)
    lib().zs_clip_fit_centred(ffi.from_buffer("float[]", x), x.size,
                              ffi.from_buffer("float[]", out))
    return out


class _Frontend:
    def __init__(self):
        p = ffi.new("zs_frontend **")
        _check(lib().zs_frontend_create(p))
        self.fe = ffi.gc(p[0], lib().zs_frontend_free)

    def logmel(self, clip):
        clip = _f32(clip, "clip").reshape(-1)
        if clip.size != CLIP_SAMPLES:
            raise ZeroskipError(5, "logmel: a clip has %d samples, not %d" % (clip.size, CLIP_SAMPLES))
        out = np.empty((N_MELS, N_FRAMES), np.float32)
        _check(lib().zs_frontend_logmel(self.fe, ffi.from_buffer("float[]", clip),
                                        ffi.from_buffer("float[]", out)))
        return out


def logmel(clip):
    """(32, 32) log-mel image of one 16 kHz clip of exactly 16000 samples."""
    return _Frontend().logmel(clip)


def _audio_16k(audio, rate):
    if isinstance(audio, (str, bytes, os.PathLike)):
        return load_audio(audio, SAMPLE_RATE, 30.0)
    if rate is None:
        raise ZeroskipError(1, "audio given as an array needs its sample rate (rate=...)")
    return resample(audio, rate, SAMPLE_RATE)


def features(audio, rate=None):
    """Features of a file (path) or a mono array at `rate` Hz, exactly as
    `zeroskip listen` / `zeroskip features --centre` compute them: resampled
    to 16 kHz, the centred 1 s clip, log-mel. Returns (1, 32, 32) float32."""
    return logmel(clip_centred(_audio_16k(audio, rate)))[None]


# ---- models ----------------------------------------------------------------

Result = namedtuple("Result", "label confidence probs")
Result.__doc__ = "label: best class; confidence: its probability; probs: {label: p}"
Detection = namedtuple("Detection", "start end label confidence")
Detection.__doc__ = "A detected word in a stream: seconds from the start, label, confidence"


class Model:
    """A zeroskip network (zs_net). Model.load(path), Model.create(preset),
    Model.from_state_dict(sd)."""

    def __init__(self, handle):
        self._net = ffi.gc(handle, lib().zs_net_free)
        self._fe = None

    # -- construction -----------------------------------------------------
    @classmethod
    def load(cls, path):
        """A safetensors model (zeroskip train / save, export_torch.py)."""
        p = ffi.new("zs_net **")
        _check(lib().zs_net_load(p, _path(path)))
        return cls(p[0])

    @classmethod
    def from_bytes(cls, data):
        p = ffi.new("zs_net **")
        data = bytes(data)
        _check(lib().zs_net_load_mem(p, data, len(data)))
        return cls(p[0])

    @classmethod
    def create(cls, arch="gsc-sparse", seed=42, labels=None):
        """A freshly initialised network: a preset name, or an architecture
        as JSON text or a dict (docs/ARCHITECTURE.md)."""
        p = ffi.new("zs_net **")
        if isinstance(arch, dict):
            arch = json.dumps(arch)
        if arch.lstrip().startswith("{"):
            _check(lib().zs_net_create_json(p, arch.encode(), int(seed)))
        else:
            _check(lib().zs_net_create_preset(p, arch.encode(), int(seed)))
        m = cls(p[0])
        if labels is not None:
            m.labels = labels
        return m

    # -- description ------------------------------------------------------
    @property
    def input_shape(self):
        c, h, w = ffi.new("int *"), ffi.new("int *"), ffi.new("int *")
        lib().zs_net_input_shape(self._net, c, h, w)
        return (c[0], h[0], w[0])

    @property
    def num_classes(self):
        return lib().zs_net_num_classes(self._net)

    @property
    def labels(self):
        out = []
        for i in range(self.num_classes):
            s = lib().zs_net_class_name(self._net, i)
            out.append(ffi.string(s).decode() if s != ffi.NULL else "class%d" % i)
        return out

    @labels.setter
    def labels(self, names):
        names = [str(n) for n in names]
        keep = [ffi.new("char[]", n.encode()) for n in names]
        _check(lib().zs_net_set_class_names(self._net, len(names), ffi.new("char *[]", keep)))

    @property
    def arch_name(self):
        return ffi.string(lib().zs_net_arch_name(self._net)).decode()

    @property
    def arch(self):
        """The architecture as a dict (the JSON stored in the model file)."""
        return json.loads(self._tensors()[1]["arch"])

    def set_dense(self, dense=True):
        """Run inference through the dense path (same results, for timing)."""
        lib().zs_net_set_dense(self._net, 1 if dense else 0)

    def set_int8_weights(self, on=True):
        """Run conv2 in integers (int8 weights, u8 inputs, exact integer sums):
        smaller and faster, not exact (top-1 as fp32 on 99.8 % of the test
        split); the model and training are unchanged."""
        lib().zs_net_set_int8_weights(self._net, 1 if on else 0)

    # -- saving -----------------------------------------------------------
    def save(self, path, checkpoint=False):
        """Atomic safetensors write; checkpoint=True adds the training state."""
        fn = lib().zs_net_save_checkpoint if checkpoint else lib().zs_net_save
        _check(fn(self._net, _path(path)))

    def to_bytes(self):
        with tempfile.TemporaryDirectory(prefix="zeroskip-") as d:
            p = os.path.join(d, "m.safetensors")
            self.save(p)
            with open(p, "rb") as f:
                return f.read()

    def _tensors(self):
        """(tensors, metadata) of the saved model, sparse layers unpacked to
        the dense weight + mask PyTorch holds."""
        with tempfile.TemporaryDirectory(prefix="zeroskip-") as d:
            p = os.path.join(d, "m.safetensors")
            self.save(p)
            t, meta = st_io.load(p)
            return st_io.unpack_sparse(t, json.loads(meta["arch"])), meta

    # -- inference --------------------------------------------------------
    def infer(self, x):
        """Log-probabilities (N, K) of features (N, C, H, W) or one (C, H, W)."""
        shape = self.input_shape
        x = _f32(x, "features")
        if x.shape == shape:
            x = x[None]
        if x.ndim != 4 or tuple(x.shape[1:]) != shape:
            raise ZeroskipError(5, "features of shape %s; the model takes (N,) + %s"
                                % (tuple(x.shape), shape))
        out = np.empty((x.shape[0], self.num_classes), np.float32)
        if x.shape[0]:
            _check(lib().zs_net_infer(self._net, ffi.from_buffer("float[]", x), x.shape[0],
                                      ffi.from_buffer("float[]", out)))
        return out

    def predict_proba(self, x):
        """Probabilities (N, K) (softmax) of features."""
        return np.exp(self.infer(x))

    def predict(self, x):
        """Class indices (N,) of features."""
        return self.infer(x).argmax(axis=1)

    def classify(self, audio, rate=None):
        """Probabilities (K,) of one utterance: a path, or an array at `rate`."""
        if self._fe is None:
            self._fe = _Frontend()
        clip = clip_centred(_audio_16k(audio, rate))
        return np.exp(self.infer(self._fe.logmel(clip)[None, None])[0])

    def recognise(self, audio, rate=None):
        """Result(label, confidence, probs) of one utterance, as
        `zeroskip listen FILE` computes it (file: any format/rate; array:
        mono at `rate` Hz)."""
        p = self.classify(audio, rate)
        labels = self.labels
        i = int(np.argmax(p))   # ties: lowest index, as listen
        return Result(labels[i], float(p[i]), dict(zip(labels, (float(v) for v in p))))

    recognize = recognise

    # -- streams ----------------------------------------------------------
    def stream(self, source, rate=None, raw_rate=0, hop=0.1, smooth=3, threshold=0.5,
               gate_db=10.0, centre=True, min_gap=0.3, chunk=4000):
        """Words in a long recording or a live stream, as `zeroskip listen
        --stream` finds them (the same library scanner). Yields Detection
        as soon as each word ends. `source`: a path, "-" (stdin), an
        object with fileno() (a pipe, e.g. arecord's stdout; read from its
        descriptor, so do not read it from Python as well), or a mono array
        at `rate` Hz. raw_rate > 0: the file/pipe is headerless 16-bit LE
        mono PCM at raw_rate Hz. gate_db, centre, min_gap: as listen's
        --gate-db, --no-centre, --min-gap (0/False: off)."""
        opts = ffi.new("zs_scan_opts *", {"hop_s": hop, "smooth": smooth, "threshold": threshold,
                                          "gate_db": gate_db, "centre": int(bool(centre)),
                                          "min_gap_s": min_gap})
        p = ffi.new("zs_scanner **")
        _check(lib().zs_scanner_create(p, self._net, opts))
        sc = ffi.gc(p[0], lib().zs_scanner_free)
        labels = self.labels
        det = ffi.new("zs_detection *")

        def drain():
            while lib().zs_scanner_next(sc, det):
                yield Detection(round(det.start_s, 6), round(det.end_s, 6), labels[det.label],
                                float(det.confidence))

        if isinstance(source, np.ndarray) or isinstance(source, (list, tuple)):
            if rate is None:
                raise ZeroskipError(1, "audio given as an array needs its sample rate (rate=...)")
            x = resample(source, rate, SAMPLE_RATE)
            for i in range(0, x.size, chunk):
                part = x[i:i + chunk]
                _check(lib().zs_scanner_push(sc, ffi.from_buffer("float[]", part), part.size))
                yield from drain()
        else:
            if hasattr(source, "fileno"):
                source = "/dev/fd/%d" % source.fileno()
            ps = ffi.new("zs_audio_stream **")
            _check(lib().zs_audio_stream_open(ps, _path(source), int(raw_rate), SAMPLE_RATE))
            st = ffi.gc(ps[0], lib().zs_audio_stream_close)
            buf = ffi.new("float[]", chunk)
            got = ffi.new("size_t *")
            while True:
                _check(lib().zs_audio_stream_read(st, buf, chunk, got))
                if got[0] == 0:
                    break
                _check(lib().zs_scanner_push(sc, buf, got[0]))
                yield from drain()
            ffi.release(st)
        _check(lib().zs_scanner_finish(sc))
        yield from drain()

    # -- training ---------------------------------------------------------
    def _dataset(self, x, y):
        x = _f32(x, "features", finite=True)
        y = np.ascontiguousarray(y, dtype=np.int32).reshape(-1)
        shape = self.input_shape
        if x.ndim == 3 and shape[0] == 1:
            x = x[:, None]
        if x.ndim != 4 or tuple(x.shape[1:]) != shape:
            raise ZeroskipError(5, "features of shape %s; the model takes (N,) + %s"
                                % (tuple(x.shape), shape))
        if y.size != x.shape[0]:
            raise ZeroskipError(5, "%d labels for %d samples" % (y.size, x.shape[0]))
        if y.size and (y.min() < 0 or y.max() >= self.num_classes):
            raise ZeroskipError(1, "labels must lie in [0, %d); got %d..%d"
                                % (self.num_classes, y.min(), y.max()))
        p = ffi.new("zs_dataset **")
        _check(lib().zs_dataset_create(p, x.shape[0], *shape))
        ds = ffi.gc(p[0], lib().zs_dataset_free)
        ffi.memmove(lib().zs_dataset_features(ds), x, x.nbytes)
        ffi.memmove(lib().zs_dataset_labels(ds), y, y.nbytes)
        return ds

    def train(self, x, y, val=None, epochs=1, batch=16, lr=0.01, momentum=0.0,
              weight_decay=0.01, lr_gamma=0.9, lr_step=1, first_epoch_batch=0, seed=42,
              verbose=False, csv_path=None, checkpoint_path=None, max_samples=0):
        """zs_train on features x (N, C, H, W) and labels y (N,) (val: an
        optional (x, y) reported each epoch). Deterministic for a seed. The
        options and defaults are zs_train_opts' (include/zeroskip.h).
        Returns evaluate(*val) after training, or None without val."""
        train = self._dataset(x, y)
        vds = self._dataset(*val) if val is not None else ffi.NULL
        o = ffi.new("zs_train_opts *", lib().zs_train_defaults())
        o.epochs, o.batch, o.first_epoch_batch = int(epochs), int(batch), int(first_epoch_batch)
        o.lr, o.momentum, o.weight_decay = lr, momentum, weight_decay
        o.lr_gamma, o.lr_step, o.seed = lr_gamma, int(lr_step), int(seed)
        o.verbose, o.max_samples = 1 if verbose else 0, int(max_samples)
        keep = []
        for field, v in (("csv_path", csv_path), ("checkpoint_path", checkpoint_path)):
            if v is not None:
                keep.append(ffi.new("char[]", _path(v)))
                setattr(o, field, keep[-1])
        _check(lib().zs_train(self._net, train, vds, o))
        return self.evaluate(*val) if val is not None else None

    def train_step(self, x, y, lr=0.01, momentum=0.0, weight_decay=0.0):
        """One SGD step on a batch (zs_net_train_step); (loss, correct)."""
        x = _f32(x, "features")
        y = np.ascontiguousarray(y, dtype=np.int32).reshape(-1)
        if x.ndim != 4 or tuple(x.shape[1:]) != self.input_shape or y.size != x.shape[0]:
            raise ZeroskipError(5, "train_step: features %s and %d labels; the model takes (N,) + %s"
                                % (tuple(x.shape), y.size, self.input_shape))
        opt = ffi.new("zs_sgd *", {"lr": lr, "momentum": momentum, "weight_decay": weight_decay})
        loss, correct = ffi.new("float *"), ffi.new("int *")
        _check(lib().zs_net_train_step(self._net, ffi.from_buffer("float[]", x),
                                       ffi.from_buffer("int32_t[]", y), x.shape[0], opt,
                                       loss, correct))
        return float(loss[0]), int(correct[0])

    def epoch_end(self):
        """Decay every k-WTA boost strength (end of an epoch of train_step)."""
        lib().zs_net_epoch_end(self._net)

    def evaluate(self, x, y):
        """{"accuracy", "loss", "n", "confusion" (K, K), "pred" (N,)} (zs_eval)."""
        ds = self._dataset(x, y)
        r = ffi.new("zs_eval_result *")
        _check(lib().zs_eval(self._net, ds, r))
        try:
            k = r.num_classes
            conf = np.frombuffer(ffi.buffer(r.confusion, 8 * k * k), np.int64).reshape(k, k).copy()
            pred = np.frombuffer(ffi.buffer(r.pred, 4 * r.n), np.int32).copy()
            return {"accuracy": r.correct / r.n if r.n else 0.0, "loss": r.loss, "n": r.n,
                    "confusion": conf, "pred": pred}
        finally:
            lib().zs_eval_free(r)

    # -- learning while serving, enrollment (zs_net_learn, zs_net_add_class)
    def clone(self):
        """A deep copy (zs_net_clone): weights, state, momenta, labels."""
        p = ffi.new("zs_net **")
        _check(_optional("zs_net_clone")(self._net, p))
        return Model(p[0])

    def learn(self, x, y, lr=None, layers=None, weight_decay=None, update_duty=None,
              only_class=None):
        """Online learning on a few samples (zs_net_learn): an eval-mode
        forward, sparse SGD on the top `layers` linear layers only
        (convolutions and BatchNorm frozen); only_class=k (with layers=1)
        changes only output k's row. Unset options keep zs_learn_defaults().
        Returns the mean NLL before the update."""
        x = _f32(x, "features")
        y = np.ascontiguousarray(y, dtype=np.int32).reshape(-1)
        if x.shape == self.input_shape:
            x = x[None]
        if x.ndim != 4 or tuple(x.shape[1:]) != self.input_shape or y.size != x.shape[0]:
            raise ZeroskipError(5, "learn: features %s and %d labels; the model takes (N,) + %s"
                                % (tuple(x.shape), y.size, self.input_shape))
        o = ffi.new("zs_learn_opts *", _optional("zs_learn_defaults")())
        if lr is not None:
            o.lr = lr
        if layers is not None:
            o.layers = int(layers)
        if weight_decay is not None:
            o.weight_decay = weight_decay
        if update_duty is not None:
            o.update_duty = 1 if update_duty else 0
        if only_class is not None:
            o.only_class = int(only_class)
        loss = ffi.new("float *")
        _check(_optional("zs_net_learn")(self._net, ffi.from_buffer("float[]", x),
                                  ffi.from_buffer("int32_t[]", y), x.shape[0], o, loss))
        return float(loss[0])

    def add_class(self, name, examples=None):
        """Grow the output layer by one class `name` (zs_net_add_class),
        keeping every old class; with example features (N, C, H, W) the new
        row is imprinted from them. Returns the new class index."""
        if examples is None:
            _check(_optional("zs_net_add_class")(self._net, str(name).encode(), ffi.NULL, 0))
        else:
            x = _f32(examples, "examples")
            if x.ndim != 4 or tuple(x.shape[1:]) != self.input_shape:
                raise ZeroskipError(5, "add_class: examples %s; the model takes (N,) + %s"
                                    % (tuple(x.shape), self.input_shape))
            _check(_optional("zs_net_add_class")(self._net, str(name).encode(),
                                          ffi.from_buffer("float[]", x), x.shape[0]))
        return self.num_classes - 1

    def enroll(self, word, clips, rate=None, epochs=20, lr=0.01):
        """Teach the model a new word from a few clips (paths, or arrays at
        `rate`), keeping the old classes exactly: add_class imprints the new
        output row from the clips' features, then `epochs` zs_net_learn
        steps on them that change only that row (only_class), so every old
        class's logits stay as they were. The plain form of `zeroskip
        enroll` (which can also learn deeper with replayed old examples and
        negatives, in cli/cmd_enroll.c). Returns the new class index."""
        feats = np.concatenate([features(c, rate) for c in clips])[:, None]
        k = self.add_class(word, feats)
        y = np.full(len(feats), k, np.int32)
        for _ in range(int(epochs)):
            self.learn(feats, y, lr=lr, layers=1, only_class=k)
        return k

    # -- PyTorch ----------------------------------------------------------
    def to_state_dict(self, names="nupic", torch_tensors=True):
        """The weights and state as a PyTorch state_dict: names="nupic"
        (nupic.torch GSCSparseCNN: "cnn1.module.weight", "cnn1.zero_mask",
        ...) or "zeroskip" (scripts/export_torch.py's twin). torch tensors
        where torch is importable and torch_tensors, else numpy arrays."""
        t, _ = self._tensors()
        if names == "nupic":
            t = nupic.to_nupic(t, self.arch)
        elif names != "zeroskip":
            raise ValueError("names must be 'nupic' or 'zeroskip'")
        if torch_tensors:
            try:
                import torch
            except ImportError:
                return t
            return {k: torch.from_numpy(np.array(v)) for k, v in t.items()}
        return t

    @classmethod
    def from_state_dict(cls, state_dict, arch="gsc-sparse", labels=None, learning_iterations=1000):
        """A Model from a PyTorch state_dict (torch tensors or numpy arrays)
        with nupic.torch names (GSCSparseCNN) or zeroskip's. `arch`: a
        preset name, JSON text or dict describing the same network. `labels`
        default to the preset's."""
        base = cls.create(arch, seed=0)
        arch_d = base.arch
        t = {}
        for k, v in state_dict.items():
            if hasattr(v, "detach"):
                v = v.detach().cpu().numpy()
            t[k] = np.asarray(v)
        t = nupic.from_nupic(t, arch_d, learning_iterations)
        ref, meta = base._tensors()
        missing = [k for k in ref if k not in t]
        extra = [k for k in t if k not in ref]
        if missing or extra:
            raise ZeroskipError(4, "state_dict does not match %s: missing %s; unexpected %s"
                                % (arch_d.get("name", "the architecture"),
                                   ", ".join(missing) or "none", ", ".join(extra) or "none"))
        out = {}
        for k, r in ref.items():
            a = t[k]
            if tuple(a.shape) != tuple(r.shape):
                raise ZeroskipError(5, "%s: shape %s in the state_dict, %s expected"
                                    % (k, tuple(a.shape), tuple(r.shape)))
            out[k] = a.astype(r.dtype)
        meta = {"format": "zeroskip", "arch": meta["arch"], "classes": meta.get("classes", "[]")}
        if labels is not None:
            meta["classes"] = json.dumps([str(x) for x in labels])
        with tempfile.TemporaryDirectory(prefix="zeroskip-") as d:
            p = os.path.join(d, "m.safetensors")
            st_io.save(p, st_io.pack_sparse(out, arch_d), meta)
            return cls.load(p)

    def __repr__(self):
        return "<zeroskip.Model %s: %s -> %d classes>" % (self.arch_name, self.input_shape,
                                                         self.num_classes)
