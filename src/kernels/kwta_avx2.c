/*
 * kwta_avx2.c — k-WTA family with AVX2, 8 lanes. AVX2 has no compress
 * instruction: the lane permutation comes from the winner mask through a
 * 256-entry table, then vpermps, then a full 8-lane store (callers give 16
 * entries of slack, see kernels.h).
 */
#include "kernels.h"
#include <immintrin.h>

static inline __m256i tail8(int rem) {
    static const int32_t ones[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    if (rem >= 8) return _mm256_set1_epi32(-1);
    if (rem <= 0) return _mm256_setzero_si256();
    return _mm256_loadu_si256((const __m256i *)(ones + 8 - rem));
}

static inline __m256i key8(__m256 s) {
    __m256i i = _mm256_castps_si256(_mm256_add_ps(s, _mm256_setzero_ps()));
    return _mm256_xor_si256(i, _mm256_srli_epi32(_mm256_srai_epi32(i, 31), 1));
}

/* vpermps indices moving the lanes set in `mask` (8 bits) to the front:
 * a 256-entry table of packed byte indices (kernels.h; linear_avx2.c uses
 * it too) (no pdep/pext: those need BMI2,
 * which some VMs hide, and are microcoded on Zen 1/2). */
const uint64_t zs_avx2_compress_lut[256] = {
    0x0000000000000000ull, 0x0000000000000000ull, 0x0000000000000001ull, 0x0000000000000100ull,
    0x0000000000000002ull, 0x0000000000000200ull, 0x0000000000000201ull, 0x0000000000020100ull,
    0x0000000000000003ull, 0x0000000000000300ull, 0x0000000000000301ull, 0x0000000000030100ull,
    0x0000000000000302ull, 0x0000000000030200ull, 0x0000000000030201ull, 0x0000000003020100ull,
    0x0000000000000004ull, 0x0000000000000400ull, 0x0000000000000401ull, 0x0000000000040100ull,
    0x0000000000000402ull, 0x0000000000040200ull, 0x0000000000040201ull, 0x0000000004020100ull,
    0x0000000000000403ull, 0x0000000000040300ull, 0x0000000000040301ull, 0x0000000004030100ull,
    0x0000000000040302ull, 0x0000000004030200ull, 0x0000000004030201ull, 0x0000000403020100ull,
    0x0000000000000005ull, 0x0000000000000500ull, 0x0000000000000501ull, 0x0000000000050100ull,
    0x0000000000000502ull, 0x0000000000050200ull, 0x0000000000050201ull, 0x0000000005020100ull,
    0x0000000000000503ull, 0x0000000000050300ull, 0x0000000000050301ull, 0x0000000005030100ull,
    0x0000000000050302ull, 0x0000000005030200ull, 0x0000000005030201ull, 0x0000000503020100ull,
    0x0000000000000504ull, 0x0000000000050400ull, 0x0000000000050401ull, 0x0000000005040100ull,
    0x0000000000050402ull, 0x0000000005040200ull, 0x0000000005040201ull, 0x0000000504020100ull,
    0x0000000000050403ull, 0x0000000005040300ull, 0x0000000005040301ull, 0x0000000504030100ull,
    0x0000000005040302ull, 0x0000000504030200ull, 0x0000000504030201ull, 0x0000050403020100ull,
    0x0000000000000006ull, 0x0000000000000600ull, 0x0000000000000601ull, 0x0000000000060100ull,
    0x0000000000000602ull, 0x0000000000060200ull, 0x0000000000060201ull, 0x0000000006020100ull,
    0x0000000000000603ull, 0x0000000000060300ull, 0x0000000000060301ull, 0x0000000006030100ull,
    0x0000000000060302ull, 0x0000000006030200ull, 0x0000000006030201ull, 0x0000000603020100ull,
    0x0000000000000604ull, 0x0000000000060400ull, 0x0000000000060401ull, 0x0000000006040100ull,
    0x0000000000060402ull, 0x0000000006040200ull, 0x0000000006040201ull, 0x0000000604020100ull,
    0x0000000000060403ull, 0x0000000006040300ull, 0x0000000006040301ull, 0x0000000604030100ull,
    0x0000000006040302ull, 0x0000000604030200ull, 0x0000000604030201ull, 0x0000060403020100ull,
    0x0000000000000605ull, 0x0000000000060500ull, 0x0000000000060501ull, 0x0000000006050100ull,
    0x0000000000060502ull, 0x0000000006050200ull, 0x0000000006050201ull, 0x0000000605020100ull,
    0x0000000000060503ull, 0x0000000006050300ull, 0x0000000006050301ull, 0x0000000605030100ull,
    0x0000000006050302ull, 0x0000000605030200ull, 0x0000000605030201ull, 0x0000060503020100ull,
    0x0000000000060504ull, 0x0000000006050400ull, 0x0000000006050401ull, 0x0000000605040100ull,
    0x0000000006050402ull, 0x0000000605040200ull, 0x0000000605040201ull, 0x0000060504020100ull,
    0x0000000006050403ull, 0x0000000605040300ull, 0x0000000605040301ull, 0x0000060504030100ull,
    0x0000000605040302ull, 0x0000060504030200ull, 0x0000060504030201ull, 0x0006050403020100ull,
    0x0000000000000007ull, 0x0000000000000700ull, 0x0000000000000701ull, 0x0000000000070100ull,
    0x0000000000000702ull, 0x0000000000070200ull, 0x0000000000070201ull, 0x0000000007020100ull,
    0x0000000000000703ull, 0x0000000000070300ull, 0x0000000000070301ull, 0x0000000007030100ull,
    0x0000000000070302ull, 0x0000000007030200ull, 0x0000000007030201ull, 0x0000000703020100ull,
    0x0000000000000704ull, 0x0000000000070400ull, 0x0000000000070401ull, 0x0000000007040100ull,
    0x0000000000070402ull, 0x0000000007040200ull, 0x0000000007040201ull, 0x0000000704020100ull,
    0x0000000000070403ull, 0x0000000007040300ull, 0x0000000007040301ull, 0x0000000704030100ull,
    0x0000000007040302ull, 0x0000000704030200ull, 0x0000000704030201ull, 0x0000070403020100ull,
    0x0000000000000705ull, 0x0000000000070500ull, 0x0000000000070501ull, 0x0000000007050100ull,
    0x0000000000070502ull, 0x0000000007050200ull, 0x0000000007050201ull, 0x0000000705020100ull,
    0x0000000000070503ull, 0x0000000007050300ull, 0x0000000007050301ull, 0x0000000705030100ull,
    0x0000000007050302ull, 0x0000000705030200ull, 0x0000000705030201ull, 0x0000070503020100ull,
    0x0000000000070504ull, 0x0000000007050400ull, 0x0000000007050401ull, 0x0000000705040100ull,
    0x0000000007050402ull, 0x0000000705040200ull, 0x0000000705040201ull, 0x0000070504020100ull,
    0x0000000007050403ull, 0x0000000705040300ull, 0x0000000705040301ull, 0x0000070504030100ull,
    0x0000000705040302ull, 0x0000070504030200ull, 0x0000070504030201ull, 0x0007050403020100ull,
    0x0000000000000706ull, 0x0000000000070600ull, 0x0000000000070601ull, 0x0000000007060100ull,
    0x0000000000070602ull, 0x0000000007060200ull, 0x0000000007060201ull, 0x0000000706020100ull,
    0x0000000000070603ull, 0x0000000007060300ull, 0x0000000007060301ull, 0x0000000706030100ull,
    0x0000000007060302ull, 0x0000000706030200ull, 0x0000000706030201ull, 0x0000070603020100ull,
    0x0000000000070604ull, 0x0000000007060400ull, 0x0000000007060401ull, 0x0000000706040100ull,
    0x0000000007060402ull, 0x0000000706040200ull, 0x0000000706040201ull, 0x0000070604020100ull,
    0x0000000007060403ull, 0x0000000706040300ull, 0x0000000706040301ull, 0x0000070604030100ull,
    0x0000000706040302ull, 0x0000070604030200ull, 0x0000070604030201ull, 0x0007060403020100ull,
    0x0000000000070605ull, 0x0000000007060500ull, 0x0000000007060501ull, 0x0000000706050100ull,
    0x0000000007060502ull, 0x0000000706050200ull, 0x0000000706050201ull, 0x0000070605020100ull,
    0x0000000007060503ull, 0x0000000706050300ull, 0x0000000706050301ull, 0x0000070605030100ull,
    0x0000000706050302ull, 0x0000070605030200ull, 0x0000070605030201ull, 0x0007060503020100ull,
    0x0000000007060504ull, 0x0000000706050400ull, 0x0000000706050401ull, 0x0000070605040100ull,
    0x0000000706050402ull, 0x0000070605040200ull, 0x0000070605040201ull, 0x0007060504020100ull,
    0x0000000706050403ull, 0x0000070605040300ull, 0x0000070605040301ull, 0x0007060504030100ull,
    0x0000070605040302ull, 0x0007060504030200ull, 0x0007060504030201ull, 0x0706050403020100ull
};
static inline __m256i compress_perm8(unsigned mask) {
    return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)zs_avx2_compress_lut[mask]));
}

