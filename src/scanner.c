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
 * Word finding (zs_scan_opts.gate_db / centre / min_gap_s; all three on in
 * zs_scan_defaults, all off = the plain sliding window above):
 *  - gate_db > 0: frame powers of 10 ms frames; the noise floor is the 20th
 *    percentile of the window's frames, falling at once, rising by at most
 *    1 dB a window; a window whose loudest frame is less than gate_db above
 *    it (or below -70 dBFS) holds no word: its posterior is `silence` (all
 *    zeros without a silence class) and it is not classified;
 *  - centre: the word's core is the run of frames at most 25 dB below the
 *    loudest (and above the gate) around the loudest frame, gaps of up to
 *    100 ms bridged; a window whose core touches either edge (30 ms)
 *    holds a cut word and gets no vote; otherwise it is re-cut so that the
 *    core is centred in 1 s, zero-padded, as `dataset build` centres
 *    training clips (zs_clip_fit_centred), and classified. The moving
 *    average skips windows without a vote;
 *  - min_gap_s > 0: a run of hits is one detection whatever the best word of
 *    each window, labelled with the word of largest summed smoothed
 *    probability (confidence: that word's peak), and detections of the same
 *    word less than min_gap_s apart merge into one.
 *
 * What it is not: a decoder; no state besides the last `smooth`
 * posteriors, the noise floor and the open/held detections.
 */
#include "zs_internal.h"
#include <ctype.h>
#include <math.h>

#define FRAME 160
#define N_FR (ZS_CLIP_SAMPLES / FRAME)
#define CORE_DB 25.0
#define EDGE_FRAMES 3
#define GAP_FRAMES 10    /* 100 ms */
#define ABS_FLOOR 1e-7   /* mean power of a frame: -70 dBFS */

typedef struct event {
    int open;
    long first, last;
    float *sum, *peak;          /* (K) */
} event;

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
    /* word finding */
    double gate_db, min_gap_s, noise;
    int centre, silence;        /* silence: class index or -1 */
    char *state;                /* (smooth) ring: 'g' gated, 'e' cut word, 'c' classified */
    float *clip;                /* (ZS_CLIP_SAMPLES) the centred window */
    event run, pend;
};

zs_scan_opts zs_scan_defaults(void) {
    zs_scan_opts o = {0.1, 3, 0.5, 10.0, 1, 0.3};
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
    free(s->state);
    free(s->clip);
    free(s->run.sum);
    free(s->run.peak);
    free(s->pend.sum);
    free(s->pend.peak);
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
    ZS_RETURN_IF(!(o.gate_db >= 0.0 && o.gate_db <= 60.0), ZS_EINVAL,
                 "zs_scanner_create: gate %g dB is not in [0, 60]", o.gate_db);
    ZS_RETURN_IF(!(o.min_gap_s >= 0.0 && o.min_gap_s <= 10.0), ZS_EINVAL,
                 "zs_scanner_create: min gap %g s is not in [0, 10]", o.min_gap_s);
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
    s->gate_db = o.gate_db;
    s->centre = o.centre != 0;
    s->min_gap_s = o.min_gap_s;
    s->noise = -1;
    s->silence = -1;
    s->state = zs_calloc((size_t)o.smooth, 1);
    s->clip = zs_calloc(ZS_CLIP_SAMPLES, sizeof(float));
    s->run.sum = zs_calloc((size_t)k, sizeof(float));
    s->run.peak = zs_calloc((size_t)k, sizeof(float));
    s->pend.sum = zs_calloc((size_t)k, sizeof(float));
    s->pend.peak = zs_calloc((size_t)k, sizeof(float));
    zs_status st = s->is_word && s->logp && s->hist && s->avg && s->win && s->state && s->clip && s->run.sum &&
                           s->run.peak && s->pend.sum && s->pend.peak
                       ? zs_frontend_create(&s->fe) : ZS_ERR(ZS_ENOMEM, "zs_scanner_create: out of memory");
    if (st != ZS_OK) { zs_scanner_free(s); return st; }
    for (int i = 0; i < k; i++) {
        const char *nm = zs_net_class_name(net, i);
        s->is_word[i] = nm ? zs_label_is_word(nm) : 1;
        if (nm && !s->is_word[i] && strstr(nm, "silence")) s->silence = i;
    }
    *out = s;
    return ZS_OK;
}

