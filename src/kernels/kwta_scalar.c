/*
 * kwta_scalar.c — k-WTA selection, winners emission, fused k-WTA + max-pool,
 * dense max-pool, sparsify and max-pool over a winners list: portable C.
 * These are also the readable statement of what the SIMD versions compute
 * (bit-identical winner sets; see kernels.h for the contracts).
 */
#include "kernels.h"
#include <math.h>

static int pass_scalar(const float *x, const float *f, int G, int S, int32_t lo, int32_t hi,
                       int *above, int32_t *ck, int32_t *ci, int cap) {
    int nc = 0, ab = 0, t = 0;
    for (int g = 0; g < G; g++) {
        float fg = f[g];
        for (int i = 0; i < S; i++, t++) {
            int32_t key = zs_kwta_key(x[t] * fg);
            ab += key > hi;
            if (key >= lo && key <= hi) {
                if (nc >= cap) return -1;
                ck[nc] = key;
                ci[nc++] = t;
            }
        }
    }
    *above = ab;
    return nc;
}

/* Per-group raw thresholds (zs_kwta_pass_pc_fn). */
static int pass_pc_scalar(const float *x, const float *f, const float *a, const float *b, int G, int S,
                          int *above, int32_t *ci, int32_t *ck, int cap) {
    int nc = 0, ab = 0;
    for (int g = 0; g < G; g++) {
        float ag = a[g], bg = b[g], fg = f[g];
        for (int i = g * S; i < (g + 1) * S; i++) {
            float v = x[i];
            if (v >= bg) ab++;
            else if (v >= ag) {
                if (nc == cap) return -1;
                ci[nc] = i; ck[nc] = zs_kwta_key(v * fg); nc++;
            }
        }
    }
    *above = ab;
    return nc;
}

static void count_lt2_scalar(const int32_t *s, int m, int32_t a, int32_t b, int *la, int *lb) {
    int na = 0, nb = 0;
    for (int i = 0; i < m; i++) { na += s[i] < a; nb += s[i] < b; }
    *la = na;
    *lb = nb;
}

static int compact_scalar(int32_t *ck, int32_t *ci, int n, int32_t lo, int32_t hi, int *above) {
    int m = 0, ab = 0;
    for (int i = 0; i < n; i++) {
        int32_t key = ck[i];
        ck[m] = key;
        if (ci) ci[m] = ci[i];
        m += key >= lo && key <= hi;
        ab += key > hi;
    }
    *above = ab;
    return m;
}

void zs_boost__scalar(float *f, const float *duty, int C, float td, float beta) {
    for (int c = 0; c < C; c++) f[c] = expf((td - duty[c]) * beta);
}

void zs_kwta_raw_ge_n__scalar(float *out, const float *f, int C, float t) {
    for (int c = 0; c < C; c++) out[c] = zs_kwta_raw_ge(t, f[c]);
}

static void minmax_scalar(const int32_t *s, int m, int32_t *mn, int32_t *mx) {
    int32_t a = INT32_MAX, b = INT32_MIN;
    for (int i = 0; i < m; i++) {
        a = s[i] < a ? s[i] : a;
        b = s[i] > b ? s[i] : b;
    }
    *mn = a;
    *mx = b;
}

static const zs_kwta_isa isa_scalar = {pass_scalar, pass_pc_scalar, count_lt2_scalar, compact_scalar,
                                       zs_kwta_raw_ge_n__scalar, minmax_scalar};

void zs_kwta_select__scalar(zs_kwta_cut *cut, const float *x, const float *f, int G, int S, int k,
                            void *work) {
    zs_kwta_select_common(cut, x, f, G, S, k, work, &isa_scalar);
}

static inline int wins(int32_t key, int32_t i, zs_kwta_cut cut) {
    return key > cut.key || (key == cut.key && i <= cut.last);
}

int zs_kwta_emit__scalar(int32_t *idx, float *val, const float *x, const float *f, int G, int S,
                         zs_kwta_cut cut) {
    int n = 0, t = 0;
    for (int g = 0; g < G; g++) {
        float fg = f[g];
        for (int i = 0; i < S; i++, t++)
            if (wins(zs_kwta_key(x[t] * fg), t, cut)) { idx[n] = t; val[n] = x[t]; n++; }
    }
    return n;
}

static inline float max2(float a, float b) { return b > a ? b : a; }

