/*
 * dendrite.c — the active-dendrites layer (dendrite.h) and the
 * continual-learning MLP built on it (zs_cl_*, include/zeroskip.h): hidden
 * layers that are dense or sparse (fixed random weight masks), with ReLU or
 * k-WTA, optionally dendritic (context-gated), a linear output, softmax
 * cross-entropy, SGD, and optional synaptic intelligence (Zenke, Poole and
 * Ganguli 2017) on the feed-forward weights and biases.
 *
 * What it is not: part of zs_net (its own small object: the experiments of
 * docs/CONTINUAL.md compare its variants with one code path).
 */
#include "dendrite.h"
#include "zs_internal.h"
#include "layers.h"
#include "gemm.h"
#include <math.h>

/* one segment's response v . ctx (the one summation order every path uses,
 * so cached and fresh responses are bit-identical) */
static float seg_dot(const float *v, const float *ctx, int C) {
    float d = 0.0f;
    for (int c = 0; c < C; c++) d += v[c] * ctx[c];
    return d;
}

/* absolute-max selection among S responses d (ties: lower s) */
static int seg_pick(const float *d, int S) {
    int bs = 0;
    for (int s = 1; s < S; s++) if (fabsf(d[s]) > fabsf(d[bs])) bs = s;
    return bs;
}

void zs_dendrite_gate(float *dsel, int32_t *sel, const float *useg, const float *ctx, int U, int S, int C) {
    for (int u = 0; u < U; u++) {
        float best = 0.0f;
        int bs = 0;
        for (int s = 0; s < S; s++) {
            float d = seg_dot(useg + ((size_t)u * S + s) * C, ctx, C);
            if (s == 0 || fabsf(d) > fabsf(best)) { best = d; bs = s; }
        }
        dsel[u] = best;
        sel[u] = bs;
    }
}

/* y (U) = W x + b for one sample, visiting only the non-zero inputs (the
 * same sums as the dense loop: zero terms add nothing) */
static void linear_row(float *y, const float *x, const float *w, const float *b, int I, int U) {
    int nz = 0;
    for (int i = 0; i < I; i++) nz += x[i] != 0.0f;
    if (nz * 2 > I || I > 65536) {
        for (int u = 0; u < U; u++) {
            const float *wu = w + (size_t)u * I;
            float s = b ? b[u] : 0.0f;
            for (int i = 0; i < I; i++) s += wu[i] * x[i];
            y[u] = s;
        }
        return;
    }
    int32_t idx[nz > 0 ? nz : 1];
    float val[nz > 0 ? nz : 1];
    nz = 0;
    for (int i = 0; i < I; i++) if (x[i] != 0.0f) { idx[nz] = i; val[nz++] = x[i]; }
    for (int u = 0; u < U; u++) {
        const float *wu = w + (size_t)u * I;
        float s = b ? b[u] : 0.0f;
        for (int j = 0; j < nz; j++) s += wu[idx[j]] * val[j];
        y[u] = s;
    }
}

/* y (n, U) = x (n, I) W^T + b, one GEMM for the batch */
static void linear_batch(float *y, const float *x, const float *w, const float *b, int n, int I, int U) {
    if (n == 1) { linear_row(y, x, w, b, I, U); return; }
    zs_sgemm('N', 'T', n, U, I, 1.0f, x, I, w, I, 0.0f, y, U);
    for (int s = 0; b && s < n; s++)
        for (int u = 0; u < U; u++) y[(size_t)s * U + u] += b[u];
}

static float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

void zs_dendrite_gates(float *gate, int32_t *sel, const float *useg, const float *ctx, const int32_t *cid, int N,
                       int U, int S, int C, int P) {
    /* gate only the contexts some sample uses (segments x context per unit
     * is the expensive part) */
    uint8_t used[P > 0 ? P : 1];
    memset(used, cid ? 0 : 1, (size_t)(P > 0 ? P : 1));
    for (int n = 0; cid && n < N; n++) used[cid[n]] = 1;
    for (int p = 0; p < P; p++) {
        if (!used[p]) continue;
        zs_dendrite_gate(gate + (size_t)p * U, sel + (size_t)p * U, useg, ctx + (size_t)p * C, U, S, C);
        for (int u = 0; u < U; u++) gate[(size_t)p * U + u] = sigm(gate[(size_t)p * U + u]);
    }
}

