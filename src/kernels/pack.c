/*
 * pack.c — weight packing for the sparse kernels (BatchNorm folding, tap
 * lists, scatter lists, channel vectors, linear column formats) and the
 * ISA-independent part of k-WTA selection. Runs at plan build, not per
 * sample; plain C.
 */
#include "kernels.h"
#include <float.h>
#include <math.h>

/* The factor zs_bn_fold multiplies a channel's weights by: gamma (or 1) x
 * invstd (1/sqrt in double, as the reference). */
static float bn_fold_scale(float var, const float *gamma, float eps) {
    float invstd = (float)(1.0 / sqrt((double)var + eps));
    return (gamma ? *gamma : 1.0f) * invstd;
}

void zs_bn_fold(float *w, float *b, int Co, size_t fan_in, const float *mean, const float *var,
                const float *gamma, const float *beta, float eps) {
    for (int c = 0; c < Co; c++) {
        float g = bn_fold_scale(var[c], gamma ? gamma + c : NULL, eps);
        for (size_t i = 0; i < fan_in; i++) w[(size_t)c * fan_in + i] *= g;
        b[c] = (b[c] - mean[c]) * g + (beta ? beta[c] : 0.0f);
    }
}

/* ---------------------------------------------------------------- conv taps */

void zs_conv_taps_free(zs_conv_taps *p) {
    if (!p) return;
    free(p->start); free(p->off); free(p->soff); free(p->w); free(p->bias);
    memset(p, 0, sizeof *p);
}

/* A packing keeps the non-zero weights. */
static inline int keep(const float *w, size_t i) { return w[i] != 0.0f; }

zs_status zs_conv_taps_pack(zs_conv_taps *p, const float *w, const float *bias, int Co, int Ci,
                            int Kh, int Kw, int H, int W, int tap_major) {
    memset(p, 0, sizeof *p);
    ZS_RETURN_IF(Co < 1 || Ci < 1 || Kh < 1 || Kw < 1 || H < Kh || W < Kw, ZS_EINVAL,
                 "conv pack: bad shape Co=%d Ci=%d K=%dx%d input %dx%d", Co, Ci, Kh, Kw, H, W);
    size_t fan = (size_t)Ci * Kh * Kw, nnz = 0;
    for (size_t i = 0; i < (size_t)Co * fan; i++) nnz += keep(w, i);
    p->Ci = Ci; p->H = H; p->W = W; p->Co = Co; p->Kh = Kh; p->Kw = Kw;
    p->Ho = H - Kh + 1; p->Wo = W - Kw + 1;
    p->start = calloc((size_t)Co + 1, sizeof(int32_t));
    p->off = calloc(nnz + 1, sizeof(int32_t));
    p->soff = calloc(nnz + 1, sizeof(int32_t));
    p->w = calloc(nnz + 1, sizeof(float));
    p->bias = calloc((size_t)Co, sizeof(float));
    if (!p->start || !p->off || !p->soff || !p->w || !p->bias) { zs_conv_taps_free(p); return ZS_ERR(ZS_ENOMEM, "conv pack: out of memory"); }
    size_t t = 0;
    for (int o = 0; o < Co; o++) {
        p->start[o] = (int32_t)t;
        /* x + -0 is x for every x; x + +0 turns -0 into +0 */
        p->bias[o] = bias ? bias[o] + (tap_major ? 0.0f : -0.0f) : 0.0f;
        for (int i = 0; i < Ci * Kh * Kw; i++) {
            /* i: (c, ky, kx) or, tap-major, (ky, kx, c) */
            int c = tap_major ? i % Ci : i / (Kh * Kw), kk = tap_major ? i / Ci : i % (Kh * Kw);
            int ky = kk / Kw, kx = kk % Kw;
            size_t wi = (((size_t)o * Ci + c) * Kh + ky) * Kw + kx;
            if (!keep(w, wi)) continue;
            p->off[t] = (int32_t)(((size_t)c * H + ky) * W + kx);
            /* row c*H + ky of shifted copy kx (wraps for shapes the fused
             * kernels do not take: zs_conv_shift_fits) */
            p->soff[t] = (int32_t)(((uint32_t)kx * Ci * H + (uint32_t)c * H + ky) * ZS_CKP_ROW);
            p->w[t++] = w[wi];
        }
    }
    p->start[Co] = (int32_t)t;
    return ZS_OK;
}

/* ---------------------------------------------------------------- conv scatter */

size_t zs_conv_sparse_scratch(const zs_conv_scatter *p) {
    size_t HW = (size_t)p->H * p->W, n = (size_t)p->Ci * HW, P = (size_t)p->Ho * p->Wo * p->Cop;
    size_t a = P + 16 + 2 * HW + 2 * n + 128, r = P + 16 + 2 * ((size_t)ZS_ROUTED_NC * HW + 16) + 2 * (n + 16) + 64;
    return a > r ? a : r;
}

