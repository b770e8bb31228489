/*
 * linear_row_kern.h — linear_sr, one source for every ISA: a sparse input
 * list times dense weights read in place from the model's own rows (O, I),
 * row-major (PyTorch's layout), for small output layers (the plan uses it
 * when O <= 16: one 16-float column would be mostly padding, and reading
 * the rows in place saves the plan a copy and learning its update).
 * Included by linear_{scalar,avx2,avx512}.c after they define
 * LSR_FN (the function's name) and LSR_MAC(acc, v, w): the scalar file
 * `acc + v * w` (two roundings, as linear_sd__scalar), the SIMD files
 * fmaf (one rounding, as their linear_sd's vector FMA). Every output sums
 * bias, then one product per list entry in list order: the same bits as
 * the same ISA's linear_sd on the same weights.
 *
 * Up to 16 outputs per pass, one scalar chain each (the compiler's SLP
 * vectoriser is off: 8 strided loads inserted into a vector cost more than
 * 8 scalar FMAs with a memory operand; and one pass over the list for all
 * 12 outputs of the GSC models' output layer measured 0.94 us/word against
 * 1.26 for passes of 8 + 4 on Zen 3: the rows come from L2/L3).
 */
#include "kernels.h"

static inline __attribute__((always_inline)) void lsr_pass(float *out, const int32_t *idx, const float *val, int n,
                                                           const float *w0, int I, const int NB) {
    float acc[16];
#pragma GCC unroll 16
    for (int j = 0; j < NB; j++) acc[j] = out[j];
    for (int e = 0; e < n; e++) {
        const float v = val[e], *w = w0 + idx[e];
#pragma GCC unroll 16
        for (int j = 0; j < NB; j++) acc[j] = LSR_MAC(acc[j], v, w[(size_t)j * I]);
    }
#pragma GCC unroll 16
    for (int j = 0; j < NB; j++) out[j] = acc[j];
}

/* gcc's switch (clang, which builds the sanitizer runs, has no such
 * attribute: there it is left out) */
#if defined(__clang__)
#define LSR_NO_SLP
#else
#define LSR_NO_SLP __attribute__((optimize("no-tree-slp-vectorize")))
#endif
LSR_NO_SLP void LSR_FN(float *out, const int32_t *idx, const float *val, int n, const zs_linear_pack *p) {
    const int O = p->O, I = p->I;
    memcpy(out, p->bias, sizeof(float) * (size_t)p->Op);
    for (int o0 = 0; o0 < O; o0 += 16) {
        const float *w0 = p->wr + (size_t)o0 * I;
        switch (O - o0 < 16 ? O - o0 : 16) {
#define LSR_CASE(k) case k: lsr_pass(out + o0, idx, val, n, w0, I, k); break;
            LSR_CASE(1) LSR_CASE(2) LSR_CASE(3) LSR_CASE(4) LSR_CASE(5) LSR_CASE(6) LSR_CASE(7) LSR_CASE(8)
            LSR_CASE(9) LSR_CASE(10) LSR_CASE(11) LSR_CASE(12) LSR_CASE(13) LSR_CASE(14) LSR_CASE(15)
            default: lsr_pass(out + o0, idx, val, n, w0, I, 16); break;
#undef LSR_CASE
        }
    }
}
#undef LSR_FN
#undef LSR_MAC
#undef LSR_NO_SLP
