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
/* Public wrappers' helpers (zs_net_profile, zs_net_memory in introspect.c):
 * run n samples `reps` times stage by stage and fill out[0 .. min(n_stages,
 * max)) with each stage's name, layer, kernel, input bytes and mean thread
 * CPU time per sample (macs_per_word left 0); returns the number of stages
 * or -1 (out of memory). Bytes of the built plan's allocations (0: none). */
int zs_plan_profile_stages(zs_net *net, const float *x, int n, int reps, zs_stage_profile *out, int max);
size_t zs_plan_bytes(const zs_net *net);
/* The ISA whose kernels the built plan uses, or -1 when none is built. */
int zs_plan_isa(const zs_net *net);
#endif