void zs_conv_sort_by_pos(const int32_t *idx, const float *val, int n, const zs_conv_scatter *p,
                         float *scratch, int with_col, int32_t **pstart, int32_t **woff, float **pv) {
    int HW = p->H * p->W, T = p->Kh * p->Kw * p->Cop, cs = with_col ? p->Cop : 0;
    int32_t *ps, *w;
    float *v;
    zs_conv_lists_at(p, scratch, &ps, &w, &v);
    int32_t *fill = ps + HW + 8;
    memset(ps, 0, sizeof(int32_t) * ((size_t)HW + 1));
    /* channel of each entry without a branch or a division (zs_conv_chan_mul);
     * bigger maps divide */
    const uint64_t mul = zs_conv_chan_mul(p);
    if (mul) {
        for (int e = 0; e < n; e++) {
            int ci = (int)(((uint64_t)(uint32_t)idx[e] * mul) >> 32);
            ps[idx[e] - ci * HW + 1]++;
        }
        for (int q = 0; q < HW; q++) { fill[q] = ps[q]; ps[q + 1] += ps[q]; }
        for (int e = 0; e < n; e++) {
            int ci = (int)(((uint64_t)(uint32_t)idx[e] * mul) >> 32);
            int pos = idx[e] - ci * HW, s = fill[pos]++;
            w[s] = ci * T + p->cx[pos] * cs;
            v[s] = val[e];
        }
    } else {
        for (int e = 0; e < n; e++) ps[idx[e] % HW + 1]++;
        for (int q = 0; q < HW; q++) { fill[q] = ps[q]; ps[q + 1] += ps[q]; }
        for (int e = 0; e < n; e++) {
            int s = fill[idx[e] % HW]++;
            w[s] = idx[e] / HW * T + p->cx[idx[e] % HW] * cs;
            v[s] = val[e];
        }
    }
    *pstart = ps; *woff = w; *pv = v;
}

void zs_conv_scatter_free(zs_conv_scatter *p) {
    if (!p) return;
    free(p->start); free(p->lco); free(p->lw); zs_free_aligned(p->wvec); free(p->cmask);
    zs_free_aligned(p->wq); zs_free_aligned(p->wq4); free(p->qscale);
    free(p->cy); free(p->cx); free(p->bias);
    free(p->bstart); free(p->boff); zs_free_aligned(p->bw);
    free(p->rt_cls); free(p->rt_blk); zs_free_aligned(p->rt_w);
    memset(p, 0, sizeof *p);
}

zs_status zs_conv_scatter_quantize_q8(zs_conv_scatter *p, int groups) {
    if (!p->wvec || p->wq) return ZS_ERR(ZS_EINVAL, "conv scatter: no fp32 rows to quantise (or already int8)");
    const size_t T = (size_t)p->Ci * p->Kh * p->Kw, KK = (size_t)p->Kh * p->Kw, G4 = ((size_t)p->Ci + 3) / 4;
    int8_t *q = zs_alloc_aligned(T * p->Cop, 1), *q4 = groups ? zs_alloc_aligned(G4 * 4 * KK * p->Cop, 1) : NULL;
    float *sc = calloc((size_t)p->Cop, sizeof(float));
    if (!q || (groups && !q4) || !sc) {
        zs_free_aligned(q); zs_free_aligned(q4); free(sc);
        return ZS_ERR(ZS_ENOMEM, "conv scatter quantise: out of memory");
    }
    for (int o = 0; o < p->Co; o++) {
        float m = 0.0f;
        for (size_t j = 0; j < T; j++) m = fmaxf(m, fabsf(p->wvec[j * p->Cop + o]));
        sc[o] = m > 0.0f ? m / 127.0f : 1.0f;
    }
    double worst = 0; /* the largest sum of |w| / scale over a channel's weights */
    for (int o = 0; o < p->Cop; o++) {
        double a = 0;
        for (size_t j = 0; j < T; j++) {
            float v = o < p->Co ? nearbyintf(p->wvec[j * p->Cop + o] / sc[o]) : 0.0f;
            v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
            q[j * p->Cop + o] = (int8_t)v;
            a += fabs(v);
        }
        worst = a > worst ? a : worst;
    }
    /* the 4-channel groups' rows, channels past Ci zero */
    if (q4) memset(q4, 0, G4 * 4 * KK * p->Cop);
    for (size_t ci = 0; ci < (size_t)p->Ci && q4; ci++)
        for (size_t t = 0; t < KK; t++)
            for (int o = 0; o < p->Cop; o++)
                q4[(((ci / 4) * KK + t) * p->Cop + o) * 4 + ci % 4] = q[(ci * KK + t) * p->Cop + o];
    zs_free_aligned(p->wvec);
    p->wvec = NULL;
    p->wq = q; p->wq4 = q4; p->qscale = sc;
    /* integer sums stay exact in fp32 (and int32) below 2^24 */
    p->qact = 255.0 * worst < 16777216.0;
    return ZS_OK;
}

float zs_conv_quantize_inputs(float *v, int n) {
    float mx = 0.0f;
    for (int e = 0; e < n; e++) mx = v[e] > mx ? v[e] : mx;
    float inv;
    const float qa = zs_conv_q8_scale(mx, &inv);
    for (int e = 0; e < n; e++) v[e] = (float)zs_conv_q8_input(v[e], inv); /* all 0 when inv is */
    return qa;
}

/* conv_pos_groups: per position (row-major), the 4-channel groups holding a
 * non-zero quantised input, groups ascending. */
