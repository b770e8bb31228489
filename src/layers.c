/*
 * layers.c — reference forward/backward of every layer (see layers.h).
 * conv2d and linear use the dense GEMM of gemm.h (oneDNN) (im2col for conv); everything else
 * is plain loops. These are the ground truth for the fast kernels.
 */
#include "layers.h"
#include "zs_internal.h"
#include "gemm.h"
#include <float.h>
#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- conv2d */

size_t zs_conv2d_col_size(int Ci, int H, int W, int Kh, int Kw, int stride, int pad) {
    int Ho = (H + 2 * pad - Kh) / stride + 1, Wo = (W + 2 * pad - Kw) / stride + 1;
    return (size_t)Ci * Kh * Kw * Ho * Wo;
}

/* col (Ci*Kh*Kw, Ho*Wo) from one sample's in (Ci, H, W). */
static void im2col(float *col, const float *in, int Ci, int H, int W, int Kh, int Kw,
                   int stride, int pad, int Ho, int Wo) {
    for (int c = 0; c < Ci; c++)
        for (int ky = 0; ky < Kh; ky++)
            for (int kx = 0; kx < Kw; kx++) {
                float *row = col + (((size_t)c * Kh + ky) * Kw + kx) * Ho * Wo;
                /* the outputs whose input column ox * stride - pad + kx lies
                 * in [0, W): [ox0, ox1); zeros either side */
                int ox0 = 0, ox1 = Wo;
                while (ox0 < Wo && ox0 * stride - pad + kx < 0) ox0++;
                while (ox1 > ox0 && (ox1 - 1) * stride - pad + kx >= W) ox1--;
                for (int oy = 0; oy < Ho; oy++) {
                    int iy = oy * stride - pad + ky;
                    float *r = row + (size_t)oy * Wo;
                    if (iy < 0 || iy >= H) { memset(r, 0, sizeof(float) * Wo); continue; }
                    const float *src = in + ((size_t)c * H + iy) * W;
                    for (int ox = 0; ox < ox0; ox++) r[ox] = 0.0f;
                    if (stride == 1 && ox1 > ox0)
                        memcpy(r + ox0, src + (ox0 - pad + kx), sizeof(float) * (size_t)(ox1 - ox0));
                    else
                        for (int ox = ox0; ox < ox1; ox++) r[ox] = src[ox * stride - pad + kx];
                    for (int ox = ox1; ox < Wo; ox++) r[ox] = 0.0f;
                }
            }
}

/* din (Ci, H, W) += col2im(dcol). */
static void col2im_add(float *din, const float *col, int Ci, int H, int W, int Kh, int Kw,
                       int stride, int pad, int Ho, int Wo) {
    for (int c = 0; c < Ci; c++)
        for (int ky = 0; ky < Kh; ky++)
            for (int kx = 0; kx < Kw; kx++) {
                const float *row = col + (((size_t)c * Kh + ky) * Kw + kx) * Ho * Wo;
                for (int oy = 0; oy < Ho; oy++) {
                    int iy = oy * stride - pad + ky;
                    if (iy < 0 || iy >= H) continue;
                    float *dst = din + ((size_t)c * H + iy) * W;
                    const float *r = row + (size_t)oy * Wo;
                    for (int ox = 0; ox < Wo; ox++) {
                        int ix = ox * stride - pad + kx;
                        if (ix >= 0 && ix < W) dst[ix] += r[ox];
                    }
                }
            }
}

void zs_conv2d_forward(float *out, const float *in, const float *w, const float *b,
                       int N, int Ci, int H, int W, int Co, int Kh, int Kw,
                       int stride, int pad, float *col) {
    int Ho = (H + 2 * pad - Kh) / stride + 1, Wo = (W + 2 * pad - Kw) / stride + 1;
    int P = Ho * Wo, Kd = Ci * Kh * Kw;
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * Ci * H * W;
        float *y = out + (size_t)n * Co * P;
        im2col(col, x, Ci, H, W, Kh, Kw, stride, pad, Ho, Wo);
        for (int o = 0; o < Co; o++) {
            float bv = b ? b[o] : 0.0f;
            for (int p = 0; p < P; p++) y[(size_t)o * P + p] = bv;
        }
        zs_sgemm('N', 'N', Co, P, Kd, 1.0f, w, Kd, col, P, 1.0f, y, P);
    }
}

