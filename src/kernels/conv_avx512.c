/*
 * conv_avx512.c — sparse convolutions with AVX-512F, 16 lanes.
 *   conv_dense: per output channel, a tile of R rows x V vectors (R*V <= 8
 *     accumulators in registers, V = 2 for Wo in (16, 32]) walks the
 *     channel's tap list: broadcast weight, unaligned row loads, FMA. Tails
 *     use masked (fault-suppressing) loads and stores.
 *   conv_sparse_vec: each non-zero input adds v * w[ci,ky,kx][0..Cop) into
 *     the channel-last accumulator of every output it reaches (16-channel
 *     blocks without a kept weight skipped: cmask), then one transpose to
 *     (Co, Ho, Wo).
 */
#include "kernels.h"
#include <immintrin.h>

static inline __mmask16 tail16(int rem) {
    return rem >= 16 ? (__mmask16)0xFFFF : rem <= 0 ? 0 : (__mmask16)((1u << rem) - 1u);
}

static inline __attribute__((always_inline)) void tile(float *op, const float *ib, const int32_t *off,
                                                       const float *w, int nt, float b, int W, int Wo,
                                                       const int R, const int V, __mmask16 ml) {
    __m512 acc[8];
#pragma GCC unroll 8
    for (int j = 0; j < R * V; j++) acc[j] = _mm512_set1_ps(b);
    for (int t = 0; t < nt; t++) {
        __m512 wv = _mm512_set1_ps(w[t]);
        const float *q = ib + off[t];
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
#pragma GCC unroll 4
            for (int v = 0; v < V; v++) {
                __m512 x = v == V - 1 ? _mm512_maskz_loadu_ps(ml, q + r * W + 16 * v) : _mm512_loadu_ps(q + r * W + 16 * v);
                acc[r * V + v] = _mm512_fmadd_ps(wv, x, acc[r * V + v]);
            }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) {
            if (v == V - 1) _mm512_mask_storeu_ps(op + r * Wo + 16 * v, ml, acc[r * V + v]);
            else _mm512_storeu_ps(op + r * Wo + 16 * v, acc[r * V + v]);
        }
}

#define TILE(R, V) tile(op + oy * Wo + x0, in + oy * W + x0, off, w, nt, b, W, Wo, R, V, ml)

void zs_conv_dense__avx512(float *out, const float *in, const zs_conv_taps *p) {
    int Ho = p->Ho, Wo = p->Wo, W = p->W;
    for (int o = 0; o < p->Co; o++) {
        float *op = out + (size_t)o * Ho * Wo, b = p->bias[o];
        const int32_t *off = p->off + p->start[o];
        const float *w = p->w + p->start[o];
        int nt = p->start[o + 1] - p->start[o];
        for (int x0 = 0; x0 < Wo; x0 += 32) {
            int rem = Wo - x0, V = rem > 16 ? 2 : 1, rmax = V == 2 ? 4 : 8;
            __mmask16 ml = tail16(V == 2 ? rem - 16 : rem);
            int nblk = (Ho + rmax - 1) / rmax, R = (Ho + nblk - 1) / nblk;
            for (int oy = 0; oy < Ho; oy += R) {
                int r = Ho - oy < R ? Ho - oy : R;
                if (V == 2) {
                    switch (r) {
                    case 4: TILE(4, 2); break;
                    case 3: TILE(3, 2); break;
                    case 2: TILE(2, 2); break;
                    default: TILE(1, 2); break;
                    }
                } else {
                    switch (r) {
                    case 8: TILE(8, 1); break;
                    case 7: TILE(7, 1); break;
                    case 6: TILE(6, 1); break;
                    case 5: TILE(5, 1); break;
                    case 4: TILE(4, 1); break;
                    case 3: TILE(3, 1); break;
                    case 2: TILE(2, 1); break;
                    default: TILE(1, 1); break;
                    }
                }
            }
        }
    }
}

static inline void tap_range(int iy, int pad, int K, int Ho, int *k0, int *k1) {
    int a = iy + pad - Ho + 1, b = iy + pad;
    *k0 = a > 0 ? a : 0;
    *k1 = b < K - 1 ? b : K - 1;
}

void zs_conv_sparse_vec__avx512(float *out, const int32_t *idx, const float *val, int n,
                                const zs_conv_scatter *p, float *acc) {
    int Ho = p->Ho, Wo = p->Wo, Cop = p->Cop, Kh = p->Kh, Kw = p->Kw, HW = p->H * p->W, nv = Cop / 16;
    const uint32_t full = nv >= 32 ? 0xFFFFFFFFu : (1u << nv) - 1u;
    for (int j = 0; j < nv; j++) {
        __m512 b = _mm512_maskz_loadu_ps(tail16(p->Co - 16 * j), p->bias + 16 * j);
        for (int q = 0; q < Ho * Wo; q++) _mm512_store_ps(acc + (size_t)q * Cop + 16 * j, b);
    }
    int ci = 0;
    for (int e = 0; e < n; e++) {
        while (idx[e] >= (ci + 1) * HW) ci++;
        int pos = idx[e] - ci * HW, iy = p->cy[pos], ix = p->cx[pos];
        __m512 v = _mm512_set1_ps(val[e]);
        int ky0, ky1, kx0, kx1;
        tap_range(iy, p->pad, Kh, Ho, &ky0, &ky1);
        tap_range(ix, p->pad, Kw, Wo, &kx0, &kx1);
        for (int ky = ky0; ky <= ky1; ky++) {
            float *arow = acc + (size_t)(iy + p->pad - ky) * Wo * Cop;
            const float *wrow = p->wvec + (size_t)(ci * Kh + ky) * Kw * Cop;
            for (int kx = kx0; kx <= kx1; kx++) {
                float *a = arow + (size_t)(ix + p->pad - kx) * Cop;
                const float *w = wrow + (size_t)kx * Cop;
                uint32_t m = p->cmask[(ci * Kh + ky) * Kw + kx];
                if (nv <= 32 && m != full) {
                    /* block-structured weights: only the 16-channel blocks with a kept weight */
                    while (m) {
                        int j = __builtin_ctz(m);
                        m &= m - 1;
                        _mm512_store_ps(a + 16 * j, _mm512_fmadd_ps(v, _mm512_load_ps(w + 16 * j), _mm512_load_ps(a + 16 * j)));
                    }
                } else if (nv == 4) {
                    __m512 a0 = _mm512_fmadd_ps(v, _mm512_load_ps(w), _mm512_load_ps(a));
                    __m512 a1 = _mm512_fmadd_ps(v, _mm512_load_ps(w + 16), _mm512_load_ps(a + 16));
                    __m512 a2 = _mm512_fmadd_ps(v, _mm512_load_ps(w + 32), _mm512_load_ps(a + 32));
                    __m512 a3 = _mm512_fmadd_ps(v, _mm512_load_ps(w + 48), _mm512_load_ps(a + 48));
                    _mm512_store_ps(a, a0); _mm512_store_ps(a + 16, a1);
                    _mm512_store_ps(a + 32, a2); _mm512_store_ps(a + 48, a3);
                } else {
                    for (int j = 0; j < nv; j++)
                        _mm512_store_ps(a + 16 * j, _mm512_fmadd_ps(v, _mm512_load_ps(w + 16 * j), _mm512_load_ps(a + 16 * j)));
                }
            }
        }
    }
    /* (Ho*Wo, Cop) -> (Co, Ho*Wo) */
    int P = Ho * Wo;
    for (int o = 0; o < p->Co; o++)
        for (int q = 0; q < P; q++) out[(size_t)o * P + q] = acc[(size_t)q * Cop + o];
}

