/*
 * bwd_scalar.c — sparse backward kernels (training) in portable C: weight
 * gradients at kept weights from non-zero inputs, input gradients at listed
 * positions (see kernels.h, "sparse backward"). One sample per call.
 */
#include "kernels.h"

void zs_conv_wgrad_taps__scalar(float *dwt, const float *in, const float *dout, const zs_conv_taps *p) {
    int Ho = p->Ho, Wo = p->Wo, W = p->W;
    for (int o = 0; o < p->Co; o++) {
        const float *dy = dout + (size_t)o * Ho * Wo;
        for (int t = p->start[o]; t < p->start[o + 1]; t++) {
            const float *ip = in + p->off[t];
            float a = 0;
            for (int oy = 0; oy < Ho; oy++)
                for (int ox = 0; ox < Wo; ox++) a += dy[oy * Wo + ox] * ip[oy * W + ox];
            dwt[t] += a;
        }
    }
}

/* dout (Co, P) -> hwc (P, Cop), zero past Co */
static void to_hwc(float *hwc, const float *dout, int Co, int P, int Cop) {
    for (int q = 0; q < P; q++) {
        for (int o = 0; o < Co; o++) hwc[(size_t)q * Cop + o] = dout[(size_t)o * P + q];
        for (int o = Co; o < Cop; o++) hwc[(size_t)q * Cop + o] = 0.0f;
    }
}

static inline void tap_range(int iy, int pad, int K, int Ho, int *k0, int *k1) {
    int a = iy + pad - Ho + 1, b = iy + pad;
    *k0 = a > 0 ? a : 0;
    *k1 = b < K - 1 ? b : K - 1;
}

void zs_conv_wgrad_vec__scalar(float *dwv, const int32_t *idx, const float *val, int n, const float *dout,
                               const zs_conv_scatter *p, float *hwc) {
    int Wo = p->Wo, Cop = p->Cop, Kh = p->Kh, Kw = p->Kw, HW = p->H * p->W;
    to_hwc(hwc, dout, p->Co, p->Ho * Wo, Cop);
    int ci = 0;
    for (int e = 0; e < n; e++) {
        while (idx[e] >= (ci + 1) * HW) ci++;
        int pos = idx[e] - ci * HW, iy = p->cy[pos], ix = p->cx[pos];
        float v = val[e];
        int ky0, ky1, kx0, kx1;
        tap_range(iy, p->pad, Kh, p->Ho, &ky0, &ky1);
        tap_range(ix, p->pad, Kw, Wo, &kx0, &kx1);
        for (int ky = ky0; ky <= ky1; ky++)
            for (int kx = kx0; kx <= kx1; kx++) {
                const float *g = hwc + ((size_t)(iy + p->pad - ky) * Wo + (ix + p->pad - kx)) * Cop;
                float *d = dwv + ((size_t)(ci * Kh + ky) * Kw + kx) * Cop;
                for (int o = 0; o < Cop; o++) d[o] += v * g[o];
            }
    }
}

void zs_conv_dgrad_vec__scalar(float *dval, const int32_t *idx, int n, const float *dout,
                               const zs_conv_scatter *p, float *hwc) {
    int Wo = p->Wo, Cop = p->Cop, Kh = p->Kh, Kw = p->Kw, HW = p->H * p->W;
    to_hwc(hwc, dout, p->Co, p->Ho * Wo, Cop);
    int ci = 0;
    for (int e = 0; e < n; e++) {
        while (idx[e] >= (ci + 1) * HW) ci++;
        int pos = idx[e] - ci * HW, iy = p->cy[pos], ix = p->cx[pos];
        int ky0, ky1, kx0, kx1;
        tap_range(iy, p->pad, Kh, p->Ho, &ky0, &ky1);
        tap_range(ix, p->pad, Kw, Wo, &kx0, &kx1);
        float a = 0;
        for (int ky = ky0; ky <= ky1; ky++)
            for (int kx = kx0; kx <= kx1; kx++) {
                const float *g = hwc + ((size_t)(iy + p->pad - ky) * Wo + (ix + p->pad - kx)) * Cop;
                const float *w = p->wvec + ((size_t)(ci * Kh + ky) * Kw + kx) * Cop;
                for (int o = 0; o < Cop; o++) a += w[o] * g[o];
            }
        dval[e] = a;
    }
}

void zs_linear_wgrad__scalar(float *dwl, const int32_t *idx, const float *val, int n, const float *dy,
                             const zs_linear_pack *p) {
    for (int e = 0; e < n; e++) {
        float v = val[e];
        for (int t = p->start[idx[e]]; t < p->start[idx[e] + 1]; t++) dwl[t] += v * dy[p->lo[t]];
    }
}

void zs_linear_dgrad__scalar(float *dval, const int32_t *idx, int n, const float *dy, const zs_linear_pack *p) {
    for (int e = 0; e < n; e++) {
        float a = 0;
        for (int t = p->start[idx[e]]; t < p->start[idx[e] + 1]; t++) a += p->lw[t] * dy[p->lo[t]];
        dval[e] = a;
    }
}
