/*
 * net.h — the network object: a sequence of layers whose parameters,
 * gradients, optimizer state and activations live in a few large blocks
 * owned by the network (nothing is allocated in forward or backward).
 *
 * Memory model (src/packed.c)
 *   A sparse conv/linear layer (weight_sparsity > 0) is held in one of two
 *   forms:
 *   packed  (net->compact = 1; what a loaded model holds for inference)
 *           its kept weights only, in lines: a conv layer unit by unit
 *           (L->pcol = 0: line = output unit, index = position in its
 *           fan-in), a linear layer input by input (L->pcol = 1, CSC:
 *           line = input feature, index = output unit, the layout the
 *           inference kernel and learning both walk). L->prow (lines + 1)
 *           line pointers, L->pval (nnz) values, L->pidx16 (indexed
 *           dimension <= 65536) or L->pidx32 (nnz) ascending indices; then
 *           L->w, L->mask and every gradient/momentum pointer are NULL and
 *           params holds only the other parameters (biases, BN gamma/beta,
 *           dense layers' weights);
 *   dense   (net->compact = 0; what training and the reference path use)
 *           params holds every weight (masked ones 0) and masks one byte
 *           per weight of a sparse layer (1 = kept).
 *   zs_net_unpack() goes from packed to dense, zs_net_pack() back (it
 *   drops gradients, momenta and the training path's state).
 *   params  one float block: every layer's weight, bias (and BN gamma/beta)
 *   grads   same layout as params (dense form), allocated by
 *           zs_net_train_alloc() on the first training step, else NULL
 *   moment  same (SGD momentum buffers; a checkpoint's on load)
 *   state   BN running statistics, k-WTA duty cycles (float block)
 *   masks   uint8 block, one byte per sparse conv/linear weight (dense form)
 *   acts    per-layer outputs for max_batch samples, plus saved state for
 *           backward (BN mean/invstd, maxpool argmax, dropout masks,
 *           k-WTA winners), reallocated only by zs_net_reserve()
 *   dacts   gradient of each layer output (training only)
 *
 * Winners representation (the output of k-WTA layers, consumed by the
 * sparse kernels): for sample n, count[n] winners, flat indices
 * idx[n*kmax + j] into the layer's (C*H*W) output, strictly ascending, and
 * their values val[n*kmax + j]. kmax is set by each forward to the k it used
 * (k in training, k_inference in eval; times H*W for local); the buffers hold
 * max(k, k_inference) per sample. A layer with nupic ties (ties_nupic) may
 * keep more than k winners: its kmax and buffers are the layer's C*H*W.
 */
#ifndef ZS_NET_H
#define ZS_NET_H

#include "zs_internal.h"
#include <stdint.h>

typedef struct zs_winners {
    int kmax;          /* stride per sample (k of the last forward)          */
    int32_t *count;    /* (N)                                                */
    int32_t *idx;      /* (N, kmax) ascending flat indices into (C*H*W)      */
    float *val;        /* (N, kmax)                                          */
} zs_winners;

/* Mask structures ("structure" in the architecture JSON). */
enum { ZS_MASK_RANDOM = 0, ZS_MASK_BLOCK = 1, ZS_MASK_COMPLEMENTARY = 2, ZS_MASK_ROUTED = 3 };

