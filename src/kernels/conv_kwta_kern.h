/*
 * conv_kwta_kern.h — conv_kwta_pool, the fused first stage of gsc-sparse
 * (conv on a small dense input, BatchNorm folded, global k-WTA with a
 * positive boost factor per channel, ties to the lower flat index, 2x2/2
 * max-pool), one source for every vector width. Included by kwta_avx2.c
 * and kwta_avx512.c after they define, for their width CK_VL (floats per
 * vector):
 *   ck_v                         float vector type
 *   CK_RMAX                      rows per register tile (CK_RMAX * 32 / CK_VL
 *                                accumulators)
 *   CK_PF                        0, or F: rows of F full vectors and a tail
 *                                of at most CK_VL / 2 lanes run in tiles of
 *                                4 rows whose tails share vectors by pairs
 *                                (4 * F + 2 accumulators)
 *   CK_LOAD(p), CK_SET1(a)       aligned load, broadcast
 *   CK_LOADN(p, n), CK_STORE(p, v)  load of the first n lanes (others 0; n <=
 *                                0: none), aligned store
 *   CK_FMA(a, b, c)              a * b + c, fused (as conv_dense does it)
 *   ck_m, CK_MASKN(n)            lane mask type; the first n lanes (n <= 0:
 *                                none, n >= CK_VL: all)
 *   CK_STOREU(p, v)              unaligned store of all CK_VL lanes
 *   ck_bits(y, ta, tb, m, &above)
 *                                lanes j in m: count y >= tb into above;
 *                                returns the bits of the lanes with
 *                                ta <= y < tb (the candidates)
 *   or CK_TILE_CNT, for ck_tile's epilogue: ck_tcnt, CK_TCNT_ZERO(),
 *                                ck_bitsc(y, ta, tb, m, &cnt) (ck_bits
 *                                counting into a vector), ck_tcnt_sum(c)
 *   with CK_PF, for the 4-row tiles: ck_cnt, CK_CNT_ZERO(), ck_cnt_sum(c)
 *                                a count kept in a vector, its total;
 *                                CK_MASKV(n) the first n lanes as a
 *                                vector; ck_bitsv(y, ta, tb, &cnt) and
 *                                ck_bitsm(y, ta, tb, mv, &cnt): ck_bits on
 *                                all lanes / the lanes of mv, counting
 *                                into cnt
 *   ck_collect(y, fc, i0, bits, ck, ci)
 *                                the lanes j in bits of the CK_VL floats at
 *                                y: keys zs_kwta_key(y[j] * fc) to ck and
 *                                indices i0 + j to ci (compressed, in lane
 *                                order; writes CK_VL entries); returns how
 *                                many
 *   ck_keys(dst, y, fc)          the CK_VL keys zs_kwta_key(y * fc) to dst
 *   CK_ISA                       the ISA's zs_kwta_isa (counting, compaction,
 *                                raw thresholds)
 *   CK_FN                        the name to define (zs_conv_kwta_pool_fn)
 *   CK_CONV_DENSE, CK_KWTA_SELECT, CK_KWTA_POOL
 *                                the ISA's conv_dense, kwta_select, kwta_pool
 *
 * Bits: the same as CK_CONV_DENSE into a map, CK_KWTA_SELECT on it and
 * CK_KWTA_POOL (which runs here, on the map, with the cut found):
 *  - every output is bias, then one FMA per kept tap in packing order,
 *    as conv_dense sums it (only the tiling differs);
 *  - the cut is exact: a bracket [lo, hi] of keys from a sample (one row of
 *    every channel, computed first: a few hundred FMAs), then, in the conv
 *    tile's epilogue while the outputs are in registers, the count of keys
 *    above hi and a bit per in-bracket candidate (raw per-channel
 *    thresholds, zs_kwta_raw_ge: two compares per vector, no multiply or
 *    key per unit); then every vector is read back from the map and the
 *    candidates' keys and indices compressed in index order (no branch on
 *    which vectors hold one); zs_kwta_select_cands ranks them. When the bracket missed
 *    (the sample lied), CK_KWTA_SELECT runs on the map;
 *  - the map is written once (it stays in L2, rows stored whole: a row's
 *    last vector spills into the next row, which is stored after it, or
 *    into the map's slack), read once by the collection and once by the
 *    pool.
 * So the 50,176-unit map is never re-read for the selection and no winners
 * list is built. Inputs the fast path does not fit (wide rows, big inputs,
 * small maps) run the three kernels one after the other.
 */
