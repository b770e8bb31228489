/*
 * train_sparse.c — the sparse-aware training path (see train_sparse.h).
 */
#include "train_sparse.h"
#include "layers.h"
#include "kernels/kernels.h"
#include "train_sparse_kern.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Per-layer training state, in zs_layer.train. */
typedef struct ts_layer {
    /* k-WTA */
    float *f;          /* (G) boost factors                                 */
    void *work;        /* kwta_select work                                  */
    int32_t *eidx;     /* (U + 16) emitted winners                          */
    float *eval;
    size_t units;
    /* conv2d / linear: kept-weight lists built from the mask */
    uint8_t *mask_copy;  /* the mask the lists were built from (NULL: dense) */
    int built, use;      /* lists valid; last forward took the fast path      */
    int sgd_clean;       /* masked weights and momenta verified 0 (lists' mask) */
    int32_t nk;          /* kept weights                                      */
    int32_t *tstart, *toff, *twi, *cstart, *coff, *cwi;
    int32_t *rm_wi, *rm_pos; /* linear: kept weights in row-major order, list position */
    float *tw, *cw, *dwl;
    float *xp, *dyp, *dyq; /* conv scratch (one sample)                       */
    float *xt, *yt;        /* linear: (I, TS_NB) and (O, TS_NB) sample blocks  */
    int32_t *origin;       /* max-pool: window origin of each output (one plane) */
    int32_t *wmap;         /* max-pool: window of each input position (plane), -1 */
    double *acc;           /* BN: 2 C accumulators                            */
    int deferred;          /* k-WTA: backward left to the BatchNorm below      */
    /* conv2d with a sparse input (mode 1): channel-vector forms */
    int mode;
    float *Wt, *dWt, *vT;  /* (fan_in, Cop) x2, (P, Cop)                       */
    int32_t *pstart, *pc, *cst, *ey, *ex, *nidx, *nc, *ny, *nx;
    float *pv, *ev;
    uint8_t *need, *need2; /* need maps (see need_map)                         */
    size_t need_size;
    ts_conv_geom g;
} ts_layer;

int zs_ts_enabled(const zs_net *net) {
    if (!net->training) return 0;
    /* nupic ties (more than k winners) run on the reference layers */
    for (int i = 0; i < net->n_layers; i++)
        if (net->layers[i].ties_nupic) return 0;
    const char *e = getenv("ZS_TRAIN_REF");
    return !(e && *e && strcmp(e, "0"));
}

static void convs_free(ts_layer *t) {
    zs_free_aligned(t->Wt); zs_free_aligned(t->dWt); zs_free_aligned(t->vT);
    free(t->pstart); free(t->pc); free(t->pv); free(t->cst); free(t->ey); free(t->ex); free(t->ev);
    free(t->nidx); free(t->nc); free(t->ny); free(t->nx);
    t->Wt = t->dWt = t->vT = t->pv = t->ev = NULL;
    t->pstart = t->pc = t->cst = t->ey = t->ex = t->nidx = t->nc = t->ny = t->nx = NULL;
}

static void ts_layer_free(ts_layer *t) {
    if (!t) return;
    free(t->f);
    free(t->work);
    free(t->eidx);
    free(t->eval);
    free(t->mask_copy);
    free(t->tstart); free(t->toff); free(t->twi); free(t->cstart); free(t->coff); free(t->cwi);
    free(t->tw); free(t->cw); free(t->dwl);
    free(t->xp); free(t->dyp); free(t->dyq);
    zs_free_aligned(t->xt); zs_free_aligned(t->yt);
    free(t->rm_wi); free(t->rm_pos);
    free(t->origin); free(t->wmap); free(t->acc);
    convs_free(t);
    free(t->need); free(t->need2);
    free(t);
}

void zs_ts_free(zs_net *net) {
    if (!net || !net->layers) return;
    for (int i = 0; i < net->n_layers; i++) {
        ts_layer_free(net->layers[i].train);
        net->layers[i].train = NULL;
    }
}

static ts_layer *ts_get(zs_layer *L) {
    if (!L->train) L->train = calloc(1, sizeof(ts_layer));
    return L->train;
}

/* ------------------------------------------------------------------ k-WTA */

static int kwta_alloc(ts_layer *t, const zs_layer *L, int G) {
    if (t->f && t->units == L->in_size) return 1;
    free(t->f); free(t->work); free(t->eidx); free(t->eval);
    t->units = L->in_size;
    t->f = malloc(sizeof(float) * (size_t)G);
    t->work = malloc(zs_kwta_work_size((int)L->in_size));
    t->eidx = malloc(sizeof(int32_t) * (L->in_size + 16));
    t->eval = malloc(sizeof(float) * (L->in_size + 16));
    if (!t->f || !t->work || !t->eidx || !t->eval) {
        free(t->f); free(t->work); free(t->eidx); free(t->eval);
        t->f = NULL; t->work = NULL; t->eidx = NULL; t->eval = NULL;
        return 0;
    }
    return 1;
}

/* Global k-WTA (1d, or 2d with local = 0) in training mode: the winners of
 * zs_kwinners(2d)_forward with k = L->k, the same dense output, winners
 * list and duty-cycle update. */
static int kwta_forward(zs_layer *L, const float *x, int N) {
    if (L->type == ZS_KWINNERS2D && L->local) return 0;
    if (L->in_size > (size_t)1 << 30) return 0;
    int U = (int)L->in_size;
    int G = L->type == ZS_KWINNERS2D ? L->in_c : U, S = L->type == ZS_KWINNERS2D ? L->in_h * L->in_w : 1;
    ts_layer *t = ts_get(L);
    if (!t || !kwta_alloc(t, L, G)) return 0;
    const zs_kernels *K = zs_kernels_active();
    int k = L->k;
    float td = (float)((double)k / U);
    int kk = k < U ? k : U;
    K->boost(t->f, L->duty, G, td, L->boost_strength); /* expf's bits, as the reference layer */
    L->win.kmax = kk;
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * U;
        float *y = L->out + (size_t)n * U;
        zs_kwta_cut cut;
        K->kwta_select(&cut, xn, t->f, G, S, kk, t->work);
        int c = K->kwta_emit(t->eidx, t->eval, xn, t->f, G, S, cut);
        if (c > kk) c = kk; /* cannot happen: the cut takes exactly kk */
        L->win.count[n] = c;
        int32_t *wi = L->win.idx + (size_t)n * kk;
        float *wv = L->win.val + (size_t)n * kk;
        memcpy(wi, t->eidx, sizeof(int32_t) * (size_t)c);
        memcpy(wv, t->eval, sizeof(float) * (size_t)c);
        memset(y, 0, sizeof(float) * (size_t)U);
        for (int j = 0; j < c; j++) y[wi[j]] = wv[j];
    }
    /* duty cycles: the rule of zs_kwinners_update_duty, counting outputs > 0
     * from the winners lists (every other output is 0) */
    L->learning_iterations += N;
    int64_t period = L->learning_iterations < L->duty_cycle_period ? L->learning_iterations : L->duty_cycle_period;
    int64_t *icnt = (int64_t *)(void *)t->work; /* work holds >= 2U + 64 int32 >= G int64 */
    memset(icnt, 0, sizeof(int64_t) * (size_t)G);
    for (int n = 0; n < N; n++) {
        const int32_t *wi = L->win.idx + (size_t)n * kk;
        const float *wv = L->win.val + (size_t)n * kk;
        int g = 0, gb = 0; /* winners ascend: track the group */
        for (int j = 0; j < L->win.count[n]; j++) {
            while (wi[j] >= gb + S) { g++; gb += S; }
            icnt[g] += wv[j] > 0.0f;
        }
    }
    for (int g = 0; g < G; g++) {
        float active = (float)icnt[g] / (float)S;
        float d = L->duty[g] * (float)(period - N);
        d = d + active;
        L->duty[g] = d / (float)period;
    }
    return 1;
}

