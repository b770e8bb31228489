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

/* the vector operations of conv_dense_kern.h, conv_vec_kern.h and conv_tap_kern.h */
typedef __m256 ct_v;
typedef __m256i ct_mask;
#define CT_VL 8
#define CT_TAIL(rem) tail8(rem)
#define CT_SET1(a) _mm256_set1_ps(a)
#define CT_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define CT_LOAD(p) _mm256_load_ps(p)
#define CT_STORE(p, v) _mm256_store_ps((p), (v))
#define CT_LOADU(p) _mm256_loadu_ps(p)
#define CT_STOREU(p, v) _mm256_storeu_ps((p), (v))
#define CT_LOADM(p, m) _mm256_maskload_ps((p), (m))
#define CT_STOREM(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#define CT_LOADT(p, rem) CT_LOADM((p), tail8(rem))

#define CD_VMAX 4 /* conv_dense: up to 4 ymm per tile row */
#include "conv_dense_kern.h"
#define CV_UNROLL 8 /* conv_sparse_vec: unrolled vectors of a pair */
#include "conv_vec_kern.h"

void zs_conv_dense__avx2(float *out, const float *in, const zs_conv_taps *p) { cd_dense(out, in, p); }

void zs_conv_sparse_vec__avx2(float *out, const int32_t *idx, const float *val, int n,
                              const zs_conv_scatter *p, float *acc) {
    cv_sparse_vec(out, idx, val, n, p, acc);
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
    zs_conv_sort_by_pos(idx, val, n, p, scratch, 0, &ps, &pw, &pv);
    int nv = p->Cop / 8; /* 8-float vectors; Cop is a multiple of 16 */
    for (int c = 0; c < nv; c += 4) {
        if (nv - c >= 4) pos_chunk(scratch, ps, pw, pv, p, 8 * c, 4);
        else pos_chunk(scratch, ps, pw, pv, p, 8 * c, 2);
    }
    zs_conv_unpack_acc(out, scratch, p->Co, p->Ho * p->Wo, p->Cop);
}

/* conv_pos_lists: the scalar loop (no compress instruction in AVX2) */
int zs_conv_pos_lists__avx2(const float *x, const zs_conv_scatter *p, float *scratch) {
    return zs_conv_pos_lists__scalar(x, p, scratch);
}

/* conv_sparse_tap: one width-templated source (conv_tap_kern.h), 64
 * channels in 8 ymm */
#define CT_NO 1 /* one output position per pass: its 8 ymm are 8 FMA chains */
#define CT_FN zs_conv_sparse_tap__avx2
#include "conv_tap_kern.h"
