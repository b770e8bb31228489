/*
 * layers.h — plain reference implementations of every layer, forward and
 * backward, on raw arrays (llm.c style). They are the ground truth that the
 * fast kernels in src/kernels/ are tested against, and they are what
 * training runs (conv and linear go through the oneDNN GEMM of gemm.h).
 *
 * Argument order: outputs, then inputs and saved state, then sizes.
 * Backward functions ACCUMULATE into every gradient they write (d<name> +=);
 * callers zero gradients first. A NULL gradient pointer is skipped.
 * Layouts: N batch, C channels, H height, W width, S = H*W.
 * These functions never allocate; scratch buffers are passed in.
 */
#ifndef ZS_LAYERS_H
#define ZS_LAYERS_H

#include <stddef.h>
#include <stdint.h>

/* ---- conv2d ----
 * in (N, Ci, H, W), w (Co, Ci, Kh, Kw), b (Co) or NULL, out (N, Co, Ho, Wo),
 * Ho = (H + 2*pad - Kh) / stride + 1, likewise Wo. Zero padding.
 * col: scratch of zs_conv2d_col_size() floats. */
size_t zs_conv2d_col_size(int Ci, int H, int W, int Kh, int Kw, int stride, int pad);
void zs_conv2d_forward(float *out, const float *in, const float *w, const float *b,
                       int N, int Ci, int H, int W, int Co, int Kh, int Kw,
                       int stride, int pad, float *col);
void zs_conv2d_backward(float *din, float *dw, float *db, const float *dout,
                        const float *in, const float *w,
                        int N, int Ci, int H, int W, int Co, int Kh, int Kw,
                        int stride, int pad, float *col);
/* Triple-loop versions with no BLAS, for tests. Same contracts. */
void zs_conv2d_forward_naive(float *out, const float *in, const float *w, const float *b,
                             int N, int Ci, int H, int W, int Co, int Kh, int Kw,
                             int stride, int pad);

/* ---- linear ----  in (N, Din), w (Dout, Din), b (Dout) or NULL, out (N, Dout) */
void zs_linear_forward(float *out, const float *in, const float *w, const float *b,
                       int N, int Din, int Dout);
void zs_linear_backward(float *din, float *dw, float *db, const float *dout,
                        const float *in, const float *w, int N, int Din, int Dout);

/* ---- maxpool2d ----  in (N, C, H, W) -> out (N, C, Ho, Wo), no padding,
 * Ho = (H - k) / stride + 1. argmax (N, C, Ho, Wo) holds the winning index
 * within the H*W plane; ties keep the first in row-major scan order, as
 * PyTorch does. */
void zs_maxpool2d_forward(float *out, int32_t *argmax, const float *in,
                          int N, int C, int H, int W, int k, int stride);
void zs_maxpool2d_backward(float *din, const float *dout, const int32_t *argmax,
                           int N, int C, int H, int W, int Ho, int Wo);

/* ---- relu ---- */
void zs_relu_forward(float *out, const float *in, size_t n);
void zs_relu_backward(float *din, const float *dout, const float *out, size_t n);

/* ---- batchnorm (1d: S = 1; 2d: S = H*W) ----  in/out (N, C, S).
 * Training: normalise with the batch mean and biased variance; update
 * running_mean/var with PyTorch's rule r = (1 - momentum) r + momentum b,
 * using the unbiased variance for running_var; save mean and invstd (C)
 * for backward. Eval: normalise with the running statistics.
 * gamma/beta NULL means affine=False. */
void zs_batchnorm_forward(float *out, float *save_mean, float *save_invstd,
                          const float *in, const float *gamma, const float *beta,
                          float *running_mean, float *running_var,
                          int N, int C, int S, float momentum, float eps, int training);
void zs_batchnorm_backward(float *din, float *dgamma, float *dbeta, const float *dout,
                           const float *in, const float *save_mean, const float *save_invstd,
                           const float *gamma, int N, int C, int S);