/* ------------------------------------------------------------------ conv2d / linear */

static const ts_kern *kern_active(void) {
    switch (zs_isa_active()) {
    case ZS_ISA_AVX512: return &zs_ts_kern_avx512;
    case ZS_ISA_AVX2: return &zs_ts_kern_avx2;
    default: return &zs_ts_kern_scalar;
    }
}

static void lists_free(ts_layer *t) {
    free(t->mask_copy); free(t->tstart); free(t->toff); free(t->twi); free(t->cstart); free(t->coff);
    free(t->cwi); free(t->tw); free(t->cw); free(t->dwl); free(t->xp); free(t->dyp); free(t->dyq);
    free(t->rm_wi); free(t->rm_pos);
    zs_free_aligned(t->xt); zs_free_aligned(t->yt);
    t->xt = t->yt = NULL;
    convs_free(t);
    t->rm_wi = t->rm_pos = NULL;
    t->mask_copy = NULL; t->tstart = t->toff = t->twi = t->cstart = t->coff = t->cwi = NULL;
    t->tw = t->cw = t->dwl = t->xp = t->dyp = t->dyq = NULL;
    t->built = 0;
}

static inline int kept(const zs_layer *L, size_t i) { return !L->mask || L->mask[i]; }

/* (Re)build the kept-weight lists when the mask changed (or never built).
 * conv2d: taps per output channel and per input channel (train_sparse_kern.h).
 * linear: per input column i the kept outputs o (tstart/toff = o, twi). */
static int lists_build(ts_layer *t, const zs_layer *L) {
    if (t->built && (!L->mask || !memcmp(t->mask_copy, L->mask, L->n_weights))) return 1;
    lists_free(t);
    t->sgd_clean = 0;
    size_t nk = 0;
    for (size_t i = 0; i < L->n_weights; i++) nk += kept(L, i);
    if (nk > (size_t)INT32_MAX / 2) return 0;
    t->nk = (int32_t)nk;
    size_t ns = nk ? nk : 1;
    if (L->mask && !(t->mask_copy = malloc(L->n_weights))) goto fail;
    if (L->mask) memcpy(t->mask_copy, L->mask, L->n_weights);
    t->toff = malloc(sizeof(int32_t) * ns); t->twi = malloc(sizeof(int32_t) * ns);
    t->tw = malloc(sizeof(float) * ns); t->dwl = malloc(sizeof(float) * ns);
    if (!t->toff || !t->twi || !t->tw || !t->dwl) goto fail;
    if (L->type == ZS_LINEAR) {
        int I = (int)L->fan_in, O = L->out_c;
        if (!(t->tstart = calloc((size_t)I + 1, sizeof(int32_t)))) goto fail;
        for (int o = 0; o < O; o++)
            for (int i = 0; i < I; i++) t->tstart[i + 1] += kept(L, (size_t)o * I + i);
        for (int i = 0; i < I; i++) t->tstart[i + 1] += t->tstart[i];
        int32_t *pos = malloc(sizeof(int32_t) * ((size_t)I + 1));
        t->rm_wi = malloc(sizeof(int32_t) * ns);
        t->rm_pos = malloc(sizeof(int32_t) * ns);
        if (!pos || !t->rm_wi || !t->rm_pos) { free(pos); goto fail; }
        memcpy(pos, t->tstart, sizeof(int32_t) * ((size_t)I + 1));
        size_t k = 0;
        for (int o = 0; o < O; o++)
            for (int i = 0; i < I; i++) {
                size_t wi = (size_t)o * I + i;
                if (!kept(L, wi)) continue;
                int32_t j = pos[i]++;
                t->toff[j] = o;
                t->twi[j] = (int32_t)wi;
                t->rm_wi[k] = (int32_t)wi;
                t->rm_pos[k++] = j;
            }
        free(pos);
        t->xt = zs_alloc_aligned((size_t)I * TS_NB, sizeof(float));
        t->yt = zs_alloc_aligned((size_t)O * TS_NB, sizeof(float));
        if (!t->xt || !t->yt) goto fail;
        t->built = 1;
        return 1;
    }
    /* conv2d */
    ts_conv_geom *g = &t->g;
    g->Ci = L->in_c; g->H = L->in_h; g->W = L->in_w; g->Co = L->out_c; g->Kh = L->kh; g->Kw = L->kw;
    g->pad = L->pad; g->Ho = L->out_h; g->Wo = L->out_w;
    g->Hp = g->H + 2 * g->pad; g->Wp = g->W + 2 * g->pad; g->Wop = (g->Wo + 15) / 16 * 16;
    g->Hq = g->Ho + 2 * (g->Kh - 1); g->Wq = g->Wo + 2 * (g->Kw - 1);
    g->Cop = (g->Co + TS_COP - 1) / TS_COP * TS_COP;
    if ((int64_t)g->Ci * g->Hp * g->Wp > INT32_MAX / 2 || (int64_t)g->Co * g->Hq * g->Wq > INT32_MAX / 2) goto fail;
    t->tstart = malloc(sizeof(int32_t) * ((size_t)g->Co + 1));
    t->cstart = calloc((size_t)g->Ci + 1, sizeof(int32_t));
    t->coff = malloc(sizeof(int32_t) * ns); t->cwi = malloc(sizeof(int32_t) * ns);
    t->cw = malloc(sizeof(float) * ns);
    t->xp = calloc((size_t)g->Ci * g->Hp * g->Wp + TS_SLACK, sizeof(float));
    t->dyp = calloc((size_t)g->Co * g->Ho * g->Wop + TS_SLACK, sizeof(float));
    t->dyq = calloc((size_t)g->Co * g->Hq * g->Wq + TS_SLACK, sizeof(float));
    if (!t->tstart || !t->cstart || !t->coff || !t->cwi || !t->cw || !t->xp || !t->dyp || !t->dyq) goto fail;
    int KK = g->Kh * g->Kw;
    size_t j = 0;
    for (int o = 0; o < g->Co; o++) {
        t->tstart[o] = (int32_t)j;
        for (int c = 0; c < g->Ci; c++)
            for (int ky = 0; ky < g->Kh; ky++)
                for (int kx = 0; kx < g->Kw; kx++) {
                    size_t wi = (size_t)o * L->fan_in + (size_t)c * KK + ky * g->Kw + kx;
                    if (!kept(L, wi)) continue;
                    t->toff[j] = (c * g->Hp + ky) * g->Wp + kx;
                    t->twi[j++] = (int32_t)wi;
                    t->cstart[c + 1]++;
                }
    }
    t->tstart[g->Co] = (int32_t)j;
    for (int c = 0; c < g->Ci; c++) t->cstart[c + 1] += t->cstart[c];
    int32_t *pos = malloc(sizeof(int32_t) * ((size_t)g->Ci + 1));
    if (!pos) goto fail;
    memcpy(pos, t->cstart, sizeof(int32_t) * ((size_t)g->Ci + 1));
    for (int o = 0; o < g->Co; o++)
        for (int c = 0; c < g->Ci; c++)
            for (int ky = 0; ky < g->Kh; ky++)
                for (int kx = 0; kx < g->Kw; kx++) {
                    size_t wi = (size_t)o * L->fan_in + (size_t)c * KK + ky * g->Kw + kx;
                    if (!kept(L, wi)) continue;
                    int32_t q = pos[c]++;
                    t->coff[q] = (o * g->Hq + g->pad + g->Kh - 1 - ky) * g->Wq + g->pad + g->Kw - 1 - kx;
                    t->cwi[q] = (int32_t)wi;
                }
    free(pos);
    g->tstart = t->tstart; g->toff = t->toff; g->tw = t->tw;
    g->cstart = t->cstart; g->coff = t->coff; g->cw = t->cw;
    t->built = 1;
    return 1;
fail:
    lists_free(t);
    return 0;
}

