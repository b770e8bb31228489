/* train_sparse_avx512.c — the sparse training kernels (train_sparse_kern.h) for avx512. */
#define TS_ISA avx512
#include "train_sparse_kern.h"
