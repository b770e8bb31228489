/*
 * audio.c — audio in: read any file libsndfile can, mix to mono, resample
 * with libsamplerate (best sinc), fit to a 1 s clip, add the paper's noise.
 * Also the incremental reader behind `zeroskip listen --stream`.
 *
 * What it is not: an audio editor. No dithering, no gain, no trimming;
 * samples are what the file holds, scaled by libsndfile to [-1, 1]
 * (16-bit PCM is divided by 32768, as librosa/soundfile do).
 */
#include "audio_internal.h"

/* Keep samples in [-1, 1], as zeroskip.h promises for every loader. */
static void clamp_unit(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 1.0f ? 1.0f : (x[i] < -1.0f ? -1.0f : x[i]);
}
#include "zs_internal.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK 4096                 /* frames read from libsndfile at a time */
#define MAX_RATE 1000000           /* Hz; anything above is not audio        */

/* ---- opening ----------------------------------------------------------- */

/* Open `path` ("-" = stdin) for reading with libsndfile. raw_rate > 0 reads
 * headerless 16-bit LE mono PCM. On success *sf, *fd and *info are set; the
 * caller closes *sf and then *fd when *fd > STDERR_FILENO. Validates the
 * channel count and rate. */
static zs_status open_audio(const char *path, int raw_rate, int stream, SNDFILE **sf, int *fd, SF_INFO *info) {
    int is_stdin = strcmp(path, "-") == 0;
    int f = STDIN_FILENO;
    *sf = NULL;
    *fd = -1;
    memset(info, 0, sizeof *info);
    if (!is_stdin && !stream) {
        /* a whole file: never block in open() on a FIFO or device */
        f = zs_open_regular(path);
        if (f < 0) return ZS_EIO;
    } else if (!is_stdin) {
        /* a stream may be a FIFO (waits for its writer, as stdin would) */
        f = open(path, O_RDONLY | O_CLOEXEC);
        ZS_RETURN_IF(f < 0, ZS_EIO, "%s: cannot open: %s", path, strerror(errno));
        struct stat stt;
        int ok = fstat(f, &stt) == 0, e = errno;
        if (!ok || S_ISDIR(stt.st_mode)) {
            close(f);
            return ZS_ERR(ZS_EIO, "%s: cannot read: %s", path, ok ? "is a directory" : strerror(e));
        }
    }
    if (raw_rate > 0) {
        info->format = SF_FORMAT_RAW | SF_FORMAT_PCM_16 | SF_ENDIAN_LITTLE;
        info->channels = 1;
        info->samplerate = raw_rate;
    }
    SNDFILE *s = sf_open_fd(f, SFM_READ, info, SF_FALSE);
    if (!s) {
        const char *why = sf_strerror(NULL);
        if (!is_stdin) close(f);
        return ZS_ERR(ZS_EFORMAT, "%s: not a readable audio file (libsndfile: %s)",
                      is_stdin ? "<stdin>" : path, why);
    }
    const char *name = is_stdin ? "<stdin>" : path;
    zs_status st = ZS_OK;
    if (info->channels < 1)
        st = ZS_ERR(ZS_EFORMAT, "%s: invalid channel count %d", name, info->channels);
    else if (info->channels > ZS_MAX_CHANNELS)
        st = ZS_ERR(ZS_EUNSUPPORTED, "%s: %d channels; at most %d are supported", name,
                    info->channels, ZS_MAX_CHANNELS);
    else if (info->samplerate < 1 || info->samplerate > MAX_RATE)
        st = ZS_ERR(ZS_EFORMAT, "%s: invalid sample rate %d Hz", name, info->samplerate);
    if (st != ZS_OK) {
        sf_close(s);
        if (!is_stdin) close(f);
        return st;
    }
    *sf = s;
    *fd = is_stdin ? -1 : f;
    return ZS_OK;
}

