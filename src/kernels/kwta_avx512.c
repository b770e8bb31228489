/*
 * kwta_avx512.c — k-WTA family with AVX-512 F/BW/DQ/VL, 16 lanes. Lists are
 * built with vcompressps/vpcompressd into a REGISTER followed by a masked
 * store (compress-to-memory is microcoded and slow on Zen 4).
 */
#include "kernels.h"
#include <immintrin.h>

static inline __mmask16 tail16(int rem) {
    return rem >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << rem) - 1u);
}

/* zs_kwta_key on 16 lanes */
static inline __m512i key16(__m512 s) {
    __m512i i = _mm512_castps_si512(_mm512_add_ps(s, _mm512_setzero_ps()));
    return _mm512_xor_si512(i, _mm512_srli_epi32(_mm512_srai_epi32(i, 31), 1));
}

static const int32_t iota16[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* Scores x*f for lanes t..t+15; f per group of S (S == 1: per unit). */
static inline __m512 fac16(const float *f, int S, int g, int t, __mmask16 m) {
    return S == 1 ? _mm512_maskz_loadu_ps(m, f + t) : _mm512_set1_ps(f[g]);
}

static int pass_avx512(const float *x, const float *f, int G, int S, int32_t lo, int32_t hi,
                       int *above, int32_t *ck, int32_t *ci, int cap) {
    const __m512i vlo = _mm512_set1_epi32(lo), vhi = _mm512_set1_epi32(hi), iota = _mm512_loadu_si512(iota16);
    int nc = 0, ab = 0;
    int groups = S == 1 ? 1 : G, len = S == 1 ? G : S;
    for (int g = 0; g < groups; g++) {
        int base = g * len;
        for (int i = 0; i < len; i += 16) {
            int t = base + i;
            __mmask16 m = tail16(len - i);
            __m512 xv = _mm512_maskz_loadu_ps(m, x + t);
            __m512i key = key16(_mm512_mul_ps(xv, fac16(f, S, g, t, m)));
            ab += __builtin_popcount(_mm512_mask_cmpgt_epi32_mask(m, key, vhi));
            __mmask16 cm = _mm512_mask_cmple_epi32_mask(_mm512_mask_cmpge_epi32_mask(m, key, vlo), key, vhi);
            int cnt = __builtin_popcount(cm);
            if (nc + cnt > cap) return -1;
            /* compress into registers, then whole stores (branch-free; the
             * contract allows 16 entries past the count; masked stores
             * measured slower on AMD Zen 5) */
            _mm512_storeu_si512(ck + nc, _mm512_maskz_compress_epi32(cm, key));
            _mm512_storeu_si512(ci + nc, _mm512_maskz_compress_epi32(cm, _mm512_add_epi32(iota, _mm512_set1_epi32(t))));
            nc += cnt;
        }
    }
    *above = ab;
    return nc;
}

/* Per-group raw thresholds (zs_kwta_pass_pc_fn): two float compares per
 * 16 units. A group's full vectors, then its tail (masked); the count
 * above b kept in a vector; keys and indices compressed and stored whole
 * whether or not a lane is a candidate (no branch on the data, which
 * mispredicts; the contract allows 16 entries past the count). */
static inline __attribute__((always_inline)) int pc_step(__m512 xv, __mmask16 m, __m512 va, __m512 vb, __m512 vf,
                                                         __m512i iv, __m512i *abv, int32_t *ci, int32_t *ck, int nc) {
    const __mmask16 hb = _mm512_mask_cmp_ps_mask(m, xv, vb, _CMP_GE_OQ);
    const __mmask16 cm = _mm512_mask_cmp_ps_mask(m, xv, va, _CMP_GE_OQ) & ~hb;
    *abv = _mm512_mask_sub_epi32(*abv, hb, *abv, _mm512_set1_epi32(-1));
    _mm512_storeu_si512(ci + nc, _mm512_maskz_compress_epi32(cm, iv));
    _mm512_storeu_si512(ck + nc, _mm512_maskz_compress_epi32(cm, key16(_mm512_mul_ps(xv, vf))));
    return nc + __builtin_popcount(cm);
}

static int pass_pc_avx512(const float *x, const float *f, const float *a, const float *b, int G, int S,
                          int *above, int32_t *ci, int32_t *ck, int cap) {
    const __m512i iota = _mm512_loadu_si512(iota16);
    __m512i abv = _mm512_setzero_si512();
    int nc = 0;
    const int full = S & ~15;
    const __mmask16 mt = tail16(S - full);
    for (int g = 0; g < G; g++) {
        const __m512 va = _mm512_set1_ps(a[g]), vb = _mm512_set1_ps(b[g]), vf = _mm512_set1_ps(f[g]);
        const int base = g * S;
        int i = 0;
        for (; i < full; i += 16) {
            nc = pc_step(_mm512_loadu_ps(x + base + i), 0xFFFF, va, vb, vf,
                         _mm512_add_epi32(iota, _mm512_set1_epi32(base + i)), &abv, ci, ck, nc);
            if (nc > cap) return -1; /* stored at most 16 past a count <= cap */
        }
        if (mt) {
            nc = pc_step(_mm512_maskz_loadu_ps(mt, x + base + i), mt, va, vb, vf,
                         _mm512_add_epi32(iota, _mm512_set1_epi32(base + i)), &abv, ci, ck, nc);
            if (nc > cap) return -1;
        }
    }
    *above = _mm512_reduce_add_epi32(abv);
    return nc;
}

static void count_lt2_avx512(const int32_t *s, int m, int32_t a, int32_t b, int *la, int *lb) {
    const __m512i va = _mm512_set1_epi32(a), vb = _mm512_set1_epi32(b), one = _mm512_set1_epi32(1);
    __m512i ca = _mm512_setzero_si512(), cb = _mm512_setzero_si512();
    for (int i = 0; i < m; i += 16) {
        __m512i x = _mm512_maskz_loadu_epi32(tail16(m - i), s + i);
        __mmask16 t = tail16(m - i);
        ca = _mm512_mask_add_epi32(ca, _mm512_mask_cmpgt_epi32_mask(t, va, x), ca, one);
        cb = _mm512_mask_add_epi32(cb, _mm512_mask_cmpgt_epi32_mask(t, vb, x), cb, one);
    }
    *la = _mm512_reduce_add_epi32(ca);
    *lb = _mm512_reduce_add_epi32(cb);
}

static int compact_avx512(int32_t *ck, int32_t *ci, int n, int32_t lo, int32_t hi, int *above) {
    const __m512i vlo = _mm512_set1_epi32(lo), vhi = _mm512_set1_epi32(hi);
    int m = 0, ab = 0;
    for (int i = 0; i < n; i += 16) {
        __mmask16 t = tail16(n - i);
        __m512i key = _mm512_maskz_loadu_epi32(t, ck + i);
        __mmask16 gt = _mm512_mask_cmpgt_epi32_mask(t, key, vhi);
        __mmask16 cm = _mm512_mask_cmpge_epi32_mask(t & ~gt, key, vlo);
        int cnt = __builtin_popcount(cm);
        ab += __builtin_popcount(gt);
        /* whole stores: m <= i, so they land on entries already read */
        _mm512_storeu_si512(ck + m, _mm512_maskz_compress_epi32(cm, key));
        if (ci) _mm512_storeu_si512(ci + m, _mm512_maskz_compress_epi32(cm, _mm512_maskz_loadu_epi32(t, ci + i)));
        m += cnt;
    }
    *above = ab;
    return m;
}

/* zs_kwta_raw_ge on 16 factors: q = t / f is within an ulp or two of the
 * answer, so the answer is the first of the six consecutive floats
 * q - 3 ulp .. q + 2 ulp (stepped on the monotone key) that passes, when
 * the first fails and the last passes (else the lane takes the scalar walk). */
/* The float of 16 keys (zs_kwta_key_float: the key map is its own inverse). */
static inline __m512 key_float16(__m512i k) {
    return _mm512_castsi512_ps(_mm512_xor_si512(k, _mm512_srli_epi32(_mm512_srai_epi32(k, 31), 1)));
}
void zs_kwta_raw_ge_n__avx512(float *out, const float *f, int C, float t) {
    t += 0.0f;
    const __m512 vt = _mm512_set1_ps(t);
    const __m512i ex = _mm512_set1_epi32(0x7F800000);
    for (int c = 0; c < C; c += 16) {
        __mmask16 m = tail16(C - c);
        __m512 vf = _mm512_mask_loadu_ps(_mm512_set1_ps(1.0f), m, f + c);
        __m512 q = _mm512_div_ps(vt, vf);
        __mmask16 ok = _mm512_cmpneq_epi32_mask(_mm512_and_si512(_mm512_castps_si512(q), ex), ex);
        __m512i kq = key16(q);
        __m512i nfalse = _mm512_setzero_si512();
        __mmask16 first = 0, last = 0;
        for (int j = -3; j <= 2; j++) {
            __m512i kj = _mm512_add_epi32(kq, _mm512_set1_epi32(j));
            __mmask16 p = _mm512_cmp_ps_mask(_mm512_mul_ps(key_float16(kj), vf), vt, _CMP_GE_OQ);
            if (j == -3) first = p;
            else {
                nfalse = _mm512_mask_add_epi32(nfalse, (__mmask16)~p, nfalse, _mm512_set1_epi32(1));
                if (j == 2) last = p;
            }
        }
        __m512 r = key_float16(_mm512_add_epi32(kq, _mm512_sub_epi32(nfalse, _mm512_set1_epi32(2))));
        _mm512_mask_storeu_ps(out + c, m, r);
        unsigned bad = (unsigned)(m & ~(ok & ~first & last));
        while (bad) {
            int j = __builtin_ctz(bad);
            out[c + j] = zs_kwta_raw_ge(t, f[c + j]);
            bad &= bad - 1;
        }
    }
}

static void minmax_avx512(const int32_t *s, int m, int32_t *mn, int32_t *mx) {
    __m512i a = _mm512_set1_epi32(INT32_MAX), b = _mm512_set1_epi32(INT32_MIN);
    for (int i = 0; i < m; i += 16) {
        const __mmask16 t = tail16(m - i);
        a = _mm512_mask_min_epi32(a, t, a, _mm512_maskz_loadu_epi32(t, s + i));
        b = _mm512_mask_max_epi32(b, t, b, _mm512_maskz_loadu_epi32(t, s + i));
    }
    *mn = _mm512_reduce_min_epi32(a);
    *mx = _mm512_reduce_max_epi32(b);
}

static const zs_kwta_isa isa_avx512 = {pass_avx512, pass_pc_avx512, count_lt2_avx512, compact_avx512,
                                       zs_kwta_raw_ge_n__avx512, minmax_avx512};

void zs_kwta_select__avx512(zs_kwta_cut *cut, const float *x, const float *f, int G, int S, int k,
                            void *work) {
    zs_kwta_select_common(cut, x, f, G, S, k, work, &isa_avx512);
}

/* Winner mask of 16 lanes with flat indices idxv. */
static inline __mmask16 win16(__m512 s, __m512i idxv, __m512i ck, __m512i cl, __mmask16 m) {
    __m512i key = key16(s);
    __mmask16 gt = _mm512_mask_cmpgt_epi32_mask(m, key, ck);
    __mmask16 eq = _mm512_mask_cmpeq_epi32_mask(m, key, ck);
    return gt | _mm512_mask_cmple_epi32_mask(eq, idxv, cl);
}

/* One group of S >= 16 units on its raw thresholds (zs_kwta_cut_thresholds):
 * x >= gt, or with split x >= ge and index <= lim; compressed in
 * register, stored whole (no branch on the data). */
static inline __attribute__((always_inline)) int ke_group(int32_t *idx, float *val, const float *x, int base, int S,
                                                            __m512 vgt, __m512 vge, __m512i vl, const int split,
                                                            int n) {
    const __m512i iota = _mm512_loadu_si512(iota16);
    for (int i = 0; i < S; i += 16) {
        const __mmask16 m = tail16(S - i);
        const __m512 xv = _mm512_maskz_loadu_ps(m, x + base + i);
        const __m512i iv = _mm512_add_epi32(iota, _mm512_set1_epi32(base + i));
        __mmask16 w = _mm512_mask_cmp_ps_mask(m, xv, vgt, _CMP_GE_OQ);
        if (split) w |= _mm512_mask_cmple_epi32_mask(_mm512_mask_cmp_ps_mask(m, xv, vge, _CMP_GE_OQ), iv, vl);
        _mm512_storeu_si512(idx + n, _mm512_maskz_compress_epi32(w, iv));
        _mm512_storeu_ps(val + n, _mm512_maskz_compress_ps(w, xv));
        n += __builtin_popcount(w);
    }
    return n;
}

typedef __m512 ke_v;
typedef __m512i ke_vi;
#define KE_SET1(a) _mm512_set1_ps(a)
#define KE_SET1I(a) _mm512_set1_epi32(a)
#define KE_RAW_GE_N zs_kwta_raw_ge_n__avx512
#define KE_FN emit_groups
#include "kwta_emit_kern.h"

int zs_kwta_emit__avx512(int32_t *idx, float *val, const float *x, const float *f, int G, int S,
                         zs_kwta_cut cut) {
    if (S >= 16) return emit_groups(idx, val, x, f, G, S, cut); /* one boost factor per group */
    int n = 0;
    const __m512i ck = _mm512_set1_epi32(cut.key), cl = _mm512_set1_epi32(cut.last);
    const __m512i iota = _mm512_loadu_si512(iota16);
    int groups = S == 1 ? 1 : G, len = S == 1 ? G : S;
    for (int g = 0; g < groups; g++) {
        int base = g * len;
        for (int i = 0; i < len; i += 16) {
            int t = base + i;
            __mmask16 m = tail16(len - i);
            __m512 xv = _mm512_maskz_loadu_ps(m, x + t);
            __m512i iv = _mm512_add_epi32(iota, _mm512_set1_epi32(t));
            __mmask16 w = win16(_mm512_mul_ps(xv, fac16(f, S, g, t, m)), iv, ck, cl, m);
            /* no branch on w (data: it mispredicts); whole stores (room for
             * 16 past the count: zs_kwta_emit_fn) */
            _mm512_storeu_si512(idx + n, _mm512_maskz_compress_epi32(w, iv));
            _mm512_storeu_ps(val + n, _mm512_maskz_compress_ps(w, xv));
            n += __builtin_popcount(w);
        }
    }
    return n;
}

static const int32_t even_idx[16] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
static const int32_t odd_idx[16] = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};

