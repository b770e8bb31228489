/*
 * test_audio.c — audio in: formats, channel mixing, resampling lengths and
 * fidelity, clip padding/cutting, noise injection, the incremental stream
 * reader, and every bad input (missing, not audio, truncated, empty, too
 * long, too many channels, NaN samples). Test WAVs are written with
 * libsndfile into a fresh temporary directory.
 */
#include "audio_internal.h"
#include "check.h"
#include "zs_internal.h"
#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static char pathbuf[256];

static const char *tmp(const char *name) {
    snprintf(pathbuf, sizeof pathbuf, "%s/%s", dir, name);
    return pathbuf;
}

/* Write `frames` interleaved frames; returns 0 on success. */
static int write_float(const char *path, int format, int rate, int ch, const float *x, long frames) {
    SF_INFO info = {.samplerate = rate, .channels = ch, .format = format};
    if (!sf_format_check(&info)) return -1;
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) return -1;
    sf_count_t w = sf_writef_float(sf, x, frames);
    sf_close(sf);
    return w == frames ? 0 : -1;
}

static int write_short(const char *path, int rate, int ch, const short *x, long frames) {
    SF_INFO info = {.samplerate = rate, .channels = ch, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) return -1;
    sf_count_t w = sf_writef_short(sf, x, frames);
    sf_close(sf);
    return w == frames ? 0 : -1;
}

static short *sine16(long n, double f, int rate, double amp) {
    short *s = malloc(sizeof(short) * (size_t)n);
    for (long i = 0; i < n; i++) s[i] = (short)lround(amp * 32767.0 * sin(2 * M_PI * f * i / rate));
    return s;
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (f) { fwrite(data, 1, n, f); fclose(f); }
}

/* Max |x[i] - amp sin(2 pi f i / rate)| over i in [from, to). */
static double sine_err(const float *x, long from, long to, double f, int rate, double amp) {
    double m = 0;
    for (long i = from; i < to; i++) {
        double d = fabs(x[i] - amp * sin(2 * M_PI * f * i / rate));
        if (d > m) m = d;
    }
    return m;
}

static void test_lengths_and_fit(void) {
    const long lens[] = {8000, 16000, 24000, 1};
    for (size_t q = 0; q < sizeof lens / sizeof *lens; q++) {
        long n = lens[q];
        short *s = sine16(n, 440.0, 16000, 0.5);
        char name[32];
        snprintf(name, sizeof name, "len%ld.wav", n);
        CHECK(write_short(tmp(name), 16000, 1, s, n) == 0, "write %s", name);
        float *x = NULL;
        size_t got = 0;
        zs_status st = zs_audio_load(tmp(name), 16000, 10.0, &x, &got);
        CHECK(st == ZS_OK && got == (size_t)n, "%ld samples at 16 kHz -> %zu", n, got);
        if (st != ZS_OK) { free(s); continue; }
        int exact = 1;
        for (long i = 0; i < n; i++) exact &= x[i] == s[i] / 32768.0f;
        CHECK(exact, "16-bit samples read as int / 32768 exactly (len %ld)", n);
        float clip[ZS_CLIP_SAMPLES];
        for (int i = 0; i < ZS_CLIP_SAMPLES; i++) clip[i] = 99.0f;
        zs_clip_fit(x, got, clip);
        long keep = n < ZS_CLIP_SAMPLES ? n : ZS_CLIP_SAMPLES;
        int same = memcmp(clip, x, sizeof(float) * (size_t)keep) == 0, zeros = 1;
        for (long i = keep; i < ZS_CLIP_SAMPLES; i++) zeros &= clip[i] == 0.0f;
        CHECK(same && zeros, "clip_fit of %ld samples: first %ld copied, rest zero", n, keep);
        free(x);
        free(s);
    }
    float clip[ZS_CLIP_SAMPLES];
    clip[5] = 3.0f;
    zs_clip_fit(NULL, 0, clip);
    CHECK(clip[5] == 0.0f && clip[ZS_CLIP_SAMPLES - 1] == 0.0f, "clip_fit(NULL, 0) gives silence");
}