static inline unsigned mask8(__m256i m) { return (unsigned)_mm256_movemask_ps(_mm256_castsi256_ps(m)); }

static const int32_t iota8[8] = {0, 1, 2, 3, 4, 5, 6, 7};

static inline __m256 fac8(const float *f, int S, int g, int t, __m256i m) {
    return S == 1 ? _mm256_maskload_ps(f + t, m) : _mm256_set1_ps(f[g]);
}

static int pass_avx2(const float *x, const float *f, int G, int S, int32_t lo, int32_t hi,
                     int *above, int32_t *ck, int32_t *ci, int cap) {
    const __m256i vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi);
    const __m256i iota = _mm256_loadu_si256((const __m256i *)iota8);
    int nc = 0, ab = 0;
    int groups = S == 1 ? 1 : G, len = S == 1 ? G : S;
    for (int g = 0; g < groups; g++) {
        int base = g * len;
        for (int i = 0; i < len; i += 8) {
            int t = base + i;
            __m256i m = tail8(len - i);
            __m256 xv = _mm256_maskload_ps(x + t, m);
            __m256i key = key8(_mm256_mul_ps(xv, fac8(f, S, g, t, m)));
            __m256i gt = _mm256_and_si256(_mm256_cmpgt_epi32(key, vhi), m);
            ab += __builtin_popcount(mask8(gt));
            /* lo <= key <= hi  <=>  !(lo > key) && !(key > hi) */
            __m256i out = _mm256_or_si256(_mm256_cmpgt_epi32(vlo, key), _mm256_cmpgt_epi32(key, vhi));
            unsigned cm = mask8(_mm256_andnot_si256(out, m));
            if (!cm) continue;
            int cnt = __builtin_popcount(cm);
            if (nc + cnt > cap) return -1;
            __m256i perm = compress_perm8(cm);
            _mm256_storeu_si256((__m256i *)(ck + nc), _mm256_permutevar8x32_epi32(key, perm));
            _mm256_storeu_si256((__m256i *)(ci + nc), _mm256_permutevar8x32_epi32(_mm256_add_epi32(iota, _mm256_set1_epi32(t)), perm));
            nc += cnt;
        }
    }
    *above = ab;
    return nc;
}