#include "kernels.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

enum { CK_RS = ZS_CKP_ROW, CK_NV = CK_RS / CK_VL, CK_SH_MAX = ZS_CKP_SH };

/* Kw copies of the input, copy kx shifted left by kx, rows padded to CK_RS
 * floats (lanes past the row 0): tap t of the packing reads them at
 * p->soff[t] (made at packing), so every load of a tap is aligned. The
 * caller checked the sizes (zs_conv_shift_fits). */
static inline void ck_shift(float *sh, const float *in, const zs_conv_taps *p) {
    const int Ci = p->Ci, H = p->H, W = p->W, Kw = p->Kw;
    for (int kx = 0; kx < Kw; kx++)
        for (int r = 0; r < Ci * H; r++) {
            float *d = sh + ((size_t)kx * Ci * H + r) * CK_RS;
            const float *src = in + (size_t)r * W + kx;
            for (int v = 0; v < CK_NV; v++) CK_STORE(d + CK_VL * v, CK_LOADN(src + CK_VL * v, W - kx - CK_VL * v));
        }
}

/* R rows x CK_NV vectors of one channel's sums from the shifted copies:
 * bias, then one FMA per tap in tap order (conv_dense's sums). */
static inline __attribute__((always_inline)) void ck_sums(ck_v (*acc)[CK_NV], const float *sh, const int32_t *so,
                                                          const float *w, int nt, float b, const int R) {
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < CK_NV; v++) acc[r][v] = CK_SET1(b);
    for (int t = 0; t < nt; t++) {
        ck_v wv = CK_SET1(w[t]);
        const float *q = sh + so[t];
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
#pragma GCC unroll 4
            for (int v = 0; v < CK_NV; v++) acc[r][v] = CK_FMA(wv, CK_LOAD(q + CK_RS * r + CK_VL * v), acc[r][v]);
    }
}

/* R rows x CK_NV vectors of one channel: sums, then the epilogue: store to
 * the map, count against the bracket and note the candidates' lanes in cb
 * (CK_NV entries per row; those past the row, v >= nv, are never read).
 * vm[v]: the lanes of vector v inside the row (CK_NV - nv vectors lie past
 * it). */
static inline __attribute__((always_inline)) void ck_tile(float *op, const float *sh, const int32_t *so,
                                                          const float *w, int nt, float b, int Wo, const int R,
                                                          int nv, const ck_m *vm, ck_v ta, ck_v tb, int *above,
                                                          uint16_t *cb) {
    ck_v acc[CK_RMAX][CK_NV];
    ck_sums(acc, sh, so, w, nt, b, R);
#ifdef CK_TILE_CNT
    ck_tcnt cnt = CK_TCNT_ZERO();
#define CK_TB_(y, m) ck_bitsc((y), ta, tb, (m), &cnt)
#else
    int ab = 0;
#define CK_TB_(y, m) ck_bits((y), ta, tb, (m), &ab)
#endif
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < CK_NV; v++) {
            if (v >= nv) break;
            CK_STOREU(op + r * Wo + CK_VL * v, acc[r][v]);
            cb[r * CK_NV + v] = (uint16_t)CK_TB_(acc[r][v], vm[v]);
        }
#undef CK_TB_
#ifdef CK_TILE_CNT
    *above += ck_tcnt_sum(cnt);
#else
    *above += ab;
#endif
}

#if CK_PF > 0
/* 4 rows x CK_PF full vectors of one channel, and the rows' tails (T <=
 * CK_VL / 2 lanes each) by pairs in 2 vectors: rows r, r + 1 in lanes [0,
 * T) and [T, 2 T), loaded from tp (per input row, its tail and the next
 * row's, CK_VL floats). Same sums, one FMA per tap in tap order. Stores,
 * each of whole vectors: the pair's tail at row r's tail (spilling into row
 * r + 1), then T lanes early at row r + 1's (its first T lanes land on row
 * r + 1's last full vector), then row r + 1's full vectors. */
