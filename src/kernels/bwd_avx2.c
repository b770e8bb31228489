/*
 * bwd_avx2.c — sparse backward kernels with AVX2+FMA (same algorithms as
 * bwd_avx512.c with 8 lanes).
 */
#include "kernels.h"
#include <immintrin.h>

static inline __m256i tail8(int rem) {
    static const int32_t ones[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    if (rem >= 8) return _mm256_set1_epi32(-1);
    if (rem <= 0) return _mm256_setzero_si256();
    return _mm256_loadu_si256((const __m256i *)(ones + 8 - rem));
}

static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

void zs_conv_wgrad_taps__avx2(float *dwt, const float *in, const float *dout, const zs_conv_taps *p) {
    int Ho = p->Ho, Wo = p->Wo, W = p->W;
    for (int o = 0; o < p->Co; o++) {
        const float *dy = dout + (size_t)o * Ho * Wo;
        int t = p->start[o], t1 = p->start[o + 1];
        for (; t + 3 < t1; t += 4) {
            const float *i0 = in + p->off[t], *i1 = in + p->off[t + 1], *i2 = in + p->off[t + 2], *i3 = in + p->off[t + 3];
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (int oy = 0; oy < Ho; oy++)
                for (int x0 = 0; x0 < Wo; x0 += 8) {
                    __m256i m = tail8(Wo - x0);
                    __m256 g = _mm256_maskload_ps(dy + oy * Wo + x0, m);
                    int r = oy * W + x0;
                    a0 = _mm256_fmadd_ps(g, _mm256_maskload_ps(i0 + r, m), a0);
                    a1 = _mm256_fmadd_ps(g, _mm256_maskload_ps(i1 + r, m), a1);
                    a2 = _mm256_fmadd_ps(g, _mm256_maskload_ps(i2 + r, m), a2);
                    a3 = _mm256_fmadd_ps(g, _mm256_maskload_ps(i3 + r, m), a3);
                }
            dwt[t] += hsum8(a0);
            dwt[t + 1] += hsum8(a1);
            dwt[t + 2] += hsum8(a2);
            dwt[t + 3] += hsum8(a3);
        }
        for (; t < t1; t++) {
            const float *i0 = in + p->off[t];
            __m256 a0 = _mm256_setzero_ps();
            for (int oy = 0; oy < Ho; oy++)
                for (int x0 = 0; x0 < Wo; x0 += 8) {
                    __m256i m = tail8(Wo - x0);
                    a0 = _mm256_fmadd_ps(_mm256_maskload_ps(dy + oy * Wo + x0, m),
                                         _mm256_maskload_ps(i0 + oy * W + x0, m), a0);
                }
            dwt[t] += hsum8(a0);
        }
    }
}

static void to_hwc(float *hwc, const float *dout, int Co, int P, int Cop) {
    for (int q = 0; q < P; q++) {
        for (int o = 0; o < Co; o++) hwc[(size_t)q * Cop + o] = dout[(size_t)o * P + q];
        for (int o = Co; o < Cop; o++) hwc[(size_t)q * Cop + o] = 0.0f;
    }
}

static inline void tap_range(int iy, int pad, int K, int Ho, int *k0, int *k1) {
    int a = iy + pad - Ho + 1, b = iy + pad;
    *k0 = a > 0 ? a : 0;
    *k1 = b < K - 1 ? b : K - 1;
}

void zs_conv_wgrad_vec__avx2(float *dwv, const int32_t *idx, const float *val, int n, const float *dout,
                               const zs_conv_scatter *p, float *hwc) {
    int Wo = p->Wo, Cop = p->Cop, Kh = p->Kh, Kw = p->Kw, HW = p->H * p->W, nv = Cop / 8;
    to_hwc(hwc, dout, p->Co, p->Ho * Wo, Cop);
    int ci = 0;
    for (int e = 0; e < n; e++) {
        while (idx[e] >= (ci + 1) * HW) ci++;
        int pos = idx[e] - ci * HW, iy = p->cy[pos], ix = p->cx[pos];
        __m256 v = _mm256_set1_ps(val[e]);
        int ky0, ky1, kx0, kx1;
        tap_range(iy, p->pad, Kh, p->Ho, &ky0, &ky1);
        tap_range(ix, p->pad, Kw, Wo, &kx0, &kx1);
        for (int ky = ky0; ky <= ky1; ky++)
            for (int kx = kx0; kx <= kx1; kx++) {
                const float *g = hwc + ((size_t)(iy + p->pad - ky) * Wo + (ix + p->pad - kx)) * Cop;
                float *d = dwv + ((size_t)(ci * Kh + ky) * Kw + kx) * Cop;
                for (int j = 0; j < nv; j++)
                    _mm256_storeu_ps(d + 8 * j, _mm256_fmadd_ps(v, _mm256_loadu_ps(g + 8 * j), _mm256_loadu_ps(d + 8 * j)));
            }
    }
}

void zs_conv_dgrad_vec__avx2(float *dval, const int32_t *idx, int n, const float *dout,
                               const zs_conv_scatter *p, float *hwc) {
    int Wo = p->Wo, Cop = p->Cop, Kh = p->Kh, Kw = p->Kw, HW = p->H * p->W, nv = Cop / 8;
    to_hwc(hwc, dout, p->Co, p->Ho * Wo, Cop);
    int ci = 0;
    for (int e = 0; e < n; e++) {
        while (idx[e] >= (ci + 1) * HW) ci++;
        int pos = idx[e] - ci * HW, iy = p->cy[pos], ix = p->cx[pos];
        int ky0, ky1, kx0, kx1;
        tap_range(iy, p->pad, Kh, p->Ho, &ky0, &ky1);
        tap_range(ix, p->pad, Kw, Wo, &kx0, &kx1);
        __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
        for (int ky = ky0; ky <= ky1; ky++)
            for (int kx = kx0; kx <= kx1; kx++) {
                const float *g = hwc + ((size_t)(iy + p->pad - ky) * Wo + (ix + p->pad - kx)) * Cop;
                const float *w = p->wvec + ((size_t)(ci * Kh + ky) * Kw + kx) * Cop;
                int j = 0;
                for (; j + 1 < nv; j += 2) {
                    a = _mm256_fmadd_ps(_mm256_load_ps(w + 8 * j), _mm256_loadu_ps(g + 8 * j), a);
                    b = _mm256_fmadd_ps(_mm256_load_ps(w + 8 * j + 8), _mm256_loadu_ps(g + 8 * j + 8), b);
                }
                if (j < nv) a = _mm256_fmadd_ps(_mm256_load_ps(w + 8 * j), _mm256_loadu_ps(g + 8 * j), a);
            }
        dval[e] = hsum8(_mm256_add_ps(a, b));
    }
}

void zs_linear_wgrad__avx2(float *dwl, const int32_t *idx, const float *val, int n, const float *dy,
                           const zs_linear_pack *p) {
    for (int e = 0; e < n; e++) {
        __m256 v = _mm256_set1_ps(val[e]);
        int t0 = p->start[idx[e]], t1 = p->start[idx[e] + 1];
        for (int t = t0; t < t1; t += 8) {
            __m256i m = tail8(t1 - t);
            __m256i o = _mm256_maskload_epi32(p->lo + t, m);
            __m256 g = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), dy, o, _mm256_castsi256_ps(m), 4);
            _mm256_maskstore_ps(dwl + t, m, _mm256_fmadd_ps(v, g, _mm256_maskload_ps(dwl + t, m)));
        }
    }
}

void zs_linear_dgrad__avx2(float *dval, const int32_t *idx, int n, const float *dy, const zs_linear_pack *p) {
    for (int e = 0; e < n; e++) {
        int t0 = p->start[idx[e]], t1 = p->start[idx[e] + 1];
        __m256 a = _mm256_setzero_ps();
        for (int t = t0; t < t1; t += 8) {
            __m256i m = tail8(t1 - t);
            __m256i o = _mm256_maskload_epi32(p->lo + t, m);
            __m256 g = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), dy, o, _mm256_castsi256_ps(m), 4);
            a = _mm256_fmadd_ps(_mm256_maskload_ps(p->lw + t, m), g, a);
        }
        dval[e] = hsum8(a);
    }
}
