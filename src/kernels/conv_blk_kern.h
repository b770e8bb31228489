/*
 * conv_blk_kern.h — conv_sparse_blk, one source for every ISA: included by
 * conv_blk_scalar.c, conv_blk_avx2.c and conv_blk_avx512.c with BLK_ISA
 * set (the Makefile gives the last two their -m flags).
 *
 * Sparse input list x block layout of zs_conv_scatter (conv_blk.c). Input
 * stationary: the inputs bucketed by position (positions in order, channels
 * in order within one), each input adds v * w into the channel-last
 * accumulator of every output it reaches (one per tap), but only for the
 * 16-channel blocks of its row (ci, ky, kx) that hold a weight
 * (conv_sparse_tap multiplies all Cop channels, zeros included). An output
 * thus receives its products in the order of the input positions, then of
 * the channels: the order of conv_sparse_tap (tap (ky, kx) ascending is
 * input position ascending), less the products with a zero weight, which
 * leave a sum unchanged; same multiply-add (FMA in the SIMD files,
 * multiply then add in the scalar one): the two give the same bits
 * (tests/test_kernels.c same_bits), so the plan times them against each
 * other. Consecutive updates of one input go to different outputs, so no
 * update waits on the one before it (the tap-major order made the inputs of
 * one position, often in the same block, a chain through memory).
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
    const int KK = Kh * Kw;
    int one = p->bstart[(size_t)Ci * KK] == Ci * KK; /* as many blocks as rows */
    for (int r = 0; one && r < Ci * KK; r++) one = p->bstart[r] == r;
    for (int iy = 0; iy < H; iy++) {
        int ky0, ky1;
        zs_conv_tap_range(iy, pad, Kh, Ho, &ky0, &ky1);
        for (int ix = 0; ix < W; ix++) {
            int kx0, kx1;
            zs_conv_tap_range(ix, pad, Kw, Wo, &kx0, &kx1);
            /* the output the tap (ky, kx) reaches: (iy + pad - ky, ix + pad - kx),
             * at flat position oyx - ky * Wo - kx */
            const int oyx = (iy + pad) * Wo + ix + pad;
            for (int s = ps[iy * W + ix], s1 = ps[iy * W + ix + 1]; s < s1; s++) {
                const vblk v = VSET1(pv[s]);
                const int rc = pc[s] * KK;
                for (int ky = ky0; ky <= ky1; ky++) {
                    const int oy = oyx - ky * Wo;
                    const int ry = rc + ky * Kw;
                    if (one) {
                        /* exactly one block per row (complementary 16-channel
                         * blocks): block r of row r, no inner loop */
                        for (int kx = kx0; kx <= kx1; kx++) {
                            const int r = ry + kx;
                            float *ab = acc + (size_t)(oy - kx) * Cop + boff[r];
                            const float *w = bw + (size_t)16 * r;
#if VN > 1
#pragma GCC unroll 16
#endif
                            for (int j = 0; j < VN; j++)
                                VSTORE(ab + VW * j, VFMA(v, VLOAD(w + VW * j), VLOAD(ab + VW * j)));
                        }
                        continue;
                    }
                    for (int kx = kx0; kx <= kx1; kx++) {
                        float *ax = acc + (size_t)(oy - kx) * Cop;
                        for (int b = bstart[ry + kx], b1 = bstart[ry + kx + 1]; b < b1; b++) {
                            float *ab = ax + boff[b];
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