typedef struct zs_layer {
    zs_layer_type type;
    char name[64];
    int in_c, in_h, in_w;     /* per-sample input shape  */
    int out_c, out_h, out_w;  /* per-sample output shape */
    size_t in_size, out_size; /* per-sample element counts */

    /* conv2d / linear (linear: kh = kw = 1, in = in_c*in_h*in_w) */
    int kh, kw, stride, pad, has_bias;
    float weight_sparsity;    /* fraction masked to zero (0 = dense)           */
    int nnz_per_unit;         /* kept weights per output unit                  */
    int mask_structure;       /* ZS_MASK_*: how make_mask draws the mask       */
    int mask_block;           /* block, complementary: units per block        */
    int mask_group;           /* complementary: G blocks per group             */
    size_t fan_in, n_weights; /* n_weights = out_c * fan_in                    */
    float *w, *b;             /* (Co, Ci, Kh, Kw) or (O, I); (Co)              */
    float *dw, *db, *mw, *mb; /* gradients and momentum, same shapes           */
    uint8_t *mask;            /* (n_weights) or NULL when dense or packed      */
    int32_t *prow;            /* packed form (net->compact): (lines + 1)      */
    float *pval;              /* (nnz) kept values, line by line              */
    uint16_t *pidx16;         /* (nnz) ascending indices within a line, or    */
    int32_t *pidx32;          /*   these when the indexed dimension > 65536   */
    int pcol;                 /* 1: lines are inputs, indices outputs (linear) */

    /* batchnorm (1d or 2d) */
    int affine;
    float bn_momentum, bn_eps;
    float *gamma, *beta, *dgamma, *dbeta, *mgamma, *mbeta;
    float *running_mean, *running_var;   /* (C) in the state block */
    int64_t num_batches_tracked;
    float *save_mean, *save_invstd;      /* (C) saved in training forward */

    /* k-WTA */
    float percent_on, k_inference_factor, boost_strength, boost_strength_factor;
    int duty_cycle_period, local;
    int ties_nupic;           /* "ties": "nupic": every unit >= the k-th boosted
                                 value wins (count may exceed k); 0: exactly k,
                                 lower index first                             */
    int k, k_inference;       /* per sample (global) or per position (local)  */
    int64_t learning_iterations;
    float *duty;              /* (C) for 2d, (U) for vectors                  */
    zs_winners win;
    float *score_work;        /* (in_size)                                    */
    int32_t *idx_work;        /* (in_size)                                    */

    /* maxpool */
    int pool_k, pool_stride;
    int32_t *argmax;          /* (N, C, Ho, Wo)                               */

    /* dropout */
    float drop_p;
    uint8_t *drop_mask;       /* (N, out_size)                                */

    /* activations (max_batch rows) */
    float *out;               /* (N, out_size)                                */
    float *dout;              /* (N, out_size), training only                 */

    void *train;              /* fast training path state (train_sparse.c)   */
} zs_layer;

struct zs_net {
    char arch_name[64];
    char *arch_json;          /* canonical JSON of the architecture           */
    int in_c, in_h, in_w;
    int num_classes;
    char **class_names;       /* (num_classes)                                */
    int n_layers;
    zs_layer *layers;

    float *params, *grads, *moment;  /* (n_params) each */
    size_t n_params;
    float *state;  size_t n_state;
    uint8_t *masks; size_t n_masks;
    int compact;              /* sparse layers packed (see Memory model)      */

    int max_batch;            /* activations sized for this many samples      */
    void *act_block;          /* one allocation for all activations           */
    float *col;               /* im2col scratch                               */
    size_t col_size;

    int training;
    int dense;                /* force dense inference path                   */
    int int8_weights;         /* plan: int8 rows where a stage has an int8
                                 kernel (zs_net_set_int8_weights)             */
    uint64_t drop_rng;        /* dropout RNG state                            */
    int64_t steps;            /* optimizer steps taken                        */
    int epochs_done;          /* epochs completed by zs_train (checkpoints)   */
    zs_rng train_rng;         /* shuffling state after epochs_done epochs     */
    void *kernels;            /* packed inference plan (kernels/plan.c)       */
    zs_exec *exec;            /* its own executor (zs_net_infer), lazily      */
    int plan_unsupported;     /* zs_plan_build said ZS_EUNSUPPORTED           */
};

/* Make activations hold `n` samples (no-op if they already do). */
zs_status zs_net_reserve(zs_net *net, int n);
/* The plan zs_net_infer runs, built now if it is not yet: ZS_OK with
 * net->kernels NULL when there is none (forced dense, or zs_plan_build
 * said ZS_EUNSUPPORTED: remembered in plan_unsupported); zs_plan_build's
 * other errors. */