static void close_audio(SNDFILE *sf, int fd) {
    if (sf) sf_close(sf);
    if (fd > STDERR_FILENO) close(fd);
}

/* Read up to CHUNK frames, averaging channels into `mono`. Clamps to [-1, 1]
 * (float files may exceed it). Returns frames read (0 at the end) or -1 with
 * the error raised when a sample is NaN/Inf. */
static long read_mono(SNDFILE *sf, int ch, float *tmp, float *mono, const char *name) {
    sf_count_t got = sf_readf_float(sf, tmp, CHUNK);
    if (got <= 0) return 0;
    for (sf_count_t i = 0; i < got; i++) {
        float acc = 0.0f;
        for (int c = 0; c < ch; c++) acc += tmp[i * ch + c];
        float v = ch == 1 ? acc : acc / (float)ch;
        if (!isfinite(v)) {
            ZS_ERR(ZS_EFORMAT, "%s: sample is NaN or infinite", name);
            return -1;
        }
        mono[i] = v > 1.0f ? 1.0f : (v < -1.0f ? -1.0f : v);
    }
    return (long)got;
}

/* ---- whole-file load --------------------------------------------------- */

zs_status zs_audio_load(const char *path, int rate, double max_seconds, float **samples, size_t *n) {
    ZS_RETURN_IF(!path || !samples || !n, ZS_EINVAL, "zs_audio_load: NULL argument");
    ZS_RETURN_IF(rate < 1 || rate > MAX_RATE, ZS_EINVAL, "zs_audio_load: bad target rate %d Hz", rate);
    ZS_RETURN_IF(!(max_seconds >= 0.0) || isinf(max_seconds), ZS_EINVAL,
                 "zs_audio_load: bad max_seconds %g", max_seconds);
    SNDFILE *sf;
    SF_INFO info;
    int fd;
    zs_status st = open_audio(path, 0, 0, &sf, &fd, &info);
    if (st != ZS_OK) return st;

    float *buf = NULL, *tmp = NULL, *out = NULL;
    size_t len = 0, cap = 0, n_out = 0;
    double limit = max_seconds > 0 ? max_seconds * info.samplerate : 0.0;
    if (info.frames == 0) ZS_FAIL(ZS_EFORMAT, "%s: no audio samples (empty or truncated data)", path);
    if (limit > 0 && info.frames > 0 && info.frames != SF_COUNT_MAX && (double)info.frames > limit + 0.5)
        ZS_FAIL(ZS_ELIMIT, "%s: %.2f s of audio, more than the limit of %g s", path,
                (double)info.frames / info.samplerate, max_seconds);
    tmp = malloc(sizeof(float) * CHUNK * (size_t)info.channels);
    if (!tmp) ZS_FAIL(ZS_ENOMEM, "%s: out of memory", path);
    for (;;) {
        if (cap - len < CHUNK) {
            size_t ncap = cap ? cap * 2 : (size_t)CHUNK * 4;
            if (ncap > SIZE_MAX / sizeof(float) / 2) ZS_FAIL(ZS_ELIMIT, "%s: too long", path);
            float *nb = realloc(buf, ncap * sizeof(float));
            if (!nb) ZS_FAIL(ZS_ENOMEM, "%s: out of memory after %zu samples", path, len);
            buf = nb;
            cap = ncap;
        }
        long got = read_mono(sf, info.channels, tmp, buf + len, path);
        if (got < 0) { st = ZS_EFORMAT; goto fail; }
        if (got == 0) break;
        len += (size_t)got;
        if (limit > 0 && (double)len > limit + 0.5)
            ZS_FAIL(ZS_ELIMIT, "%s: more than the limit of %g s of audio", path, max_seconds);
    }
    if (sf_error(sf) != SF_ERR_NO_ERROR && len == 0)
        ZS_FAIL(ZS_EFORMAT, "%s: read error (libsndfile: %s)", path, sf_strerror(sf));
    if (len == 0) ZS_FAIL(ZS_EFORMAT, "%s: no audio samples (empty or truncated data)", path);

    if (info.samplerate == rate) {
        out = buf;
        n_out = len;
        buf = NULL;
    } else {
        st = zs_audio_resample(buf, len, info.samplerate, rate, &out, &n_out);
        if (st != ZS_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", zs_last_error());
            ZS_FAIL(st, "%s: %s", path, msg);
        }
        if (n_out == 0) {
            free(out);
            out = NULL;
            ZS_FAIL(ZS_EFORMAT, "%s: %zu samples at %d Hz are less than one sample at %d Hz", path, len,
                    info.samplerate, rate);
        }
    }
    free(buf);
    free(tmp);
    close_audio(sf, fd);
    *samples = out;
    *n = n_out;
    return ZS_OK;
fail:
    free(buf);
    free(tmp);
    close_audio(sf, fd);
    return st;
}