/* Per-group raw thresholds (zs_kwta_pass_pc_fn). */
static int pass_pc_avx2(const float *x, const float *f, const float *a, const float *b, int G, int S,
                        int *above, int32_t *ci, int32_t *ck, int cap) {
    const __m256i iota = _mm256_loadu_si256((const __m256i *)iota8);
    int nc = 0, ab = 0;
    for (int g = 0; g < G; g++) {
        const __m256 va = _mm256_set1_ps(a[g]), vb = _mm256_set1_ps(b[g]), vf = _mm256_set1_ps(f[g]);
        int base = g * S;
        for (int i = 0; i < S; i += 8) {
            __m256i m = tail8(S - i);
            __m256 xv = _mm256_maskload_ps(x + base + i, m);
            unsigned lm = mask8(m);
            unsigned hb = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(xv, vb, _CMP_GE_OQ)) & lm;
            unsigned cm = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(xv, va, _CMP_GE_OQ)) & lm & ~hb;
            ab += __builtin_popcount(hb);
            /* no branch on cm: which vectors hold a candidate is data (it
             * mispredicted; Zen 3, end to end: +1.7 % words/s) */
            int cnt = __builtin_popcount(cm);
            if (nc + cnt > cap) return -1;
            __m256i perm = compress_perm8(cm);
            _mm256_storeu_si256((__m256i *)(ci + nc), _mm256_permutevar8x32_epi32(_mm256_add_epi32(iota, _mm256_set1_epi32(base + i)), perm));
            _mm256_storeu_si256((__m256i *)(ck + nc), _mm256_permutevar8x32_epi32(key8(_mm256_mul_ps(xv, vf)), perm));
            nc += cnt;
        }
    }
    *above = ab;
    return nc;
}