/* The kept weights' current values into the lists: tw (forward), or cw
 * (conv dX). Linear gathers in row-major order (sequential reads of w). */
static void refresh_weights(ts_layer *t, const zs_layer *L, int which_cw) {
    if (which_cw) {
        for (int32_t j = 0; j < t->nk; j++) t->cw[j] = L->w[t->cwi[j]];
    } else if (t->rm_wi) {
        for (int32_t k = 0; k < t->nk; k++) t->tw[t->rm_pos[k]] = L->w[t->rm_wi[k]];
    } else {
        for (int32_t j = 0; j < t->nk; j++) t->tw[j] = L->w[t->twi[j]];
    }
}

/* dw = dwl at the kept weights (list order); zs_ts_zero_grads left dw
 * alone for this layer, and masked entries are always 0 (never written here,
 * zeroed by the reference backward). */
static void scatter_dw(const ts_layer *t, zs_layer *L) {
    if (t->rm_wi)
        for (int32_t k = 0; k < t->nk; k++) L->dw[t->rm_wi[k]] = t->dwl[t->rm_pos[k]];
    else
        for (int32_t j = 0; j < t->nk; j++) L->dw[t->twi[j]] = t->dwl[j];
}

/* The fast backward of layer L will write every kept dw (and masked dw are 0). */
static int owns_dw(const zs_layer *L) {
    const ts_layer *t = L->train;
    return (L->type == ZS_CONV2D || L->type == ZS_LINEAR) && t && t->use && t->built;
}

static void pad_input(float *xp, const float *x, const ts_conv_geom *g) {
    for (int c = 0; c < g->Ci; c++)
        for (int y = 0; y < g->H; y++)
            memcpy(xp + ((size_t)c * g->Hp + y + g->pad) * g->Wp + g->pad, x + ((size_t)c * g->H + y) * g->W,
                   sizeof(float) * (size_t)g->W);
}

/* Scratch of the sparse-input form (mode 1), allocated on first use. */
static int convs_alloc(ts_layer *t, const zs_layer *L) {
    if (t->Wt) return 1;
    const ts_conv_geom *g = &t->g;
    size_t U = L->in_size, S = (size_t)g->H * g->W, P = (size_t)g->Ho * g->Wo;
    t->Wt = zs_alloc_aligned(L->fan_in * (size_t)g->Cop, sizeof(float));
    t->dWt = zs_alloc_aligned(L->fan_in * (size_t)g->Cop, sizeof(float));
    t->vT = zs_alloc_aligned(P * (size_t)g->Cop, sizeof(float));
    t->pstart = malloc(sizeof(int32_t) * (S + 1));
    t->cst = malloc(sizeof(int32_t) * ((size_t)g->Ci + 1));
    t->pc = malloc(sizeof(int32_t) * (U + 1)); t->pv = malloc(sizeof(float) * (U + 1));
    t->ey = malloc(sizeof(int32_t) * U); t->ex = malloc(sizeof(int32_t) * U); t->ev = malloc(sizeof(float) * U);
    t->nidx = malloc(sizeof(int32_t) * U); t->nc = malloc(sizeof(int32_t) * U);
    t->ny = malloc(sizeof(int32_t) * U); t->nx = malloc(sizeof(int32_t) * U);
    if (!t->Wt || !t->dWt || !t->vT || !t->pstart || !t->cst || !t->pc || !t->pv || !t->ey || !t->ex || !t->ev ||
        !t->nidx || !t->nc || !t->ny || !t->nx) {
        convs_free(t);
        return 0;
    }
    return 1;
}

/* Wt (fan_in, Cop) = the kept weights transposed; the other lanes stay 0
 * (Wt is zeroed when allocated, and reallocated when the mask changes). */
static void convs_weights(ts_layer *t, const zs_layer *L) {
    int Cop = t->g.Cop;
    for (int o = 0; o < L->out_c; o++)
        for (int32_t j = t->tstart[o]; j < t->tstart[o + 1]; j++) {
            size_t f = (size_t)t->twi[j] - (size_t)o * L->fan_in;
            t->Wt[f * Cop + o] = L->w[t->twi[j]];
        }
}

