/* gemm.c — see gemm.h. */
#include "gemm.h"
#include <dnnl.h>

void zs_sgemm(char ta, char tb, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    /* Arguments are validated by the callers (internal use only); dnnl_sgemm
     * only fails on invalid arguments. */
    (void)dnnl_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

#include <omp.h>
#include "zeroskip.h"

void zs_set_threads(int n) { omp_set_num_threads(n < 1 ? 1 : n); }
