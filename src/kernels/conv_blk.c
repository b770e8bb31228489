/*
 * conv_blk.c — the block layout of a sparse conv in scatter form
 * (zs_conv_scatter_pack_blocks) for conv_sparse_blk (conv_blk_kern.h):
 * per (tap, input channel) row only the 16-channel blocks that hold a
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
    for (int t = 0; t < KK; t++)
        for (int ci = 0; ci < Ci; ci++) {
            size_t r = (size_t)t * Ci + ci, j = (size_t)ci * KK + t; /* wvec row: (ci, ky, kx) */
            p->bstart[r] = (int32_t)k;
            for (int b = 0; b < nv; b++) {
                const float *w = p->wvec + j * p->Cop + 16 * b;
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
