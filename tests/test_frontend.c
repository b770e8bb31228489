/*
 * test_frontend.c — the log-mel front end against the float64 numpy
 * reference (scripts/ref_logmel.py -> tests/data/audio/NAME.f32), plus
 * properties that hold whatever the reference says: the Slaney scale's
 * fixed points, the filterbank's shape and unit area, silence without NaN,
 * a pure tone in the right band, thread-safe creation.
 *
 * Tolerances (stated, measured worst printed on every run):
 *   filterbank vs reference          |d| <= 1e-7 + 1e-5 |ref|
 *   16 kHz clips, all 32x32 values    |d| <= 0.01 dB
 *   8 kHz FSDD clips through libsamplerate vs the reference's own FIR
 *   resampler, bands whose upper edge is below 3.5 kHz: |d| <= 0.1 dB
 */
#include "audio_internal.h"
#include "check.h"
#include "zs_internal.h"
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NF (ZS_N_MELS * ZS_N_FRAMES)
#define TOL_DB 0.01
#define TOL_DB_RESAMPLED 0.1

static int read_f32(const char *path, float *dst, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t got = fread(dst, sizeof(float), n, f);
    int extra = fgetc(f);
    fclose(f);
    return got == n && extra == EOF ? 0 : -1;
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d;   /* NaN wins */
    }
    return m;
}

static void test_mel_scale(void) {
    CHECK(fabs(zs_hz_to_mel(0.0)) < 1e-12, "0 Hz -> 0 mel");
    CHECK(fabs(zs_hz_to_mel(1000.0) - 15.0) < 1e-12, "1 kHz -> 15 mel (Slaney break point)");
    CHECK(fabs(zs_hz_to_mel(200.0) - 3.0) < 1e-12, "200 Hz -> 3 mel (linear part)");
    CHECK(fabs(zs_hz_to_mel(6400.0) - 42.0) < 1e-9, "6.4 kHz -> 15 + 27 mel (log part)");
    int ok = 1;
    for (double f = 1.0; f < 8000.0; f *= 1.37)
        ok &= fabs(zs_mel_to_hz(zs_hz_to_mel(f)) - f) < 1e-9 * f;
    CHECK(ok, "mel_to_hz(hz_to_mel(f)) == f");
}

static void test_filterbank(zs_frontend *fe) {
    const float *fb = zs_frontend_melfb(fe);
    static float ref[ZS_N_MELS * ZS_N_BINS];
    if (read_f32(check_data("audio/melfb.f32"), ref, ZS_N_MELS * ZS_N_BINS) == 0) {
        CHECK_CLOSE(fb, ref, (size_t)ZS_N_MELS * ZS_N_BINS, 1e-7, 1e-5, "filterbank vs reference");
        printf("filterbank: max |C - reference| = %.3g\n", max_abs_diff(fb, ref, (size_t)ZS_N_MELS * ZS_N_BINS));
    } else {
        CHECK(0, "missing %s (run scripts/ref_logmel.py)", check_data("audio/melfb.f32"));
    }
    const double df = (double)ZS_SAMPLE_RATE / ZS_N_FFT;   /* 7.8125 Hz per bin */
    double mlo = zs_hz_to_mel(0.0), mhi = zs_hz_to_mel(8000.0);
    int nonneg = 1, contiguous = 1, area_ok = 1, peak_ok = 1, order_ok = 1;
    double worst_area = 0;
    int prev_peak = -1;
    for (int m = 0; m < ZS_N_MELS; m++) {
        const float *w = fb + m * ZS_N_BINS;
        int first = -1, last = -1, peak = 0;
        double area = 0;
        for (int k = 0; k < ZS_N_BINS; k++) {
            if (w[k] < 0) nonneg = 0;
            if (w[k] > 0) { if (first < 0) first = k; last = k; }
            if (w[k] > w[peak]) peak = k;
            area += w[k] * df;
        }
        for (int k = first; k >= 0 && k <= last; k++)
            if (!(w[k] > 0)) contiguous = 0;
        /* unit area up to the discretisation of a triangle a few bins wide */
        if (fabs(area - 1.0) > worst_area) worst_area = fabs(area - 1.0);
        if (fabs(area - 1.0) > 0.06) area_ok = 0;
        /* the peak bin is the bin nearest the band centre */
        double centre = zs_mel_to_hz(mlo + (mhi - mlo) * (m + 1) / (ZS_N_MELS + 1));
        if (fabs(peak * df - centre) > df) peak_ok = 0;
        if (peak <= prev_peak) order_ok = 0;
        prev_peak = peak;
    }
    CHECK(nonneg, "filter weights are non-negative");
    CHECK(contiguous, "each filter's support is one contiguous run of bins");
    CHECK(area_ok, "Slaney norm: each filter has unit area in Hz (worst |area-1| = %.4f)", worst_area);
    CHECK(peak_ok, "each filter peaks at the bin nearest its centre frequency");
    CHECK(order_ok, "filter peaks rise with the band index");
    /* the top filter ends at 8 kHz, the Nyquist bin, with weight 0 there */
    CHECK(fb[(ZS_N_MELS - 1) * ZS_N_BINS + ZS_N_BINS - 1] == 0.0f, "top filter is 0 at Nyquist");
    CHECK(fb[0] == 0.0f && fb[1] > 0.0f, "bottom filter starts at 0 Hz");
    printf("filterbank: worst |area - 1| = %.4f\n", worst_area);
}