static inline __attribute__((always_inline)) void ck_tile4(float *op, const float *sh, const float *tp,
                                                           const int32_t *so, const float *w,
                                                           int nt, float b, int Wo, int T, ck_v ta, ck_v tb,
                                                           int *above, uint16_t *cb) {
    ck_v acc[4][CK_PF], tl[2];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++)
#pragma GCC unroll 4
        for (int v = 0; v < CK_PF; v++) acc[r][v] = CK_SET1(b);
    tl[0] = tl[1] = CK_SET1(b);
    for (int t = 0; t < nt; t++) {
        ck_v wv = CK_SET1(w[t]);
        /* row so[t] / CK_RS of the tail rows (so[t]: a multiple of CK_RS) */
        const float *q = sh + so[t], *qt = tp + (uint32_t)so[t] / (CK_RS / CK_VL);
#pragma GCC unroll 4
        for (int r = 0; r < 4; r++)
#pragma GCC unroll 4
            for (int v = 0; v < CK_PF; v++) acc[r][v] = CK_FMA(wv, CK_LOAD(q + CK_RS * r + CK_VL * v), acc[r][v]);
        tl[0] = CK_FMA(wv, CK_LOAD(qt), tl[0]);
        tl[1] = CK_FMA(wv, CK_LOAD(qt + 2 * CK_VL), tl[1]);
    }
    const ck_v mt = CK_MASKV(2 * T);
    const unsigned lo = (1u << T) - 1;
    ck_cnt ab = CK_CNT_ZERO();
#pragma GCC unroll 2
    for (int j = 0; j < 2; j++) {
        float *r0 = op + 2 * j * Wo, *r1 = r0 + Wo;
        uint16_t *c0 = cb + 2 * j * CK_NV, *c1 = c0 + CK_NV;
        unsigned bt = ck_bitsm(tl[j], ta, tb, mt, &ab);
        CK_STOREU(r0 + CK_VL * CK_PF, tl[j]);
        CK_STOREU(r1 + CK_VL * CK_PF - T, tl[j]);
#pragma GCC unroll 4
        for (int v = 0; v < CK_PF; v++) {
            CK_STOREU(r0 + CK_VL * v, acc[2 * j][v]);
            c0[v] = (uint16_t)ck_bitsv(acc[2 * j][v], ta, tb, &ab);
        }
#pragma GCC unroll 4
        for (int v = 0; v < CK_PF; v++) {
            CK_STOREU(r1 + CK_VL * v, acc[2 * j + 1][v]);
            c1[v] = (uint16_t)ck_bitsv(acc[2 * j + 1][v], ta, tb, &ab);
        }
        c0[CK_PF] = (uint16_t)(bt & lo);
        c1[CK_PF] = (uint16_t)(bt >> T & lo);
    }
    *above += ck_cnt_sum(ab);
}
#endif

/* CK_RMAX sample rows at once (independent FMA chains): the keys of row
 * ys[g] of channel cs[g], g < ng, to dst + g * Wo, in order (a row's
 * CK_NV * CK_VL - Wo lanes past its end are overwritten by the next). The
 * sample only steers the bracket: a missing tap adds 0 * x. */
static inline void ck_sample_rows(int32_t *dst, const float *sh, const int32_t *so, const zs_conv_taps *p,
                                  const float *f, int Wo, const int *cs, const int *ys, int ng) {
    ck_v acc[CK_RMAX][CK_NV];
    const float *q[CK_RMAX], *w[CK_RMAX];
    const int32_t *o[CK_RMAX];
    int nt[CK_RMAX], ntm = 0;
#pragma GCC unroll 8
    for (int g = 0; g < CK_RMAX; g++) {
        int c = cs[g < ng ? g : 0];
        q[g] = sh + (size_t)ys[g < ng ? g : 0] * CK_RS;
        o[g] = so + p->start[c];
        w[g] = p->w + p->start[c];
        nt[g] = p->start[c + 1] - p->start[c];
        ntm = nt[g] > ntm ? nt[g] : ntm;
#pragma GCC unroll 4
        for (int v = 0; v < CK_NV; v++) acc[g][v] = CK_SET1(p->bias[c]);
    }
    for (int t = 0; t < ntm; t++)
#pragma GCC unroll 8
        for (int g = 0; g < CK_RMAX; g++) {
            ck_v wv = CK_SET1(t < nt[g] ? w[g][t] : 0.0f);
            const float *qq = q[g] + (t < nt[g] ? o[g][t] : 0);
#pragma GCC unroll 4
            for (int v = 0; v < CK_NV; v++) acc[g][v] = CK_FMA(wv, CK_LOAD(qq + CK_VL * v), acc[g][v]);
        }
    for (int g = 0; g < ng; g++)
        for (int v = 0; v < CK_NV; v++) ck_keys(dst + g * Wo + CK_VL * v, acc[g][v], f[cs[g]]);
}