void zs_dendrite_apply(float *out, float *a, const float *gate, const float *x, const float *w, const float *b,
                       const int32_t *cid, int N, int I, int U) {
    linear_batch(a, x, w, b, N, I, U);
    for (int n = 0; n < N; n++) {
        const float *g = gate + (size_t)(cid ? cid[n] : 0) * U;
        for (int u = 0; u < U; u++) out[(size_t)n * U + u] = a[(size_t)n * U + u] * g[u];
    }
}

void zs_dendrite_forward(float *out, float *a, float *gate, int32_t *sel, const float *x, const float *w,
                         const float *b, const float *useg, const float *ctx, const int32_t *cid, int N, int I,
                         int U, int S, int C, int P) {
    zs_dendrite_gates(gate, sel, useg, ctx, cid, N, U, S, C, P);
    zs_dendrite_apply(out, a, gate, x, w, b, cid, N, I, U);
}

void zs_dendrite_backward(float *dx, float *dw, float *db, float *duseg, const float *dout, const float *x,
                          const float *w, const float *a, const float *gate, const int32_t *sel, const float *ctx,
                          const int32_t *cid, int N, int I, int U, int S, int C) {
    for (int n = 0; n < N; n++) {
        int p = cid ? cid[n] : 0;
        const float *g = gate + (size_t)p * U, *c = ctx + (size_t)p * C, *xn = x + (size_t)n * I;
        for (int u = 0; u < U; u++) {
            float d = dout[(size_t)n * U + u];
            if (d == 0.0f) continue;
            float da = d * g[u];
            if (db) db[u] += da;
            if (dw) { float *r = dw + (size_t)u * I; for (int i = 0; i < I; i++) r[i] += da * xn[i]; }
            if (dx) { const float *r = w + (size_t)u * I; float *o = dx + (size_t)n * I; for (int i = 0; i < I; i++) o[i] += da * r[i]; }
            if (duseg) {
                float dd = d * a[(size_t)n * U + u] * g[u] * (1.0f - g[u]);
                float *v = duseg + ((size_t)u * S + sel[(size_t)p * U + u]) * C;
                for (int k = 0; k < C; k++) v[k] += dd * c[k];
            }
        }
    }
}

/* ------------------------------------------------------------ the MLP */

typedef struct cl_layer {
    int I, U;
    float *w, *b;          /* (U, I), (U)                                      */
    float *dw, *db;
    uint8_t *mask;         /* (U, I) or NULL                                   */
    float *useg, *duseg;   /* (U, S, C) or NULL                                */
    float *um1, *um2;      /* Adam moments of useg (or NULL)                   */
    int k;                 /* k-WTA winners; 0 = ReLU                          */
    float *a, *out, *dout; /* (Nmax, U)                                        */
    float *gate;           /* (Pmax, U)                                        */
    int32_t *sel;          /* (Pmax, U)                                        */
    float *dp;             /* (slots, U, S) segment responses per context slot */
    long *segt;            /* (U, S) train step that last moved each segment   */
} cl_layer;

struct zs_cl {
    zs_cl_opts o;
    int L;                 /* hidden layers + output                          */
    cl_layer *ly;
    int nmax, pmax;
    float *dx;             /* (Nmax, max width) scratch                        */
    float *score;          /* k-WTA scratch (U)                                */
    int32_t *idx;
    /* synaptic intelligence over every w and b: flat views */
    size_t np;
    float **pw, **pg;      /* per tensor: params, grads                       */
    size_t *pn;
    int nt;
    float *si_omega, *si_Omega, *si_anchor, *si_start; /* (np) each            */
    float *m1, *m2;        /* Adam moments of every w and b (np), or NULL       */
    long step;             /* Adam steps taken                                 */
    /* context slots: the segment responses d = u_s . c of every unit and
     * segment for the contexts seen recently, refreshed only where a
     * segment moved since (a step moves only the selected segments), so a
     * step gates in U x C instead of U x S x C and an evaluation gates
     * each context once */
    long tick;             /* train steps taken                                */
    int nslot, slotcap, nextslot;
    float *sctx;           /* (slotcap, context)                               */
    long *sat;             /* (slotcap) tick at which the slot was refreshed   */
    uint8_t *active;       /* (classes) the loss's classes, or NULL: all       */
};

