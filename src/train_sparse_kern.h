/*
 * train_sparse_kern.h — the per-ISA kernels of the sparse training path.
 * Included by train_sparse_scalar.c, train_sparse_avx2.c and
 * train_sparse_avx512.c with TS_ISA set; the Makefile gives the last two
 * their -m flags. The code uses GCC/clang vector extensions (VL = 4, 8 or 16
 * floats: the native width), so
 * the same source becomes SSE2, AVX2+FMA or AVX-512 code.
 *
 * All kernels work on one sample, stride-1 convolutions, NCHW float32.
 */
#ifndef ZS_TRAIN_SPARSE_KERN_H
#define ZS_TRAIN_SPARSE_KERN_H
#include <stdint.h>
#include <stddef.h>

/* Geometry and kept-weight lists of one conv2d layer (built from its mask).
 *   xp   padded input (Ci, Hp, Wp), Hp = H + 2 pad, Wp = W + 2 pad, then
 *        TS_SLACK zero floats;
 *   dyp  output gradient rows padded to Wop = Wo rounded up to 16 (zeros);
 *   dyq  output gradient in a zero border of Kh-1 / Kw-1: (Co, Hq, Wq),
 *        Hq = Ho + 2 (Kh-1), Wq = Wo + 2 (Kw-1), then TS_SLACK floats.
 * Forward/dW taps, per output channel o: j in [tstart[o], tstart[o+1]),
 *   toff[j] = c*Hp*Wp + ky*Wp + kx, tw[j] = weight, twi[j] = weight index.
 * dX taps, per input channel c: j in [cstart[c], cstart[c+1]),
 *   coff[j] = o*Hq*Wq + (pad + Kh-1 - ky)*Wq + (pad + Kw-1 - kx), cw[j]. */
typedef struct ts_conv_geom {
    int Ci, H, W, Co, Kh, Kw, pad, Ho, Wo, Hp, Wp, Wop, Hq, Wq;
    int Cop;          /* Co rounded up to 64: rows of the channel-vector forms */
    const int32_t *tstart, *toff; const float *tw;
    const int32_t *cstart, *coff; const float *cw;
} ts_conv_geom;

#define TS_SLACK 64

