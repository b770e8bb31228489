/*
 * scanner.c — keyword spotting over a long recording or a live stream
 * (`zeroskip listen --stream`, the Python module's Model.stream).
 *
 * Audio at 16 kHz is pushed in chunks of any size; a 1 s window slides by
 * `hop` samples and every full window is classified (log-mel + inference).
 * Posteriors are smoothed by a centred moving average over `smooth` windows
 * (a lookahead of smooth/2 windows); a window is a detection when its best
 * word class (any class but silence/unknown/background_noise) has smoothed
 * probability > threshold; consecutive detections of one word merge into
 * one zs_detection (confidence: the highest smoothed probability of the
 * run). At the end the last window may run past the audio and is
 * zero-padded, as training clips are.
 *
 * What it is not: a voice-activity detector or a decoder; no state besides
 * the last `smooth` posteriors and the open run.
 */
#include "zs_internal.h"
#include <ctype.h>
#include <math.h>

struct zs_scanner {
    zs_net *net;                /* borrowed */
    zs_frontend *fe;
    int k;                      /* classes */
    int smooth, hop;            /* windows; samples */
    double hop_s, threshold, total_s;
    int *is_word;               /* (K) 0 for silence/unknown */
    float *logp;                /* (K) */
    float *hist;                /* (smooth, K) ring of window posteriors */
    float *avg;                 /* (K) */
    float *win;                 /* (ZS_CLIP_SAMPLES) the sliding window */
    size_t filled;              /* samples in win */
    uint64_t total;             /* samples pushed */
    long n_windows, next_decide;
    int seg_open, seg_label;
    long seg_first, seg_last;
    float seg_conf;
    zs_detection *q;            /* detections not yet taken by zs_scanner_next */
    size_t q_head, q_len, q_cap;
    int finished, failed;
};

zs_scan_opts zs_scan_defaults(void) {
    zs_scan_opts o = {0.25, 3, 0.5};
    return o;
}

int zs_label_is_word(const char *name) {
    char low[64];
    size_t n = 0;
    if (!name) return 0;
    while (*name == '_') name++;
    for (; *name && n + 1 < sizeof low; name++) low[n++] = (char)tolower((unsigned char)*name);
    while (n && low[n - 1] == '_') n--;
    low[n] = '\0';
    return strcmp(low, "silence") && strcmp(low, "unknown") && strcmp(low, "background_noise");
}

void zs_scanner_free(zs_scanner *s) {
    if (!s) return;
    zs_frontend_free(s->fe);
    free(s->is_word);
    free(s->logp);
    free(s->hist);
    free(s->avg);
    free(s->win);
    free(s->q);
    free(s);
}

