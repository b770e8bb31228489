/*
 * conv_avx512.c — sparse convolutions with AVX-512F, 16 lanes.
 *   conv_dense: per output channel, a tile of R rows x V vectors (R*V <= 8
 *     accumulators in registers, V = 2 for Wo in (16, 32]) walks the
 *     channel's tap list: broadcast weight, unaligned row loads, FMA. Tails
 *     use masked (fault-suppressing) loads and stores.
 *   conv_sparse_vec: each non-zero input adds v * w[ci,ky,kx][0..Cop) into
 *     the channel-last accumulator of every output it reaches (16-channel
 *     blocks without a kept weight skipped: cmask), then one transpose to
 *     (Co, Ho, Wo).
 */
#include "kernels.h"
#include <immintrin.h>

static inline __mmask16 tail16(int rem) {
    return rem >= 16 ? (__mmask16)0xFFFF : rem <= 0 ? 0 : (__mmask16)((1u << rem) - 1u);
}

/* the vector operations of conv_dense_kern.h, conv_vec_kern.h and conv_tap_kern.h */
typedef __m512 ct_v;
typedef __mmask16 ct_mask;
#define CT_VL 16
#define CT_TAIL(rem) tail16(rem)
#define CT_SET1(a) _mm512_set1_ps(a)
#define CT_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define CT_LOAD(p) _mm512_load_ps(p)
#define CT_STORE(p, v) _mm512_store_ps((p), (v))
#define CT_LOADU(p) _mm512_loadu_ps(p)
#define CT_STOREU(p, v) _mm512_storeu_ps((p), (v))
#define CT_LOADM(p, m) _mm512_maskz_loadu_ps((m), (p))
#define CT_STOREM(p, m, v) _mm512_mask_storeu_ps((p), (m), (v))
#define CT_LOADT(p, rem) CT_LOADM((p), tail16(rem))

#define CD_VMAX 2 /* conv_dense: up to 2 zmm per tile row */
#include "conv_dense_kern.h"
#define CV_UNROLL 4 /* conv_sparse_vec: unrolled vectors of a pair */
#include "conv_vec_kern.h"

/* Small dense inputs (conv1: 1x32x32): Kw copies of the input, copy kx
 * shifted left by kx and every row padded to 32 floats, so every load of a
 * tap is one aligned 64-byte line (unaligned loads of 28-wide rows split
 * cache lines for 4 taps in 5, halving load throughput). Tile: R <= 7 rows x
 * 2 vectors (14 accumulators). */
