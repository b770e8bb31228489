/* train_sparse_avx2.c — the sparse training kernels (train_sparse_kern.h) for avx2. */
#define TS_ISA avx2
#include "train_sparse_kern.h"
