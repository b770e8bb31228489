/* peak_avx2.c — the loops of peak.c (peak_kern.h) for AVX2+FMA, 8 lanes. */
#include <immintrin.h>
typedef __m256 pk_v;
#define PK_VL 8
#define PK_R(a) "x"(a)
#define PK_SET1(a) _mm256_set1_ps(a)
#define PK_LOADU(p) _mm256_loadu_ps(p)
#define PK_STOREU(p, v) _mm256_storeu_ps((p), (v))
#define PK_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define PK_ADD(a, b) _mm256_add_ps((a), (b))
#define PK_MAX(a, b) _mm256_max_ps((a), (b))
#define PK_FMA_FN zs_peak_fma__avx2
#define PK_STREAM_FN zs_peak_stream__avx2
#include "peak_kern.h"
