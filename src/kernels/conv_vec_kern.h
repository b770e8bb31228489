/*
 * conv_vec_kern.h — conv_sparse_vec, one width-templated source for
 * conv_avx2.c and conv_avx512.c (the vector operations: conv_dense_kern.h).
 * Each non-zero input adds v * w[ci,ky,kx][0..Cop) into the channel-last
 * accumulator of every output it reaches (16-channel blocks without a kept
 * weight skipped: cmask), then one transpose to (Co, Ho, Wo).
 */

#define CV_BV (16 / CT_VL) /* vectors per 16-channel block */
/* unroll by CV_UNROLL (defined by the ISA file, a literal) */
#define CV_PRAGMA_(x) _Pragma(#x)
#define CV_UNROLL_(n) CV_PRAGMA_(GCC unroll n)
#define CV_UNROLL_N(n) CV_UNROLL_(n)

/* The pairs of one input: its valid taps (ky, kx) in [ky0, ky1] x [kx0, kx1];
 * accumulator rows step back by Cop as kx grows, weight rows forward. NB:
 * 16-channel blocks. */
static inline __attribute__((always_inline)) void cv_pairs(float *restrict acc, const float *restrict wvec,
                                                           const uint32_t *restrict cmask, ct_v v, int ci,
                                                           int oy0, int ox0, int ky0, int ky1, int kx0, int kx1,
                                                           int Wo, int Kh, int Kw, int Cop, const int NB,
                                                           uint32_t full) {
    for (int ky = ky0; ky <= ky1; ky++) {
        float *a = acc + ((size_t)(oy0 - ky) * Wo + (ox0 - kx0)) * Cop;
        size_t row = (size_t)(ci * Kh + ky) * Kw + kx0;
        const float *w = wvec + row * Cop;
        const uint32_t *cm = cmask + row;
        for (int kx = kx0; kx <= kx1; kx++, a -= Cop, w += Cop, cm++) {
            uint32_t m = *cm;
            if (m == full) {
                CV_UNROLL_N(CV_UNROLL)
                for (int j = 0; j < CV_BV * NB; j++)
                    CT_STORE(a + CT_VL * j, CT_FMA(v, CT_LOAD(w + CT_VL * j), CT_LOAD(a + CT_VL * j)));
            } else {
                /* block-structured weights: only the 16-channel blocks with a kept weight */
                while (m) {
                    int j = 16 * __builtin_ctz(m);
                    m &= m - 1;
                    for (int i = 0; i < CV_BV; i++)
                        CT_STORE(a + j + CT_VL * i,
                                 CT_FMA(v, CT_LOAD(w + j + CT_VL * i), CT_LOAD(a + j + CT_VL * i)));
                }
            }
        }
    }
}

#define CV_PAIRS(NB) cv_pairs(acc, wvec, cmask, v, ci, iy + pad, ix + pad, ky0, ky1, kx0, kx1, Wo, Kh, Kw, Cop, NB, full)

static inline __attribute__((always_inline)) void cv_sparse_vec(float *out, const int32_t *idx, const float *val,
                                                                int n, const zs_conv_scatter *p, float *acc) {
    const int Ho = p->Ho, Wo = p->Wo, Cop = p->Cop, Kh = p->Kh, Kw = p->Kw, HW = p->H * p->W, nb = Cop / 16;
    const int pad = p->pad;
    const int32_t *cy = p->cy, *cx = p->cx;
    const float *wvec = p->wvec;
    const uint32_t *cmask = p->cmask;
    /* more than 32 blocks: cmask bits alias, every block is visited */
    const uint32_t full = nb >= 32 ? 0xFFFFFFFFu : (1u << nb) - 1u;
    for (int j = 0; j < Cop / CT_VL; j++) {
        ct_v b = CT_LOADT(p->bias + CT_VL * j, p->Co - CT_VL * j);
        for (int q = 0; q < Ho * Wo; q++) CT_STORE(acc + (size_t)q * Cop + CT_VL * j, b);
    }
    int ci = 0;
    for (int e = 0; e < n; e++) {
        while (idx[e] >= (ci + 1) * HW) ci++;
        int pos = idx[e] - ci * HW, iy = cy[pos], ix = cx[pos];
        ct_v v = CT_SET1(val[e]);
        int ky0, ky1, kx0, kx1;
        zs_conv_tap_range(iy, pad, Kh, Ho, &ky0, &ky1);
        zs_conv_tap_range(ix, pad, Kw, Wo, &kx0, &kx1);
        if (nb == 4)
            CV_PAIRS(4);
        else if (nb > 32) {
            for (int ky = ky0; ky <= ky1; ky++)
                for (int kx = kx0; kx <= kx1; kx++) {
                    float *a = acc + ((size_t)(iy + pad - ky) * Wo + (ix + pad - kx)) * Cop;
                    const float *w = wvec + ((size_t)(ci * Kh + ky) * Kw + kx) * Cop;
                    for (int j = 0; j < CV_BV * nb; j++)
                        CT_STORE(a + CT_VL * j, CT_FMA(v, CT_LOAD(w + CT_VL * j), CT_LOAD(a + CT_VL * j)));
                }
        } else
            switch (nb) {
            case 1: CV_PAIRS(1); break;
            case 2: CV_PAIRS(2); break;
            case 3: CV_PAIRS(3); break;
            default: CV_PAIRS(nb); break;
            }
    }
    zs_conv_unpack_acc(out, acc, p->Co, Ho * Wo, Cop);
}

#undef CV_PAIRS
#undef CV_BV
#undef CV_PRAGMA_
#undef CV_UNROLL_
#undef CV_UNROLL_N
