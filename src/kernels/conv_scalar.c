/*
 * conv_scalar.c — sparse convolutions in portable C (the readable version
 * of the SIMD files, and the fallback):
 *   conv_dense:       dense input x per-output-channel tap lists (gather);
 *   conv_sparse_vec:  sparse input list, scatter into a channel-last
 *                     accumulator with dense-over-Cout weight vectors;
 *   conv_sparse_list: sparse input list, scatter with (co, w) lists: only
 *                     products of a non-zero input and a non-zero weight;
 *   conv_sparse_pos:  inputs bucketed by position, output-stationary sums
 *                     with dense-over-Cout weight vectors.
 * Summation order everywhere: bias, then taps in packing order.
 */
#include "kernels.h"
#include <string.h>

void zs_conv_dense__scalar(float *out, const float *in, const zs_conv_taps *p) {
    int Ho = p->Ho, Wo = p->Wo, W = p->W;
    for (int o = 0; o < p->Co; o++) {
        float *op = out + (size_t)o * Ho * Wo;
        for (int i = 0; i < Ho * Wo; i++) op[i] = p->bias[o];
        for (int t = p->start[o]; t < p->start[o + 1]; t++) {
            float w = p->w[t];
            const float *ip = in + p->off[t];
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) op[oy * Wo + ox] += w * ip[oy * W + ox];
        }
    }
}

/* Output rows oy reached from input row iy: oy = iy + pad - ky in [0, Ho). */
void zs_conv_sparse_vec__scalar(float *out, const int32_t *idx, const float *val, int n,
                                const zs_conv_scatter *p, float *acc) {
    int Ho = p->Ho, Wo = p->Wo, Cop = p->Cop, Kh = p->Kh, Kw = p->Kw, HW = p->H * p->W;
    for (int q = 0; q < Ho * Wo; q++)
        for (int o = 0; o < Cop; o++) acc[(size_t)q * Cop + o] = o < p->Co ? p->bias[o] : 0.0f;
    int ci = 0;
    for (int e = 0; e < n; e++) {
        while (idx[e] >= (ci + 1) * HW) ci++;
        int pos = idx[e] - ci * HW, iy = p->cy[pos], ix = p->cx[pos];
        float v = val[e];
        int ky0, ky1, kx0, kx1;
        zs_conv_tap_range(iy, p->pad, Kh, Ho, &ky0, &ky1);
        zs_conv_tap_range(ix, p->pad, Kw, Wo, &kx0, &kx1);
        for (int ky = ky0; ky <= ky1; ky++)
            for (int kx = kx0; kx <= kx1; kx++) {
                float *a = acc + ((size_t)(iy + p->pad - ky) * Wo + (ix + p->pad - kx)) * Cop;
                const float *w = p->wvec + ((size_t)(ci * Kh + ky) * Kw + kx) * Cop;
                for (int o = 0; o < Cop; o++) a[o] += v * w[o];
            }
    }
    zs_conv_unpack_acc(out, acc, p->Co, Ho * Wo, Cop);
}

void zs_conv_sparse_list__scalar(float *out, const int32_t *idx, const float *val, int n,
                                 const zs_conv_scatter *p, float *scratch) {
    (void)scratch;
    int Ho = p->Ho, Wo = p->Wo, Kh = p->Kh, Kw = p->Kw, HW = p->H * p->W;
    for (int o = 0; o < p->Co; o++)
        for (int q = 0; q < Ho * Wo; q++) out[(size_t)o * Ho * Wo + q] = p->bias[o];
    int ci = 0;
    for (int e = 0; e < n; e++) {
        while (idx[e] >= (ci + 1) * HW) ci++;
        int pos = idx[e] - ci * HW, iy = p->cy[pos], ix = p->cx[pos];
        float v = val[e];
        int ky0, ky1, kx0, kx1;
        zs_conv_tap_range(iy, p->pad, Kh, Ho, &ky0, &ky1);
        zs_conv_tap_range(ix, p->pad, Kw, Wo, &kx0, &kx1);
        for (int ky = ky0; ky <= ky1; ky++)
            for (int kx = kx0; kx <= kx1; kx++) {
                float *o = out + (iy + p->pad - ky) * Wo + (ix + p->pad - kx);
                int j = (ci * Kh + ky) * Kw + kx;
                for (int t = p->start[j]; t < p->start[j + 1]; t++) o[p->lco[t]] += v * p->lw[t];
            }
    }
}


