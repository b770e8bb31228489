/*
 * kernels.h — the sparse-sparse inference kernels: packed weight formats,
 * the kernel families, and the ONE kernel list (ZS_KERNEL_LIST) that
 * declares every per-ISA function, fills the dispatch table (registry.c),
 * lists the kernels (`zeroskip info --kernels`, zs_kernels_list) and forces
 * tests/test_kernels.c to cover each of them (a kernel without a
 * test_<name>() function does not compile).
 *
 * What this is not: a general sparse tensor library. Kernels work on ONE
 * sample (batch 1: the plan loops over samples), stride-1 convolutions,
 * NCHW float32, and never allocate (scratch is passed in).
 *
 * Dimension letters: C channels (Ci in, Co out), H/W input height/width,
 * Ho/Wo output height/width, K kernel (Kh, Kw), I/O linear in/out features.
 *
 * Sparse activations are lists (idx, val) of n entries, idx strictly
 * ascending flat indices into the (C, H, W) map (the zs_winners layout of
 * net.h for one sample).
 *
 * ISA files: <family>_scalar.c (portable C), <family>_avx2.c (AVX2+FMA),
 * <family>_avx512.c (AVX-512 F/BW/DQ/VL only: nothing Zen 4 lacks; no
 * vcompressps/vpcompressd to memory, which is microcoded and slow on Zen 4:
 * compress into a register, then store). Functions are zs_<op>__<isa>.
 */
#ifndef ZS_KERNELS_H
#define ZS_KERNELS_H

#include "zs_internal.h"
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ packed formats */

/* Sparse conv weights in gather form: one list of taps per output channel,
 * for a dense input (Ci, H, W) that is already zero-padded (stride 1).
 * Output (Co, Ho, Wo), Ho = H - Kh + 1, Wo = W - Kw + 1. */
typedef struct zs_conv_taps {
    int Ci, H, W, Co, Kh, Kw, Ho, Wo;
    int32_t *start;   /* (Co + 1) taps of channel o: [start[o], start[o+1])   */
    int32_t *off;     /* (nnz) ci*H*W + ky*W + kx                              */
    int32_t *soff;    /* (nnz) the tap's offset into the fused kernels' Kw
                         shifted input copies (conv_kwta_pool, conv_pool):
                         (kx*Ci*H + ci*H + ky) * ZS_CKP_ROW                    */
    float *w;         /* (nnz)                                                 */
    float *bias;      /* (Co)                                                  */
} zs_conv_taps;

/* Sparse conv weights in scatter form, for a sparse input (list into
 * (Ci, H, W)); stride 1, zero padding `pad`; output (Co, Ho, Wo) with
 * Ho = H + 2 pad - Kh + 1. Two layouts, either may be NULL:
 *   list: per (ci, ky, kx) the non-zero (output plane offset co*Ho*Wo, w);
 *   vec:  per (ci, ky, kx) a dense vector over Cop = Co rounded up to 16
 *         (zeros where masked), for the channel-vector kernels. */
typedef struct zs_conv_scatter {
    int Ci, H, W, Co, Kh, Kw, pad, Ho, Wo, Cop;
    int32_t *start;   /* (Ci*Kh*Kw + 1) list ranges                             */
    int32_t *lco;     /* (nnz) co*Ho*Wo                                         */
    float *lw;        /* (nnz)                                                  */
    float *wvec;      /* (Ci*Kh*Kw, Cop), 64-byte aligned                       */
    /* int8 rows (optional, zs_conv_scatter_quantize_q8; wvec freed): wvec's
     * layout as int8 with one scale per output channel, w ~ qscale[o] * wq.
     * With qact the inputs of each sample are quantised too, to integers
     * u = round(v * 255 / max) in [0, 255] (zs_conv_quantize_inputs: negative
     * inputs count as 0), so every sum is an exact integer (|sum| < 2^24:
     * checked at quantisation) whichever kernel and order adds it up;
     * out = sum * (max / 255 * qscale[o]) + bias[o], a multiply then an add.
     * conv_sparse_tap_q8 sums in fp32 over (position, channel) lists;
     * conv_sparse_vnni in int32 over (position, 4-channel group) words with
     * wq4, the same rows with the 4 input channels of a group innermost */
    int8_t *wq;       /* (Ci*Kh*Kw, Cop), 64-byte aligned                       */
    int8_t *wq4;      /* (ceil(Ci/4), Kh, Kw, Cop, 4), 64-byte aligned          */
    float *qscale;    /* (Cop), 0 past Co                                       */
    int qact;         /* 1: inputs quantised (integer sums), 0: fp32 inputs     */
    uint32_t *cmask;  /* (Ci*Kh*Kw) bit j: the 16 outputs 16j.. have a non-zero
                         weight (block-structured masks skip empty blocks)   */
    int32_t *cy, *cx; /* (H*W) row and column of each input position           */
    float *bias;      /* (Co)                                                   */
    int prefetch;     /* conv_sparse_tap: prefetch each next phase's weight
                         rows (set per sample by the plan: 1 when another
                         plan ran on this thread since this one, so the
                         rows are likely out of L2) */
    int kx_group;     /* conv_sparse_tap: taps per phase along a kernel row
                         (0 or 1: one); set by the plan (calibrate_one)      */
    int pool;         /* conv_sparse_tap(_q8), conv_sparse_vnni: 1 = out is
                         the 2x2/2 max-pool of the conv, (Co, Ho/2, Wo/2):
                         the sums pooled before the unpack (its per-channel
                         scale is positive, so the maxima are the same)    */
    /* blocks (optional, zs_conv_scatter_pack_blocks, conv_blk.c): per row
     * r = (ci*Kh + ky)*Kw + kx (wvec's rows) the 16-channel blocks of wvec
     * holding a non-zero weight: [bstart[r], bstart[r+1]) of (boff = first
     * channel, bw = 16 weights, 64-byte aligned) */
    int32_t *bstart, *boff;
    float *bw;
    /* routing (optional, zs_conv_scatter_pack_routed, conv_blk.c): every
     * kernel row (ci, ky) keeps one 16-channel block, the same for all kx,
     * given by the input channel's class: rt_blk[rt_cls[ci] * Kh + ky]
     * (< Cop / 16 <= 4); rt_nc classes (0: not routable); rt_w (Ci, Kh,
     * Kw + 2, 16): the block's weights at kx + 1, zero rows at 0 and Kw + 1
     * (conv_sparse_routed's output pairs), 64-byte aligned */
    int rt_nc;
    int32_t *rt_cls;
    uint8_t *rt_blk;
    float *rt_w;
} zs_conv_scatter;

