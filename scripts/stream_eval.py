#!/usr/bin/python3
"""stream_eval.py — does `zeroskip listen --stream` find the words?

What it is: builds long recordings out of held-out real clips and measures
the stream detector on them, and chooses its settings on validation
recordings (never on the test ones).

    make    write data/stream/{val,test}/*.wav + truth CSVs (deterministic, --seed)
    tune    run `listen --stream --windows` once per validation recording, replay
            the detector (the same rules as cli/cmd_listen.c) over a grid of
            --smooth, --threshold, --min-gap, pick the setting with the most
            words found among those with <= --max-fa-per-hour false alarms, and
            check that the C detector with it gives what the replay gave
    test    run `listen --stream` with given settings on (a) the digit
            sequences, (b) >= 30 min of background noise + non-digit words,
            (c) the demo recording; hits, misses, false alarms (per hour)

Recordings (16 kHz, 16-bit), all speakers of the split of
data/splits/speech_commands.txt (scripts/real_eval.py) — with --digit-fold F
only the Speech Commands test speakers of fold F of scripts/digit_folds.py,
the held-out speakers of a model trained on the other folds:
  test/digits_NN.wav  8 held-out real digits each (Speech Commands test
      speakers and FSDD george), 0.4-1.2 s pauses, over the test background
      noise at -60..-45 dBFS
  test/words_NN.wav   every non-digit word of the test speakers and every
      test noise snippet, 0.3-2 s apart, over test background noise at
      -60..-40 dBFS; no digit, so every detection is a false alarm
  val/mixed_NN.wav    FSDD nicolas and synthetic validation-voice digits
      mixed with the validation speakers' non-digit words and noise

Scoring: a detection is a hit when its label is the word of a true digit
whose clip it overlaps (each digit found once); every other detection is a
false alarm (wrong label, a second detection of one word, or one on no digit).
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import real_eval  # noqa: E402

SR = 16000
DIGITS = real_eval.DIGITS


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def load(path):
    """Any audio file -> float mono 16 kHz (sox)."""
    raw = subprocess.run(["sox", path, "-t", "raw", "-e", "signed", "-b", "16", "-c", "1",
                          "-r", str(SR), "-"], check=True, capture_output=True).stdout
    return np.frombuffer(raw, "<i2").astype(np.float64) / 32768.0


def write_wav(path, x):
    pcm = np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(path + ".tmp", "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())
    os.replace(path + ".tmp", path)


def rms(x):
    return float(np.sqrt(np.mean(x * x))) if len(x) else 0.0


def background(noise, n, level_db, rng):
    """n samples of the concatenated noise snippets from a random offset at level_db dBFS RMS."""
    off = int(rng.integers(len(noise)))
    idx = (off + np.arange(n)) % len(noise)
    b = noise[idx]
    r = rms(b)
    return b * (10 ** (level_db / 20) / r) if r > 0 else b


def assemble(items, noise, rng, gap, bg_db, out_wav, out_csv):
    """items: [(path, word, is_digit)] in order -> one recording + its truth."""
    clips = [(load(p), w, d, p) for p, w, d in items]
    t = int(0.6 * SR)
    place = []
    for x, w, d, p in clips:
        place.append((t, x, w, d, p))
        t += len(x) + int(rng.uniform(*gap) * SR)
    n = t + int(0.6 * SR)
    y = background(noise, n, rng.uniform(*bg_db), rng)
    with open(out_csv, "w") as f:
        f.write("start_s,end_s,word,digit,path\n")
        for t0, x, w, d, p in place:
            y[t0:t0 + len(x)] += x
            f.write(f"{t0 / SR:.3f},{(t0 + len(x)) / SR:.3f},{w},{int(d)},{p}\n")
    write_wav(out_wav, np.clip(y, -1, 1))
    return n / SR


def cmd_make(args):
    rng = np.random.default_rng(args.seed)
    test = real_eval.real_rows(args.shared, "digits", ("test",))
    if args.digit_fold is not None:
        # only the Speech Commands test speakers of one fold of scripts/digit_folds.py
        # (the others trained that fold's model); FSDD george and the snippets stay
        fold = real_eval.digit_folds(args.shared, args.k)
        test = [r for r in test if not r["speaker"].startswith("gsc:") or fold[r["speaker"][4:]] == args.digit_fold]
    val = real_eval.real_rows(args.shared, "digits", ("val",))
    out = args.out
    for d in ("val", "test"):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    noise_t = np.concatenate([load(r["path"]) for r in test if r["label"] == "silence"])
    noise_v = np.concatenate([load(r["path"]) for r in val if r["label"] == "silence"])
    info = {}
    # (a) test digit sequences
    dig = [r for r in test if r["label"] in DIGITS]
    order = rng.permutation(len(dig))
    secs = 0
    for k in range(0, len(order), 8):
        items = [(dig[i]["path"], dig[i]["word"], True) for i in order[k:k + 8]]
        secs += assemble(items, noise_t, rng, (0.4, 1.2), (-60, -45),
                         os.path.join(out, "test", f"digits_{k // 8:03d}.wav"),
                         os.path.join(out, "test", f"digits_{k // 8:03d}.csv"))
    info["test_digits"] = dict(files=(len(order) + 7) // 8, digits=len(dig), seconds=round(secs, 1))
    # (b) test non-digit words + noise snippets, 5 min files
    words = [r for r in test if r["label"] == "unknown"]
    sil = [r for r in test if r["label"] == "silence"]
    pool = [(r["path"], r["word"], False) for r in words] + [(r["path"], "_silence_", False) for r in sil]
    order = rng.permutation(len(pool))
    secs, k, f = 0, 0, 0
    while k < len(order):
        items = [pool[i] for i in order[k:k + 140]]
        secs += assemble(items, noise_t, rng, (0.3, 2.0), (-60, -40),
                         os.path.join(out, "test", f"words_{f:03d}.wav"),
                         os.path.join(out, "test", f"words_{f:03d}.csv"))
        k += 140
        f += 1
    info["test_words"] = dict(files=f, clips=len(pool), seconds=round(secs, 1))
    # validation: nicolas + synthetic validation voices' digits, val words and noise
    vd = [(r["path"], r["word"], True) for r in val if r["label"] in DIGITS]
    man = os.path.join(ROOT, "data", "corpus", "manifest.csv")
    if os.path.exists(man):
        with open(man) as fh:
            syn = [r for r in csv.DictReader(fh) if r["split"] == "val" and r["label"] in DIGITS
                   and r["source"] in ("espeak", "flite")]
        pick = rng.choice(len(syn), size=min(args.val_synthetic, len(syn)), replace=False)
        vd += [(os.path.join(os.path.dirname(man), syn[i]["path"]), syn[i]["label"], True) for i in sorted(pick)]
    vw = [(r["path"], r["word"], False) for r in val if r["label"] == "unknown"]
    vw += [(r["path"], "_silence_", False) for r in val if r["label"] == "silence"]
    allv = vd + vw
    order = rng.permutation(len(allv))
    secs, f = 0, 0
    for k in range(0, len(order), 60):
        items = [allv[i] for i in order[k:k + 60]]
        secs += assemble(items, noise_v, rng, (0.3, 1.5), (-60, -40),
                         os.path.join(out, "val", f"mixed_{f:03d}.wav"),
                         os.path.join(out, "val", f"mixed_{f:03d}.csv"))
        f += 1
    info["val"] = dict(files=f, digits=len(vd), other=len(vw), seconds=round(secs, 1))
    info["digit_fold"] = args.digit_fold
    with open(os.path.join(out, "recordings.json"), "w") as fh:
        json.dump(dict(seed=args.seed, **info), fh, indent=1)
    log(f"stream_eval: {json.dumps(info)}")


# ---------------------------------------------------------------- scoring --
def read_truth(path):
    with open(path) as f:
        return [dict(start=float(r["start_s"]), end=float(r["end_s"]), word=r["word"],
                     digit=r["digit"] == "1") for r in csv.DictReader(f)]


def score(dets, truth):
    """dets: [(start, end, label)] -> hits, digits, false alarms, and of
    those the ones on a digit (a wrong word or a second detection of one)."""
    refs = [t for t in truth if t["digit"]]
    used = [False] * len(refs)
    hits = fa = on_digit = 0
    for s, e, lab in dets:
        m = -1
        for i, t in enumerate(refs):
            if not used[i] and lab == t["word"] and s < t["end"] and e > t["start"]:
                m = i
                break
        if m >= 0:
            used[m] = True
            hits += 1
        else:
            fa += 1
            on_digit += any(s < t["end"] and e > t["start"] for t in refs)
    return hits, len(refs), fa, on_digit


def listen(zs, model, wav, params, windows=None):
    cmd = [zs, "listen", "--model", model, "--stream", wav, "--hop", str(params["hop"]),
           "--smooth", str(params["smooth"]), "--threshold", str(params["threshold"]),
           "--min-gap", str(params["min_gap"]), "--gate-db", str(params["gate_db"])]
    if windows:
        cmd += ["--windows", windows]
    r = subprocess.run(cmd, check=True, capture_output=True, text=True)
    dets = []
    for line in r.stdout.splitlines():
        s, e, lab, _ = line.split()
        dets.append((float(s), float(e), lab))
    return dets


# ------------------------------------------ the detector, replayed in Python --
def replay(win, names, is_word, hop, smooth, threshold, min_gap, total_s):
    """cli/cmd_listen.c's decide/run_close/event_emit over dumped windows."""
    K = len(names)
    P = np.array([w[1] for w in win], np.float32)
    voted = np.array([w[0] != "e" for w in win])
    n = len(win)
    dets = []
    run = None
    pend = None

    def label(e):
        # C picks the first maximum: max over (sum, -i) gives the lowest index among ties
        return max((i for i in range(K) if is_word[i]), key=lambda i: (e["sum"][i], -i))

    def emit(e):
        best = label(e)
        st = e["first"] * hop
        en = min(e["last"] * hop + 1.0, total_s)
        dets.append((st, max(en, st), names[best]))

    def close():
        nonlocal run, pend
        if run is None:
            return
        if pend is not None and (run["first"] - pend["last"] - 1) * hop < min_gap and \
                label(run) == label(pend):
            pend["last"] = run["last"]
            pend["sum"] = pend["sum"] + run["sum"]
        else:
            if pend is not None:
                emit(pend)
            pend = run
        run = None

    word_idx = [i for i in range(K) if is_word[i]]
    for k in range(n):
        last = min(k + smooth // 2, n - 1)
        fr = max(0, k - (smooth - 1) // 2)
        sel = voted[fr:last + 1]
        if sel.any():
            avg = P[fr:last + 1][sel].astype(np.float64).sum(0).astype(np.float32) / np.float32(sel.sum())
        else:
            avg = np.zeros(K, np.float32)
        best = max(word_idx, key=lambda i: (avg[i], -i)) if word_idx else -1
        hit = best >= 0 and avg[best] > threshold
        if run is not None and (not hit or k != run["last"] + 1):
            close()
        if not hit:
            continue
        if run is None:
            run = dict(first=k, last=k, sum=np.zeros(K, np.float64))
        run["last"] = k
        run["sum"] = run["sum"] + avg
    close()
    if pend is not None:
        emit(pend)
    return dets


def read_windows(path):
    with open(path) as f:
        rd = csv.reader(f)
        head = next(rd)
        names = head[3:]
        win = [(r[2], [float(v) for v in r[3:]]) for r in rd]
    return names, win


def is_word_name(nm):
    low = nm.strip("_").lower()
    return low not in ("silence", "unknown", "background_noise")


def cmd_tune(args):
    vdir = os.path.join(args.data, "val")
    wavs = sorted(f for f in os.listdir(vdir) if f.endswith(".wav"))
    base = dict(hop=args.hop, smooth=1, threshold=0.5, min_gap=0.3, gate_db=args.gate_db)
    dumps = []
    total = 0.0
    for w in wavs:
        p = os.path.join(vdir, w)
        dump = os.path.join(args.work, w[:-4] + ".windows.csv")
        os.makedirs(args.work, exist_ok=True)
        listen(args.zeroskip, args.model, p, base, dump)
        names, win = read_windows(dump)
        truth = read_truth(p[:-4] + ".csv")
        with wave.open(p) as wf:
            secs = wf.getnframes() / SR
        total += secs
        dumps.append((names, win, truth, secs, p))
    is_word = [is_word_name(n) for n in dumps[0][0]]
    rows = []
    for sm in args.smooth:
        for th in args.threshold:
            for mg in args.min_gap:
                H = N = F = D = 0
                for names, win, truth, secs, _ in dumps:
                    d = replay(win, names, is_word, args.hop, sm, th, mg, secs)
                    h, n, fa, od = score(d, truth)
                    H, N, F, D = H + h, N + n, F + fa, D + od
                # false alarms away from the digits, per hour of recording
                rows.append(dict(smooth=sm, threshold=th, min_gap=mg, hits=H, digits=N, fa=F, fa_on_digits=D,
                                 fa_per_hour=(F - D) / (total / 3600)))
    # Most hits among the settings whose false alarms away from digits stay
    # under --max-fa-per-hour (all settings if none does); then the fewest
    # false alarms, then the higher threshold.
    ok = [r for r in rows if r["fa_per_hour"] <= args.max_fa_per_hour] or rows
    best = max(ok, key=lambda r: (r["hits"] - r["fa_on_digits"], -r["fa"], r["threshold"]))
    chosen = dict(hop=args.hop, gate_db=args.gate_db, smooth=best["smooth"],
                  threshold=best["threshold"], min_gap=best["min_gap"])
    # the C detector must agree with the replay on the chosen setting
    agree = True
    for names, win, truth, secs, p in dumps:
        c = listen(args.zeroskip, args.model, p, chosen)
        r = replay(win, names, is_word, args.hop, chosen["smooth"], chosen["threshold"], chosen["min_gap"], secs)
        if [(round(a, 3), round(b, 3), l) for a, b, l in c] != [(round(a, 3), round(b, 3), l) for a, b, l in r]:
            agree = False
            log(f"stream_eval: replay and listen differ on {p}: {len(c)} vs {len(r)} detections")
    res = dict(model=args.model, val_seconds=round(total, 1), chosen=chosen, best=best,
               replay_matches_listen=agree, grid=rows)
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    log(f"stream_eval: chose {chosen}: val {best['hits']}/{best['digits']} digits, {best['fa']} false alarms "
        f"({best['fa_on_digits']} on digits, {best['fa_per_hour']:.1f}/h elsewhere over {total / 60:.1f} min); "
        f"replay == listen: {agree}")


def cmd_test(args):
    tdir = os.path.join(args.data, "test")
    params = dict(hop=args.hop, smooth=args.smooth[0], threshold=args.threshold[0],
                  min_gap=args.min_gap[0], gate_db=args.gate_db)
    if args.params:
        with open(args.params) as f:
            params = json.load(f)["chosen"]
    res = dict(model=args.model, params=params)
    rj = os.path.join(args.data, "recordings.json")
    if os.path.exists(rj):
        res["digit_fold"] = json.load(open(rj)).get("digit_fold")
    for kind in ("digits", "words"):
        H = N = F = 0
        secs = 0.0
        for w in sorted(f for f in os.listdir(tdir) if f.startswith(kind) and f.endswith(".wav")):
            p = os.path.join(tdir, w)
            d = listen(args.zeroskip, args.model, p, params)
            h, n, fa, _ = score(d, read_truth(p[:-4] + ".csv"))
            H, N, F = H + h, N + n, F + fa
            with wave.open(p) as wf:
                secs += wf.getnframes() / SR
        res[kind] = dict(hits=H, digits=N, false_alarms=F, seconds=round(secs, 1),
                         fa_per_hour=round(F / (secs / 3600), 2) if secs else None,
                         hit_rate=real_eval.stat(H, N) if N else None)
        log(f"stream_eval: {kind}: {H}/{N} digits found, {F} false alarms in {secs / 60:.1f} min")
    demo = os.path.join(ROOT, "demo", "george_31415926.wav")
    d = listen(args.zeroskip, args.model, demo, params)
    truth = "three one four one five nine two six".split()
    got = [l for _, _, l in d]
    # in order: the longest common subsequence of the labels
    L = [[0] * (len(got) + 1) for _ in range(len(truth) + 1)]
    for i in range(len(truth)):
        for j in range(len(got)):
            L[i + 1][j + 1] = L[i][j] + 1 if truth[i] == got[j] else max(L[i][j + 1], L[i + 1][j])
    res["demo"] = dict(heard=got, words_found=L[-1][-1], false_alarms=len(got) - L[-1][-1])
    log(f"stream_eval: demo: {' '.join(got)} ({L[-1][-1]}/8, {len(got) - L[-1][-1]} false alarms)")
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cmd", choices=("make", "tune", "test"))
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "stream"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--val-synthetic", type=int, default=150)
    ap.add_argument("--digit-fold", type=int, help="make: test recordings of this fold's speakers only "
                    "(scripts/digit_folds.py; for a model trained on the other folds)")
    ap.add_argument("--k", type=int, default=3, help="make: the number of digit folds")
    ap.add_argument("--zeroskip", default=os.path.join(ROOT, "build", "zeroskip"))
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "gsc-sparse.safetensors"))
    ap.add_argument("--work", default=os.path.join(ROOT, "data", "stream", "work"))
    ap.add_argument("--hop", type=float, default=0.1)
    ap.add_argument("--gate-db", type=float, default=10.0)
    ap.add_argument("--smooth", type=int, nargs="+", default=[1, 3, 5])
    ap.add_argument("--threshold", type=float, nargs="+", default=[0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    ap.add_argument("--min-gap", type=float, nargs="+", default=[0.1, 0.3, 0.5])
    ap.add_argument("--max-fa-per-hour", type=float, default=2.0)
    ap.add_argument("--params", help="test: the tune output whose chosen settings to use")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    args.shared = os.path.abspath(args.shared)
    args.out = args.out or os.path.join(ROOT, "results", f"stream_{args.cmd}.json")
    if args.cmd == "make":
        args.out = args.data
        cmd_make(args)
    elif args.cmd == "tune":
        cmd_tune(args)
    else:
        cmd_test(args)


if __name__ == "__main__":
    main()