void zs_conv2d_backward(float *din, float *dw, float *db, const float *dout,
                        const float *in, const float *w,
                        int N, int Ci, int H, int W, int Co, int Kh, int Kw,
                        int stride, int pad, float *col) {
    int Ho = (H + 2 * pad - Kh) / stride + 1, Wo = (W + 2 * pad - Kw) / stride + 1;
    int P = Ho * Wo, Kd = Ci * Kh * Kw;
    for (int n = 0; n < N; n++) {
        const float *dy = dout + (size_t)n * Co * P;
        if (db)
            for (int o = 0; o < Co; o++) {
                float s = 0;
                for (int p = 0; p < P; p++) s += dy[(size_t)o * P + p];
                db[o] += s;
            }
        if (dw) {
            im2col(col, in + (size_t)n * Ci * H * W, Ci, H, W, Kh, Kw, stride, pad, Ho, Wo);
            /* dw (Co, Kd) += dy (Co, P) x col^T (P, Kd) */
            zs_sgemm('N', 'T', Co, Kd, P, 1.0f, dy, P, col, P, 1.0f, dw, Kd);
        }
        if (din) {
            /* dcol (Kd, P) = w^T (Kd, Co) x dy (Co, P) */
            zs_sgemm('T', 'N', Kd, P, Co, 1.0f, w, Kd, dy, P, 0.0f, col, P);
            col2im_add(din + (size_t)n * Ci * H * W, col, Ci, H, W, Kh, Kw, stride, pad, Ho, Wo);
        }
    }
}

void zs_conv2d_forward_naive(float *out, const float *in, const float *w, const float *b,
                             int N, int Ci, int H, int W, int Co, int Kh, int Kw,
                             int stride, int pad) {
    int Ho = (H + 2 * pad - Kh) / stride + 1, Wo = (W + 2 * pad - Kw) / stride + 1;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < Co; o++)
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) {
                    double s = b ? b[o] : 0.0;
                    for (int c = 0; c < Ci; c++)
                        for (int ky = 0; ky < Kh; ky++)
                            for (int kx = 0; kx < Kw; kx++) {
                                int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                s += (double)in[(((size_t)n * Ci + c) * H + iy) * W + ix] *
                                     w[(((size_t)o * Ci + c) * Kh + ky) * Kw + kx];
                            }
                    out[(((size_t)n * Co + o) * Ho + oy) * Wo + ox] = (float)s;
                }
}

/* ---------------------------------------------------------------- linear */

void zs_linear_forward(float *out, const float *in, const float *w, const float *b,
                       int N, int Din, int Dout) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < Dout; o++) out[(size_t)n * Dout + o] = b ? b[o] : 0.0f;
    zs_sgemm('N', 'T', N, Dout, Din, 1.0f, in, Din, w, Din, 1.0f, out, Dout);
}

void zs_linear_backward(float *din, float *dw, float *db, const float *dout,
                        const float *in, const float *w, int N, int Din, int Dout) {
    if (db)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < Dout; o++) db[o] += dout[(size_t)n * Dout + o];
    if (dw) zs_sgemm('T', 'N', Dout, Din, N, 1.0f, dout, Dout, in, Din, 1.0f, dw, Din);
    if (din) zs_sgemm('N', 'N', N, Din, Dout, 1.0f, dout, Dout, w, Din, 1.0f, din, Din);
}

/* ---------------------------------------------------------------- maxpool */

/* One window's first maximum in scan order: a larger value, or a NaN over
 * a number, takes over. */
static inline void mp_take(const float *x, int i, float *m, int *best) {
    if (x[i] > *m || (isnan(x[i]) && !isnan(*m))) *m = x[i], *best = i;
}

/* The loops, instantiated twice: K22 = 1 for the networks' 2x2/2 pool,
 * the same scan unrolled (~1.3x faster than one loop with a test). */