/* Linear weights (O, I), packed (any subset of):
 *   list:   per input column i, the kept (o, w): start (I+1), lo (uint16:
 *           O <= 65536), lw (scatter from a sparse input list) — the
 *           model's own packed form of a sparse linear layer (net.h, CSC),
 *           which a plan reads in place (borrowed = 1: not freed here);
 *   block:  per column i, the 16-output blocks holding a non-zero:
 *           bstart (I+1), bo (first output of the block), bw (16 floats);
 *   gather: per block of 16 outputs, gnz steps of 16 (input index, w)
 *           pairs, lane j = output 16b + j; rows shorter than gnz padded
 *           with (0, 0): gi, gw (Op/16, gnz, 16) (for a dense input);
 *   dense:  wt (I, Op), Op = O rounded up to 16 (the output layer);
 *   expand: an index over the list (zs_linear_pack_expand, from start/lo;
 *           values read from lw in place): per column i and 16-output
 *           group g, the bit mask of its kept outputs, xm[i * xnb * xbg +
 *           g] (groups past Op/16 padded with 0), and for each block b of
 *           xbg groups (<= ZS_LIN_XBG, the accumulators one pass keeps in
 *           registers) the index in lw of its first kept weight,
 *           xoff[i * xnb + b]. */
#define ZS_LIN_XBG 24
typedef struct zs_linear_pack {
    int I, O, Op;
    int32_t *start; uint16_t *lo; float *lw;
    int borrowed;
    int pf;           /* list: kept weights of a column the list kernels
                         prefetch ahead, whatever its length (the mean per
                         column rounded up to 16: no loop on the length,
                         whose exit mispredicts; zs_linear_pack_pf) */
    int xbg, xnb; uint16_t *xm; int32_t *xoff;
    int32_t *bstart, *bo; float *bw;
    int gnz; int32_t *gi; float *gw;
    float *wt;
    const float *wr;  /* linear_sr: the model's own rows (O, I), borrowed */
    float *bias;      /* (Op), zero past O */
} zs_linear_pack;

/* k-WTA cut: unit i (score s_i, key = zs_kwta_key(s_i)) wins iff
 * key > cut.key || (key == cut.key && i <= cut.last). That is exactly the
 * k largest scores with the tie-break "larger value first, then lower
 * index". All win: {INT32_MIN, n-1}; none: {INT32_MAX, -1}. */
typedef struct zs_kwta_cut { int32_t key; int32_t last; } zs_kwta_cut;

/* Monotone int32 key of a float: a < b (floats) <=> key(a) < key(b) for
 * non-NaN values; -0 and +0 map to the same key (they tie, as in the
 * reference). */
static inline int32_t zs_kwta_key(float s) {
    union { float f; int32_t i; } u;
    u.f = s + 0.0f;                       /* -0 -> +0 */
    return u.i ^ (int32_t)((uint32_t)(u.i >> 31) >> 1);
}

/* ------------------------------------------------------------ kernel types */

/* out (Co, Ho, Wo) = bias + conv(in (Ci, H, W) dense, taps). */
typedef void zs_conv_dense_fn(float *out, const float *in, const zs_conv_taps *p);
/* out (Co, Ho, Wo) = bias + conv(sparse input list, scatter weights).
 * scratch: zs_conv_sparse_scratch(p) floats, 64-byte aligned. */
typedef void zs_conv_sparse_fn(float *out, const int32_t *idx, const float *val, int n,
                                  const zs_conv_scatter *p, float *scratch);
/* The non-zeros (x != 0, as sparsify) of a dense map x (Ci, H, W) bucketed
 * by position, in scratch as zs_conv_sort_by_pos(.., with_col = 1, ..)
 * leaves them; returns their count. conv_sparse_tap with idx == NULL reads
 * them there instead of sorting a list (the plan times both routes). */
typedef int zs_conv_pos_lists_fn(const float *x, const zs_conv_scatter *p, float *scratch);
/* k-WTA selection without a full sort. Scores s_i = x_i * f[i / S] for
 * i < n = G*S (f: positive boost factors per group of S units). Writes the
 * cut of the k largest. work: zs_kwta_work_size(n) bytes, 8-byte aligned. */