/* ---- resampling -------------------------------------------------------- */

zs_status zs_audio_resample(const float *in, size_t n_in, int rate_in, int rate_out,
                            float **out, size_t *n_out) {
    ZS_RETURN_IF(!out || !n_out || (!in && n_in), ZS_EINVAL, "zs_audio_resample: NULL argument");
    ZS_RETURN_IF(rate_in < 1 || rate_in > MAX_RATE || rate_out < 1 || rate_out > MAX_RATE, ZS_EINVAL,
                 "zs_audio_resample: bad rates %d -> %d Hz", rate_in, rate_out);
    double ratio = (double)rate_out / rate_in;
    ZS_RETURN_IF(!src_is_valid_ratio(ratio), ZS_EUNSUPPORTED,
                 "cannot resample %d Hz to %d Hz (ratio beyond libsamplerate's 1/256..256)",
                 rate_in, rate_out);
    /* Output length is round(n_in * rate_out / rate_in), exactly: what the
     * converter delivers is cut or zero-padded to it. */
    size_t prod;
    ZS_RETURN_IF(zs_mul_overflow(n_in, (size_t)rate_out, &prod) || n_in > (size_t)LONG_MAX / 2,
                 ZS_ELIMIT, "zs_audio_resample: %zu samples is too long", n_in);
    size_t want = (prod + (size_t)rate_in / 2) / (size_t)rate_in;
    float *o = zs_calloc(want + 16, sizeof(float));
    ZS_RETURN_IF(!o, ZS_ENOMEM, "zs_audio_resample: out of memory for %zu samples", want);
    if (n_in && rate_in == rate_out) {
        memcpy(o, in, n_in * sizeof(float));
    } else if (n_in) {
        SRC_DATA d;
        memset(&d, 0, sizeof d);
        d.data_in = in;
        d.input_frames = (long)n_in;
        d.data_out = o;
        d.output_frames = (long)(want + 16);
        d.src_ratio = ratio;
        d.end_of_input = 1;
        int err = src_simple(&d, SRC_SINC_BEST_QUALITY, 1);
        if (err) {
            free(o);
            return ZS_ERR(ZS_EUNSUPPORTED, "resampling %d -> %d Hz failed: %s", rate_in, rate_out,
                          src_strerror(err));
        }
        size_t gen = (size_t)d.output_frames_gen;
        clamp_unit(o, gen < want ? gen : want); /* sinc ringing overshoots full-scale steps */
        if (gen < want) memset(o + gen, 0, (want - gen) * sizeof(float));
    }
    *out = o;
    *n_out = want;
    return ZS_OK;
}

/* ---- clips and noise --------------------------------------------------- */

/* One second of `clip` centred on the speech of x[0..n): the active region
 * (10 ms frames within 40 dB of the loudest frame) is centred; if it is
 * longer than a second, the loudest second inside it is taken. Samples
 * outside x are zero. */