enum { SH_MAX = ZS_CKP_SH };
_Static_assert(ZS_CKP_ROW == 32, "conv_dense_small reads the packing's soff: rows of 32 floats");
static inline __attribute__((always_inline)) void sh_tile(float *op, const float *sh, const int32_t *soff,
                                                          const float *w, int nt, float b, int Wo, const int R,
                                                          __mmask16 ml) {
    __m512 acc[7][2];
#pragma GCC unroll 7
    for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm512_set1_ps(b);
    for (int t = 0; t < nt; t++) {
        __m512 wv = _mm512_set1_ps(w[t]);
        const float *q = sh + soff[t];
#pragma GCC unroll 7
        for (int r = 0; r < R; r++) {
            acc[r][0] = _mm512_fmadd_ps(wv, _mm512_load_ps(q + 32 * r), acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(wv, _mm512_load_ps(q + 32 * r + 16), acc[r][1]);
        }
    }
#pragma GCC unroll 7
    for (int r = 0; r < R; r++) {
        _mm512_storeu_ps(op + r * Wo, acc[r][0]);
        _mm512_mask_storeu_ps(op + r * Wo + 16, ml, acc[r][1]);
    }
}

static int conv_dense_small(float *out, const float *in, const zs_conv_taps *p) {
    const int Ci = p->Ci, H = p->H, W = p->W, Kw = p->Kw, Ho = p->Ho, Wo = p->Wo;
    if (Wo <= 16 || Wo > 32 || W > 32 + Kw || (size_t)Kw * Ci * H * 32 > SH_MAX) return 0;
    /* tap t reads row p->soff[t] / 32 of the copies (made at packing: rows of ZS_CKP_ROW = 32 floats) */
    float sh[SH_MAX] __attribute__((aligned(64)));
    const int32_t *soff = p->soff;
    for (int kx = 0; kx < Kw; kx++)
        for (int r = 0; r < Ci * H; r++) {
            float *d = sh + ((size_t)kx * Ci * H + r) * 32;
            const float *src = in + (size_t)r * W;
            for (int x = 0; x < 32; x++) d[x] = x + kx < W ? src[x + kx] : 0.0f;
        }
    const __mmask16 ml = (__mmask16)((1u << (Wo - 16)) - 1u);
    const int nblk = (Ho + 6) / 7, R = (Ho + nblk - 1) / nblk;
    for (int o = 0; o < p->Co; o++) {
        float *op = out + (size_t)o * Ho * Wo, b = p->bias[o];
        const int32_t *so = soff + p->start[o];
        const float *w = p->w + p->start[o];
        int nt = p->start[o + 1] - p->start[o];
        for (int oy = 0; oy < Ho; oy += R) {
            int r = Ho - oy < R ? Ho - oy : R;
            const float *shr = sh + (size_t)oy * 32;
            float *opr = op + (size_t)oy * Wo;
            switch (r) {
            case 7: sh_tile(opr, shr, so, w, nt, b, Wo, 7, ml); break;
            case 6: sh_tile(opr, shr, so, w, nt, b, Wo, 6, ml); break;
            case 5: sh_tile(opr, shr, so, w, nt, b, Wo, 5, ml); break;
            case 4: sh_tile(opr, shr, so, w, nt, b, Wo, 4, ml); break;
            case 3: sh_tile(opr, shr, so, w, nt, b, Wo, 3, ml); break;
            case 2: sh_tile(opr, shr, so, w, nt, b, Wo, 2, ml); break;
            default: sh_tile(opr, shr, so, w, nt, b, Wo, 1, ml); break;
            }
        }
    }
    return 1;
}

void zs_conv_dense__avx512(float *out, const float *in, const zs_conv_taps *p) {
    if (!conv_dense_small(out, in, p)) cd_dense(out, in, p);
}

void zs_conv_sparse_vec__avx512(float *out, const int32_t *idx, const float *val, int n,
                                const zs_conv_scatter *p, float *acc) {
    cv_sparse_vec(out, idx, val, n, p, acc);
}


/* zs_conv_unpack_acc in 16x16 blocks transposed in registers: acc (P, Cop)
 * channel-last (rows 64-byte aligned) -> out (Co, P). */
static inline void tr16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    }
}
/* scale (may be NULL): out = acc * (qa * scale[o]) + bias[o] (a multiply,
 * then an add: zs_conv_unpack_acc_scaled's bits) */
/* (with isum: acc holds int32 sums, converted to float as they are loaded) */
static void unpack_acc(float *out, const float *acc, int Co, int P, int Cop, const float *scale, float qa,
                       const float *bias, const int isum) {
    for (int q0 = 0; q0 < P; q0 += 16) {
        const int nq = P - q0 < 16 ? P - q0 : 16;
        const __mmask16 mq = tail16(nq);
        for (int o0 = 0; o0 < Co; o0 += 16) {
            __m512 r[16];
            for (int i = 0; i < 16; i++) {
                const float *a = acc + (size_t)(q0 + i) * Cop + o0;
                r[i] = i >= nq ? _mm512_setzero_ps()
                     : isum ? _mm512_cvtepi32_ps(_mm512_load_si512(a)) : _mm512_load_ps(a);
            }
            tr16(r);
            const int no = Co - o0 < 16 ? Co - o0 : 16;
            if (scale)
                for (int i = 0; i < no; i++)
                    r[i] = _mm512_add_ps(_mm512_mul_ps(r[i], _mm512_set1_ps(qa * scale[o0 + i])),
                                         _mm512_set1_ps(bias[o0 + i]));
            for (int i = 0; i < no; i++) _mm512_mask_storeu_ps(out + (size_t)(o0 + i) * P + q0, mq, r[i]);
        }
    }
}
static void unpack_acc16(float *out, const float *acc, int Co, int P, int Cop, const float *scale, float qa,
                         const float *bias) {
    unpack_acc(out, acc, Co, P, Cop, scale, qa, bias, 0);
}