static const char *clips16[] = {"yes_1000ms", "no_1000ms", "noise_1000ms", "silence_1000ms"};
static const char *clips8[] = {"0_george_0", "7_jackson_32"};

static void compare_clip(zs_frontend *fe, const char *stem, int resampled, double *worst) {
    char wav[256], ref_path[256];
    snprintf(wav, sizeof wav, "%s", check_data("audio/"));
    strncat(wav, stem, sizeof wav - strlen(wav) - 5);
    strcat(wav, ".wav");
    snprintf(ref_path, sizeof ref_path, "tests/data/audio/%s.logmel.f32", stem);
    float ref[NF], got[NF];
    if (read_f32(ref_path, ref, NF) != 0) {
        CHECK(0, "missing reference %s", ref_path);
        return;
    }
    float *x = NULL;
    size_t n = 0;
    zs_status st = zs_audio_load(wav, ZS_SAMPLE_RATE, 10.0, &x, &n);
    CHECK(st == ZS_OK, "load %s: %s", wav, zs_last_error());
    if (st != ZS_OK) return;
    float clip[ZS_CLIP_SAMPLES];
    zs_clip_fit(x, n, clip);
    free(x);
    st = zs_frontend_logmel(fe, clip, got);
    CHECK(st == ZS_OK, "logmel %s", stem);
    double d = 0;
    if (!resampled) {
        d = max_abs_diff(got, ref, NF);
        CHECK(d <= TOL_DB, "%s: max |C - reference| = %.5f dB (tolerance %.2f)", stem, d, TOL_DB);
        printf("%-16s max |C - reference| = %.5f dB (all 32x32)\n", stem, d);
    } else {
        /* only bands well inside the 8 kHz source's 0-4 kHz */
        double mlo = zs_hz_to_mel(0.0), mhi = zs_hz_to_mel(8000.0);
        int nb = 0;
        while (nb < ZS_N_MELS && zs_mel_to_hz(mlo + (mhi - mlo) * (nb + 2) / (ZS_N_MELS + 1)) < 3500.0) nb++;
        d = max_abs_diff(got, ref, (size_t)nb * ZS_N_FRAMES);
        CHECK(nb >= 20, "bands below 3.5 kHz: %d", nb);
        CHECK(d <= TOL_DB_RESAMPLED, "%s (8 kHz, resampled): max |C - reference| = %.4f dB over %d bands (tolerance %.1f)",
              stem, d, nb, TOL_DB_RESAMPLED);
        printf("%-16s max |C - reference| = %.4f dB (8 kHz clip, libsamplerate vs scipy FIR, lowest %d bands)\n",
               stem, d, nb);
    }
    if (d > *worst) *worst = d;
    float mx = -1e30f, mn = 1e30f;
    for (int i = 0; i < NF; i++) { if (got[i] > mx) mx = got[i]; if (got[i] < mn) mn = got[i]; }
    CHECK(mx == 0.0f && mn >= -80.0f - 1e-4f, "%s: range [%g, %g] within [-80, 0] with max 0", stem, mn, mx);
}