void CK_FN(float *out, const float *in, const zs_conv_taps *p, const float *f, int k, void *work, float *map) {
    const int Co = p->Co, Ho = p->Ho, Wo = p->Wo;
    const int HWo = Ho * Wo, n = Co * HWo;
    int sr = zs_conv_kwta_pool_fast(p, k), m = Co * sr * Wo;
    if (!sr) {
        CK_CONV_DENSE(map, in, p);
        zs_kwta_cut cut;
        CK_KWTA_SELECT(&cut, map, f, Co, HWo, k, work);
        CK_KWTA_POOL(out, map, f, Co, Ho, Wo, cut);
        return;
    }
    float sh[CK_SH_MAX] __attribute__((aligned(64)));
    const int32_t *so = p->soff;
    ck_shift(sh, in, p);
    /* work: candidates (keys, indices), the sample, the candidate bits
     * (CK_NV per row), then (AVX2) the pair tiles' tail rows */
    int32_t *ck = work, *ci = ck + n + 32, *smp = ci + n + 32;
    uint16_t *cb = (uint16_t *)(smp + ZS_CKP_SAMPLE);
#if CK_PF > 0
    /* rows of CK_PF full vectors and a tail of T <= CK_VL / 2 lanes: 4-row
     * tiles (ck_tile4) on tp, per input row of copy kx its tail and the next
     * row's (0 past the copy) */
    const int T = Wo - CK_VL * CK_PF, pairs = T > 0 && 2 * T <= CK_VL && Ho >= 4;
    /* in work, 64-byte aligned past the candidate bits (zs_conv_kwta_pool_work_size);
     * tap t's tail row: so[t] / CK_RS (ck_tile4) */
    float *tp = (float *)(((uintptr_t)(cb + n / 2 + 4) + 63) & ~(uintptr_t)63);
    if (pairs) {
        const int nr = p->Kw * p->Ci * p->H;
        memset(tp, 0, sizeof(float) * (size_t)nr * CK_VL);
        for (int r = 0; r < nr; r++) {
            const float *row = sh + (size_t)r * CK_RS + CK_VL * CK_PF;
            memcpy(tp + (size_t)r * CK_VL, row, sizeof(float) * (size_t)T);
            if (r + 1 < nr) memcpy(tp + (size_t)r * CK_VL + T, row + CK_RS, sizeof(float) * (size_t)T);
        }
    }
#endif
    /* 1. the sample: rows (c * 11 + 5 + j * Ho / sr) mod Ho of every channel */
    {
        int cs[CK_RMAX], ys[CK_RMAX], ng = 0, e = 0;
        for (int c = 0; c < Co; c++)
            for (int j = 0; j < sr; j++) {
                cs[ng] = c;
                ys[ng++] = (c * 11 + 5 + j * (Ho / sr)) % Ho;
                if (ng == CK_RMAX || (c == Co - 1 && j == sr - 1)) {
                    ck_sample_rows(smp + e, sh, so, p, f, Wo, cs, ys, ng);
                    e += ng * Wo;
                    ng = 0;
                }
            }
    }
    int32_t lo, hi;
    zs_kwta_bracket(smp, m, n, k, 3.5, CK_ISA, ck, &lo, &hi);
    float tlo = zs_kwta_key_float(lo);
    /* 2. the conv, tile by tile; the epilogue counts and collects */
    int above = 0, nc = 0, nv = (Wo + CK_VL - 1) / CK_VL;
    ck_m vm[CK_NV];
    for (int v = 0; v < CK_NV; v++) vm[v] = CK_MASKN(Wo - CK_VL * v);
    const int nblk = (Ho + CK_RMAX - 1) / CK_RMAX, R = (Ho + nblk - 1) / nblk;
    float tab[2][64];
    for (int c = 0; c < Co; c++) {
        /* key(y f) >= lo <=> y >= ta; key(y f) > hi <=> y >= tb (NaN: never) */
        if (c % 64 == 0) {
            int nb = Co - c < 64 ? Co - c : 64;
            CK_ISA->raw_ge_n(tab[0], f + c, nb, tlo);
            CK_ISA->raw_ge_n(tab[1], f + c, nb, zs_kwta_key_float(hi == INT32_MAX ? hi : hi + 1));
        }
        ck_v ta = CK_SET1(lo == INT32_MIN ? -INFINITY : tab[0][c % 64]);
        ck_v tb = CK_SET1(hi == INT32_MAX ? NAN : tab[1][c % 64]);
        float *op = map + (size_t)c * HWo, b = p->bias[c];
        const int32_t *sc = so + p->start[c];
        const float *w = p->w + p->start[c];
        int nt = p->start[c + 1] - p->start[c];
        int oy = 0;
#if CK_PF > 0
        if (pairs)
            for (; oy + 4 <= Ho; oy += 4)
                ck_tile4(op + (size_t)oy * Wo, sh + (size_t)oy * CK_RS, tp + (size_t)oy * CK_VL, sc,
                         w, nt, b, Wo, T, ta, tb, &above,
                         cb + ((size_t)c * Ho + oy) * CK_NV);
#endif
        for (; oy < Ho; oy += R) {
            int r = Ho - oy < R ? Ho - oy : R;
            const float *shr = sh + (size_t)oy * CK_RS;
            float *opr = op + (size_t)oy * Wo;
            uint16_t *cbr = cb + ((size_t)c * Ho + oy) * CK_NV;
#define CK_T_(RR) ck_tile(opr, shr, sc, w, nt, b, Wo, RR, nv, vm, ta, tb, &above, cbr)
            switch (r) {
#if CK_RMAX >= 7
            case 7: CK_T_(7); break;
            case 6: CK_T_(6); break;
            case 5: CK_T_(5); break;
            case 4: CK_T_(4); break;
#endif
            case 3: CK_T_(3); break;
            case 2: CK_T_(2); break;
            default: CK_T_(1); break;
            }
#undef CK_T_
        }
    }
    /* 3. the candidates, in index order: row r (channel r / Ho) holds
     * entries r * CK_NV + v, v < nv, the vectors at flat index r * Wo + v *
     * CK_VL. Per channel, first the list of its vectors holding a
     * candidate (no branch on which do: data, mispredicted; measured on Zen
     * 3: 5,090 -> 5,390 words/s end to end without it): when the rows have
     * no entry past their end (nv == CK_NV), CK_VLIST_STEP entries at a time
     * by ck_vlist, the rest one by one; then those vectors collected. Ho <=
     * H <= ZS_CKP_SH / ZS_CKP_ROW (zs_conv_kwta_pool_fast). */
    int32_t vl[ZS_CKP_SH / ZS_CKP_ROW * CK_NV + CK_VLIST_STEP], vb[ZS_CKP_SH / ZS_CKP_ROW * CK_NV + CK_VLIST_STEP];
    const int ne = Ho * CK_NV, nw = nv == CK_NV ? ne - ne % CK_VLIST_STEP : 0;
    for (int c = 0; c < Co; c++) {
        const float fc = f[c];
        const uint16_t *cc = cb + (size_t)c * ne;
        int nl = ck_vlist(vl, vb, cc, nw, c * HWo, Wo);
        for (int e = nw; e < ne; e++) {
            const int y = e / CK_NV, v = e % CK_NV;
            if (v >= nv) continue;
            vl[nl] = (c * Ho + y) * Wo + v * CK_VL;
            vb[nl] = cc[e];
            nl += cc[e] != 0;
        }
        for (int e = 0; e < nl; e++) nc += ck_collect(map + vl[e], fc, vl[e], (unsigned)vb[e], ck + nc, ci + nc);
    }
    /* 4. the cut among the candidates, or (bracket missed) from the map */
    zs_kwta_cut cut;
    int need = k - above;
    if (need >= 1 && need <= nc) cut = zs_kwta_select_cands(ck, ci, nc, need, lo, hi, CK_ISA);
    else CK_KWTA_SELECT(&cut, map, f, Co, HWo, k, work);
    /* 5. pool(k-WTA(y)): window maxima of the values passing their channel's test */
    CK_KWTA_POOL(out, map, f, Co, Ho, Wo, cut);
}

