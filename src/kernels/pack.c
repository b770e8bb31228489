/*
 * pack.c — weight packing for the sparse kernels (BatchNorm folding, tap
 * lists, scatter lists, channel vectors, linear column formats) and the
 * ISA-independent part of k-WTA selection. Runs at plan build, not per
 * sample; plain C.
 */
#include "kernels.h"
#include <math.h>

void zs_bn_fold(float *w, float *b, int Co, size_t fan_in, const float *mean, const float *var,
                const float *gamma, const float *beta, float eps) {
    for (int c = 0; c < Co; c++) {
        float invstd = (float)(1.0 / sqrt((double)var[c] + eps));
        float g = (gamma ? gamma[c] : 1.0f) * invstd;
        for (size_t i = 0; i < fan_in; i++) w[(size_t)c * fan_in + i] *= g;
        b[c] = (b[c] - mean[c]) * g + (beta ? beta[c] : 0.0f);
    }
}

/* ---------------------------------------------------------------- conv taps */

void zs_conv_taps_free(zs_conv_taps *p) {
    if (!p) return;
    free(p->start); free(p->off); free(p->w); free(p->bias);
    memset(p, 0, sizeof *p);
}

zs_status zs_conv_taps_pack(zs_conv_taps *p, const float *w, const float *bias, int Co, int Ci,
                            int Kh, int Kw, int H, int W) {
    memset(p, 0, sizeof *p);
    ZS_RETURN_IF(Co < 1 || Ci < 1 || Kh < 1 || Kw < 1 || H < Kh || W < Kw, ZS_EINVAL,
                 "conv pack: bad shape Co=%d Ci=%d K=%dx%d input %dx%d", Co, Ci, Kh, Kw, H, W);
    size_t fan = (size_t)Ci * Kh * Kw, nnz = 0;
    for (size_t i = 0; i < (size_t)Co * fan; i++) nnz += w[i] != 0.0f;
    p->Ci = Ci; p->H = H; p->W = W; p->Co = Co; p->Kh = Kh; p->Kw = Kw;
    p->Ho = H - Kh + 1; p->Wo = W - Kw + 1;
    p->start = calloc((size_t)Co + 1, sizeof(int32_t));
    p->off = calloc(nnz + 1, sizeof(int32_t));
    p->w = calloc(nnz + 1, sizeof(float));
    p->bias = calloc((size_t)Co, sizeof(float));
    if (!p->start || !p->off || !p->w || !p->bias) { zs_conv_taps_free(p); return ZS_ERR(ZS_ENOMEM, "conv pack: out of memory"); }
    size_t t = 0;
    for (int o = 0; o < Co; o++) {
        p->start[o] = (int32_t)t;
        p->bias[o] = bias ? bias[o] : 0.0f;
        for (int c = 0; c < Ci; c++)
            for (int ky = 0; ky < Kh; ky++)
                for (int kx = 0; kx < Kw; kx++) {
                    float v = w[(((size_t)o * Ci + c) * Kh + ky) * Kw + kx];
                    if (v == 0.0f) continue;
                    p->off[t] = (int32_t)(((size_t)c * H + ky) * W + kx);
                    p->w[t++] = v;
                }
    }
    p->start[Co] = (int32_t)t;
    return ZS_OK;
}

/* ---------------------------------------------------------------- conv scatter */

size_t zs_conv_sparse_scratch(const zs_conv_scatter *p) {
    return (size_t)p->Ho * p->Wo * p->Cop + 16;
}

void zs_conv_scatter_free(zs_conv_scatter *p) {
    if (!p) return;
    free(p->start); free(p->lco); free(p->lw); zs_free_aligned(p->wvec);
    free(p->cy); free(p->cx); free(p->bias);
    memset(p, 0, sizeof *p);
}