static inline __attribute__((always_inline)) void mp_forward(float *out, int32_t *argmax, const float *in, int N,
                                                             int C, int H, int W, int k, int stride, const int K22) {
    int Ho = (H - k) / stride + 1, Wo = (W - k) / stride + 1;
    for (int nc = 0; nc < N * C; nc++) {
        const float *x = in + (size_t)nc * H * W;
        float *y = out + (size_t)nc * Ho * Wo;
        int32_t *am = argmax ? argmax + (size_t)nc * Ho * Wo : NULL;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                const int i0 = oy * stride * W + ox * stride;
                int best = i0;
                float m = x[i0];
                if (K22) {
                    mp_take(x, i0 + 1, &m, &best);
                    mp_take(x, i0 + W, &m, &best);
                    mp_take(x, i0 + W + 1, &m, &best);
                } else {
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++) mp_take(x, i0 + ky * W + kx, &m, &best);
                }
                y[oy * Wo + ox] = m;
                if (am) am[oy * Wo + ox] = best;
            }
    }
}

void zs_maxpool2d_forward(float *out, int32_t *argmax, const float *in,
                          int N, int C, int H, int W, int k, int stride) {
    if (k == 2 && stride == 2) mp_forward(out, argmax, in, N, C, H, W, 2, 2, 1);
    else mp_forward(out, argmax, in, N, C, H, W, k, stride, 0);
}

void zs_maxpool2d_backward(float *din, const float *dout, const int32_t *argmax,
                           int N, int C, int H, int W, int Ho, int Wo) {
    for (int nc = 0; nc < N * C; nc++) {
        float *dx = din + (size_t)nc * H * W;
        const float *dy = dout + (size_t)nc * Ho * Wo;
        const int32_t *am = argmax + (size_t)nc * Ho * Wo;
        for (int p = 0; p < Ho * Wo; p++) dx[am[p]] += dy[p];
    }
}

/* ---------------------------------------------------------------- relu */

/* 4 at a time: the lanes where x > 0 keep x, the others (x <= 0, -0,
 * NaN) become +0, as the scalar tail */
