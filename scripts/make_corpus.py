#!/usr/bin/python3
"""make_corpus.py — the zeroskip keyword-spotting corpus: WAV files + manifest.

What it is: a deterministic (from --seed) builder of a 12-class speech corpus
(unknown, silence, zero..nine) out of real recordings already on disk (FSDD,
Debian's asterisk prompts, the micro_speech clips) and speech synthesised with
espeak-ng and flite, plus generated silence/background noise. It writes

    OUT/manifest.csv      path,label,source,speaker,split,word,detail
                          (path relative to OUT; real recordings are referenced
                          in place, not copied)
    OUT/wav/...           synthesised speech, reversed FSDD, silence clips
    OUT/noise/*.wav       10 s background-noise beds for training augmentation
                          (`zeroskip dataset build --noise-dir OUT/noise`)
    OUT/corpus.json       parameters, plan hash and counts
    SPLITS/{train,val,test}.txt   the speakers/voices of each split

Splits are disjoint by speaker and by synthetic voice (docs/DATASET.md says
which and why). Features are not computed here: `zeroskip dataset build` reads
the manifest. What it is not: a downloader — it uses only local files and the
installed TTS programs, stdlib and numpy.

    /usr/bin/python3 scripts/make_corpus.py --out data/corpus --seed 1
"""
import argparse
import csv
import hashlib
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import wave
from multiprocessing import Pool

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import real_eval  # noqa: E402  (the real-speech split)

CLASSES = ["unknown", "silence", "zero", "one", "two", "three", "four", "five",
           "six", "seven", "eight", "nine"]
DIGITS = CLASSES[2:]
SPLITS = ("train", "val", "test")

# Words for the `unknown` class (said by every synthetic voice): GSC's fillers
# (v1 and v2), a few hard negatives ("oh" is not zero; number words that are
# not digits) and more short everyday words. No homophones of digits
# ("won", "to", "too", "for", "ate").
UNKNOWN_WORDS = (
    "bed bird cat dog down go happy house left marvin no off on right sheila "
    "stop tree up wow yes backward forward follow learn visual "
    "oh ten eleven twelve twenty hundred thousand "
    "hello okay cancel again apple water music light open close start play "
    "pause next back home red blue green black white yellow orange table "
    "chair window door help time where what when why who bag box cup map "
    "moon sun star fish milk book game pen key car bus ship bell dance "
    "sing jump walk talk sleep wake cold hot big small fast slow good bad"
).split()

# Real speakers -> split. FSDD: six male speakers; four train, one val, one
# test. george (Greek accent, an accent nobody else in train has) is the
# held-out test speaker; nicolas (Belgian French) validates.
FSDD_SPLIT = {"jackson": "train", "theo": "train", "yweweler": "train",
              "lucas": "train", "nicolas": "val", "george": "test"}
FSDD_REVERSED_PER_SPEAKER = 40   # time-reversed takes -> unknown (see docs)

# flite voices -> (speaker, split). kal and kal16 are one speaker (8 and 16
# kHz builds of the same diphone voice) so they share a split. awb_time is a
# limited-domain (clock times) voice and is not used.
FLITE_VOICES = {"kal": ("kal", "train"), "kal16": ("kal", "train"),
                "slt": ("slt", "train"), "rms": ("rms", "val"),
                "awb": ("awb", "test")}
FLITE_FEMALE = {"slt"}

# espeak-ng English accents held out for test only (with test variants).
ESPEAK_TEST_ACCENTS = ("en-gb-scotland", "en-us-nyc")

# asterisk-core-sounds-en (Allison Smith, one real female speaker): all of it
# goes to test. Ten digit clips are too few to matter for training, and the
# only real female, telephone-style voice is worth more as an unseen test
# speaker. Single-word prompts used as `unknown` (paths under the sounds dir):
ASTERISK_UNKNOWN = (
    "digits/oh digits/10 digits/11 digits/12 digits/20 digits/30 "
    "digits/hundred digits/thousand digits/million digits/minus digits/star "
    "digits/pound digits/today digits/tomorrow digits/yesterday digits/dollars "
    "hello goodbye sorry letters/b letters/c letters/d letters/f letters/g "
    "letters/j letters/k letters/l letters/m letters/q letters/z"
).split()

