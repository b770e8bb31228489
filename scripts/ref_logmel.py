#!/usr/bin/python3
"""ref_logmel.py — independent numpy/scipy reference for zeroskip's log-mel
front end (src/frontend.c), written from librosa's documented algorithm
(no librosa on this machine, and none needed in CI):

    S = librosa.feature.melspectrogram(y, sr=16000, n_mels=32)
        # stft n_fft=2048, hop=512, periodic hann, center=True, reflect pad,
        # power 2; mel filters: Slaney scale (htk=False), Slaney area norm,
        # fmin=0, fmax=sr/2
    X = librosa.power_to_db(S, ref=np.max)   # amin=1e-10, top_db=80

Everything here is float64. The samples fed in are exactly what the C code
reads: 16-bit PCM divided by 32768 (libsndfile's float normalisation),
padded with zeros or cut to 16000 samples.

Writes, into --out (default tests/data/audio):
  <stem>.logmel.f32   32x32 float32 little-endian, row-major (mel, frame)
  melfb.f32           32x1025 float32 filterbank
For 8 kHz clips (FSDD) it resamples to 16 kHz with its own long
Kaiser-windowed FIR (scipy.signal.resample_poly); libsamplerate's filter
differs, so the test compares those only in bands well inside 0-4 kHz.

usage: /usr/bin/python3 scripts/ref_logmel.py [--out DIR] WAV...
"""
import argparse
import os
import sys

import numpy as np
import scipy.io.wavfile
import scipy.signal

SR = 16000
CLIP = 16000
N_FFT = 2048
HOP = 512
N_MELS = 32
FMIN, FMAX = 0.0, 8000.0
AMIN, TOP_DB = 1e-10, 80.0


def hz_to_mel(f):
    """Slaney (Auditory Toolbox): linear 200/3 Hz per mel below 1 kHz, then
    log-spaced with ratio 6.4 every 27 mels."""
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3.0
    brk_hz, brk_mel = 1000.0, 1000.0 / f_sp
    step = np.log(6.4) / 27.0
    lin = f / f_sp
    return np.where(f >= brk_hz, brk_mel + np.log(np.maximum(f, 1e-300) / brk_hz) / step, lin)


def mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3.0
    brk_hz, brk_mel = 1000.0, 1000.0 / f_sp
    step = np.log(6.4) / 27.0
    return np.where(m >= brk_mel, brk_hz * np.exp(step * (m - brk_mel)), f_sp * m)


def mel_filterbank():
    """(N_MELS, 1 + N_FFT//2) triangles between mel-spaced edges, each scaled
    by 2 / (right edge - left edge) in Hz (unit area)."""
    bins = np.linspace(0.0, SR / 2.0, 1 + N_FFT // 2)
    edges = mel_to_hz(np.linspace(hz_to_mel(FMIN), hz_to_mel(FMAX), N_MELS + 2))
    fb = np.zeros((N_MELS, bins.size))
    for m in range(N_MELS):
        lo, c, hi = edges[m], edges[m + 1], edges[m + 2]
        rising = (bins - lo) / (c - lo)
        falling = (hi - bins) / (hi - c)
        fb[m] = np.maximum(0.0, np.minimum(rising, falling)) * (2.0 / (hi - lo))
    return fb, edges


def hann_periodic(n):
    w = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)
    # sanity: this is scipy's 'hann' with fftbins=True, as librosa uses
    assert np.allclose(w, scipy.signal.get_window("hann", n, fftbins=True), atol=1e-15)
    return w


def logmel(clip):
    assert clip.shape == (CLIP,)
    y = np.pad(clip.astype(np.float64), N_FFT // 2, mode="reflect")
    n_frames = 1 + (y.size - N_FFT) // HOP
    assert n_frames == 32
    w = hann_periodic(N_FFT)
    frames = np.stack([y[t * HOP:t * HOP + N_FFT] * w for t in range(n_frames)], axis=1)
    spec = np.fft.rfft(frames, axis=0)                # (1025, 32)
    power = np.abs(spec) ** 2
    fb, _ = mel_filterbank()
    s = fb @ power                                    # (32, 32)
    db = 10.0 * np.log10(np.maximum(AMIN, s)) - 10.0 * np.log10(max(AMIN, s.max()))
    return np.maximum(db, db.max() - TOP_DB), s


def read_wav(path):
    rate, x = scipy.io.wavfile.read(path)
    if x.dtype != np.int16:
        sys.exit(f"{path}: the reference takes 16-bit PCM only (got {x.dtype})")
    if x.ndim != 1:
        sys.exit(f"{path}: the reference takes mono only")
    return rate, x.astype(np.float64) / 32768.0


def resample_to_16k(x, rate):
    if rate == SR:
        return x
    if rate != 8000:
        sys.exit(f"reference resampling is 8 kHz -> 16 kHz only (got {rate})")
    # long Kaiser FIR at the upsampled rate, cutoff 3.9 kHz; gain 2 makes up
    # for the zeros inserted by upsampling (resample_poly uses given taps as is)
    h = 2.0 * scipy.signal.firwin(2001, 3900.0, fs=SR, window=("kaiser", 12.0))
    return scipy.signal.resample_poly(x, 2, 1, window=h)


def fit(x):
    out = np.zeros(CLIP)
    k = min(CLIP, x.size)
    out[:k] = x[:k]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="tests/data/audio")
    ap.add_argument("wavs", nargs="+")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    fb, edges = mel_filterbank()
    fb.astype("<f4").tofile(os.path.join(a.out, "melfb.f32"))
    print(f"melfb.f32: {fb.shape}, edges {edges[0]:.1f} .. {edges[-1]:.1f} Hz")
    for path in a.wavs:
        rate, x = read_wav(path)
        x = resample_to_16k(x, rate)
        feat, s = logmel(fit(x))
        stem = os.path.splitext(os.path.basename(path))[0]
        dst = os.path.join(a.out, stem + ".logmel.f32")
        feat.astype("<f4").tofile(dst)
        print(f"{dst}: rate {rate}, {x.size} samples at 16 kHz, dB range "
              f"[{feat.min():.2f}, {feat.max():.2f}], mel power max {s.max():.4g}")


if __name__ == "__main__":
    main()
