/*
 * linear_avx2.c — linear layers with a sparse input list, AVX2+FMA (same
 * algorithms as linear_avx512.c with two 8-lane halves per 16-block;
 * linear_ss_expand without vexpandps: per 8-output half a table maps the
 * kept-lane mask to vpermps indices, and its sums stay in memory).
 */
#include "kernels.h"
#include <immintrin.h>
#include <math.h>

void zs_linear_ss__avx2(float *out, const int32_t *idx, const float *val, int n,
                        const zs_linear_pack *p) {
    memcpy(out, p->bias, sizeof(float) * p->Op);
    for (int e = 0; e < n; e++) {
        int i = idx[e];
        __m256 v = _mm256_set1_ps(val[e]);
        for (int b = p->bstart[i]; b < p->bstart[i + 1]; b++) {
            float *o = out + p->bo[b];
            const float *w = p->bw + (size_t)b * 16;
            __m256 r0 = _mm256_fmadd_ps(v, _mm256_load_ps(w), _mm256_loadu_ps(o));
            __m256 r1 = _mm256_fmadd_ps(v, _mm256_load_ps(w + 8), _mm256_loadu_ps(o + 8));
            _mm256_storeu_ps(o, r0);
            _mm256_storeu_ps(o + 8, r1);
        }
    }
}

static inline __attribute__((always_inline)) void sd_chunk(float *out, const int32_t *idx, const float *val,
                                                           int n, const float *wt, int Op, const int V) {
    __m256 acc[8];
#pragma GCC unroll 8
    for (int j = 0; j < V; j++) acc[j] = _mm256_loadu_ps(out + 8 * j);
    for (int e = 0; e < n; e++) {
        __m256 v = _mm256_set1_ps(val[e]);
        const float *w = wt + (size_t)idx[e] * Op;
#pragma GCC unroll 8
        for (int j = 0; j < V; j++) acc[j] = _mm256_fmadd_ps(v, _mm256_loadu_ps(w + 8 * j), acc[j]);
    }
#pragma GCC unroll 8
    for (int j = 0; j < V; j++) _mm256_storeu_ps(out + 8 * j, acc[j]);
}

void zs_linear_sd__avx2(float *out, const int32_t *idx, const float *val, int n,
                        const zs_linear_pack *p) {
    int Op = p->Op;
    memcpy(out, p->bias, sizeof(float) * Op);
    /* Op is a multiple of 16: chunks of 64 outputs (8 ymm), then 16s */
    int o = 0;
    for (; o + 64 <= Op; o += 64) sd_chunk(out + o, idx, val, n, p->wt + o, Op, 8);
    for (; o < Op; o += 16) sd_chunk(out + o, idx, val, n, p->wt + o, Op, 2);
}

void zs_linear_sg__avx2(float *out, const float *x, const zs_linear_pack *p) {
    /* one FMA chain per output in the row's index order (bit-identical to
     * linear_ss_list); the two 8-lane halves of a block are two chains */
    const int nz = p->gnz;
    for (int b = 0; b < p->Op / 16; b++) {
        const int32_t *gi = p->gi + (size_t)b * nz * 16;
        const float *gw = p->gw + (size_t)b * nz * 16;
        __m256 a0 = _mm256_loadu_ps(p->bias + 16 * b), a1 = _mm256_loadu_ps(p->bias + 16 * b + 8);
        for (int j = 0; j < nz; j++) {
            const int32_t *g = gi + j * 16;
            const float *w = gw + j * 16;
            a0 = _mm256_fmadd_ps(_mm256_load_ps(w), _mm256_i32gather_ps(x, _mm256_load_si256((const __m256i *)g), 4), a0);
            a1 = _mm256_fmadd_ps(_mm256_load_ps(w + 8), _mm256_i32gather_ps(x, _mm256_load_si256((const __m256i *)(g + 8)), 4), a1);
        }
        _mm256_storeu_ps(out + 16 * b, a0);
        _mm256_storeu_ps(out + 16 * b + 8, a1);
    }
}

/* linear_ss_list: one source for every width (linear_list_kern.h); AVX2
 * has no scatter, so one kept weight at a time with a hardware FMA */
#define LSL_FN zs_linear_ss_list__avx2
#define LSL_VL 1
#include "linear_list_kern.h"
/* linear_ss_list1: one kept weight at a time already */
void zs_linear_ss_list1__avx2(float *out, const int32_t *idx, const float *val, int n, const zs_linear_pack *p) {
    zs_linear_ss_list__avx2(out, idx, val, n, p);
}

/* linear_ss_expand: for an 8-bit lane mask m, lane j takes element
 * popcount(m & ((1 << j) - 1)) of the column's next values when bit j is
 * set; unset lanes hold INT32_MIN, whose sign bit is the blend mask that
 * keeps those sums' bits. */