int zs_conv_pos_groups__scalar(const float *x, const zs_conv_scatter *p, float *scratch) {
    const int HW = p->H * p->W, C = p->Ci, G4 = (C + 3) / 4;
    const int32_t T = p->Kh * p->Kw * p->Cop;
    int32_t *gs, *gw;
    uint32_t *gv;
    zs_conv_groups_at(p, scratch, &gs, &gw, &gv, NULL);
    float mx = 0.0f;
    for (size_t i = 0; i < (size_t)C * HW; i++) mx = x[i] > mx ? x[i] : mx;
    float inv;
    const float qa = zs_conv_q8_scale(mx, &inv);
    int m = 0;
    for (int q = 0; q < HW; q++) {
        gs[q] = m;
        for (int g = 0; g < G4; g++) {
            uint32_t u = 0;
            for (int i = 0; i < 4 && 4 * g + i < C; i++) u |= zs_conv_q8_input(x[(size_t)(4 * g + i) * HW + q], inv) << (8 * i);
            if (!u) continue;
            gw[m] = g * T + p->cx[q] * p->Cop;
            gv[m++] = u;
        }
    }
    gs[HW] = m;
    memcpy(gs + HW + 1, &qa, sizeof qa);
    return m;
}

/* conv_sparse_vnni's groups from a list (channel-major indices, each at
 * most once): the same words, in the same order, as conv_pos_groups on the
 * map the list describes. The words are gathered in place in gv's region
 * (H*W*ceil(Ci/4) of them, zeroed; Ci*H*W + 16 fit) and compacted forward;
 * with Ci <= 128 a bitmask per position (after gstart's H*W + 2 words, in
 * conv_sort_by_pos' fill room) lists each position's groups. */
int zs_conv_list_groups(const int32_t *idx, const float *val, int n, const zs_conv_scatter *p, float *scratch) {
    const int HW = p->H * p->W, G4 = (p->Ci + 3) / 4;
    const int32_t T = p->Kh * p->Kw * p->Cop;
    int32_t *gs, *gw;
    uint32_t *gv;
    zs_conv_groups_at(p, scratch, &gs, &gw, &gv, NULL);
    uint32_t *bits = (uint32_t *)gs + HW + 8;
    const int use_bits = G4 <= 32;
    memset(gv, 0, sizeof(uint32_t) * (size_t)HW * G4);
    if (use_bits) memset(bits, 0, sizeof(uint32_t) * (size_t)HW);
    float m8[8] = {0}; /* the max in 8 independent chains (the same value) */
    int e = 0;
    for (; e + 8 <= n; e += 8)
        for (int j = 0; j < 8; j++) m8[j] = val[e + j] > m8[j] ? val[e + j] : m8[j];
    for (; e < n; e++) m8[0] = val[e] > m8[0] ? val[e] : m8[0];
    float mx = 0.0f;
    for (int j = 0; j < 8; j++) mx = m8[j] > mx ? m8[j] : mx;
    float inv;
    const float qa = zs_conv_q8_scale(mx, &inv);
    const uint64_t mul = zs_conv_chan_mul(p); /* idx / HW as in zs_conv_sort_by_pos */
    for (e = 0; e < n; e++) {
        const uint32_t u = zs_conv_q8_input(val[e], inv);
        if (!u) continue;
        const int ci = mul ? (int)(((uint64_t)(uint32_t)idx[e] * mul) >> 32) : idx[e] / HW, q = idx[e] - ci * HW;
        gv[(size_t)q * G4 + (ci >> 2)] |= u << (8 * (ci & 3));
        if (use_bits) bits[q] |= 1u << (ci >> 2);
    }
    int m = 0;
    for (int q = 0; q < HW; q++) {
        gs[q] = m;
        const int32_t col = p->cx[q] * p->Cop;
        if (use_bits) {
            for (uint32_t b = bits[q]; b; b &= b - 1) {
                const int g = __builtin_ctz(b);
                const uint32_t u = gv[(size_t)q * G4 + g]; /* read before gv[m], m <= its index */
                gw[m] = g * T + col;
                gv[m++] = u;
            }
        } else {
            for (int g = 0; g < G4; g++) {
                const uint32_t u = gv[(size_t)q * G4 + g];
                if (!u) continue;
                gw[m] = g * T + col;
                gv[m++] = u;
            }
        }
    }
    gs[HW] = m;
    memcpy(gs + HW + 1, &qa, sizeof qa);
    return m;
}

