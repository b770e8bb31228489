/* train_sparse_scalar.c — the sparse training kernels (train_sparse_kern.h) for scalar. */
#define TS_ISA scalar
#include "train_sparse_kern.h"