static void count_lt2_avx2(const int32_t *s, int m, int32_t a, int32_t b, int *la, int *lb) {
    const __m256i va = _mm256_set1_epi32(a), vb = _mm256_set1_epi32(b);
    __m256i ca = _mm256_setzero_si256(), cb = _mm256_setzero_si256();
    int i = 0;
    for (; i + 8 <= m; i += 8) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(s + i));
        ca = _mm256_sub_epi32(ca, _mm256_cmpgt_epi32(va, x)); /* true lanes are -1 */
        cb = _mm256_sub_epi32(cb, _mm256_cmpgt_epi32(vb, x));
    }
    int32_t ta[8], tb[8];
    _mm256_storeu_si256((__m256i *)ta, ca);
    _mm256_storeu_si256((__m256i *)tb, cb);
    int na = 0, nb = 0;
    for (int j = 0; j < 8; j++) { na += ta[j]; nb += tb[j]; }
    for (; i < m; i++) { na += s[i] < a; nb += s[i] < b; }
    *la = na;
    *lb = nb;
}

/* in place: the 8 entries stored at m <= i were loaded already */
static int compact_avx2(int32_t *ck, int32_t *ci, int n, int32_t lo, int32_t hi, int *above) {
    const __m256i vlo = _mm256_set1_epi32(lo), vhi = _mm256_set1_epi32(hi);
    int m = 0, ab = 0;
    for (int i = 0; i < n; i += 8) {
        __m256i t = tail8(n - i);
        __m256i key = _mm256_maskload_epi32(ck + i, t);
        __m256i gt = _mm256_and_si256(_mm256_cmpgt_epi32(key, vhi), t);
        unsigned cm = mask8(_mm256_andnot_si256(_mm256_or_si256(_mm256_cmpgt_epi32(vlo, key), gt), t));
        __m256i perm = compress_perm8(cm);
        ab += __builtin_popcount(mask8(gt));
        _mm256_storeu_si256((__m256i *)(ck + m), _mm256_permutevar8x32_epi32(key, perm));
        if (ci) _mm256_storeu_si256((__m256i *)(ci + m), _mm256_permutevar8x32_epi32(_mm256_maskload_epi32(ci + i, t), perm));
        m += __builtin_popcount(cm);
    }
    *above = ab;
    return m;
}

/* zs_kwta_raw_ge on 8 factors (as zs_kwta_raw_ge_n__avx512: the first passing of the
 * six consecutive floats q - 3 ulp .. q + 2 ulp, q = t / f; lanes where the
 * first passes or the last fails take the scalar walk). */