zs_status zs_conv_scatter_pack(zs_conv_scatter *p, const float *w, const float *bias, int Co, int Ci,
                               int Kh, int Kw, int H, int W, int pad, int want_list, int want_vec) {
    memset(p, 0, sizeof *p);
    ZS_RETURN_IF(Co < 1 || Ci < 1 || Kh < 1 || Kw < 1 || pad < 0 || H + 2 * pad < Kh || W + 2 * pad < Kw,
                 ZS_EINVAL, "conv scatter pack: bad shape Co=%d Ci=%d K=%dx%d input %dx%d pad %d", Co, Ci, Kh,
                 Kw, H, W, pad);
    p->Ci = Ci; p->H = H; p->W = W; p->Co = Co; p->Kh = Kh; p->Kw = Kw; p->pad = pad;
    p->Ho = H + 2 * pad - Kh + 1; p->Wo = W + 2 * pad - Kw + 1;
    p->Cop = (Co + 15) & ~15;
    size_t T = (size_t)Ci * Kh * Kw, fan = T, nnz = 0;
    for (size_t i = 0; i < (size_t)Co * fan; i++) nnz += keep(w, i);
    p->cy = calloc((size_t)H * W, sizeof(int32_t));
    p->cx = calloc((size_t)H * W, sizeof(int32_t));
    p->bias = calloc((size_t)Co, sizeof(float));
    if (!p->cy || !p->cx || !p->bias) goto oom;
    for (int i = 0; i < H * W; i++) { p->cy[i] = i / W; p->cx[i] = i % W; }
    for (int o = 0; o < Co; o++) p->bias[o] = bias ? bias[o] + 0.0f : 0.0f; /* -0 -> +0 (zs_conv_taps_pack) */
    if (want_list) {
        p->start = calloc(T + 1, sizeof(int32_t));
        p->lco = calloc(nnz + 1, sizeof(int32_t));
        p->lw = calloc(nnz + 1, sizeof(float));
        if (!p->start || !p->lco || !p->lw) goto oom;
        size_t t = 0;
        for (size_t j = 0; j < T; j++) {
            p->start[j] = (int32_t)t;
            for (int o = 0; o < Co; o++) {
                if (!keep(w, (size_t)o * fan + j)) continue;
                p->lco[t] = o * p->Ho * p->Wo;
                p->lw[t++] = w[(size_t)o * fan + j];
            }
        }
        p->start[T] = (int32_t)t;
    }
    if (want_vec) {
        p->wvec = zs_alloc_aligned(T * p->Cop, sizeof(float));
        p->cmask = calloc(T, sizeof(uint32_t));
        if (!p->wvec || !p->cmask) goto oom;
        for (size_t j = 0; j < T; j++)
            for (int o = 0; o < Co; o++) {
                p->wvec[j * p->Cop + o] = w[(size_t)o * fan + j];
                /* blocks past 32 (Cout > 512) are always visited */
                if (keep(w, (size_t)o * fan + j) || o >= 512) p->cmask[j] |= 1u << ((o / 16) & 31);
            }
    }
    return ZS_OK;
oom:
    zs_conv_scatter_free(p);
    return ZS_ERR(ZS_ENOMEM, "conv scatter pack: out of memory");
}

/* ---------------------------------------------------------------- linear */

void zs_linear_pack_free(zs_linear_pack *p) {
    if (!p) return;
    if (!p->borrowed) { free(p->start); free(p->lo); free(p->lw); }
    free(p->bstart); free(p->bo); zs_free_aligned(p->bw);
    zs_free_aligned(p->gi); zs_free_aligned(p->gw);
    zs_free_aligned(p->wt); zs_free_aligned(p->bias);
    free(p->xm); free(p->xoff);
    memset(p, 0, sizeof *p);
}

zs_status zs_linear_pack_expand(zs_linear_pack *p) {
    ZS_RETURN_IF(!p->start || !p->lo, ZS_EINVAL, "linear pack: the expand index needs the list");
    int G = p->Op / 16;
    p->xnb = (G + ZS_LIN_XBG - 1) / ZS_LIN_XBG;
    p->xbg = (G + p->xnb - 1) / p->xnb; /* blocks of equal size: little padding */
    size_t stride = (size_t)p->xnb * p->xbg;
    free(p->xm); free(p->xoff);
    p->xm = calloc((size_t)p->I * stride + 1, sizeof(uint16_t));
    p->xoff = malloc(sizeof(int32_t) * ((size_t)p->I * p->xnb + 1));
    if (!p->xm || !p->xoff) {
        free(p->xm); free(p->xoff);
        p->xm = NULL; p->xoff = NULL;
        return ZS_ERR(ZS_ENOMEM, "linear pack: out of memory");
    }
    for (int i = 0; i < p->I; i++) {
        uint16_t *m = p->xm + (size_t)i * stride;
        int32_t t = p->start[i];
        for (int b = 0; b < p->xnb; b++) {
            p->xoff[(size_t)i * p->xnb + b] = t;
            for (; t < p->start[i + 1] && p->lo[t] < 16 * p->xbg * (b + 1); t++)
                m[p->lo[t] / 16] |= (uint16_t)(1u << (p->lo[t] % 16));
        }
    }
    return ZS_OK;
}

size_t zs_linear_pack_nblocks(const zs_linear_pack *p) {
    size_t nblk = 0;
    for (int i = 0; i < p->I; i++)
        for (int32_t t = p->start[i], last = -1; t < p->start[i + 1]; t++)
            if (p->lo[t] / 16 != last) last = p->lo[t] / 16, nblk++;
    return nblk;
}

zs_status zs_linear_pack_blocks(zs_linear_pack *p) {
    ZS_RETURN_IF(!p->start || !p->lo || !p->lw, ZS_EINVAL, "linear pack: the block layout needs the list");
    const size_t nblk = zs_linear_pack_nblocks(p);
    free(p->bstart); free(p->bo); zs_free_aligned(p->bw);
    p->bstart = calloc((size_t)p->I + 1, sizeof(int32_t));
    p->bo = calloc(nblk + 1, sizeof(int32_t));
    p->bw = zs_alloc_aligned((nblk + 1) * 16, sizeof(float)); /* zero-filled */
    if (!p->bstart || !p->bo || !p->bw) {
        free(p->bstart); free(p->bo); zs_free_aligned(p->bw);
        p->bstart = p->bo = NULL; p->bw = NULL;
        return ZS_ERR(ZS_ENOMEM, "linear pack: out of memory");
    }
    int32_t b = 0;
    for (int i = 0; i < p->I; i++) {
        p->bstart[i] = b;
        for (int32_t t = p->start[i], last = -1; t < p->start[i + 1]; t++)
            if (p->lo[t] / 16 != last) last = p->lo[t] / 16, p->bo[b++] = 16 * last;
    }
    p->bstart[p->I] = b;
    zs_linear_pack_sync_blocks(p, NULL, p->I); /* the values */
    return ZS_OK;
}