void zs_relu_forward(float *out, const float *in, size_t n) {
    size_t i = 0;
    const zs_v4f zero = {0.0f, 0.0f, 0.0f, 0.0f};
    for (; i + 4 <= n; i += 4) {
        zs_v4f v = zs_ld4(in + i);
        zs_v4i keep = v > zero;
        zs_st4(out + i, (zs_v4f)((zs_v4i)v & keep));
    }
    for (; i < n; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
}

void zs_relu_backward(float *din, const float *dout, const float *out, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (out[i] > 0.0f) din[i] += dout[i];
}

/* ---------------------------------------------------------------- batchnorm */

void zs_batchnorm_forward(float *out, float *save_mean, float *save_invstd,
                          const float *in, const float *gamma, const float *beta,
                          float *running_mean, float *running_var,
                          int N, int C, int S, float momentum, float eps, int training) {
    for (int c = 0; c < C; c++) {
        float mean, invstd;
        if (training) {
            double s = 0, ss = 0;
            for (int n = 0; n < N; n++) {
                const float *x = in + ((size_t)n * C + c) * S;
                for (int i = 0; i < S; i++) s += x[i];
            }
            double m = s / ((double)N * S);
            for (int n = 0; n < N; n++) {
                const float *x = in + ((size_t)n * C + c) * S;
                for (int i = 0; i < S; i++) { double d = x[i] - m; ss += d * d; }
            }
            double cnt = (double)N * S;
            double var = ss / cnt;
            mean = (float)m;
            invstd = (float)(1.0 / sqrt(var + eps));
            if (save_mean) save_mean[c] = mean;
            if (save_invstd) save_invstd[c] = invstd;
            if (running_mean) running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * mean;
            if (running_var) {
                float unb = (float)(cnt > 1 ? ss / (cnt - 1) : ss);
                running_var[c] = (1.0f - momentum) * running_var[c] + momentum * unb;
            }
        } else {
            mean = running_mean[c];
            invstd = (float)(1.0 / sqrt((double)running_var[c] + eps));
        }
        float g = gamma ? gamma[c] : 1.0f, bb = beta ? beta[c] : 0.0f;
        const zs_v4f vm = {mean, mean, mean, mean}, vi = {invstd, invstd, invstd, invstd}, vg = {g, g, g, g},
                     vb = {bb, bb, bb, bb};
        for (int n = 0; n < N; n++) {
            const float *x = in + ((size_t)n * C + c) * S;
            float *y = out + ((size_t)n * C + c) * S;
            int i = 0;
            for (; i + 4 <= S; i += 4) /* the same operations per element, 4 at a time */
                zs_st4(y + i, (zs_ld4(x + i) - vm) * vi * vg + vb);
            for (; i < S; i++) y[i] = (x[i] - mean) * invstd * g + bb;
        }
    }
}

void zs_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *save_mean, const float *save_invstd,
                           const float *gamma, int N, int C, int S) {
    double M = (double)N * S;
    for (int c = 0; c < C; c++) {
        float mean = save_mean[c], invstd = save_invstd[c], g = gamma ? gamma[c] : 1.0f;
        double sdy = 0, sdyx = 0;
        for (int n = 0; n < N; n++) {
            const float *x = in + ((size_t)n * C + c) * S;
            const float *dy = dout + ((size_t)n * C + c) * S;
            for (int i = 0; i < S; i++) {
                sdy += dy[i];
                sdyx += (double)dy[i] * ((x[i] - mean) * invstd);
            }
        }
        if (dgamma) dgamma[c] += (float)sdyx;
        if (dbeta) dbeta[c] += (float)sdy;
        if (!din) continue;
        float a = (float)(sdy / M), bq = (float)(sdyx / M);
        for (int n = 0; n < N; n++) {
            const float *x = in + ((size_t)n * C + c) * S;
            const float *dy = dout + ((size_t)n * C + c) * S;
            float *dx = din + ((size_t)n * C + c) * S;
            for (int i = 0; i < S; i++) {
                float xh = (x[i] - mean) * invstd;
                dx[i] += g * invstd * (dy[i] - a - xh * bq);
            }
        }
    }
}

/* ---------------------------------------------------------------- dropout */

static uint64_t sm64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void zs_dropout_forward(float *out, uint8_t *mask, const float *in, size_t n, float p,
                        uint64_t *rng_state, int training) {
    if (!training || p <= 0.0f) {
        if (out != in) memmove(out, in, n * sizeof(float));
        if (mask) memset(mask, 1, n);
        return;
    }
    float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    for (size_t i = 0; i < n; i++) {
        float u = (float)(sm64(rng_state) >> 40) * (1.0f / 16777216.0f);
        uint8_t keep = u >= p;
        mask[i] = keep;
        out[i] = keep ? in[i] * scale : 0.0f;
    }
}

void zs_dropout_backward(float *din, const float *dout, const uint8_t *mask, size_t n, float p) {
    float scale = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    for (size_t i = 0; i < n; i++)
        if (mask[i]) din[i] += dout[i] * scale;
}

/* ---------------------------------------------------------------- k-WTA */

/* k-th largest of v[0..n) (1 <= k <= n), partially reordering v (Hoare
 * quickselect). NaN-free input. */
#define KTH_LARGEST_BODY(T)                                                               \
    int lo = 0, hi = n - 1, want = k - 1;                                                 \
    while (lo < hi) {                                                                     \
        T a = v[lo], b = v[lo + (hi - lo) / 2], c = v[hi];                                \
        T pv = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));     \
        int i = lo, j = hi;                                                               \
        while (i <= j) { /* descending: > pivot left, < pivot right */                    \
            while (v[i] > pv) i++;                                                        \
            while (v[j] < pv) j--;                                                        \
            if (i <= j) { T t = v[i]; v[i] = v[j]; v[j] = t; i++; j--; }                  \
        }                                                                                 \
        if (want <= j) hi = j;                                                            \
        else if (want >= i) lo = i;                                                       \
        else return v[want];                                                              \
    }                                                                                     \
    return v[want];