static inline __m256 key_float8(__m256i k) {
    return _mm256_castsi256_ps(_mm256_xor_si256(k, _mm256_srli_epi32(_mm256_srai_epi32(k, 31), 1)));
}
void zs_kwta_raw_ge_n__avx2(float *out, const float *f, int C, float t) {
    t += 0.0f;
    const __m256 vt = _mm256_set1_ps(t);
    const __m256i ex = _mm256_set1_epi32(0x7F800000);
    for (int c = 0; c < C; c += 8) {
        __m256i m = tail8(C - c);
        __m256 vf = _mm256_blendv_ps(_mm256_set1_ps(1.0f), _mm256_maskload_ps(f + c, m), _mm256_castsi256_ps(m));
        __m256 q = _mm256_div_ps(vt, vf);
        __m256i inf = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_castps_si256(q), ex), ex);
        __m256i kq = key8(q), nfalse = _mm256_setzero_si256();
        unsigned first = 0, last = 0;
        for (int j = -3; j <= 2; j++) {
            __m256i kj = _mm256_add_epi32(kq, _mm256_set1_epi32(j));
            __m256 p = _mm256_cmp_ps(_mm256_mul_ps(key_float8(kj), vf), vt, _CMP_GE_OQ);
            if (j == -3) first = (unsigned)_mm256_movemask_ps(p);
            else {
                nfalse = _mm256_add_epi32(nfalse, _mm256_andnot_si256(_mm256_castps_si256(p), _mm256_set1_epi32(1)));
                if (j == 2) last = (unsigned)_mm256_movemask_ps(p);
            }
        }
        __m256 r = key_float8(_mm256_add_epi32(kq, _mm256_sub_epi32(nfalse, _mm256_set1_epi32(2))));
        _mm256_maskstore_ps(out + c, m, r);
        unsigned bad = mask8(m) & ~(~mask8(inf) & ~first & last);
        while (bad) {
            int j = __builtin_ctz(bad);
            out[c + j] = zs_kwta_raw_ge(t, f[c + j]);
            bad &= bad - 1;
        }
    }
}

static void minmax_avx2(const int32_t *s, int m, int32_t *mn, int32_t *mx) {
    __m256i a = _mm256_set1_epi32(INT32_MAX), b = _mm256_set1_epi32(INT32_MIN);
    int i = 0;
    for (; i + 8 <= m; i += 8) {
        const __m256i x = _mm256_loadu_si256((const __m256i *)(s + i));
        a = _mm256_min_epi32(a, x);
        b = _mm256_max_epi32(b, x);
    }
    int32_t ta[8], tb[8];
    _mm256_storeu_si256((__m256i *)ta, a);
    _mm256_storeu_si256((__m256i *)tb, b);
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    for (int j = 0; j < 8; j++) { lo = ta[j] < lo ? ta[j] : lo; hi = tb[j] > hi ? tb[j] : hi; }
    for (; i < m; i++) { lo = s[i] < lo ? s[i] : lo; hi = s[i] > hi ? s[i] : hi; }
    *mn = lo;
    *mx = hi;
}

static const zs_kwta_isa isa_avx2 = {pass_avx2, pass_pc_avx2, count_lt2_avx2, compact_avx2, zs_kwta_raw_ge_n__avx2,
                                     minmax_avx2};

void zs_kwta_select__avx2(zs_kwta_cut *cut, const float *x, const float *f, int G, int S, int k,
                          void *work) {
    zs_kwta_select_common(cut, x, f, G, S, k, work, &isa_avx2);
}

static inline __m256i win8(__m256 s, __m256i idxv, __m256i ck, __m256i cl, __m256i m) {
    __m256i key = key8(s);
    __m256i gt = _mm256_cmpgt_epi32(key, ck);
    __m256i eq = _mm256_andnot_si256(_mm256_cmpgt_epi32(idxv, cl), _mm256_cmpeq_epi32(key, ck));
    return _mm256_and_si256(_mm256_or_si256(gt, eq), m);
}

/* One group of S >= 8 units on its raw thresholds (zs_kwta_cut_thresholds):
 * x >= gt, or with split x >= ge and index <= lim (as the AVX-512 emitter). */