zs_status zs_conv_scatter_pack(zs_conv_scatter *p, const float *w, const float *bias, int Co, int Ci,
                               int Kh, int Kw, int H, int W, int pad, int want_list, int want_vec) {
    memset(p, 0, sizeof *p);
    ZS_RETURN_IF(Co < 1 || Ci < 1 || Kh < 1 || Kw < 1 || pad < 0 || H + 2 * pad < Kh || W + 2 * pad < Kw,
                 ZS_EINVAL, "conv scatter pack: bad shape Co=%d Ci=%d K=%dx%d input %dx%d pad %d", Co, Ci, Kh,
                 Kw, H, W, pad);
    p->Ci = Ci; p->H = H; p->W = W; p->Co = Co; p->Kh = Kh; p->Kw = Kw; p->pad = pad;
    p->Ho = H + 2 * pad - Kh + 1; p->Wo = W + 2 * pad - Kw + 1;
    p->Cop = (Co + 15) & ~15;
    size_t T = (size_t)Ci * Kh * Kw, fan = T, nnz = 0;
    for (size_t i = 0; i < (size_t)Co * fan; i++) nnz += w[i] != 0.0f;
    p->cy = calloc((size_t)H * W, sizeof(int32_t));
    p->cx = calloc((size_t)H * W, sizeof(int32_t));
    p->bias = calloc((size_t)Co, sizeof(float));
    if (!p->cy || !p->cx || !p->bias) goto oom;
    for (int i = 0; i < H * W; i++) { p->cy[i] = i / W; p->cx[i] = i % W; }
    for (int o = 0; o < Co; o++) p->bias[o] = bias ? bias[o] : 0.0f;
    if (want_list) {
        p->start = calloc(T + 1, sizeof(int32_t));
        p->lco = calloc(nnz + 1, sizeof(int32_t));
        p->lw = calloc(nnz + 1, sizeof(float));
        if (!p->start || !p->lco || !p->lw) goto oom;
        size_t t = 0;
        for (size_t j = 0; j < T; j++) {
            p->start[j] = (int32_t)t;
            for (int o = 0; o < Co; o++) {
                float v = w[(size_t)o * fan + j];
                if (v == 0.0f) continue;
                p->lco[t] = o * p->Ho * p->Wo;
                p->lw[t++] = v;
            }
        }
        p->start[T] = (int32_t)t;
    }
    if (want_vec) {
        p->wvec = zs_alloc_aligned(T * p->Cop, sizeof(float));
        if (!p->wvec) goto oom;
        for (size_t j = 0; j < T; j++)
            for (int o = 0; o < Co; o++) p->wvec[j * p->Cop + o] = w[(size_t)o * fan + j];
    }
    return ZS_OK;
oom:
    zs_conv_scatter_free(p);
    return ZS_ERR(ZS_ENOMEM, "conv scatter pack: out of memory");
}

/* ---------------------------------------------------------------- linear */

void zs_linear_pack_free(zs_linear_pack *p) {
    if (!p) return;
    free(p->start); free(p->lo); free(p->lw);
    free(p->bstart); free(p->bo); zs_free_aligned(p->bw);
    zs_free_aligned(p->wt); zs_free_aligned(p->bias);
    memset(p, 0, sizeof *p);
}

zs_status zs_linear_pack_make(zs_linear_pack *p, const float *w, const float *bias, int O, int I,
                              int want) {
    memset(p, 0, sizeof *p);
    ZS_RETURN_IF(O < 1 || I < 1, ZS_EINVAL, "linear pack: bad shape %dx%d", O, I);
    p->I = I; p->O = O; p->Op = (O + 15) & ~15;
    int nb = p->Op / 16;
    p->bias = zs_alloc_aligned((size_t)p->Op, sizeof(float));
    if (!p->bias) goto oom;
    for (int o = 0; o < O; o++) p->bias[o] = bias ? bias[o] : 0.0f;
    if (want & ZS_LIN_LIST) {
        size_t nnz = 0;
        for (size_t i = 0; i < (size_t)O * I; i++) nnz += w[i] != 0.0f;
        p->start = calloc((size_t)I + 1, sizeof(int32_t));
        p->lo = calloc(nnz + 1, sizeof(int32_t));
        p->lw = calloc(nnz + 1, sizeof(float));
        if (!p->start || !p->lo || !p->lw) goto oom;
        size_t t = 0;
        for (int i = 0; i < I; i++) {
            p->start[i] = (int32_t)t;
            for (int o = 0; o < O; o++) {
                float v = w[(size_t)o * I + i];
                if (v == 0.0f) continue;
                p->lo[t] = o;
                p->lw[t++] = v;
            }
        }
        p->start[I] = (int32_t)t;
    }
    if (want & ZS_LIN_BLOCK) {
        size_t nblk = 0;
        for (int i = 0; i < I; i++)
            for (int b = 0; b < nb; b++) {
                int any = 0;
                for (int o = b * 16; o < b * 16 + 16 && o < O; o++) any |= w[(size_t)o * I + i] != 0.0f;
                nblk += any;
            }
        p->bstart = calloc((size_t)I + 1, sizeof(int32_t));
        p->bo = calloc(nblk + 1, sizeof(int32_t));
        p->bw = zs_alloc_aligned((nblk + 1) * 16, sizeof(float));
        if (!p->bstart || !p->bo || !p->bw) goto oom;
        size_t t = 0;
        for (int i = 0; i < I; i++) {
            p->bstart[i] = (int32_t)t;
            for (int b = 0; b < nb; b++) {
                int any = 0;
                for (int o = b * 16; o < b * 16 + 16 && o < O; o++) any |= w[(size_t)o * I + i] != 0.0f;
                if (!any) continue;
                p->bo[t] = b * 16;
                for (int j = 0; j < 16; j++) {
                    int o = b * 16 + j;
                    p->bw[t * 16 + j] = o < O ? w[(size_t)o * I + i] : 0.0f;
                }
                t++;
            }
        }
        p->bstart[I] = (int32_t)t;
    }
    if (want & ZS_LIN_DENSE) {
        p->wt = zs_alloc_aligned((size_t)I * p->Op, sizeof(float));
        if (!p->wt) goto oom;
        for (int i = 0; i < I; i++)
            for (int o = 0; o < O; o++) p->wt[(size_t)i * p->Op + o] = w[(size_t)o * I + i];
    }
    return ZS_OK;
oom:
    zs_linear_pack_free(p);
    return ZS_ERR(ZS_ENOMEM, "linear pack: out of memory");
}