typedef void zs_kwta_select_fn(zs_kwta_cut *cut, const float *x, const float *f, int G, int S,
                                  int k, void *work);
/* Winners of `cut` as a list: idx ascending, val = x (unboosted). Returns
 * the count. idx/val need room for G*S + 16 entries. */
typedef int zs_kwta_emit_fn(int32_t *idx, float *val, const float *x, const float *f, int G,
                               int S, zs_kwta_cut cut);
/* Fused k-WTA (cut over (C, H, W), f per channel) + 2x2/2 max-pool:
 * out (C, H/2, W/2) = dense max-pool of the k-WTA output (non-winners 0). */
typedef void zs_kwta_pool_fn(float *out, const float *x, const float *f, int C, int H, int W,
                             zs_kwta_cut cut);
/* Fused conv (dense input, taps) + global k-WTA (the cut of the k largest
 * of the (Co, Ho, Wo) map, boost f per channel) + 2x2/2 max-pool:
 * out (Co, Ho/2, Wo/2) = kwta_pool(conv_dense(in), kwta_select(...)) of the
 * same ISA, the same bits. work: zs_conv_kwta_pool_work_size(Co*Ho*Wo)
 * bytes, 8-byte aligned; map: Co*Ho*Wo + 64 floats of scratch, 64-byte
 * aligned. */
typedef void zs_conv_kwta_pool_fn(float *out, const float *in, const zs_conv_taps *p, const float *f, int k,
                                  void *work, float *map);
/* Fused conv (dense input, taps) + 2x2/2 max-pool (no k-WTA between: the
 * pool-first networks): out (Co, Ho/2, Wo/2) = maxpool(conv_dense(in)) of
 * the same ISA, the same bits; out needs 16 floats of slack past its end.
 * map: Co*Ho*Wo + 64 floats of scratch, 64-byte aligned (used where the
 * fused path does not fit: zs_conv_shift_fits). */
typedef void zs_conv_pool_fn(float *out, const float *in, const zs_conv_taps *p, float *map);
/* out[c] = zs_kwta_raw_ge(t, f[c]) for c < C (f > 0 finite, t finite). */
typedef void zs_kwta_raw_ge_n_fn(float *out, const float *f, int C, float t);
/* k-WTA boost factors: f[c] = expf((td - duty[c]) * beta), c < C, the
 * difference and product in float as the reference layers compute them.
 * SIMD versions: glibc's expf algorithm (2.28 and later: the 32-entry
 * 2^(i/32) table, a cubic in double, its FMAs) four lanes at a time, the
 * inputs its fast path does not take (|x| >= 88, inf, NaN) by
 * expf itself; checked equal to expf over all 2^32 inputs on glibc 2.36,
 * and by the tests against the scalar version (expf). */
typedef void zs_boost_fn(float *f, const float *duty, int C, float td, float beta);
/* Dense 2x2/2 max-pool of (C, H, W) -> (C, H/2, W/2); relu: max with 0 too. */
typedef void zs_maxpool_fn(float *out, const float *x, int C, int H, int W, int relu);
/* Non-zeros of x[0..n) as a list (idx ascending); returns the count.
 * idx/val need room for n + 16 entries. */
typedef int zs_sparsify_fn(int32_t *idx, float *val, const float *x, int n);
/* out (Op) = bias + W x for a sparse input list (x_idx < I). */
typedef void zs_linear_sparse_fn(float *out, const int32_t *idx, const float *val, int n,
                                 const zs_linear_pack *p);
/* out (Op) = bias + W x for a dense input x (I), gather layout. */
typedef void zs_linear_gather_fn(float *out, const float *x, const zs_linear_pack *p);
/* Online SGD on the packed columns of the non-zero inputs (zs_net_learn on
 * a linear layer's input-major packed form, the very weights the plan
 * reads: kept weights w, their outputs idx, column t at [start[t],
 * start[t + 1])): g holds lr x the gradient of each output; for q < nc,
 * column t = cols[q] with input value h[q], for each k of it with
 * g[idx[k]] != 0 (the others keep their bits),
 *   w[k] = w[k] - g[idx[k]] * h[q]  (a multiply, then a subtract: no FMA).
 * Each weight changes at most once, so the order is free: the SIMD
 * versions may scan every column first and write after. */
typedef void zs_col_update_fn(float *w, const uint16_t *idx, const int32_t *start, const int32_t *cols,
                              const float *h, int nc, const float *g, const uint32_t *gm, int U);
/* col_update's gm: NULL, or bit o of gm[o / 32] set iff g[o] != 0 for
 * the U outputs, in at least max(32, (U + 31) / 32) words, 0 past U: the
 * kernel may test it instead of g (AVX2: U <= 1024, four registers). */
/* AVX2 lane compression (kwta_avx2.c): entry m packs, byte by byte, the
 * indices of the lanes set in the 8-bit mask m, lowest first. */
extern const uint64_t zs_avx2_compress_lut[256];
#define ZS_COL_GM_WORDS(U) ((U) + 31 < 1024 ? 32 : ((U) + 31) / 32)
/* Online SGD on one dense row (zs_net_learn, a dense layer): for t < n
 * with h[t] != 0, w[t] = w[t] - a * h[t] (multiply, then subtract); the
 * other weights keep their bits. */