typedef struct ts_kern {
    /* out (Co, Ho, Wo) = bias + conv(xp) over the kept taps */
    void (*conv_fwd)(float *out, const float *xp, const float *bias, const ts_conv_geom *g);
    /* dwl[j] += sum over positions of dyp[o] * xp[toff[j] + ...] (list order) */
    void (*conv_dw)(float *dwl, const float *dyp, const float *xp, const ts_conv_geom *g);
    /* dx (Ci, H, W) = transposed conv of dyq through the kept taps (written) */
    void (*conv_dx)(float *dx, const float *dyq, const ts_conv_geom *g);
    /* PyTorch SGD on n parameters, the exact float operations of
     * zs_net_train_step: d = g + wd*p; if m > 0: buf = first ? d : m*buf + d,
     * d = buf; p -= lr*d; then p = 0 where mask (may be NULL) is 0. */
    void (*sgd)(float *p, const float *g, float *buf, const uint8_t *mask, size_t n, float lr, float wd,
                float m, int first);
    /* sum of x[0..n) (vector partial sums) */
    double (*sum)(const float *x, int n);
    /* sum of (x - m)^2 */
    double (*sumsq_dev)(const float *x, int n, float m);
    /* y = (x - mean) * invstd * g + b, the reference's float operations */
    void (*bn_apply)(float *y, const float *x, int n, float mean, float invstd, float g, float b);
    /* sdy += sum dy; sdyx += sum dy * ((x - mean) * invstd) */
    void (*bn_bwd_sums)(const float *x, const float *dy, int n, float mean, float invstd, double *sdy,
                        double *sdyx);
    /* dx = gi * (dy - a - ((x - mean) * invstd) * bq), gi = g * invstd;
     * dy NULL: dy = 0 */
    void (*bn_bwd_apply)(float *dx, const float *x, const float *dy, int n, float mean, float invstd, float gi,
                         float a, float bq);
    /* linear over a block of TS_NB samples, transposed layouts (lanes are
     * samples): outT (O, TS_NB) += sum over kept (o, i) of w * xt (I, TS_NB);
     * columns i are lists [tstart[i], tstart[i+1]) of (toff = o, tw = w). */
    void (*lin_fwd_t)(float *outT, const float *xt, const int32_t *tstart, const int32_t *toff, const float *tw,
                      int I);
    /* dxT (I, TS_NB) = sum over kept (o, i) of w * dyT (O, TS_NB) (written) */
    void (*lin_dx_t)(float *dxT, const float *dyT, const int32_t *tstart, const int32_t *toff, const float *tw,
                     int I);
    /* Sparse-input conv2d (stride 1), channel-vector form: Wt (Ci*Kh*Kw, Cop)
     * holds w[o][c][ky][kx] at row c*Kh*Kw + ky*Kw + kx, lane o (0 where
     * masked). The input's non-zeros per position r = iy*W + ix: entries
     * [pstart[r], pstart[r+1]) of (channel pc, value pv).
     * outT (Ho*Wo, Cop) = conv (no bias), written. */
    void (*convs_fwd)(float *outT, const int32_t *pstart, const int32_t *pc, const float *pv, const float *Wt,
                      const ts_conv_geom *g);
    /* dWt (Ci*Kh*Kw, Cop) += sum over the non-zeros (value ev, position ey,
     * ex) of channel c, entries [cstart[c], cstart[c+1]), of ev * dyT[q] with
     * q the output the tap sends them to; dyT (Ho*Wo, Cop). */
    void (*convs_dw)(float *dWt, const int32_t *cstart, const int32_t *ey, const int32_t *ex, const float *ev,
                     const float *dyT, const ts_conv_geom *g);
    /* dx[nidx[e]] = sum over taps and o of Wt * dyT for the n listed input
     * positions (channel nc, row ny, column nx); other dx untouched. */
    void (*convs_dx)(float *dx, const int32_t *nidx, const int32_t *nc, const int32_t *ny, const int32_t *nx, int n,
                     const float *Wt, const float *dyT, const ts_conv_geom *g);
} ts_kern;

#define TS_NB 16
#define TS_COP 64

extern const ts_kern zs_ts_kern_scalar, zs_ts_kern_avx2, zs_ts_kern_avx512;

#ifdef TS_ISA
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#define TS_CAT2(a, b) a##_##b
#define TS_CAT(a, b) TS_CAT2(a, b)
#define TS(name) TS_CAT(name, TS_ISA)

/* native vector width in floats */
#if defined(__AVX512F__)
#define VL 16
#elif defined(__AVX2__)
#define VL 8
#else
#define VL 4
#endif
typedef float v16 __attribute__((vector_size(VL * 4)));
typedef float v16u __attribute__((vector_size(VL * 4), aligned(4)));
typedef int32_t v16i __attribute__((vector_size(VL * 4)));
typedef uint8_t u8x16 __attribute__((vector_size(VL), aligned(1)));

static inline v16 ld(const float *p) { return *(const v16u *)(const void *)p; }
static inline v16 splat(float a) { return (v16){0} + a; }
static inline float hsum(v16 v) {
    float s = 0;
    for (int i = 0; i < VL; i++) s += v[i];
    return s;
}
/* store the first n (<= VL) lanes */
static inline void stn(float *p, v16 v, int n) {
    if (n >= VL) { *(v16u *)(void *)p = v; return; }
    for (int i = 0; i < n; i++) p[i] = v[i];
}

/* One output plane y (R rows x C columns, row stride C) of a tap list:
 * y = b + sum_j w[j] * x[off[j] + ...], x's rows Sx floats apart; four
 * rows at a time. */
