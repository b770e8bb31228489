/*
 * kwta_pool_kern.h — the fused k-WTA + 2x2/2 max-pool (kwta_pool), one
 * source for every vector width. Included by kwta_avx2.c and kwta_avx512.c
 * after they define, for their width KP_VL (floats per vector):
 *   kp_v, kp_vi                 float / int32 vector types
 *   KP_LOADU(p)                 unaligned load
 *   KP_LOADT(p, rem)            load of the first rem lanes (rem <= 0: none), others 0
 *   KP_STOREU(p, v)             unaligned store
 *   KP_STORET(p, v, rem)        store of the first rem lanes
 *   KP_SET1(a), KP_SET1I(a)     broadcasts
 *   KP_MAX(a, b)                _mm*_max_ps (same operand order everywhere)
 *   KP_KEEP_GE(x, t)            x where x >= t, else +0
 *   KP_KEEP_SPLIT(x, gt, ge, iv, lim)  x where x >= gt or (x >= ge and iv <= lim), else +0
 *   KP_IOTA(at)                 lanes at, at + 1, ...
 *   KP_PAIRMAX(a, b)            max of adjacent lane pairs of the 2 KP_VL lanes (a, b), in order
 *   KP_RAW_GE_N                 the ISA's zs_kwta_isa.raw_ge_n
 * and KP_FN, the name of the function to define (zs_kwta_pool_fn).
 *
 * The cut becomes per-channel raw thresholds (zs_kwta_cut_thresholds): a
 * unit wins iff x >= gt[c], or x >= ge[c] and its index <= lim[c]; no
 * multiply or key per unit, and the index test only in the one channel
 * where the ties at the cut are split (a separate instantiation of the row
 * loop, so the common one carries no test). The pooled value is the dense
 * max-pool of the k-WTA output (non-winners 0), as zs_maxpool2d_forward
 * gives it. A row's last vector is stored whole (masked stores are slow
 * on some CPUs): its lanes past the row land in the next rows, stored after
 * it; only a vector that would pass the end of `out` is stored masked.
 */
#include "kernels.h"

static inline __attribute__((always_inline)) kp_v kp_keep(kp_v x, kp_v vgt, kp_v vge, kp_vi vl, int at,
                                                          const int split) {
    if (!split) return KP_KEEP_GE(x, vgt);
    return KP_KEEP_SPLIT(x, vgt, vge, KP_IOTA(at), vl);
}

/* One channel: rows x (H, W) -> o (H/2, W/2); `first` = flat index of x[0];
 * end: the end of `out`. */
static inline __attribute__((always_inline)) void kp_channel(float *o, const float *x, int H, int W, int first,
                                                             kp_v vgt, kp_v vge, kp_vi vl, const int split,
                                                             const float *end) {
    const int Ho = H / 2, Wo = W / 2, L = KP_VL;
    for (int py = 0; py < Ho; py++) {
        const float *r0 = x + (size_t)2 * py * W, *r1 = r0 + W;
        const int a0 = first + 2 * py * W, a1 = a0 + W;
        float *op = o + (size_t)py * Wo;
        int x0 = 0;
        for (; x0 + 2 * L <= 2 * Wo; x0 += 2 * L) {
            kp_v v0 = kp_keep(KP_LOADU(r0 + x0), vgt, vge, vl, a0 + x0, split);
            kp_v v1 = kp_keep(KP_LOADU(r0 + x0 + L), vgt, vge, vl, a0 + x0 + L, split);
            kp_v v2 = kp_keep(KP_LOADU(r1 + x0), vgt, vge, vl, a1 + x0, split);
            kp_v v3 = kp_keep(KP_LOADU(r1 + x0 + L), vgt, vge, vl, a1 + x0 + L, split);
            KP_STOREU(op + x0 / 2, KP_PAIRMAX(KP_MAX(v0, v2), KP_MAX(v1, v3)));
        }
        if (x0 < 2 * Wo) {
            int rem = 2 * Wo - x0;
            kp_v v0 = kp_keep(KP_LOADT(r0 + x0, rem), vgt, vge, vl, a0 + x0, split);
            kp_v v1 = kp_keep(KP_LOADT(r0 + x0 + L, rem - L), vgt, vge, vl, a0 + x0 + L, split);
            kp_v v2 = kp_keep(KP_LOADT(r1 + x0, rem), vgt, vge, vl, a1 + x0, split);
            kp_v v3 = kp_keep(KP_LOADT(r1 + x0 + L, rem - L), vgt, vge, vl, a1 + x0 + L, split);
            kp_v pm = KP_PAIRMAX(KP_MAX(v0, v2), KP_MAX(v1, v3));
            if (end - (op + x0 / 2) < L) KP_STORET(op + x0 / 2, pm, Wo - x0 / 2);
            else KP_STOREU(op + x0 / 2, pm);
        }
    }
}

void KP_FN(float *out, const float *x, const float *f, int C, int H, int W, zs_kwta_cut cut) {
    const int Ho = H / 2, Wo = W / 2;
    enum { CH = 256 };
    float ge[CH], gt[CH];
    int32_t lim[CH];
    const float *end = out + (size_t)C * Ho * Wo;
    for (int c0 = 0; c0 < C; c0 += CH) {
        int nc = C - c0 < CH ? C - c0 : CH;
        zs_kwta_cut_thresholds(cut, f + c0, nc, H * W, c0 * H * W, ge, gt, lim, KP_RAW_GE_N);
        for (int cc = 0; cc < nc; cc++) {
            int c = c0 + cc;
            const float *xc = x + (size_t)c * H * W;
            float *oc = out + (size_t)c * Ho * Wo;
            kp_v vgt = KP_SET1(gt[cc]), vge = KP_SET1(ge[cc]);
            kp_vi vl = KP_SET1I(lim[cc]);
            if (ge[cc] != gt[cc]) kp_channel(oc, xc, H, W, c * H * W, vgt, vge, vl, 1, end);
            else kp_channel(oc, xc, H, W, c * H * W, vgt, vge, vl, 0, end);
        }
    }
}