#ifdef CP_FN
/* conv_pool: conv (dense input, the shifted copies above) and 2x2/2
 * max-pool in the epilogue: out (Co, Ho/2, Wo/2) the same bits as
 * CP_MAXPOOL(CK_CONV_DENSE(in)) (sums as conv_dense's; the maxima in the
 * maxpool kernel's order: rows, then lane pairs (KP_PAIRMAX), then with
 * -inf). The pooled rows are stored whole (CK_NV / 2 vectors, a row's last
 * spilling into the next, which is stored after it, or into out's slack of
 * 16 floats). PR pooled rows (2 PR conv rows) per register tile. */
static inline __attribute__((always_inline)) void cp_tile(float *op, const float *sh, const int32_t *so,
                                                          const float *w, int nt, float b, int Wp, int np,
                                                          const int PR) {
    ck_v acc[2 * PR][CK_NV];
    ck_sums(acc, sh, so, w, nt, b, 2 * PR);
    const ck_v ninf = CK_SET1(-INFINITY);
#pragma GCC unroll 4
    for (int pr = 0; pr < PR; pr++)
#pragma GCC unroll 2
        for (int j = 0; j < CK_NV / 2; j++) {
            if (j >= np) break;
            ck_v a = KP_MAX(acc[2 * pr][2 * j], acc[2 * pr + 1][2 * j]);
            ck_v c = KP_MAX(acc[2 * pr][2 * j + 1], acc[2 * pr + 1][2 * j + 1]);
            CK_STOREU(op + pr * Wp + CK_VL * j, KP_MAX(KP_PAIRMAX(a, c), ninf));
        }
}