typedef void zs_row_axpy_fn(float *w, const float *h, int n, float a);
/* Max-pool (k x k, stride s, no padding) over a winners list of a (C, H, W)
 * map whose non-listed entries are 0: out list = the pooled positions where
 * some listed entry lies (ascending), with the dense max-pool value there.
 * Returns the count. scratch: 2*Wo floats. */
typedef int zs_maxpool_winners_fn(int32_t *oidx, float *oval, const int32_t *idx,
                                     const float *val, int n, int C, int H, int W, int k, int s,
                                     float *scratch);

/* ------------------------------------------------------------ the list */

/* X(name, type, tile/description): kernels with scalar, avx2 and avx512
 * versions (zs_<name>__scalar, __avx2, __avx512). */
#define ZS_KERNEL_LIST(X)                                                                       \
    X(conv_dense, zs_conv_dense_fn, "conv2d dense in x sparse w: taps per out-channel, R rows x V vectors tile") \
    X(conv_sparse_vec, zs_conv_sparse_fn, "conv2d sparse in x sparse w: scatter, dense-over-Cout vectors") \
    X(conv_sparse_pos, zs_conv_sparse_fn, "conv2d sparse in x sparse w: inputs by position, Cout sums in registers") \
    X(conv_sparse_tap, zs_conv_sparse_fn, "conv2d sparse in x sparse w: phases of kx_group taps, one run of inputs per output and phase") \
    X(conv_sparse_tap_q8, zs_conv_sparse_fn, "conv_sparse_tap on int8 rows (one scale per output channel): int8 -> fp32 per row load, fp32 sums, scaled at the unpack") \
    X(conv_sparse_vnni, zs_conv_sparse_fn, "conv_sparse_tap_q8's integer sums over 4-channel input groups: vpdpbusd (AVX-512 VNNI; elsewhere the reference, never chosen)") \
    X(conv_pos_groups, zs_conv_pos_lists_fn, "dense map -> quantised non-zero 4-channel groups by position (conv_sparse_vnni's input; AVX2: the reference)") \
    X(conv_pos_lists, zs_conv_pos_lists_fn, "dense map -> non-zeros bucketed by position (conv_sparse_tap's input)") \
    X(conv_sparse_blk, zs_conv_sparse_fn, "conv2d sparse in x block-structured w: input-major, kept 16-channel blocks only") \
    X(conv_sparse_routed, zs_conv_sparse_fn, "conv2d sparse in x routed w: per kernel row and output, one run per input class into the block's registers") \
    X(kwta_select, zs_kwta_select_fn, "k-WTA cut: sampled bracket + SIMD count/collect + select") \
    X(kwta_emit, zs_kwta_emit_fn, "k-WTA winners list from a cut (compress in register)")       \
    X(kwta_pool, zs_kwta_pool_fn, "k-WTA mask fused with 2x2/2 max-pool")                      \
    X(kwta_raw_ge_n, zs_kwta_raw_ge_n_fn, "raw per-channel k-WTA thresholds: t / f, then the first passing of six floats") \
    X(boost, zs_boost_fn, "k-WTA boost factors exp((td - duty) beta): expf's algorithm in double, 4 lanes") \
    X(conv_kwta_pool, zs_conv_kwta_pool_fn, "conv (dense in) + global k-WTA + 2x2/2 max-pool: cut counted in the conv epilogue") \
    X(conv_pool, zs_conv_pool_fn, "conv (dense in) + 2x2/2 max-pool in the epilogue: the conv map never stored") \
    X(maxpool, zs_maxpool_fn, "dense 2x2/2 max-pool (+ReLU)")                                   \
    X(sparsify, zs_sparsify_fn, "dense -> non-zero list (compress in register)")                \
    X(linear_ss, zs_linear_sparse_fn, "linear sparse in x sparse w: 16-output blocks per column") \
    X(linear_sg, zs_linear_gather_fn, "linear dense in x sparse w: 16 outputs per step, gathered inputs") \
    X(linear_ss_list, zs_linear_sparse_fn, "linear sparse in x sparse w: (o, w) column lists, FMA in input order") \
    X(linear_ss_list1, zs_linear_sparse_fn, "linear_ss_list one kept weight at a time (AVX-512: no gather/scatter, timed against it; else the same kernel)") \
    X(linear_ss_expand, zs_linear_sparse_fn, "linear sparse in x sparse w: per column 16-output group masks, the list expanded in register, FMA in input order") \
    X(linear_sd, zs_linear_sparse_fn, "linear sparse in x dense w: Op-float columns") \
    X(linear_sr, zs_linear_sparse_fn, "linear sparse in x dense w read in place from the model's rows (small output layers)") \
    X(col_update, zs_col_update_fn, "online SGD on the packed columns of the non-zero inputs: the changing weights found in a gradient bitmap (AVX2, AVX-512: all columns scanned, then written) or by gathered gradients") \
    X(row_axpy, zs_row_axpy_fn, "online SGD on a dense row where the input is non-zero")

/* Y(name, type, description): algorithmically scalar kernels (one version,
 * zs_<name>__scalar, used under every ISA). */