static inline __attribute__((always_inline)) int ke_group(int32_t *idx, float *val, const float *x, int base, int S,
                                                            __m256 vgt, __m256 vge, __m256i vl, const int split,
                                                            int n) {
    const __m256i iota = _mm256_loadu_si256((const __m256i *)iota8);
    for (int i = 0; i < S; i += 8) {
        const __m256i m = tail8(S - i);
        const __m256 xv = _mm256_maskload_ps(x + base + i, m);
        const __m256i iv = _mm256_add_epi32(iota, _mm256_set1_epi32(base + i));
        __m256 w = _mm256_and_ps(_mm256_cmp_ps(xv, vgt, _CMP_GE_OQ), _mm256_castsi256_ps(m));
        if (split) {
            const __m256 tie = _mm256_andnot_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(iv, vl)),
                                                _mm256_cmp_ps(xv, vge, _CMP_GE_OQ)); /* index <= lim */
            w = _mm256_or_ps(w, _mm256_and_ps(tie, _mm256_castsi256_ps(m)));
        }
        const unsigned b = (unsigned)_mm256_movemask_ps(w);
        const __m256i perm = compress_perm8(b);
        _mm256_storeu_si256((__m256i *)(idx + n), _mm256_permutevar8x32_epi32(iv, perm));
        _mm256_storeu_ps(val + n, _mm256_permutevar8x32_ps(xv, perm));
        n += __builtin_popcount(b);
    }
    return n;
}

typedef __m256 ke_v;
typedef __m256i ke_vi;
#define KE_SET1(a) _mm256_set1_ps(a)
#define KE_SET1I(a) _mm256_set1_epi32(a)
#define KE_RAW_GE_N zs_kwta_raw_ge_n__avx2
#define KE_FN emit_groups
#include "kwta_emit_kern.h"

int zs_kwta_emit__avx2(int32_t *idx, float *val, const float *x, const float *f, int G, int S,
                       zs_kwta_cut cut) {
    if (S >= 8) return emit_groups(idx, val, x, f, G, S, cut); /* one boost factor per group */
    int n = 0;
    const __m256i ck = _mm256_set1_epi32(cut.key), cl = _mm256_set1_epi32(cut.last);
    const __m256i iota = _mm256_loadu_si256((const __m256i *)iota8);
    int groups = S == 1 ? 1 : G, len = S == 1 ? G : S;
    for (int g = 0; g < groups; g++) {
        int base = g * len;
        for (int i = 0; i < len; i += 8) {
            int t = base + i;
            __m256i m = tail8(len - i);
            __m256 xv = _mm256_maskload_ps(x + t, m);
            __m256i iv = _mm256_add_epi32(iota, _mm256_set1_epi32(t));
            unsigned w = mask8(win8(_mm256_mul_ps(xv, fac8(f, S, g, t, m)), iv, ck, cl, m));
            /* no branch on w: which vectors hold a winner is data (a
             * mispredicted branch costs more than the two stores) */
            __m256i perm = compress_perm8(w);
            _mm256_storeu_si256((__m256i *)(idx + n), _mm256_permutevar8x32_epi32(iv, perm));
            _mm256_storeu_ps(val + n, _mm256_permutevar8x32_ps(xv, perm));
            n += __builtin_popcount(w);
        }
    }
    return n;
}

/* max over horizontal pairs of the 16 lanes (a, b) -> 8 lanes in order */
static inline __m256 pairmax(__m256 a, __m256 b) {
    __m256 e = _mm256_shuffle_ps(a, b, 0x88), o = _mm256_shuffle_ps(a, b, 0xDD);
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_max_ps(e, o)), 0xD8));
}

/* kwta_pool: one width-templated source (kwta_pool_kern.h) */
typedef __m256 kp_v;
typedef __m256i kp_vi;
#define KP_VL 8
#define KP_LOADU(p) _mm256_loadu_ps(p)
#define KP_LOADT(p, rem) _mm256_maskload_ps((p), tail8(rem))
#define KP_STOREU(p, v) _mm256_storeu_ps((p), (v))
#define KP_STORET(p, v, rem) _mm256_maskstore_ps((p), tail8(rem), (v))
#define KP_SET1(a) _mm256_set1_ps(a)
#define KP_SET1I(a) _mm256_set1_epi32(a)
#define KP_MAX(a, b) _mm256_max_ps((a), (b))
#define KP_KEEP_GE(x, t) _mm256_and_ps(_mm256_cmp_ps((x), (t), _CMP_GE_OQ), (x))
#define KP_KEEP_SPLIT(x, gt, ge, iv, lim)                                                                  \
    _mm256_and_ps(_mm256_or_ps(_mm256_cmp_ps((x), (gt), _CMP_GE_OQ),                                       \
                               _mm256_andnot_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32((iv), (lim))),      \
                                                _mm256_cmp_ps((x), (ge), _CMP_GE_OQ))),                     \
                  (x))