/* Output-stationary: inputs bucketed by position; each output position sums
 * v * w[ci, ky, kx][0..Cop) over the inputs in its window. */
void zs_conv_sparse_pos__scalar(float *out, const int32_t *idx, const float *val, int n,
                                const zs_conv_scatter *p, float *scratch) {
    int32_t *ps, *pw;
    float *pv;
    zs_conv_sort_by_pos(idx, val, n, p, scratch, 0, &ps, &pw, &pv);
    int Ho = p->Ho, Wo = p->Wo, H = p->H, W = p->W, Kh = p->Kh, Kw = p->Kw, pad = p->pad, Cop = p->Cop;
    float *acc = scratch;
    for (int oy = 0; oy < Ho; oy++)
        for (int ox = 0; ox < Wo; ox++) {
            float *a = acc + ((size_t)oy * Wo + ox) * Cop;
            for (int o = 0; o < Cop; o++) a[o] = o < p->Co ? p->bias[o] : 0.0f;
            for (int ky = 0; ky < Kh; ky++) {
                int iy = oy + ky - pad;
                if (iy < 0 || iy >= H) continue;
                for (int kx = 0; kx < Kw; kx++) {
                    int ix = ox + kx - pad;
                    if (ix < 0 || ix >= W) continue;
                    int pos = iy * W + ix;
                    const float *wt = p->wvec + (size_t)(ky * Kw + kx) * Cop;
                    for (int s = ps[pos]; s < ps[pos + 1]; s++) {
                        const float *w = wt + pw[s];
                        float v = pv[s];
                        for (int o = 0; o < Cop; o++) a[o] += v * w[o];
                    }
                }
            }
        }
    zs_conv_unpack_acc(out, acc, p->Co, Ho * Wo, Cop);
}

/* conv_pos_lists: positions outermost, channels ascending. */
int zs_conv_pos_lists__scalar(const float *x, const zs_conv_scatter *p, float *scratch) {
    int32_t *ps, *w;
    float *v;
    zs_conv_lists_at(p, scratch, &ps, &w, &v);
    const int HW = p->H * p->W, T = p->Kh * p->Kw * p->Cop;
    int s = 0;
    for (int q = 0; q < HW; q++) {
        ps[q] = s;
        for (int ci = 0; ci < p->Ci; ci++) {
            float a = x[(size_t)ci * HW + q];
            if (a != 0.0f) { w[s] = ci * T + p->cx[q] * p->Cop; v[s] = a; s++; }
        }
    }
    ps[HW] = s;
    return s;
}

/* Tap-major (conv_sparse_tap): taps outermost, then output positions, then
 * the inputs at the tap's position, into the channel-last accumulator acc
 * (filled by the caller); the rows are p->wvec, or p->wq when it is NULL. */
static void tap_sums(float *acc, const int32_t *ps, const int32_t *pw, const float *pv, const zs_conv_scatter *p) {
    const int Ho = p->Ho, Wo = p->Wo, H = p->H, W = p->W, Kh = p->Kh, Kw = p->Kw, pad = p->pad, Cop = p->Cop;
    for (int ky = 0; ky < Kh; ky++)
        for (int kx = 0; kx < Kw; kx++) {
            const ptrdiff_t t0 = (ptrdiff_t)(ky * Kw + kx) * Cop;
            for (int oy = 0; oy < Ho; oy++) {
                int iy = oy + ky - pad;
                if (iy < 0 || iy >= H) continue;
                for (int ox = 0; ox < Wo; ox++) {
                    int ix = ox + kx - pad;
                    if (ix < 0 || ix >= W) continue;
                    float *a = acc + ((size_t)oy * Wo + ox) * Cop;
                    for (int s = ps[iy * W + ix]; s < ps[iy * W + ix + 1]; s++) {
                        const ptrdiff_t r = t0 + pw[s] - (ptrdiff_t)ix * Cop;
                        if (p->wvec)
                            for (int o = 0; o < Cop; o++) a[o] += pv[s] * p->wvec[r + o];
                        else
                            for (int o = 0; o < Cop; o++) a[o] += pv[s] * (float)p->wq[r + o];
                    }
                }
            }
        }
}

/* conv_sparse_tap: sums from the bias. idx NULL: the lists of
 * conv_pos_lists are in scratch. */