static zs_status push_detection(zs_scanner *s, long first, long last, int label, float conf) {
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
    d->start_s = first * s->hop_s;
    d->end_s = last * s->hop_s + 1.0;
    if (d->end_s > s->total_s) d->end_s = s->total_s;
    if (d->end_s < d->start_s) d->end_s = d->start_s;
    d->label = label;
    d->confidence = conf;
    return ZS_OK;
}

static zs_status emit(zs_scanner *s) {
    if (!s->seg_open) return ZS_OK;
    s->seg_open = 0;
    return push_detection(s, s->seg_first, s->seg_last, s->seg_label, s->seg_conf);
}

/* min_gap mode: the word of largest summed smoothed probability. */
static int event_label(const zs_scanner *s, const event *e) {
    int best = -1;
    for (int i = 0; i < s->k; i++)
        if (s->is_word[i] && (best < 0 || e->sum[i] > e->sum[best])) best = i;
    return best;
}

static zs_status event_emit(zs_scanner *s, event *e) {
    if (!e->open) return ZS_OK;
    e->open = 0;
    int best = event_label(s, e);
    return push_detection(s, e->first, e->last, best, e->peak[best]);
}

/* A run of hits has ended: merge it into the held detection if it is the
 * same word and starts less than min_gap_s after its end, else report the
 * held one and hold this one. */
static zs_status run_close(zs_scanner *s) {
    if (!s->run.open) return ZS_OK;
    zs_status st = ZS_OK;
    if (s->pend.open && (double)(s->run.first - s->pend.last - 1) * s->hop_s < s->min_gap_s &&
        event_label(s, &s->run) == event_label(s, &s->pend)) {
        s->pend.last = s->run.last;
        for (int i = 0; i < s->k; i++) {
            s->pend.sum[i] += s->run.sum[i];
            if (s->run.peak[i] > s->pend.peak[i]) s->pend.peak[i] = s->run.peak[i];
        }
    } else {
        st = event_emit(s, &s->pend);
        event t = s->pend;
        s->pend = s->run;
        s->run = t;
        s->pend.open = 1;
    }
    s->run.open = 0;
    return st;
}

