/*
 * dendrite.h — the active-dendrites layer (Iyer et al. 2022, "Avoiding
 * catastrophe: active dendrites enable multi-task learning in dynamic
 * environments"), as plain forward/backward functions in the style of
 * layers.h, used by the continual-learning MLP (src/dendrite.c, zs_cl_*).
 *
 * Unit u of a dendritic layer has feed-forward weights w[u] (I) and bias
 * b[u], and S dendritic segments useg[u][s] (C) that read a context vector
 * c (C). With d[s] = useg[u][s] . c and s* = argmax_s |d[s]| (ties: lower
 * s), the unit outputs
 *     out[u] = (w[u] . x + b[u]) * sigmoid(d[s*])
 * ("absolute max gating"). The context gets no gradient; the gradient of
 * the segments reaches only the selected segment s*.
 *
 * Layouts: x (N, I); w (U, I); b (U); useg (U, S, C); ctx (P, C) with a
 * context index cid[n] in [0, P) per sample (NULL: all samples use
 * context 0). Backward ACCUMULATES into dx, dw, db, duseg (NULL skipped).
 */
#ifndef ZS_DENDRITE_H
#define ZS_DENDRITE_H
#include <stdint.h>

/* Gating of U units for one context: dsel[u] = d[s*], sel[u] = s*. */
void zs_dendrite_gate(float *dsel, int32_t *sel, const float *useg, const float *ctx, int U, int S, int C);

/* The gates gate (P, U) = sigmoid(d[s*]) and selections sel (P, U) of the
 * contexts some sample uses (cid NULL: all P). */
void zs_dendrite_gates(float *gate, int32_t *sel, const float *useg, const float *ctx, const int32_t *cid, int N,
                       int U, int S, int C, int P);
/* a (N, U) = x w^T + b, out (N, U) = a * gate[cid[n]] (gates computed). */
void zs_dendrite_apply(float *out, float *a, const float *gate, const float *x, const float *w, const float *b,
                       const int32_t *cid, int N, int I, int U);
/* Both: a (N, U) receives w.x + b (saved for backward); out (N, U) the gated
 * output; gate (P, U) and sel (P, U) the gating of each context. */
void zs_dendrite_forward(float *out, float *a, float *gate, int32_t *sel, const float *x, const float *w,
                         const float *b, const float *useg, const float *ctx, const int32_t *cid, int N, int I,
                         int U, int S, int C, int P);
void zs_dendrite_backward(float *dx, float *dw, float *db, float *duseg, const float *dout, const float *x,
                          const float *w, const float *a, const float *gate, const int32_t *sel, const float *ctx,
                          const int32_t *cid, int N, int I, int U, int S, int C);
#endif