static inline __attribute__((always_inline)) void TS(taps_plane)(float *y, const float *x, int R, int C, int Sx,
                                                                  const int32_t *off, const float *w, int nt,
                                                                  v16 b) {
    for (int cx = 0; cx < C; cx += VL) {
        int wn = C - cx < VL ? C - cx : VL;
        int oy = 0;
        for (; oy + 4 <= R; oy += 4) {
            v16 a0 = b, a1 = b, a2 = b, a3 = b;
            const float *base = x + (size_t)oy * Sx + cx;
            for (int j = 0; j < nt; j++) {
                const float *p = base + off[j];
                v16 wv = splat(w[j]);
                a0 += wv * ld(p);
                a1 += wv * ld(p + Sx);
                a2 += wv * ld(p + 2 * Sx);
                a3 += wv * ld(p + 3 * Sx);
            }
            stn(y + (size_t)oy * C + cx, a0, wn);
            stn(y + (size_t)(oy + 1) * C + cx, a1, wn);
            stn(y + (size_t)(oy + 2) * C + cx, a2, wn);
            stn(y + (size_t)(oy + 3) * C + cx, a3, wn);
        }
        for (; oy < R; oy++) {
            v16 a0 = b;
            const float *base = x + (size_t)oy * Sx + cx;
            for (int j = 0; j < nt; j++) a0 += splat(w[j]) * ld(base + off[j]);
            stn(y + (size_t)oy * C + cx, a0, wn);
        }
    }
}

static void TS(conv_fwd)(float *out, const float *xp, const float *bias, const ts_conv_geom *g) {
    for (int o = 0; o < g->Co; o++)
        TS(taps_plane)(out + (size_t)o * g->Ho * g->Wo, xp, g->Ho, g->Wo, g->Wp, g->toff + g->tstart[o],
                       g->tw + g->tstart[o], g->tstart[o + 1] - g->tstart[o], splat(bias ? bias[o] : 0.0f));
}

static void TS(conv_dw)(float *dwl, const float *dyp, const float *xp, const ts_conv_geom *g) {
    int Ho = g->Ho, Wop = g->Wop, Wp = g->Wp;
    for (int o = 0; o < g->Co; o++) {
        const float *dy = dyp + (size_t)o * Ho * Wop;
        int j0 = g->tstart[o], j1 = g->tstart[o + 1], j = j0;
        for (; j + 4 <= j1; j += 4) {
            v16 a0 = splat(0), a1 = a0, a2 = a0, a3 = a0;
            const float *p0 = xp + g->toff[j], *p1 = xp + g->toff[j + 1];
            const float *p2 = xp + g->toff[j + 2], *p3 = xp + g->toff[j + 3];
            for (int oy = 0; oy < Ho; oy++) {
                const float *d = dy + (size_t)oy * Wop;
                size_t r = (size_t)oy * Wp;
                for (int cx = 0; cx < Wop; cx += VL) {
                    v16 dv = ld(d + cx);
                    a0 += dv * ld(p0 + r + cx);
                    a1 += dv * ld(p1 + r + cx);
                    a2 += dv * ld(p2 + r + cx);
                    a3 += dv * ld(p3 + r + cx);
                }
            }
            dwl[j] += hsum(a0); dwl[j + 1] += hsum(a1); dwl[j + 2] += hsum(a2); dwl[j + 3] += hsum(a3);
        }
        for (; j < j1; j++) {
            v16 a0 = splat(0);
            const float *p0 = xp + g->toff[j];
            for (int oy = 0; oy < Ho; oy++)
                for (int cx = 0; cx < Wop; cx += VL)
                    a0 += ld(dy + (size_t)oy * Wop + cx) * ld(p0 + (size_t)oy * Wp + cx);
            dwl[j] += hsum(a0);
        }
    }
}

static void TS(conv_dx)(float *dx, const float *dyq, const ts_conv_geom *g) {
    for (int c = 0; c < g->Ci; c++)
        TS(taps_plane)(dx + (size_t)c * g->H * g->W, dyq, g->H, g->W, g->Wq, g->coff + g->cstart[c],
                       g->cw + g->cstart[c], g->cstart[c + 1] - g->cstart[c], splat(0));
}