#define ZS_KERNEL_LIST_SCALAR(Y)                                                                \
    Y(conv_sparse_list, zs_conv_sparse_fn, "conv2d sparse in x sparse w: scatter, (co, w) lists") \
    Y(maxpool_winners, zs_maxpool_winners_fn, "k x k max-pool over a winners list")

typedef struct zs_kernels {
    zs_isa isa;
#define ZS_FIELD_(name, type, desc) type *name;
    ZS_KERNEL_LIST(ZS_FIELD_)
    ZS_KERNEL_LIST_SCALAR(ZS_FIELD_)
#undef ZS_FIELD_
} zs_kernels;

/* The kernel set for `isa`, clamped to what the CPU has. Static storage. */
const zs_kernels *zs_kernels_get(zs_isa isa);
/* zs_kernels_get(zs_isa_active()). */
const zs_kernels *zs_kernels_active(void);
/* Print every kernel family and the version each ISA uses, marking the one
 * zs_isa_active() picks (for `zeroskip info --kernels`). */
void zs_kernels_list(FILE *f);

/* Per-ISA prototypes, generated from the list: each ISA file must define
 * every kernel with exactly the family's type, or it fails to compile. */
#define ZS_PROTO_ALL_(name, type, desc) type zs_##name##__scalar, zs_##name##__avx2, zs_##name##__avx512;
ZS_KERNEL_LIST(ZS_PROTO_ALL_)
#undef ZS_PROTO_ALL_
#define ZS_PROTO_S_(name, type, desc) type zs_##name##__scalar;
ZS_KERNEL_LIST_SCALAR(ZS_PROTO_S_)
#undef ZS_PROTO_S_

/* ------------------------------------------------------------ shared helpers */

/* Bytes of work for kwta_select on n units. */
size_t zs_kwta_work_size(int n);
/* Bytes of work for conv_kwta_pool on a map of n units (holds
 * zs_kwta_work_size(n) too); ZS_CKP_SAMPLE: its sample's capacity (keys). */
#define ZS_CKP_SAMPLE 4096
size_t zs_conv_kwta_pool_work_size(int n);
/* The fused path of conv_kwta_pool (SIMD versions) fits p and k: output
 * rows of 8 to ZS_CKP_ROW floats, Kw shifted copies of the input in
 * ZS_CKP_SH floats, a map of >= 4096 units,
 * 0 < k < units. Returns the sample's rows per channel (>= 1), or 0: the
 * kernel runs conv_dense, kwta_select and kwta_pool one after the other. */
#define ZS_CKP_ROW 32
#define ZS_CKP_SH 8192
int zs_conv_kwta_pool_fast(const zs_conv_taps *p, int k);
/* The shifted input copies of the fused conv kernels (conv_kwta_pool,
 * conv_pool) fit p: output rows of at most ZS_CKP_ROW floats, Kw copies of
 * the input in ZS_CKP_SH floats (the taps' offsets into them: soff). */
int zs_conv_shift_fits(const zs_conv_taps *p);
/* Floats of scratch for conv_sparse_* (64-byte aligned). */
size_t zs_conv_sparse_scratch(const zs_conv_scatter *p);
/* Where conv_sparse_routed keeps, in scratch: the accumulator (Ho*Wo, Cop),
 * bucket starts ps (rt_nc*H*W + 1) and fill (rt_nc*H*W), per entry its
 * weight offset pw and value pv (room for Ci*H*W + 16 each). */
static inline void zs_conv_routed_at(const zs_conv_scatter *p, float *scratch, float **acc, int32_t **ps,
                                     int32_t **fill, int32_t **pw, float **pv) {
    size_t HW = (size_t)p->H * p->W, nb = (size_t)p->rt_nc * HW;
    *acc = scratch;
    *ps = (int32_t *)(scratch + (size_t)p->Ho * p->Wo * p->Cop + 16);
    *fill = *ps + nb + 16;
    *pw = *fill + nb + 16;
    *pv = (float *)(*pw + (size_t)p->Ci * HW + 16);
}
/* The routing of a packed scatter (p->wvec needed) for conv_sparse_routed,
 * when its weights have one: rt_* set (rt_nc > 0), else rt_nc = 0 and
 * nothing allocated. At most ZS_ROUTED_NC classes. */
#define ZS_ROUTED_NC 8
zs_status zs_conv_scatter_pack_routed(zs_conv_scatter *p);
/* conv_sparse_pos / _tap helper: bucket the input list by position. In
 * scratch, after the (Ho*Wo, Cop) accumulator: pstart (H*W + 1), then per
 * entry (grouped by position, channels ascending) the offset
 * ci*Kh*Kw*Cop (+ ix*Cop, the input column, when with_col) of its weight
 * rows in wvec and its value (zs_conv_lists_at). */
void zs_conv_sort_by_pos(const int32_t *idx, const float *val, int n, const zs_conv_scatter *p,
                         float *scratch, int with_col, int32_t **pstart, int32_t **woff, float **pv);
/* Where zs_conv_sort_by_pos / conv_pos_lists put the lists in scratch:
 * pstart (H*W + 1), woff and pv (room for Ci*H*W + 16 entries each). */