#define KP_IOTA(at) _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)iota8), _mm256_set1_epi32(at))
#define KP_PAIRMAX(a, b) pairmax((a), (b))
#define KP_RAW_GE_N zs_kwta_raw_ge_n__avx2
#define KP_FN zs_kwta_pool__avx2
#include "kwta_pool_kern.h"

/* the boost factors: one source (boost_kern.h) */
#define BOOST_FN zs_boost__avx2
#include "boost_kern.h"

/* conv_kwta_pool: one width-templated source (conv_kwta_kern.h) */
typedef __m256 ck_v;
#define CK_VL 8
#define CK_RMAX 3
#define CK_PF 3
#define CK_LOAD(p) _mm256_load_ps(p)
#define CK_LOADN(p, n) _mm256_maskload_ps((p), tail8(n))
#define CK_STORE(p, v) _mm256_store_ps((p), (v))
#define CK_SET1(a) _mm256_set1_ps(a)
#define CK_FMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
typedef unsigned ck_m;
#define CK_MASKN(n) ((n) >= 8 ? 0xffu : (n) <= 0 ? 0u : (1u << (n)) - 1u)
#define CK_STOREU(p, v) _mm256_storeu_ps((p), (v))
static inline unsigned ck_bits(__m256 y, __m256 ta, __m256 tb, unsigned m, int *above) {
    unsigned hb = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(y, tb, _CMP_GE_OQ)) & m;
    unsigned ge = (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(y, ta, _CMP_GE_OQ)) & m;
    *above += __builtin_popcount(hb);
    return ge & ~hb;
}
/* ck_tile4's epilogue (CK_PF): the same bits as ck_bits, the count kept in
 * a vector (each lane -1 per y >= tb) and summed once per tile: no
 * movemask + popcount per vector. ck_bitsv: all lanes; ck_bitsm: the
 * lanes of mv (a prefix, CK_MASKV). */
typedef __m256i ck_cnt;
#define CK_CNT_ZERO() _mm256_setzero_si256()
#define CK_MASKV(n) _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_loadu_si256((const __m256i *)iota8)))
static inline unsigned ck_bitsv(__m256 y, __m256 ta, __m256 tb, ck_cnt *cnt) {
    __m256 hb = _mm256_cmp_ps(y, tb, _CMP_GE_OQ);
    *cnt = _mm256_add_epi32(*cnt, _mm256_castps_si256(hb));
    return (unsigned)_mm256_movemask_ps(_mm256_andnot_ps(hb, _mm256_cmp_ps(y, ta, _CMP_GE_OQ)));
}
static inline unsigned ck_bitsm(__m256 y, __m256 ta, __m256 tb, __m256 mv, ck_cnt *cnt) {
    __m256 hb = _mm256_and_ps(_mm256_cmp_ps(y, tb, _CMP_GE_OQ), mv);
    *cnt = _mm256_add_epi32(*cnt, _mm256_castps_si256(hb));
    return (unsigned)_mm256_movemask_ps(_mm256_andnot_ps(hb, _mm256_and_ps(_mm256_cmp_ps(y, ta, _CMP_GE_OQ), mv)));
}
static inline int ck_cnt_sum(ck_cnt c) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return -_mm_cvtsi128_si32(s);
}
static inline int ck_collect(const float *y, float fc, int32_t i0, unsigned bits, int32_t *ck, int32_t *ci) {
    __m256i perm = compress_perm8(bits);
    __m256i key = key8(_mm256_mul_ps(_mm256_loadu_ps(y), _mm256_set1_ps(fc)));
    _mm256_storeu_si256((__m256i *)ck, _mm256_permutevar8x32_epi32(key, perm));
    _mm256_storeu_si256((__m256i *)ci, _mm256_permutevar8x32_epi32(
                                           _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)iota8), _mm256_set1_epi32(i0)), perm));
    return __builtin_popcount(bits);
}
static inline void ck_keys(int32_t *dst, __m256 y, float fc) {
    _mm256_storeu_si256((__m256i *)dst, key8(_mm256_mul_ps(y, _mm256_set1_ps(fc))));
}
/* a channel's rows of candidate bits (4 entries per row, all inside it),
 * 8 entries per step: the non-zero entries' vector indices and bits,
 * compressed in order (8 stores of slack past the count) */