zs_cl_opts zs_cl_defaults(void) {
    zs_cl_opts o;
    memset(&o, 0, sizeof o);
    o.inputs = 784;
    o.hidden = 512;
    o.layers = 2;
    o.classes = 10;
    o.weight_sparsity = 0.0f;
    o.percent_on = 0.0f;
    o.segments = 0;
    o.context = 0;
    o.si_c = 0.0f;
    o.si_xi = 0.1f;
    o.seed = 1;
    return o;
}

void zs_cl_free(zs_cl *m) {
    if (!m) return;
    for (int l = 0; l < m->L && m->ly; l++) {
        cl_layer *y = &m->ly[l];
        free(y->w); free(y->b); free(y->dw); free(y->db); free(y->mask); free(y->useg); free(y->duseg);
        free(y->um1); free(y->um2);
        free(y->a); free(y->out); free(y->dout); free(y->gate); free(y->sel);
        free(y->dp); free(y->segt);
    }
    free(m->sctx); free(m->sat); free(m->active);
    free(m->ly); free(m->dx); free(m->score); free(m->idx);
    free(m->pw); free(m->pg); free(m->pn);
    free(m->si_omega); free(m->si_Omega); free(m->si_anchor); free(m->si_start);
    free(m->m1); free(m->m2);
    free(m);
}

static zs_status reserve(zs_cl *m, int n, int p) {
    if (n <= m->nmax && p <= m->pmax) return ZS_OK;
    if (n < m->nmax) n = m->nmax;
    if (p < m->pmax) p = m->pmax;
    int wmax = m->o.inputs;
    for (int l = 0; l < m->L; l++) {
        cl_layer *y = &m->ly[l];
        if (y->U > wmax) wmax = y->U;
        free(y->a); free(y->out); free(y->dout); free(y->gate); free(y->sel);
        y->a = malloc(sizeof(float) * (size_t)n * y->U);
        y->out = malloc(sizeof(float) * (size_t)n * y->U);
        y->dout = malloc(sizeof(float) * (size_t)n * y->U);
        y->gate = malloc(sizeof(float) * (size_t)p * y->U);
        y->sel = malloc(sizeof(int32_t) * (size_t)p * y->U);
        if (!y->a || !y->out || !y->dout || !y->gate || !y->sel) return ZS_ERR(ZS_ENOMEM, "out of memory");
    }
    free(m->dx);
    m->dx = malloc(sizeof(float) * (size_t)n * wmax);
    if (!m->dx) return ZS_ERR(ZS_ENOMEM, "out of memory");
    m->nmax = n;
    m->pmax = p;
    return ZS_OK;
}

