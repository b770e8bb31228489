/*
 * conv_dense_kern.h — conv_dense's tiles, one width-templated source for
 * conv_avx2.c and conv_avx512.c (included once by each). Per output
 * channel, a tile of R rows x V vectors (R*V <= 8 accumulators in
 * registers) walks the channel's tap list: broadcast weight, unaligned row
 * loads, FMA; the last vector of a row uses masked (fault-suppressing) loads
 * and stores. The includer defines:
 *   cd_v, cd_mask                  vector and tail-mask types
 *   CD_VL                          floats per vector
 *   CD_VMAX                        vectors per row of a tile (at most 4)
 *   CD_TAIL(rem)                   the mask of the first rem lanes
 *   CD_SET1(a), CD_FMA(a, b, c)    broadcast, a * b + c
 *   CD_LOADU(p), CD_STOREU(p, v)   unaligned load and store
 *   CD_LOADT(p, m), CD_STORET(p, m, v)   masked load and store
 * and calls cd_dense.
 */

static inline __attribute__((always_inline)) void cd_tile(float *op, const float *ib, const int32_t *off,
                                                          const float *w, int nt, float b, int W, int Wo,
                                                          const int R, const int V, cd_mask ml) {
    cd_v acc[8];
#pragma GCC unroll 8
    for (int j = 0; j < R * V; j++) acc[j] = CD_SET1(b);
    for (int t = 0; t < nt; t++) {
        cd_v wv = CD_SET1(w[t]);
        const float *q = ib + off[t];
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
#pragma GCC unroll 4
            for (int v = 0; v < V; v++) {
                cd_v x = v == V - 1 ? CD_LOADT(q + r * W + CD_VL * v, ml) : CD_LOADU(q + r * W + CD_VL * v);
                acc[r * V + v] = CD_FMA(wv, x, acc[r * V + v]);
            }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < V; v++) {
            if (v == V - 1) CD_STORET(op + r * Wo + CD_VL * v, ml, acc[r * V + v]);
            else CD_STOREU(op + r * Wo + CD_VL * v, acc[r * V + v]);
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
            int rem = Wo - x0, V = (rem + CD_VL - 1) / CD_VL > CD_VMAX ? CD_VMAX : (rem + CD_VL - 1) / CD_VL;
            int rmax = V >= 3 ? 2 : V == 2 ? 4 : 8;
            cd_mask ml = CD_TAIL(rem - CD_VL * (V - 1));
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