void zs_clip_fit_centred(const float *x, size_t n, float *clip) {
    enum { FR = 160 };
    size_t nf = (n + FR - 1) / FR;
    double emax = 0;
    for (size_t f = 0; f < nf; f++) {
        double e = 0;
        for (size_t i = f * FR; i < n && i < (f + 1) * FR; i++) e += (double)x[i] * x[i];
        if (e > emax) emax = e;
    }
    long start;
    if (emax <= 0) {
        start = ((long)n - ZS_CLIP_SAMPLES) / 2;
    } else {
        size_t first = nf, last = 0;
        for (size_t f = 0; f < nf; f++) {
            double e = 0;
            for (size_t i = f * FR; i < n && i < (f + 1) * FR; i++) e += (double)x[i] * x[i];
            if (e >= emax * 1e-4) {
                if (first == nf) first = f;
                last = f;
            }
        }
        size_t a = first * FR, b = (last + 1) * FR < n ? (last + 1) * FR : n;
        if (b - a <= ZS_CLIP_SAMPLES) {
            start = (long)((a + b) / 2) - ZS_CLIP_SAMPLES / 2;
        } else { /* loudest second inside [a, b), in frame steps */
            double best = -1, e = 0;
            size_t s0 = a;
            for (size_t i = a; i < a + ZS_CLIP_SAMPLES; i++) e += (double)x[i] * x[i];
            for (size_t s = a;; s += FR) {
                if (e > best) { best = e; s0 = s; }
                if (s + FR + ZS_CLIP_SAMPLES > b) break;
                for (size_t i = s; i < s + FR; i++) e -= (double)x[i] * x[i];
                for (size_t i = s + ZS_CLIP_SAMPLES; i < s + ZS_CLIP_SAMPLES + FR; i++)
                    e += (double)x[i] * x[i];
            }
            start = (long)s0;
        }
    }
    for (long i = 0; i < ZS_CLIP_SAMPLES; i++) {
        long j = start + i;
        clip[i] = (j >= 0 && j < (long)n) ? x[j] : 0.0f;
    }
}

void zs_clip_fit(const float *in, size_t n, float *clip) {
    size_t k = n < ZS_CLIP_SAMPLES ? n : ZS_CLIP_SAMPLES;
    if (k && in) memcpy(clip, in, k * sizeof(float));
    else k = 0;
    memset(clip + k, 0, (ZS_CLIP_SAMPLES - k) * sizeof(float));
}

void zs_add_noise(float *x, size_t n, float alpha, uint64_t seed) {
    if (!x) return;
    zs_rng r;
    zs_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        float u = 2.0f * zs_rng_uniform(&r) - 1.0f;   /* [-1, 1) */
        x[i] = (1.0f - alpha) * x[i] + alpha * u;
    }
}

/* ---- incremental reader ------------------------------------------------ */

struct zs_audio_stream {
    SNDFILE *sf;
    int fd;
    int channels, src_rate, rate;
    SRC_STATE *src;            /* NULL when src_rate == rate */
    double ratio;
    int eof, done;
    size_t in_pos, in_len;     /* pending mono input: in[in_pos, in_pos + in_len) */
    float in[2 * CHUNK];       /* mono at the source rate */
    float tmp[CHUNK * ZS_MAX_CHANNELS];
    char name[256];
};

