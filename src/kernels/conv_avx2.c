/*
 * conv_avx2.c — sparse convolutions with AVX2+FMA, 8 lanes (same
 * algorithms as conv_avx512.c).
 *   conv_dense: per output channel, a tile of R rows x V vectors (R*V <= 8
 *     accumulators in registers, V = 4 for Wo in (24, 32]) walks the
 *     channel's tap list: broadcast weight, unaligned row loads, FMA. Tails
 *     use masked (fault-suppressing) loads and stores.
 *   conv_sparse_vec: each non-zero input adds v * w[ci,ky,kx][0..Cop) into
 *     the channel-last accumulator of every output it reaches, then one
 *     transpose to (Co, Ho, Wo).
 */
#include "kernels.h"
#include <immintrin.h>

static inline __m256i tail8(int rem) {
    static const int32_t ones[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    if (rem >= 8) return _mm256_set1_epi32(-1);
    if (rem <= 0) return _mm256_setzero_si256();
    return _mm256_loadu_si256((const __m256i *)(ones + 8 - rem));
}

/* conv_dense: conv_dense_kern.h, up to 4 ymm per tile row */
typedef __m256 cd_v;
typedef __m256i cd_mask;
#define CD_VL 8
#define CD_VMAX 4
#define CD_TAIL(rem) tail8(rem)
#define CD_SET1(a) _mm256_set1_ps(a)
#define CD_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define CD_LOADU(p) _mm256_loadu_ps(p)
#define CD_STOREU(p, v) _mm256_storeu_ps((p), (v))
#define CD_LOADT(p, m) _mm256_maskload_ps((p), (m))
#define CD_STORET(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#include "conv_dense_kern.h"

void zs_conv_dense__avx2(float *out, const float *in, const zs_conv_taps *p) { cd_dense(out, in, p); }

/* The pairs of one input (see conv_avx512.c). NB: 16-channel blocks. */
static inline __attribute__((always_inline)) void vec_pairs(float *restrict acc, const float *restrict wvec,
                                                            const uint32_t *restrict cmask, __m256 v, int ci,
                                                            int oy0, int ox0, int ky0, int ky1, int kx0, int kx1,
                                                            int Wo, int Kh, int Kw, int Cop, const int NB,
                                                            uint32_t full) {
    for (int ky = ky0; ky <= ky1; ky++) {
        float *a = acc + ((size_t)(oy0 - ky) * Wo + (ox0 - kx0)) * Cop;
        size_t row = (size_t)(ci * Kh + ky) * Kw + kx0;
        const float *w = wvec + row * Cop;
        const uint32_t *cm = cmask + row;
        for (int kx = kx0; kx <= kx1; kx++, a -= Cop, w += Cop, cm++) {
            uint32_t m = *cm;
            if (m == full) {
#pragma GCC unroll 8
                for (int j = 0; j < 2 * NB; j++)
                    _mm256_store_ps(a + 8 * j, _mm256_fmadd_ps(v, _mm256_load_ps(w + 8 * j), _mm256_load_ps(a + 8 * j)));
            } else {
                /* block-structured weights: only the 16-channel blocks with a kept weight */
                while (m) {
                    int j = 2 * __builtin_ctz(m);
                    m &= m - 1;
                    _mm256_store_ps(a + 8 * j, _mm256_fmadd_ps(v, _mm256_load_ps(w + 8 * j), _mm256_load_ps(a + 8 * j)));
                    _mm256_store_ps(a + 8 * j + 8, _mm256_fmadd_ps(v, _mm256_load_ps(w + 8 * j + 8), _mm256_load_ps(a + 8 * j + 8)));
                }
            }
        }
    }
}

void zs_conv_sparse_vec__avx2(float *out, const int32_t *idx, const float *val, int n,
                              const zs_conv_scatter *p, float *acc) {
    const int Ho = p->Ho, Wo = p->Wo, Cop = p->Cop, Kh = p->Kh, Kw = p->Kw, HW = p->H * p->W, nb = Cop / 16;
    const int pad = p->pad;
    const int32_t *cy = p->cy, *cx = p->cx;
    const float *wvec = p->wvec;
    const uint32_t *cmask = p->cmask;
    const uint32_t full = nb >= 32 ? 0xFFFFFFFFu : (1u << nb) - 1u;
    for (int j = 0; j < Cop / 8; j++) {
        __m256 b = _mm256_maskload_ps(p->bias + 8 * j, tail8(p->Co - 8 * j));
        for (int q = 0; q < Ho * Wo; q++) _mm256_store_ps(acc + (size_t)q * Cop + 8 * j, b);
    }
    int ci = 0;
    for (int e = 0; e < n; e++) {
        while (idx[e] >= (ci + 1) * HW) ci++;
        int pos = idx[e] - ci * HW, iy = cy[pos], ix = cx[pos];
        __m256 v = _mm256_set1_ps(val[e]);
        int ky0, ky1, kx0, kx1;
        zs_conv_tap_range(iy, pad, Kh, Ho, &ky0, &ky1);
        zs_conv_tap_range(ix, pad, Kw, Wo, &kx0, &kx1);
        if (nb == 4)
            vec_pairs(acc, wvec, cmask, v, ci, iy + pad, ix + pad, ky0, ky1, kx0, kx1, Wo, Kh, Kw, Cop, 4, full);
        else if (nb > 32) {
            for (int ky = ky0; ky <= ky1; ky++)
                for (int kx = kx0; kx <= kx1; kx++) {
                    float *a = acc + ((size_t)(iy + pad - ky) * Wo + (ix + pad - kx)) * Cop;
                    const float *w = wvec + ((size_t)(ci * Kh + ky) * Kw + kx) * Cop;
                    for (int j = 0; j < 2 * nb; j++)
                        _mm256_store_ps(a + 8 * j, _mm256_fmadd_ps(v, _mm256_load_ps(w + 8 * j), _mm256_load_ps(a + 8 * j)));
                }
        } else
            switch (nb) {
            case 1: vec_pairs(acc, wvec, cmask, v, ci, iy + pad, ix + pad, ky0, ky1, kx0, kx1, Wo, Kh, Kw, Cop, 1, full); break;
            case 2: vec_pairs(acc, wvec, cmask, v, ci, iy + pad, ix + pad, ky0, ky1, kx0, kx1, Wo, Kh, Kw, Cop, 2, full); break;
            case 3: vec_pairs(acc, wvec, cmask, v, ci, iy + pad, ix + pad, ky0, ky1, kx0, kx1, Wo, Kh, Kw, Cop, 3, full); break;
            default: vec_pairs(acc, wvec, cmask, v, ci, iy + pad, ix + pad, ky0, ky1, kx0, kx1, Wo, Kh, Kw, Cop, nb, full); break;
            }
    }
    zs_conv_unpack_acc(out, acc, p->Co, Ho * Wo, Cop);
}


/* Output-stationary (conv_sparse_pos): inputs bucketed by position; two
 * horizontally adjacent output positions at a time keep up to 32 output
 * channels each in 2x4 registers (8 independent FMA chains) and add
 * v * w[ci, ky, kx] for the inputs of their windows, each input's value
 * broadcast once for both: no accumulator stores per pair (conv_sparse_vec
 * is bound by them), but no block skipping. */
static inline __attribute__((always_inline)) void pos_fma(__m256 *a, const float *w, __m256 v, const int NV) {
#pragma GCC unroll 4
    for (int j = 0; j < NV; j++) a[j] = _mm256_fmadd_ps(v, _mm256_load_ps(w + 8 * j), a[j]);
}

static inline __attribute__((always_inline)) void pos_chunk(float *restrict acc, const int32_t *restrict ps,
                                                            const int32_t *restrict pw, const float *restrict pv,
                                                            const zs_conv_scatter *p, int co0, const int NV) {
    const int Ho = p->Ho, Wo = p->Wo, H = p->H, W = p->W, Kh = p->Kh, Kw = p->Kw, pad = p->pad, Cop = p->Cop;
    const float *wvec = p->wvec + co0;
    for (int oy = 0; oy < Ho; oy++)
        for (int ox = 0; ox < Wo; ox += 2) {
            const int two = ox + 1 < Wo;
            __m256 a0[4], a1[4];
#pragma GCC unroll 4
            for (int j = 0; j < NV; j++) a0[j] = a1[j] = _mm256_maskload_ps(p->bias + co0 + 8 * j, tail8(p->Co - co0 - 8 * j));
            for (int ky = 0; ky < Kh; ky++) {
                int iy = oy + ky - pad;
                if (iy < 0 || iy >= H) continue;
                const float *wt = wvec + (size_t)ky * Kw * Cop;
                const int32_t *pr = ps + iy * W;
                /* input column ix = ox + c - pad feeds output ox with kx = c and ox+1 with kx = c-1 */
                for (int c = 0; c <= Kw; c++) {
                    int ix = ox + c - pad;
                    if (ix < 0 || ix >= W) continue;
                    const int s0 = pr[ix], s1 = pr[ix + 1];
                    if (c == 0) {
                        for (int s = s0; s < s1; s++) pos_fma(a0, wt + pw[s], _mm256_set1_ps(pv[s]), NV);
                    } else if (c == Kw) {
                        if (two)
                            for (int s = s0; s < s1; s++) pos_fma(a1, wt + pw[s] + (size_t)(Kw - 1) * Cop, _mm256_set1_ps(pv[s]), NV);
                    } else if (two) {
                        const float *w1 = wt + (size_t)c * Cop, *w0 = w1 - Cop;
                        for (int s = s0; s < s1; s++) {
                            __m256 v = _mm256_set1_ps(pv[s]);
                            pos_fma(a0, w1 + pw[s], v, NV);
                            pos_fma(a1, w0 + pw[s], v, NV);
                        }
                    } else {
                        for (int s = s0; s < s1; s++) pos_fma(a0, wt + (size_t)c * Cop + pw[s], _mm256_set1_ps(pv[s]), NV);
                    }
                }
            }
            float *o = acc + ((size_t)oy * Wo + ox) * Cop + co0;
#pragma GCC unroll 4
            for (int j = 0; j < NV; j++) _mm256_store_ps(o + 8 * j, a0[j]);
            if (two)
#pragma GCC unroll 4
                for (int j = 0; j < NV; j++) _mm256_store_ps(o + Cop + 8 * j, a1[j]);
        }
}

void zs_conv_sparse_pos__avx2(float *out, const int32_t *idx, const float *val, int n,
                                const zs_conv_scatter *p, float *scratch) {
    int32_t *ps, *pw;
    float *pv;
    zs_conv_sort_by_pos(idx, val, n, p, scratch, &ps, &pw, &pv);
    int nv = p->Cop / 8; /* 8-float vectors; Cop is a multiple of 16 */
    for (int c = 0; c < nv; c += 4) {
        if (nv - c >= 4) pos_chunk(scratch, ps, pw, pv, p, 8 * c, 4);
        else pos_chunk(scratch, ps, pw, pv, p, 8 * c, 2);
    }
    zs_conv_unpack_acc(out, scratch, p->Co, p->Ho * p->Wo, p->Cop);
}

/* conv_sparse_tap: one width-templated source (conv_tap_kern.h), 64
 * channels in 8 ymm */
typedef __m256 ct_v;
#define CT_VL 8
#define CT_LOAD(p) _mm256_load_ps(p)
#define CT_STORE(p, v) _mm256_store_ps((p), (v))
#define CT_LOADT(p, rem) _mm256_maskload_ps((p), tail8(rem))
#define CT_SET1(a) _mm256_set1_ps(a)
#define CT_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define CT_FN zs_conv_sparse_tap__avx2
#include "conv_tap_kern.h"