void zs_linear_pack_sync_blocks(zs_linear_pack *p, const int32_t *cols, int nc) {
    if (!p->bstart || !p->start) return;
    for (int q = 0; q < nc; q++) {
        const int i = cols ? cols[q] : q;
        /* the column's blocks in the order of its kept outputs' groups */
        int32_t b = p->bstart[i] - 1;
        for (int32_t t = p->start[i], last = -1; t < p->start[i + 1]; t++) {
            if (p->lo[t] / 16 != last) last = p->lo[t] / 16, b++;
            p->bw[(size_t)b * 16 + p->lo[t] % 16] = p->lw[t];
        }
    }
}

void zs_linear_pack_pf(zs_linear_pack *p) {
    const int64_t mean = p->I > 0 ? ((int64_t)p->start[p->I] + p->I - 1) / p->I : 0;
    p->pf = (int)(mean < 16 ? 16 : mean > 1024 ? 1024 : (mean + 15) & ~15);
}

zs_status zs_linear_pack_make(zs_linear_pack *p, const float *w, const float *bias, int O, int I,
                              int want) {
    memset(p, 0, sizeof *p);
    ZS_RETURN_IF(O < 1 || I < 1, ZS_EINVAL, "linear pack: bad shape %dx%d", O, I);
    p->I = I; p->O = O; p->Op = (O + 15) & ~15;
    int nb = p->Op / 16;
    p->bias = zs_alloc_aligned((size_t)p->Op, sizeof(float));
    if (!p->bias) goto oom;
    for (int o = 0; o < O; o++) p->bias[o] = bias ? bias[o] : 0.0f;
    if (want & ZS_LIN_EXPAND) want |= ZS_LIN_LIST;
    if (want & ZS_LIN_LIST) {
        if (O > 65536) {
            zs_linear_pack_free(p);
            return ZS_ERR(ZS_EUNSUPPORTED, "linear pack: %d outputs (the list holds at most 65536)", O);
        }
        size_t nnz = 0;
        for (size_t i = 0; i < (size_t)O * I; i++) nnz += keep(w, i);
        p->start = calloc((size_t)I + 1, sizeof(int32_t));
        p->lo = calloc(nnz + 1, sizeof(uint16_t));
        p->lw = calloc(nnz + 1, sizeof(float));
        if (!p->start || !p->lo || !p->lw) goto oom;
        size_t t = 0;
        for (int i = 0; i < I; i++) {
            p->start[i] = (int32_t)t;
            for (int o = 0; o < O; o++) {
                if (!keep(w, (size_t)o * I + i)) continue;
                p->lo[t] = (uint16_t)o;
                p->lw[t++] = w[(size_t)o * I + i];
            }
        }
        p->start[I] = (int32_t)t;
        zs_linear_pack_pf(p);
        if ((want & ZS_LIN_EXPAND) && zs_linear_pack_expand(p) != ZS_OK) goto oom;
    }
    if (want & ZS_LIN_BLOCK) {
        size_t nblk = 0;
        for (int i = 0; i < I; i++)
            for (int b = 0; b < nb; b++) {
                int any = 0;
                for (int o = b * 16; o < b * 16 + 16 && o < O; o++) any |= keep(w, (size_t)o * I + i);
                nblk += any;
            }
        p->bstart = calloc((size_t)I + 1, sizeof(int32_t));
        p->bo = calloc(nblk + 1, sizeof(int32_t));
        p->bw = zs_alloc_aligned((nblk + 1) * 16, sizeof(float));
        if (!p->bstart || !p->bo || !p->bw) goto oom;
        size_t t = 0;
        for (int i = 0; i < I; i++) {
            p->bstart[i] = (int32_t)t;
            for (int b = 0; b < nb; b++) {
                int any = 0;
                for (int o = b * 16; o < b * 16 + 16 && o < O; o++) any |= keep(w, (size_t)o * I + i);
                if (!any) continue;
                p->bo[t] = b * 16;
                for (int j = 0; j < 16; j++) {
                    int o = b * 16 + j;
                    p->bw[t * 16 + j] = o < O ? w[(size_t)o * I + i] : 0.0f;
                }
                t++;
            }
        }
        p->bstart[I] = (int32_t)t;
    }
    if (want & ZS_LIN_GATHER) {
        int gnz = 1;
        for (int o = 0; o < O; o++) {
            int c = 0;
            for (int i = 0; i < I; i++) c += keep(w, (size_t)o * I + i);
            if (c > gnz) gnz = c;
        }
        p->gnz = gnz;
        p->gi = zs_alloc_aligned((size_t)nb * gnz * 16, sizeof(int32_t)); /* zero-filled */
        p->gw = zs_alloc_aligned((size_t)nb * gnz * 16, sizeof(float));
        if (!p->gi || !p->gw) goto oom;
        for (int o = 0; o < O; o++) {
            size_t base = (size_t)(o / 16) * gnz * 16 + (size_t)(o % 16);
            int j = 0;
            for (int i = 0; i < I; i++) {
                if (!keep(w, (size_t)o * I + i)) continue;
                p->gi[base + (size_t)j * 16] = i;
                p->gw[base + (size_t)j * 16] = w[(size_t)o * I + i];
                j++;
            }
        }
    }
    if (want & ZS_LIN_DENSE) {
        p->wt = zs_alloc_aligned((size_t)I * p->Op, sizeof(float));
        if (!p->wt) goto oom;
        for (int i = 0; i < I; i++)
            for (int o = 0; o < O; o++) p->wt[(size_t)i * p->Op + o] = w[(size_t)o * I + i];
    }
    return ZS_OK;
oom:
    zs_linear_pack_free(p);
    return ZS_ERR(ZS_ENOMEM, "linear pack: out of memory");
}