/* ---------------------------------------------------------------- k-WTA select */

/* Sample size and minimum n for the bracketed path. */
#define KWTA_SAMPLE 1024
#define KWTA_MIN_N 4096

size_t zs_kwta_work_size(int n) {
    return ((size_t)(n > 0 ? n : 0) + KWTA_SAMPLE + 32) * sizeof(uint64_t);
}

/* The r-th largest (r = 0 is the largest) of a[0..n), distinct values;
 * reorders a. Hoare-style quickselect with median-of-three pivots. */
static uint64_t select_desc(uint64_t *a, int n, int r) {
    int lo = 0, hi = n - 1;
    while (hi - lo > 8) {
        int mid = lo + (hi - lo) / 2;
        uint64_t x = a[lo], y = a[mid], z = a[hi], t;
        /* median of three */
        uint64_t pv = x > y ? (y > z ? y : (x > z ? z : x)) : (x > z ? x : (y > z ? z : y));
        int i = lo, j = hi;
        while (i <= j) {
            while (a[i] > pv) i++;
            while (a[j] < pv) j--;
            if (i <= j) { t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
        }
        /* a[lo..j] >= pv >= a[i..hi], a[j+1..i-1] == pv */
        if (r <= j) hi = j;
        else if (r >= i) lo = i;
        else return pv;
    }
    /* insertion sort descending of the small range */
    for (int i = lo + 1; i <= hi; i++) {
        uint64_t v = a[i];
        int j = i - 1;
        while (j >= lo && a[j] < v) { a[j + 1] = a[j]; j--; }
        a[j + 1] = v;
    }
    return a[r];
}

static zs_kwta_cut cut_of(uint64_t c) {
    zs_kwta_cut cut;
    cut.key = (int32_t)((uint32_t)(c >> 32) ^ 0x80000000u);
    cut.last = (int32_t)~(uint32_t)c;
    return cut;
}

static void select_full(zs_kwta_cut *cut, const float *x, const float *f, int G, int S, int k,
                        uint64_t *a) {
    int n = G * S, t = 0;
    for (int g = 0; g < G; g++)
        for (int i = 0; i < S; i++, t++) a[t] = zs_kwta_comp(zs_kwta_key(x[t] * f[g]), t);
    *cut = cut_of(select_desc(a, n, k - 1));
}

void zs_kwta_select_common(zs_kwta_cut *cut, const float *x, const float *f, int G, int S, int k,
                           void *work, zs_kwta_pass_fn pass) {
    int n = G * S;
    uint64_t *a = work;
    if (k >= n) { cut->key = INT32_MIN; cut->last = n - 1; return; }
    if (k <= 0) { cut->key = INT32_MAX; cut->last = -1; return; }
    if (n < KWTA_MIN_N) { select_full(cut, x, f, G, S, k, a); return; }
    /* 1. a strided sample brackets the k-th largest with a safety margin */
    int m = KWTA_SAMPLE;
    uint64_t *smp = a + n + 16; /* the pass may store 16 past its count */
    for (int j = 0; j < m; j++) {
        int i = (int)(((int64_t)j * n + n / (2 * m)) / m);
        smp[j] = zs_kwta_comp(zs_kwta_key(x[i] * f[i / S]), i);
    }
    double q = (double)k / n, r = q * m;
    double margin = 3.5 * sqrt(m * q * (1 - q)) + 4;
    int rhi = (int)floor(r - margin), rlo = (int)ceil(r + margin);
    int32_t hi = INT32_MAX, lo = INT32_MIN;
    if (rhi >= 0) hi = (int32_t)((uint32_t)(select_desc(smp, m, rhi) >> 32) ^ 0x80000000u);
    if (rlo < m) lo = (int32_t)((uint32_t)(select_desc(smp, m, rlo) >> 32) ^ 0x80000000u);
    /* 2. one streaming pass: count above the bracket, collect inside it */
    int above = 0;
    int nc = pass(x, f, G, S, lo, hi, &above, a, n);
    int need = k - above;
    if (nc >= 0 && need >= 1 && need <= nc) {
        *cut = cut_of(select_desc(a, nc, need - 1));
        return;
    }
    /* 3. the bracket missed (rare): exact selection over everything */
    select_full(cut, x, f, G, S, k, a);
}