zs_status zs_net_plan_ensure(zs_net *net);
/* Forward pass in the current mode (training or eval) through the
 * reference path; returns the final layer's output (N, K). */
const float *zs_net_forward_ref(zs_net *net, const float *x, int n);
/* Backward from d(final output); fills grads (after zeroing them). */
void zs_net_backward_ref(zs_net *net, const float *x, int n, const float *dlast);
/* Build a network from a parsed architecture (JSON text), seeded init. */
zs_status zs_net_build(zs_net **out, const char *json, uint64_t seed, int init);
/* Same, refusing (before allocating) an architecture whose parameters,
 * state and masks need more than max_bytes (a loader passes the bytes of
 * tensors its file really holds). */
zs_status zs_net_build_limited(zs_net **out, const char *json, uint64_t seed, int init, size_t max_bytes);
/* The network of the architecture without its parameter and mask blocks
 * (weights, biases, BatchNorm gamma/beta NULL; state allocated, BatchNorm
 * variances 1): for zs_net_pack_like to fill (zs_net_clone of a model). */
zs_status zs_net_build_shell(zs_net **out, const char *json);
/* Re-apply masks (w *= mask), as after every optimizer step. */
void zs_net_apply_masks(zs_net *net);

/* src/packed.c: the two forms of sparse layers and the training buffers.
 * zs_net_unpack: packed -> dense weights + masks (no-op when dense).
 * zs_net_pack: dense -> packed (no-op without a sparse layer or when
 * packed); frees dense weights, masks, gradients, momenta and the training
 * path's state. Both free the inference plan when they change the form (it
 * reads the packed arrays or the dense weights in place).
 * zs_net_pack_like: a network just built from the architecture of the
 * packed network src (dense, or a shell: zs_net_build_shell) takes src's
 * packed form: its kept weights and indices and its other parameters
 * copied, without scanning dense weights and masks (zs_net_clone of a
 * model); net's own parameters, if any, are dropped.
 * zs_net_train_alloc: zs_net_unpack, then gradients and momenta (zeros).
 * zs_layer_weights_dense: the layer's weights (Co, fan_in), masked ones 0,
 * from either form, into dst.
 * zs_net_model_bytes: bytes the network object really holds (allocator's
 * usable sizes of its blocks; activations excluded). */
zs_status zs_net_unpack(zs_net *net);
zs_status zs_net_pack(zs_net *net);
zs_status zs_net_pack_like(zs_net *net, const zs_net *src);
/* zs_net_clone without an inference plan (a copy about to be unpacked). */
zs_status zs_net_clone_bare(const zs_net *src, zs_net **out);
zs_status zs_net_train_alloc(zs_net *net);
void zs_layer_weights_dense(const zs_layer *L, float *dst);
size_t zs_net_model_bytes(const zs_net *net);
/* Free every layer's packed arrays (zs_net_free). */
void zs_net_free_packed(zs_net *net);
/* Is layer L a sparse conv/linear (masked in the dense form, packed in
 * the compact one)? */
static inline int zs_layer_sparse(const zs_layer *L) {
    return (L->type == ZS_CONV2D || L->type == ZS_LINEAR) && L->weight_sparsity > 0;
}
/* Packed form (L->prow set): its lines, kept weights, and the flat index
 * (unit * fan_in + position) of kept weight k of line `line`. */
static inline int zs_packed_lines(const zs_layer *L) { return L->pcol ? (int)L->fan_in : L->out_c; }
static inline size_t zs_packed_nnz(const zs_layer *L) { return (size_t)L->prow[zs_packed_lines(L)]; }
static inline size_t zs_packed_at(const zs_layer *L, int line, int32_t k) {
    size_t x = L->pidx16 ? L->pidx16[k] : (size_t)L->pidx32[k];
    return L->pcol ? x * L->fan_in + (size_t)line : (size_t)line * L->fan_in + x;
}

#endif