/* conv2d with masked weights, stride 1. Dense input: kept taps per output
 * channel (mode 0). Input at most half non-zero: its non-zeros times the
 * channel vectors of the weights (mode 1). */
static int conv_forward(zs_layer *L, const float *x, int N) {
    if (!L->mask || L->stride != 1) return 0;
    ts_layer *t = ts_get(L);
    if (!t) return 0;
    t->use = 0;
    if (!lists_build(t, L)) return 0;
    const ts_kern *K = kern_active();
    const ts_conv_geom *g = &t->g;
    size_t tot = (size_t)N * L->in_size, nz = 0;
    for (size_t i = 0; i < tot; i++) nz += x[i] != 0.0f;
    t->mode = 2 * nz <= tot && convs_alloc(t, L);
    if (t->mode) {
        convs_weights(t, L);
        int S = g->H * g->W, P = g->Ho * g->Wo, Cop = g->Cop;
        for (int n = 0; n < N; n++) {
            const float *xn = x + (size_t)n * L->in_size;
            /* non-zeros per position (channels ascending) */
            memset(t->pstart, 0, sizeof(int32_t) * ((size_t)S + 1));
            for (int c = 0; c < g->Ci; c++)
                for (int r = 0; r < S; r++) t->pstart[r + 1] += xn[(size_t)c * S + r] != 0.0f;
            for (int r = 0; r < S; r++) t->pstart[r + 1] += t->pstart[r];
            int32_t *pos = t->nidx; /* scratch */
            memcpy(pos, t->pstart, sizeof(int32_t) * (size_t)S);
            for (int c = 0; c < g->Ci; c++)
                for (int r = 0; r < S; r++) {
                    /* branch-free: write, advance only past a non-zero (the
                     * last slot of a position may be overwritten later) */
                    float v = xn[(size_t)c * S + r];
                    int32_t e = pos[r], ew = e < t->pstart[r + 1] ? e : (int32_t)L->in_size; /* spare slot */
                    t->pc[ew] = c;
                    t->pv[ew] = v;
                    pos[r] = e + (v != 0.0f);
                }
            K->convs_fwd(t->vT, t->pstart, t->pc, t->pv, t->Wt, g);
            float *y = L->out + (size_t)n * L->out_size;
            for (int o = 0; o < g->Co; o++) {
                float b = L->b ? L->b[o] : 0.0f;
                for (int q = 0; q < P; q++) y[(size_t)o * P + q] = b + t->vT[(size_t)q * Cop + o];
            }
        }
        t->use = 1;
        return 1;
    }
    refresh_weights(t, L, 0);
    for (int n = 0; n < N; n++) {
        pad_input(t->xp, x + (size_t)n * L->in_size, g);
        K->conv_fwd(L->out + (size_t)n * L->out_size, t->xp, L->b, g);
    }
    t->use = 1;
    return 1;
}

/* Which input positions of layer li (sample n) have a gradient that is used:
 * when the layers below are max-pools / flattens over a k-WTA, only the
 * positions whose max-pool argmax (chain) lands on a winner; the others are
 * routed to non-winners and dropped by the k-WTA backward. Returns a byte
 * map over layers[li].in_size, or NULL when every position is needed. */
static const uint8_t *need_map(zs_net *net, int li, ts_layer *t, int n) {
    int j = li - 1;
    while (j >= 0 && (net->layers[j].type == ZS_FLATTEN || net->layers[j].type == ZS_MAXPOOL2D)) j--;
    if (j < 0 || (net->layers[j].type != ZS_KWINNERS && net->layers[j].type != ZS_KWINNERS2D)) return NULL;
    size_t mx = 0;
    for (int q = j; q < li; q++) mx = net->layers[q].out_size > mx ? net->layers[q].out_size : mx;
    if (t->need_size < mx) {
        free(t->need); free(t->need2);
        t->need = malloc(mx); t->need2 = malloc(mx);
        t->need_size = t->need && t->need2 ? mx : 0;
        if (!t->need_size) return NULL;
    }
    const zs_layer *K = &net->layers[j];
    uint8_t *cur = t->need, *nxt = t->need2;
    memset(cur, 0, K->out_size);
    const int32_t *wi = K->win.idx + (size_t)n * K->win.kmax;
    for (int q = 0; q < K->win.count[n]; q++) cur[wi[q]] = 1;
    for (int q = j + 1; q < li; q++) {
        const zs_layer *P = &net->layers[q];
        if (P->type != ZS_MAXPOOL2D) continue;
        int S = P->in_h * P->in_w, So = P->out_h * P->out_w;
        const int32_t *am = P->argmax + (size_t)n * P->out_size;
        for (int c = 0; c < P->in_c; c++)
            for (int p = 0; p < So; p++) nxt[c * So + p] = cur[c * S + am[c * So + p]];
        uint8_t *tmp = cur; cur = nxt; nxt = tmp;
    }
    return cur;
}


/* Backward of the sparse-input form: dW from the non-zero inputs, dX only at
 * the input positions whose gradient is used (need_map), 0 elsewhere. */
static void convs_backward(zs_net *net, int li, ts_layer *t, const float *x, float *din, int N) {
    zs_layer *L = &net->layers[li];
    const ts_kern *K = kern_active();
    const ts_conv_geom *g = &t->g;
    int S = g->H * g->W, P = g->Ho * g->Wo, Cop = g->Cop;
    memset(t->dWt, 0, sizeof(float) * L->fan_in * (size_t)Cop);
    memset(t->vT, 0, sizeof(float) * (size_t)P * Cop);
    for (int n = 0; n < N; n++) {
        const float *dy = L->dout + (size_t)n * L->out_size, *xn = x + (size_t)n * L->in_size;
        if (L->db)
            for (int o = 0; o < g->Co; o++) L->db[o] += (float)K->sum(dy + (size_t)o * P, P);
        for (int o = 0; o < g->Co; o++)
            for (int q = 0; q < P; q++) t->vT[(size_t)q * Cop + o] = dy[(size_t)o * P + q];
        int32_t m = 0;
        for (int c = 0; c < g->Ci; c++) {
            t->cst[c] = m;
            for (int iy = 0; iy < g->H; iy++)
                for (int ix = 0; ix < g->W; ix++) {
                    float v = xn[(size_t)c * S + iy * g->W + ix];
                    t->ey[m] = iy; t->ex[m] = ix; t->ev[m] = v; /* branch-free compaction */
                    m += v != 0.0f;
                }
        }
        t->cst[g->Ci] = m;
        K->convs_dw(t->dWt, t->cst, t->ey, t->ex, t->ev, t->vT, g);
        if (din) {
            float *dx = din + (size_t)n * L->in_size;
            const uint8_t *need = need_map(net, li, t, n);
            int nn = 0;
            for (int c = 0; c < g->Ci; c++)
                for (int iy = 0; iy < g->H; iy++)
                    for (int ix = 0; ix < g->W; ix++) {
                        int32_t i = c * S + iy * g->W + ix;
                        dx[i] = 0.0f;
                        t->nidx[nn] = i; t->nc[nn] = c; t->ny[nn] = iy; t->nx[nn] = ix; /* branch-free */
                        nn += !need || need[i];
                    }
            K->convs_dx(dx, t->nidx, t->nc, t->ny, t->nx, nn, t->Wt, t->vT, g);
        }
    }
    /* dW = dWt at the kept weights (twi is grouped by output channel) */
    for (int o = 0; o < g->Co; o++)
        for (int32_t j = t->tstart[o]; j < t->tstart[o + 1]; j++) {
            size_t f = (size_t)t->twi[j] - (size_t)o * L->fan_in;
            L->dw[t->twi[j]] = t->dWt[f * Cop + o];
        }
}