/* Decide window k with the windows [k - (N-1)/2, last] that are available. */
static zs_status decide(zs_scanner *s, long k, long last) {
    int K = s->k;
    long from = k - (s->smooth - 1) / 2;
    if (from < 0) from = 0;
    memset(s->avg, 0, sizeof(float) * (size_t)K);
    int votes = 0;
    for (long j = from; j <= last; j++) {
        if (s->state[j % s->smooth] == 'e') continue;   /* a cut word: no vote */
        const float *p = s->hist + (size_t)(j % s->smooth) * (size_t)K;
        for (int i = 0; i < K; i++) s->avg[i] += p[i];
        votes++;
    }
    float inv = votes ? 1.0f / (float)votes : 0.0f;
    int best = -1;
    for (int i = 0; i < K; i++) {
        s->avg[i] *= inv;
        if (s->is_word[i] && (best < 0 || s->avg[i] > s->avg[best])) best = i;
    }
    int hit = best >= 0 && s->avg[best] > s->threshold;
    zs_status st = ZS_OK;
    if (s->min_gap_s > 0) {
        if (s->run.open && (!hit || k != s->run.last + 1)) st = run_close(s);
        if (st != ZS_OK || !hit) return st;
        if (!s->run.open) {
            s->run.open = 1;
            s->run.first = k;
            memset(s->run.sum, 0, sizeof(float) * (size_t)K);
            memset(s->run.peak, 0, sizeof(float) * (size_t)K);
        }
        s->run.last = k;
        for (int i = 0; i < K; i++) {
            s->run.sum[i] += s->avg[i];
            if (s->avg[i] > s->run.peak[i]) s->run.peak[i] = s->avg[i];
        }
        return ZS_OK;
    }
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

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Gate and centre the current window (gate_db, centre): the window to
 * classify (NULL: none) and its state. */
static const float *word_window(zs_scanner *s, float *p, char *state) {
    *state = 'c';
    if (s->gate_db <= 0 && !s->centre) return s->win;
    double e[N_FR], sorted[N_FR], emax = 0;
    for (int f = 0; f < N_FR; f++) {
        double acc = 0;
        for (int i = f * FRAME; i < (f + 1) * FRAME; i++) acc += (double)s->win[i] * s->win[i];
        e[f] = sorted[f] = acc / FRAME;
        if (e[f] > emax) emax = e[f];
    }
    double gate = 0;
    if (s->gate_db > 0) {
        qsort(sorted, N_FR, sizeof *sorted, cmp_double);
        double p20 = sorted[N_FR / 5];
        if (s->noise < 0 || p20 < s->noise) s->noise = p20;
        else s->noise = fmin(p20, s->noise * 1.2589254); /* +1 dB a window at most */
        gate = fmax(s->noise * pow(10.0, s->gate_db / 10.0), ABS_FLOOR);
        if (emax < gate) {
            memset(p, 0, sizeof(float) * (size_t)s->k);
            if (s->silence >= 0) p[s->silence] = 1.0f;
            *state = 'g';
            return NULL;
        }
    }
    if (!s->centre) return s->win;
    /* the loudest word: frames >= core around the loudest frame, bridging
     * quieter gaps of up to GAP_FRAMES (stops, short pauses inside a word) */
    double core = fmax(gate, emax * pow(10.0, -CORE_DB / 10.0));
    int loud = 0;
    for (int f = 1; f < N_FR; f++) if (e[f] > e[loud]) loud = f;
    int first = loud, last = loud;
    for (int f = loud - 1, gap = 0; f >= 0 && gap <= GAP_FRAMES; f--) {
        if (e[f] >= core) { first = f; gap = 0; } else gap++;
    }
    for (int f = loud + 1, gap = 0; f < N_FR && gap <= GAP_FRAMES; f++) {
        if (e[f] >= core) { last = f; gap = 0; } else gap++;
    }
    if (emax <= 0 || first < EDGE_FRAMES || last >= N_FR - EDGE_FRAMES) {
        memset(p, 0, sizeof(float) * (size_t)s->k);
        *state = 'e';
        return NULL;
    }
    long start = (long)(first + last + 1) * FRAME / 2 - ZS_CLIP_SAMPLES / 2;
    for (long i = 0; i < ZS_CLIP_SAMPLES; i++) {
        long j = start + i;
        s->clip[i] = j >= 0 && j < ZS_CLIP_SAMPLES ? s->win[j] : 0.0f;
    }
    return s->clip;
}

/* Classify the current window into the history ring, then decide the window
 * smooth/2 back (its lookahead is complete). */
static zs_status scan_window(zs_scanner *s) {
    float feat[ZS_N_MELS * ZS_N_FRAMES];
    float *p = s->hist + (size_t)(s->n_windows % s->smooth) * (size_t)s->k;
    char state;
    const float *w = word_window(s, p, &state);
    s->state[s->n_windows % s->smooth] = state;
    if (w) {
        zs_status st = zs_frontend_logmel(s->fe, w, feat);
        if (st == ZS_OK) st = zs_net_infer(s->net, feat, 1, s->logp);
        if (st != ZS_OK) return st;
        for (int i = 0; i < s->k; i++) p[i] = expf(s->logp[i]);
    }
    zs_status st = ZS_OK;
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
    if (st == ZS_OK) st = run_close(s);
    if (st == ZS_OK) st = event_emit(s, &s->pend);
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

int zs_scanner_window(const zs_scanner *s, long j, char *state, float *p) {
    if (!s || j < 0 || j >= s->n_windows || j < s->n_windows - s->smooth) return 0;
    if (state) *state = s->state[j % s->smooth];
    if (p) memcpy(p, s->hist + (size_t)(j % s->smooth) * (size_t)s->k, sizeof(float) * (size_t)s->k);
    return 1;
}
double zs_scanner_seconds(const zs_scanner *s) {
    return s ? (double)s->total / ZS_SAMPLE_RATE : 0.0;
}