void CP_FN(float *out, const float *in, const zs_conv_taps *p, float *map) {
    const int Co = p->Co, Ho = p->Ho, Wo = p->Wo, Hp = Ho / 2, Wp = Wo / 2;
    if (!zs_conv_shift_fits(p) || Hp < 1 || Wp < 1) {
        CK_CONV_DENSE(map, in, p);
        CP_MAXPOOL(out, map, Co, Ho, Wo, 0);
        return;
    }
    float sh[CK_SH_MAX] __attribute__((aligned(64)));
    const int32_t *so = p->soff;
    ck_shift(sh, in, p);
    /* pooled vectors per row: CK_VL pooled columns each */
    const int np = (Wp + CK_VL - 1) / CK_VL;
    const int nblk = (Hp + CP_PRMAX - 1) / CP_PRMAX, PR = (Hp + nblk - 1) / nblk;
    for (int c = 0; c < Co; c++) {
        float *op = out + (size_t)c * Hp * Wp, b = p->bias[c];
        const int32_t *sc = so + p->start[c];
        const float *w = p->w + p->start[c];
        int nt = p->start[c + 1] - p->start[c];
        for (int py = 0; py < Hp; py += PR) {
            int r = Hp - py < PR ? Hp - py : PR;
            const float *shr = sh + (size_t)2 * py * CK_RS;
            float *opr = op + (size_t)py * Wp;
            switch (r) {
#if CP_PRMAX >= 3
            case 3: cp_tile(opr, shr, sc, w, nt, b, Wp, np, 3); break;
#endif
#if CP_PRMAX >= 2
            case 2: cp_tile(opr, shr, sc, w, nt, b, Wp, np, 2); break;
#endif
            default: cp_tile(opr, shr, sc, w, nt, b, Wp, np, 1); break;
            }
        }
    }
}
#endif