/* one second of a tone of f Hz at `rate`, loaded at 16 kHz: 16000 samples,
 * the tone within 2e-3 of the ideal */
static void check_resampled(const char *file, int rate, double f) {
    short *s = sine16(rate, f, rate, 0.5);
    CHECK(write_short(tmp(file), rate, 1, s, rate) == 0, "write %d Hz", rate);
    float *x = NULL;
    size_t n = 0;
    CHECK(zs_audio_load(tmp(file), 16000, 0, &x, &n) == ZS_OK, "load %d Hz: %s", rate, zs_last_error());
    CHECK(n == 16000, "%d samples at %d Hz -> %zu at 16 kHz (want 16000)", rate, rate, n);
    if (x && n == 16000) {
        double e = sine_err(x, 200, 15800, f, 16000, 0.5);
        CHECK(e < 2e-3, "%d Hz -> 16 kHz: %g Hz tone within %.2g of the ideal (want < 2e-3)", rate, f, e);
    }
    free(x);
    free(s);
}

static void test_resample_rates(void) {
    /* 8 kHz -> 16 kHz: exact length 2n, a 440 Hz tone stays a 440 Hz tone;
     * 44.1 kHz -> 16 kHz: 44100 -> 16000, 1 kHz tone */
    check_resampled("r8k.wav", 8000, 440.0);
    check_resampled("r44.wav", 44100, 1000.0);
    /* 48 kHz with a 7 kHz tone: kept (below 8 kHz); a 12 kHz tone: removed */
    float *t = malloc(sizeof(float) * 48000);
    for (int i = 0; i < 48000; i++) t[i] = (float)(0.5 * sin(2 * M_PI * 12000.0 * i / 48000));
    float *y = NULL;
    size_t ny = 0;
    CHECK(zs_audio_resample(t, 48000, 48000, 16000, &y, &ny) == ZS_OK && ny == 16000, "48 -> 16 kHz");
    double peak = 0;
    for (size_t i = 200; y && i < ny - 200; i++) if (fabs(y[i]) > peak) peak = fabs(y[i]);
    CHECK(peak < 1e-3, "12 kHz tone is filtered out going to 16 kHz (peak %.2g)", peak);
    free(y);
    free(t);
}

static void test_resample_api(void) {
    float in[5] = {0.1f, -0.2f, 0.3f, -0.4f, 0.5f}, *out = NULL;
    size_t n = 0;
    CHECK(zs_audio_resample(in, 5, 16000, 16000, &out, &n) == ZS_OK && n == 5 &&
          memcmp(in, out, sizeof in) == 0, "equal rates: identity copy");
    free(out);
    out = NULL;
    CHECK(zs_audio_resample(NULL, 0, 8000, 16000, &out, &n) == ZS_OK && n == 0, "empty input -> empty output");
    free(out);
    out = NULL;
    CHECK(zs_audio_resample(in, 1, 8000, 16000, &out, &n) == ZS_OK && n == 2, "1 sample 8 -> 16 kHz: 2");
    free(out);
    out = NULL;
    CHECK(zs_audio_resample(in, 5, 44100, 16000, &out, &n) == ZS_OK && n == 2, "5 samples 44.1 -> 16 kHz: round(1.81) = 2");
    free(out);
    out = NULL;
    CHECK(zs_audio_resample(in, 5, 0, 16000, &out, &n) == ZS_EINVAL, "rate 0 -> ZS_EINVAL");
    CHECK(zs_audio_resample(in, 5, 16000, -1, &out, &n) == ZS_EINVAL, "negative rate -> ZS_EINVAL");
    CHECK(zs_audio_resample(in, 5, 100, 96000, &out, &n) == ZS_EUNSUPPORTED, "ratio 960 -> ZS_EUNSUPPORTED: %s", zs_last_error());
    CHECK(zs_audio_resample(NULL, 5, 8000, 16000, &out, &n) == ZS_EINVAL, "NULL input -> ZS_EINVAL");
    CHECK(out == NULL, "failed calls leave *out alone");
}

