/*
 * conv_tap_kern.h — conv_sparse_tap, one source for every vector width.
 * Included by conv_avx2.c and conv_avx512.c (compiled with their -m flags)
 * after they define the vector operations (listed in conv_dense_kern.h;
 * 64 / CT_VL vectors at most in registers), CT_NO (output positions per
 * pass: CT_NO * 64 / CT_VL accumulators in registers), optionally
 * CT_UNPACK (the ISA's zs_conv_unpack_acc) and CT_FN, the name of the
 * function to define (zs_conv_sparse_fn).
 *
 * Phases of g = p->kx_group taps (ky, kx0 .. kx0+g-1) along a kernel row
 * (0 or 1: one tap per phase): the weight rows of the phase (g per input
 * channel, 16 KB each for 64x64) stay in cache while every output position
 * adds v * w[ci, ky, kx] for the inputs at its g input positions, which
 * are contiguous in the position-sorted list (zs_conv_sort_by_pos with the
 * column in the weight offset, or conv_pos_lists from the dense map when
 * idx is NULL): one loop of ~g*13 entries per output and
 * phase, its channel-last accumulators loaded and stored once per phase,
 * CT_NO adjacent outputs walked together (independent FMA chains). The
 * plan times g = 1 .. Kw (calibrate_one): a larger g means longer loops
 * and fewer accumulator loads, a smaller one a smaller weight working set.
 * Every channel sees one FMA per product, in (ky, kx, ci) order for every
 * g, at every width: the same bits as conv_sparse_pos and conv_sparse_blk.
 */
#include "kernels.h"

#ifndef CT_UNPACK
#define CT_UNPACK zs_conv_unpack_acc
#endif
/* the weight rows: fp32 (wvec) unless the includer defines CT_LOADW (the
 * CT_VL weights at element offset o of a row), CT_BIASV (the sums' start:
 * CT_VL channels from off, rem of them real), CT_PREP (run on the input
 * lists pv before the sums), CT_CHUNK (a name for the chunk function) and
 * CT_WROWS (the rows' array, for the prefetch): conv_sparse_tap_q8 (int8
 * rows, sums from 0, inputs quantised, scale and bias at the unpack) */
#ifndef CT_LOADW
#define CT_LOADW(o) CT_LOAD(p->wvec + (o))
#define CT_BIASV(off, rem) CT_LOADT(p->bias + (off), (rem))
#define CT_PREP
#define CT_CHUNK ct_chunk
#define CT_WROWS wvec
#endif

#ifndef CT_RUN_ONCE
#define CT_RUN_ONCE
/* the inputs of output ox in the phase: input columns [ox + kx0 - pad,
 * ox + kx0 + g - pad) clipped to [0, W), entries [*s0, *s1) of row pr */
static inline __attribute__((always_inline)) void ct_run(const int32_t *pr, int ox, int kx0, int g, int pad, int W,
                                                         int *s0, int *s1) {
    int lo = ox + kx0 - pad, hi = lo + g;
    lo = lo > 0 ? lo : 0;
    hi = hi < W ? hi : W;
    *s0 = hi > lo ? pr[lo] : 0;
    *s1 = hi > lo ? pr[hi] : 0;
}
#endif

#define CT_ACC_IN(r, a, first, b, NV)                                                                              \
    do {                                                                                                           \
        _Pragma("GCC unroll 8") for (int j = 0; j < (NV); j++) r[j] = (first) ? b[j] : CT_LOAD((a) + CT_VL * j);   \
    } while (0)
#define CT_ACC_OUT(a, r, NV)                                                                                       \
    do {                                                                                                           \
        _Pragma("GCC unroll 8") for (int j = 0; j < (NV); j++) CT_STORE((a) + CT_VL * j, r[j]);                    \
    } while (0)
#define CT_STEP(r, s, wo, NV)                                                                                      \
    do {                                                                                                           \
        const ct_v v_ = CT_SET1(pv[s]);                                                                            \
        const ptrdiff_t o_ = (wo) + pw[s];                                                                         \
        _Pragma("GCC unroll 8") for (int j = 0; j < (NV); j++) r[j] = CT_FMA(v_, CT_LOADW(o_ + CT_VL * j), r[j]);  \
    } while (0)