static void test_silence(zs_frontend *fe) {
    float clip[ZS_CLIP_SAMPLES] = {0}, out[NF];
    CHECK(zs_frontend_logmel(fe, clip, out) == ZS_OK, "silence: ok");
    int all_zero = 1;
    for (int i = 0; i < NF; i++) all_zero &= out[i] == 0.0f;
    /* librosa: S = 0 everywhere -> 10log10(amin) - 10log10(amin) = 0 */
    CHECK(all_zero, "all-zero clip gives all-zero dB, no NaN");
    /* one non-zero sample: finite, max 0, floor at -80 */
    clip[8000] = 1e-4f;
    CHECK(zs_frontend_logmel(fe, clip, out) == ZS_OK, "impulse: ok");
    CHECK(zs_all_finite(out, NF), "impulse: finite");
}

static void test_sine(zs_frontend *fe) {
    const double freqs[] = {150.0, 440.0, 1000.0, 2500.0, 5000.0, 7000.0};
    const float *fb = zs_frontend_melfb(fe);
    for (size_t q = 0; q < sizeof freqs / sizeof freqs[0]; q++) {
        double f = freqs[q];
        float clip[ZS_CLIP_SAMPLES], out[NF];
        for (int i = 0; i < ZS_CLIP_SAMPLES; i++) clip[i] = (float)(0.5 * sin(2 * M_PI * f * i / ZS_SAMPLE_RATE));
        CHECK(zs_frontend_logmel(fe, clip, out) == ZS_OK, "sine %g Hz", f);
        /* expected: the filter with the largest weight at the tone's bin */
        int bin = (int)lround(f * ZS_N_FFT / ZS_SAMPLE_RATE), want = 0;
        for (int m = 1; m < ZS_N_MELS; m++)
            if (fb[m * ZS_N_BINS + bin] > fb[want * ZS_N_BINS + bin]) want = m;
        int ok = 1;
        for (int t = 2; t < ZS_N_FRAMES - 2; t++) {
            int best = 0;
            for (int m = 1; m < ZS_N_MELS; m++)
                if (out[m * ZS_N_FRAMES + t] > out[best * ZS_N_FRAMES + t]) best = m;
            if (best != want) ok = 0;
        }
        CHECK(ok, "sine %g Hz peaks in mel band %d in every inner frame", f, want);
        /* and bands far from the tone are far below it */
        int far = want < ZS_N_MELS / 2 ? ZS_N_MELS - 1 : 0;
        CHECK(out[far * ZS_N_FRAMES + 16] < -40.0f, "sine %g Hz: band %d is %g dB", f, far, out[far * ZS_N_FRAMES + 16]);
    }
}

static void test_errors(zs_frontend *fe) {
    float clip[ZS_CLIP_SAMPLES] = {0}, out[NF];
    clip[123] = NAN;
    CHECK(zs_frontend_logmel(fe, clip, out) == ZS_ENUMERIC, "NaN sample -> ZS_ENUMERIC");
    CHECK(strstr(zs_last_error(), "NaN") != NULL, "message names NaN: %s", zs_last_error());
    clip[123] = INFINITY;
    CHECK(zs_frontend_logmel(fe, clip, out) == ZS_ENUMERIC, "Inf sample -> ZS_ENUMERIC");
    CHECK(zs_frontend_logmel(NULL, clip, out) == ZS_EINVAL, "NULL frontend -> ZS_EINVAL");
    CHECK(zs_frontend_logmel(fe, NULL, out) == ZS_EINVAL, "NULL clip -> ZS_EINVAL");
    CHECK(zs_frontend_logmel(fe, clip, NULL) == ZS_EINVAL, "NULL out -> ZS_EINVAL");
    CHECK(zs_frontend_create(NULL) == ZS_EINVAL, "create(NULL) -> ZS_EINVAL");
    zs_frontend_free(NULL);
}

