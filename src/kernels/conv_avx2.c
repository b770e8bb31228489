/*
 * conv_avx2.c — sparse convolutions with AVX2+FMA, 8 lanes (same
 * algorithms as conv_avx512.c).
 *   conv_dense: per output channel, a tile of R rows x V vectors (R*V <= 8
 *     accumulators in registers, V = 4 for Wo in (24, 32]) walks the
 *     channel's tap list: broadcast weight, unaligned row loads, FMA. Tails
 *     use masked (fault-suppressing) loads and stores.
 *   conv_sparse_vec: each non-zero input adds v * w[ci,ky,kx][0..Cop) into
 *     the channel-last accumulator of every output it reaches, then one
 *     transpose to (Co, Ho, Wo).
 */
#include "kernels.h"
#include <immintrin.h>

static inline __m256i tail8(int rem) {
    static const int32_t ones[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    if (rem >= 8) return _mm256_set1_epi32(-1);
    if (rem <= 0) return _mm256_setzero_si256();
    return _mm256_loadu_si256((const __m256i *)(ones + 8 - rem));
}

/* the vector operations of conv_dense_kern.h, conv_vec_kern.h and conv_tap_kern.h */
typedef __m256 ct_v;
typedef __m256i ct_mask;
#define CT_VL 8
#define CT_TAIL(rem) tail8(rem)
#define CT_SET1(a) _mm256_set1_ps(a)
#define CT_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define CT_LOAD(p) _mm256_load_ps(p)
#define CT_STORE(p, v) _mm256_store_ps((p), (v))
#define CT_LOADU(p) _mm256_loadu_ps(p)
#define CT_STOREU(p, v) _mm256_storeu_ps((p), (v))
#define CT_LOADM(p, m) _mm256_maskload_ps((p), (m))
#define CT_STOREM(p, m, v) _mm256_maskstore_ps((p), (m), (v))
#define CT_LOADT(p, rem) CT_LOADM((p), tail8(rem))

#define CD_VMAX 4 /* conv_dense: up to 4 ymm per tile row */
#include "conv_dense_kern.h"
#define CV_UNROLL 8 /* conv_sparse_vec: unrolled vectors of a pair */
#include "conv_vec_kern.h"

void zs_conv_dense__avx2(float *out, const float *in, const zs_conv_taps *p) { cd_dense(out, in, p); }

void zs_conv_sparse_vec__avx2(float *out, const int32_t *idx, const float *val, int n,
                              const zs_conv_scatter *p, float *acc) {
    cv_sparse_vec(out, idx, val, n, p, acc);
}


/* Output-stationary (conv_sparse_pos): inputs bucketed by position; two
 * horizontally adjacent output positions at a time keep up to 32 output
 * channels each in 2x4 registers (8 independent FMA chains) and add
 * v * w[ci, ky, kx] for the inputs of their windows, each input's value
 * broadcast once for both: no accumulator stores per pair (conv_sparse_vec
 * is bound by them), but no block skipping. */
static inline __attribute__((always_inline)) void pos_fma(__m256 *a, const float *w, __m256 v, const int NV) {
#pragma GCC unroll 4
    for (int j = 0; j < NV; j++) a[j] = _mm256_fmadd_ps(v, _mm256_load_ps(w + 8 * j), a[j]);
}

static inline __attribute__((always_inline)) void pos_chunk(float *restrict acc, const int32_t *restrict ps,
                                                            const int32_t *restrict pw, const float *restrict pv,
                                                            const zs_conv_scatter *p, int co0, const int NV) {
    const int Ho = p->Ho, Wo = p->Wo, H = p->H, W = p->W, Kh = p->Kh, Kw = p->Kw, pad = p->pad, Cop = p->Cop;
    const float *wvec = p->wvec + co0;
    for (int oy = 0; oy < Ho; oy++)
        for (int ox = 0; ox < Wo; ox += 2) {
            const int two = ox + 1 < Wo;
            __m256 a0[4], a1[4];
#pragma GCC unroll 4
            for (int j = 0; j < NV; j++) a0[j] = a1[j] = _mm256_maskload_ps(p->bias + co0 + 8 * j, tail8(p->Co - co0 - 8 * j));
            for (int ky = 0; ky < Kh; ky++) {
                int iy = oy + ky - pad;
                if (iy < 0 || iy >= H) continue;
                const float *wt = wvec + (size_t)ky * Kw * Cop;
                const int32_t *pr = ps + iy * W;
                /* input column ix = ox + c - pad feeds output ox with kx = c and ox+1 with kx = c-1 */
                for (int c = 0; c <= Kw; c++) {
                    int ix = ox + c - pad;
                    if (ix < 0 || ix >= W) continue;
                    const int s0 = pr[ix], s1 = pr[ix + 1];
                    if (c == 0) {
                        for (int s = s0; s < s1; s++) pos_fma(a0, wt + pw[s], _mm256_set1_ps(pv[s]), NV);
                    } else if (c == Kw) {
                        if (two)
                            for (int s = s0; s < s1; s++) pos_fma(a1, wt + pw[s] + (size_t)(Kw - 1) * Cop, _mm256_set1_ps(pv[s]), NV);
                    } else if (two) {
                        const float *w1 = wt + (size_t)c * Cop, *w0 = w1 - Cop;
                        for (int s = s0; s < s1; s++) {
                            __m256 v = _mm256_set1_ps(pv[s]);
                            pos_fma(a0, w1 + pw[s], v, NV);
                            pos_fma(a1, w0 + pw[s], v, NV);
                        }
                    } else {
                        for (int s = s0; s < s1; s++) pos_fma(a0, wt + (size_t)c * Cop + pw[s], _mm256_set1_ps(pv[s]), NV);
                    }
                }
            }
            float *o = acc + ((size_t)oy * Wo + ox) * Cop + co0;
#pragma GCC unroll 4
            for (int j = 0; j < NV; j++) _mm256_store_ps(o + 8 * j, a0[j]);
            if (two)
#pragma GCC unroll 4
                for (int j = 0; j < NV; j++) _mm256_store_ps(o + Cop + 8 * j, a1[j]);
        }
}

void zs_conv_sparse_pos__avx2(float *out, const int32_t *idx, const float *val, int n,
                                const zs_conv_scatter *p, float *scratch) {
    int32_t *ps, *pw;
    float *pv;
    zs_conv_sort_by_pos(idx, val, n, p, scratch, 0, &ps, &pw, &pv);
    int nv = p->Cop / 8; /* 8-float vectors; Cop is a multiple of 16 */
    for (int c = 0; c < nv; c += 4) {
        if (nv - c >= 4) pos_chunk(scratch, ps, pw, pv, p, 8 * c, 4);
        else pos_chunk(scratch, ps, pw, pv, p, 8 * c, 2);
    }
    zs_conv_unpack_acc(out, scratch, p->Co, p->Ho * p->Wo, p->Cop);
}

/* conv_pos_lists: per 8 positions, the channels (Ci <= 64) transposed to
 * position rows in registers (8x8 blocks), then per position and 8
 * channels the non-zeros packed to the front by a vpermps whose indices
 * come from a table on the 8-bit non-zero mask (AVX2 has no compress). */
static inline void tr8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}
static const uint32_t pack_idx[256] = { /* per 8-bit mask: the set lanes' indices, 4 bits each, first */
    0x00000000, 0x00000000, 0x00000001, 0x00000010, 0x00000002, 0x00000020, 0x00000021, 0x00000210,
    0x00000003, 0x00000030, 0x00000031, 0x00000310, 0x00000032, 0x00000320, 0x00000321, 0x00003210,
    0x00000004, 0x00000040, 0x00000041, 0x00000410, 0x00000042, 0x00000420, 0x00000421, 0x00004210,
    0x00000043, 0x00000430, 0x00000431, 0x00004310, 0x00000432, 0x00004320, 0x00004321, 0x00043210,
    0x00000005, 0x00000050, 0x00000051, 0x00000510, 0x00000052, 0x00000520, 0x00000521, 0x00005210,
    0x00000053, 0x00000530, 0x00000531, 0x00005310, 0x00000532, 0x00005320, 0x00005321, 0x00053210,
    0x00000054, 0x00000540, 0x00000541, 0x00005410, 0x00000542, 0x00005420, 0x00005421, 0x00054210,
    0x00000543, 0x00005430, 0x00005431, 0x00054310, 0x00005432, 0x00054320, 0x00054321, 0x00543210,
    0x00000006, 0x00000060, 0x00000061, 0x00000610, 0x00000062, 0x00000620, 0x00000621, 0x00006210,
    0x00000063, 0x00000630, 0x00000631, 0x00006310, 0x00000632, 0x00006320, 0x00006321, 0x00063210,
    0x00000064, 0x00000640, 0x00000641, 0x00006410, 0x00000642, 0x00006420, 0x00006421, 0x00064210,
    0x00000643, 0x00006430, 0x00006431, 0x00064310, 0x00006432, 0x00064320, 0x00064321, 0x00643210,
    0x00000065, 0x00000650, 0x00000651, 0x00006510, 0x00000652, 0x00006520, 0x00006521, 0x00065210,
    0x00000653, 0x00006530, 0x00006531, 0x00065310, 0x00006532, 0x00065320, 0x00065321, 0x00653210,
    0x00000654, 0x00006540, 0x00006541, 0x00065410, 0x00006542, 0x00065420, 0x00065421, 0x00654210,
    0x00006543, 0x00065430, 0x00065431, 0x00654310, 0x00065432, 0x00654320, 0x00654321, 0x06543210,
    0x00000007, 0x00000070, 0x00000071, 0x00000710, 0x00000072, 0x00000720, 0x00000721, 0x00007210,
    0x00000073, 0x00000730, 0x00000731, 0x00007310, 0x00000732, 0x00007320, 0x00007321, 0x00073210,
    0x00000074, 0x00000740, 0x00000741, 0x00007410, 0x00000742, 0x00007420, 0x00007421, 0x00074210,
    0x00000743, 0x00007430, 0x00007431, 0x00074310, 0x00007432, 0x00074320, 0x00074321, 0x00743210,
    0x00000075, 0x00000750, 0x00000751, 0x00007510, 0x00000752, 0x00007520, 0x00007521, 0x00075210,
    0x00000753, 0x00007530, 0x00007531, 0x00075310, 0x00007532, 0x00075320, 0x00075321, 0x00753210,
    0x00000754, 0x00007540, 0x00007541, 0x00075410, 0x00007542, 0x00075420, 0x00075421, 0x00754210,
    0x00007543, 0x00075430, 0x00075431, 0x00754310, 0x00075432, 0x00754320, 0x00754321, 0x07543210,
    0x00000076, 0x00000760, 0x00000761, 0x00007610, 0x00000762, 0x00007620, 0x00007621, 0x00076210,
    0x00000763, 0x00007630, 0x00007631, 0x00076310, 0x00007632, 0x00076320, 0x00076321, 0x00763210,
    0x00000764, 0x00007640, 0x00007641, 0x00076410, 0x00007642, 0x00076420, 0x00076421, 0x00764210,
    0x00007643, 0x00076430, 0x00076431, 0x00764310, 0x00076432, 0x00764320, 0x00764321, 0x07643210,
    0x00000765, 0x00007650, 0x00007651, 0x00076510, 0x00007652, 0x00076520, 0x00076521, 0x00765210,
    0x00007653, 0x00076530, 0x00076531, 0x00765310, 0x00076532, 0x00765320, 0x00765321, 0x07653210,
    0x00007654, 0x00076540, 0x00076541, 0x00765410, 0x00076542, 0x00765420, 0x00765421, 0x07654210,
    0x00076543, 0x00765430, 0x00765431, 0x07654310, 0x00765432, 0x07654320, 0x07654321, 0x76543210,
};
int zs_conv_pos_lists__avx2(const float *x, const zs_conv_scatter *p, float *scratch) {
    if (p->Ci > 64) return zs_conv_pos_lists__scalar(x, p, scratch);
    int32_t *ps, *w;
    float *v;
    zs_conv_lists_at(p, scratch, &ps, &w, &v);
    const int HW = p->H * p->W, T = p->Kh * p->Kw * p->Cop, Ci = p->Ci, nc = (Ci + 7) / 8;
    float d[8 * 64] __attribute__((aligned(32)));
    const __m256i ciT = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(T));
    const __m256i shifts = _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28);
    int s = 0;
    for (int q0 = 0; q0 < HW; q0 += 8) {
        const int nq = HW - q0 < 8 ? HW - q0 : 8;
        const __m256i mq = tail8(nq);
        for (int c = 0; c < nc; c++) {
            __m256 r[8];
            for (int i = 0; i < 8; i++)
                r[i] = 8 * c + i < Ci ? _mm256_maskload_ps(x + (size_t)(8 * c + i) * HW + q0, mq) : _mm256_setzero_ps();
            tr8(r);
            for (int i = 0; i < 8; i++) _mm256_store_ps(d + 64 * i + 8 * c, r[i]);
        }
        for (int i = 0; i < nq; i++) {
            const int q = q0 + i;
            ps[q] = s;
            const __m256i base = _mm256_add_epi32(ciT, _mm256_set1_epi32(p->cx[q] * p->Cop));
            for (int c = 0; c < nc; c++) {
                const __m256 a = _mm256_load_ps(d + 64 * i + 8 * c);
                const int m = _mm256_movemask_ps(_mm256_cmp_ps(a, _mm256_setzero_ps(), _CMP_NEQ_UQ));
                const __m256i perm =
                    _mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32((int)pack_idx[m]), shifts), _mm256_set1_epi32(15));
                const __m256i wo = _mm256_add_epi32(base, _mm256_set1_epi32(8 * c * T));
                _mm256_storeu_ps(v + s, _mm256_permutevar8x32_ps(a, perm));
                _mm256_storeu_si256((__m256i *)(w + s), _mm256_permutevar8x32_epi32(wo, perm));
                s += __builtin_popcount((unsigned)m);
            }
        }
    }
    ps[HW] = s;
    return s;
}

