/*
 * bwd_avx512.c — sparse backward kernels with AVX-512F (same algorithms as
 * bwd_scalar.c): row dot products 4 taps at a time, Cout-vector scatter and
 * dot products, gathers of dy by output index for the linear lists.
 */
#include "kernels.h"
#include <immintrin.h>

static inline __mmask16 tail16(int rem) {
    return rem >= 16 ? (__mmask16)0xFFFF : rem <= 0 ? 0 : (__mmask16)((1u << rem) - 1u);
}

void zs_conv_wgrad_taps__avx512(float *dwt, const float *in, const float *dout, const zs_conv_taps *p) {
    int Ho = p->Ho, Wo = p->Wo, W = p->W;
    for (int o = 0; o < p->Co; o++) {
        const float *dy = dout + (size_t)o * Ho * Wo;
        int t = p->start[o], t1 = p->start[o + 1];
        for (; t + 3 < t1; t += 4) {
            const float *i0 = in + p->off[t], *i1 = in + p->off[t + 1], *i2 = in + p->off[t + 2], *i3 = in + p->off[t + 3];
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (int oy = 0; oy < Ho; oy++)
                for (int x0 = 0; x0 < Wo; x0 += 16) {
                    __mmask16 m = tail16(Wo - x0);
                    __m512 g = _mm512_maskz_loadu_ps(m, dy + oy * Wo + x0);
                    int r = oy * W + x0;
                    a0 = _mm512_fmadd_ps(g, _mm512_maskz_loadu_ps(m, i0 + r), a0);
                    a1 = _mm512_fmadd_ps(g, _mm512_maskz_loadu_ps(m, i1 + r), a1);
                    a2 = _mm512_fmadd_ps(g, _mm512_maskz_loadu_ps(m, i2 + r), a2);
                    a3 = _mm512_fmadd_ps(g, _mm512_maskz_loadu_ps(m, i3 + r), a3);
                }
            dwt[t] += _mm512_reduce_add_ps(a0);
            dwt[t + 1] += _mm512_reduce_add_ps(a1);
            dwt[t + 2] += _mm512_reduce_add_ps(a2);
            dwt[t + 3] += _mm512_reduce_add_ps(a3);
        }
        for (; t < t1; t++) {
            const float *i0 = in + p->off[t];
            __m512 a0 = _mm512_setzero_ps();
            for (int oy = 0; oy < Ho; oy++)
                for (int x0 = 0; x0 < Wo; x0 += 16) {
                    __mmask16 m = tail16(Wo - x0);
                    a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, dy + oy * Wo + x0),
                                         _mm512_maskz_loadu_ps(m, i0 + oy * W + x0), a0);
                }
            dwt[t] += _mm512_reduce_add_ps(a0);
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

void zs_conv_wgrad_vec__avx512(float *dwv, const int32_t *idx, const float *val, int n, const float *dout,
                               const zs_conv_scatter *p, float *hwc) {
    int Wo = p->Wo, Cop = p->Cop, Kh = p->Kh, Kw = p->Kw, HW = p->H * p->W, nv = Cop / 16;
    to_hwc(hwc, dout, p->Co, p->Ho * Wo, Cop);
    int ci = 0;
    for (int e = 0; e < n; e++) {
        while (idx[e] >= (ci + 1) * HW) ci++;
        int pos = idx[e] - ci * HW, iy = p->cy[pos], ix = p->cx[pos];
        __m512 v = _mm512_set1_ps(val[e]);
        int ky0, ky1, kx0, kx1;
        tap_range(iy, p->pad, Kh, p->Ho, &ky0, &ky1);
        tap_range(ix, p->pad, Kw, Wo, &kx0, &kx1);
        for (int ky = ky0; ky <= ky1; ky++)
            for (int kx = kx0; kx <= kx1; kx++) {
                const float *g = hwc + ((size_t)(iy + p->pad - ky) * Wo + (ix + p->pad - kx)) * Cop;
                float *d = dwv + ((size_t)(ci * Kh + ky) * Kw + kx) * Cop;
                for (int j = 0; j < nv; j++)
                    _mm512_storeu_ps(d + 16 * j, _mm512_fmadd_ps(v, _mm512_loadu_ps(g + 16 * j), _mm512_loadu_ps(d + 16 * j)));
            }
    }
}

void zs_conv_dgrad_vec__avx512(float *dval, const int32_t *idx, int n, const float *dout,
                               const zs_conv_scatter *p, float *hwc) {
    int Wo = p->Wo, Cop = p->Cop, Kh = p->Kh, Kw = p->Kw, HW = p->H * p->W, nv = Cop / 16;
    to_hwc(hwc, dout, p->Co, p->Ho * Wo, Cop);
    int ci = 0;
    for (int e = 0; e < n; e++) {
        while (idx[e] >= (ci + 1) * HW) ci++;
        int pos = idx[e] - ci * HW, iy = p->cy[pos], ix = p->cx[pos];
        int ky0, ky1, kx0, kx1;
        tap_range(iy, p->pad, Kh, p->Ho, &ky0, &ky1);
        tap_range(ix, p->pad, Kw, Wo, &kx0, &kx1);
        __m512 a = _mm512_setzero_ps(), b = _mm512_setzero_ps();
        for (int ky = ky0; ky <= ky1; ky++)
            for (int kx = kx0; kx <= kx1; kx++) {
                const float *g = hwc + ((size_t)(iy + p->pad - ky) * Wo + (ix + p->pad - kx)) * Cop;
                const float *w = p->wvec + ((size_t)(ci * Kh + ky) * Kw + kx) * Cop;
                int j = 0;
                for (; j + 1 < nv; j += 2) {
                    a = _mm512_fmadd_ps(_mm512_load_ps(w + 16 * j), _mm512_loadu_ps(g + 16 * j), a);
                    b = _mm512_fmadd_ps(_mm512_load_ps(w + 16 * j + 16), _mm512_loadu_ps(g + 16 * j + 16), b);
                }
                if (j < nv) a = _mm512_fmadd_ps(_mm512_load_ps(w + 16 * j), _mm512_loadu_ps(g + 16 * j), a);
            }
        dval[e] = _mm512_reduce_add_ps(_mm512_add_ps(a, b));
    }
}

void zs_linear_wgrad__avx512(float *dwl, const int32_t *idx, const float *val, int n, const float *dy,
                             const zs_linear_pack *p) {
    for (int e = 0; e < n; e++) {
        __m512 v = _mm512_set1_ps(val[e]);
        int t0 = p->start[idx[e]], t1 = p->start[idx[e] + 1];
        for (int t = t0; t < t1; t += 16) {
            __mmask16 m = tail16(t1 - t);
            __m512i o = _mm512_maskz_loadu_epi32(m, p->lo + t);
            __m512 g = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, o, dy, 4);
            _mm512_mask_storeu_ps(dwl + t, m, _mm512_fmadd_ps(v, g, _mm512_maskz_loadu_ps(m, dwl + t)));
        }
    }
}

void zs_linear_dgrad__avx512(float *dval, const int32_t *idx, int n, const float *dy, const zs_linear_pack *p) {
    for (int e = 0; e < n; e++) {
        int t0 = p->start[idx[e]], t1 = p->start[idx[e] + 1];
        __m512 a = _mm512_setzero_ps();
        for (int t = t0; t < t1; t += 16) {
            __mmask16 m = tail16(t1 - t);
            __m512i o = _mm512_maskz_loadu_epi32(m, p->lo + t);
            __m512 g = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, o, dy, 4);
            a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, p->lw + t), g, a);
        }
        dval[e] = _mm512_reduce_add_ps(a);
    }
}
