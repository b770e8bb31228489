/*
 * conv_dense_kern.h — conv_dense's tiles, one width-templated source for
 * conv_avx2.c and conv_avx512.c (included once by each). Per output
 * channel, a tile of R rows x V vectors (R*V <= 8 accumulators in
 * registers) walks the channel's tap list: broadcast weight, unaligned row
 * loads, FMA; the last vector of a row uses masked (fault-suppressing) loads
 * and stores.
 *
 * The vector operations, defined by the ISA file before it includes this
 * file, conv_vec_kern.h and conv_tap_kern.h:
 *   ct_v, ct_mask               float vector and tail-mask types
 *   CT_VL                       floats per vector
 *   CT_TAIL(rem)                the mask of the first rem lanes (rem <= 0: none)
 *   CT_SET1(a), CT_FMA(a, b, c) broadcast, fused a * b + c
 *   CT_LOAD(p), CT_STORE(p, v)  aligned load / store
 *   CT_LOADU(p), CT_STOREU(p, v)          unaligned load / store
 *   CT_LOADM(p, m), CT_STOREM(p, m, v)    masked load (others 0) / store
 *   CT_LOADT(p, rem)            CT_LOADM(p, CT_TAIL(rem))
 * and here CD_VMAX, the vectors per row of a tile (at most 4).
 */

static inline __attribute__((always_inline)) void cd_tile(float *op, const float *ib, const int32_t *off,
                                                          const float *w, int nt, float b, int W, int Wo,
                                                          const int R, const int V, ct_mask ml) {
    ct_v acc[8];
#pragma GCC unroll 8
    for (int j = 0; j < R * V; j++) acc[j] = CT_SET1(b);
    for (int t = 0; t < nt; t++) {
        ct_v wv = CT_SET1(w[t]);
        const float *q = ib + off[t];
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
#pragma GCC unroll 4
            for (int v = 0; v < V; v++) {
                ct_v x = v == V - 1 ? CT_LOADM(q + r * W + CT_VL * v, ml) : CT_LOADU(q + r * W + CT_VL * v);
                acc[r * V + v] = CT_FMA(wv, x, acc[r * V + v]);
            }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) {
            if (v == V - 1) CT_STOREM(op + r * Wo + CT_VL * v, ml, acc[r * V + v]);
            else CT_STOREU(op + r * Wo + CT_VL * v, acc[r * V + v]);
        }
}

#define CD_TILE(R, V) cd_tile(op + oy * Wo + x0, in + oy * W + x0, off, w, nt, b, W, Wo, R, V, ml)

/* Row tiles of up to 32 columns: V vectors of the tile's columns, then as
 * many rows as 8 accumulators allow, the rows spread evenly. */
static inline __attribute__((always_inline)) void cd_dense(float *out, const float *in, const zs_conv_taps *p) {
    int Ho = p->Ho, Wo = p->Wo, W = p->W;
    for (int o = 0; o < p->Co; o++) {
        float *op = out + (size_t)o * Ho * Wo, b = p->bias[o];
        const int32_t *off = p->off + p->start[o];
        const float *w = p->w + p->start[o];
        int nt = p->start[o + 1] - p->start[o];
        for (int x0 = 0; x0 < Wo; x0 += 32) {
            int rem = Wo - x0, V = (rem + CT_VL - 1) / CT_VL > CD_VMAX ? CD_VMAX : (rem + CT_VL - 1) / CT_VL;
            int rmax = V >= 3 ? 2 : V == 2 ? 4 : 8;
            ct_mask ml = CT_TAIL(rem - CT_VL * (V - 1));
            int nblk = (Ho + rmax - 1) / rmax, R = (Ho + nblk - 1) / nblk;
            for (int oy = 0; oy < Ho; oy += R) {
                int r = Ho - oy < R ? Ho - oy : R;
#if CD_VMAX >= 4
                if (V == 4) {
                    if (r == 2) CD_TILE(2, 4); else CD_TILE(1, 4);
                } else
#endif
#if CD_VMAX >= 3
                if (V == 3) {
                    if (r == 2) CD_TILE(2, 3); else CD_TILE(1, 3);
                } else
#endif
                if (V == 2) {
                    switch (r) {
                    case 4: CD_TILE(4, 2); break;
                    case 3: CD_TILE(3, 2); break;
                    case 2: CD_TILE(2, 2); break;
                    default: CD_TILE(1, 2); break;
                    }
                } else {
                    switch (r) {
                    case 8: CD_TILE(8, 1); break;
                    case 7: CD_TILE(7, 1); break;
                    case 6: CD_TILE(6, 1); break;
                    case 5: CD_TILE(5, 1); break;
                    case 4: CD_TILE(4, 1); break;
                    case 3: CD_TILE(3, 1); break;
                    case 2: CD_TILE(2, 1); break;
                    default: CD_TILE(1, 1); break;
                    }
                }
            }
        }
    }
}

#undef CD_TILE