# festival voices (Debian festvox-*): directory -> (speaker, female, rate).
# kal is flite's kal speaker (train); ked is a new one.
FESTIVAL_DIR = "/usr/share/festival/voices"
# (cmu_us_slt_arctic_hts, festvox-us-slt-hts, would add flite's slt speaker
# again at ~1.5 s a word; not used.)
FESTIVAL_VOICES = {"kal_diphone": ("kal", False, 16000), "ked_diphone": ("ked", False, 16000)}
GSC_NOISE_BEDS = 3

SILENCE_FRACTION = 0.10          # of each split, as nupic.torch's GSC
NOISE_KINDS = ("white", "pink", "brown", "hum", "band")
SR = 16000
# Bump when the way a file is made changes: cached files are then remade.
CORPUS_VERSION = 2


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- WAV I/O --
def write_wav(path, x, rate=SR):
    """Float samples in [-1, 1] -> 16-bit PCM mono WAV."""
    pcm = np.clip(np.round(np.asarray(x, np.float64) * 32767.0), -32768, 32767)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with wave.open(tmp, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())
    os.replace(tmp, path)


def resample_fft(x, rate_in, rate_out=SR):
    """Band-limited resampling by FFT (the ideal low-pass, with a 5 % cosine
    taper below the new Nyquist). Zero-padded to a whole number of periods of
    the rate ratio, so no circular wrap reaches the signal (TTS output starts
    and ends in silence anyway)."""
    if rate_in == rate_out:
        return x
    from math import gcd
    g = gcd(rate_in, rate_out)
    p, q = rate_out // g, rate_in // g
    n = len(x)
    n_pad = -(-(n + 256) // q) * q              # >= 256 zeros, multiple of q
    m = n_pad * p // q
    spec = np.fft.rfft(np.concatenate([x, np.zeros(n_pad - n)]))
    f = np.fft.rfftfreq(n_pad, 1.0 / rate_in)
    ny = 0.5 * min(rate_in, rate_out)
    taper = np.clip((ny - f) / (0.05 * ny), 0.0, 1.0)
    taper = 0.5 - 0.5 * np.cos(np.pi * taper)
    spec = spec * taper
    k = m // 2 + 1
    if len(spec) < k:
        spec = np.concatenate([spec, np.zeros(k - len(spec), complex)])
    y = np.fft.irfft(spec[:k], m) * (m / n_pad)
    return y[: int(round(n * p / q))]


def read_wav_bytes(data):
    """16-bit PCM WAV bytes -> (float mono samples, rate)."""
    with wave.open(io.BytesIO(data), "rb") as w:
        ch, rate = w.getnchannels(), w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64)
    if ch > 1:
        x = x.reshape(-1, ch).mean(axis=1)
    return x / 32768.0, rate


def read_wav(path):
    """16-bit PCM WAV -> (float mono samples, rate)."""
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM is read here")
        ch, rate = w.getnchannels(), w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64)
    if ch > 1:
        x = x.reshape(-1, ch).mean(axis=1)
    return x / 32768.0, rate


# ------------------------------------------------------------------ noise --
def make_noise(kind, n, rng):
    """Unit-RMS noise of n samples at 16 kHz."""
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind in ("pink", "brown", "band"):
        spec = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n, 1.0 / SR)
        f[0] = f[1]
        if kind == "pink":
            spec /= np.sqrt(f)
        elif kind == "brown":
            spec /= np.maximum(f, 20.0)          # 1/f^2 power, floor at 20 Hz
        else:
            lo = np.exp(rng.uniform(np.log(60.0), np.log(3000.0)))
            hi = min(lo * np.exp(rng.uniform(np.log(1.5), np.log(8.0))), 8000.0)
            spec *= (f >= lo) & (f <= hi)
        x = np.fft.irfft(spec, n)
    elif kind == "hum":
        t = np.arange(n) / SR
        f0 = rng.choice([50.0, 60.0]) * rng.uniform(0.98, 1.02)
        x = np.zeros(n)
        for h in range(1, 9):
            x += rng.uniform(0, 1.0 / h) * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi))
        x += 0.05 * rng.standard_normal(n)
    else:
        raise ValueError(kind)
    rms = np.sqrt(np.mean(x * x))
    return x / rms if rms > 0 else x


