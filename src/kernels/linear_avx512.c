/*
 * linear_avx512.c — linear layers with a sparse input list, AVX-512F:
 *   linear_ss: one FMA per (non-zero input, 16-output weight block);
 *   linear_sd: output chunks of up to 8 vectors (128 outputs) stay in
 *     registers while the input list streams by;
 *   linear_sg: 16 outputs per vector, vgatherdps of their inputs (from a
 *     dense, L1-resident x), two accumulators;
 *   linear_ss_list: 16 kept weights of a column per step, gathered and
 *     scattered outputs (linear_list_kern.h);
 *   linear_ss_list1: the same source one kept weight at a time, a scalar
 *     FMA each (where vscatterdps is microcoded, as on AMD Zen 4/5, it
 *     measured faster; the plan times the two);
 *   linear_ss_expand: dense over the outputs, in passes over blocks of
 *     xbg 16-output groups whose sums stay in registers while the input
 *     list streams by; per (column, group) vexpandps puts the column's
 *     next popcount(mask) values into the kept lanes and one FMA, merge
 *     masked, adds them (the other lanes keep their bits).
 */
#include "kernels.h"
#include <immintrin.h>
#include <math.h>

void zs_linear_ss__avx512(float *out, const int32_t *idx, const float *val, int n,
                          const zs_linear_pack *p) {
    memcpy(out, p->bias, sizeof(float) * p->Op);
    for (int e = 0; e < n; e++) {
        int i = idx[e];
        __m512 v = _mm512_set1_ps(val[e]);
        int b = p->bstart[i], b1 = p->bstart[i + 1];
        const int32_t *bo = p->bo;
        const float *bw = p->bw;
        for (; b + 1 < b1; b += 2) {
            float *o0 = out + bo[b], *o1 = out + bo[b + 1];
            __m512 r0 = _mm512_fmadd_ps(v, _mm512_load_ps(bw + (size_t)b * 16), _mm512_loadu_ps(o0));
            __m512 r1 = _mm512_fmadd_ps(v, _mm512_load_ps(bw + (size_t)b * 16 + 16), _mm512_loadu_ps(o1));
            _mm512_storeu_ps(o0, r0);
            _mm512_storeu_ps(o1, r1);
        }
        if (b < b1) {
            float *o0 = out + bo[b];
            _mm512_storeu_ps(o0, _mm512_fmadd_ps(v, _mm512_load_ps(bw + (size_t)b * 16), _mm512_loadu_ps(o0)));
        }
    }
}

static inline __attribute__((always_inline)) void sd_chunk(float *out, const int32_t *idx, const float *val,
                                                           int n, const float *wt, int Op, const int V) {
    __m512 acc[8];
#pragma GCC unroll 8
    for (int j = 0; j < V; j++) acc[j] = _mm512_loadu_ps(out + 16 * j);
    for (int e = 0; e < n; e++) {
        __m512 v = _mm512_set1_ps(val[e]);
        const float *w = wt + (size_t)idx[e] * Op;
#pragma GCC unroll 8
        for (int j = 0; j < V; j++) acc[j] = _mm512_fmadd_ps(v, _mm512_loadu_ps(w + 16 * j), acc[j]);
    }
#pragma GCC unroll 8
    for (int j = 0; j < V; j++) _mm512_storeu_ps(out + 16 * j, acc[j]);
}