/* kwta_pool: one width-templated source (kwta_pool_kern.h) */
static inline __mmask16 kp_tail16(int rem) {
    return rem >= 16 ? (__mmask16)0xFFFF : rem <= 0 ? (__mmask16)0 : (__mmask16)((1u << rem) - 1u);
}
typedef __m512 kp_v;
typedef __m512i kp_vi;
#define KP_VL 16
#define KP_LOADU(p) _mm512_loadu_ps(p)
#define KP_LOADT(p, rem) _mm512_maskz_loadu_ps(kp_tail16(rem), (p))
#define KP_STOREU(p, v) _mm512_storeu_ps((p), (v))
#define KP_STORET(p, v, rem) _mm512_mask_storeu_ps((p), kp_tail16(rem), (v))
#define KP_SET1(a) _mm512_set1_ps(a)
#define KP_SET1I(a) _mm512_set1_epi32(a)
#define KP_MAX(a, b) _mm512_max_ps((a), (b))
#define KP_KEEP_GE(x, t) _mm512_maskz_mov_ps(_mm512_cmp_ps_mask((x), (t), _CMP_GE_OQ), (x))
#define KP_KEEP_SPLIT(x, gt, ge, iv, lim)                                                                  \
    _mm512_maskz_mov_ps(_mm512_cmp_ps_mask((x), (gt), _CMP_GE_OQ) |                                        \
                            _mm512_mask_cmple_epi32_mask(_mm512_cmp_ps_mask((x), (ge), _CMP_GE_OQ), (iv), (lim)), \
                        (x))