void zs_conv_sparse_tap__scalar(float *out, const int32_t *idx, const float *val, int n,
                                const zs_conv_scatter *p, float *scratch) {
    int32_t *ps, *pw;
    float *pv;
    zs_conv_tap_lists(idx, val, n, p, scratch, &ps, &pw, &pv);
    const int P = p->Ho * p->Wo, Cop = p->Cop;
    for (int q = 0; q < P; q++)
        for (int o = 0; o < Cop; o++) scratch[(size_t)q * Cop + o] = o < p->Co ? p->bias[o] : 0.0f;
    tap_sums(scratch, ps, pw, pv, p);
    zs_conv_unpack_acc(out, scratch, p->Co, zs_conv_acc_rows(scratch, p), Cop);
}

/* conv_sparse_tap_q8, the reference: conv_sparse_tap's order on the int8
 * rows (inputs quantised when qact), sums from 0, each channel scaled and
 * its bias added at the unpack. */
void zs_conv_sparse_tap_q8__scalar(float *out, const int32_t *idx, const float *val, int n,
                                   const zs_conv_scatter *p, float *scratch) {
    int32_t *ps, *pw;
    float *pv;
    zs_conv_tap_lists(idx, val, n, p, scratch, &ps, &pw, &pv);
    const int P = p->Ho * p->Wo, Cop = p->Cop;
    const float qa = p->qact ? zs_conv_quantize_inputs(pv, ps[p->H * p->W]) : 1.0f;
    memset(scratch, 0, sizeof(float) * (size_t)P * Cop);
    tap_sums(scratch, ps, pw, pv, p);
    zs_conv_unpack_acc_scaled(out, scratch, p->Co, zs_conv_acc_rows(scratch, p), Cop, p->qscale, qa, p->bias);
}

/* conv_sparse_vnni, the reference: the 4-channel groups of conv_pos_groups
 * (idx NULL: already in scratch) or of zs_conv_list_groups (the list idx,
 * val) on the rows of wq4, int32 sums, then conv_sparse_tap_q8's unpack. */
void zs_conv_sparse_vnni__scalar(float *out, const int32_t *idx, const float *val, int n,
                                 const zs_conv_scatter *p, float *scratch) {
    if (idx) zs_conv_list_groups(idx, val, n, p, scratch);
    int32_t *gs, *gw;
    uint32_t *gv;
    float qa;
    zs_conv_groups_at(p, scratch, &gs, &gw, &gv, &qa);
    const int Ho = p->Ho, Wo = p->Wo, H = p->H, W = p->W, Kh = p->Kh, Kw = p->Kw, pad = p->pad, Cop = p->Cop;
    const int P = Ho * Wo;
    int32_t *acc = (int32_t *)scratch;
    memset(acc, 0, sizeof(int32_t) * (size_t)P * Cop);
    for (int ky = 0; ky < Kh; ky++)
        for (int kx = 0; kx < Kw; kx++)
            for (int oy = 0; oy < Ho; oy++) {
                int iy = oy + ky - pad;
                if (iy < 0 || iy >= H) continue;
                for (int ox = 0; ox < Wo; ox++) {
                    int ix = ox + kx - pad;
                    if (ix < 0 || ix >= W) continue;
                    int32_t *a = acc + ((size_t)oy * Wo + ox) * Cop;
                    for (int s = gs[iy * W + ix]; s < gs[iy * W + ix + 1]; s++) {
                        const int8_t *row = p->wq4 + 4 * ((ptrdiff_t)gw[s] + (ptrdiff_t)(ky * Kw + pad - ox) * Cop);
                        for (int o = 0; o < Cop; o++)
                            for (int i = 0; i < 4; i++) a[o] += (int32_t)((gv[s] >> (8 * i)) & 255u) * row[4 * o + i];
                    }
                }
            }
    const int Pq = zs_conv_acc_rows_i32(acc, p);
    for (int o = 0; o < p->Co; o++) {
        const float sc = qa * p->qscale[o];
        for (int q = 0; q < Pq; q++) out[(size_t)o * Pq + q] = (float)acc[(size_t)q * Cop + o] * sc + p->bias[o];
    }
}

/* conv_sparse_routed: conv_routed_kern.h on "vectors" of one float, each
 * product a multiply then an add (as the other scalar kernels) */
typedef float ct_v;
#define CT_VL 1
#define CT_SET1(a) (a)
#define CT_FMA(a, b, c) ((c) + (a) * (b))
#define CT_LOAD(p) (*(p))
#define CT_STORE(p, v) (*(p) = (v))
#define CR_FN zs_conv_sparse_routed__scalar
#include "conv_routed_kern.h"
