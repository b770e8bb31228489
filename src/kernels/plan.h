/*
 * plan.h — the inference plan: the network's weights packed for the fast
 * sparse-sparse kernels (BatchNorm folded in eval mode), built lazily on the
 * first zs_net_infer() after load or training and freed whenever weights
 * change. Implemented in src/kernels/plan.c.
 */
#ifndef ZS_PLAN_H
#define ZS_PLAN_H
#include "net.h"
#include <stdio.h>

/* Build net->kernels from the current weights (eval mode). ZS_EUNSUPPORTED
 * means "no fast plan for this architecture": the caller falls back to the
 * reference path. */
zs_status zs_plan_build(zs_net *net);
/* Free net->kernels (NULL-safe) and set it to NULL. */
void zs_plan_free(zs_net *net);
/* Inference through the plan on n samples (n, C, H, W) -> log-probs (n, K). */
zs_status zs_plan_infer(zs_net *net, const float *x, int n, float *logprob);
/* The plan's stages, their shapes and kernels, to `f` ("no inference plan"
 * when none is built). */
void zs_plan_describe(const zs_net *net, FILE *f);
/* Measurement helper: run n samples `reps` times stage by stage and print
 * the mean time per sample of each stage to `f`. */
zs_status zs_plan_profile(zs_net *net, const float *x, int n, int reps, FILE *f);
/* The ISA whose kernels the built plan uses, or -1 when none is built. */
int zs_plan_isa(const zs_net *net);
#endif