#define KP_IOTA(at) _mm512_add_epi32(_mm512_loadu_si512(iota16), _mm512_set1_epi32(at))
#define KP_PAIRMAX(a, b)                                                                                   \
    _mm512_max_ps(_mm512_permutex2var_ps((a), _mm512_loadu_si512(even_idx), (b)),                          \
                  _mm512_permutex2var_ps((a), _mm512_loadu_si512(odd_idx), (b)))
#define KP_RAW_GE_N zs_kwta_raw_ge_n__avx512
#define KP_FN zs_kwta_pool__avx512
#include "kwta_pool_kern.h"

/* the boost factors: the AVX2 source (boost_kern.h), four double lanes */
#define BOOST_FN zs_boost__avx512
#include "boost_kern.h"

/* conv_kwta_pool: one width-templated source (conv_kwta_kern.h) */
typedef __m512 ck_v;
#define CK_VL 16
#define CK_RMAX 7
#define CK_PF 0
#define CK_LOAD(p) _mm512_load_ps(p)
#define CK_LOADN(p, n) _mm512_maskz_loadu_ps(kp_tail16(n), (p))
#define CK_STORE(p, v) _mm512_store_ps((p), (v))
#define CK_SET1(a) _mm512_set1_ps(a)
#define CK_FMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
typedef __mmask16 ck_m;
#define CK_MASKN(n) kp_tail16(n)
#define CK_STOREU(p, v) _mm512_storeu_ps((p), (v))
/* ck_tile's epilogue (no ck_bits): the candidate bits, the count of lanes
 * >= tb kept in a vector (a masked add per vector, summed once per tile)
 * instead of kmov + popcnt + add */