/* conv_pos_lists: per 16 positions, the channels (Ci <= 64) transposed to
 * position rows in registers (16x16 blocks), then per position the
 * non-zeros compressed in register and stored (channels ascending). */
int zs_conv_pos_lists__avx512(const float *x, const zs_conv_scatter *p, float *scratch) {
    if (p->Ci > 64) return zs_conv_pos_lists__scalar(x, p, scratch);
    int32_t *ps, *w;
    float *v;
    zs_conv_lists_at(p, scratch, &ps, &w, &v);
    const int HW = p->H * p->W, T = p->Kh * p->Kw * p->Cop, Ci = p->Ci, nc = (Ci + 15) / 16;
    float d[16 * 64] __attribute__((aligned(64)));
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i ciT = _mm512_mullo_epi32(iota, _mm512_set1_epi32(T));
    int s = 0;
    for (int q0 = 0; q0 < HW; q0 += 16) {
        const int nq = HW - q0 < 16 ? HW - q0 : 16;
        const __mmask16 mq = tail16(nq);
        for (int c = 0; c < nc; c++) {
            __m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = 16 * c + i < Ci ? _mm512_maskz_loadu_ps(mq, x + (size_t)(16 * c + i) * HW + q0) : _mm512_setzero_ps();
            tr16(r);
            for (int i = 0; i < 16; i++) _mm512_store_ps(d + 64 * i + 16 * c, r[i]);
        }
        for (int i = 0; i < nq; i++) {
            const int q = q0 + i;
            ps[q] = s;
            const __m512i base = _mm512_add_epi32(ciT, _mm512_set1_epi32(p->cx[q] * p->Cop));
            for (int c = 0; c < nc; c++) {
                const __m512 a = _mm512_load_ps(d + 64 * i + 16 * c);
                const __mmask16 m = _mm512_cmp_ps_mask(a, _mm512_setzero_ps(), _CMP_NEQ_UQ);
                const __m512i wo = _mm512_add_epi32(base, _mm512_set1_epi32(16 * c * T));
                _mm512_storeu_ps(v + s, _mm512_maskz_compress_ps(m, a));
                _mm512_storeu_si512(w + s, _mm512_maskz_compress_epi32(m, wo));
                s += __builtin_popcount(m);
            }
        }
    }
    ps[HW] = s;
    return s;
}

/* conv_pos_groups: the map's max first; then per 16 positions each 4-channel
 * group's u8 inputs (zs_conv_q8_input, in vectors) packed into one word per
 * position, the 16 x 16 (group, position) words transposed in registers,
 * and per position the non-zero words compressed and stored with their
 * row offsets (groups ascending). */
int zs_conv_pos_groups__avx512(const float *x, const zs_conv_scatter *p, float *scratch) {
    if (p->Ci > 64) return zs_conv_pos_groups__scalar(x, p, scratch);
    int32_t *gs, *gw;
    uint32_t *gv;
    zs_conv_groups_at(p, scratch, &gs, &gw, &gv, NULL);
    const int HW = p->H * p->W, Ci = p->Ci, G4 = (Ci + 3) / 4, T = p->Kh * p->Kw * p->Cop;
    const size_t N = (size_t)Ci * HW;
    __m512 mv = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= N; i += 16) mv = _mm512_max_ps(mv, _mm512_loadu_ps(x + i));
    mv = _mm512_max_ps(mv, _mm512_maskz_loadu_ps(tail16((int)(N - i)), x + i));
    const float mx = _mm512_reduce_max_ps(mv);
    float inv;
    const float qa = zs_conv_q8_scale(mx, &inv);
    const __m512 vinv = _mm512_set1_ps(inv), v255 = _mm512_set1_ps(255.0f), half = _mm512_set1_ps(0.5f);
    const __m512i gT = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                          _mm512_set1_epi32(T));
    int s = 0;
    for (int q0 = 0; q0 < HW; q0 += 16) {
        const int nq = HW - q0 < 16 ? HW - q0 : 16;
        const __mmask16 mq = tail16(nq);
        __m512 r[16];
        for (int g = 0; g < 16; g++) {
            __m512i u = _mm512_setzero_si512();
            for (int b = 0; b < 4 && g < G4; b++) {
                const int c = 4 * g + b;
                if (c >= Ci) break;
                const __m512 xv = _mm512_maskz_loadu_ps(mq, x + (size_t)c * HW + q0);
                __m512 t = _mm512_maskz_mul_ps(_mm512_cmp_ps_mask(xv, _mm512_setzero_ps(), _CMP_GT_OQ), xv, vinv);
                t = _mm512_min_ps(t, v255);
                u = _mm512_or_si512(u, _mm512_slli_epi32(_mm512_cvttps_epi32(_mm512_add_ps(t, half)), 8 * b));
            }
            r[g] = _mm512_castsi512_ps(u);
        }
        tr16(r);
        for (int j = 0; j < nq; j++) {
            const int q = q0 + j;
            gs[q] = s;
            const __m512i wv = _mm512_castps_si512(r[j]);
            const __mmask16 m = _mm512_test_epi32_mask(wv, wv);
            _mm512_storeu_si512(gv + s, _mm512_maskz_compress_epi32(m, wv));
            _mm512_storeu_si512(gw + s, _mm512_maskz_compress_epi32(m, _mm512_add_epi32(gT, _mm512_set1_epi32(p->cx[q] * p->Cop))));
            s += __builtin_popcount(m);
        }
    }
    gs[HW] = s;
    memcpy(gs + HW + 1, &qa, sizeof qa);
    return s;
}