void zs_linear_sd__avx512(float *out, const int32_t *idx, const float *val, int n,
                          const zs_linear_pack *p) {
    int Op = p->Op;
    memcpy(out, p->bias, sizeof(float) * Op);
    for (int o = 0; o < Op; o += 128) {
        int V = (Op - o) / 16 > 8 ? 8 : (Op - o) / 16;
        switch (V) {
        case 8: sd_chunk(out + o, idx, val, n, p->wt + o, Op, 8); break;
        case 7: sd_chunk(out + o, idx, val, n, p->wt + o, Op, 7); break;
        case 6: sd_chunk(out + o, idx, val, n, p->wt + o, Op, 6); break;
        case 5: sd_chunk(out + o, idx, val, n, p->wt + o, Op, 5); break;
        case 4: sd_chunk(out + o, idx, val, n, p->wt + o, Op, 4); break;
        case 3: sd_chunk(out + o, idx, val, n, p->wt + o, Op, 3); break;
        case 2: sd_chunk(out + o, idx, val, n, p->wt + o, Op, 2); break;
        default: sd_chunk(out + o, idx, val, n, p->wt + o, Op, 1); break;
        }
    }
}

void zs_linear_sg__avx512(float *out, const float *x, const zs_linear_pack *p) {
    /* one FMA chain per output in the row's index order (bit-identical to
     * linear_ss_list); two 16-output blocks at a time keep two chains busy */
    const int nz = p->gnz, nb = p->Op / 16;
    int b = 0;
    for (; b + 1 < nb; b += 2) {
        const int32_t *gi = p->gi + (size_t)b * nz * 16, *gj = gi + (size_t)nz * 16;
        const float *gw = p->gw + (size_t)b * nz * 16, *gv = gw + (size_t)nz * 16;
        __m512 a0 = _mm512_load_ps(p->bias + 16 * b), a1 = _mm512_load_ps(p->bias + 16 * b + 16);
        for (int j = 0; j < nz; j++) {
            a0 = _mm512_fmadd_ps(_mm512_load_ps(gw + j * 16), _mm512_i32gather_ps(_mm512_load_si512(gi + j * 16), x, 4), a0);
            a1 = _mm512_fmadd_ps(_mm512_load_ps(gv + j * 16), _mm512_i32gather_ps(_mm512_load_si512(gj + j * 16), x, 4), a1);
        }
        _mm512_storeu_ps(out + 16 * b, a0);
        _mm512_storeu_ps(out + 16 * b + 16, a1);
    }
    for (; b < nb; b++) {
        const int32_t *gi = p->gi + (size_t)b * nz * 16;
        const float *gw = p->gw + (size_t)b * nz * 16;
        __m512 a0 = _mm512_load_ps(p->bias + 16 * b);
        for (int j = 0; j < nz; j++)
            a0 = _mm512_fmadd_ps(_mm512_load_ps(gw + j * 16), _mm512_i32gather_ps(_mm512_load_si512(gi + j * 16), x, 4), a0);
        _mm512_storeu_ps(out + 16 * b, a0);
    }
}

/* linear_ss_list: one source for every width (linear_list_kern.h); 16
 * outputs of a column per step, vgatherdps / FMA / vscatterdps */
static inline __attribute__((always_inline)) void lsl_step16(float *out, const uint16_t *lo, const float *lw,
                                                             float v, int rem) {
    __mmask16 m = rem >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rem) - 1u);
    __m512i o = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, lo));
    __m512 a = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, o, out, 4);
    a = _mm512_fmadd_ps(_mm512_set1_ps(v), _mm512_maskz_loadu_ps(m, lw), a);
    _mm512_mask_i32scatter_ps(out, m, o, a, 4);
}
#define LSL_FN zs_linear_ss_list__avx512
#define LSL_VL 16
#define LSL_STEP(out, lo, lw, v, rem) lsl_step16((out), (lo), (lw), (v), (rem))
#include "linear_list_kern.h"
#undef LSL_FN
#undef LSL_VL
#undef LSL_STEP
#define LSL_FN zs_linear_ss_list1__avx512
#define LSL_VL 1
#include "linear_list_kern.h"

