/* conv_blk_scalar.c — conv_sparse_blk (conv_blk_kern.h) for scalar. */
#define BLK_ISA scalar
#define BLK_SCALAR 1
#include "conv_blk_kern.h"