/* zs_conv_list_groups in vectors (Ci <= 64): the u8 inputs stored byte by
 * byte into a (position, group) map in gv's region, then per position its
 * words in one register, the non-zero ones compressed and stored (masked:
 * never past the position's own words) with their row offsets. */
static int list_groups(const int32_t *idx, const float *val, int n, const zs_conv_scatter *p, float *scratch) {
    if (p->Ci > 64) return zs_conv_list_groups(idx, val, n, p, scratch);
    int32_t *gs, *gw;
    uint32_t *gv;
    zs_conv_groups_at(p, scratch, &gs, &gw, &gv, NULL);
    const int HW = p->H * p->W, G4 = (p->Ci + 3) / 4, T = p->Kh * p->Kw * p->Cop;
    memset(gv, 0, sizeof(uint32_t) * (size_t)HW * G4);
    __m512 mv = _mm512_setzero_ps();
    int e = 0;
    for (; e + 16 <= n; e += 16) mv = _mm512_max_ps(mv, _mm512_loadu_ps(val + e));
    mv = _mm512_max_ps(mv, _mm512_maskz_loadu_ps(tail16(n - e), val + e));
    float inv;
    const float qa = zs_conv_q8_scale(_mm512_reduce_max_ps(mv), &inv);
    /* byte of input (ci, q): q * 4 * G4 + ci; 16 entries at a time their
     * bytes and offsets in vectors (ci from a float estimate, corrected
     * by one), then stored one by one */
    uint8_t *map = (uint8_t *)gv;
    const __m512 vinv = _mm512_set1_ps(inv), v255 = _mm512_set1_ps(255.0f), half = _mm512_set1_ps(0.5f);
    const __m512 rhw = _mm512_set1_ps(1.0f / (float)HW);
    const __m512i vhw = _mm512_set1_epi32(HW), vrow = _mm512_set1_epi32(4 * G4), one = _mm512_set1_epi32(1);
    int32_t off[16] __attribute__((aligned(64))), u8[16] __attribute__((aligned(64)));
    for (e = 0; e < n; e += 16) {
        const __mmask16 m = tail16(n - e);
        const __m512i iv = _mm512_maskz_loadu_epi32(m, idx + e);
        const __m512 xv = _mm512_maskz_loadu_ps(m, val + e);
        __m512i ci = _mm512_cvttps_epi32(_mm512_mul_ps(_mm512_add_ps(_mm512_cvtepi32_ps(iv), half), rhw));
        __m512i q = _mm512_sub_epi32(iv, _mm512_mullo_epi32(ci, vhw));
        const __mmask16 lo = _mm512_cmplt_epi32_mask(q, _mm512_setzero_si512()), hi = _mm512_cmpge_epi32_mask(q, vhw);
        ci = _mm512_mask_add_epi32(_mm512_mask_sub_epi32(ci, lo, ci, one), hi, ci, one);
        q = _mm512_mask_sub_epi32(_mm512_mask_add_epi32(q, lo, q, vhw), hi, q, vhw);
        _mm512_store_si512(off, _mm512_add_epi32(_mm512_mullo_epi32(q, vrow), ci));
        __m512 t = _mm512_maskz_mul_ps(_mm512_cmp_ps_mask(xv, _mm512_setzero_ps(), _CMP_GT_OQ), xv, vinv);
        _mm512_store_si512(u8, _mm512_cvttps_epi32(_mm512_add_ps(_mm512_min_ps(t, v255), half)));
        const int ne = n - e < 16 ? n - e : 16;
        for (int j = 0; j < ne; j++) map[off[j]] = (uint8_t)u8[j];
    }
    const __mmask16 mg = tail16(G4);
    const __m512i gT = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                          _mm512_set1_epi32(T));
    int s = 0;
    for (int q = 0; q < HW; q++) {
        gs[q] = s;
        const __m512i wv = _mm512_maskz_loadu_epi32(mg, gv + (size_t)q * G4);
        const __mmask16 m = _mm512_test_epi32_mask(wv, wv);
        const __mmask16 st = tail16(__builtin_popcount(m));
        _mm512_mask_storeu_epi32(gv + s, st, _mm512_maskz_compress_epi32(m, wv));
        _mm512_mask_storeu_epi32(gw + s, st,
                                 _mm512_maskz_compress_epi32(m, _mm512_add_epi32(gT, _mm512_set1_epi32(p->cx[q] * p->Cop))));
        s += __builtin_popcount(m);
    }
    gs[HW] = s;
    memcpy(gs + HW + 1, &qa, sizeof qa);
    return s;
}