zs_status zs_cl_create(zs_cl **out, const zs_cl_opts *o) {
    ZS_RETURN_IF(!out || !o, ZS_EINVAL, "zs_cl_create: NULL argument");
    *out = NULL;
    ZS_RETURN_IF(o->inputs < 1 || o->inputs > (1 << 20) || o->hidden < 1 || o->hidden > (1 << 16) || o->layers < 0 ||
                     o->layers > 8 || o->classes < 2 || o->classes > ZS_MAX_CLASSES || o->segments < 0 ||
                     o->segments > 1024 || o->context < 0 || o->context > (1 << 20) ||
                     !(o->weight_sparsity >= 0 && o->weight_sparsity < 1) || !(o->percent_on >= 0 && o->percent_on <= 1) ||
                     !(o->si_c >= 0) || !(o->si_xi > 0),
                 ZS_EINVAL, "zs_cl_create: option out of range");
    zs_status st = ZS_OK;
    zs_cl *m = calloc(1, sizeof *m);
    if (!m) return ZS_ERR(ZS_ENOMEM, "out of memory");
    m->o = *o;
    if (m->o.segments && !m->o.context) m->o.context = o->inputs;
    m->L = o->layers + 1;
    m->ly = calloc((size_t)m->L, sizeof(cl_layer));
    m->pw = calloc((size_t)2 * m->L, sizeof(float *));
    m->pg = calloc((size_t)2 * m->L, sizeof(float *));
    m->pn = calloc((size_t)2 * m->L, sizeof(size_t));
    m->score = malloc(sizeof(float) * (size_t)o->hidden);
    m->idx = malloc(sizeof(int32_t) * (size_t)o->hidden * 2);
    if (!m->ly || !m->pw || !m->pg || !m->pn || !m->score || !m->idx) ZS_FAIL(ZS_ENOMEM, "out of memory");
    zs_rng r;
    zs_rng_seed(&r, o->seed);
    int I = o->inputs;
    for (int l = 0; l < m->L; l++) {
        cl_layer *y = &m->ly[l];
        int hid = l < o->layers;
        y->I = I;
        y->U = hid ? o->hidden : o->classes;
        size_t nw = (size_t)y->U * I;
        y->w = malloc(sizeof(float) * nw);
        y->b = malloc(sizeof(float) * (size_t)y->U);
        y->dw = calloc(nw, sizeof(float));
        y->db = calloc((size_t)y->U, sizeof(float));
        if (!y->w || !y->b || !y->dw || !y->db) ZS_FAIL(ZS_ENOMEM, "out of memory");
        int keep = I;
        if (hid && o->weight_sparsity > 0) {
            keep = (int)lround((1.0 - o->weight_sparsity) * I);
            if (keep < 1) keep = 1;
            if (!(y->mask = calloc(nw, 1))) ZS_FAIL(ZS_ENOMEM, "out of memory");
            int32_t *perm = malloc(sizeof(int32_t) * (size_t)I);
            if (!perm) ZS_FAIL(ZS_ENOMEM, "out of memory");
            for (int u = 0; u < y->U; u++) {
                for (int i = 0; i < I; i++) perm[i] = i;
                zs_rng_shuffle(&r, perm, I);
                for (int i = 0; i < keep; i++) y->mask[(size_t)u * I + perm[i]] = 1;
            }
            free(perm);
        }
        /* kaiming-uniform over the kept fan-in (sparse layers keep the
         * variance of a dense one) */
        float bound = sqrtf(6.0f / (float)keep) / sqrtf(2.0f), bb = 1.0f / sqrtf((float)keep);
        /* dendritic units start gated by sigmoid(~0) = 1/2: twice the
         * weights keep a plain layer's output scale at init */
        if (hid && o->segments) { bound *= 2.0f; bb *= 2.0f; }
        for (size_t j = 0; j < nw; j++) y->w[j] = (2.0f * zs_rng_uniform(&r) - 1.0f) * bound * (y->mask ? y->mask[j] : 1);
        for (int u = 0; u < y->U; u++) y->b[u] = (2.0f * zs_rng_uniform(&r) - 1.0f) * bb;
        if (hid && o->percent_on > 0) {
            y->k = (int)lround(o->percent_on * y->U);
            if (y->k < 1) y->k = 1;
        }
        if (hid && m->o.segments) {
            size_t ns = (size_t)y->U * m->o.segments * m->o.context;
            y->useg = malloc(sizeof(float) * ns);
            y->duseg = calloc(ns, sizeof(float));
            y->segt = calloc((size_t)y->U * m->o.segments, sizeof(long));
            if (!y->useg || !y->duseg || !y->segt) ZS_FAIL(ZS_ENOMEM, "out of memory");
            if (o->adam && (!(y->um1 = calloc(ns, sizeof(float))) || !(y->um2 = calloc(ns, sizeof(float)))))
                ZS_FAIL(ZS_ENOMEM, "out of memory");
            float sb = 1.0f / sqrtf((float)m->o.context);
            for (size_t j = 0; j < ns; j++) y->useg[j] = (2.0f * zs_rng_uniform(&r) - 1.0f) * sb;
        }
        m->pw[m->nt] = y->w; m->pg[m->nt] = y->dw; m->pn[m->nt++] = nw;
        m->pw[m->nt] = y->b; m->pg[m->nt] = y->db; m->pn[m->nt++] = (size_t)y->U;
        m->np += nw + (size_t)y->U;
        I = y->U;
    }
    if (o->adam && (!(m->m1 = calloc(m->np, sizeof(float))) || !(m->m2 = calloc(m->np, sizeof(float)))))
        ZS_FAIL(ZS_ENOMEM, "out of memory");
    if (o->si_c > 0) {
        m->si_omega = calloc(m->np, sizeof(float));
        m->si_Omega = calloc(m->np, sizeof(float));
        m->si_anchor = malloc(sizeof(float) * m->np);
        m->si_start = malloc(sizeof(float) * m->np);
        if (!m->si_omega || !m->si_Omega || !m->si_anchor || !m->si_start) ZS_FAIL(ZS_ENOMEM, "out of memory");
        size_t off = 0;
        for (int t = 0; t < m->nt; t++) {
            memcpy(m->si_anchor + off, m->pw[t], sizeof(float) * m->pn[t]);
            memcpy(m->si_start + off, m->pw[t], sizeof(float) * m->pn[t]);
            off += m->pn[t];
        }
    }
    if ((st = reserve(m, 32, 1))) goto fail;
    *out = m;
    return ZS_OK;
fail:
    zs_cl_free(m);
    return st;
}

