/*
 * linear_avx2.c — linear layers with a sparse input list, AVX2+FMA (same
 * algorithms as linear_avx512.c with two 8-lane halves per 16-block).
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

void zs_col_update__avx2(float *w, const uint16_t *idx, int n, const float *g, float h) {
    const __m256 vh = _mm256_set1_ps(h), z = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256i i = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(idx + k)));
        __m256 gv = _mm256_i32gather_ps(g, i, 4);
        __m256 nz = _mm256_cmp_ps(gv, z, _CMP_NEQ_OQ);
        if (!_mm256_movemask_ps(nz)) continue;
        __m256 w0 = _mm256_loadu_ps(w + k);
        _mm256_storeu_ps(w + k, _mm256_blendv_ps(w0, _mm256_sub_ps(w0, _mm256_mul_ps(gv, vh)), nz));
    }
    zs_col_update__scalar(w + k, idx + k, n - k, g, h); /* the tail */
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