static int conv_backward(zs_net *net, int li, const float *x, float *din, int N) {
    zs_layer *L = &net->layers[li];
    ts_layer *t = L->train;
    /* the lists were built by the forward (the mask cannot change in between) */
    if (!t || !t->use || !t->built) return 0;
    if (t->mode) {
        convs_backward(net, li, t, x, din, N);
        return 1;
    }
    if (din) refresh_weights(t, L, 1);
    const ts_kern *K = kern_active();
    const ts_conv_geom *g = &t->g;
    int P = g->Ho * g->Wo;
    memset(t->dwl, 0, sizeof(float) * (size_t)(t->nk ? t->nk : 1));
    for (int n = 0; n < N; n++) {
        const float *dy = L->dout + (size_t)n * L->out_size;
        if (L->db)
            for (int o = 0; o < g->Co; o++) L->db[o] += (float)K->sum(dy + (size_t)o * P, P);
        pad_input(t->xp, x + (size_t)n * L->in_size, g);
        for (int o = 0; o < g->Co; o++)
            for (int y = 0; y < g->Ho; y++)
                memcpy(t->dyp + ((size_t)o * g->Ho + y) * g->Wop, dy + ((size_t)o * g->Ho + y) * g->Wo,
                       sizeof(float) * (size_t)g->Wo);
        K->conv_dw(t->dwl, t->dyp, t->xp, g);
        if (din) {
            for (int o = 0; o < g->Co; o++)
                for (int y = 0; y < g->Ho; y++)
                    memcpy(t->dyq + ((size_t)o * g->Hq + y + g->Kh - 1) * g->Wq + g->Kw - 1,
                           dy + ((size_t)o * g->Ho + y) * g->Wo, sizeof(float) * (size_t)g->Wo);
            K->conv_dx(din + (size_t)n * L->in_size, t->dyq, g);
        }
    }
    scatter_dw(t, L);
    return 1;
}

/* Block of nb <= TS_NB rows of x (nb, D) transposed into xt (D, TS_NB),
 * zero past nb. */
static void lin_block_in(float *xt, const float *x, int D, int nb) {
    if (nb < TS_NB) memset(xt, 0, sizeof(float) * (size_t)D * TS_NB);
    for (int n = 0; n < nb; n++) {
        const float *r = x + (size_t)n * D;
        for (int i = 0; i < D; i++) xt[(size_t)i * TS_NB + n] = r[i];
    }
}

/* linear with a sparse input (at most half non-zero) and masked (or small)
 * weights: per-column lists of kept weights, non-zero inputs only. */
static int linear_forward(zs_layer *L, const float *x, int N) {
    if (!L->mask && L->n_weights > 65536) return 0;
    size_t tot = (size_t)N * L->fan_in, nz = 0;
    for (size_t i = 0; i < tot; i++) nz += x[i] != 0.0f;
    ts_layer *t = ts_get(L);
    if (!t) return 0;
    t->use = 0;
    if (2 * nz > tot || !lists_build(t, L)) return 0;
    refresh_weights(t, L, 0);
    int I = (int)L->fan_in, O = L->out_c;
    const ts_kern *K = kern_active();
    for (int b0 = 0; b0 < N; b0 += TS_NB) {
        int nb = N - b0 < TS_NB ? N - b0 : TS_NB;
        lin_block_in(t->xt, x + (size_t)b0 * I, I, nb);
        memset(t->yt, 0, sizeof(float) * (size_t)O * TS_NB);
        K->lin_fwd_t(t->yt, t->xt, t->tstart, t->toff, t->tw, I);
        for (int n = 0; n < nb; n++) {
            float *y = L->out + (size_t)(b0 + n) * O;
            for (int o = 0; o < O; o++) y[o] = (L->b ? L->b[o] : 0.0f) + t->yt[(size_t)o * TS_NB + n];
        }
    }
    t->use = 1;
    return 1;
}

static int linear_backward(zs_net *net, int li, const float *x, float *din, int N) {
    zs_layer *L = &net->layers[li];
    ts_layer *t = L->train;
    /* lists and tw (the weights) are those of the forward */
    if (!t || !t->use || !t->built) return 0;
    int I = (int)L->fan_in, O = L->out_c;
    if (L->db)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < O; o++) L->db[o] += L->dout[(size_t)n * O + o];
    memset(t->dwl, 0, sizeof(float) * (size_t)(t->nk ? t->nk : 1));
    const ts_kern *K = kern_active();
    for (int b0 = 0; b0 < N; b0 += TS_NB) {
        int nb = N - b0 < TS_NB ? N - b0 : TS_NB;
        lin_block_in(t->xt, x + (size_t)b0 * I, I, nb);
        lin_block_in(t->yt, L->dout + (size_t)b0 * O, O, nb);
        /* dW at kept weights from the non-zero inputs of each column */
        for (int i = 0; i < I; i++) {
            const float *xc = t->xt + (size_t)i * TS_NB;
            int nzn[TS_NB], m = 0;
            for (int n = 0; n < nb; n++) if (xc[n] != 0.0f) nzn[m++] = n;
            if (!m) continue;
            for (int32_t j = t->tstart[i]; j < t->tstart[i + 1]; j++) {
                const float *d = t->yt + (size_t)t->toff[j] * TS_NB;
                float s = 0;
                for (int q = 0; q < m; q++) s += xc[nzn[q]] * d[nzn[q]];
                t->dwl[j] += s;
            }
        }
        if (din) {
            /* dX for the whole block (xt is free again) */
            K->lin_dx_t(t->xt, t->yt, t->tstart, t->toff, t->tw, I);
            for (int n = 0; n < nb; n++) {
                float *dx = din + (size_t)(b0 + n) * I;
                for (int i = 0; i < I; i++) dx[i] = t->xt[(size_t)i * TS_NB + n];
            }
        }
    }
    scatter_dw(t, L);
    return 1;
}