#define LSX_PC7(x) (((x) & 1) + ((x) >> 1 & 1) + ((x) >> 2 & 1) + ((x) >> 3 & 1) + ((x) >> 4 & 1) + ((x) >> 5 & 1) + ((x) >> 6 & 1))
#define LSX_L(m, j) (((m) >> (j) & 1) ? LSX_PC7((m) & ((1 << (j)) - 1)) : INT32_MIN)
#define LSX_E(m) {LSX_L(m, 0), LSX_L(m, 1), LSX_L(m, 2), LSX_L(m, 3), LSX_L(m, 4), LSX_L(m, 5), LSX_L(m, 6), LSX_L(m, 7)}
#define LSX_E4(m) LSX_E(m), LSX_E((m) + 1), LSX_E((m) + 2), LSX_E((m) + 3)
#define LSX_E16(m) LSX_E4(m), LSX_E4((m) + 4), LSX_E4((m) + 8), LSX_E4((m) + 12)
#define LSX_E64(m) LSX_E16(m), LSX_E16((m) + 16), LSX_E16((m) + 32), LSX_E16((m) + 48)
static const int32_t lsx_perm[256][8] __attribute__((aligned(32))) = {LSX_E64(0), LSX_E64(64), LSX_E64(128), LSX_E64(192)};
/* the first c lanes: a load of the column's next c values reads no further */
static const int32_t lsx_first[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

void zs_linear_ss_expand__avx2(float *out, const int32_t *idx, const float *val, int n,
                               const zs_linear_pack *p) {
    memcpy(out, p->bias, sizeof(float) * p->Op);
    const int G = p->Op / 16;
    const size_t stride = (size_t)p->xnb * p->xbg;
    for (int e = 0; e < n; e++) {
        const int i = idx[e];
        if (e + 4 < n) {
            int a = idx[e + 4], f0 = p->start[a], f1 = p->start[a + 1];
            for (int f = f0; f < f1; f += 16) _mm_prefetch((const char *)(p->lw + f), _MM_HINT_T0);
            _mm_prefetch((const char *)(p->xm + (size_t)a * stride), _MM_HINT_T0);
            _mm_prefetch((const char *)(p->xm + (size_t)a * stride + 32), _MM_HINT_T0);
            _mm_prefetch((const char *)(p->xm + (size_t)a * stride + 64), _MM_HINT_T0);
            _mm_prefetch((const char *)(p->xm + (size_t)a * stride + 96), _MM_HINT_T0);
        }
        const __m256 v = _mm256_set1_ps(val[e]);
        const uint16_t *m = p->xm + (size_t)i * stride;
        const float *w = p->lw + p->start[i];
        for (int g = 0; g < G; g++) {
            const unsigned k = m[g];
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                const unsigned k8 = k >> (8 * h) & 0xff;
                const int c = _mm_popcnt_u32(k8);
                const __m256i perm = _mm256_load_si256((const __m256i *)lsx_perm[k8]);
                const __m256i first = _mm256_loadu_si256((const __m256i *)(lsx_first + 8 - c));
                const __m256 wv = _mm256_permutevar8x32_ps(_mm256_maskload_ps(w, first), perm);
                float *o = out + 16 * g + 8 * h;
                const __m256 a = _mm256_loadu_ps(o);
                _mm256_storeu_ps(o, _mm256_blendv_ps(_mm256_fmadd_ps(v, wv, a), a, _mm256_castsi256_ps(perm)));
                w += c;
            }
        }
    }
}

/* col_update. With the gradient bitmap gm and U <= 1024 (its 32 words in
 * four registers): per 8 kept weights, vpermd picks each index's bitmap
 * word (word o / 32 of register o / 256), a variable shift its bit, and the
 * lanes that change are compressed into a list of positions; then those
 * few weights (~10 % at k-WTA sparsity) are updated one by one: their
 * loads are independent of any branch, so their cache misses overlap
 * (updating inside the scan, behind a mispredicted branch per vector,
 * measured 30 % slower per learn step on Zen 3). No gather (slow on AMD).
 * The column's last partial vector is its last 8 entries again with the
 * lanes already done masked off: no scalar tail, no read past the column.
 * Otherwise: gathered gradients, a blend per 8. */
