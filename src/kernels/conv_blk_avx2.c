/* conv_blk_avx2.c — conv_sparse_blk (conv_blk_kern.h) for avx2. */
#define BLK_ISA avx2
#define BLK_AVX2 1
#include "conv_blk_kern.h"