/* linear_ss_expand: one pass over the input list for block b of B groups */
static inline __attribute__((always_inline)) void lsx_block(float *out, const int32_t *idx, const float *val,
                                                            int n, const zs_linear_pack *p, int b, const int B) {
    const int g0 = b * B, G = p->Op / 16, xnb = p->xnb;
    const size_t stride = (size_t)xnb * B;
    const uint16_t *xm = p->xm + g0;
    const int32_t *xoff = p->xoff + b;
    const float *lw = p->lw;
    __m512 acc[ZS_LIN_XBG];
#pragma GCC unroll 24
    for (int j = 0; j < B; j++) acc[j] = g0 + j < G ? _mm512_loadu_ps(out + 16 * (g0 + j)) : _mm512_setzero_ps();
    for (int e = 0; e < n; e++) {
        const int i = idx[e];
        if (e + 4 < n) {
            /* columns start at random places (L2/L3 at batch 1): fetch the
             * block of the one 4 inputs ahead */
            int a = idx[e + 4];
            const float *wa = lw + xoff[(size_t)a * xnb];
            _mm_prefetch((const char *)(xm + (size_t)a * stride), _MM_HINT_T0);
            _mm_prefetch((const char *)wa, _MM_HINT_T0);
            _mm_prefetch((const char *)(wa + 16), _MM_HINT_T0);
            _mm_prefetch((const char *)(wa + 32), _MM_HINT_T0);
        }
        const __m512 v = _mm512_set1_ps(val[e]);
        const uint16_t *m = xm + (size_t)i * stride;
        const float *w = lw + xoff[(size_t)i * xnb];
#pragma GCC unroll 24
        for (int j = 0; j < B; j++) {
            const unsigned k = m[j];
            acc[j] = _mm512_mask3_fmadd_ps(v, _mm512_maskz_expandloadu_ps((__mmask16)k, w), acc[j], (__mmask16)k);
            w += _mm_popcnt_u32(k);
        }
    }
#pragma GCC unroll 24
    for (int j = 0; j < B; j++)
        if (g0 + j < G) _mm512_storeu_ps(out + 16 * (g0 + j), acc[j]);
}

void zs_linear_ss_expand__avx512(float *out, const int32_t *idx, const float *val, int n,
                                 const zs_linear_pack *p) {
    memcpy(out, p->bias, sizeof(float) * p->Op);
    for (int b = 0; b < p->xnb; b++) {
        switch (p->xbg) {
#define LSX_(B) case B: lsx_block(out, idx, val, n, p, b, B); break;
        LSX_(1) LSX_(2) LSX_(3) LSX_(4) LSX_(5) LSX_(6) LSX_(7) LSX_(8) LSX_(9) LSX_(10) LSX_(11) LSX_(12)
        LSX_(13) LSX_(14) LSX_(15) LSX_(16) LSX_(17) LSX_(18) LSX_(19) LSX_(20) LSX_(21) LSX_(22) LSX_(23)
        default: lsx_block(out, idx, val, n, p, b, ZS_LIN_XBG); break;
#undef LSX_
        }
    }
}

/* col_update. With the gradient bitmap gm and U <= 1024 (its 32 words in
 * two registers): per 16 kept weights, vpermt2d picks each index's bitmap
 * word, a variable shift and a test its bit, and the positions of the
 * lanes that change are compressed into a list, with their column's input
 * value beside them; every column is scanned so, then those few weights
 * (~15 % at k-WTA sparsity) are updated one by one, their loads free of
 * any branch, the list flushed when it could overflow. No gather:
 * vgatherdps cost ~24 cycles per 16 lanes on AMD Zen 5 (per learn step's
 * 56k kept weights there: gathered 47 us, this scan with a write-back per
 * column 29-32, all columns first 18; docs/BENCHMARKS.md). Otherwise:
 * gathered gradients, masked per 16, column by column. */