/* Output-stationary (conv_sparse_pos): inputs bucketed by position; every
 * output position keeps up to 64 output channels in 4 registers and adds
 * v * w[ci, ky, kx] for the inputs of its window: no accumulator stores
 * per pair (conv_sparse_vec is bound by them), but no block skipping. */
/* NO horizontally adjacent outputs per pass: NO*CV independent chains, and
 * each input entry's value broadcast once for all the outputs it feeds. */
#define POS_NO 2
static inline __attribute__((always_inline)) void pos_chunk(float *restrict acc, const int32_t *restrict ps,
                                                            const int32_t *restrict pw, const float *restrict pv,
                                                            const zs_conv_scatter *p, int co0, const int CV) {
    const int Ho = p->Ho, Wo = p->Wo, H = p->H, W = p->W, Kh = p->Kh, Kw = p->Kw, pad = p->pad, Cop = p->Cop;
    const float *wvec = p->wvec + co0;
    __m512 b[4];
#pragma GCC unroll 4
    for (int j = 0; j < CV; j++) b[j] = _mm512_maskz_loadu_ps(tail16(p->Co - co0 - 16 * j), p->bias + co0 + 16 * j);
    for (int oy = 0; oy < Ho; oy++)
        for (int ox = 0; ox < Wo; ox += POS_NO) {
            const int no = Wo - ox < POS_NO ? Wo - ox : POS_NO;
            __m512 a[POS_NO][4];
#pragma GCC unroll 4
            for (int o = 0; o < POS_NO; o++)
#pragma GCC unroll 4
                for (int j = 0; j < CV; j++) a[o][j] = b[j];
            for (int ky = 0; ky < Kh; ky++) {
                int iy = oy + ky - pad;
                if (iy < 0 || iy >= H) continue;
                const float *wt = wvec + (size_t)ky * Kw * Cop;
                const int32_t *pr = ps + iy * W;
                /* input column ix = ox + c - pad feeds output ox + o with kx = c - o */
                for (int c = 0; c < Kw + no - 1; c++) {
                    int ix = ox + c - pad;
                    if (ix < 0 || ix >= W) continue;
                    const int s0 = pr[ix], s1 = pr[ix + 1];
                    if (s0 == s1) continue;
                    unsigned use = 0;
                    for (int o = 0; o < no; o++) if (c - o >= 0 && c - o < Kw) use |= 1u << o;
                    const float *wc = wt + (size_t)c * Cop;
                    for (int s = s0; s < s1; s++) {
                        __m512 v = _mm512_set1_ps(pv[s]);
                        const float *w = wc + pw[s];
#pragma GCC unroll 4
                        for (int o = 0; o < POS_NO; o++)
                            if (use & (1u << o))
#pragma GCC unroll 4
                                for (int j = 0; j < CV; j++)
                                    a[o][j] = _mm512_fmadd_ps(v, _mm512_load_ps(w - (size_t)o * Cop + 16 * j), a[o][j]);
                    }
                }
            }
            float *out = acc + ((size_t)oy * Wo + ox) * Cop + co0;
#pragma GCC unroll 4
            for (int o = 0; o < POS_NO; o++)
                if (o < no)
#pragma GCC unroll 4
                    for (int j = 0; j < CV; j++) _mm512_store_ps(out + (size_t)o * Cop + 16 * j, a[o][j]);
        }
}