float zs_kth_largest(float *v, int n, int k) { KTH_LARGEST_BODY(float) }
int32_t zs_kth_largest_i32(int32_t *v, int n, int k) { KTH_LARGEST_BODY(int32_t) }

/* Top k of score[0..n), indices ascending into sel; returns the count.
 * t = the k-th largest score. ties_nupic = 0: by (larger score, then lower
 * index): every score > t and the first scores == t until k are taken.
 * ties_nupic = 1: nupic.torch's rule (KWinners break_ties=False, t =
 * torch.kthvalue(n - k + 1)): every score >= t wins, so ties at t can give
 * more than k winners. work: scratch of n int32. */
static int topk(int32_t *sel, const float *score, int n, int k, int32_t *work, int ties_nupic) {
    if (k <= 0 || n <= 0) return 0;
    if (k >= n) {
        for (int i = 0; i < n; i++) sel[i] = i;
        return n;
    }
    float *v = (float *)(void *)work;
    memcpy(v, score, sizeof(float) * (size_t)n);
    float t = zs_kth_largest(v, n, k);
    int c = 0;
    if (ties_nupic) {
        for (int i = 0; i < n; i++)
            if (score[i] >= t) sel[c++] = i;
        return c;
    }
    int above = 0;
    for (int i = 0; i < n; i++) above += score[i] > t;
    int ties = k - above;
    for (int i = 0; i < n; i++) {
        if (score[i] > t) sel[c++] = i;
        else if (score[i] == t && ties > 0) { sel[c++] = i; ties--; }
    }
    return c;
}

int zs_topk_select(int32_t *sel, const float *score, int n, int k, int32_t *work) {
    return topk(sel, score, n, k, work, 0);
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* y (U units) = x at the c winners sel[] and 0 elsewhere; their values into
 * val (may be NULL) */
static void keep_winners(float *y, const float *x, int U, const int32_t *sel, int c, float *val) {
    memset(y, 0, sizeof(float) * U);
    for (int j = 0; j < c; j++) {
        y[sel[j]] = x[sel[j]];
        if (val) val[j] = x[sel[j]];
    }
}

/* Global k-WTA of N samples of C groups of S units (a group shares its
 * duty cycle and boost factor). */
static void kwta_global(float *out, int32_t *win_count, int32_t *win_idx, float *win_val, const float *in,
                        const float *duty, float boost_strength, int N, int C, int S, int k, float *score_work,
                        int32_t *idx_work, int ties_nupic) {
    int U = C * S;
    float td = (float)((double)k / U);
    int kk = k < U ? k : U;
    size_t stride = ties_nupic ? (size_t)U : (size_t)kk;
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * U;
        for (int c = 0; c < C; c++) {
            float f = expf((td - duty[c]) * boost_strength);
            for (int i = 0; i < S; i++) score_work[c * S + i] = x[c * S + i] * f;
        }
        int32_t *sel = win_idx + (size_t)n * stride;
        int cnt = topk(sel, score_work, U, kk, idx_work, ties_nupic);
        win_count[n] = cnt;
        keep_winners(out + (size_t)n * U, x, U, sel, cnt, win_val ? win_val + (size_t)n * stride : NULL);
    }
}

void zs_kwinners_forward(float *out, int32_t *win_count, int32_t *win_idx, float *win_val,
                         const float *in, const float *duty, float boost_strength,
                         int N, int U, int k, float *score_work, int32_t *idx_work, int ties_nupic) {
    kwta_global(out, win_count, win_idx, win_val, in, duty, boost_strength, N, U, 1, k, score_work, idx_work,
                ties_nupic);
}

