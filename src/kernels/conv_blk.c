/*
 * conv_blk.c — the block layout of a sparse conv in scatter form
 * (zs_conv_scatter_pack_blocks) for conv_sparse_blk (conv_blk_kern.h):
 * per (input channel, tap) row only the 16-channel blocks that hold a
 * non-zero weight, with their 16 weights. Masks with "structure": "block"
 * or "complementary" with 16-unit blocks (docs/ARCHITECTURE.md) keep whole
 * blocks, so every loaded weight vector is useful; for random masks almost
 * every block holds a weight and the plan does not use this layout.
 */
#include "kernels.h"

zs_status zs_conv_scatter_pack_blocks(zs_conv_scatter *p, double *frac) {
    ZS_RETURN_IF(!p || !p->wvec, ZS_EINVAL, "conv block pack: needs the vec layout");
    free(p->bstart); free(p->boff); zs_free_aligned(p->bw);
    p->bstart = p->boff = NULL; p->bw = NULL;
    const int Ci = p->Ci, KK = p->Kh * p->Kw, nv = p->Cop / 16;
    const size_t T = (size_t)Ci * KK;
    size_t nb = 0;
    for (size_t j = 0; j < T; j++)
        for (int b = 0; b < nv; b++) {
            const float *w = p->wvec + j * p->Cop + 16 * b;
            int any = 0;
            for (int l = 0; l < 16; l++) any |= w[l] != 0.0f;
            nb += (size_t)any;
        }
    if (frac) *frac = T ? (double)nb / ((double)T * nv) : 1.0;
    ZS_RETURN_IF(nb > INT32_MAX / 16, ZS_ELIMIT, "conv block pack: too many blocks");
    p->bstart = malloc(sizeof(int32_t) * (T + 1));
    p->boff = malloc(sizeof(int32_t) * (nb + 1));
    p->bw = zs_alloc_aligned(16 * (nb + 1), sizeof(float));
    if (!p->bstart || !p->boff || !p->bw) {
        free(p->bstart); free(p->boff); zs_free_aligned(p->bw);
        p->bstart = p->boff = NULL; p->bw = NULL;
        return ZS_ERR(ZS_ENOMEM, "conv block pack: out of memory");
    }
    size_t k = 0;
    for (size_t r = 0; r < T; r++) { /* row r = (ci, ky, kx), as wvec's */
        p->bstart[r] = (int32_t)k;
        for (int b = 0; b < nv; b++) {
            const float *w = p->wvec + r * p->Cop + 16 * b;
            int any = 0;
            for (int l = 0; l < 16; l++) any |= w[l] != 0.0f;
            if (!any) continue;
            p->boff[k] = 16 * b;
            memcpy(p->bw + 16 * k, w, sizeof(float) * 16);
            k++;
        }
    }
    p->bstart[T] = (int32_t)k;
    return ZS_OK;
}

zs_status zs_conv_scatter_pack_routed(zs_conv_scatter *p) {
    ZS_RETURN_IF(!p || !p->wvec, ZS_EINVAL, "conv routed pack: needs the vec layout");
    free(p->rt_cls); free(p->rt_blk); zs_free_aligned(p->rt_w);
    p->rt_cls = NULL; p->rt_blk = NULL; p->rt_w = NULL; p->rt_nc = 0;
    const int Ci = p->Ci, Kh = p->Kh, Kw = p->Kw, G = p->Cop / 16;
    if (G < 1 || G > 4 || p->Cop % 16) return ZS_OK;
    int32_t *cls = malloc(sizeof(int32_t) * (size_t)Ci);
    uint8_t *rb = malloc((size_t)Ci * Kh), *blk = malloc((size_t)ZS_ROUTED_NC * Kh);
    if (!cls || !rb || !blk) {
        free(cls); free(rb); free(blk);
        return ZS_ERR(ZS_ENOMEM, "conv routed pack: out of memory");
    }
    /* the block of each kernel row (ci, ky): the one 16-channel block
     * holding its non-zeros for every kx (a row without any: block 0) */
    int ok = 1;
    for (int ci = 0; ok && ci < Ci; ci++)
        for (int ky = 0; ok && ky < Kh; ky++) {
            int b = -1;
            for (int kx = 0; ok && kx < Kw; kx++) {
                const float *w = p->wvec + ((size_t)(ci * Kh + ky) * Kw + kx) * p->Cop;
                for (int o = 0; o < p->Cop; o++)
                    if (w[o] != 0.0f) {
                        if (b < 0) b = o / 16;
                        else if (b != o / 16) { ok = 0; break; }
                    }
            }
            rb[ci * Kh + ky] = (uint8_t)(b < 0 ? 0xff : b); /* 0xff: no weight, any block */
        }
    /* classes: block sequences over the kernel rows; a channel joins the
     * first class that agrees with it on every row where both have a block
     * (filling the class's open rows), else opens a new one */
    int nc = 0;
    for (int ci = 0; ok && ci < Ci; ci++) {
        const uint8_t *q = rb + ci * Kh;
        int c = 0;
        for (; c < nc; c++) {
            const uint8_t *t = blk + c * Kh;
            int agree = 1;
            for (int ky = 0; agree && ky < Kh; ky++) agree = q[ky] == 0xff || t[ky] == 0xff || q[ky] == t[ky];
            if (agree) break;
        }
        if (c == nc) {
            if (nc == ZS_ROUTED_NC) { ok = 0; break; }
            memset(blk + nc++ * Kh, 0xff, (size_t)Kh);
        }
        for (int ky = 0; ky < Kh; ky++)
            if (q[ky] != 0xff) blk[c * Kh + ky] = q[ky];
        cls[ci] = c;
    }
    for (int i = 0; i < nc * Kh; i++)
        if (blk[i] == 0xff) blk[i] = 0;
    const int KP = Kw + 2; /* a zero row before kx = 0 and after kx = Kw - 1 */
    float *rw = ok ? zs_alloc_aligned((size_t)Ci * Kh * KP * 16 + 16, sizeof(float)) : NULL;
    free(rb);
    if (!ok || !rw) {
        free(cls); free(blk);
        return ok ? ZS_ERR(ZS_ENOMEM, "conv routed pack: out of memory") : ZS_OK;
    }
    memset(rw, 0, sizeof(float) * ((size_t)Ci * Kh * KP * 16 + 16));
    for (int ci = 0; ci < Ci; ci++)
        for (int ky = 0; ky < Kh; ky++)
            for (int kx = 0; kx < Kw; kx++) {
                size_t r = (size_t)(ci * Kh + ky) * Kw + kx;
                memcpy(rw + ((size_t)(ci * Kh + ky) * KP + kx + 1) * 16,
                       p->wvec + r * p->Cop + 16 * blk[cls[ci] * Kh + ky], sizeof(float) * 16);
            }
    p->rt_nc = nc;
    p->rt_cls = cls;
    p->rt_blk = blk;
    p->rt_w = rw;
    return ZS_OK;
}