/* ---------------------------------------------------------------- k-WTA select */

/* Strategy (exact, no full sort):
 *  1. n >= KWTA_MIN_N: a sample of m keys (strided, jittered) gives a
 *     bracket [lo, hi] that holds the k-th largest key with a 3.5-sigma
 *     margin (zs_kwta_bracket); smaller n: the bracket is everything.
 *  2. The ISA's streaming pass counts keys > hi and collects the keys and
 *     indices inside the bracket (in index order).
 *  3. zs_kwta_select_cands: a ternary search on the key value over the
 *     candidates (two thresholds per SIMD counting pass), compacting them
 *     whenever most fall outside the range left, then the tie split by index.
 *  If the bracket missed (the sample lied), once more with four times the
 *  margin, then everything is a candidate. */
#define KWTA_MIN_N 2048

static int sample_size(int n) { return n >= 16384 ? 1024 : 256; }

size_t zs_kwta_work_size(int n) {
    size_t nn = (size_t)(n > 0 ? n : 0);
    return (2 * (nn + 32) + 1024 + 2 * (nn / 16 + 16) + 16) * sizeof(int32_t);
}

int zs_conv_shift_fits(const zs_conv_taps *p) {
    return p->Wo <= ZS_CKP_ROW && p->W <= ZS_CKP_ROW + p->Kw - 1 &&
           (size_t)p->Kw * p->Ci * p->H * ZS_CKP_ROW <= ZS_CKP_SH;
}

int zs_conv_kwta_pool_fast(const zs_conv_taps *p, int k) {
    int n = p->Co * p->Ho * p->Wo;
    if (!zs_conv_shift_fits(p) || p->Wo < 8 || n < 4096 || k <= 0 || k >= n) return 0;
    /* the sample: rows per channel so that it holds >= 1024 units */
    int row = p->Co * p->Wo, sr = row >= 1024 ? 1 : (1024 + row - 1) / row;
    if (sr > p->Ho) sr = p->Ho;
    return (size_t)row * sr + ZS_CKP_ROW <= ZS_CKP_SAMPLE ? sr : 0;
}

size_t zs_conv_kwta_pool_work_size(int n) {
    size_t nn = (size_t)(n > 0 ? n : 0), a = zs_kwta_work_size(n);
    /* candidates (keys, indices), the sample, the candidate bits (at most
     * 4 uint16 per row of >= 8 units), then 64-byte aligned the pair tiles'
     * tail rows (ZS_CKP_SH / ZS_CKP_ROW rows of <= 16 floats) */
    size_t b = (2 * (nn + 32) + ZS_CKP_SAMPLE) * sizeof(int32_t) + (nn / 2 + 4) * sizeof(uint16_t) + 64 +
               (size_t)ZS_CKP_SH / ZS_CKP_ROW * 16 * sizeof(float);
    return a > b ? a : b;
}

/* Bisection on the key value for both ranks at once, both in the same SIMD
 * counting pass, until each side is within 2^14 keys (1/512 of a binade)
 * of its rank's key, rounded outwards (hi: count(key > hi) <= rhi; lo:
 * count(key >= lo) >= rlo + 1). Every second step the keys outside the
 * range both searches have left are dropped (a copy in tmp; those above it
 * are counted), so the later steps count few keys. The bracket only steers
 * how many candidates there are; the cut is exact whatever it is. */
void zs_kwta_bracket(const int32_t *smp, int m, int n, int k, double z, const zs_kwta_isa *isa, int32_t *tmp,
                     int32_t *lo, int32_t *hi) {
    enum { TOL = 1 << 14 };
    double q = (double)k / n, r = q * m, margin = z * sqrt(m * q * (1 - q)) + 4;
    int rhi = (int)floor(r - margin), rlo = (int)ceil(r + margin);
    int has_hi = rhi >= 0, has_lo = rlo < m;
    memcpy(tmp, smp, sizeof(int32_t) * (size_t)m);
    int mt = m, off = 0; /* keys in tmp; keys dropped above the range */
    int64_t ha = INT32_MIN, hb = INT32_MAX, la = INT32_MIN, lb = INT32_MAX;
    if (!has_hi) ha = hb;
    if (!has_lo) lb = la;
    for (int step = 1; hb - ha > TOL || lb - la > TOL; step++) {
        int64_t hm = ha + (hb - ha) / 2, lm = la + (lb - la + 1) / 2;
        int lt_h, lt_l;
        isa->count_lt2(tmp, mt, (int32_t)(hm + 1), (int32_t)lm, &lt_h, &lt_l);
        if (hb - ha > TOL) {
            if (mt - lt_h + off <= rhi) hb = hm; /* count(key > hm) <= rhi */
            else ha = hm + 1;
        }
        if (lb - la > TOL) {
            if (mt - lt_l + off >= rlo + 1) la = lm; /* count(key >= lm) >= rlo + 1 */
            else lb = lm - 1;
        }
        if (step % 2 == 0) {
            int64_t L = has_hi ? ha : la, U = has_lo ? lb : hb;
            if (has_hi && has_lo) { L = ha < la ? ha : la; U = hb > lb ? hb : lb; }
            int ab;
            mt = isa->compact(tmp, NULL, mt, (int32_t)L, (int32_t)U, &ab);
            off += ab;
        }
    }
    *hi = has_hi ? (int32_t)hb : INT32_MAX;
    *lo = has_lo ? (int32_t)la : INT32_MIN;
}

