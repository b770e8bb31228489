/* gemm.h — the one dense GEMM entry point (row-major), backed by oneDNN's
 * dnnl_sgemm: its JIT picks AVX-512/AVX2 kernels by CPU at run time, where
 * Debian's OpenBLAS 0.3.21 mistakes Zen 4 for Prescott (SSE3, 4x slower).
 * C (M, N) = alpha * op(A) * op(B) + beta * C; ta/tb are 'N' or 'T'. */
#ifndef ZS_GEMM_H
#define ZS_GEMM_H
void zs_sgemm(char ta, char tb, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);
#endif