/* Creation in parallel (FFTW's planner is guarded) gives identical output. */
typedef struct { const float *clip; float out[NF]; zs_status st; } job;
static void *worker(void *arg) {
    job *j = arg;
    zs_frontend *fe = NULL;
    j->st = zs_frontend_create(&fe);
    for (int r = 0; j->st == ZS_OK && r < 3; r++) j->st = zs_frontend_logmel(fe, j->clip, j->out);
    zs_frontend_free(fe);
    return NULL;
}

static void test_threads(zs_frontend *fe) {
    static float clip[ZS_CLIP_SAMPLES];
    zs_rng r;
    zs_rng_seed(&r, 7);
    for (int i = 0; i < ZS_CLIP_SAMPLES; i++) clip[i] = zs_rng_uniform(&r) - 0.5f;
    float want[NF];
    CHECK(zs_frontend_logmel(fe, clip, want) == ZS_OK, "noise clip");
    enum { T = 4 };
    static job jobs[T];
    pthread_t th[T];
    for (int t = 0; t < T; t++) { jobs[t].clip = clip; pthread_create(&th[t], NULL, worker, &jobs[t]); }
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < T; t++) {
        CHECK(jobs[t].st == ZS_OK, "thread %d", t);
        CHECK(memcmp(jobs[t].out, want, sizeof want) == 0, "thread %d: bit-identical features", t);
    }
}

/* zs_all_finite (the input check of every infer/learn/front-end call):
 * one NaN, +inf or -inf at any place of any length is found; the largest
 * finite values, -0 and subnormals pass. */
static void test_all_finite(void) {
    float x[200] = {0};
    const float bad[3] = {NAN, INFINITY, -INFINITY};
    for (int n = 0; n <= 200; n += n < 70 ? 1 : 13) {
        for (int i = 0; i < n; i++) x[i] = i % 4 == 0 ? FLT_MAX : i % 4 == 1 ? -0.0f : i % 4 == 2 ? 1e-40f : -FLT_MAX;
        CHECK(zs_all_finite(x, (size_t)n), "all_finite: %d finite values pass", n);
        int missed = 0;
        for (int i = 0; i < n; i++)
            for (int b = 0; b < 3; b++) {
                float keep = x[i];
                x[i] = bad[b];
                missed += zs_all_finite(x, (size_t)n);
                x[i] = keep;
            }
        CHECK(!missed, "all_finite: n=%d, a NaN/inf at each place found (%d missed)", n, missed);
    }
}

int main(void) {
    test_all_finite();
    zs_frontend *fe = NULL;
    zs_status st = zs_frontend_create(&fe);
    CHECK(st == ZS_OK && fe, "create: %s", zs_last_error());
    if (!fe) return check_finish("test_frontend");
    test_mel_scale();
    test_filterbank(fe);
    double worst16 = 0, worst8 = 0;
    for (size_t i = 0; i < sizeof clips16 / sizeof *clips16; i++) compare_clip(fe, clips16[i], 0, &worst16);
    for (size_t i = 0; i < sizeof clips8 / sizeof *clips8; i++) compare_clip(fe, clips8[i], 1, &worst8);
    printf("front end max deviation from reference: %.5f dB (16 kHz clips), %.4f dB (8 kHz clips, low bands)\n",
           worst16, worst8);
    test_silence(fe);
    test_sine(fe);
    test_errors(fe);
    test_threads(fe);
    zs_frontend_free(fe);
    return check_finish("test_frontend");
}