static inline __attribute__((always_inline)) void cu_col(float *w, const uint16_t *idx, int n, const float *g,
                                                         const uint32_t *gm, int U, float h) {
    int k = 0;
    if (gm && U <= 1024 && n >= 8) {
        enum { CHUNK = 256 };
        int32_t hit[CHUNK + 8];
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)gm), b1 = _mm256_loadu_si256((const __m256i *)(gm + 8)),
                      b2 = _mm256_loadu_si256((const __m256i *)(gm + 16)),
                      b3 = _mm256_loadu_si256((const __m256i *)(gm + 24));
        const __m256i c1 = _mm256_set1_epi32(1), c2 = _mm256_set1_epi32(2), c3 = _mm256_set1_epi32(3),
                      c31 = _mm256_set1_epi32(31), iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        while (k < n) {
            int nh = 0;
            const int end = n - k > CHUNK ? k + CHUNK : n;
            for (; k < end; k += 8) {
                const int base = k + 8 <= n ? k : n - 8;
                __m256i iv = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(idx + base)));
                __m256i wd = _mm256_srli_epi32(iv, 5), sel = _mm256_srli_epi32(iv, 8);
                __m256i t = _mm256_permutevar8x32_epi32(b0, wd);
                t = _mm256_blendv_epi8(t, _mm256_permutevar8x32_epi32(b1, wd), _mm256_cmpeq_epi32(sel, c1));
                t = _mm256_blendv_epi8(t, _mm256_permutevar8x32_epi32(b2, wd), _mm256_cmpeq_epi32(sel, c2));
                t = _mm256_blendv_epi8(t, _mm256_permutevar8x32_epi32(b3, wd), _mm256_cmpeq_epi32(sel, c3));
                /* the index's bit to the sign: shift left by 31 - (o % 32) */
                t = _mm256_sllv_epi32(t, _mm256_sub_epi32(c31, _mm256_and_si256(iv, c31)));
                /* lanes below k (a last, overlapping vector): the previous vector's */
                unsigned m = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(t)) & (0xffu << (k - base));
                __m256i perm = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)zs_avx2_compress_lut[m]));
                _mm256_storeu_si256((__m256i *)(hit + nh),
                                    _mm256_permutevar8x32_epi32(_mm256_add_epi32(iota, _mm256_set1_epi32(base)), perm));
                nh += __builtin_popcount(m);
            }
            for (int q = 0; q < nh; q++) { /* as the scalar reference: multiply, then subtract */
                int kk = hit[q];
                float d = g[idx[kk]] * h;
                w[kk] = w[kk] - d;
            }
        }
        return;
    }
    if (!gm || U > 1024) {
        const __m256 vh = _mm256_set1_ps(h), z = _mm256_setzero_ps();
        for (; k + 8 <= n; k += 8) {
            __m256i i = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(idx + k)));
            __m256 gv = _mm256_i32gather_ps(g, i, 4);
            __m256 nz = _mm256_cmp_ps(gv, z, _CMP_NEQ_OQ);
            if (!_mm256_movemask_ps(nz)) continue;
            __m256 w0 = _mm256_loadu_ps(w + k);
            _mm256_storeu_ps(w + k, _mm256_blendv_ps(w0, _mm256_sub_ps(w0, _mm256_mul_ps(gv, vh)), nz));
        }
    }
    for (; k < n; k++) { /* the tail, as the scalar reference */
        float a = g[idx[k]];
        if (a == 0.0f) continue;
        float d = a * h;
        w[k] = w[k] - d;
    }
}
/* column by column (on Zen 3 scanning all columns first measured no
 * faster; AVX-512 does that) */
void zs_col_update__avx2(float *w, const uint16_t *idx, const int32_t *start, const int32_t *cols, const float *h,
                         int nc, const float *g, const uint32_t *gm, int U) {
    for (int q = 0; q < nc; q++) {
        const int32_t k0 = start[cols[q]], k1 = start[cols[q] + 1];
        cu_col(w + k0, idx + k0, k1 - k0, g, gm, U, h[q]);
    }
}

void zs_row_axpy__avx2(float *w, const float *h, int n, float a) {
    const __m256 va = _mm256_set1_ps(a), z = _mm256_setzero_ps();
    int t = 0;
    for (; t + 8 <= n; t += 8) {
        __m256 hv = _mm256_loadu_ps(h + t), wv = _mm256_loadu_ps(w + t);
        __m256 nz = _mm256_cmp_ps(hv, z, _CMP_NEQ_OQ);
        _mm256_storeu_ps(w + t, _mm256_blendv_ps(wv, _mm256_sub_ps(wv, _mm256_mul_ps(va, hv)), nz));
    }
    zs_row_axpy__scalar(w + t, h + t, n - t, a); /* the tail */
}

/* linear_sr: the model's rows in place (linear_row_kern.h) */
#define LSR_FN zs_linear_sr__avx2
#define LSR_MAC(acc, v, w) fmaf((v), (w), (acc))
#include "linear_row_kern.h"
