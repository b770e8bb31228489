/*
 * train_sparse.h — the sparse-aware training path (forward and backward in
 * training mode) used by zs_net_forward_ref / zs_net_backward_ref in net.c
 * unless ZS_TRAIN_REF=1 (or net->training is 0: eval always runs the plain
 * reference layers).
 *
 * What it exploits, per layer (each falls back to the reference layer when
 * its pattern does not apply):
 *   k-WTA (global)   selection with the kwta_select/kwta_emit kernels (the
 *                    same winners as zs_topk_select), duty cycles from the
 *                    winners list;
 *   conv2d (stride 1) with masked weights and a dense input: per-output-
 *                    channel taps (kept weights only), forward and dW;
 *   conv2d with a sparse input (<= ~50 % non-zero): scatter of non-zero
 *                    inputs through Co-vectors of the weights, forward, dW,
 *                    and dX only at the input positions whose gradient is
 *                    used (those the max-pool argmax routes to a k-WTA winner);
 *   linear with a sparse input: per-column lists of kept weights, forward,
 *                    dW at kept weights from non-zero inputs, dX only where used.
 * Results equal the reference path up to float summation order (the tests
 * in tests/test_train_sparse.c state the tolerances).
 *
 * Per-layer state (packed index lists, scratch) lives in zs_layer.train,
 * allocated on first use and freed by zs_ts_free().
 */
#ifndef ZS_TRAIN_SPARSE_H
#define ZS_TRAIN_SPARSE_H

#include "net.h"

/* 1 when the fast training path should run for this net now (training mode,
 * ZS_TRAIN_REF unset or "0", and no k-WTA layer with "ties": "nupic"). */
int zs_ts_enabled(const zs_net *net);
/* Forward of layer li in training mode; returns 1 if done, 0 if the caller
 * must run the reference layer. */
int zs_ts_forward(zs_net *net, int li, const float *x, int N);
/* Backward of layer li: dW/db into the layer's gradients (accumulated, as the
 * reference), din (may be NULL) = gradient of its input, NOT zeroed by the
 * caller: it is written wherever a later (lower) layer reads it — every
 * position, except that a max-pool over a k-WTA writes only the winners
 * (all the k-WTA backward reads), and a k-WTA above a BatchNorm2d leaves
 * its din alone (the BatchNorm backward reads the k-WTA's sparse dout).
 * Returns 1 if done (then masked dW are already 0), 0 if the caller must
 * zero din and run the reference layer. */
int zs_ts_backward(zs_net *net, int li, const float *x, float *din, int N);
/* The SGD update of zs_net_train_step (PyTorch semantics, masks re-applied)
 * with the same float operations, vectorised; for a masked layer whose
 * masked weights, gradients and momenta are all 0 (verified once per mask),
 * only the kept weights are visited (the full update would leave the others
 * 0). Returns 0 if it could not (then the caller runs its own loop). */
int zs_ts_sgd(zs_net *net, float lr, float wd, float m);
/* Zero the gradients before a fast backward, except the weight gradients
 * that it will overwrite at every kept weight (masked ones are always 0). */
void zs_ts_zero_grads(zs_net *net);
/* Forget what the last fast forward left (a reference forward ran). */
void zs_ts_invalidate(zs_net *net);
/* Free the per-layer state of every layer. */
void zs_ts_free(zs_net *net);

#endif