enum { CU_CAP = 2048 }; /* hits held before a write-back; a column has <= 1024 */
static void cu_flush(float *w, const uint16_t *idx, const float *g, const int32_t *hit, const float *hh, int nh) {
    for (int q = 0; q < nh; q++) { /* as the scalar reference: multiply, then subtract */
        const int32_t kk = hit[q];
        const float d = g[idx[kk]] * hh[q];
        w[kk] = w[kk] - d;
    }
}
void zs_col_update__avx512(float *w, const uint16_t *idx, const int32_t *start, const int32_t *cols, const float *h,
                           int nc, const float *g, const uint32_t *gm, int U) {
    if (gm && U <= 1024) {
        int32_t hit[CU_CAP + 16];
        float hh[CU_CAP + 16];
        const __m512i b0 = _mm512_loadu_si512(gm), b1 = _mm512_loadu_si512(gm + 16);
        const __m512i c31 = _mm512_set1_epi32(31), one = _mm512_set1_epi32(1),
                      iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        int nh = 0;
        for (int q = 0; q < nc; q++) {
            const int32_t k0 = start[cols[q]], k1 = start[cols[q] + 1];
            if (nh + (k1 - k0) > CU_CAP) { /* (k1 - k0 <= U: distinct outputs) */
                cu_flush(w, idx, g, hit, hh, nh);
                nh = 0;
                if (k1 - k0 > CU_CAP) { /* not from a packer: repeated outputs */
                    zs_col_update__scalar(w, idx, start, cols + q, h + q, 1, g, NULL, U);
                    continue;
                }
            }
            const __m512 vh = _mm512_set1_ps(h[q]);
            for (int32_t k = k0; k < k1; k += 16) {
                const __mmask16 m = k1 - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k1 - k)) - 1);
                const __m512i iv = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, idx + k));
                const __m512i t = _mm512_permutex2var_epi32(b0, _mm512_srli_epi32(iv, 5), b1);
                const __mmask16 hm = _mm512_mask_test_epi32_mask(m, _mm512_srlv_epi32(t, _mm512_and_si512(iv, c31)), one);
                _mm512_storeu_si512(hit + nh, _mm512_maskz_compress_epi32(hm, _mm512_add_epi32(iota, _mm512_set1_epi32(k))));
                _mm512_storeu_ps(hh + nh, vh);
                nh += __builtin_popcount(hm);
            }
        }
        cu_flush(w, idx, g, hit, hh, nh);
        return;
    }
    const __m512 z = _mm512_setzero_ps();
    for (int q = 0; q < nc; q++) {
        const __m512 vh = _mm512_set1_ps(h[q]);
        const int32_t k1 = start[cols[q] + 1];
        for (int32_t k = start[cols[q]]; k < k1; k += 16) {
            __mmask16 m = k1 - k >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k1 - k)) - 1);
            __m512i i = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, idx + k));
            __m512 gv = _mm512_mask_i32gather_ps(z, m, i, g, 4);
            m = _mm512_mask_cmpneq_ps_mask(m, gv, z); /* the lanes that change */
            if (!m) continue;
            __m512 wv = _mm512_maskz_loadu_ps(m, w + k);
            _mm512_mask_storeu_ps(w + k, m, _mm512_sub_ps(wv, _mm512_mul_ps(gv, vh)));
        }
    }
}

void zs_row_axpy__avx512(float *w, const float *h, int n, float a) {
    const __m512 va = _mm512_set1_ps(a), z = _mm512_setzero_ps();
    for (int t = 0; t < n; t += 16) {
        __mmask16 m = n - t >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - t)) - 1);
        __m512 hv = _mm512_maskz_loadu_ps(m, h + t);
        m = _mm512_mask_cmpneq_ps_mask(m, hv, z);
        __m512 wv = _mm512_maskz_loadu_ps(m, w + t);
        _mm512_mask_storeu_ps(w + t, m, _mm512_sub_ps(wv, _mm512_mul_ps(va, hv)));
    }
}

/* linear_sr: the model's rows in place (linear_row_kern.h) */
#define LSR_FN zs_linear_sr__avx512
#define LSR_MAC(acc, v, w) fmaf((v), (w), (acc))
#include "linear_row_kern.h"
