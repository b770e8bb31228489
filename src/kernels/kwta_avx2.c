/*
 * kwta_avx2.c — k-WTA family with AVX2 (+BMI2 for the compress shuffle),
 * 8 lanes. AVX2 has no compress instruction: the lane permutation comes
 * from the winner mask with pdep/pext, then vpermps, then a full 8-lane
 * store (callers give 16 entries of slack, see kernels.h).
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

/* vpermps indices moving the lanes set in `mask` (8 bits) to the front. */
static inline __m256i compress_perm8(unsigned mask) {
    uint64_t bytes = _pdep_u64(mask, 0x0101010101010101ull) * 0xFF;
    uint64_t sel = _pext_u64(0x0706050403020100ull, bytes);
    return _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)sel));
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

void zs_kwta_select__avx2(zs_kwta_cut *cut, const float *x, const float *f, int G, int S, int k,
                          void *work) {
    zs_kwta_select_common(cut, x, f, G, S, k, work, pass_avx2);
}

static inline __m256i win8(__m256 s, __m256i idxv, __m256i ck, __m256i cl, __m256i m) {
    __m256i key = key8(s);
    __m256i gt = _mm256_cmpgt_epi32(key, ck);
    __m256i eq = _mm256_andnot_si256(_mm256_cmpgt_epi32(idxv, cl), _mm256_cmpeq_epi32(key, ck));
    return _mm256_and_si256(_mm256_or_si256(gt, eq), m);
}

int zs_kwta_emit__avx2(int32_t *idx, float *val, const float *x, const float *f, int G, int S,
                       zs_kwta_cut cut) {
    const __m256i ck = _mm256_set1_epi32(cut.key), cl = _mm256_set1_epi32(cut.last);
    const __m256i iota = _mm256_loadu_si256((const __m256i *)iota8);
    int n = 0;
    int groups = S == 1 ? 1 : G, len = S == 1 ? G : S;
    for (int g = 0; g < groups; g++) {
        int base = g * len;
        for (int i = 0; i < len; i += 8) {
            int t = base + i;
            __m256i m = tail8(len - i);
            __m256 xv = _mm256_maskload_ps(x + t, m);
            __m256i iv = _mm256_add_epi32(iota, _mm256_set1_epi32(t));
            unsigned w = mask8(win8(_mm256_mul_ps(xv, fac8(f, S, g, t, m)), iv, ck, cl, m));
            if (!w) continue;
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

void zs_kwta_pool__avx2(float *out, const float *x, const float *f, int C, int H, int W,
                        zs_kwta_cut cut) {
    int Ho = H / 2, Wo = W / 2;
    const __m256i ck = _mm256_set1_epi32(cut.key), cl = _mm256_set1_epi32(cut.last);
    const __m256i iota = _mm256_loadu_si256((const __m256i *)iota8);
    for (int c = 0; c < C; c++) {
        __m256 fv = _mm256_set1_ps(f[c]);
        for (int py = 0; py < Ho; py++) {
            int r0 = (c * H + 2 * py) * W;
            float *o = out + ((size_t)c * Ho + py) * Wo;
            for (int x0 = 0; x0 < 2 * Wo; x0 += 16) {
                int rem = 2 * Wo - x0;
                __m256i m0 = tail8(rem), m1 = tail8(rem - 8);
                __m256 v[4];
                for (int j = 0; j < 4; j++) {
                    int at = r0 + (j >> 1) * W + x0 + (j & 1) * 8;
                    __m256i m = (j & 1) ? m1 : m0;
                    __m256 xv = _mm256_maskload_ps(x + at, m);
                    __m256i iv = _mm256_add_epi32(iota, _mm256_set1_epi32(at));
                    v[j] = _mm256_and_ps(_mm256_castsi256_ps(win8(_mm256_mul_ps(xv, fv), iv, ck, cl, m)), xv);
                }
                __m256 r = pairmax(_mm256_max_ps(v[0], v[2]), _mm256_max_ps(v[1], v[3]));
                _mm256_maskstore_ps(o + x0 / 2, tail8(Wo - x0 / 2), r);
            }
        }
    }
}

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