static void TS(sgd)(float *p, const float *g, float *buf, const uint8_t *mask, size_t n, float lr, float wd,
                    float m, int first) {
    size_t i = 0;
    v16 vwd = splat(wd), vlr = splat(lr), vm = splat(m);
    for (; i + VL <= n; i += VL) {
        v16 pv = ld(p + i), d = ld(g + i) + vwd * pv;
        if (m > 0) {
            d = first ? d : vm * ld(buf + i) + d;
            *(v16u *)(void *)(buf + i) = d;
        }
        pv = pv - vlr * d;
        if (mask) {
            v16i mi = __builtin_convertvector(*(const u8x16 *)(const void *)(mask + i), v16i);
            pv = (v16)((v16i)pv & (mi != 0));
        }
        *(v16u *)(void *)(p + i) = pv;
    }
    for (; i < n; i++) {
        float d = g[i] + wd * p[i];
        if (m > 0) {
            d = first ? d : m * buf[i] + d;
            buf[i] = d;
        }
        p[i] -= lr * d;
        if (mask && !mask[i]) p[i] = 0.0f;
    }
}

static double TS(sum)(const float *x, int n) {
    v16 a0 = splat(0), a1 = a0;
    int i = 0;
    for (; i + 2 * VL <= n; i += 2 * VL) { a0 += ld(x + i); a1 += ld(x + i + VL); }
    for (; i + VL <= n; i += VL) a0 += ld(x + i);
    double s = (double)hsum(a0 + a1);
    for (; i < n; i++) s += x[i];
    return s;
}

static double TS(sumsq_dev)(const float *x, int n, float m) {
    v16 a0 = splat(0), a1 = a0, vm = splat(m);
    int i = 0;
    for (; i + 2 * VL <= n; i += 2 * VL) {
        v16 d0 = ld(x + i) - vm, d1 = ld(x + i + VL) - vm;
        a0 += d0 * d0;
        a1 += d1 * d1;
    }
    for (; i + VL <= n; i += VL) { v16 d0 = ld(x + i) - vm; a0 += d0 * d0; }
    double s = (double)hsum(a0 + a1);
    for (; i < n; i++) { double d = (double)x[i] - m; s += d * d; }
    return s;
}

static void TS(bn_apply)(float *y, const float *x, int n, float mean, float invstd, float g, float b) {
    v16 vm = splat(mean), vi = splat(invstd), vg = splat(g), vb = splat(b);
    int i = 0;
    for (; i + VL <= n; i += VL) *(v16u *)(void *)(y + i) = (ld(x + i) - vm) * vi * vg + vb;
    for (; i < n; i++) y[i] = (x[i] - mean) * invstd * g + b;
}

static void TS(bn_bwd_sums)(const float *x, const float *dy, int n, float mean, float invstd, double *sdy,
                            double *sdyx) {
    v16 a = splat(0), b = a, vm = splat(mean), vi = splat(invstd);
    int i = 0;
    for (; i + VL <= n; i += VL) {
        v16 d = ld(dy + i);
        a += d;
        b += d * ((ld(x + i) - vm) * vi);
    }
    double s1 = (double)hsum(a), s2 = (double)hsum(b);
    for (; i < n; i++) { s1 += dy[i]; s2 += (double)dy[i] * ((x[i] - mean) * invstd); }
    *sdy += s1;
    *sdyx += s2;
}

static void TS(bn_bwd_apply)(float *dx, const float *x, const float *dy, int n, float mean, float invstd, float gi,
                             float a, float bq) {
    v16 vm = splat(mean), vi = splat(invstd), vg = splat(gi), va = splat(a), vb = splat(bq);
    int i = 0;
    if (!dy) {
        for (; i + VL <= n; i += VL) {
            v16 xh = (ld(x + i) - vm) * vi;
            *(v16u *)(void *)(dx + i) = vg * (-va - xh * vb);
        }
        for (; i < n; i++) {
            float xh = (x[i] - mean) * invstd;
            dx[i] = gi * (-a - xh * bq);
        }
        return;
    }
    for (; i + VL <= n; i += VL) {
        v16 xh = (ld(x + i) - vm) * vi;
        *(v16u *)(void *)(dx + i) = vg * (ld(dy + i) - va - xh * vb);
    }
    for (; i < n; i++) {
        float xh = (x[i] - mean) * invstd;
        dx[i] = gi * (dy[i] - a - xh * bq);
    }
}

