/*
 * linear_list_kern.h — linear_ss_list (sparse input list x sparse weights,
 * per input column the (o, w) kept weights) from one source for every
 * width. Included by linear_avx2.c and linear_avx512.c after they define
 * LSL_FN (the function to define) and LSL_VL, the outputs updated per step:
 *   LSL_VL 1: out[o] = fmaf(v, w, out[o]), one kept weight at a time;
 *   LSL_VL > 1: LSL_STEP(out, lo, lw, v, rem) updates the first rem (<= LSL_VL)
 *     outputs lo[0..rem) of a column: gather, one FMA per lane, scatter. A
 *     column's outputs are distinct, so the lanes never collide.
 * Either way every product is added with one fused multiply-add, column by
 * column in input order: bit-identical to linear_sg on the same (dense)
 * input (tests/test_kernels.c same_bits) and to each other.
 */
#include "kernels.h"
#include <math.h>

#ifndef LSL_AHEAD
#define LSL_AHEAD 4
#endif

void LSL_FN(float *out, const int32_t *idx, const float *val, int n, const zs_linear_pack *p) {
    memcpy(out, p->bias, sizeof(float) * p->Op);
    const uint16_t *lo = p->lo;
    const float *lw = p->lw;
    const int nnz = p->start[p->I]; /* the prefetches stay inside the list */
    for (int e = 0; e < n; e++) {
        int i = idx[e];
        float v = val[e];
        if (e + LSL_AHEAD < n) {
            /* columns start at random places (L2/L3 at batch 1): fetch the
             * one LSL_AHEAD inputs ahead while this one is added, p->pf
             * weights of it whatever its length (a loop on the length
             * mispredicted its exit once per column: on Zen 5 the stage
             * 34.5 -> 32.0 us/word) */
            const int f0 = p->start[idx[e + LSL_AHEAD]], f1 = f0 + p->pf < nnz ? f0 + p->pf : nnz;
            for (int f = f0; f < f1; f += 32) __builtin_prefetch(lo + f);
            for (int f = f0; f < f1; f += 16) __builtin_prefetch(lw + f);
        }
        int t = p->start[i];
        const int t1 = p->start[i + 1];
#if LSL_VL > 1
        for (; t + LSL_VL <= t1; t += LSL_VL) LSL_STEP(out, lo + t, lw + t, v, LSL_VL);
        if (t < t1) LSL_STEP(out, lo + t, lw + t, v, t1 - t);
#else
        for (; t < t1; t++) out[lo[t]] = fmaf(v, lw[t], out[lo[t]]);
#endif
    }
}