/* Invariant over the candidates left: count(key >= a) >= need >
 * count(key > b). Each counting pass splits [a, b] in three; when fewer
 * than half the candidates lie in [a, b], they are compacted to it (those
 * above b leave, need drops by their number). */
zs_kwta_cut zs_kwta_select_cands(int32_t *ck, int32_t *ci, int nc, int need, int32_t lo, int32_t hi,
                                 const zs_kwta_isa *isa) {
    if ((lo == INT32_MIN || hi == INT32_MAX) && nc >= 256) {
        /* open bracket over many: a bracket from 64 of them (at a stride)
         * cuts the candidates to those inside it when the counts confirm it */
        int32_t smp[64], tmp[64 + 16];
        for (int j = 0; j < 64; j++) smp[j] = ck[(int)((int64_t)j * nc / 64)];
        int32_t l2, h2;
        zs_kwta_bracket(smp, 64, nc, need, 3.5, isa, tmp, &l2, &h2);
        if (l2 < lo) l2 = lo;
        if (h2 > hi) h2 = hi;
        int lt_lo, le_hi;
        isa->count_lt2(ck, nc, l2, h2 == INT32_MAX ? h2 : h2 + 1, &lt_lo, &le_hi);
        if (h2 == INT32_MAX) le_hi = nc;
        int gt = nc - le_hi, in = le_hi - lt_lo; /* need - gt of the `in` inside the bracket */
        if (need - gt >= 1 && need - gt <= in) {
            int ab;
            nc = isa->compact(ck, ci, nc, l2, h2, &ab);
            need -= ab;
            lo = l2;
            hi = h2;
        }
    }
    int64_t a = lo, b = hi;
    if (lo == INT32_MIN || hi == INT32_MAX) { /* open bracket: measure it */
        int32_t kmin = INT32_MAX, kmax = INT32_MIN;
        if (nc > 0) isa->minmax(ck, nc, &kmin, &kmax);
        if (lo == INT32_MIN) a = kmin;
        if (hi == INT32_MAX) b = kmax;
    }
    int ge_a = nc, gt_b = 0; /* count(key >= a), count(key > b) among the nc */
    while (a < b) {
        int64_t d = b - a, t1 = a + (d + 2) / 3, t2 = a + (2 * d + 2) / 3;
        int l1, l2;
        isa->count_lt2(ck, nc, (int32_t)t1, (int32_t)t2, &l1, &l2);
        if (nc - l2 >= need) { a = t2; ge_a = nc - l2; }
        else if (nc - l1 >= need) { a = t1; b = t2 - 1; ge_a = nc - l1; gt_b = nc - l2; }
        else { b = t1 - 1; gt_b = nc - l1; }
        if (2 * (ge_a - gt_b) < nc) {
            int ab;
            nc = isa->compact(ck, ci, nc, (int32_t)a, (int32_t)b, &ab);
            need -= ab; /* = gt_b */
            ge_a = nc;
            gt_b = 0;
        }
    }
    /* key a: the (need - gt_b)-th tied candidate in index order is the last winner */
    zs_kwta_cut cut;
    cut.key = (int32_t)a;
    int tie = need - gt_b;
    cut.last = -1;
    for (int i = 0; i < nc; i++)
        if (ck[i] == cut.key && --tie == 0) { cut.last = ci[i]; break; }
    return cut;
}

float zs_kwta_key_float(int32_t key) {
    union { float f; int32_t i; } u;
    u.i = key ^ (int32_t)((uint32_t)(key >> 31) >> 1);
    return u.f;
}

/* nextafterf towards +inf / -inf for finite x, inline (libm's call costs
 * more than the rest of a threshold). */
static inline float next_up(float x) {
    union { float f; int32_t i; } u = {x};
    if (x == 0.0f) { u.i = 1; return u.f; }
    u.i += u.i > 0 ? 1 : -1;
    return u.f;
}
static inline float next_down(float x) { return -next_up(-x); }

/* The smallest x in [-FLT_MAX, +inf] with fl(x f) >= t (f > 0, so fl(x f)
 * is non-decreasing in x). t / f is almost always within an ulp or two of
 * it: a short walk. Where it is not (t = 0 with f below ~1e-5: every
 * negative x down to about -denorm_min / f rounds to -0 >= 0, up to 1e9
 * ulps away), bisection on the keys: 32 steps, the same answer. */
float zs_kwta_raw_ge(float t, float f) {
    t += 0.0f; /* -0 -> +0 */
    float x = t / f;
    if (isinf(x)) x = x > 0 ? FLT_MAX : -FLT_MAX;
    int n = 0;
    while (x * f < t && n < 32) x = next_up(x), n++;
    if (x * f >= t) {
        for (n = 0; n < 32; n++) {
            float d = next_down(x);
            if (isinf(d) || !(d * f >= t)) return x;
            x = d;
        }
    } else if (x * f != x * f) {
        return x; /* NaN */
    }
    int64_t lo = zs_kwta_key(-FLT_MAX), hi = zs_kwta_key(INFINITY); /* the answer is in [lo, hi] */
    if (zs_kwta_key_float((int32_t)lo) * f >= t) return -FLT_MAX;
    while (hi - lo > 1) { /* P(lo) false, P(hi) true */
        int64_t m = lo + (hi - lo) / 2;
        if (zs_kwta_key_float((int32_t)m) * f >= t) hi = m;
        else lo = m;
    }
    return zs_kwta_key_float((int32_t)hi);
}

