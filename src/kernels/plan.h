/*
 * plan.h — the inference plan: the stages of the fast sparse-sparse
 * kernels over the network's weights (a packed linear layer read in place,
 * conv weights packed with BatchNorm folded in eval mode), built lazily on
 * the first zs_net_infer() after load or training and freed whenever the
 * weights change form. Implemented in src/kernels/plan.c.
 */
#ifndef ZS_PLAN_H
#define ZS_PLAN_H
#include "net.h"
#include <stdio.h>

/* Build net->kernels from the current weights (eval mode). ZS_EUNSUPPORTED
 * means "no fast plan for this architecture": the caller falls back to the
 * reference path. */
zs_status zs_plan_build(zs_net *net);
/* The same for a copy of src (same architecture, same weights' sparsity):
 * when src holds a calibrated plan whose stages match, its measurements
 * are taken (conv's dense-input crossover, each stage's kernel choice), so
 * the copy's plan is ready at once, with the same kernels. */
zs_status zs_plan_build_like(zs_net *net, const zs_net *src);
/* Free net->kernels (NULL-safe) and set it to NULL. */
void zs_plan_free(zs_net *net);
/* Inference through the plan on n samples (n, C, H, W) -> log-probs (n, K),
 * in executor e's scratch (NULL: the network's own executor, net->exec). */
zs_status zs_plan_infer(zs_net *net, zs_exec *e, const float *x, int n, float *logprob);
/* Bytes of executor scratch the built plan needs (0: none built). */
size_t zs_plan_scratch_bytes(const zs_net *net);
/* The plan's stages, their shapes and kernels, to `f` ("no inference plan"
 * when none is built). */
void zs_plan_describe(const zs_net *net, FILE *f);
/* A failing check's evidence (tests): the plan's state that outputs do not
 * show (kernel choices, the conv's measured dense-input crossover, lazily
 * packed taps, boost factors) and each stage's output on sample x, to f. */
zs_status zs_plan_trace(zs_net *net, const float *x, FILE *f);
/* The dense-input crossover of a conv from its timings (ns): t[0], t[1] the
 * sparse path on maps with nz[0] < nz[1] non-zeros, t[2] the taps kernel.
 * The non-zero count above which the taps kernel is faster, in [1, units]
 * (units: never); -1 when the sparse times do not rise with the non-zeros
 * (a measurement a burst of another load spoiled: measure again). */
int zs_plan_dense_cross(const double t[3], const int nz[2], int units);
/* Measurement helper: run n samples `reps` times stage by stage and print
 * the mean time per sample of each stage to `f`. */
zs_status zs_plan_profile(zs_net *net, const float *x, int n, int reps, FILE *f);
/* Public wrappers' helpers (zs_net_profile, zs_net_memory in introspect.c):
 * run n samples `reps` times stage by stage and fill out[0 .. min(n_stages,
 * max)) with each stage's name, layer, kernel, input bytes and mean thread
 * CPU time per sample (macs_per_word left 0); returns the number of stages
 * or -1 (out of memory). Bytes of the built plan's allocations (0: none). */
int zs_plan_profile_stages(zs_net *net, const float *x, int n, int reps, zs_stage_profile *out, int max);
size_t zs_plan_bytes(const zs_net *net);
/* The ISA whose kernels the built plan uses, or -1 when none is built. */
int zs_plan_isa(const zs_net *net);
/* Learning on the plan (src/learn.c, zs_net_learn). The network holds
 * activation buffers for >= s + 1 samples (zs_net_reserve).
 * zs_plan_forward_keep: sample x through the plan (like zs_plan_infer, into
 * logprob (classes)), also writing what a backward pass over layers lo..
 * needs into the network's buffers at sample s: each linear layer's
 * (index >= lo) dense input into the output of the layer below it, each
 * k-WTA's (>= lo) winners (win) and output, each ReLU's (>= lo) output.
 * zs_plan_can_keep: 1 when every stage at layers >= lo is one whose values
 * forward_keep can keep (no fused k-WTA + pool or ReLU + pool there).
 * zs_plan_linear_shared: 1 when the plan's stage for linear layer li reads
 * the layer's packed form (L->pval) in place, bias and BatchNorm in its
 * epilogue: learning that changes them needs no plan update.
 * zs_plan_update_linear: after the weights (rows[r], cols[cstart[r] ..
 * cstart[r+1])) (columns ascending within a row) of rows[] of a dense-held
 * linear layer li (L->w) changed, write them into the plan's layouts;
 * ZS_EUNSUPPORTED when a weight that was zero at build (so not packed) is
 * not zero now: rebuild the plan.
 * zs_plan_sync_linear: after learning changed the kept weights of columns
 * cols[0..nc) (cols NULL: columns 0..nc) of a packed linear layer li (its
 * list, which the plan borrows), copy them into the plan's block copy of
 * that list, if it holds one (the block kernel was chosen or is timed).
 * zs_plan_update_kwta: recompute the boost factors of k-WTA layer li from
 * its duty cycles. */
zs_status zs_plan_forward_keep(zs_net *net, const float *x, int s, float *logprob, int lo);
int zs_plan_can_keep(const zs_net *net, int lo);
int zs_plan_linear_shared(const zs_net *net, int li);
void zs_plan_sync_linear(zs_net *net, int li, const int32_t *cols, int nc);
zs_status zs_plan_update_linear(zs_net *net, int li, const int32_t *rows, int nr, const int32_t *cstart,
                                const int32_t *cols);
zs_status zs_plan_update_kwta(zs_net *net, int li);
/* Finish the plan's kernel choice (calibration) now, on sample x, in
 * executor e (NULL: the network's own); logprob: room for the classes. */
zs_status zs_plan_calibrate(zs_net *net, zs_exec *e, const float *x, float *logprob);
#endif