def silence_clip(seed):
    """One second of `silence`: digital zero (15 %) or noise at a random level."""
    rng = np.random.default_rng(seed)
    if rng.uniform() < 0.15:
        return np.zeros(SR), "zeros"
    kind = NOISE_KINDS[rng.integers(len(NOISE_KINDS))]
    x = make_noise(kind, SR, rng)
    if rng.uniform() < 0.3:                       # a mixture of two kinds
        kind2 = NOISE_KINDS[rng.integers(len(NOISE_KINDS))]
        x = x + rng.uniform(0.2, 1.0) * make_noise(kind2, SR, rng)
        kind = kind + "+" + kind2
        x /= np.sqrt(np.mean(x * x))
    level_db = rng.uniform(-70.0, -15.0)          # RMS in dBFS
    x *= 10.0 ** (level_db / 20.0)
    peak = np.max(np.abs(x))
    if peak > 0.95:
        x *= 0.95 / peak
    return x, f"{kind} {level_db:.1f}dBFS"


# ------------------------------------------------------------------- jobs --
def job_hash(job):
    return hashlib.sha256(json.dumps([CORPUS_VERSION, job], sort_keys=True).encode()).hexdigest()[:16]


def run_job(job):
    """Make one WAV (in a pool worker). Returns (out, error-or-None)."""
    out = job["out"]
    try:
        os.makedirs(os.path.dirname(out), exist_ok=True)
        kind = job["kind"]
        if kind == "espeak":
            cmd = ["espeak-ng", "-v", job["voice"], "-s", str(job["speed"]),
                   "-p", str(job["pitch"]), "-w", out + ".22k", job["text"]]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=60)
            # espeak-ng speaks at 22050 Hz: store 16 kHz (libsamplerate's best
            # sinc costs ~30 ms a clip in `dataset build`; this ~1 ms)
            x, rate = read_wav(out + ".22k")
            write_wav(out, resample_fft(x, rate), SR)
            os.remove(out + ".22k")
        elif kind == "flite":
            cmd = ["flite", "-voice", job["voice"],
                   "--setf", f"duration_stretch={job['stretch']:.3f}",
                   "--setf", f"int_f0_target_mean={job['f0']:.1f}",
                   "-t", job["text"], "-o", out + ".tmp"]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=60)
            os.replace(out + ".tmp", out)
        elif kind == "festival":
            # diphone voices take a target mean F0; the HTS voice its own
            cmd = ["text2wave", "-eval", f"(voice_{job['voice']})",
                   "-eval", f"(Parameter.set 'Duration_Stretch {job['stretch']})",
                   "-eval", "(set! int_lr_params '((target_f0_mean %s) (target_f0_std 12) "
                   "(model_f0_mean 170) (model_f0_std 34)))" % job["f0"],
                   "-o", out + ".tmp"]
            subprocess.run(cmd, input=job["text"].encode(), check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, timeout=60)
            x, rate = read_wav(out + ".tmp")
            write_wav(out, resample_fft(x, rate) if rate > SR else x, SR if rate > SR else rate)
            os.remove(out + ".tmp")
        elif kind == "concat":
            parts = []
            for src in job["src"]:
                sf = subprocess.run(["sox", src, "-t", "wav", "-b", "16", "-"], check=True,
                                    capture_output=True).stdout
                x, rate = read_wav_bytes(sf)
                parts.append(x)
            write_wav(out, np.concatenate(parts), SR)
        elif kind == "reverse":
            x, rate = read_wav(job["src"])
            write_wav(out, x[::-1], rate)
        elif kind == "silence":
            x, _ = silence_clip(job["seed"])
            write_wav(out, x)
        elif kind == "noisebed":
            rng = np.random.default_rng(job["seed"])
            x = make_noise(job["noise"], job["seconds"] * SR, rng)
            x *= 10.0 ** (-20.0 / 20.0)
            write_wav(out, np.clip(x, -0.99, 0.99))
        else:
            return out, f"unknown job kind {kind}"
        with wave.open(out, "rb") as w:
            if w.getnframes() == 0:
                return out, "no samples written"
    except subprocess.CalledProcessError as e:
        return out, f"{e.cmd[0]} failed: {e.stderr.decode(errors='replace').strip()}"
    except Exception as e:  # noqa: BLE001 — reported per file, then fatal
        return out, str(e)
    return out, None