float zs_kwta_raw_gt(float t, float f) {
    /* fl(x f) > t  <=>  fl(x f) >= the next float above t */
    return zs_kwta_raw_ge(next_up(t + 0.0f), f);
}

void zs_kwta_cut_thresholds(zs_kwta_cut cut, const float *f, int C, int S, int32_t first_unit, float *ge, float *gt,
                            int32_t *lim, zs_kwta_raw_ge_n_fn *raw_ge_n) {
    if (cut.key == INT32_MIN || cut.key == INT32_MAX) {
        for (int c = 0; c < C; c++) {
            ge[c] = gt[c] = cut.key == INT32_MIN ? -INFINITY : INFINITY;
            lim[c] = cut.key == INT32_MIN ? INT32_MAX : -1;
        }
        return;
    }
    float t = zs_kwta_key_float(cut.key);
    raw_ge_n(ge, f, C, t);
    raw_ge_n(gt, f, C, zs_kwta_key_float(cut.key + 1)); /* key > cut.key <=> key >= cut.key + 1 */
    for (int c = 0; c < C; c++) {
        int32_t first = first_unit + c * S, last = first + S - 1;
        lim[c] = cut.last >= last ? INT32_MAX : cut.last < first ? -1 : cut.last;
        if (lim[c] == INT32_MAX) gt[c] = ge[c];      /* every tie wins   */
        else if (lim[c] == -1) ge[c] = gt[c];        /* no tie wins      */
    }
}

/* Step 2 for the bracket [lo, hi]: keys > hi counted into *above, keys in
 * the bracket collected (ck, ci); returns their count or -1 past n. */
static int bracket_pass(const float *x, const float *f, int G, int S, int32_t lo, int32_t hi, int *above,
                        int32_t *ck, int32_t *ci, float *ta, float *tb, const zs_kwta_isa *isa) {
    if (isa->pass_pc && S >= 16 && lo != INT32_MIN && hi != INT32_MAX) {
        /* per-group raw thresholds: lo <= key(x f) <=> x >= ta; key(x f) > hi <=> x >= tb */
        float tlo = zs_kwta_key_float(lo);
        isa->raw_ge_n(ta, f, G, tlo);
        isa->raw_ge_n(tb, f, G, zs_kwta_key_float(hi + 1)); /* key > hi <=> key >= hi + 1 */
        return isa->pass_pc(x, f, ta, tb, G, S, above, ci, ck, G * S);
    }
    return isa->pass(x, f, G, S, lo, hi, above, ck, ci, G * S);
}

void zs_kwta_select_common(zs_kwta_cut *cut, const float *x, const float *f, int G, int S, int k,
                           void *work, const zs_kwta_isa *isa) {
    int n = G * S;
    if (k >= n) { cut->key = INT32_MIN; cut->last = n - 1; return; }
    if (k <= 0) { cut->key = INT32_MAX; cut->last = -1; return; }
    int32_t *ck = work, *ci = ck + n + 32, *smp = ci + n + 32;
    float *ta = (float *)(smp + 1024), *tb = ta + (n / 16 + 16);
    int32_t lo = INT32_MIN, hi = INT32_MAX;
    int m = 0;
    if (n >= KWTA_MIN_N) {
        /* 1. sample -> bracket: one unit of every stride, at a jittered
         * offset (a plain stride can sit in phase with a map's rows) */
        m = sample_size(n);
        int step = n / m;
        uint32_t h = 0x9E3779B9u;
        const double is = 1.0 / S;
        for (int j = 0, i0 = 0; j < m; j++, i0 += step) {
            h = h * 1664525u + 1013904223u;
            int i = i0 + (int)(((h >> 16) * (uint32_t)step) >> 16);
            int g = (int)((i + 0.5) * is); /* i / S, exact (as in conv_kwta_kern.h) */
            smp[j] = zs_kwta_key(x[i] * f[g]);
        }
        zs_kwta_bracket(smp, m, n, k, 3.5, isa, ci, &lo, &hi);
    }
    /* 2. one streaming pass */
    int above = 0;
    int nc = bracket_pass(x, f, G, S, lo, hi, &above, ck, ci, ta, tb, isa);
    int need = k - above;
    if ((nc < 0 || need < 1 || need > nc) && m) {
        /* 2'. the bracket missed: once more with four times the margin */
        zs_kwta_bracket(smp, m, n, k, 14.0, isa, ci, &lo, &hi);
        nc = bracket_pass(x, f, G, S, lo, hi, &above, ck, ci, ta, tb, isa);
        need = k - above;
    }
    if (nc < 0 || need < 1 || need > nc) {
        /* 2''. still missed: everything is a candidate */
        lo = INT32_MIN; hi = INT32_MAX;
        nc = isa->pass(x, f, G, S, lo, hi, &above, ck, ci, n);
        need = k;
    }
    /* 3. narrow down the candidates */
    *cut = zs_kwta_select_cands(ck, ci, nc, need, lo, hi, isa);
}