/* more than a quarter of the gradients non-zero: GEMMs beat row visits */
static int dense_enough(const float *v, size_t n) {
    size_t nz = 0;
    for (size_t j = 0; j < n; j++) nz += v[j] != 0.0f;
    return nz * 4 > n;
}

/* k-WTA in place on v (U): keep the k largest (ties: lower index). */
static void kwta(zs_cl *m, float *v, int U, int k) {
    if (k >= U) return;
    int c = zs_topk_select(m->idx, v, U, k, m->idx + U);
    memcpy(m->score, v, sizeof(float) * (size_t)U);
    memset(v, 0, sizeof(float) * (size_t)U);
    for (int j = 0; j < c; j++) v[m->idx[j]] = m->score[m->idx[j]];
}

/* Adam's direction for one parameter: moments updated with gradient g */
static inline float adam_dir(float *m1, float *m2, float g, float bc1, float bc2) {
    *m1 = 0.9f * *m1 + 0.1f * g;
    *m2 = 0.999f * *m2 + 0.001f * g * g;
    return (*m1 / bc1) / (sqrtf(*m2 / bc2) + 1e-8f);
}

#define SLOT_MAX 256

/* The slot holding context c (C floats), its responses brought up to date:
 * found by content, or a new one (the oldest reused past SLOT_MAX). */
static zs_status ctx_slot(zs_cl *m, const float *c, int *slot) {
    int C = m->o.context, S = m->o.segments, q = -1;
    for (int i = 0; i < m->nslot && q < 0; i++)
        if (!memcmp(m->sctx + (size_t)i * C, c, sizeof(float) * (size_t)C)) q = i;
    if (q < 0) {
        if (m->nslot == m->slotcap && m->slotcap < SLOT_MAX) {
            int cap = m->slotcap ? 2 * m->slotcap : 16;
            if (cap > SLOT_MAX) cap = SLOT_MAX;
            float *sc = realloc(m->sctx, sizeof(float) * (size_t)cap * C);
            if (sc) m->sctx = sc;
            long *sa = sc ? realloc(m->sat, sizeof(long) * (size_t)cap) : NULL;
            if (sa) m->sat = sa;
            if (!sc || !sa) return ZS_ERR(ZS_ENOMEM, "out of memory");
            for (int l = 0; l < m->L; l++) {
                cl_layer *y = &m->ly[l];
                if (!y->useg) continue;
                float *dp = realloc(y->dp, sizeof(float) * (size_t)cap * y->U * S);
                if (!dp) return ZS_ERR(ZS_ENOMEM, "out of memory");
                y->dp = dp;
            }
            m->slotcap = cap;
        }
        if (m->nslot < m->slotcap) q = m->nslot++;
        else { q = m->nextslot; m->nextslot = (m->nextslot + 1) % m->slotcap; }
        memcpy(m->sctx + (size_t)q * C, c, sizeof(float) * (size_t)C);
        m->sat[q] = -1;
    }
    if (m->sat[q] < m->tick)
        for (int l = 0; l < m->L; l++) {
            cl_layer *y = &m->ly[l];
            if (!y->useg) continue;
            float *dp = y->dp + (size_t)q * y->U * S;
            for (size_t j = 0; j < (size_t)y->U * S; j++)
                if (y->segt[j] > m->sat[q]) dp[j] = seg_dot(y->useg + j * C, c, C);
        }
    m->sat[q] = m->tick;
    *slot = q;
    return ZS_OK;
}