# ------------------------------------------------------------------- plan --
def espeak_accents():
    """Non-MBROLA English accents of the installed espeak-ng, sorted."""
    txt = subprocess.run(["espeak-ng", "--voices=en"], check=True,
                         capture_output=True, text=True).stdout
    acc = set()
    for line in txt.splitlines()[1:]:
        f = line.split()
        if len(f) >= 5 and f[1].startswith("en") and not f[4].startswith("mb/"):
            acc.add(f[1])
    return sorted(acc)


def espeak_variants():
    """[(variant file name, gender)] of espeak-ng, sorted; names with spaces skipped."""
    txt = subprocess.run(["espeak-ng", "--voices=variant"], check=True,
                         capture_output=True, text=True).stdout
    out = {}
    pat = re.compile(r"^\s*\d+\s+variant\s+\S+/([MF-])\s+\S+\s+!v/(.+?)\s*(\(.*\))?\s*$")
    for line in txt.splitlines()[1:]:
        m = pat.match(line)
        if m and " " not in m.group(2):
            out[m.group(2)] = m.group(1)
    return sorted(out.items())


def partition(names, seed, frac_val, frac_test):
    """Shuffle names with `seed`; return {name: split} with the given fractions."""
    names = sorted(names)
    random.Random(seed).shuffle(names)
    n = len(names)
    n_test = max(1, round(n * frac_test))
    n_val = max(1, round(n * frac_val))
    out = {}
    for i, nm in enumerate(names):
        out[nm] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    return out