#define CK_VLIST_STEP 8
static inline int ck_vlist(int32_t *vl, int32_t *vb, const uint16_t *cb, int ne, int i0, int Wo) {
    const __m256i off = _mm256_setr_epi32(0, 8, 16, 24, Wo, Wo + 8, Wo + 16, Wo + 24), z = _mm256_setzero_si256();
    int nl = 0;
    for (int e = 0; e < ne; e += 8) {
        __m256i b = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(cb + e)));
        unsigned m = ~mask8(_mm256_cmpeq_epi32(b, z)) & 0xffu;
        __m256i perm = compress_perm8(m), iv = _mm256_add_epi32(off, _mm256_set1_epi32(i0 + e / 4 * Wo));
        _mm256_storeu_si256((__m256i *)(vl + nl), _mm256_permutevar8x32_epi32(iv, perm));
        _mm256_storeu_si256((__m256i *)(vb + nl), _mm256_permutevar8x32_epi32(b, perm));
        nl += __builtin_popcount(m);
    }
    return nl;
}
#define CK_ISA (&isa_avx2)
#define CK_FN zs_conv_kwta_pool__avx2
#define CK_CONV_DENSE zs_conv_dense__avx2
#define CK_KWTA_SELECT zs_kwta_select__avx2
#define CK_KWTA_POOL zs_kwta_pool__avx2
#define CP_FN zs_conv_pool__avx2
#define CP_MAXPOOL zs_maxpool__avx2
#define CP_PRMAX 1
#include "conv_kwta_kern.h"

void zs_maxpool__avx2(float *out, const float *x, int C, int H, int W, int relu) {
    int Ho = H / 2, Wo = W / 2;
    const __m256 lo = relu ? _mm256_setzero_ps() : _mm256_set1_ps(-__builtin_inff());
    for (int c = 0; c < C; c++)
        for (int py = 0; py < Ho; py++) {
            const float *r0 = x + ((size_t)c * H + 2 * py) * W, *r1 = r0 + W;
            float *o = out + ((size_t)c * Ho + py) * Wo;
            for (int x0 = 0; x0 < 2 * Wo; x0 += 16) {
                int rem = 2 * Wo - x0;
                __m256i m0 = tail8(rem), m1 = tail8(rem - 8);
                __m256 a = _mm256_max_ps(_mm256_maskload_ps(r0 + x0, m0), _mm256_maskload_ps(r1 + x0, m0));
                __m256 b = _mm256_max_ps(_mm256_maskload_ps(r0 + x0 + 8, m1), _mm256_maskload_ps(r1 + x0 + 8, m1));
                _mm256_maskstore_ps(o + x0 / 2, tail8(Wo - x0 / 2), _mm256_max_ps(pairmax(a, b), lo));
            }
        }
}

int zs_sparsify__avx2(int32_t *idx, float *val, const float *x, int n) {
    const __m256i iota = _mm256_loadu_si256((const __m256i *)iota8);
    int m = 0;
    for (int i = 0; i < n; i += 8) {
        __m256i t = tail8(n - i);
        __m256 xv = _mm256_maskload_ps(x + i, t);
        unsigned nz = mask8(_mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(xv, _mm256_setzero_ps(), _CMP_NEQ_UQ)), t));
        if (!nz) continue;
        __m256i perm = compress_perm8(nz);
        _mm256_storeu_si256((__m256i *)(idx + m), _mm256_permutevar8x32_epi32(_mm256_add_epi32(iota, _mm256_set1_epi32(i)), perm));
        _mm256_storeu_ps(val + m, _mm256_permutevar8x32_ps(xv, perm));
        m += __builtin_popcount(nz);
    }
    return m;
}