void zs_conv_sparse_pos__avx512(float *out, const int32_t *idx, const float *val, int n,
                                const zs_conv_scatter *p, float *scratch) {
    int32_t *ps, *pw;
    float *pv;
    zs_conv_sort_by_pos(idx, val, n, p, scratch, 0, &ps, &pw, &pv);
    int nv = p->Cop / 16;
    for (int c = 0; c < nv; c += 4) {
        switch (nv - c >= 4 ? 4 : nv - c) {
        case 4: pos_chunk(scratch, ps, pw, pv, p, 16 * c, 4); break;
        case 3: pos_chunk(scratch, ps, pw, pv, p, 16 * c, 3); break;
        case 2: pos_chunk(scratch, ps, pw, pv, p, 16 * c, 2); break;
        default: pos_chunk(scratch, ps, pw, pv, p, 16 * c, 1); break;
        }
    }
    unpack_acc16(out, scratch, p->Co, p->Ho * p->Wo, p->Cop, NULL, 1.0f, NULL);
}

/* conv_sparse_tap: one width-templated source (conv_tap_kern.h), 64
 * channels in 4 zmm */
#define CT_NO 2 /* two output positions per pass: 8 FMA chains */
#define CT_UNPACK(out, acc, Co, P, Cop) unpack_acc16((out), (acc), (Co), (P), (Cop), NULL, 1.0f, NULL)
#define CT_FN zs_conv_sparse_tap__avx512
#include "conv_tap_kern.h"
/* conv_sparse_tap_q8: the same on int8 rows (16 weights sign-extended and
 * converted per load) */
#define CT_LOADW(o) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_load_si128((const __m128i *)(p->wq + (o)))))
#define CT_BIASV(off, rem) CT_SET1(0.0f)
#define CT_PREP const float qa_ = p->qact ? zs_conv_quantize_inputs(pv, ps[p->H * p->W]) : 1.0f;
#define CT_CHUNK ct_chunk_q8
#define CT_WROWS wq
#define CT_UNPACK(out, acc, Co, P, Cop) unpack_acc16((out), (acc), (Co), (P), (Cop), p->qscale, qa_, p->bias)
#define CT_FN zs_conv_sparse_tap_q8__avx512
#include "conv_tap_kern.h"

/* conv_sparse_vnni: conv_sparse_tap's phases (kx_group taps along a kernel
 * row) over conv_pos_groups' 4-channel words, one vpdpbusd per 16 outputs
 * (4 products each), int32 sums, one output position per pass; then the
 * sums to fp32 and conv_sparse_tap_q8's unpack (the same bits: exact
 * integers). idx given: the groups from the list (list_groups).
 * Without VNNI on this CPU: the reference. */
