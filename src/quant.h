/*
 * quant.h — the integer inference path (src/quant.c) as the hardware
 * compiler (src/hwcompile.c) sees it. Internal; the public calls are
 * zs_qnet_* in include/zeroskip.h.
 *
 * A quantised network is a chain of "blocks", each one weight layer
 * (conv2d, or linear as a 1x1 conv over a C x 1 x 1 input) with what
 * follows it folded in:
 *   acc[o][p] = bias[o] + sum over kept taps w[o][c][ky][kx] * a[c][p + tap]
 *               (int8 x int8 -> int32, BatchNorm folded into w and bias)
 *   act[o][p] = sat8 (rq(acc, ma[o], sha[o]))          next layer's int8 input
 *   score     = sat16(rq(acc, mb[o], shb[o]))          k-WTA key (boost folded in)
 *   k-WTA:  the k largest scores win, ties to the lower flat index o*P + p;
 *           out = winner ? act : 0
 *   ReLU:   out = act > 0 ? act : 0
 *   pool:   2x2 stride 2 max over out
 * The input offset is folded into block 0's bias.
 * The last block has no activation: its acc are the int32 logits, whose
 * real value is acc * logit_scale.
 * rq(x, m, sh) = floor((x * m + 2^(sh-1)) / 2^sh), 64-bit intermediate,
 * m in [2^14, 2^15), 1 <= sh <= 62.
 */
#ifndef ZS_QUANT_H
#define ZS_QUANT_H

#include "zeroskip.h"
#include <stdint.h>

enum { ZS_QACT_NONE = 0, ZS_QACT_KWTA = 1, ZS_QACT_RELU = 2 };

typedef struct zs_qblock {
    int in_c, in_h, in_w;      /* input map (linear: in_c = features, 1, 1) */
    int out_c, out_h, out_w;   /* before pooling                             */
    int kh, kw;                /* 1, 1 for linear                            */
    int act;                   /* ZS_QACT_*                                  */
    int k;                     /* k-WTA winners per sample                   */
    int pool;                  /* 1: 2x2 stride-2 max-pool after activation  */
    int pool_h, pool_w;        /* output map after pooling (= out if none)   */
    int8_t *w;                 /* (out_c, in_c, kh, kw), 0 = not kept        */
    int32_t *bias;             /* (out_c) at scale s_w[o] * s_in             */
    int32_t *ma, *mb;          /* (out_c) multipliers                        */
    int8_t *sha, *shb;         /* (out_c) shifts                             */
    float s_in, s_out, s_score;/* calibrated scales (documentation, export)  */
    /* ZS_QNET_INT16 only (blocks 1..): int16 weights, u12 activations with
     * one scale per channel, int32 k-WTA keys (31-bit multipliers) */
    int16_t *w16;              /* (out_c, in_c, kh, kw)                      */
    int32_t *mk;               /* (out_c) key multipliers in [2^30, 2^31)    */
    int8_t *shk;               /* (out_c) key shifts                         */
} zs_qblock;

struct zs_qnet {
    int mode;                  /* ZS_QNET_INT8 (the hardware's) or ZS_QNET_INT16 */
    int in_c, in_h, in_w;
    float in_scale, in_offset; /* x_q = sat8(round_half_even((x - in_offset) / in_scale)) */
    int num_classes;
    float logit_scale;
    int n_blocks;
    zs_qblock *b;
    int32_t *acc;              /* scratch: largest block output              */
    int8_t *buf0, *buf1, *buf2; /* scratch activation maps                   */
    int16_t *score;
    int32_t *hist;             /* 65536 bins                                 */
    size_t max_map;
    /* ZS_QNET_INT16: block 0 (conv + k-WTA + 2x2 pool) runs in fp32 through
     * the inference plan's kernels; its pooled output is quantised per
     * channel (a = clamp(round_half_even(v / c1_scale[c]), 0, 4095)). */
    const struct zs_kernels *K;
    struct zs_conv_taps *c1;
    float *c1_boost, *c1_scale, *c1_y, *c1_p;
    void *kwork;
    int16_t *a16[2];
    int32_t *keys, *sel;
};

/* The shared integer primitives (the hardware implements exactly these). */
int32_t zs_q_rq(int32_t x, int32_t m, int sh);
static inline int8_t zs_q_sat8(int32_t v) { return (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v); }
static inline int16_t zs_q_sat16(int32_t v) { return (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v); }

/* int16 mode: activations are unsigned 12-bit (0..4095) */
#define ZS_Q16_AMAX 4095
#endif