#define NBV (TS_NB / VL)
static void TS(lin_fwd_t)(float *outT, const float *xt, const int32_t *tstart, const int32_t *toff, const float *tw,
                          int I) {
    for (int i = 0; i < I; i++) {
        v16 xv[NBV];
        v16 any = splat(0);
        for (int c = 0; c < NBV; c++) { xv[c] = ld(xt + (size_t)i * TS_NB + c * VL); any += xv[c] * xv[c]; }
        if (hsum(any) == 0.0f) continue; /* an all-zero column adds nothing */
        for (int32_t j = tstart[i]; j < tstart[i + 1]; j++) {
            v16 w = splat(tw[j]);
            float *y = outT + (size_t)toff[j] * TS_NB;
            for (int c = 0; c < NBV; c++) *(v16u *)(void *)(y + c * VL) = ld(y + c * VL) + w * xv[c];
        }
    }
}

static void TS(lin_dx_t)(float *dxT, const float *dyT, const int32_t *tstart, const int32_t *toff, const float *tw,
                         int I) {
    for (int i = 0; i < I; i++) {
        v16 acc[NBV];
        for (int c = 0; c < NBV; c++) acc[c] = splat(0);
        for (int32_t j = tstart[i]; j < tstart[i + 1]; j++) {
            v16 w = splat(tw[j]);
            const float *d = dyT + (size_t)toff[j] * TS_NB;
            for (int c = 0; c < NBV; c++) acc[c] += w * ld(d + c * VL);
        }
        for (int c = 0; c < NBV; c++) *(v16u *)(void *)(dxT + (size_t)i * TS_NB + c * VL) = acc[c];
    }
}

/* tiles of 4 vectors over Cop (a multiple of 64, so of 4*VL) */
#define TILE (4 * VL)

static void TS(convs_fwd)(float *outT, const int32_t *pstart, const int32_t *pc, const float *pv, const float *Wt,
                          const ts_conv_geom *g) {
    int KK = g->Kh * g->Kw, Cop = g->Cop;
    for (int co0 = 0; co0 < Cop; co0 += TILE)
        for (int oy = 0; oy < g->Ho; oy++)
            for (int ox = 0; ox < g->Wo; ox++) {
                v16 a0 = splat(0), a1 = a0, a2 = a0, a3 = a0;
                for (int ky = 0; ky < g->Kh; ky++) {
                    int iy = oy + ky - g->pad;
                    if (iy < 0 || iy >= g->H) continue;
                    for (int kx = 0; kx < g->Kw; kx++) {
                        int ix = ox + kx - g->pad;
                        if (ix < 0 || ix >= g->W) continue;
                        int r = iy * g->W + ix, tap = ky * g->Kw + kx;
                        for (int32_t e = pstart[r]; e < pstart[r + 1]; e++) {
                            const float *row = Wt + ((size_t)pc[e] * KK + tap) * Cop + co0;
                            v16 v = splat(pv[e]);
                            a0 += v * ld(row);
                            a1 += v * ld(row + VL);
                            a2 += v * ld(row + 2 * VL);
                            a3 += v * ld(row + 3 * VL);
                        }
                    }
                }
                float *y = outT + ((size_t)oy * g->Wo + ox) * Cop + co0;
                *(v16u *)(void *)y = a0;
                *(v16u *)(void *)(y + VL) = a1;
                *(v16u *)(void *)(y + 2 * VL) = a2;
                *(v16u *)(void *)(y + 3 * VL) = a3;
            }
}