/* ------------------------------------------------------------------ batchnorm, maxpool */

/* BatchNorm2d in training mode (zs_batchnorm_forward with training = 1):
 * the same statistics (double accumulation of per-row vector sums) and the
 * same output formula. Vector rows only (S >= 8). */
static int bn_forward(zs_layer *L, const float *x, int N) {
    int C = L->in_c, S = L->in_h * L->in_w;
    if (S < 8) return 0;
    const ts_kern *K = kern_active();
    double cnt = (double)N * S;
    for (int c = 0; c < C; c++) {
        double s = 0, ss = 0;
        for (int n = 0; n < N; n++) s += K->sum(x + ((size_t)n * C + c) * S, S);
        double m = s / cnt;
        float mf = (float)m;
        for (int n = 0; n < N; n++) ss += K->sumsq_dev(x + ((size_t)n * C + c) * S, S, mf);
        /* sum (x - m)^2 = sum (x - mf)^2 - cnt (m - mf)^2 */
        ss -= cnt * (m - mf) * (m - mf);
        if (ss < 0) ss = 0;
        double var = ss / cnt;
        float mean = mf, invstd = (float)(1.0 / sqrt(var + L->bn_eps));
        L->save_mean[c] = mean;
        L->save_invstd[c] = invstd;
        L->running_mean[c] = (1.0f - L->bn_momentum) * L->running_mean[c] + L->bn_momentum * mean;
        float unb = (float)(cnt > 1 ? ss / (cnt - 1) : ss);
        L->running_var[c] = (1.0f - L->bn_momentum) * L->running_var[c] + L->bn_momentum * unb;
        float g = L->gamma ? L->gamma[c] : 1.0f, bb = L->beta ? L->beta[c] : 0.0f;
        for (int n = 0; n < N; n++)
            K->bn_apply(L->out + ((size_t)n * C + c) * S, x + ((size_t)n * C + c) * S, S, mean, invstd, g, bb);
    }
    L->num_batches_tracked++;
    return 1;
}

static int bn_backward(zs_net *net, int li, const float *x, float *din, int N) {
    zs_layer *L = &net->layers[li];
    int C = L->in_c, S = L->in_h * L->in_w;
    if (S < 8) return 0;
    const ts_kern *K = kern_active();
    double M = (double)N * S;
    zs_layer *KW = li + 1 < net->n_layers ? &net->layers[li + 1] : NULL;
    ts_layer *kt = KW ? KW->train : NULL;
    if (kt && kt->deferred) {
        /* the output gradient is KW's dout at KW's winners, 0 elsewhere */
        kt->deferred = 0;
        ts_layer *t = ts_get(L);
        if (!t) return 0;
        if (!t->acc && !(t->acc = malloc(sizeof(double) * 2 * (size_t)C))) return 0;
        double *sdy = t->acc, *sdyx = t->acc + C;
        memset(t->acc, 0, sizeof(double) * 2 * (size_t)C);
        for (int n = 0; n < N; n++) {
            const int32_t *wi = KW->win.idx + (size_t)n * KW->win.kmax;
            const float *dy = KW->dout + (size_t)n * L->out_size, *xn = x + (size_t)n * L->in_size;
            int c = 0, cb = 0;
            for (int j = 0; j < KW->win.count[n]; j++) {
                int32_t w = wi[j];
                while (w >= cb + S) { c++; cb += S; }
                sdy[c] += dy[w];
                sdyx[c] += (double)dy[w] * ((xn[w] - L->save_mean[c]) * L->save_invstd[c]);
            }
        }
        for (int c = 0; c < C; c++) {
            if (L->dgamma) L->dgamma[c] += (float)sdyx[c];
            if (L->dbeta) L->dbeta[c] += (float)sdy[c];
        }
        if (!din) return 1;
        for (int c = 0; c < C; c++) {
            float mean = L->save_mean[c], invstd = L->save_invstd[c], g = L->gamma ? L->gamma[c] : 1.0f;
            float a = (float)(sdy[c] / M), bq = (float)(sdyx[c] / M);
            for (int n = 0; n < N; n++) {
                size_t o = ((size_t)n * C + c) * S;
                K->bn_bwd_apply(din + o, x + o, NULL, S, mean, invstd, g * invstd, a, bq);
            }
        }
        for (int n = 0; n < N; n++) {
            const int32_t *wi = KW->win.idx + (size_t)n * KW->win.kmax;
            const float *dy = KW->dout + (size_t)n * L->out_size, *xn = x + (size_t)n * L->in_size;
            float *dx = din + (size_t)n * L->in_size;
            int c = 0, cb = 0;
            for (int j = 0; j < KW->win.count[n]; j++) {
                int32_t w = wi[j];
                while (w >= cb + S) { c++; cb += S; }
                float mean = L->save_mean[c], invstd = L->save_invstd[c], g = L->gamma ? L->gamma[c] : 1.0f;
                float a = (float)(sdy[c] / M), bq = (float)(sdyx[c] / M);
                float xh = (xn[w] - mean) * invstd;
                dx[w] = g * invstd * (dy[w] - a - xh * bq);
            }
        }
        return 1;
    }
    for (int c = 0; c < C; c++) {
        float mean = L->save_mean[c], invstd = L->save_invstd[c], g = L->gamma ? L->gamma[c] : 1.0f;
        double sdy = 0, sdyx = 0;
        for (int n = 0; n < N; n++) {
            size_t o = ((size_t)n * C + c) * S;
            K->bn_bwd_sums(x + o, L->dout + o, S, mean, invstd, &sdy, &sdyx);
        }
        if (L->dgamma) L->dgamma[c] += (float)sdyx;
        if (L->dbeta) L->dbeta[c] += (float)sdy;
        if (!din) continue;
        float a = (float)(sdy / M), bq = (float)(sdyx / M);
        for (int n = 0; n < N; n++) {
            size_t o = ((size_t)n * C + c) * S;
            K->bn_bwd_apply(din + o, x + o, L->dout + o, S, mean, invstd, g * invstd, a, bq);
        }
    }
    return 1;
}

