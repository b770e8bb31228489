/*
 * peak_kern.h — the SIMD loops of peak.c, one source for every vector
 * width. Included by peak_avx2.c and peak_avx512.c (compiled with their -m
 * flags) after they define, for their width PK_VL (floats per vector):
 *   pk_v                      float vector type
 *   PK_R                      asm register constraint for a pk_v ("x", "v")
 *   PK_SET1(a), PK_LOADU(p), PK_STOREU(p, v)
 *   PK_FMA(a, b, c)           fused a * b + c
 *   PK_ADD(a, b), PK_MAX(a, b)
 * and PK_FMA_FN, PK_STREAM_FN, the names of the two functions (peak.h).
 */
#include "peak.h"

double PK_FMA_FN(long iters, float *sink) {
    /* 12 independent chains in named registers (an array would live in memory) */
    const pk_v m = PK_SET1(0.999999f), b = PK_SET1(1e-7f);
    pk_v a0 = PK_SET1(0), a1 = PK_SET1(1), a2 = PK_SET1(2), a3 = PK_SET1(3);
    pk_v a4 = PK_SET1(4), a5 = PK_SET1(5), a6 = PK_SET1(6), a7 = PK_SET1(7);
    pk_v a8 = PK_SET1(8), a9 = PK_SET1(9), a10 = PK_SET1(10), a11 = PK_SET1(11);
    for (long i = 0; i < iters; i++) {
        a0 = PK_FMA(a0, m, b); a1 = PK_FMA(a1, m, b); a2 = PK_FMA(a2, m, b);
        a3 = PK_FMA(a3, m, b); a4 = PK_FMA(a4, m, b); a5 = PK_FMA(a5, m, b);
        a6 = PK_FMA(a6, m, b); a7 = PK_FMA(a7, m, b); a8 = PK_FMA(a8, m, b);
        a9 = PK_FMA(a9, m, b); a10 = PK_FMA(a10, m, b); a11 = PK_FMA(a11, m, b);
        __asm__ volatile("" : "+" PK_R(a0), "+" PK_R(a1), "+" PK_R(a2), "+" PK_R(a3), "+" PK_R(a4), "+" PK_R(a5));
        __asm__ volatile("" : "+" PK_R(a6), "+" PK_R(a7), "+" PK_R(a8), "+" PK_R(a9), "+" PK_R(a10), "+" PK_R(a11));
    }
    pk_v s = PK_ADD(PK_ADD(PK_ADD(a0, a1), PK_ADD(a2, a3)), PK_ADD(PK_ADD(a4, a5), PK_ADD(a6, a7)));
    s = PK_ADD(s, PK_ADD(PK_ADD(a8, a9), PK_ADD(a10, a11)));
    float t[PK_VL];
    PK_STOREU(t, s);
    *sink += t[0] + t[PK_VL - 1];
    return 2.0 * PK_VL * 12 * (double)iters;
}

double PK_STREAM_FN(const float *x, size_t n, float *sink) {
    pk_v m0 = PK_LOADU(x), m1 = m0, m2 = m0, m3 = m0;
    for (size_t i = 0; i < n; i += 4 * PK_VL) {
        m0 = PK_MAX(m0, PK_LOADU(x + i));
        m1 = PK_MAX(m1, PK_LOADU(x + i + PK_VL));
        m2 = PK_MAX(m2, PK_LOADU(x + i + 2 * PK_VL));
        m3 = PK_MAX(m3, PK_LOADU(x + i + 3 * PK_VL));
    }
    m0 = PK_MAX(PK_MAX(m0, m1), PK_MAX(m2, m3));
    float t[PK_VL];
    PK_STOREU(t, m0);
    *sink += t[0] + t[PK_VL - 1];
    return 4.0 * (double)n;
}
