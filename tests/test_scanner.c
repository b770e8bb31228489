/* test_scanner.c — zs_scanner (the stream keyword spotter behind
 * `listen --stream` and the Python module's Model.stream) against an
 * offline re-computation from the same windows: every window classified
 * from the whole audio, the centred moving average over the windows that
 * exist, runs merged; for several hops/smooths and any chunking of the
 * pushed audio. Plus the refusals (bad options, wrong model shape, no
 * audio, push after finish) and very short audio (one zero-padded window). */
#include "check.h"
#include "zeroskip.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MODEL "models/gsc-sparse.safetensors"
#define LONG "demo/george_31415926.wav"
#define MAXDET 256

/* the offline answer: at most MAXDET detections */
static int offline(zs_net *net, const float *x, size_t n, double hop_s, int smooth, double thr,
                   zs_detection *out) {
    int hop = (int)lround(hop_s * ZS_SAMPLE_RATE), K = zs_net_num_classes(net);
    hop_s = (double)hop / ZS_SAMPLE_RATE;
    long full = n >= ZS_CLIP_SAMPLES ? (long)((n - ZS_CLIP_SAMPLES) / (size_t)hop) + 1 : 0;
    long W = full;
    if ((full > 0 && n > (size_t)((full - 1) * hop + ZS_CLIP_SAMPLES)) || (full == 0 && n > 0)) W++;
    float *P = calloc((size_t)W * (size_t)K, sizeof(float)), *avg = calloc((size_t)K, sizeof(float));
    float clip[ZS_CLIP_SAMPLES], feat[ZS_N_MELS * ZS_N_FRAMES];
    zs_frontend *fe = NULL;
    zs_frontend_create(&fe);
    for (long j = 0; j < W; j++) {
        size_t s = (size_t)(j * hop), k = n - s < ZS_CLIP_SAMPLES ? n - s : ZS_CLIP_SAMPLES;
        memset(clip, 0, sizeof clip);
        memcpy(clip, x + s, k * sizeof(float));
        zs_frontend_logmel(fe, clip, feat);
        zs_net_infer(net, feat, 1, P + j * K);
        for (int i = 0; i < K; i++) P[j * K + i] = expf(P[j * K + i]);
    }
    int nd = 0, open = 0;
    double total_s = (double)n / ZS_SAMPLE_RATE;
    for (long k = 0; k < W; k++) {
        long from = k - (smooth - 1) / 2, last = k + smooth / 2;
        if (from < 0) from = 0;
        if (last > W - 1) last = W - 1;
        memset(avg, 0, sizeof(float) * (size_t)K);
        for (long j = from; j <= last; j++)
            for (int i = 0; i < K; i++) avg[i] += P[j * K + i];
        float inv = 1.0f / (float)(last - from + 1);
        int best = -1;
        for (int i = 0; i < K; i++) {
            avg[i] *= inv;
            if (zs_label_is_word(zs_net_class_name(net, i)) && (best < 0 || avg[i] > avg[best])) best = i;
        }
        int hit = best >= 0 && avg[best] > thr;
        if (open && (!hit || best != out[nd - 1].label)) open = 0;
        if (!hit || (!open && nd >= MAXDET)) continue;
        zs_detection *d = &out[open ? nd - 1 : nd];
        if (!open) {
            nd++;
            d->label = best;
            d->start_s = k * hop_s;
            d->confidence = 0;
            open = 1;
        }
        d->end_s = fmin(k * hop_s + 1.0, total_s);
        if (avg[best] > d->confidence) d->confidence = avg[best];
    }
    zs_frontend_free(fe);
    free(P);
    free(avg);
    return nd;
}

/* the scanner's answer, the audio pushed in chunks of `chunk` samples */
static int scanned(zs_net *net, const float *x, size_t n, const zs_scan_opts *o, size_t chunk,
                   zs_detection *out) {
    zs_scanner *s = NULL;
    int nd = 0;
    if (zs_scanner_create(&s, net, o) != ZS_OK) return -1;
    for (size_t i = 0; i < n; i += chunk) {
        if (zs_scanner_push(s, x + i, n - i < chunk ? n - i : chunk) != ZS_OK) { nd = -1; break; }
        while (nd < MAXDET && zs_scanner_next(s, &out[nd])) nd++;
    }
    if (nd >= 0 && zs_scanner_finish(s) != ZS_OK) nd = -1;
    while (nd >= 0 && nd < MAXDET && zs_scanner_next(s, &out[nd])) nd++;
    zs_scanner_free(s);
    return nd;
}

static int same(const zs_detection *a, int na, const zs_detection *b, int nb) {
    if (na != nb) return 0;
    for (int i = 0; i < na; i++)
        if (a[i].label != b[i].label || fabs(a[i].start_s - b[i].start_s) > 1e-9 ||
            fabs(a[i].end_s - b[i].end_s) > 1e-9 || fabsf(a[i].confidence - b[i].confidence) > 1e-6f)
            return 0;
    return 1;
}

