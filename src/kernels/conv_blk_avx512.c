/* conv_blk_avx512.c — conv_sparse_blk (conv_blk_kern.h) for avx512. */
#define BLK_ISA avx512
#define BLK_AVX512 1
#include "conv_blk_kern.h"