void zs_kwinners2d_forward(float *out, int32_t *win_count, int32_t *win_idx, float *win_val,
                           const float *in, const float *duty, float boost_strength,
                           int N, int C, int H, int W, int k, int local,
                           float *score_work, int32_t *idx_work, int ties_nupic) {
    int S = H * W, U = C * S;
    if (!local) {
        kwta_global(out, win_count, win_idx, win_val, in, duty, boost_strength, N, C, S, k, score_work, idx_work,
                    ties_nupic);
        return;
    }
    /* local: k of C at every position; kmax = k*S */
    float td = (float)((double)k / C);
    int kk = k < C ? k : C;
    size_t kmax = ties_nupic ? (size_t)U : (size_t)kk * S;
    float *fac = score_work + C; /* C boost factors after the C scores */
    for (int c = 0; c < C; c++) fac[c] = expf((td - duty[c]) * boost_strength);
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * U;
        float *y = out + (size_t)n * U;
        int32_t *sel = win_idx + (size_t)n * kmax;
        int cnt = 0;
        for (int p = 0; p < S; p++) {
            for (int c = 0; c < C; c++) score_work[c] = x[c * S + p] * fac[c];
            int32_t *local_sel = idx_work + C; /* after the C work slots */
            int m = topk(local_sel, score_work, C, kk, idx_work, ties_nupic);
            for (int j = 0; j < m; j++) sel[cnt++] = local_sel[j] * S + p;
        }
        qsort(sel, (size_t)cnt, sizeof(int32_t), cmp_i32);
        win_count[n] = cnt;
        keep_winners(y, x, U, sel, cnt, win_val ? win_val + (size_t)n * kmax : NULL);
    }
}

void zs_kwinners_backward(float *din, const float *dout, const int32_t *win_count,
                          const int32_t *win_idx, int N, int units, int kmax) {
    for (int n = 0; n < N; n++) {
        const int32_t *sel = win_idx + (size_t)n * kmax;
        float *dx = din + (size_t)n * units;
        const float *dy = dout + (size_t)n * units;
        for (int j = 0; j < win_count[n]; j++) dx[sel[j]] += dy[sel[j]];
    }
}

void zs_kwinners_update_duty(float *duty, int64_t *learning_iterations, const float *out,
                             int N, int C, int S, int duty_cycle_period) {
    *learning_iterations += N;
    int64_t period = *learning_iterations < duty_cycle_period ? *learning_iterations : duty_cycle_period;
    if (N == 1 && S == 1) { /* one sample of a BatchNorm1d-style layer: the same operations without the count loops */
        const float a = (float)(period - N), b = (float)period;
        for (int c = 0; c < C; c++) {
            float d = duty[c] * a;
            d = d + (out[c] > 0.0f ? 1.0f : 0.0f);
            duty[c] = d / b;
        }
        return;
    }
    for (int c = 0; c < C; c++) {
        int64_t cnt = 0;
        for (int n = 0; n < N; n++) {
            const float *y = out + ((size_t)n * C + c) * S;
            for (int i = 0; i < S; i++) cnt += y[i] > 0.0f;
        }
        float active = (float)cnt / (float)S;
        float d = duty[c] * (float)(period - N);
        d = d + active;
        duty[c] = d / (float)period;
    }
}

/* ---------------------------------------------------------------- softmax / NLL */

void zs_logsoftmax_forward(float *out, const float *in, int N, int K) {
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * K;
        float *y = out + (size_t)n * K;
        float m = -FLT_MAX;
        for (int i = 0; i < K; i++) m = x[i] > m ? x[i] : m;
        double s = 0;
        for (int i = 0; i < K; i++) s += exp((double)x[i] - m);
        float ls = (float)log(s);
        for (int i = 0; i < K; i++) y[i] = x[i] - m - ls;
    }
}

void zs_logsoftmax_backward(float *din, const float *dout, const float *out, int N, int K) {
    for (int n = 0; n < N; n++) {
        const float *dy = dout + (size_t)n * K, *y = out + (size_t)n * K;
        float *dx = din + (size_t)n * K;
        double s = 0;
        for (int i = 0; i < K; i++) s += dy[i];
        for (int i = 0; i < K; i++) dx[i] += dy[i] - expf(y[i]) * (float)s;
    }
}

float zs_nll_loss(float *dlogp, const float *logp, const int32_t *y, int N, int K) {
    double loss = 0;
    if (dlogp) memset(dlogp, 0, sizeof(float) * (size_t)N * K);
    for (int n = 0; n < N; n++) {
        loss -= logp[(size_t)n * K + y[n]];
        if (dlogp) dlogp[(size_t)n * K + y[n]] = -1.0f / (float)N;
    }
    return (float)(loss / N);
}