static inline void zs_conv_lists_at(const zs_conv_scatter *p, float *scratch, int32_t **pstart, int32_t **woff,
                                    float **pv) {
    size_t HW = (size_t)p->H * p->W, nmax = (size_t)p->Ci * HW;
    int32_t *ps = (int32_t *)(scratch + (size_t)p->Ho * p->Wo * p->Cop + 16);
    *pstart = ps;
    *woff = ps + 2 * HW + 16;
    *pv = (float *)(*woff + nmax + 16);
}
/* The channel of a channel-major input index without a division: idx / HW
 * = (idx * mul) >> 32 with mul = ceil(2^32 / HW), exact while idx * HW <
 * 2^32 (idx < Ci * HW); 0 when the map is too big for that. */
static inline uint64_t zs_conv_chan_mul(const zs_conv_scatter *p) {
    const uint64_t HW = (uint64_t)p->H * p->W;
    return (uint64_t)p->Ci * HW * HW < (1ull << 32) ? ((1ull << 32) + HW - 1) / HW : 0;
}
/* conv_sparse_tap(_q8)'s input: the list idx/val bucketed by position here
 * (zs_conv_sort_by_pos, with the column) or, idx NULL, conv_pos_lists'
 * lists already in scratch. */
static inline void zs_conv_tap_lists(const int32_t *idx, const float *val, int n, const zs_conv_scatter *p,
                                     float *scratch, int32_t **pstart, int32_t **woff, float **pv) {
    if (idx) zs_conv_sort_by_pos(idx, val, n, p, scratch, 1, pstart, woff, pv);
    else zs_conv_lists_at(p, scratch, pstart, woff, pv);
}
/* The taps [*k0, *k1] of a K-tap kernel through which input row (or
 * column) i, padded by pad, reaches one of the n output rows. */
static inline void zs_conv_tap_range(int i, int pad, int K, int n, int *k0, int *k1) {
    int a = i + pad - n + 1, b = i + pad;
    *k0 = a > 0 ? a : 0;
    *k1 = b < K - 1 ? b : K - 1;
}
/* The rows of a conv_sparse_* accumulator (Ho*Wo, Cop), channel-last, to
 * unpack: Ho*Wo or, with p->pool, the rows 2x2/2 max-pooled in place
 * (row py*(Wo/2) + px becomes the maximum of its window's four rows; each
 * written row is read before, none after), (Ho/2)*(Wo/2). Blocks of 16
 * channels (Cop is a multiple of 16) so that the compiler vectorises the
 * maxima. */
#define ZS_CONV_ACC_ROWS(T, NAME)                                                                       \
    static inline int NAME(T *acc, const zs_conv_scatter *p) {                                         \
        const int Ho = p->Ho, Wo = p->Wo, Cop = p->Cop, Hp = Ho / 2, Wp = Wo / 2;                      \
        if (!p->pool) return Ho * Wo;                                                                  \
        for (int py = 0; py < Hp; py++)                                                                \
            for (int px = 0; px < Wp; px++) {                                                          \
                const T *r0 = acc + ((size_t)2 * py * Wo + 2 * px) * Cop, *r1 = r0 + Cop;              \
                const T *r2 = r0 + (size_t)Wo * Cop, *r3 = r2 + Cop;                                   \
                T *o = acc + ((size_t)py * Wp + px) * Cop;                                             \
                for (int c = 0; c < Cop; c += 16) {                                                    \
                    T t[16]; /* o may be r0: read all, then write */                                   \
                    for (int j = 0; j < 16; j++) {                                                     \
                        T a = r0[c + j] > r1[c + j] ? r0[c + j] : r1[c + j];                           \
                        T b = r2[c + j] > r3[c + j] ? r2[c + j] : r3[c + j];                           \
                        t[j] = a > b ? a : b;                                                          \
                    }                                                                                  \
                    for (int j = 0; j < 16; j++) o[c + j] = t[j];                                      \
                }                                                                                      \
            }                                                                                          \
        return Hp * Wp;                                                                                \
    }
ZS_CONV_ACC_ROWS(float, zs_conv_acc_rows)
ZS_CONV_ACC_ROWS(int32_t, zs_conv_acc_rows_i32)
#undef ZS_CONV_ACC_ROWS
/* The conv_sparse_* accumulator, channel-last (P = Ho*Wo, Cop), to out (Co, P). */
static inline void zs_conv_unpack_acc(float *out, const float *acc, int Co, int P, int Cop) {
    for (int o = 0; o < Co; o++)
        for (int q = 0; q < P; q++) out[(size_t)o * P + q] = acc[(size_t)q * Cop + o];
}
/* The same, out = acc * (qa * scale[o]) + bias[o] (conv_sparse_tap_q8). */
static inline void zs_conv_unpack_acc_scaled(float *out, const float *acc, int Co, int P, int Cop,
                                             const float *scale, float qa, const float *bias) {
    for (int o = 0; o < Co; o++) {
        const float s = qa * scale[o];
        for (int q = 0; q < P; q++) out[(size_t)o * P + q] = acc[(size_t)q * Cop + o] * s + bias[o];
    }
}
/* Quantise a sample's conv inputs in place (qact): v = round(v * 255 / max)
 * in [0, 255] (negatives 0; round = floor(x + 0.5)); returns max / 255 (1
 * when no input is positive). conv_pos_groups makes the same integers. */
float zs_conv_quantize_inputs(float *v, int n);
/* A sample's input scale from its largest input mx: returns max / 255 (1
 * when no input is positive) and sets *inv = 255 / max (0 then), the one
 * computation every quantiser of the int8 path uses. */