def plan(args):
    """Every clip of the corpus as a manifest row, plus the jobs that make them."""
    rng = random.Random(args.seed)
    rows, jobs = [], []
    out = args.out

    def add(path, label, source, speaker, split, word="", detail=""):
        rel = os.path.relpath(path, out)
        rows.append(dict(path=rel, label=label, source=source, speaker=speaker,
                         split=split, word=word, detail=detail))

    # FSDD: real, 8 kHz, referenced in place.
    fsdd = os.path.join(args.shared, "fsdd", "recordings")
    if os.path.isdir(fsdd):
        files = sorted(f for f in os.listdir(fsdd) if f.endswith(".wav"))
        by_spk = {}
        for f in files:
            d, spk, _ = f[:-4].split("_")
            if spk not in FSDD_SPLIT:
                raise SystemExit(f"make_corpus: FSDD speaker '{spk}' ({f}) has no split; "
                                 "add it to FSDD_SPLIT")
            by_spk.setdefault(spk, []).append(f)
            add(os.path.join(fsdd, f), DIGITS[int(d)], "fsdd", "fsdd:" + spk,
                FSDD_SPLIT[spk], DIGITS[int(d)])
        for spk in sorted(by_spk):
            for f in sorted(rng.sample(by_spk[spk], min(FSDD_REVERSED_PER_SPEAKER, len(by_spk[spk])))):
                dst = os.path.join(out, "wav", "fsdd-reversed", f)
                jobs.append(dict(kind="reverse", src=os.path.join(fsdd, f), out=dst))
                add(dst, "unknown", "fsdd-reversed", "fsdd:" + spk, FSDD_SPLIT[spk],
                    "reversed " + DIGITS[int(f[0])])
    else:
        log(f"make_corpus: WARNING: {fsdd} not found; no FSDD")

    # micro_speech: test only.
    ms = os.path.join(args.shared, "micro_speech")
    for name, label in (("yes", "unknown"), ("no", "unknown"),
                        ("noise", "silence"), ("silence", "silence")):
        p = os.path.join(ms, f"{name}_1000ms.wav")
        if os.path.exists(p):
            add(p, label, "micro_speech", "micro_speech:" + name, "test", name)
        else:
            log(f"make_corpus: WARNING: {p} not found")

    # asterisk: one real female speaker, test only.
    ast = args.asterisk
    if ast and os.path.isdir(os.path.join(ast, "digits")):
        for i, d in enumerate(DIGITS):
            p = os.path.join(ast, "digits", f"{i}.wav")
            if os.path.exists(p):
                add(p, d, "asterisk", "asterisk:allison", "test", d)
        for w in ASTERISK_UNKNOWN:
            p = os.path.join(ast, w + ".wav")
            if os.path.exists(p):
                add(p, "unknown", "asterisk", "asterisk:allison", "test", w.split("/")[-1])
    else:
        log(f"make_corpus: WARNING: asterisk sounds not found under {ast}; skipped")

    # espeak-ng: variants (timbres) are the voices; split by variant, stratified
    # by gender. Test variants also speak with two held-out accents.
    accents = espeak_accents() if shutil.which("espeak-ng") else []
    variants = espeak_variants() if accents else []
    variants = [("default", "M")] + [v for v in variants if v[0] != "default"]
    esp_split = {}
    if accents:
        for g in ("M", "F", "-"):
            names = [v for v, gg in variants if gg == g]
            if names:
                esp_split.update(partition(names, args.seed * 1000 + ord(g), 0.15, 0.15))
        train_acc = [a for a in accents if a not in ESPEAK_TEST_ACCENTS]
        for v, _ in variants:
            split = esp_split[v]
            accs = accents if split == "test" else train_acc
            for a in accs:
                voice = a if v == "default" else f"{a}+{v}"
                words = [(d, d) for d in DIGITS for _ in range(args.espeak_renditions)]
                words += [("unknown", w) for w in rng.sample(UNKNOWN_WORDS, args.espeak_unknown)]
                for k, (label, w) in enumerate(words):
                    speed = rng.randint(120, 220)
                    pitch = rng.randint(15, 85)
                    dst = os.path.join(out, "wav", "espeak", v, f"{a}_{w}_{k:02d}.wav")
                    jobs.append(dict(kind="espeak", voice=voice, speed=speed, pitch=pitch,
                                     text=w, out=dst))
                    add(dst, label, "espeak", "espeak:" + v, split, w,
                        f"-v {voice} -s {speed} -p {pitch}")
    else:
        log("make_corpus: WARNING: espeak-ng not found; no espeak voices")

    # flite voices.
    if shutil.which("flite"):
        have = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout.split()
        for v, (spk, split) in FLITE_VOICES.items():
            if v not in have:
                log(f"make_corpus: WARNING: flite voice {v} not installed")
                continue
            words = [(d, d) for d in DIGITS for _ in range(args.flite_renditions)]
            words += [("unknown", w) for w in
                      (rng.choice(UNKNOWN_WORDS) for _ in range(round(args.flite_renditions * 1.5)))]
            for k, (label, w) in enumerate(words):
                stretch = rng.uniform(0.8, 1.35)
                f0 = rng.uniform(150, 240) if spk in FLITE_FEMALE else rng.uniform(80, 150)
                dst = os.path.join(out, "wav", "flite", v, f"{w}_{k:03d}.wav")
                jobs.append(dict(kind="flite", voice=v, stretch=stretch, f0=f0, text=w, out=dst))
                add(dst, label, "flite", "flite:" + spk, split, w,
                    f"-voice {v} duration_stretch={stretch:.3f} int_f0_target_mean={f0:.1f}")
    else:
        log("make_corpus: WARNING: flite not found; no flite voices")

    # festival voices (when installed): more synthetic timbres, train only.
    if shutil.which("text2wave"):
        frng = random.Random(args.seed * 7 + 3)     # own generator: the plan above is unchanged
        for v, (spk, female, rate) in FESTIVAL_VOICES.items():
            if not any(os.path.isdir(os.path.join(FESTIVAL_DIR, lang, v)) for lang in ("english", "us")):
                log(f"make_corpus: WARNING: festival voice {v} not installed")
                continue
            words = [(d, d) for d in DIGITS for _ in range(args.festival_renditions)]
            words += [("unknown", w) for w in
                      (frng.choice(UNKNOWN_WORDS) for _ in range(round(args.festival_renditions * 1.5)))]
            for k, (label, w) in enumerate(words):
                stretch = round(frng.uniform(0.8, 1.3), 3)
                f0 = round(frng.uniform(160, 230) if female else frng.uniform(85, 140), 1)
                dst = os.path.join(out, "wav", "festival", v, f"{w}_{k:03d}.wav")
                jobs.append(dict(kind="festival", voice=v, stretch=stretch, f0=f0, text=w, out=dst))
                add(dst, label, "festival", "festival:" + spk, "train", w,
                    f"voice_{v} Duration_Stretch={stretch} f0={f0}")
    else:
        log("make_corpus: WARNING: festival (text2wave) not found; no festival voices")

    # Real Speech Commands speakers of the train and val splits of
    # data/splits/speech_commands.txt (scripts/real_eval.py): every word they
    # say is `unknown` (none of them says a digit; the speakers who do are all
    # held out), their background-noise snippets are `silence`; the train
    # snippets are also the real noise beds of the augmentation.
    gsc_train_noise = []
    if os.path.exists(real_eval.SPLIT_FILE) and os.path.isdir(os.path.join(args.shared, real_eval.GSC)):
        for r in real_eval.real_rows(args.shared, "digits", ("train", "val")):
            if r["source"] != "gsc":
                continue
            if r["label"] in DIGITS:
                raise SystemExit(f"make_corpus: BUG: a Speech Commands digit in {r['split']}: {r['path']}")
            if r["label"] == "silence" and r["split"] == "train":
                gsc_train_noise.append(r["path"])
            add(r["path"], r["label"], "gsc", r["speaker"], r["split"], r["word"], r["detail"])
    else:
        log("make_corpus: WARNING: no Speech Commands clips or no data/splits/speech_commands.txt")

    # silence: ~10 % of each split; asterisk's silence prompts go to test.
    if ast and os.path.isdir(os.path.join(ast, "silence")):
        for i in range(1, 11):
            p = os.path.join(ast, "silence", f"{i}.wav")
            if os.path.exists(p):
                add(p, "silence", "asterisk", "asterisk:allison", "test", "silence")
    for si, split in enumerate(SPLITS):
        n_speech = sum(1 for r in rows if r["split"] == split and r["label"] != "silence")
        n_sil_have = sum(1 for r in rows if r["split"] == split and r["label"] == "silence")
        n_sil = max(0, round(n_speech * SILENCE_FRACTION / (1 - SILENCE_FRACTION)) - n_sil_have)
        for i in range(n_sil):
            seed = args.seed * 1_000_003 + si * 100_000 + i
            _, detail = silence_clip(seed)
            dst = os.path.join(out, "wav", "silence", split, f"sil_{i:05d}.wav")
            jobs.append(dict(kind="silence", seed=seed, out=dst))
            add(dst, "silence", "noise", "noise:" + split, split, "", detail)

    # background-noise beds for augmentation (train only, separate seeds).
    for i, kind in enumerate(NOISE_KINDS):
        jobs.append(dict(kind="noisebed", noise=kind, seconds=10, seed=args.seed * 7919 + i,
                         out=os.path.join(out, "noise", f"{kind}.wav")))

    # real background noise beds: the train snippets of Speech Commands' own
    # background recordings, concatenated into GSC_NOISE_BEDS files
    for b in range(GSC_NOISE_BEDS if gsc_train_noise else 0):
        jobs.append(dict(kind="concat", src=gsc_train_noise[b::GSC_NOISE_BEDS],
                         out=os.path.join(out, "noise", f"gsc_background_{b}.wav")))

    split_of = {"espeak_accents_train": [a for a in accents if a not in ESPEAK_TEST_ACCENTS],
                "espeak_accents_test": [a for a in accents if a in ESPEAK_TEST_ACCENTS]}
    return rows, jobs, split_of