static inline __attribute__((always_inline, target("avx512vnni"))) void
vn_chunk(int32_t *restrict acc, const int32_t *restrict gs, const int32_t *restrict gw, const uint32_t *restrict gv,
         const zs_conv_scatter *p, int co0, const int NV, int G) {
    const int Ho = p->Ho, Wo = p->Wo, H = p->H, W = p->W, Kh = p->Kh, Kw = p->Kw, pad = p->pad, Cop = p->Cop;
    for (int ky = 0; ky < Kh; ky++) {
        const int oy0 = pad - ky > 0 ? pad - ky : 0, oy1 = H + pad - ky < Ho ? H + pad - ky : Ho;
        for (int kx0 = 0; kx0 < Kw; kx0 += G) {
            const int g = Kw - kx0 < G ? Kw - kx0 : G;
            for (int oy = oy0; oy < oy1; oy++) {
                const int32_t *pr = gs + (oy + ky - pad) * W;
                int32_t *ar = acc + (size_t)oy * Wo * Cop + co0;
                /* bytes: 4 * (row offset), row of entry s for output ox:
                 * gw[s] + (ky * Kw + pad - ox) * Cop, channels from co0 */
                const int8_t *wb = p->wq4 + 4 * ((ptrdiff_t)(ky * Kw + pad) * Cop + co0);
                for (int ox = 0; ox < Wo; ox++) {
                    int s0, s1;
                    ct_run(pr, ox, kx0, g, pad, W, &s0, &s1); /* conv_tap_kern.h */
                    if (s0 == s1) continue;
                    int32_t *a = ar + (size_t)ox * Cop;
                    const int8_t *wo = wb - 4 * (ptrdiff_t)ox * Cop;
                    __m512i r[4];
#pragma GCC unroll 4
                    for (int j = 0; j < NV; j++) r[j] = _mm512_load_si512(a + 16 * j);
                    for (int s = s0; s < s1; s++) {
                        const __m512i v = _mm512_set1_epi32((int)gv[s]);
                        const int8_t *w = wo + 4 * (ptrdiff_t)gw[s];
#pragma GCC unroll 4
                        for (int j = 0; j < NV; j++) r[j] = _mm512_dpbusd_epi32(r[j], v, _mm512_load_si512(w + 64 * j));
                    }
#pragma GCC unroll 4
                    for (int j = 0; j < NV; j++) _mm512_store_si512(a + 16 * j, r[j]);
                }
            }
        }
    }
}

static __attribute__((target("avx512vnni"))) void vn_sums(int32_t *acc, const int32_t *gs, const int32_t *gw,
                                                         const uint32_t *gv, const zs_conv_scatter *p) {
    const int Cop = p->Cop, nv = Cop / 16, G = p->kx_group > 1 && p->kx_group <= p->Kw ? p->kx_group : 1;
    for (int c = 0; c < nv; c += 4) {
        switch (nv - c >= 4 ? 4 : nv - c) {
        case 4: vn_chunk(acc, gs, gw, gv, p, 16 * c, 4, G); break;
        case 3: vn_chunk(acc, gs, gw, gv, p, 16 * c, 3, G); break;
        case 2: vn_chunk(acc, gs, gw, gv, p, 16 * c, 2, G); break;
        default: vn_chunk(acc, gs, gw, gv, p, 16 * c, 1, G); break;
        }
    }
}

void zs_conv_sparse_vnni__avx512(float *out, const int32_t *idx, const float *val, int n, const zs_conv_scatter *p,
                                 float *scratch) {
    if (!zs_cpu_avx512_vnni()) {
        zs_conv_sparse_vnni__scalar(out, idx, val, n, p, scratch);
        return;
    }
    if (idx) list_groups(idx, val, n, p, scratch);
    int32_t *gs, *gw;
    uint32_t *gv;
    float qa;
    zs_conv_groups_at(p, scratch, &gs, &gw, &gv, &qa);
    const size_t PC = (size_t)p->Ho * p->Wo * p->Cop;
    int32_t *acc = (int32_t *)scratch;
    for (size_t i = 0; i < PC; i += 16) _mm512_store_si512(acc + i, _mm512_setzero_si512());
    vn_sums(acc, gs, gw, gv, p);
    unpack_acc(out, scratch, p->Co, zs_conv_acc_rows_i32(acc, p), p->Cop, p->qscale, qa, p->bias, 1);
}

#define CR_U 2 /* 4 FMA chains per run (two outputs) */
#define CR_UNPACK(out, acc, Co, P, Cop) unpack_acc16((out), (acc), (Co), (P), (Cop), NULL, 1.0f, NULL)
#define CR_FN zs_conv_sparse_routed__avx512
#include "conv_routed_kern.h"