/* conv_sparse_tap: one width-templated source (conv_tap_kern.h), 64
 * channels in 8 ymm */
#define CT_NO 1 /* one output position per pass: its 8 ymm are 8 FMA chains */
#define CT_FN zs_conv_sparse_tap__avx2
#include "conv_tap_kern.h"
/* conv_sparse_tap_q8: the same on int8 rows (8 weights sign-extended and
 * converted per load) */
#define CT_LOADW(o) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(p->wq + (o)))))
#define CT_BIASV(off, rem) CT_SET1(0.0f)
#define CT_PREP const float qa_ = p->qact ? zs_conv_quantize_inputs(pv, ps[p->H * p->W]) : 1.0f;
#define CT_CHUNK ct_chunk_q8
#define CT_WROWS wq
#define CT_UNPACK(out, acc, Co, P, Cop) zs_conv_unpack_acc_scaled((out), (acc), (Co), (P), (Cop), p->qscale, qa_, p->bias)
#define CT_FN zs_conv_sparse_tap_q8__avx2
#include "conv_tap_kern.h"

/* conv_sparse_vnni: AVX2 has no four-way u8 x s8 sum that cannot saturate
 * (vpmaddubsw saturates at 2 x 255 x 127): the reference; the plan offers
 * the kernel only with AVX-512 VNNI */
void zs_conv_sparse_vnni__avx2(float *out, const int32_t *idx, const float *val, int n, const zs_conv_scatter *p,
                               float *scratch) {
    zs_conv_sparse_vnni__scalar(out, idx, val, n, p, scratch);
}

int zs_conv_pos_groups__avx2(const float *x, const zs_conv_scatter *p, float *scratch) {
    return zs_conv_pos_groups__scalar(x, p, scratch);
}

#define CR_U 1 /* 4 FMA chains per run (two outputs) */
#define CR_FN zs_conv_sparse_routed__avx2
#include "conv_routed_kern.h"
