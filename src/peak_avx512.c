/* peak_avx512.c — the loops of peak.c (peak_kern.h) for AVX-512F, 16 lanes. */
#include <immintrin.h>
typedef __m512 pk_v;
#define PK_VL 16
#define PK_R(a) "v"(a)
#define PK_SET1(a) _mm512_set1_ps(a)
#define PK_LOADU(p) _mm512_loadu_ps(p)
#define PK_STOREU(p, v) _mm512_storeu_ps((p), (v))
#define PK_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define PK_ADD(a, b) _mm512_add_ps((a), (b))
#define PK_MAX(a, b) _mm512_max_ps((a), (b))
#define PK_FMA_FN zs_peak_fma__avx512
#define PK_STREAM_FN zs_peak_stream__avx512
#include "peak_kern.h"