#define CK_TILE_CNT 1
typedef __m512i ck_tcnt;
#define CK_TCNT_ZERO() _mm512_setzero_si512()
static inline unsigned ck_bitsc(__m512 y, __m512 ta, __m512 tb, __mmask16 m, ck_tcnt *cnt) {
    __mmask16 hb = _mm512_mask_cmp_ps_mask(m, y, tb, _CMP_GE_OQ);
    *cnt = _mm512_mask_add_epi32(*cnt, hb, *cnt, _mm512_set1_epi32(1));
    return _mm512_mask_cmp_ps_mask(m & ~hb, y, ta, _CMP_GE_OQ);
}
static inline int ck_tcnt_sum(ck_tcnt c) { return _mm512_reduce_add_epi32(c); }
/* compressed into registers, then full stores (the caller leaves room) */
static inline int ck_collect(const float *y, float fc, int32_t i0, unsigned bits, int32_t *ck, int32_t *ci) {
    __mmask16 cm = (__mmask16)bits;
    __m512i key = key16(_mm512_mul_ps(_mm512_loadu_ps(y), _mm512_set1_ps(fc)));
    _mm512_storeu_si512(ck, _mm512_maskz_compress_epi32(cm, key));
    _mm512_storeu_si512(ci, _mm512_maskz_compress_epi32(cm, _mm512_add_epi32(_mm512_loadu_si512(iota16), _mm512_set1_epi32(i0))));
    return __builtin_popcount(bits);
}
static inline void ck_keys(int32_t *dst, __m512 y, float fc) {
    _mm512_storeu_si512(dst, key16(_mm512_mul_ps(y, _mm512_set1_ps(fc))));
}
/* a channel's rows of candidate bits (2 entries per row, all inside it),
 * 16 entries per step: the non-zero entries' vector indices and bits,
 * compressed in order (16 stores of slack past the count) */
