/*
 * conv_routed_kern.h — conv_sparse_routed, one source for every vector
 * width: included by conv_scalar.c, conv_avx2.c and conv_avx512.c after
 * they define the vector operations of conv_dense_kern.h (CT_VL floats per
 * vector; the scalar file: 1, and CT_FMA a multiply then an add), CR_U
 * (inputs per step of a run: independent partial sums), optionally
 * CR_UNPACK (the ISA's zs_conv_unpack_acc) and CR_FN, the name of the
 * function to define (zs_conv_sparse_fn).
 *
 * For "routed" masks (docs/ARCHITECTURE.md "Mask structures"; the routing
 * found in the weights by zs_conv_scatter_pack_routed): every kernel row
 * (ci, ky) keeps one 16-channel block b = rt_blk[class(ci) * Kh + ky], the
 * same for every kx, and Cop / 16 <= 4 blocks. The inputs are bucketed by
 * (class, row, column), channels ascending within a bucket; then per
 * kernel row ky (a phase: its 16-float weight rows, Ci * (Kw + 2) of them,
 * stay in cache), for each pair of adjacent output positions and each
 * class, the inputs of the class in the pair's window row are one
 * contiguous run, all feeding the one block the class feeds at this ky:
 * the block's 16 sums of both outputs are loaded into registers once per
 * run, every product in the run is useful (but the edge columns' products
 * with a zero row) and costs one vector FMA per CT_VL channels (CR_U
 * partial sums: independent chains), and the sums are stored once. Sums per output channel in the
 * order (ky, class, column, channel; within a run CR_U interleaved partial
 * sums): not conv_sparse_tap's order, so the plan chooses between them at
 * build, never per sample.
 */
#include "kernels.h"

#define CR_NV (16 / CT_VL)

#ifndef CR_U
#define CR_U 1
#endif
#ifndef CR_UNPACK
#define CR_UNPACK zs_conv_unpack_acc
#endif
#define CT_ADD(a, b) CT_FMA(CT_SET1(1.0f), (a), (b))

/* The run [s0, s1) of one class into one block of two adjacent outputs
 * (ox, ox + 1), 16 sums each at a1 and a2 (in L1): their window rows
 * together are one run of Kw + 1 columns; each input adds to ox with kx =
 * ix + pad - ox and to ox + 1 with kx - 1, the weight row before it (the
 * zero rows of rt_w make the two edge columns add 0 to the output they do
 * not reach): one loop for two runs, one broadcast per input for two
 * outputs. CR_U inputs at a time into CR_U partial sums (independent FMA
 * chains), added up in a fixed order at the end of the run. */
static inline __attribute__((always_inline)) void cr_run2(float *a1, float *a2, const float *wr, const int32_t *pw,
                                                          const float *pv, int s0, int s1) {
    ct_v t1[CR_U][CR_NV], t2[CR_U][CR_NV];
#pragma GCC unroll 4
    for (int j = 0; j < CR_NV; j++) {
        t1[0][j] = CT_LOAD(a1 + CT_VL * j);
        t2[0][j] = CT_LOAD(a2 + CT_VL * j);
    }
#pragma GCC unroll 8
    for (int u = 1; u < CR_U; u++)
#pragma GCC unroll 4
        for (int j = 0; j < CR_NV; j++) t1[u][j] = t2[u][j] = CT_SET1(0.0f);
    int s = s0;
    for (; s + CR_U <= s1; s += CR_U)
#pragma GCC unroll 8
        for (int u = 0; u < CR_U; u++) {
            const ct_v v = CT_SET1(pv[s + u]);
            const float *w = wr + pw[s + u];
#pragma GCC unroll 4
            for (int j = 0; j < CR_NV; j++) {
                t1[u][j] = CT_FMA(v, CT_LOAD(w + CT_VL * j), t1[u][j]);
                t2[u][j] = CT_FMA(v, CT_LOAD(w - 16 + CT_VL * j), t2[u][j]);
            }
        }
    for (; s < s1; s++) {
        const ct_v v = CT_SET1(pv[s]);
        const float *w = wr + pw[s];
#pragma GCC unroll 4
        for (int j = 0; j < CR_NV; j++) {
            t1[0][j] = CT_FMA(v, CT_LOAD(w + CT_VL * j), t1[0][j]);
            t2[0][j] = CT_FMA(v, CT_LOAD(w - 16 + CT_VL * j), t2[0][j]);
        }
    }
#pragma GCC unroll 8
    for (int u = 1; u < CR_U; u++)
#pragma GCC unroll 4
        for (int j = 0; j < CR_NV; j++) {
            t1[0][j] = CT_ADD(t1[u][j], t1[0][j]);
            t2[0][j] = CT_ADD(t2[u][j], t2[0][j]);
        }
#pragma GCC unroll 4
    for (int j = 0; j < CR_NV; j++) {
        CT_STORE(a1 + CT_VL * j, t1[0][j]);
        CT_STORE(a2 + CT_VL * j, t2[0][j]);
    }
}