/* Channels [co0, co0 + NV * CT_VL) of every output position. */
static inline __attribute__((always_inline)) void CT_CHUNK(float *restrict acc, const int32_t *restrict ps,
                                                           const int32_t *restrict pw, const float *restrict pv,
                                                           const zs_conv_scatter *p, int co0, const int NV, int G,
                                                           int init) {
    const int Ho = p->Ho, Wo = p->Wo, H = p->H, W = p->W, Kh = p->Kh, Kw = p->Kw, pad = p->pad, Cop = p->Cop;
    ct_v b[64 / CT_VL];
#pragma GCC unroll 8
    for (int j = 0; j < NV; j++) b[j] = CT_BIASV(co0 + CT_VL * j, p->Co - co0 - CT_VL * j);
    for (int ky = 0; ky < Kh; ky++) {
        const int oy0 = pad - ky > 0 ? pad - ky : 0, oy1 = H + pad - ky < Ho ? H + pad - ky : Ho;
        for (int kx0 = 0; kx0 < Kw; kx0 += G) {
            const int g = Kw - kx0 < G ? Kw - kx0 : G;
            /* pad 0: the first phase reaches every output; it starts from the
             * bias in registers (init) instead of a filled accumulator */
            const int first = init && ky == 0 && kx0 == 0;
            /* the next phase's weight rows (g' per input channel, contiguous)
             * prefetched a share per output row when p->prefetch (another
             * network ran on this thread since: the rows come from L3), so
             * that their misses overlap this phase's FMAs; with the rows in
             * L2 the prefetches only cost (Zen 3, bench --profile: conv2
             * 79 -> 85 us/word) */
            int nky = ky, nkx = kx0 + G;
            if (nkx >= Kw) nky++, nkx = 0;
            const int ng = Kw - nkx < G ? Kw - nkx : G, nrow = oy1 - oy0;
            const int wb = (int)sizeof *p->CT_WROWS;
            const int lpc = (ng * NV * CT_VL * wb + 63) / 64; /* lines per input channel */
            const int lines = p->prefetch && nky < Kh ? p->Ci * lpc : 0;
            const char *pa = (const char *)(p->CT_WROWS + (size_t)(nky * Kw + nkx) * Cop + co0);
            const size_t cstride = (size_t)Kh * Kw * Cop * wb;
            int pf = 0, pl = 0;
            for (int oy = oy0; oy < oy1; oy++) {
                for (const int pend = nrow > 0 ? lines * (oy - oy0 + 1) / nrow : 0; pf < pend; pf++) {
                    __builtin_prefetch(pa + pl * 64, 0, 3);
                    if (++pl == lpc) pl = 0, pa += cstride;
                }
                const int32_t *pr = ps + (oy + ky - pad) * W;
                float *ar = acc + (size_t)oy * Wo * Cop + co0;
                /* weight row of entry s for output ox: wvec + wo - ox * Cop + pw[s]
                 * (pw[s] = ci * Kh * Kw * Cop + ix * Cop, kx = ix - ox + pad) */
                const ptrdiff_t wo = (ptrdiff_t)(ky * Kw + pad) * Cop + co0;
                int ox = 0;
#if CT_NO == 2
                for (; ox + 1 < Wo; ox += 2) {
                    int sa, ea, sb, eb;
                    ct_run(pr, ox, kx0, g, pad, W, &sa, &ea);
                    ct_run(pr, ox + 1, kx0, g, pad, W, &sb, &eb);
                    if (!first && sa == ea && sb == eb) continue;
                    float *aa = ar + (size_t)ox * Cop, *ab = aa + Cop;
                    const ptrdiff_t wa = wo - (ptrdiff_t)ox * Cop, wb = wa - Cop;
                    ct_v ra[64 / CT_VL], rb[64 / CT_VL];
                    CT_ACC_IN(ra, aa, first, b, NV);
                    CT_ACC_IN(rb, ab, first, b, NV);
                    const int m = ea - sa < eb - sb ? ea - sa : eb - sb;
                    for (int i = 0; i < m; i++) {
                        CT_STEP(ra, sa + i, wa, NV);
                        CT_STEP(rb, sb + i, wb, NV);
                    }
                    for (int s = sa + m; s < ea; s++) CT_STEP(ra, s, wa, NV);
                    for (int s = sb + m; s < eb; s++) CT_STEP(rb, s, wb, NV);
                    CT_ACC_OUT(aa, ra, NV);
                    CT_ACC_OUT(ab, rb, NV);
                }
#endif
                for (; ox < Wo; ox++) {
                    int sa, ea;
                    ct_run(pr, ox, kx0, g, pad, W, &sa, &ea);
                    if (!first && sa == ea) continue;
                    float *aa = ar + (size_t)ox * Cop;
                    const ptrdiff_t wa = wo - (ptrdiff_t)ox * Cop;
                    ct_v ra[64 / CT_VL];
                    CT_ACC_IN(ra, aa, first, b, NV);
                    for (int s = sa; s < ea; s++) CT_STEP(ra, s, wa, NV);
                    CT_ACC_OUT(aa, ra, NV);
                }
            }
        }
    }
}

void CT_FN(float *out, const int32_t *idx, const float *val, int n, const zs_conv_scatter *p, float *scratch) {
    int32_t *ps, *pw;
    float *pv;
    zs_conv_tap_lists(idx, val, n, p, scratch, &ps, &pw, &pv);
    CT_PREP
    /* Cop: a multiple of 16; chunks of CH vectors = 64 channels */
    const int P = p->Ho * p->Wo, Cop = p->Cop, nv = Cop / CT_VL, CH = 64 / CT_VL;
    const int G = p->kx_group > 1 && p->kx_group <= p->Kw ? p->kx_group : 1, init = p->pad == 0;
    if (!init)
        for (int j = 0; j < nv; j++) {
            ct_v b = CT_BIASV(CT_VL * j, p->Co - CT_VL * j);
            for (int q = 0; q < P; q++) CT_STORE(scratch + (size_t)q * Cop + CT_VL * j, b);
        }
    for (int c = 0; c < nv; c += CH) {
        switch (nv - c >= CH ? CH : nv - c) {
        case 64 / CT_VL: CT_CHUNK(scratch, ps, pw, pv, p, CT_VL * c, 64 / CT_VL, G, init); break;
        case 48 / CT_VL: CT_CHUNK(scratch, ps, pw, pv, p, CT_VL * c, 48 / CT_VL, G, init); break;
        case 32 / CT_VL: CT_CHUNK(scratch, ps, pw, pv, p, CT_VL * c, 32 / CT_VL, G, init); break;
        default: CT_CHUNK(scratch, ps, pw, pv, p, CT_VL * c, 16 / CT_VL, G, init); break;
        }
    }
    CT_UNPACK(out, scratch, p->Co, zs_conv_acc_rows(scratch, p), Cop);
}
#undef CT_ACC_IN
#undef CT_ACC_OUT
#undef CT_STEP
#undef CT_LOADW
#undef CT_BIASV
#undef CT_PREP
#undef CT_CHUNK
#undef CT_WROWS
#undef CT_UNPACK
#undef CT_FN