#define CK_VLIST_STEP 16
static inline int ck_vlist(int32_t *vl, int32_t *vb, const uint16_t *cb, int ne, int i0, int Wo) {
    const __m512i off = _mm512_setr_epi32(0, 16, Wo, Wo + 16, 2 * Wo, 2 * Wo + 16, 3 * Wo, 3 * Wo + 16, 4 * Wo,
                                          4 * Wo + 16, 5 * Wo, 5 * Wo + 16, 6 * Wo, 6 * Wo + 16, 7 * Wo, 7 * Wo + 16);
    int nl = 0;
    for (int e = 0; e < ne; e += 16) {
        __m512i b = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(cb + e)));
        __mmask16 m = _mm512_test_epi32_mask(b, b);
        __m512i iv = _mm512_add_epi32(off, _mm512_set1_epi32(i0 + e / 2 * Wo));
        _mm512_storeu_si512(vl + nl, _mm512_maskz_compress_epi32(m, iv));
        _mm512_storeu_si512(vb + nl, _mm512_maskz_compress_epi32(m, b));
        nl += __builtin_popcount(m);
    }
    return nl;
}
#define CK_ISA (&isa_avx512)
#define CK_FN zs_conv_kwta_pool__avx512
#define CK_CONV_DENSE zs_conv_dense__avx512
#define CK_KWTA_SELECT zs_kwta_select__avx512
#define CK_KWTA_POOL zs_kwta_pool__avx512
#define CP_FN zs_conv_pool__avx512
#define CP_MAXPOOL zs_maxpool__avx512
#define CP_PRMAX 3
#include "conv_kwta_kern.h"