/* gates of context c into row p of every dendritic layer's gate / sel */
static zs_status ctx_gates(zs_cl *m, const float *c, int p) {
    int q = 0, S = m->o.segments;
    zs_status st = ctx_slot(m, c, &q);
    if (st) return st;
    for (int l = 0; l < m->L; l++) {
        cl_layer *y = &m->ly[l];
        if (!y->useg) continue;
        const float *dp = y->dp + (size_t)q * y->U * S;
        for (int u = 0; u < y->U; u++) {
            int bs = seg_pick(dp + (size_t)u * S, S);
            y->sel[(size_t)p * y->U + u] = bs;
            y->gate[(size_t)p * y->U + u] = sigm(dp[(size_t)u * S + bs]);
        }
    }
    return ZS_OK;
}

/* forward of n samples; returns the logits (n, K). The dendritic layers'
 * gates of the contexts in use are already computed (ctx_gates). */
static const float *forward(zs_cl *m, const float *x, int n, const int32_t *cid) {
    const float *in = x;
    for (int l = 0; l < m->L; l++) {
        cl_layer *y = &m->ly[l];
        if (y->useg) {
            zs_dendrite_apply(y->out, y->a, y->gate, in, y->w, y->b, cid, n, y->I, y->U);
        } else {
            linear_batch(y->a, in, y->w, y->b, n, y->I, y->U);
            memcpy(y->out, y->a, sizeof(float) * (size_t)n * y->U);
        }
        if (l < m->L - 1)
            for (int s = 0; s < n; s++) {
                float *o = y->out + (size_t)s * y->U;
                if (y->k) kwta(m, o, y->U, y->k);
                else for (int u = 0; u < y->U; u++) o[u] = o[u] > 0 ? o[u] : 0.0f;
            }
        in = y->out;
    }
    return m->ly[m->L - 1].out;
}

zs_status zs_cl_infer(zs_cl *m, const float *x, int n, const float *ctx, int P, const int32_t *cid, float *logits) {
    ZS_RETURN_IF(!m || !x || !logits || n < 0 || (m->o.segments && (!ctx || P < 1)), ZS_EINVAL,
                 "zs_cl_infer: bad argument (a dendritic network needs contexts)");
    if (cid)
        for (int s = 0; s < n; s++) ZS_RETURN_IF(cid[s] < 0 || cid[s] >= P, ZS_EINVAL, "zs_cl_infer: context index out of range");
    zs_status st;
    if ((st = reserve(m, n < 64 ? n : 64, P > 0 ? P : 1))) return st;
    /* the gates of every context in use, once for all the chunks */
    if (m->o.segments) {
        uint8_t *used = calloc((size_t)P, 1);
        if (!used) return ZS_ERR(ZS_ENOMEM, "out of memory");
        for (int s = 0; s < n; s++) used[cid ? cid[s] : 0] = 1;
        for (int p = 0; p < P && !st; p++)
            if (used[p]) st = ctx_gates(m, ctx + (size_t)p * m->o.context, p);
        free(used);
        if (st) return st;
    }
    for (int s0 = 0; s0 < n; s0 += 64) {
        int b = n - s0 < 64 ? n - s0 : 64;
        const float *lg = forward(m, x + (size_t)s0 * m->o.inputs, b, cid ? cid + s0 : NULL);
        memcpy(logits + (size_t)s0 * m->o.classes, lg, sizeof(float) * (size_t)b * m->o.classes);
    }
    return ZS_OK;
}

