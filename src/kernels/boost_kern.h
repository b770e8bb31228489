/*
 * boost_kern.h — the k-WTA boost factors f[c] = expf((td - duty[c]) * beta)
 * four lanes at a time (zs_boost_fn). Included by kwta_avx2.c and
 * kwta_avx512.c (both compiled with AVX2 + FMA) after they define BOOST_FN.
 *
 * glibc's expf (2.28 and later; ARM's optimized-routines algorithm), step
 * for step in double: k = round(x * 32 / ln 2) through the 1.5 * 2^52
 * shift (one FMA), r = x * 32 / ln 2 - k (one FMA), s = 2^(k/32) from the
 * 32-entry table with k / 32 added to its exponent, y = s * (1 + C2 r +
 * r^2 (C1 + C0 r)) with the same three FMAs, rounded to float once. So
 * the same bits as expf (all 2^32 inputs compared on glibc 2.36); the
 * inputs that take expf's special path (|x| >= 88 in its test, inf, NaN)
 * are handed to expf itself.
 */
#include "kernels.h"
#include <immintrin.h>
#include <math.h>
#include <stdint.h>

/* 2^(i/32) as double bits, less i << 47 (the exponent k adds back) */
static const uint64_t boost_tab[32] = {
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51, 0x3fef72b83c7d517b,
    0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1, 0x3fef06fe0a31b715, 0x3feef1a7373aa9cb,
    0x3feedea64c123422, 0x3feece086061892d, 0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429,
    0x3feea47eb03a5585, 0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
    0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d, 0x3feee89f995ad3ad,
    0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069, 0x3fef5818dcfba487, 0x3fef7c97337b9b5f,
    0x3fefa4afa2a490da, 0x3fefd0765b6e4540};

/* four floats' expf in double lanes */
static inline __m128 boost_exp4(__m128 x) {
    const __m256d inv = _mm256_set1_pd(0x1.71547652b82fep+5), shift = _mm256_set1_pd(0x1.8p+52);
    __m256d xd = _mm256_cvtps_pd(x);
    __m256d kd0 = _mm256_fmadd_pd(inv, xd, shift);
    __m256i ki = _mm256_castpd_si256(kd0);
    __m256d r = _mm256_fmsub_pd(inv, xd, _mm256_sub_pd(kd0, shift));
    __m256i t = _mm256_i64gather_epi64((const long long *)boost_tab, _mm256_and_si256(ki, _mm256_set1_epi64x(31)), 8);
    __m256d s = _mm256_castsi256_pd(_mm256_add_epi64(t, _mm256_slli_epi64(ki, 47)));
    __m256d z = _mm256_fmadd_pd(_mm256_set1_pd(0x1.c6af84b912394p-20), r, _mm256_set1_pd(0x1.ebfce50fac4f3p-13));
    __m256d y = _mm256_fmadd_pd(_mm256_set1_pd(0x1.62e42ff0c52d6p-6), r, _mm256_set1_pd(1.0));
    y = _mm256_fmadd_pd(z, _mm256_mul_pd(r, r), y);
    return _mm256_cvtpd_ps(_mm256_mul_pd(y, s));
}

void BOOST_FN(float *f, const float *duty, int C, float td, float beta) {
    const __m256 vt = _mm256_set1_ps(td), vb = _mm256_set1_ps(beta);
    int c = 0;
    for (; c + 8 <= C; c += 8) {
        __m256 x = _mm256_mul_ps(_mm256_sub_ps(vt, _mm256_loadu_ps(duty + c)), vb);
        /* expf's special path: top 12 bits of |x| (exponent and 1 bit) above 0x42a */
        __m256i top = _mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(x), 20), _mm256_set1_epi32(0x7ff));
        unsigned sp = (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(top, _mm256_set1_epi32(0x42a))));
        _mm_storeu_ps(f + c, boost_exp4(_mm256_castps256_ps128(x)));
        _mm_storeu_ps(f + c + 4, boost_exp4(_mm256_extractf128_ps(x, 1)));
        for (; sp; sp &= sp - 1) {
            int j = __builtin_ctz(sp);
            f[c + j] = expf((td - duty[c + j]) * beta);
        }
    }
    for (; c < C; c++) f[c] = expf((td - duty[c]) * beta);
}