static void test_channels_and_formats(void) {
    /* stereo: L and R different tones -> their average, exactly */
    enum { N = 4000 };
    short st[2 * N];
    for (int i = 0; i < N; i++) {
        st[2 * i] = (short)(i * 7 % 20000 - 10000);
        st[2 * i + 1] = (short)(i * 13 % 30000 - 15000);
    }
    CHECK(write_short(tmp("stereo.wav"), 16000, 2, st, N) == 0, "write stereo");
    float *x = NULL;
    size_t n = 0;
    CHECK(zs_audio_load(tmp("stereo.wav"), 16000, 0, &x, &n) == ZS_OK && n == N, "load stereo");
    int ok = x != NULL;
    for (int i = 0; ok && i < N; i++)
        ok &= fabsf(x[i] - (st[2 * i] / 32768.0f + st[2 * i + 1] / 32768.0f) / 2.0f) < 1e-7f;
    CHECK(ok, "stereo -> mono is the average of the channels");
    free(x);

    /* 3 channels averaged; 9 channels refused */
    float f3[3 * N];
    for (int i = 0; i < N; i++) { f3[3 * i] = 0.3f; f3[3 * i + 1] = -0.6f; f3[3 * i + 2] = 0.9f; }
    if (write_float(tmp("ch3.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 3, f3, N) == 0) {
        x = NULL;
        CHECK(zs_audio_load(tmp("ch3.wav"), 16000, 0, &x, &n) == ZS_OK && n == N && fabsf(x[10] - 0.2f) < 1e-6f,
              "3 channels averaged (got %g)", x ? x[10] : -9.0);
        free(x);
    } else {
        SKIP("libsndfile cannot write 3-channel float WAV");
    }
    float *f9 = calloc(9 * N, sizeof(float));
    if (write_float(tmp("ch9.wav"), SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 9, f9, N) == 0) {
        x = NULL;
        zs_status s = zs_audio_load(tmp("ch9.wav"), 16000, 0, &x, &n);
        CHECK(s == ZS_EUNSUPPORTED, "9 channels -> ZS_EUNSUPPORTED (got %s)", zs_status_str(s));
        CHECK(strstr(zs_last_error(), "ch9.wav") && strstr(zs_last_error(), "9 channels"),
              "message names the file and the count: %s", zs_last_error());
        CHECK(x == NULL, "no output on error");
    } else {
        SKIP("libsndfile cannot write 9-channel WAV");
    }
    free(f9);

    /* every integer/float WAV sub-format, and FLAC/OGG where available */
    static const struct { int fmt; const char *name; double tol; } fm[] = {
        {SF_FORMAT_WAV | SF_FORMAT_PCM_U8, "u8.wav", 1.0 / 128},
        {SF_FORMAT_WAV | SF_FORMAT_PCM_16, "s16.wav", 1.0 / 32768},
        {SF_FORMAT_WAV | SF_FORMAT_PCM_24, "s24.wav", 1.0 / 8388608 * 2},
        {SF_FORMAT_WAV | SF_FORMAT_PCM_32, "s32.wav", 1e-7},
        {SF_FORMAT_WAV | SF_FORMAT_FLOAT, "f32.wav", 0},
        {SF_FORMAT_WAV | SF_FORMAT_DOUBLE, "f64.wav", 1e-7},
        {SF_FORMAT_FLAC | SF_FORMAT_PCM_16, "s16.flac", 1.0 / 32768},
        {SF_FORMAT_OGG | SF_FORMAT_VORBIS, "v.ogg", 0.05},
    };
    float ref[N];
    for (int i = 0; i < N; i++) ref[i] = (float)(0.4 * sin(2 * M_PI * 300.0 * i / 16000));
    for (size_t q = 0; q < sizeof fm / sizeof *fm; q++) {
        if (write_float(tmp(fm[q].name), fm[q].fmt, 16000, 1, ref, N) != 0) {
            SKIP("this libsndfile cannot write %s", fm[q].name);
            continue;
        }
        x = NULL;
        zs_status s = zs_audio_load(tmp(fm[q].name), 16000, 0, &x, &n);
        CHECK(s == ZS_OK && n == N, "%s: load (%s, %zu samples)", fm[q].name, zs_last_error(), n);
        if (s != ZS_OK) continue;
        double e = 0;
        for (size_t i = 0; i < n && i < N; i++) if (fabs(x[i] - ref[i]) > e) e = fabs(x[i] - ref[i]);
        /* libsndfile writes float -> int with 32767 scale, reads with 32768 */
        double tol = fm[q].tol + 0.4 / 32768.0 * (fm[q].tol > 0);
        CHECK(e <= tol, "%s: max error %.3g (tolerance %.3g)", fm[q].name, e, tol);
        free(x);
    }

    /* float samples beyond [-1, 1] are clamped; NaN is refused */
    float big[4] = {1.5f, -3.0f, 0.25f, 0.0f};
    CHECK(write_float(tmp("big.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, big, 4) == 0, "write big");
    x = NULL;
    CHECK(zs_audio_load(tmp("big.wav"), 16000, 0, &x, &n) == ZS_OK && n == 4 && x[0] == 1.0f &&
          x[1] == -1.0f && x[2] == 0.25f, "float samples clamped to [-1, 1]");
    free(x);
    float bad[4] = {0.1f, NAN, 0.2f, 0.0f};
    CHECK(write_float(tmp("nan.wav"), SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, bad, 4) == 0, "write nan");
    x = NULL;
    CHECK(zs_audio_load(tmp("nan.wav"), 16000, 0, &x, &n) == ZS_EFORMAT && x == NULL, "NaN sample -> ZS_EFORMAT");
    CHECK(strstr(zs_last_error(), "nan.wav") != NULL, "message names the file: %s", zs_last_error());
}

static void test_bad_inputs(void) {
    float *x = NULL;
    size_t n = 0;
    zs_status s = zs_audio_load(tmp("does-not-exist.wav"), 16000, 0, &x, &n);
    CHECK(s == ZS_EIO, "missing file -> ZS_EIO (got %s)", zs_status_str(s));
    CHECK(strstr(zs_last_error(), "does-not-exist.wav") && strstr(zs_last_error(), "No such file"),
          "message names the file and the reason: %s", zs_last_error());

    const char *text = "this is not audio, just a line of text\n";
    write_bytes(tmp("notes.txt"), text, strlen(text));
    s = zs_audio_load(tmp("notes.txt"), 16000, 0, &x, &n);
    CHECK(s == ZS_EFORMAT, "text file -> ZS_EFORMAT (got %s)", zs_status_str(s));
    CHECK(strstr(zs_last_error(), "notes.txt") && strstr(zs_last_error(), "not a readable audio file"),
          "message names the file: %s", zs_last_error());

    /* a real WAV cut inside its header */
    short s16[1000] = {0};
    for (int i = 0; i < 1000; i++) s16[i] = (short)(i * 31);
    write_short(tmp("full.wav"), 16000, 1, s16, 1000);
    unsigned char hdr[2100];
    FILE *f = fopen(tmp("full.wav"), "rb");
    size_t hn = f ? fread(hdr, 1, sizeof hdr, f) : 0;
    if (f) fclose(f);
    CHECK(hn == 2044, "WAV of 1000 samples is 2044 bytes (%zu)", hn);
    write_bytes(tmp("trunc-header.wav"), hdr, 20);
    s = zs_audio_load(tmp("trunc-header.wav"), 16000, 0, &x, &n);
    CHECK(s == ZS_EFORMAT, "WAV cut inside the header -> ZS_EFORMAT (got %s)", zs_status_str(s));
    CHECK(strstr(zs_last_error(), "trunc-header.wav") != NULL, "names the file: %s", zs_last_error());
    /* header intact, data cut short: the samples that are there */
    write_bytes(tmp("trunc-data.wav"), hdr, 44 + 200);
    x = NULL;
    s = zs_audio_load(tmp("trunc-data.wav"), 16000, 0, &x, &n);
    CHECK(s == ZS_OK && n == 100 && x[99] == s16[99] / 32768.0f,
          "WAV with data cut short -> the 100 samples present (%s, %zu)", zs_status_str(s), n);
    free(x);
    x = NULL;
    /* zero samples */
    CHECK(write_short(tmp("empty.wav"), 16000, 1, s16, 0) == 0, "write empty WAV");
    s = zs_audio_load(tmp("empty.wav"), 16000, 0, &x, &n);
    CHECK(s == ZS_EFORMAT, "WAV with zero samples -> ZS_EFORMAT (got %s)", zs_status_str(s));
    CHECK(strstr(zs_last_error(), "empty.wav") && strstr(zs_last_error(), "no audio samples"),
          "message: %s", zs_last_error());
    write_bytes(tmp("zero-bytes.wav"), "", 0);
    CHECK(zs_audio_load(tmp("zero-bytes.wav"), 16000, 0, &x, &n) == ZS_EFORMAT, "0-byte file -> ZS_EFORMAT");
    /* too long for max_seconds */
    short *s3 = sine16(48000, 100.0, 16000, 0.1);
    write_short(tmp("three-s.wav"), 16000, 1, s3, 48000);
    free(s3);
    s = zs_audio_load(tmp("three-s.wav"), 16000, 2.0, &x, &n);
    CHECK(s == ZS_ELIMIT, "3 s file with max_seconds 2 -> ZS_ELIMIT (got %s)", zs_status_str(s));
    CHECK(strstr(zs_last_error(), "three-s.wav") && strstr(zs_last_error(), "limit"), "message: %s", zs_last_error());
    CHECK(zs_audio_load(tmp("three-s.wav"), 16000, 3.0, &x, &n) == ZS_OK && n == 48000, "exactly at the limit is fine");
    free(x);
    x = NULL;
    /* a directory; NULL and bad arguments */
    s = zs_audio_load(dir, 16000, 0, &x, &n);
    CHECK(s == ZS_EIO, "a directory -> ZS_EIO (got %s: %s)", zs_status_str(s), zs_last_error());
    CHECK(zs_audio_load(NULL, 16000, 0, &x, &n) == ZS_EINVAL, "NULL path -> ZS_EINVAL");
    CHECK(zs_audio_load(tmp("full.wav"), 0, 0, &x, &n) == ZS_EINVAL, "rate 0 -> ZS_EINVAL");
    CHECK(zs_audio_load(tmp("full.wav"), 16000, -1, &x, &n) == ZS_EINVAL, "negative max_seconds -> ZS_EINVAL");
    CHECK(zs_audio_load(tmp("full.wav"), 16000, NAN, &x, &n) == ZS_EINVAL, "NaN max_seconds -> ZS_EINVAL");
    CHECK(x == NULL, "no output on any error");
}

static void test_noise(void) {
    enum { N = 16000 };
    static float a[N], b[N], c[N], x0[N];
    zs_rng r;
    zs_rng_seed(&r, 3);
    for (int i = 0; i < N; i++) x0[i] = 2.0f * zs_rng_uniform(&r) - 1.0f;
    memcpy(a, x0, sizeof a);
    memcpy(b, x0, sizeof b);
    memcpy(c, x0, sizeof c);
    zs_add_noise(a, N, 0.3f, 42);
    zs_add_noise(b, N, 0.3f, 42);
    zs_add_noise(c, N, 0.3f, 43);
    CHECK(memcmp(a, b, sizeof a) == 0, "same seed -> identical noise");
    CHECK(memcmp(a, c, sizeof a) != 0, "different seed -> different noise");
    int in_bounds = 1, u_ok = 1;
    double mean = 0, var = 0;
    for (int i = 0; i < N; i++) {
        in_bounds &= a[i] >= -1.0f && a[i] <= 1.0f;
        double u = (a[i] - 0.7 * x0[i]) / 0.3;      /* recovered uniform */
        u_ok &= u >= -1.0 - 1e-5 && u <= 1.0 + 1e-5;
        mean += u;
        var += u * u;
    }
    mean /= N;
    var = var / N - mean * mean;
    CHECK(in_bounds, "|x| <= 1 stays within [-1, 1] after noise");
    CHECK(u_ok, "x' = 0.7 x + 0.3 u with u in [-1, 1]");
    CHECK(fabs(mean) < 0.02 && fabs(var - 1.0 / 3.0) < 0.02, "u ~ U(-1, 1): mean %.4f var %.4f (1/3)", mean, var);
    memcpy(a, x0, sizeof a);
    zs_add_noise(a, N, 0.0f, 1);
    CHECK(memcmp(a, x0, sizeof a) == 0, "alpha 0 leaves the signal unchanged");
    zs_add_noise(a, N, 1.0f, 5);
    memset(b, 0, sizeof b);
    zs_add_noise(b, N, 1.0f, 5);
    CHECK(memcmp(a, b, sizeof a) == 0, "alpha 1 is pure noise, independent of the signal");
    zs_add_noise(NULL, 10, 0.5f, 1);   /* no crash */
}

static void test_stream(void) {
    /* 8 kHz file streamed in odd-sized chunks == whole-file load, same length */
    const char *wav = check_data("audio/7_jackson_32.wav");
    float *whole = NULL;
    size_t nw = 0;
    CHECK(zs_audio_load(wav, 16000, 0, &whole, &nw) == ZS_OK, "load %s", wav);
    zs_audio_stream *s = NULL;
    CHECK(zs_audio_stream_open(&s, wav, 0, 16000) == ZS_OK, "stream open: %s", zs_last_error());
    if (!s || !whole) { free(whole); zs_audio_stream_close(s); return; }
    CHECK(zs_audio_stream_source_rate(s) == 8000 && zs_audio_stream_source_channels(s) == 1, "source 8 kHz mono");
    float *acc = malloc(sizeof(float) * (nw + 100000));
    size_t tot = 0, got = 0;
    float buf[777];
    zs_status st;
    while ((st = zs_audio_stream_read(s, buf, sizeof buf / sizeof *buf, &got)) == ZS_OK && got) {
        if (tot + got <= nw + 100000) memcpy(acc + tot, buf, got * sizeof(float));
        tot += got;
    }
    CHECK(st == ZS_OK, "stream read to the end");
    long dl = (long)tot - (long)nw;
    CHECK(labs(dl) <= 2, "stream length %zu vs whole-file %zu", tot, nw);
    double e = 0;
    for (size_t i = 0; i < nw && i < tot; i++) if (fabs(acc[i] - whole[i]) > e) e = fabs(acc[i] - whole[i]);
    CHECK(e < 1e-4, "streamed resampling matches whole-file resampling (max diff %.3g)", e);
    CHECK(zs_audio_stream_read(s, buf, 10, &got) == ZS_OK && got == 0, "reading past the end gives 0");
    zs_audio_stream_close(s);
    free(acc);
    free(whole);

    /* raw 16-bit LE PCM */
    short pcm[3000];
    for (int i = 0; i < 3000; i++) pcm[i] = (short)(i * 17 - 20000);
    write_bytes(tmp("raw.pcm"), pcm, sizeof pcm);
    s = NULL;
    CHECK(zs_audio_stream_open(&s, tmp("raw.pcm"), 16000, 16000) == ZS_OK, "raw open: %s", zs_last_error());
    tot = 0;
    int exact = 1;
    while (s && zs_audio_stream_read(s, buf, 500, &got) == ZS_OK && got) {
        for (size_t i = 0; i < got; i++) exact &= tot + i < 3000 && buf[i] == pcm[tot + i] / 32768.0f;
        tot += got;
    }
    CHECK(tot == 3000 && exact, "raw PCM: 3000 samples, int / 32768 (%zu)", tot);
    zs_audio_stream_close(s);

    s = NULL;
    CHECK(zs_audio_stream_open(&s, tmp("notes.txt"), 0, 16000) == ZS_EFORMAT && s == NULL, "stream of a text file -> ZS_EFORMAT");
    CHECK(zs_audio_stream_open(&s, tmp("nope.wav"), 0, 16000) == ZS_EIO, "stream of a missing file -> ZS_EIO");
    zs_audio_stream_close(NULL);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/zs_test_audio.XXXXXX");
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return check_finish("test_audio");
    }
    test_lengths_and_fit();
    test_resample_rates();
    test_resample_api();
    test_channels_and_formats();
    test_bad_inputs();
    test_noise();
    test_stream();
    /* clean up the temporary directory */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "remove %s", dir);
    return check_finish("test_audio");
}
