/*
 * conv_blk_kern.h — conv_sparse_blk, one source for every ISA: included by
 * conv_blk_scalar.c, conv_blk_avx2.c and conv_blk_avx512.c with BLK_ISA
 * set (the Makefile gives the last two their -m flags).
 *
 * Sparse input list x block layout of zs_conv_scatter (conv_blk.c). Tap
 * major, as conv_sparse_tap: for each tap (ky, kx), each output position
 * adds v * w for the inputs at the tap's input position, in channel order,
 * into its channel-last accumulator, but only for the 16-channel blocks of
 * the row (ci, ky, kx) that hold a weight (conv_sparse_tap multiplies all
 * Cop channels, zeros included). Every output channel therefore sees the
 * same products in the same order as in conv_sparse_tap of the same ISA
 * (FMA in the SIMD files, multiply then add in the scalar one) minus
 * products with a zero weight, which leave a sum unchanged: the two give
 * the same bits (tests/test_kernels.c same_bits), so the plan can time them
 * against each other.
 */
#include "kernels.h"

#if defined(BLK_AVX512)
#include <immintrin.h>
typedef __m512 vblk;
#define VN 1
#define VW 16
#define VLOAD(p) _mm512_load_ps(p)
#define VSTORE(p, v) _mm512_store_ps(p, v)
#define VSET1(x) _mm512_set1_ps(x)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#elif defined(BLK_AVX2)
#include <immintrin.h>
typedef __m256 vblk;
#define VN 2
#define VW 8
#define VLOAD(p) _mm256_load_ps(p)
#define VSTORE(p, v) _mm256_store_ps(p, v)
#define VSET1(x) _mm256_set1_ps(x)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#else
typedef float vblk;
#define VN 16
#define VW 1
#define VLOAD(p) (*(p))
#define VSTORE(p, v) (*(p) = (v))
#define VSET1(x) (x)
#define VFMA(a, b, c) ((c) + (a) * (b)) /* multiply, then add: as conv_sparse_tap__scalar */
#endif

#define BLK_CAT_(a, b) a##b
#define BLK_CAT(a, b) BLK_CAT_(a, b)
#define BLK_NAME BLK_CAT(zs_conv_sparse_blk__, BLK_ISA)

void BLK_NAME(float *out, const int32_t *idx, const float *val, int n, const zs_conv_scatter *p,
              float *scratch) {
    const int Ho = p->Ho, Wo = p->Wo, H = p->H, W = p->W, Kh = p->Kh, Kw = p->Kw, pad = p->pad, Cop = p->Cop;
    const int Ci = p->Ci, HW = H * W, P = Ho * Wo;
    /* scratch: accumulator (P, Cop), then the inputs bucketed by position:
     * ps (HW + 1), fill (HW), per entry its channel pc and value pv */
    float *acc = scratch;
    int32_t *ps = (int32_t *)(scratch + (size_t)P * Cop + 16);
    int32_t *fill = ps + HW + 8, *pc = fill + HW + 8;
    float *pv = (float *)(pc + n + 8);
    memset(ps, 0, sizeof(int32_t) * ((size_t)HW + 1));
    int ci = 0;
    for (int e = 0; e < n; e++) {
        while (idx[e] >= (ci + 1) * HW) ci++;
        ps[idx[e] - ci * HW + 1]++;
    }
    for (int q = 0; q < HW; q++) { fill[q] = ps[q]; ps[q + 1] += ps[q]; }
    ci = 0;
    for (int e = 0; e < n; e++) {
        while (idx[e] >= (ci + 1) * HW) ci++;
        int s = fill[idx[e] - ci * HW]++;
        pc[s] = ci;
        pv[s] = val[e];
    }
    for (int q = 0; q < P; q++)
        for (int o = 0; o < Cop; o++) acc[(size_t)q * Cop + o] = o < p->Co ? p->bias[o] : 0.0f;
    const int32_t *bstart = p->bstart, *boff = p->boff;
    const float *bw = p->bw;
    const int one = p->bstart[(size_t)Ci * Kh * Kw] == Ci * Kh * Kw; /* as many blocks as rows */
    int one_ok = one;
    for (int r = 0; one_ok && r < Ci * Kh * Kw; r++) one_ok = p->bstart[r] == r;
    for (int ky = 0; ky < Kh; ky++) {
        int oy0 = pad - ky > 0 ? pad - ky : 0, oy1 = H + pad - ky < Ho ? H + pad - ky : Ho;
        for (int kx = 0; kx < Kw; kx++) {
            int ox0 = pad - kx > 0 ? pad - kx : 0, ox1 = W + pad - kx < Wo ? W + pad - kx : Wo;
            const int32_t *rs = bstart + (size_t)(ky * Kw + kx) * Ci;
            for (int oy = oy0; oy < oy1; oy++) {
                const int32_t *pr = ps + (oy + ky - pad) * W + (kx - pad);
                float *ar = acc + (size_t)oy * Wo * Cop;
                for (int ox = ox0; ox < ox1; ox++) {
                    const int s0 = pr[ox], s1 = pr[ox + 1];
                    float *a = ar + (size_t)ox * Cop;
                    if (one_ok) {
                        /* exactly one block per row (complementary 16-channel
                         * blocks): block r of row r, no inner loop */
                        for (int s = s0; s < s1; s++) {
                            const vblk v = VSET1(pv[s]);
                            const int r = rs[pc[s]];
                            float *ab = a + boff[r];
                            const float *w = bw + (size_t)16 * r;
#if VN > 1
#pragma GCC unroll 16
#endif
                            for (int j = 0; j < VN; j++)
                                VSTORE(ab + VW * j, VFMA(v, VLOAD(w + VW * j), VLOAD(ab + VW * j)));
                        }
                        continue;
                    }
                    for (int s = s0; s < s1; s++) {
                        const vblk v = VSET1(pv[s]);
                        for (int b = rs[pc[s]], b1 = rs[pc[s] + 1]; b < b1; b++) {
                            float *ab = a + boff[b];
                            const float *w = bw + (size_t)16 * b;
#if VN > 1
#pragma GCC unroll 16
#endif
                            for (int j = 0; j < VN; j++)
                                VSTORE(ab + VW * j, VFMA(v, VLOAD(w + VW * j), VLOAD(ab + VW * j)));
                        }
                    }
                }
            }
        }
    }
    zs_conv_unpack_acc(out, acc, p->Co, P, Cop);
}