static inline float zs_conv_q8_scale(float mx, float *inv) {
    *inv = mx > 0.0f ? 255.0f / mx : 0.0f;
    return mx > 0.0f ? mx / 255.0f : 1.0f;
}
/* The u8 input of value x at inverse scale inv = 255 / max (the rounding
 * every kernel of the int8 path uses). */
static inline uint32_t zs_conv_q8_input(float x, float inv) {
    float t = x > 0.0f ? x * inv : 0.0f;
    t = t < 255.0f ? t : 255.0f;
    return (uint32_t)(t + 0.5f);
}
/* conv_sparse_vnni's input from a list instead of a dense map: the groups
 * conv_pos_groups makes of the map the list describes (channel-major
 * indices, each at most once), in scratch; returns their count. */
int zs_conv_list_groups(const int32_t *idx, const float *val, int n, const zs_conv_scatter *p, float *scratch);
/* Where conv_pos_groups puts its lists in scratch (zs_conv_lists_at's
 * regions): gstart (H*W + 1) per position, then the sample's max / 255 as
 * the float at gstart + H*W + 1; per word its row offset (the group's
 * g*Kh*Kw*Cop + ix*Cop, like conv_pos_lists' with g for ci) and the 4 u8
 * inputs of the group, channel 4g + i in byte i. */
static inline void zs_conv_groups_at(const zs_conv_scatter *p, float *scratch, int32_t **gstart, int32_t **woff,
                                     uint32_t **gv, float *qa) {
    float *pv;
    zs_conv_lists_at(p, scratch, gstart, woff, &pv);
    *gv = (uint32_t *)pv;
    if (qa) memcpy(qa, *gstart + (size_t)p->H * p->W + 1, sizeof(float));
}

/* The ISA-independent part of kwta_select (pack.c): `pass` is the ISA's
 * streaming pass: count keys > hi into *above; collect the keys and indices
 * of lo <= key <= hi into ck/ci in index order (at most cap; it may write 16
 * entries past its count); return the number collected or -1 past cap. */
typedef int (*zs_kwta_pass_fn)(const float *x, const float *f, int G, int S, int32_t lo,
                               int32_t hi, int *above, int32_t *ck, int32_t *ci, int cap);
/* `pass_pc` (may be NULL): the same pass for groups of S >= 16 units with
 * one boost factor per group, on RAW values with per-group float
 * thresholds (see zs_kwta_raw_ge): count x >= b[g] into *above; collect the
 * indices and keys zs_kwta_key(x * f[g]) of a[g] <= x < b[g] into ci/ck in
 * index order. No multiply or key per unit: keys are made in register for
 * the vectors holding a candidate only. */
typedef int (*zs_kwta_pass_pc_fn)(const float *x, const float *f, const float *a, const float *b, int G,
                                  int S, int *above, int32_t *ci, int32_t *ck, int cap);
/* The ISA's helpers of the shared selection (pack.c). */
typedef struct zs_kwta_isa {
    zs_kwta_pass_fn pass;
    zs_kwta_pass_pc_fn pass_pc; /* may be NULL */
    /* how many of the m keys s are < a, and < b */
    void (*count_lt2)(const int32_t *s, int m, int32_t a, int32_t b, int *la, int *lb);
    /* keep the entries lo <= ck[i] <= hi of ck/ci[0..n) in order, in place
     * (ci may be NULL); returns how many (it may write 16 entries past
     * them); *above = how many were > hi */
    int (*compact)(int32_t *ck, int32_t *ci, int n, int32_t lo, int32_t hi, int *above);
    zs_kwta_raw_ge_n_fn *raw_ge_n;
    /* the least and the largest of the m >= 1 keys s */
    void (*minmax)(const int32_t *s, int m, int32_t *mn, int32_t *mx);
} zs_kwta_isa;
void zs_kwta_select_common(zs_kwta_cut *cut, const float *x, const float *f, int G, int S, int k,
                           void *work, const zs_kwta_isa *isa);
/* The bracket [lo, hi] from m sample keys smp of a population of n units:
 * it holds the sample's descending ranks r - w and r + w (r = k m / n,
 * w = z sigma + 4, sigma the binomial deviation of the rank), rounded
 * outwards; INT32_MIN / INT32_MAX where a rank falls outside the sample.
 * tmp: m + 16 keys of scratch. */
void zs_kwta_bracket(const int32_t *smp, int m, int n, int k, double z, const zs_kwta_isa *isa, int32_t *tmp,
                     int32_t *lo, int32_t *hi);
/* Among nc candidates (keys ck within [lo, hi], indices ci ascending; they
 * are reordered/compacted in place), the cut of the need-th (1 <= need <=
 * nc) in the order (larger key, then lower index). */
zs_kwta_cut zs_kwta_select_cands(int32_t *ck, int32_t *ci, int nc, int need, int32_t lo, int32_t hi,
                                 const zs_kwta_isa *isa);
/* Boost factors are positive, so a boosted test on x * f (rounded to float,
 * as the reference computes it) is a test on x alone:
 *   zs_kwta_raw_ge(t, f) = the smallest float x with fl(x * f) >= t,
 *   zs_kwta_raw_gt(t, f) = the smallest float x with fl(x * f) >  t
 * (t finite, f > 0 finite; -0 is treated as +0 as zs_kwta_key does). */
