/*
 * kwta_emit_kern.h — kwta_emit for groups of S units with one boost factor
 * each, on per-group raw thresholds (zs_kwta_cut_thresholds, as kwta_pool):
 * unit i of group c wins iff x_i >= gt[c], or x_i >= ge[c] and i <= lim[c];
 * no multiply or key per unit, and the index test only in the group where
 * the ties at the cut are split (a separate instantiation of the group
 * loop). Included by kwta_avx2.c and kwta_avx512.c after they define
 *   ke_v, ke_vi                 float / int32 vector types
 *   KE_SET1(a), KE_SET1I(a)     broadcasts
 *   ke_group(idx, val, x, base, S, vgt, vge, vl, split, n)
 *                               one group's winners appended at n (stored
 *                               whole: room for a vector past the count);
 *                               returns the new count
 *   KE_RAW_GE_N                 the ISA's raw_ge_n
 *   KE_FN                       the name of the function to define
 */
static int KE_FN(int32_t *idx, float *val, const float *x, const float *f, int G, int S, zs_kwta_cut cut) {
    enum { CH = 64 };
    float ge[CH], gt[CH];
    int32_t lim[CH];
    int n = 0;
    for (int c0 = 0; c0 < G; c0 += CH) {
        const int nc = G - c0 < CH ? G - c0 : CH;
        zs_kwta_cut_thresholds(cut, f + c0, nc, S, c0 * S, ge, gt, lim, KE_RAW_GE_N);
        for (int cc = 0; cc < nc; cc++) {
            const ke_v vgt = KE_SET1(gt[cc]), vge = KE_SET1(ge[cc]);
            const ke_vi vl = KE_SET1I(lim[cc]);
            const int base = (c0 + cc) * S;
            n = ge[cc] != gt[cc] ? ke_group(idx, val, x, base, S, vgt, vge, vl, 1, n)
                                 : ke_group(idx, val, x, base, S, vgt, vge, vl, 0, n);
        }
    }
    return n;
}
