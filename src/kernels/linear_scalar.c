/*
 * linear_scalar.c — linear layers with a sparse input list, portable C:
 *   linear_ss:      sparse weights, per input column the 16-output blocks
 *                   that hold a non-zero (dense within the block);
 *   linear_ss_list: sparse weights, per input column the (o, w) non-zeros
 *                   (only products of non-zero input and non-zero weight);
 *   linear_ss_expand: the same products as linear_ss_list, in the same
 *                   order, walked by the expand index (per column the
 *                   kept-output mask of each 16-output group; the SIMD
 *                   versions expand the column's values into the group's
 *                   lanes, with one masked FMA per group);
 *   linear_sd:      dense weights (the output layer), columns of Op floats;
 *   linear_sg:      dense input, sparse weights gathered 16 outputs at a
 *                   time (SIMD gathers in the ISA files).
 * out has Op entries; those past O stay 0.
 */
#include "kernels.h"

void zs_linear_ss__scalar(float *out, const int32_t *idx, const float *val, int n,
                          const zs_linear_pack *p) {
    memcpy(out, p->bias, sizeof(float) * p->Op);
    for (int e = 0; e < n; e++) {
        int i = idx[e];
        float v = val[e];
        for (int b = p->bstart[i]; b < p->bstart[i + 1]; b++) {
            float *o = out + p->bo[b];
            const float *w = p->bw + (size_t)b * 16;
            for (int j = 0; j < 16; j++) o[j] += v * w[j];
        }
    }
}

void zs_linear_ss_list__scalar(float *out, const int32_t *idx, const float *val, int n,
                               const zs_linear_pack *p) {
    memcpy(out, p->bias, sizeof(float) * p->Op);
    for (int e = 0; e < n; e++) {
        int i = idx[e];
        float v = val[e];
        for (int t = p->start[i]; t < p->start[i + 1]; t++) out[p->lo[t]] += v * p->lw[t];
    }
}

/* linear_ss_list1: one kept weight at a time already */
void zs_linear_ss_list1__scalar(float *out, const int32_t *idx, const float *val, int n,
                                const zs_linear_pack *p) {
    zs_linear_ss_list__scalar(out, idx, val, n, p);
}

void zs_linear_ss_expand__scalar(float *out, const int32_t *idx, const float *val, int n,
                                 const zs_linear_pack *p) {
    memcpy(out, p->bias, sizeof(float) * p->Op);
    const int G = p->Op / 16;
    const size_t stride = (size_t)p->xnb * p->xbg;
    for (int e = 0; e < n; e++) {
        int i = idx[e];
        float v = val[e];
        const uint16_t *m = p->xm + (size_t)i * stride;
        const float *w = p->lw + p->start[i];
        for (int g = 0; g < G; g++)
            for (unsigned k = m[g]; k; k &= k - 1) {
                float *o = out + 16 * g + __builtin_ctz(k);
                *o += v * *w++;
            }
    }
}

void zs_linear_sd__scalar(float *out, const int32_t *idx, const float *val, int n,
                          const zs_linear_pack *p) {
    int Op = p->Op;
    memcpy(out, p->bias, sizeof(float) * Op);
    for (int e = 0; e < n; e++) {
        const float *w = p->wt + (size_t)idx[e] * Op;
        float v = val[e];
        for (int o = 0; o < Op; o++) out[o] += v * w[o];
    }
}

void zs_linear_sg__scalar(float *out, const float *x, const zs_linear_pack *p) {
    for (int b = 0; b < p->Op / 16; b++) {
        const int32_t *gi = p->gi + (size_t)b * p->gnz * 16;
        const float *gw = p->gw + (size_t)b * p->gnz * 16;
        for (int l = 0; l < 16; l++) {
            float a = p->bias[b * 16 + l];
            for (int j = 0; j < p->gnz; j++) a += gw[j * 16 + l] * x[gi[j * 16 + l]];
            out[b * 16 + l] = a;
        }
    }
}

void zs_col_update__scalar(float *w, const uint16_t *idx, const int32_t *start, const int32_t *cols, const float *h,
                           int nc, const float *g, const uint32_t *gm, int U) {
    for (int q = 0; q < nc; q++)
        for (int32_t k = start[cols[q]]; k < start[cols[q] + 1]; k++) {
            float a = g[idx[k]];
            if (a == 0.0f) continue;
            float d = a * h[q];
            w[k] = w[k] - d;
        }
}

void zs_row_axpy__scalar(float *w, const float *h, int n, float a) {
    for (int t = 0; t < n; t++)
        if (h[t] != 0.0f) {
            float d = a * h[t];
            w[t] = w[t] - d;
        }
}

/* linear_sr: the model's rows in place (linear_row_kern.h) */
#define LSR_FN zs_linear_sr__scalar
#define LSR_MAC(acc, v, w) ((acc) + (v) * (w))
#include "linear_row_kern.h"