zs_status zs_audio_stream_open(zs_audio_stream **out, const char *path, int raw_rate, int rate) {
    ZS_RETURN_IF(!out || !path, ZS_EINVAL, "zs_audio_stream_open: NULL argument");
    ZS_RETURN_IF(rate < 1 || rate > MAX_RATE || raw_rate < 0 || raw_rate > MAX_RATE, ZS_EINVAL,
                 "zs_audio_stream_open: bad rate");
    zs_audio_stream *s = calloc(1, sizeof *s);
    ZS_RETURN_IF(!s, ZS_ENOMEM, "zs_audio_stream_open: out of memory");
    SF_INFO info;
    zs_status st = open_audio(path, raw_rate, 1, &s->sf, &s->fd, &info);
    if (st != ZS_OK) { free(s); return st; }
    snprintf(s->name, sizeof s->name, "%s", strcmp(path, "-") ? path : "<stdin>");
    s->channels = info.channels;
    s->src_rate = info.samplerate;
    s->rate = rate;
    s->ratio = (double)rate / info.samplerate;
    if (info.samplerate != rate) {
        if (!src_is_valid_ratio(s->ratio)) {
            st = ZS_ERR(ZS_EUNSUPPORTED, "%s: cannot resample %d Hz to %d Hz", s->name, info.samplerate, rate);
            zs_audio_stream_close(s);
            return st;
        }
        int err = 0;
        s->src = src_new(SRC_SINC_BEST_QUALITY, 1, &err);
        if (!s->src) {
            st = ZS_ERR(ZS_ENOMEM, "%s: resampler: %s", s->name, src_strerror(err));
            zs_audio_stream_close(s);
            return st;
        }
    }
    *out = s;
    return ZS_OK;
}

/* Top up the pending input to at least CHUNK samples unless at the end. */
static zs_status stream_fill(zs_audio_stream *s) {
    if (s->eof || s->in_len >= CHUNK) return ZS_OK;
    if (s->in_pos) {
        memmove(s->in, s->in + s->in_pos, s->in_len * sizeof(float));
        s->in_pos = 0;
    }
    long got = read_mono(s->sf, s->channels, s->tmp, s->in + s->in_len, s->name);
    if (got < 0) return ZS_EFORMAT;
    if (got == 0) s->eof = 1;
    s->in_len += (size_t)got;
    return ZS_OK;
}

zs_status zs_audio_stream_read(zs_audio_stream *s, float *buf, size_t max, size_t *got) {
    ZS_RETURN_IF(!s || !buf || !got, ZS_EINVAL, "zs_audio_stream_read: NULL argument");
    *got = 0;
    if (max > (size_t)LONG_MAX) max = (size_t)LONG_MAX;
    while (!s->done && max) {
        zs_status st = stream_fill(s);
        if (st != ZS_OK) return st;
        if (!s->src) {
            if (s->in_len == 0) { s->done = 1; break; }
            size_t k = s->in_len < max ? s->in_len : max;
            memcpy(buf, s->in + s->in_pos, k * sizeof(float));
            s->in_pos += k;
            s->in_len -= k;
            *got = k;
            return ZS_OK;
        }
        SRC_DATA d;
        memset(&d, 0, sizeof d);
        d.data_in = s->in + s->in_pos;
        d.input_frames = (long)s->in_len;
        d.data_out = buf;
        d.output_frames = (long)max;
        d.src_ratio = s->ratio;
        d.end_of_input = s->eof;
        int err = src_process(s->src, &d);
        ZS_RETURN_IF(err, ZS_EUNSUPPORTED, "%s: resampling failed: %s", s->name, src_strerror(err));
        s->in_pos += (size_t)d.input_frames_used;
        s->in_len -= (size_t)d.input_frames_used;
        if (d.output_frames_gen > 0) {
            *got = (size_t)d.output_frames_gen;
            clamp_unit(d.data_out, *got);
            return ZS_OK;
        }
        if (s->eof && s->in_len == 0) s->done = 1;
        /* else: the converter wants more input; the next fill supplies it. */
    }
    return ZS_OK;
}

int zs_audio_stream_source_rate(const zs_audio_stream *s) { return s ? s->src_rate : 0; }
int zs_audio_stream_source_channels(const zs_audio_stream *s) { return s ? s->channels : 0; }

void zs_audio_stream_close(zs_audio_stream *s) {
    if (!s) return;
    if (s->src) src_delete(s->src);
    close_audio(s->sf, s->fd);
    free(s);
}
