/*
 * conv_tap_kern.h — conv_sparse_tap, one source for every vector width.
 * Included by conv_avx2.c and conv_avx512.c (compiled with their -m flags)
 * after they define the vector operations (listed in conv_dense_kern.h;
 * 64 / CT_VL vectors at most in registers) and CT_FN, the name of the
 * function to define (zs_conv_sparse_fn).
 *
 * Tap-major: for each tap (ky, kx), the 64-channel weight rows of that tap
 * (one per input channel: 16 KB for 64x64) stay in L1 while every output
 * position adds v * w[ci, ky, kx] for the inputs at its tap position into
 * its channel-last accumulator (loaded and stored once per position and
 * tap). conv_sparse_pos instead walks all 25 taps per output and re-reads
 * every row from L2. Every channel sees one FMA per product, in the same
 * order at every width: the ISAs give the same bits.
 */
#include "kernels.h"

/* Channels [co0, co0 + NV * CT_VL) of every output position. */
static inline __attribute__((always_inline)) void ct_chunk(float *restrict acc, const int32_t *restrict ps,
                                                           const int32_t *restrict pw, const float *restrict pv,
                                                           const zs_conv_scatter *p, int co0, const int NV) {
    const int Ho = p->Ho, Wo = p->Wo, H = p->H, W = p->W, Kh = p->Kh, Kw = p->Kw, pad = p->pad, Cop = p->Cop;
    for (int ky = 0; ky < Kh; ky++) {
        int oy0 = pad - ky > 0 ? pad - ky : 0, oy1 = H + pad - ky < Ho ? H + pad - ky : Ho;
        for (int kx = 0; kx < Kw; kx++) {
            int ox0 = pad - kx > 0 ? pad - kx : 0, ox1 = W + pad - kx < Wo ? W + pad - kx : Wo;
            const float *wt = p->wvec + (size_t)(ky * Kw + kx) * Cop + co0;
            for (int oy = oy0; oy < oy1; oy++) {
                const int32_t *pr = ps + (oy + ky - pad) * W + (kx - pad);
                float *ar = acc + (size_t)oy * Wo * Cop + co0;
                for (int ox = ox0; ox < ox1; ox++) {
                    const int s0 = pr[ox], s1 = pr[ox + 1];
                    if (s0 == s1) continue;
                    float *a = ar + (size_t)ox * Cop;
                    ct_v r[64 / CT_VL];
#pragma GCC unroll 8
                    for (int j = 0; j < NV; j++) r[j] = CT_LOAD(a + CT_VL * j);
                    for (int s = s0; s < s1; s++) {
                        ct_v v = CT_SET1(pv[s]);
                        const float *w = wt + pw[s];
#pragma GCC unroll 8
                        for (int j = 0; j < NV; j++) r[j] = CT_FMA(v, CT_LOAD(w + CT_VL * j), r[j]);
                    }
#pragma GCC unroll 8
                    for (int j = 0; j < NV; j++) CT_STORE(a + CT_VL * j, r[j]);
                }
            }
        }
    }
}

void CT_FN(float *out, const int32_t *idx, const float *val, int n, const zs_conv_scatter *p, float *scratch) {
    int32_t *ps, *pw;
    float *pv;
    zs_conv_sort_by_pos(idx, val, n, p, scratch, &ps, &pw, &pv);
    /* Cop: a multiple of 16; chunks of CH vectors = 64 channels */
    const int P = p->Ho * p->Wo, Cop = p->Cop, nv = Cop / CT_VL, CH = 64 / CT_VL;
    for (int j = 0; j < nv; j++) {
        ct_v b = CT_LOADT(p->bias + CT_VL * j, p->Co - CT_VL * j);
        for (int q = 0; q < P; q++) CT_STORE(scratch + (size_t)q * Cop + CT_VL * j, b);
    }
    for (int c = 0; c < nv; c += CH) {
        switch (nv - c >= CH ? CH : nv - c) {
        case 64 / CT_VL: ct_chunk(scratch, ps, pw, pv, p, CT_VL * c, 64 / CT_VL); break;
        case 48 / CT_VL: ct_chunk(scratch, ps, pw, pv, p, CT_VL * c, 48 / CT_VL); break;
        case 32 / CT_VL: ct_chunk(scratch, ps, pw, pv, p, CT_VL * c, 32 / CT_VL); break;
        default: ct_chunk(scratch, ps, pw, pv, p, CT_VL * c, 16 / CT_VL); break;
        }
    }
    zs_conv_unpack_acc(out, scratch, p->Co, P, Cop);
}