float zs_kwta_raw_ge(float t, float f);
float zs_kwta_raw_gt(float t, float f);
/* The float whose zs_kwta_key is `key` (the +0 representative for 0). */
float zs_kwta_key_float(int32_t key);
/* A cut over C groups of S units, the first unit of group 0 being unit
 * `first_unit` of the cut's map, as per-group raw thresholds: unit i of
 * group c wins iff x_i >= gt[c] || (x_i >= ge[c] && i <= lim[c]) (i and
 * lim in the map's numbering). Only the group holding cut.last gets a lim
 * strictly inside it. */
void zs_kwta_cut_thresholds(zs_kwta_cut cut, const float *f, int C, int S, int32_t first_unit, float *ge, float *gt,
                            int32_t *lim, zs_kwta_raw_ge_n_fn *raw_ge_n);
/* Composite key: larger is better (score key, then lower index). */
static inline uint64_t zs_kwta_comp(int32_t key, int32_t i) {
    return ((uint64_t)((uint32_t)key ^ 0x80000000u) << 32) | (uint32_t)~(uint32_t)i;
}

/* ------------------------------------------------------------ packing (pack.c) */

/* BatchNorm (eval) folded into the preceding layer: w (Co, fan_in) and
 * b (Co) become w*g*invstd and (b - mean)*g*invstd + beta, with invstd =
 * 1/sqrt(var + eps) (in double, as the reference), g = gamma or 1, beta or 0. */
void zs_bn_fold(float *w, float *b, int Co, size_t fan_in, const float *mean, const float *var,
                const float *gamma, const float *beta, float eps);
/* Pack conv weights w (Co, Ci, Kh, Kw) (zeros skipped) for an input of
 * (Ci, H, W) already padded. bias may be NULL. A channel's taps in (ci, ky,
 * kx) order, or with tap_major in (ky, kx, ci) order: the order in which
 * conv_sparse_tap/pos/blk sum, so that conv_dense on these taps gives
 * their bits on any input (a zero input adds w * 0, which changes no
 * sum: the bias is +0, never -0). Free with zs_conv_taps_free. */
zs_status zs_conv_taps_pack(zs_conv_taps *p, const float *w, const float *bias, int Co, int Ci,
                            int Kh, int Kw, int H, int W, int tap_major);
void zs_conv_taps_free(zs_conv_taps *p);
/* Pack conv weights for a sparse input of (Ci, H, W), padding pad.
 * want_list / want_vec choose the layouts. */
zs_status zs_conv_scatter_pack(zs_conv_scatter *p, const float *w, const float *bias, int Co, int Ci,
                               int Kh, int Kw, int H, int W, int pad, int want_list, int want_vec);
void zs_conv_scatter_free(zs_conv_scatter *p);
/* Requantise a packed scatter's vec layout (wvec) to int8 rows: per output
 * channel o, qscale[o] = max |w[o]| / 127 (1 for a channel without a
 * weight), wq = w / qscale rounded to nearest (even); with groups also
 * wq4 (conv_sparse_vnni's layout); qact as above. wvec is freed (the
 * kernels that read it no longer apply; conv_sparse_tap_q8 and
 * conv_sparse_vnni do). */
zs_status zs_conv_scatter_quantize_q8(zs_conv_scatter *p, int groups);
/* Pack linear weights w (O, I); want: ZS_LIN_* bits (list, blocks, dense,
 * gather, expand = the list and its expand index); the list needs
 * O <= 65536. */
#define ZS_LIN_LIST 1
#define ZS_LIN_BLOCK 2
#define ZS_LIN_DENSE 4
#define ZS_LIN_GATHER 8
#define ZS_LIN_EXPAND 16
zs_status zs_linear_pack_make(zs_linear_pack *p, const float *w, const float *bias, int O, int I,
                              int want);
/* p->pf from the list (start, I). */
void zs_linear_pack_pf(zs_linear_pack *p);
/* The expand index (xm, xoff) of a pack that holds the list (start, lo;
 * borrowed or not), for linear_ss_expand. */
zs_status zs_linear_pack_expand(zs_linear_pack *p);
/* The block layout (bstart, bo, bw) of a pack that holds the list (start,
 * lo, lw; borrowed or not): per column every 16-output block that holds a
 * kept weight, whatever its value, so that a kept weight that is 0 now
 * can learn. zs_linear_pack_sync_blocks copies the list's values of
 * columns cols[0..nc) (cols NULL: columns 0..nc) into it, the list being
 * what learning updates (the values only: the same kept positions). */
zs_status zs_linear_pack_blocks(zs_linear_pack *p);
/* The number of those blocks (the list's distinct 16-output groups per
 * column, summed). */
size_t zs_linear_pack_nblocks(const zs_linear_pack *p);
void zs_linear_pack_sync_blocks(zs_linear_pack *p, const int32_t *cols, int nc);
void zs_linear_pack_free(zs_linear_pack *p);

/* Block layout of a packed scatter (p->wvec needed): the kept 16-channel
 * blocks of every row, for conv_sparse_blk (conv_blk.c). Returns the
 * fraction of the rows' 16-channel blocks that hold a non-zero weight in
 * *frac (1 for random 80 %-sparse masks, 0.25 for complementary blocks). */
zs_status zs_conv_scatter_pack_blocks(zs_conv_scatter *p, double *frac);

#endif