zs_status zs_cl_train_step(zs_cl *m, const float *x, const int32_t *y, int n, const float *ctx, float lr,
                           float *loss) {
    ZS_RETURN_IF(!m || !x || !y || n < 1 || !(lr >= 0) || (m->o.segments && !ctx), ZS_EINVAL,
                 "zs_cl_train_step: bad argument (a dendritic network needs a context)");
    int K = m->o.classes;
    const uint8_t *act = m->active;
    for (int s = 0; s < n; s++)
        ZS_RETURN_IF(y[s] < 0 || y[s] >= K || (act && !act[y[s]]), ZS_EINVAL,
                     "label %d out of range (or not among the active classes)", (int)y[s]);
    zs_status st = reserve(m, n, 1);
    if (st) return st;
    if (m->o.segments && (st = ctx_gates(m, ctx, 0))) return st;
    const float *lg = forward(m, x, n, NULL);
    cl_layer *top = &m->ly[m->L - 1];
    double l = 0;
    /* softmax cross-entropy over the active classes (all without a mask);
     * the others' logits get no gradient */
    for (int s = 0; s < n; s++) {
        const float *z = lg + (size_t)s * K;
        float mx = z[y[s]];
        for (int k = 0; k < K; k++) if ((!act || act[k]) && z[k] > mx) mx = z[k];
        double se = 0;
        for (int k = 0; k < K; k++) if (!act || act[k]) se += exp((double)(z[k] - mx));
        l += log(se) - (z[y[s]] - mx);
        for (int k = 0; k < K; k++)
            top->dout[(size_t)s * K + k] =
                act && !act[k] ? 0.0f : (float)((exp((double)(z[k] - mx)) / se - (k == y[s])) / n);
    }
    ZS_RETURN_IF(!isfinite(l), ZS_ENUMERIC, "zs_cl_train_step: loss is not finite");
    for (int t = 0; t < m->nt; t++) memset(m->pg[t], 0, sizeof(float) * m->pn[t]);
    for (int li = m->L - 1; li >= 0; li--) {
        cl_layer *L = &m->ly[li];
        const float *in = li ? m->ly[li - 1].out : x;
        float *dx = li ? m->dx : NULL;
        if (dx) memset(dx, 0, sizeof(float) * (size_t)n * L->I);
        if (L->useg) {
            /* one context for the batch: unit u's gradient can reach only
             * its selected segment sel[u]; only those rows are cleared,
             * stepped and read (the others stay zero) */
            for (int u = 0; u < L->U; u++)
                memset(L->duseg + ((size_t)u * m->o.segments + L->sel[u]) * m->o.context, 0,
                       sizeof(float) * (size_t)m->o.context);
            zs_dendrite_backward(dx, L->dw, L->db, L->duseg, L->dout, in, L->w, L->a, L->gate, L->sel, ctx, NULL, n,
                                 L->I, L->U, m->o.segments, m->o.context);
        } else if (dense_enough(L->dout, (size_t)n * L->U)) {
            /* output layer, ReLU layers: GEMMs */
            for (int s = 0; s < n; s++)
                for (int u = 0; u < L->U; u++) L->db[u] += L->dout[(size_t)s * L->U + u];
            zs_sgemm('T', 'N', L->U, L->I, n, 1.0f, L->dout, L->U, in, L->I, 1.0f, L->dw, L->I);
            if (dx) zs_sgemm('N', 'N', n, L->I, L->U, 1.0f, L->dout, L->U, L->w, L->I, 0.0f, dx, L->I);
        } else {
            /* below a k-WTA: winner rows only */
            for (int s = 0; s < n; s++) {
                const float *xn = in + (size_t)s * L->I;
                for (int u = 0; u < L->U; u++) {
                    float d = L->dout[(size_t)s * L->U + u];
                    if (d == 0.0f) continue;
                    L->db[u] += d;
                    float *r = L->dw + (size_t)u * L->I;
                    for (int i = 0; i < L->I; i++) r[i] += d * xn[i];
                    if (dx) {
                        const float *wu = L->w + (size_t)u * L->I;
                        float *o = dx + (size_t)s * L->I;
                        for (int i = 0; i < L->I; i++) o[i] += d * wu[i];
                    }
                }
            }
        }
        if (!dx) break;
        /* through the activation below: ReLU or k-WTA pass gradient where
         * the output is non-zero (k-WTA: the winners) */
        cl_layer *B = &m->ly[li - 1];
        for (size_t j = 0; j < (size_t)n * L->I; j++) B->dout[j] = B->out[j] != 0.0f ? dx[j] : 0.0f;
    }
    /* SGD; with SI the penalty c Omega (theta - anchor)^2 is added (its step
     * implicit) and omega accumulates -g * delta with g the task-loss gradient.
     * Adam: the penalty's gradient is added to g before the moments (Adam
     * bounds every step by about lr, so an explicit step is stable). */
    float bc1 = 1.0f, bc2 = 1.0f;
    if (m->m1) {
        m->step++;
        bc1 = 1.0f - (float)pow(0.9, (double)m->step);
        bc2 = 1.0f - (float)pow(0.999, (double)m->step);
    }
    m->tick++;
    size_t off = 0;
    for (int t = 0; t < m->nt; t++) {
        float *p = m->pw[t], *g = m->pg[t];
        for (size_t j = 0; j < m->pn[t]; j++) {
            float gt = g[j], np;
            if (m->m1) {
                float ga = gt;
                if (m->si_omega) ga += 2.0f * m->o.si_c * m->si_Omega[off + j] * (p[j] - m->si_anchor[off + j]);
                np = p[j] - lr * adam_dir(&m->m1[off + j], &m->m2[off + j], ga, bc1, bc2);
            } else if (m->si_omega) {
                /* the penalty's step taken implicitly (proximal), stable for
                 * any lr * c * Omega: p' = (p - lr g + k anchor) / (1 + k) */
                float k = lr * 2.0f * m->o.si_c * m->si_Omega[off + j];
                np = (p[j] - lr * gt + k * m->si_anchor[off + j]) / (1.0f + k);
            } else np = p[j] - lr * gt;
            if (m->si_omega) m->si_omega[off + j] += gt * (p[j] - np);
            p[j] = np;
        }
        off += m->pn[t];
    }
    for (int li = 0; li < m->L; li++) {
        cl_layer *L = &m->ly[li];
        if (L->mask) { /* (locals: a loop the compiler vectorises) */
            float *w = L->w;
            const uint8_t *mk = L->mask;
            size_t nw = (size_t)L->U * L->I;
            for (size_t j = 0; j < nw; j++) w[j] = mk[j] ? w[j] : 0.0f;
        }
        if (L->useg) {
            /* Adam on the segments is lazy (as torch's SparseAdam): only the
             * selected segments, those with a gradient, move */
            for (int u = 0; u < L->U; u++) {
                L->segt[(size_t)u * m->o.segments + L->sel[u]] = m->tick;
                size_t o = ((size_t)u * m->o.segments + L->sel[u]) * m->o.context;
                float *v = L->useg + o, *g = L->duseg + o;
                for (int c = 0; c < m->o.context; c++) {
                    if (L->um1) {
                        if (g[c] != 0.0f) v[c] -= lr * adam_dir(&L->um1[o + c], &L->um2[o + c], g[c], bc1, bc2);
                    } else v[c] -= lr * g[c];
                }
            }
        }
    }
    if (loss) *loss = (float)(l / n);
    return ZS_OK;
}