/* One 2x2 window at output position p of plane xi: the reference's scan. */
static inline void pool_window(float *y, int32_t *am, const float *xi, int W, int b) {
    float m = xi[b];
    int32_t best = b;
    const int32_t off[3] = {1, W, W + 1};
    for (int k = 0; k < 3; k++) { /* branch-free selects */
        float v = xi[b + off[k]];
        int take = (v > m) | ((v != v) & (m == m));
        m = take ? v : m;
        best = take ? b + off[k] : best;
    }
    *y = m;
    *am = best;
}

/* The k-WTA layer whose winners are exactly the non-zeros of layer li's
 * input (its output, from this training forward), or NULL. */
static zs_layer *kwta_below(zs_net *net, int li, const float *x) {
    if (li < 1) return NULL;
    zs_layer *K = &net->layers[li - 1];
    if ((K->type != ZS_KWINNERS && K->type != ZS_KWINNERS2D) || x != K->out) return NULL;
    return K;
}

/* Window tables of a max-pool with stride == kernel (no overlap), in
 * ts_layer: origin[p] of each output p of a plane, wmap[r] the output whose
 * window holds input r, or -1. NULL if overlapping or out of memory. */
static ts_layer *pool_maps(zs_layer *L) {
    if (L->pool_stride != L->pool_k) return NULL;
    ts_layer *t = ts_get(L);
    if (!t) return NULL;
    if (t->origin) return t;
    int H = L->in_h, W = L->in_w, Ho = L->out_h, Wo = L->out_w, k = L->pool_k;
    t->origin = malloc(sizeof(int32_t) * (size_t)Ho * Wo);
    t->wmap = malloc(sizeof(int32_t) * (size_t)H * W);
    if (!t->origin || !t->wmap) { free(t->origin); free(t->wmap); t->origin = t->wmap = NULL; return NULL; }
    for (int r = 0; r < H * W; r++) t->wmap[r] = -1;
    for (int oy = 0; oy < Ho; oy++)
        for (int ox = 0; ox < Wo; ox++) {
            t->origin[oy * Wo + ox] = oy * k * W + ox * k;
            for (int ky = 0; ky < k; ky++)
                for (int kx = 0; kx < k; kx++) t->wmap[(oy * k + ky) * W + ox * k + kx] = oy * Wo + ox;
        }
    return t;
}

/* 2x2 stride-2 max-pool with argmax, as zs_maxpool2d_forward (first maximum
 * in row-major window order wins; NaN wins over numbers). Over a k-WTA
 * output only the windows holding a winner are scanned: the others are all
 * zeros, so their maximum is 0 at the window origin. */
static int maxpool_forward(zs_net *net, int li, const float *x, int N) {
    zs_layer *L = &net->layers[li];
    if (L->pool_k != 2 || L->pool_stride != 2) return 0;
    int H = L->in_h, W = L->in_w, Ho = L->out_h, Wo = L->out_w;
    zs_layer *KW = kwta_below(net, li, x);
    ts_layer *t = KW ? pool_maps(L) : NULL;
    if (t) {
        int S = H * W, So = Ho * Wo;
        for (int n = 0; n < N; n++) {
            float *y = L->out + (size_t)n * L->out_size;
            int32_t *am = L->argmax + (size_t)n * L->out_size;
            const float *xn = x + (size_t)n * L->in_size;
            memset(y, 0, sizeof(float) * L->out_size);
            for (int c = 0; c < L->in_c; c++) memcpy(am + (size_t)c * So, t->origin, sizeof(int32_t) * (size_t)So);
            const int32_t *wi = KW->win.idx + (size_t)n * KW->win.kmax;
            int c = 0, cb = 0; /* winners ascend: track the channel */
            for (int j = 0; j < KW->win.count[n]; j++) {
                while (wi[j] >= cb + S) { c++; cb += S; }
                int p = t->wmap[wi[j] - cb];
                if (p < 0) continue;
                pool_window(y + c * So + p, am + c * So + p, xn + cb, W, t->origin[p]);
            }
        }
        return 1;
    }
    for (size_t nc = 0; nc < (size_t)N * L->in_c; nc++) {
        const float *xi = x + nc * H * W;
        float *y = L->out + nc * Ho * Wo;
        int32_t *am = L->argmax + nc * Ho * Wo;
        for (int oy = 0; oy < Ho; oy++) {
            const float *r0 = xi + (size_t)2 * oy * W, *r1 = r0 + W;
            for (int ox = 0; ox < Wo; ox++) {
                int b = 2 * oy * W + 2 * ox;
                float m = r0[2 * ox], v;
                int32_t best = b;
                v = r0[2 * ox + 1]; if (v > m || (v != v && m == m)) { m = v; best = b + 1; }
                v = r1[2 * ox];     if (v > m || (v != v && m == m)) { m = v; best = b + W; }
                v = r1[2 * ox + 1]; if (v > m || (v != v && m == m)) { m = v; best = b + W + 1; }
                y[oy * Wo + ox] = m;
                am[oy * Wo + ox] = best;
            }
        }
    }
    return 1;
}

/* Max-pool backward (non-overlapping windows). Over a k-WTA: din only at
 * the winners (the k-WTA backward reads nothing else): a winner gets the
 * gradient of its window when it is the window's argmax, else 0. */
static int maxpool_backward(zs_net *net, int li, float *din, int N) {
    zs_layer *L = &net->layers[li];
    if (!din) return 1;
    if (L->pool_stride < L->pool_k) return 0;
    int H = L->in_h, W = L->in_w, Ho = L->out_h, Wo = L->out_w, S = H * W, So = Ho * Wo;
    zs_layer *KW = li >= 1 ? &net->layers[li - 1] : NULL;
    ts_layer *t = KW && (KW->type == ZS_KWINNERS || KW->type == ZS_KWINNERS2D) ? pool_maps(L) : NULL;
    if (t) {
        for (int n = 0; n < N; n++) {
            float *dx = din + (size_t)n * L->in_size;
            const float *dy = L->dout + (size_t)n * L->out_size;
            const int32_t *am = L->argmax + (size_t)n * L->out_size;
            const int32_t *wi = KW->win.idx + (size_t)n * KW->win.kmax;
            int c = 0, cb = 0;
            for (int j = 0; j < KW->win.count[n]; j++) {
                int32_t w = wi[j];
                while (w >= cb + S) { c++; cb += S; }
                int p = t->wmap[w - cb];
                dx[w] = p >= 0 && am[c * So + p] == w - cb ? dy[c * So + p] : 0.0f;
            }
        }
        return 1;
    }
    memset(din, 0, sizeof(float) * (size_t)N * L->in_size);
    zs_maxpool2d_backward(din, L->dout, L->argmax, N, L->in_c, H, W, Ho, Wo);
    return 1;
}