static void TS(convs_dw)(float *dWt, const int32_t *cstart, const int32_t *ey, const int32_t *ex, const float *ev,
                         const float *dyT, const ts_conv_geom *g) {
    int KK = g->Kh * g->Kw, Cop = g->Cop;
    for (int c = 0; c < g->Ci; c++) {
        int32_t e0c = cstart[c], e1c = cstart[c + 1];
        if (e0c == e1c) continue;
        for (int ky = 0; ky < g->Kh; ky++) {
            /* entries (sorted by row) whose output row oy = iy + pad - ky is valid */
            int lo = ky - g->pad, hi = ky - g->pad + g->Ho; /* iy in [lo, hi) */
            int32_t e0 = e0c, e1;
            while (e0 < e1c && ey[e0] < lo) e0++;
            e1 = e0;
            while (e1 < e1c && ey[e1] < hi) e1++;
            if (e0 == e1) continue;
            for (int kx = 0; kx < g->Kw; kx++)
                for (int co0 = 0; co0 < Cop; co0 += TILE) {
                    v16 a0 = splat(0), a1 = a0, a2 = a0, a3 = a0;
                    for (int32_t e = e0; e < e1; e++) {
                        int oy = ey[e] + g->pad - ky, ox = ex[e] + g->pad - kx;
                        int ok = (unsigned)ox < (unsigned)g->Wo;
                        /* branch-free: an invalid column adds 0 * row 0 */
                        const float *d = dyT + ((size_t)oy * g->Wo + (ok ? ox : 0)) * Cop + co0;
                        v16 v = splat(ok ? ev[e] : 0.0f);
                        a0 += v * ld(d);
                        a1 += v * ld(d + VL);
                        a2 += v * ld(d + 2 * VL);
                        a3 += v * ld(d + 3 * VL);
                    }
                    float *w = dWt + ((size_t)c * KK + ky * g->Kw + kx) * Cop + co0;
                    *(v16u *)(void *)w = ld(w) + a0;
                    *(v16u *)(void *)(w + VL) = ld(w + VL) + a1;
                    *(v16u *)(void *)(w + 2 * VL) = ld(w + 2 * VL) + a2;
                    *(v16u *)(void *)(w + 3 * VL) = ld(w + 3 * VL) + a3;
                }
        }
    }
}

static void TS(convs_dx)(float *dx, const int32_t *nidx, const int32_t *nc, const int32_t *ny, const int32_t *nx, int n,
                         const float *Wt, const float *dyT, const ts_conv_geom *g) {
    int KK = g->Kh * g->Kw, Cop = g->Cop;
    for (int e = 0; e < n; e++) {
        v16 a0 = splat(0), a1 = a0, a2 = a0, a3 = a0;
        /* taps with a valid output: oy = iy + pad - ky in [0, Ho) */
        int iy = ny[e] + g->pad, ix = nx[e] + g->pad;
        int ky0 = iy - g->Ho + 1 > 0 ? iy - g->Ho + 1 : 0, ky1 = iy < g->Kh - 1 ? iy : g->Kh - 1;
        int kx0 = ix - g->Wo + 1 > 0 ? ix - g->Wo + 1 : 0, kx1 = ix < g->Kw - 1 ? ix : g->Kw - 1;
        const float *wc = Wt + (size_t)nc[e] * KK * Cop;
        for (int ky = ky0; ky <= ky1; ky++)
            for (int kx = kx0; kx <= kx1; kx++) {
                const float *w = wc + (size_t)(ky * g->Kw + kx) * Cop;
                const float *d = dyT + ((size_t)(iy - ky) * g->Wo + (ix - kx)) * Cop;
                for (int co0 = 0; co0 < Cop; co0 += TILE) {
                    a0 += ld(w + co0) * ld(d + co0);
                    a1 += ld(w + co0 + VL) * ld(d + co0 + VL);
                    a2 += ld(w + co0 + 2 * VL) * ld(d + co0 + 2 * VL);
                    a3 += ld(w + co0 + 3 * VL) * ld(d + co0 + 3 * VL);
                }
            }
        dx[nidx[e]] = hsum((a0 + a1) + (a2 + a3));
    }
}

const ts_kern TS(zs_ts_kern) = {TS(conv_fwd), TS(conv_dw), TS(conv_dx), TS(sgd), TS(sum), TS(sumsq_dev),
                                TS(bn_apply), TS(bn_bwd_sums), TS(bn_bwd_apply), TS(lin_fwd_t), TS(lin_dx_t), TS(convs_fwd), TS(convs_dw), TS(convs_dx)};

#endif /* TS_ISA */
#endif