void zs_maxpool__avx512(float *out, const float *x, int C, int H, int W, int relu) {
    int Ho = H / 2, Wo = W / 2;
    const __m512i ev = _mm512_loadu_si512(even_idx), od = _mm512_loadu_si512(odd_idx);
    const __m512 lo = relu ? _mm512_setzero_ps() : _mm512_set1_ps(-__builtin_inff());
    for (int c = 0; c < C; c++)
        for (int py = 0; py < Ho; py++) {
            const float *r0 = x + ((size_t)c * H + 2 * py) * W, *r1 = r0 + W;
            float *o = out + ((size_t)c * Ho + py) * Wo;
            for (int x0 = 0; x0 < 2 * Wo; x0 += 32) {
                int rem = 2 * Wo - x0;
                __mmask16 m0 = tail16(rem), m1 = rem > 16 ? tail16(rem - 16) : 0;
                __m512 a = _mm512_max_ps(_mm512_maskz_loadu_ps(m0, r0 + x0), _mm512_maskz_loadu_ps(m0, r1 + x0));
                __m512 b = _mm512_max_ps(_mm512_maskz_loadu_ps(m1, r0 + x0 + 16),
                                         _mm512_maskz_loadu_ps(m1, r1 + x0 + 16));
                __m512 r = _mm512_max_ps(_mm512_permutex2var_ps(a, ev, b), _mm512_permutex2var_ps(a, od, b));
                _mm512_mask_storeu_ps(o + x0 / 2, tail16(Wo - x0 / 2), _mm512_max_ps(r, lo));
            }
        }
}

int zs_sparsify__avx512(int32_t *idx, float *val, const float *x, int n) {
    const __m512i iota = _mm512_loadu_si512(iota16);
    int m = 0;
    for (int i = 0; i < n; i += 16) {
        __mmask16 t = tail16(n - i);
        __m512 xv = _mm512_maskz_loadu_ps(t, x + i);
        __mmask16 nz = _mm512_mask_cmp_ps_mask(t, xv, _mm512_setzero_ps(), _CMP_NEQ_UQ);
        if (!nz) continue;
        /* whole stores (room for 16 past the count: zs_sparsify_fn) */
        _mm512_storeu_si512(idx + m, _mm512_maskz_compress_epi32(nz, _mm512_add_epi32(iota, _mm512_set1_epi32(i))));
        _mm512_storeu_ps(val + m, _mm512_maskz_compress_ps(nz, xv));
        m += __builtin_popcount(nz);
    }
    return m;
}