int main(void) {
    zs_net *net = NULL, *mlp = NULL;
    float *x = NULL;
    size_t n = 0;
    if (zs_net_load(&net, MODEL) != ZS_OK || zs_audio_load(LONG, ZS_SAMPLE_RATE, 0, &x, &n) != ZS_OK) {
        CHECK(0, "load %s / %s: %s", MODEL, LONG, zs_last_error());
        return check_finish("test_scanner");
    }
    static zs_detection want[MAXDET], got[MAXDET];
    const double hops[] = {0.25, 0.1, 0.37};
    const int smooths[] = {3, 1, 4};
    const double thresholds[] = {0.3, 0.5, 0.25};   /* >= 3 words with the shipped model in each */
    const size_t chunks[] = {1, 777, 16000, 1 << 30};
    for (int h = 0; h < 3; h++) {
        zs_scan_opts o = {hops[h], smooths[h], thresholds[h], 0, 0, 0};
        int nw = offline(net, x, n, o.hop_s, o.smooth, o.threshold, want);
        CHECK(nw >= 3, "hop %g smooth %d: %d words in the 10 s of digits", o.hop_s, o.smooth, nw);
        for (int c = 0; c < 4; c++) {
            int ng = scanned(net, x, n, &o, chunks[c], got);
            CHECK(same(got, ng, want, nw), "hop %g smooth %d chunk %zu: %d detections, offline %d",
                  o.hop_s, o.smooth, chunks[c], ng, nw);
        }
    }
    /* very short audio: one zero-padded window; a part of a second */
    zs_scan_opts o = zs_scan_defaults();
    o.threshold = 0.0;
    o.gate_db = 0;      /* the plain sliding window the offline answer computes */
    o.centre = 0;
    o.min_gap_s = 0;
    size_t part = 5000;
    int nw = offline(net, x + 20000, part, o.hop_s, o.smooth, o.threshold, want);
    int ng = scanned(net, x + 20000, part, &o, 1000, got);
    CHECK(nw == 1 && same(got, ng, want, nw) && fabs(got[0].end_s - part / 16000.0) < 1e-9,
          "0.31 s of audio: %d detection(s), end %g", ng, ng > 0 ? got[0].end_s : -1.0);

    /* refusals */
    zs_scanner *s = NULL;
    zs_scan_opts bad = {0.001, 3, 0.5, 0, 0, 0};
    CHECK(zs_scanner_create(&s, net, &bad) == ZS_EINVAL && strstr(zs_last_error(), "hop") && !s, "hop 0.001");
    bad = (zs_scan_opts){0.25, 0, 0.5, 0, 0, 0};
    CHECK(zs_scanner_create(&s, net, &bad) == ZS_EINVAL && strstr(zs_last_error(), "smooth"), "smooth 0");
    bad = (zs_scan_opts){0.25, 3, 1.5, 0, 0, 0};
    CHECK(zs_scanner_create(&s, net, &bad) == ZS_EINVAL && strstr(zs_last_error(), "threshold"), "threshold 1.5");
    CHECK(zs_scanner_create(NULL, net, NULL) == ZS_EINVAL && zs_scanner_create(&s, NULL, NULL) == ZS_EINVAL,
          "NULL arguments");
    if (zs_net_create_preset(&mlp, "mnist-mlp", 1) == ZS_OK)
        CHECK(zs_scanner_create(&s, mlp, NULL) == ZS_ESHAPE && strstr(zs_last_error(), "(1, 28, 28)"),
              "a 28x28 model: %s", zs_last_error());
    CHECK(zs_scanner_create(&s, net, NULL) == ZS_OK, "defaults");
    CHECK(zs_scanner_push(s, NULL, 0) == ZS_OK && zs_scanner_push(s, NULL, 5) == ZS_EINVAL, "push NULL");
    CHECK(zs_scanner_finish(s) == ZS_EFORMAT && strstr(zs_last_error(), "no audio"), "finish with no audio");
    CHECK(zs_scanner_push(s, x, 100) == ZS_EINVAL && strstr(zs_last_error(), "finished"), "push after finish");
    zs_detection d;
    CHECK(zs_scanner_next(s, &d) == 0 && zs_scanner_windows(s) == 0 && zs_scanner_seconds(s) == 0.0, "nothing");
    zs_scanner_free(s);
    zs_scanner_free(NULL);
    CHECK(zs_label_is_word("yes") && !zs_label_is_word("_Silence_") && !zs_label_is_word("UNKNOWN") &&
          !zs_label_is_word("_background_noise_") && !zs_label_is_word(NULL) && zs_label_is_word("silenced"),
          "zs_label_is_word");
    zs_net_free(mlp);
    zs_net_free(net);
    free(x);
    return check_finish("test_scanner");
}