void zs_kwta_pool__scalar(float *out, const float *x, const float *f, int C, int H, int W,
                          zs_kwta_cut cut) {
    int Ho = H / 2, Wo = W / 2;
    for (int c = 0; c < C; c++) {
        float fc = f[c];
        for (int py = 0; py < Ho; py++)
            for (int px = 0; px < Wo; px++) {
                float m = 0;
                for (int j = 0; j < 4; j++) {
                    int32_t i = (c * H + 2 * py + (j >> 1)) * W + 2 * px + (j & 1);
                    float v = wins(zs_kwta_key(x[i] * fc), i, cut) ? x[i] : 0.0f;
                    m = j ? max2(m, v) : v;
                }
                out[(c * Ho + py) * Wo + px] = m;
            }
    }
}

void zs_maxpool__scalar(float *out, const float *x, int C, int H, int W, int relu) {
    int Ho = H / 2, Wo = W / 2;
    for (int c = 0; c < C; c++)
        for (int py = 0; py < Ho; py++)
            for (int px = 0; px < Wo; px++) {
                const float *p = x + ((size_t)c * H + 2 * py) * W + 2 * px;
                float m = max2(max2(p[0], p[1]), max2(p[W], p[W + 1]));
                if (relu) m = max2(m, 0.0f);
                out[((size_t)c * Ho + py) * Wo + px] = m;
            }
}

int zs_sparsify__scalar(int32_t *idx, float *val, const float *x, int n) {
    int m = 0;
    for (int i = 0; i < n; i++)
        if (x[i] != 0.0f) { idx[m] = i; val[m] = x[i]; m++; }
    return m;
}

/* First position in idx[0..n) with idx >= v. */
static int lower_bound(const int32_t *idx, int n, int32_t v) {
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (idx[mid] < v) lo = mid + 1; else hi = mid;
    }
    return lo;
}

int zs_maxpool_winners__scalar(int32_t *oidx, float *oval, const int32_t *idx, const float *val,
                               int n, int C, int H, int W, int k, int s, float *scratch) {
    int Ho = (H - k) / s + 1, Wo = (W - k) / s + 1, m = 0;
    if (Ho < 1 || Wo < 1) return 0;
    float *mx = scratch, *cnt = scratch + Wo;
    for (int j = 0; j < Wo; j++) cnt[j] = 0;
    int pos = 0;
    for (int c = 0; c < C && pos < n; c++)
        for (int py = 0; py < Ho; py++) {
            int32_t r0 = (c * H + py * s) * W, r1 = r0 + k * W;
            int a = lower_bound(idx + pos, n - pos, r0) + pos, b = lower_bound(idx + a, n - a, r1) + a;
            if (a == b) continue;
            int jmin = Wo, jmax = -1;
            for (int e = a; e < b; e++) {
                int xcol = (idx[e] - r0) % W;
                /* windows px with px*s <= xcol < px*s + k */
                int p0 = xcol >= k ? (xcol - k) / s + 1 : 0, p1 = xcol / s;
                if (p1 >= Wo) p1 = Wo - 1;
                for (int px = p0; px <= p1; px++) {
                    mx[px] = cnt[px] > 0 ? max2(mx[px], val[e]) : val[e];
                    cnt[px] += 1;
                    if (px < jmin) jmin = px;
                    if (px > jmax) jmax = px;
                }
            }
            for (int px = jmin; px <= jmax; px++) {
                if (cnt[px] == 0) continue;
                float v = mx[px];
                if (cnt[px] < (float)(k * k)) v = max2(v, 0.0f); /* a non-winner (0) in the window */
                oidx[m] = (c * Ho + py) * Wo + px;
                oval[m++] = v;
                cnt[px] = 0;
            }
            /* rows of this channel before the next window start can be skipped */
            if (s >= k) pos = b;
        }
    return m;
}

/* conv_kwta_pool: the three kernels one after the other (the reference the
 * fused AVX2 / AVX-512 versions of conv_kwta_kern.h give the same bits as,
 * with their own ISA's conv_dense). */
void zs_conv_kwta_pool__scalar(float *out, const float *in, const zs_conv_taps *p, const float *f, int k,
                               void *work, float *map) {
    zs_kwta_cut cut;
    zs_conv_dense__scalar(map, in, p);
    zs_kwta_select__scalar(&cut, map, f, p->Co, p->Ho * p->Wo, k, work);
    zs_kwta_pool__scalar(out, map, f, p->Co, p->Ho, p->Wo, cut);
}

/* conv_pool, the reference: conv_dense into the map, then maxpool. */
void zs_conv_pool__scalar(float *out, const float *in, const zs_conv_taps *p, float *map) {
    zs_conv_dense__scalar(map, in, p);
    zs_maxpool__scalar(out, map, p->Co, p->Ho, p->Wo, 0);
}