void CR_FN(float *out, const int32_t *idx, const float *val, int n, const zs_conv_scatter *p, float *scratch) {
    const int H = p->H, W = p->W, Kh = p->Kh, Kw = p->Kw, pad = p->pad, Ho = p->Ho, Wo = p->Wo, Cop = p->Cop;
    const int HW = H * W, nc = p->rt_nc;
    float *acc;
    int32_t *ps, *fill, *pw;
    float *pv;
    zs_conv_routed_at(p, scratch, &acc, &ps, &fill, &pw, &pv);
    /* bucket by (class, position); idx ascending: channels ascending */
    memset(ps, 0, sizeof(int32_t) * ((size_t)nc * HW + 1));
    for (int e = 0, ci = 0; e < n; e++) {
        while (idx[e] >= (ci + 1) * HW) ci++;
        ps[p->rt_cls[ci] * HW + (idx[e] - ci * HW) + 1]++;
    }
    for (int b = 0; b < nc * HW; b++) { fill[b] = ps[b]; ps[b + 1] += ps[b]; }
    for (int e = 0, ci = 0; e < n; e++) {
        while (idx[e] >= (ci + 1) * HW) ci++;
        int q = idx[e] - ci * HW, s = fill[p->rt_cls[ci] * HW + q]++;
        /* the weight row of (ci, ky, kx) for output column ox is
         * rt_w + pw + (ky * (Kw + 2) - ox) * 16 with kx = ix + pad - ox */
        pw[s] = ci * Kh * (Kw + 2) * 16 + (p->cx[q] + pad + 1) * 16;
        pv[s] = val[e];
    }
    /* sink: the missing second output of an odd last column */
    float b0[64], sink[16] __attribute__((aligned(64))) = {0};
    for (int o = 0; o < Cop; o++) b0[o] = o < p->Co ? p->bias[o] : 0.0f;
    for (int q = 0; q < Ho * Wo; q++) memcpy(acc + (size_t)q * Cop, b0, sizeof(float) * (size_t)Cop);
    for (int ky = 0; ky < Kh; ky++) {
        /* the output rows this kernel row reaches: iy = oy + ky - pad in [0, H) */
        const int oy0 = pad - ky > 0 ? pad - ky : 0, oy1 = H + pad - ky < Ho ? H + pad - ky : Ho;
        int boff[ZS_ROUTED_NC];
        for (int c = 0; c < nc; c++) boff[c] = 16 * p->rt_blk[c * Kh + ky];
        for (int oy = oy0; oy < oy1; oy++) {
            const int32_t *row = ps + (oy + ky - pad) * W;
            for (int ox = 0; ox < Wo; ox += 2) {
                const int two = ox + 1 < Wo;
                int lo = ox - pad, hi = lo + Kw + two;
                lo = lo > 0 ? lo : 0;
                hi = hi < W ? hi : W;
                if (hi <= lo) continue;
                float *a = acc + ((size_t)oy * Wo + ox) * Cop;
                const float *wr = p->rt_w + (ky * (Kw + 2) - ox) * 16;
                for (int c = 0; c < nc; c++) {
                    const int32_t *rc = row + (size_t)c * HW;
                    cr_run2(a + boff[c], two ? a + Cop + boff[c] : sink, wr, pw, pv, rc[lo], rc[hi]);
                }
            }
        }
    }
    CR_UNPACK(out, acc, p->Co, Ho * Wo, Cop);
}

#undef CR_NV
#undef CR_U
#undef CR_UNPACK
#undef CT_ADD