/* ---- dropout ----  inverted dropout: kept units scaled by 1/(1-p).
 * mask (n) receives 1 for kept units. Eval mode is the identity. */
void zs_dropout_forward(float *out, uint8_t *mask, const float *in, size_t n, float p,
                        uint64_t *rng_state, int training);
void zs_dropout_backward(float *din, const float *dout, const uint8_t *mask, size_t n, float p);

/* ---- k-winners-take-all (nupic.torch KWinners / KWinners2d semantics) ----
 *
 * Winners are chosen on boosted values x * exp((td - duty) * boost) with
 * td = k / units (a positive per-unit factor, the same ranking as
 * x * exp(-boost * duty)); outputs carry the unboosted x; everything else is
 * 0. Ties (ties_nupic = 0, the default "lower_index"): larger boosted value
 * first, then lower index; exactly k winners per sample (per position for
 * local), or all units if k >= units. ties_nupic = 1 ("nupic", nupic.torch's
 * break_ties=False): every unit whose boosted value is >= the k-th largest
 * wins, so ties at the k-th value give more than k winners.
 *
 * The winners list (see zs_winners in net.h) is written as, per sample,
 * count[n] and the flat indices idx[n*kmax + j] into (C*H*W), ascending,
 * with val[n*kmax + j] = x at that index; kmax = min(k, units) (k*H*W for
 * local) with ties_nupic = 0 and the layer's C*H*W with ties_nupic = 1.
 */
/* k-th largest of v[0..n) (1 <= k <= n), reordering v. NaN-free input. */
float zs_kth_largest(float *v, int n, int k);
int32_t zs_kth_largest_i32(int32_t *v, int n, int k);
/* Select the k largest of score[0..n) (tie: lower index first) into sel[],
 * sorted by index ascending; returns the number written (min(k, n)).
 * work: scratch of n int32. */
int zs_topk_select(int32_t *sel, const float *score, int n, int k, int32_t *work);

/* Scratch for the k-WTA forwards: score_work of U + C floats and idx_work
 * of U + C int32, U = units per sample. */
/* Vector k-WTA: in/out (N, U), duty (U). */
void zs_kwinners_forward(float *out, int32_t *win_count, int32_t *win_idx, float *win_val,
                         const float *in, const float *duty, float boost_strength,
                         int N, int U, int k, float *score_work, int32_t *idx_work, int ties_nupic);
/* Feature-map k-WTA: in/out (N, C, H, W), duty (C). local = 0: k over all
 * C*H*W units; local = 1: k over C at every (h, w) (kmax = k*H*W). */
void zs_kwinners2d_forward(float *out, int32_t *win_count, int32_t *win_idx, float *win_val,
                           const float *in, const float *duty, float boost_strength,
                           int N, int C, int H, int W, int k, int local,
                           float *score_work, int32_t *idx_work, int ties_nupic);
/* Gradient flows only through winners: din[idx] += dout[idx]. units = C*H*W. */
void zs_kwinners_backward(float *din, const float *dout, const int32_t *win_count,
                          const int32_t *win_idx, int N, int units, int kmax);
/* Duty-cycle update in training mode: *learning_iterations += N;
 * period = min(duty_cycle_period, learning_iterations);
 * duty = (duty * (period - N) + active) / period, where active counts
 * outputs > 0 per duty entry divided by the units sharing it (H*W for 2d). */
void zs_kwinners_update_duty(float *duty, int64_t *learning_iterations, const float *out,
                             int N, int C, int S, int duty_cycle_period);

/* ---- log-softmax and NLL ----  in/out (N, K). */
void zs_logsoftmax_forward(float *out, const float *in, int N, int K);
/* din += dout - softmax * sum(dout), per row; out is the forward output. */
void zs_logsoftmax_backward(float *din, const float *dout, const float *out, int N, int K);
/* Mean negative log-likelihood of logp (N, K) at labels y; dlogp (may be
 * NULL) gets -1/N at each label (written, not accumulated). Returns loss. */
float zs_nll_loss(float *dlogp, const float *logp, const int32_t *y, int N, int K);

#endif