zs_status zs_scanner_create(zs_scanner **out, zs_net *net, const zs_scan_opts *opts) {
    ZS_RETURN_IF(!out || !net, ZS_EINVAL, "zs_scanner_create: NULL argument");
    zs_scan_opts o = opts ? *opts : zs_scan_defaults();
    ZS_RETURN_IF(!(o.hop_s >= 0.01 && o.hop_s <= 1.0), ZS_EINVAL,
                 "zs_scanner_create: hop %g s is not in [0.01, 1]", o.hop_s);
    ZS_RETURN_IF(o.smooth < 1 || o.smooth > 100, ZS_EINVAL,
                 "zs_scanner_create: smooth %d is not in [1, 100]", o.smooth);
    ZS_RETURN_IF(!(o.threshold >= 0.0 && o.threshold <= 1.0), ZS_EINVAL,
                 "zs_scanner_create: threshold %g is not in [0, 1]", o.threshold);
    int c, h, w;
    zs_net_input_shape(net, &c, &h, &w);
    ZS_RETURN_IF(c != 1 || h != ZS_N_MELS || w != ZS_N_FRAMES, ZS_ESHAPE,
                 "the model takes inputs of (C, H, W) = (%d, %d, %d); the audio front end gives (1, %d, %d)",
                 c, h, w, ZS_N_MELS, ZS_N_FRAMES);
    int k = zs_net_num_classes(net);
    ZS_RETURN_IF(k < 1, ZS_EINVAL, "the model has no classes");
    zs_scanner *s = calloc(1, sizeof *s);
    ZS_RETURN_IF(!s, ZS_ENOMEM, "zs_scanner_create: out of memory");
    s->net = net;
    s->k = k;
    s->smooth = o.smooth;
    s->hop = (int)lround(o.hop_s * ZS_SAMPLE_RATE);
    s->hop_s = (double)s->hop / ZS_SAMPLE_RATE;
    s->threshold = o.threshold;
    s->total_s = INFINITY;
    s->is_word = zs_calloc((size_t)k, sizeof(int));
    s->logp = zs_calloc((size_t)k, sizeof(float));
    s->hist = zs_calloc((size_t)o.smooth * (size_t)k, sizeof(float));
    s->avg = zs_calloc((size_t)k, sizeof(float));
    s->win = zs_calloc(ZS_CLIP_SAMPLES, sizeof(float));
    zs_status st = s->is_word && s->logp && s->hist && s->avg && s->win
                       ? zs_frontend_create(&s->fe) : ZS_ERR(ZS_ENOMEM, "zs_scanner_create: out of memory");
    if (st != ZS_OK) { zs_scanner_free(s); return st; }
    for (int i = 0; i < k; i++) {
        const char *nm = zs_net_class_name(net, i);
        s->is_word[i] = nm ? zs_label_is_word(nm) : 1;
    }
    *out = s;
    return ZS_OK;
}

static zs_status emit(zs_scanner *s) {
    if (!s->seg_open) return ZS_OK;
    s->seg_open = 0;
    if (s->q_head + s->q_len == s->q_cap) {
        if (s->q_head) {
            memmove(s->q, s->q + s->q_head, s->q_len * sizeof *s->q);
            s->q_head = 0;
        } else {
            size_t cap = s->q_cap ? 2 * s->q_cap : 16;
            zs_detection *nq = realloc(s->q, cap * sizeof *nq);
            ZS_RETURN_IF(!nq, ZS_ENOMEM, "zs_scanner: out of memory for detections");
            s->q = nq;
            s->q_cap = cap;
        }
    }
    zs_detection *d = &s->q[s->q_head + s->q_len++];
    d->start_s = s->seg_first * s->hop_s;
    d->end_s = s->seg_last * s->hop_s + 1.0;
    if (d->end_s > s->total_s) d->end_s = s->total_s;
    if (d->end_s < d->start_s) d->end_s = d->start_s;
    d->label = s->seg_label;
    d->confidence = s->seg_conf;
    return ZS_OK;
}

/* Decide window k with the windows [k - (N-1)/2, last] that are available. */
static zs_status decide(zs_scanner *s, long k, long last) {
    int K = s->k;
    long from = k - (s->smooth - 1) / 2;
    if (from < 0) from = 0;
    memset(s->avg, 0, sizeof(float) * (size_t)K);
    for (long j = from; j <= last; j++) {
        const float *p = s->hist + (size_t)(j % s->smooth) * (size_t)K;
        for (int i = 0; i < K; i++) s->avg[i] += p[i];
    }
    float inv = 1.0f / (float)(last - from + 1);
    int best = -1;
    for (int i = 0; i < K; i++) {
        s->avg[i] *= inv;
        if (s->is_word[i] && (best < 0 || s->avg[i] > s->avg[best])) best = i;
    }
    int hit = best >= 0 && s->avg[best] > s->threshold;
    zs_status st = ZS_OK;
    if (s->seg_open && (!hit || best != s->seg_label || k != s->seg_last + 1)) st = emit(s);
    if (st != ZS_OK || !hit) return st;
    if (!s->seg_open) {
        s->seg_open = 1;
        s->seg_label = best;
        s->seg_first = k;
        s->seg_conf = 0;
    }
    s->seg_last = k;
    if (s->avg[best] > s->seg_conf) s->seg_conf = s->avg[best];
    return ZS_OK;
}