def make_babble(out, rows, seed):
    """A 10 s bed of overlapping `unknown` words by train espeak voices."""
    rng = np.random.default_rng(seed)
    cand = [r for r in rows if r["source"] == "espeak" and r["split"] == "train"
            and r["label"] == "unknown"]
    n = 10 * SR
    bed = np.zeros(n)
    if not cand:
        return
    for k in range(120):
        r = cand[rng.integers(len(cand))]
        x, rate = read_wav(os.path.join(out, r["path"]))
        m = int(len(x) * SR / rate)
        x = np.interp(np.arange(m) * rate / SR, np.arange(len(x)), x)  # crude, fine for noise
        x *= rng.uniform(0.3, 1.0) / (np.max(np.abs(x)) + 1e-9)
        t0 = rng.integers(0, n)
        seg = x[: n - t0]
        bed[t0:t0 + len(seg)] += seg
        if len(seg) < len(x):
            bed[: len(x) - len(seg)] += x[len(seg):]      # wrap around: loopable
    bed *= 0.1 / np.sqrt(np.mean(bed * bed))
    write_wav(os.path.join(out, "noise", "babble.wav"), np.clip(bed, -0.99, 0.99))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(root, "data", "corpus"))
    ap.add_argument("--splits-dir", default=os.path.join(root, "data", "splits"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--shared", default=os.path.join(root, "..", "shared", "data"),
                    help="directory holding fsdd/ and micro_speech/")
    ap.add_argument("--asterisk", default="/usr/share/asterisk/sounds/en_US_f_Allison")
    ap.add_argument("--espeak-renditions", type=int, default=2,
                    help="takes of each digit per espeak variant x accent (default 2)")
    ap.add_argument("--espeak-unknown", type=int, default=3,
                    help="unknown words per espeak variant x accent (default 3)")
    ap.add_argument("--festival-renditions", type=int, default=8,
                    help="takes of each digit per festival voice (default 8)")
    ap.add_argument("--flite-renditions", type=int, default=20,
                    help="takes of each digit per flite voice (default 20)")
    args = ap.parse_args()
    if not 1 <= args.jobs <= 2:
        ap.error("--jobs must be 1 or 2 (the machine is shared)")
    args.out = os.path.abspath(args.out)
    args.shared = os.path.abspath(args.shared)
    t0 = time.time()

    rows, jobs, extra = plan(args)
    plan_hash = hashlib.sha256(json.dumps([CORPUS_VERSION, jobs, rows], sort_keys=True).encode()).hexdigest()
    info_path = os.path.join(args.out, "corpus.json")
    # Files made by an identical job (same parameters, same CORPUS_VERSION)
    # are kept; any other file the plan needs is made again.
    stamp = os.path.join(args.out, ".jobs.json")   # out path -> job hash
    old = {}
    if os.path.exists(stamp):
        with open(stamp) as f:
            old = json.load(f)
    new = {j["out"]: job_hash(j) for j in jobs}
    stale = [p for p, h in new.items() if os.path.exists(p) and old.get(p) != h]
    for p in stale:
        os.remove(p)
    if stale:
        log(f"make_corpus: {len(stale)} files made under other parameters; remaking them")
    os.makedirs(args.out, exist_ok=True)
    with open(stamp + ".tmp", "w") as f:
        json.dump(new, f, sort_keys=True)
    os.replace(stamp + ".tmp", stamp)
    if os.path.exists(info_path):
        os.remove(info_path)       # written again only when complete
    todo = [j for j in jobs if not os.path.exists(j["out"])]
    log(f"make_corpus: {len(rows)} clips planned, {len(todo)} files to make "
        f"({len(jobs) - len(todo)} already there), {args.jobs} processes")

    errors = []
    done = 0
    tty = sys.stderr.isatty()
    step = max(1, len(todo) // (50 if tty else 10))
    with Pool(args.jobs) as pool:
        for out, err in pool.imap_unordered(run_job, todo, chunksize=16):
            done += 1
            if err:
                errors.append(f"{out}: {err}")
            if done % step == 0 or done == len(todo):
                el = time.time() - t0
                if tty:
                    bar = "#" * (30 * done // max(1, len(todo)))
                    sys.stderr.write(f"\r[{bar:<30}] {done}/{len(todo)} files  {el:6.1f} s")
                    sys.stderr.flush()
                else:
                    log(f"make_corpus: {done}/{len(todo)} files ({100 * done // len(todo)}%), {el:.1f} s")
    if todo and tty:
        sys.stderr.write("\n")
    if errors:
        for e in errors[:20]:
            log("make_corpus: ERROR: " + e)
        raise SystemExit(f"make_corpus: {len(errors)} files failed")
    make_babble(args.out, rows, args.seed * 31 + 7)

    # manifest
    buf = io.StringIO()
    fields = ["path", "label", "source", "speaker", "split", "word", "detail"]
    wr = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    wr.writeheader()
    for r in rows:
        if "," in r["path"] or '"' in r["path"]:
            raise SystemExit(f"make_corpus: path with a comma or quote: {r['path']}")
        wr.writerow(r)
    with open(os.path.join(args.out, "manifest.csv"), "w") as f:
        f.write(buf.getvalue())

    # split lists: every speaker/voice of each split, and the disjointness check.
    spk_split = {}
    for r in rows:
        spk_split.setdefault(r["speaker"], set()).add(r["split"])
    shared = [s for s, v in spk_split.items() if len(v) > 1]
    if shared:
        raise SystemExit(f"make_corpus: BUG: speakers in more than one split: {shared}")
    os.makedirs(args.splits_dir, exist_ok=True)
    for split in SPLITS:
        spk = sorted(s for s, v in spk_split.items() if split in v)
        with open(os.path.join(args.splits_dir, f"{split}.txt"), "w") as f:
            f.write(f"# {split}: speakers and voices (source:speaker), one per line.\n"
                    f"# Written by scripts/make_corpus.py --seed {args.seed}; "
                    "no speaker appears in two splits.\n")
            accs = extra["espeak_accents_test"] + extra["espeak_accents_train"] \
                if split == "test" else extra["espeak_accents_train"]
            f.write(f"# espeak-ng accents used in this split: {' '.join(sorted(accs))}\n")
            for s in spk:
                f.write(s + "\n")

    # counts
    counts = {s: {c: 0 for c in CLASSES} for s in SPLITS}
    for r in rows:
        counts[r["split"]][r["label"]] += 1
    by_source = {}
    for r in rows:
        by_source.setdefault(r["source"], {s: 0 for s in SPLITS})[r["split"]] += 1
    secs = time.time() - t0
    with open(info_path, "w") as f:
        json.dump(dict(seed=args.seed, plan_hash=plan_hash, clips=len(rows),
                       seconds=round(secs, 1), counts=counts, by_source=by_source,
                       args={k: v for k, v in vars(args).items() if k not in ("out", "splits_dir", "shared")}),
                  f, indent=1, sort_keys=True)
        f.write("\n")
    log(f"{'class':<8} " + " ".join(f"{s:>6}" for s in SPLITS) + "  total")
    for c in CLASSES:
        n = [counts[s][c] for s in SPLITS]
        log(f"{c:<8} " + " ".join(f"{x:>6}" for x in n) + f"  {sum(n):>5}")
    n = [sum(counts[s].values()) for s in SPLITS]
    log(f"{'all':<8} " + " ".join(f"{x:>6}" for x in n) + f"  {sum(n):>5}")
    for src in sorted(by_source):
        log(f"  {src:<14} " + " ".join(f"{s}={by_source[src][s]}" for s in SPLITS))
    log(f"make_corpus: {len(rows)} clips, manifest {os.path.join(args.out, 'manifest.csv')}, "
        f"{secs:.1f} s")


if __name__ == "__main__":
    main()