/* k-WTA backward: gradient only at the winners. Above a BatchNorm2d that the
 * fast path runs, nothing to do: that backward reads this layer's dout at
 * the winners (deferred). */
static int kwta_backward(zs_net *net, int li, float *din, int N) {
    zs_layer *L = &net->layers[li];
    ts_layer *t = ts_get(L);
    if (!t) return 0;
    t->deferred = 0;
    if (!din) return 1;
    zs_layer *B = li >= 1 ? &net->layers[li - 1] : NULL;
    if (B && B->type == ZS_BATCHNORM && B->in_h * B->in_w >= 8) {
        t->deferred = 1;
        return 1;
    }
    memset(din, 0, sizeof(float) * (size_t)N * L->in_size);
    zs_kwinners_backward(din, L->dout, L->win.count, L->win.idx, N, (int)L->in_size, L->win.kmax);
    return 1;
}

/* ------------------------------------------------------------------ dispatch */

int zs_ts_forward(zs_net *net, int li, const float *x, int N) {
    zs_layer *L = &net->layers[li];
    switch (L->type) {
    case ZS_KWINNERS:
    case ZS_KWINNERS2D: return kwta_forward(L, x, N);
    case ZS_CONV2D: return conv_forward(L, x, N);
    case ZS_LINEAR: return linear_forward(L, x, N);
    case ZS_BATCHNORM: return bn_forward(L, x, N);
    case ZS_MAXPOOL2D: return maxpool_forward(net, li, x, N);
    default: return 0;
    }
}

int zs_ts_backward(zs_net *net, int li, const float *x, float *din, int N) {
    zs_layer *L = &net->layers[li];
    switch (L->type) {
    case ZS_CONV2D: return conv_backward(net, li, x, din, N);
    case ZS_LINEAR: return linear_backward(net, li, x, din, N);
    case ZS_BATCHNORM: return bn_backward(net, li, x, din, N);
    case ZS_KWINNERS:
    case ZS_KWINNERS2D: return kwta_backward(net, li, din, N);
    case ZS_MAXPOOL2D: return maxpool_backward(net, li, din, N);
    default: return 0;
    }
}

void zs_ts_invalidate(zs_net *net) {
    for (int i = 0; i < net->n_layers; i++) {
        ts_layer *t = net->layers[i].train;
        if (t) t->use = t->deferred = 0;
    }
}

/* ------------------------------------------------------------------ SGD */

void zs_ts_zero_grads(zs_net *net) {
    size_t cov = 0;
    for (int i = 0; i < net->n_layers; i++) {
        zs_layer *L = &net->layers[i];
        if (L->type == ZS_CONV2D || L->type == ZS_LINEAR) cov += L->n_weights + (L->b ? (size_t)L->out_c : 0);
        else if (L->type == ZS_BATCHNORM && L->gamma) cov += 2 * (size_t)L->in_c;
    }
    if (cov != net->n_params) {
        memset(net->grads, 0, sizeof(float) * net->n_params);
        return;
    }
    for (int i = 0; i < net->n_layers; i++) {
        zs_layer *L = &net->layers[i];
        if (L->type == ZS_CONV2D || L->type == ZS_LINEAR) {
            if (!owns_dw(L)) memset(L->dw, 0, sizeof(float) * L->n_weights);
            if (L->db) memset(L->db, 0, sizeof(float) * (size_t)L->out_c);
        } else if (L->type == ZS_BATCHNORM && L->gamma) {
            memset(L->dgamma, 0, sizeof(float) * (size_t)L->in_c);
            memset(L->dbeta, 0, sizeof(float) * (size_t)L->in_c);
        }
    }
}

/* SGD over the kept weights only (sorted indices ki[0..n)), the same float
 * operations; masked entries (weight, gradient and momentum all 0) would
 * stay 0 under the full update: d = 0 + wd*0, buf = m*0 + 0, w = 0. */
static void sgd_kept(float *p, const float *g, float *buf, const int32_t *ki, int32_t n, float lr, float wd,
                     float m, int first) {
    for (int32_t k = 0; k < n; k++) {
        int32_t i = ki[k];
        float d = g[i] + wd * p[i];
        if (m > 0) {
            d = first ? d : m * buf[i] + d;
            buf[i] = d;
        }
        p[i] -= lr * d;
    }
}

/* 1 if every masked weight and momentum entry of L is 0 (checked once per
 * mask; afterwards the kept-only update keeps it so). */
static int masked_all_zero(const zs_layer *L) {
    for (size_t j = 0; j < L->n_weights; j++)
        if (!L->mask[j] && (L->w[j] != 0.0f || L->mw[j] != 0.0f || L->dw[j] != 0.0f)) return 0;
    return 1;
}

int zs_ts_sgd(zs_net *net, float lr, float wd, float m) {
    const ts_kern *K = kern_active();
    int first = net->steps == 0;
    size_t done = 0;
    for (int i = 0; i < net->n_layers; i++) {
        zs_layer *L = &net->layers[i];
        if (L->type == ZS_CONV2D || L->type == ZS_LINEAR) done += L->n_weights + (L->b ? (size_t)L->out_c : 0);
        else if (L->type == ZS_BATCHNORM && L->gamma) done += 2 * (size_t)L->in_c;
    }
    if (done != net->n_params) return 0;
#define SGD_(p, g, b, mask, n) K->sgd(p, g, b, mask, n, lr, wd, m, first)
    for (int i = 0; i < net->n_layers; i++) {
        zs_layer *L = &net->layers[i];
        if (L->type == ZS_CONV2D || L->type == ZS_LINEAR) {
            ts_layer *t = L->train;
            /* t->use: this step's forward validated the lists against the mask */
            if (L->mask && t && t->use && t->built &&
                (t->sgd_clean || (t->sgd_clean = masked_all_zero(L))))
                sgd_kept(L->w, L->dw, L->mw, t->rm_wi ? t->rm_wi : t->twi, t->nk, lr, wd, m, first);
            else
                SGD_(L->w, L->dw, L->mw, L->mask, L->n_weights);
            if (L->b) SGD_(L->b, L->db, L->mb, NULL, (size_t)L->out_c);
        } else if (L->type == ZS_BATCHNORM && L->gamma) {
            SGD_(L->gamma, L->dgamma, L->mgamma, NULL, (size_t)L->in_c);
            SGD_(L->beta, L->dbeta, L->mbeta, NULL, (size_t)L->in_c);
        }
    }
#undef SGD_
    return 1;
}