/* Classify the current window into the history ring, then decide the window
 * smooth/2 back (its lookahead is complete). */
static zs_status scan_window(zs_scanner *s) {
    float feat[ZS_N_MELS * ZS_N_FRAMES];
    float *p = s->hist + (size_t)(s->n_windows % s->smooth) * (size_t)s->k;
    zs_status st = zs_frontend_logmel(s->fe, s->win, feat);
    if (st == ZS_OK) st = zs_net_infer(s->net, feat, 1, s->logp);
    if (st != ZS_OK) return st;
    for (int i = 0; i < s->k; i++) p[i] = expf(s->logp[i]);
    long j = s->n_windows++;
    long k = j - s->smooth / 2;
    if (k >= 0) {
        st = decide(s, k, j);
        s->next_decide = k + 1;
    }
    return st;
}

zs_status zs_scanner_push(zs_scanner *s, const float *x, size_t n) {
    ZS_RETURN_IF(!s || (!x && n), ZS_EINVAL, "zs_scanner_push: NULL argument");
    ZS_RETURN_IF(s->finished, ZS_EINVAL, "zs_scanner_push: the stream was finished");
    ZS_RETURN_IF(s->failed, ZS_EINVAL, "zs_scanner_push: an earlier call failed");
    while (n) {
        size_t k = ZS_CLIP_SAMPLES - s->filled;
        if (k > n) k = n;
        memcpy(s->win + s->filled, x, k * sizeof(float));
        s->filled += k;
        s->total += k;
        x += k;
        n -= k;
        if (s->filled == ZS_CLIP_SAMPLES) {
            zs_status st = scan_window(s);
            if (st != ZS_OK) { s->failed = 1; return st; }
            memmove(s->win, s->win + s->hop, sizeof(float) * (size_t)(ZS_CLIP_SAMPLES - s->hop));
            s->filled -= (size_t)s->hop;
        }
    }
    return ZS_OK;
}

zs_status zs_scanner_finish(zs_scanner *s) {
    ZS_RETURN_IF(!s, ZS_EINVAL, "zs_scanner_finish: NULL argument");
    ZS_RETURN_IF(s->finished, ZS_EINVAL, "zs_scanner_finish: the stream was finished");
    ZS_RETURN_IF(s->failed, ZS_EINVAL, "zs_scanner_finish: an earlier call failed");
    s->finished = 1;
    ZS_RETURN_IF(s->total == 0, ZS_EFORMAT, "no audio samples");
    s->total_s = (double)s->total / ZS_SAMPLE_RATE;
    zs_status st = ZS_OK;
    /* the last, zero-padded window if it holds audio no window has seen */
    if (s->filled > (size_t)(ZS_CLIP_SAMPLES - s->hop) || (s->n_windows == 0 && s->filled > 0)) {
        memset(s->win + s->filled, 0, sizeof(float) * (ZS_CLIP_SAMPLES - s->filled));
        st = scan_window(s);
    }
    for (long k = s->next_decide; st == ZS_OK && k < s->n_windows; k++) st = decide(s, k, s->n_windows - 1);
    if (st == ZS_OK) st = emit(s);
    if (st != ZS_OK) s->failed = 1;
    return st;
}

int zs_scanner_next(zs_scanner *s, zs_detection *d) {
    if (!s || !d || s->q_len == 0) return 0;
    *d = s->q[s->q_head++];
    if (--s->q_len == 0) s->q_head = 0;
    return 1;
}

long zs_scanner_windows(const zs_scanner *s) { return s ? s->n_windows : 0; }
double zs_scanner_seconds(const zs_scanner *s) {
    return s ? (double)s->total / ZS_SAMPLE_RATE : 0.0;
}