zs_status zs_cl_set_classes(zs_cl *m, const uint8_t *active) {
    ZS_RETURN_IF(!m, ZS_EINVAL, "zs_cl_set_classes: NULL network");
    if (!active) { free(m->active); m->active = NULL; return ZS_OK; }
    int on = 0;
    for (int k = 0; k < m->o.classes; k++) on += active[k] != 0;
    ZS_RETURN_IF(on < 1, ZS_EINVAL, "zs_cl_set_classes: no class active");
    if (!m->active && !(m->active = malloc((size_t)m->o.classes))) return ZS_ERR(ZS_ENOMEM, "out of memory");
    for (int k = 0; k < m->o.classes; k++) m->active[k] = active[k] != 0;
    return ZS_OK;
}

void zs_cl_task_end(zs_cl *m) {
    if (!m || !m->si_omega) return;
    size_t off = 0;
    for (int t = 0; t < m->nt; t++) {
        for (size_t j = 0; j < m->pn[t]; j++) {
            size_t q = off + j;
            float dt = m->pw[t][j] - m->si_start[q];
            m->si_Omega[q] += m->si_omega[q] / (dt * dt + m->o.si_xi);
            if (m->si_Omega[q] < 0) m->si_Omega[q] = 0; /* as in Zenke's code: importance is non-negative */
            m->si_omega[q] = 0;
            m->si_start[q] = m->si_anchor[q] = m->pw[t][j];
        }
        off += m->pn[t];
    }
}

