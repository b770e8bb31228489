/*
 * test_kernels.c — every kernel of ZS_KERNEL_LIST x every ISA the CPU has
 * (the others are skipped with a SKIP line) against a plain reference:
 * src/layers.h functions or a loop in double. Sizes around the vector
 * widths (below / equal / above 8 and 16, odd), weight sparsity 0, 0.5,
 * 0.9 and 1, input density 0 (empty lists) to 1. k-WTA winner sets must be
 * IDENTICAL to zs_topk_select / zs_kwinners*_forward; max-pools exact.
 * Float tolerance for sums (the kernels add in another order, with FMA):
 * |got - want| <= 2e-5 * mag + 1e-6, mag = |bias| + sum |w x| (the same
 * layer on absolute values), so cancellation cannot fake a failure.
 */
#include "check.h"
#include "kernels/kernels.h"
#include "layers.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static zs_rng rng;
static const char *isa_tag;

static float urand(float lo, float hi) { return lo + (hi - lo) * zs_rng_uniform(&rng); }

static float *falloc(size_t n) {
    float *p = zs_alloc_aligned(n + 64, sizeof(float));
    if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
    return p;
}
static int32_t *ialloc(size_t n) {
    int32_t *p = zs_alloc_aligned(n + 64, sizeof(int32_t));
    if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
    return p;
}

/* w (O, fan) with exactly round((1 - sp) * fan) non-zeros per row. */
static void sparse_weights(float *w, int O, int fan, double sp) {
    int keep = (int)zs_round_half_even((1.0 - sp) * fan);
    int32_t *perm = ialloc((size_t)fan);
    for (int o = 0; o < O; o++) {
        for (int i = 0; i < fan; i++) perm[i] = i;
        zs_rng_shuffle(&rng, perm, fan);
        for (int i = 0; i < fan; i++) w[(size_t)o * fan + i] = 0.0f;
        for (int i = 0; i < keep; i++) w[(size_t)o * fan + perm[i]] = urand(-1, 1);
    }
    zs_free_aligned(perm);
}

/* x[n] with the given fraction of non-zeros. */
static void sparse_input(float *x, int n, double density) {
    for (int i = 0; i < n; i++) x[i] = zs_rng_uniform(&rng) < density ? urand(-1, 2) : 0.0f;
}

/* exact equality (as floats: -0 == +0) */
static void check_exact(const float *got, const float *want, size_t n, const char *what) {
    size_t bad = n;
    for (size_t i = 0; i < n && bad == n; i++) if (!(got[i] == want[i])) bad = i;
    CHECK(bad == n, "%s: %zu values, first difference at %zu: got %.9g want %.9g", what, n, bad,
          bad < n ? (double)got[bad] : 0.0, bad < n ? (double)want[bad] : 0.0);
}

#define SUM_TOL 2e-5
static void check_mag(const float *got, const float *want, const float *mag, size_t n, const char *what) {
    size_t bad = n;
    for (size_t i = 0; i < n && bad == n; i++)
        if (!(fabs((double)got[i] - want[i]) <= SUM_TOL * mag[i] + 1e-6)) bad = i;
    CHECK(bad == n, "%s: %zu values, first beyond tolerance at %zu: got %.9g want %.9g (mag %.3g)", what, n, bad,
          bad < n ? (double)got[bad] : 0.0, bad < n ? (double)want[bad] : 0.0, bad < n ? (double)mag[bad] : 0.0);
}

static void absv(float *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = fabsf(src[i]);
}

static const double sparsities[] = {0.0, 0.5, 0.9, 1.0};

/* Block-structured sparse conv weights (Co, T): every input row j (ci, ky,
 * kx) keeps one random block of 16 output channels (what cmask skips). */
static void block_weights(float *w, int Co, int T) {
    memset(w, 0, sizeof(float) * (size_t)Co * T);
    int nb = (Co + 15) / 16;
    for (int j = 0; j < T; j++) {
        int b = (int)zs_rng_below(&rng, (uint32_t)nb);
        for (int o = 16 * b; o < 16 * b + 16 && o < Co; o++) w[(size_t)o * T + j] = urand(-1, 1);
    }
}
static const double densities[] = {0.0, 0.1, 0.5, 1.0};

/* ---------------------------------------------------------------- conv */

static void test_conv_dense(const zs_kernels *K) {
    /* (Ci, H, W, Co, Kh, Kw): output widths 1, 7..9, 15..17, 24, 28, 31..33, 40 */
    static const int shapes[][6] = {
        {1, 32, 32, 64, 5, 5}, {1, 5, 5, 3, 5, 5}, {2, 9, 11, 5, 3, 3}, {1, 12, 12, 4, 5, 5},
        {3, 10, 20, 17, 5, 5}, {1, 13, 21, 2, 5, 5}, {2, 7, 19, 3, 3, 3}, {1, 30, 28, 3, 1, 5},
        {2, 6, 35, 2, 2, 4}, {1, 9, 36, 2, 5, 5}, {1, 4, 37, 2, 3, 5}, {4, 14, 14, 8, 5, 5},
        {1, 3, 44, 1, 2, 5}, {3, 20, 9, 16, 3, 1},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int sp = 0; sp < 4; sp++) {
            int Ci = shapes[s][0], H = shapes[s][1], W = shapes[s][2], Co = shapes[s][3];
            int Kh = shapes[s][4], Kw = shapes[s][5], Ho = H - Kh + 1, Wo = W - Kw + 1;
            int fan = Ci * Kh * Kw;
            float *w = falloc((size_t)Co * fan), *b = falloc((size_t)Co), *x = falloc((size_t)Ci * H * W);
            float *got = falloc((size_t)Co * Ho * Wo), *want = falloc((size_t)Co * Ho * Wo);
            sparse_weights(w, Co, fan, sparsities[sp]);
            for (int o = 0; o < Co; o++) b[o] = urand(-1, 1);
            for (int i = 0; i < Ci * H * W; i++) x[i] = urand(-1, 1);
            zs_conv_taps p;
            CHECK(zs_conv_taps_pack(&p, w, b, Co, Ci, Kh, Kw, H, W, 0) == ZS_OK, "pack");
            K->conv_dense(got, x, &p);
            zs_conv2d_forward_naive(want, x, w, b, 1, Ci, H, W, Co, Kh, Kw, 1, 0);
            float *mag = falloc((size_t)Co * Ho * Wo);
            absv(w, w, (size_t)Co * fan); absv(b, b, (size_t)Co); absv(x, x, (size_t)Ci * H * W);
            zs_conv2d_forward_naive(mag, x, w, b, 1, Ci, H, W, Co, Kh, Kw, 1, 0);
            char what[160];
            snprintf(what, sizeof what, "[%s] conv_dense Ci=%d %dx%d Co=%d K=%dx%d sparsity %.1f", isa_tag, Ci, H,
                     W, Co, Kh, Kw, sparsities[sp]);
            check_mag(got, want, mag, (size_t)Co * Ho * Wo, what);
            zs_free_aligned(mag);
            zs_conv_taps_free(&p);
            zs_free_aligned(w); zs_free_aligned(b); zs_free_aligned(x);
            zs_free_aligned(got); zs_free_aligned(want);
        }
}

/* groups: also run with every kx_group 1 .. Kw (conv_sparse_tap); q8: the
 * vec rows requantised to int8 (conv_sparse_tap_q8), the reference on the
 * weights they hold (qscale * wq, each within qscale / 2 of w) */
static void conv_sparse_case(zs_conv_sparse_fn *fn, const char *name, int list, int vec, int blk, int groups,
                             int q8) {
    /* (Ci, H, W, Co, Kh, Kw, pad) */
    static const int shapes[][7] = {
        {64, 14, 14, 64, 5, 5, 0}, {1, 5, 5, 1, 5, 5, 0}, {3, 8, 9, 7, 3, 3, 1}, {2, 6, 6, 15, 5, 5, 2},
        {4, 10, 10, 16, 5, 5, 0}, {2, 9, 17, 17, 3, 5, 1}, {5, 4, 4, 33, 2, 2, 0}, {1, 12, 3, 8, 1, 1, 0},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int sp = 0; sp < 5; sp++) /* 4: block-structured */
            for (int d = 0; d < 4; d++) {
                int Ci = shapes[s][0], H = shapes[s][1], W = shapes[s][2], Co = shapes[s][3];
                int Kh = shapes[s][4], Kw = shapes[s][5], pad = shapes[s][6];
                int Ho = H + 2 * pad - Kh + 1, Wo = W + 2 * pad - Kw + 1, fan = Ci * Kh * Kw, U = Ci * H * W;
                float *w = falloc((size_t)Co * fan), *b = falloc((size_t)Co), *x = falloc((size_t)U);
                float *got = falloc((size_t)Co * Ho * Wo), *want = falloc((size_t)Co * Ho * Wo);
                float *val = falloc((size_t)U + 16);
                int32_t *idx = ialloc((size_t)U + 16);
                if (sp < 4) sparse_weights(w, Co, fan, sparsities[sp]);
                else block_weights(w, Co, fan);
                for (int o = 0; o < Co; o++) b[o] = urand(-1, 1);
                sparse_input(x, U, densities[d]);
                int n = zs_sparsify__scalar(idx, val, x, U);
                zs_conv_scatter p;
                CHECK(zs_conv_scatter_pack(&p, w, b, Co, Ci, Kh, Kw, H, W, pad, list, vec) == ZS_OK, "pack");
                if (blk) CHECK(zs_conv_scatter_pack_blocks(&p, NULL) == ZS_OK, "pack blocks");
                if (q8) {
                    CHECK(zs_conv_scatter_quantize_q8(&p, 0) == ZS_OK && p.wq && !p.wvec, "quantise");
                    int qbad = 0;
                    for (int o = 0; o < Co; o++) {
                        for (int j = 0; j < fan; j++) {
                            float *wj = &w[(size_t)o * fan + j], wr = p.qscale[o] * p.wq[(size_t)j * p.Cop + o];
                            qbad += !(fabsf(wr - *wj) <= 0.5f * p.qscale[o] * 1.0001f) || (*wj == 0.0f && wr != 0.0f);
                            *wj = wr;
                        }
                    }
                    CHECK(qbad == 0, "[%s] int8 rows within half a step of the weights, zeros kept (%d off)", isa_tag, qbad);
                    /* and, where the sums stay below 2^24 (qact: not for
                     * the dense 64 x 5 x 5 weights), the inputs on the
                     * sample's u8 grid (negatives 0) */
                    double qs = 0;
                    for (int o = 0; o < Co; o++) {
                        double a = 0;
                        for (int j = 0; j < fan; j++) a += fabs((double)p.wq[(size_t)j * p.Cop + o]);
                        qs = a > qs ? a : qs;
                    }
                    CHECK(p.qact == (255.0 * qs < 16777216.0), "[%s] int8 rows: qact %d for sums up to %.0f", isa_tag,
                          p.qact, 255.0 * qs);
                    float mx = 0.0f;
                    for (int i = 0; i < U; i++) mx = x[i] > mx ? x[i] : mx;
                    for (int i = 0; i < U && p.qact; i++)
                        x[i] = mx > 0.0f ? mx / 255.0f * (float)zs_conv_q8_input(x[i], 255.0f / mx) : 0.0f;
                }
                float *scratch = falloc(zs_conv_sparse_scratch(&p));
                zs_conv2d_forward_naive(want, x, w, b, 1, Ci, H, W, Co, Kh, Kw, 1, pad);
                float *mag = falloc((size_t)Co * Ho * Wo);
                absv(w, w, (size_t)Co * fan); absv(b, b, (size_t)Co); absv(x, x, (size_t)U);
                zs_conv2d_forward_naive(mag, x, w, b, 1, Ci, H, W, Co, Kh, Kw, 1, pad);
                for (int g = 0; g <= (groups ? Kw : 0); g++) {
                    p.kx_group = g;
                    fn(got, idx, val, n, &p, scratch);
                    char what[192];
                    snprintf(what, sizeof what,
                             "[%s] %s kx_group %d Ci=%d %dx%d Co=%d K=%dx%d pad %d sparsity %s density %.1f (%d inputs)",
                             isa_tag, name, g, Ci, H, W, Co, Kh, Kw, pad,
                             sp < 4 ? (const char *[]){"0", "0.5", "0.9", "1"}[sp] : "16-blocks", densities[d], n);
                    check_mag(got, want, mag, (size_t)Co * Ho * Wo, what);
                }
                zs_free_aligned(mag);
                zs_conv_scatter_free(&p);
                zs_free_aligned(scratch);
                zs_free_aligned(w); zs_free_aligned(b); zs_free_aligned(x);
                zs_free_aligned(got); zs_free_aligned(want); zs_free_aligned(val); zs_free_aligned(idx);
            }
}

static void test_conv_sparse_vec(const zs_kernels *K) { conv_sparse_case(K->conv_sparse_vec, "conv_sparse_vec", 0, 1, 0, 0, 0); }
static void test_conv_sparse_list(const zs_kernels *K) { conv_sparse_case(K->conv_sparse_list, "conv_sparse_list", 1, 0, 0, 0, 0); }
static void test_conv_sparse_pos(const zs_kernels *K) { conv_sparse_case(K->conv_sparse_pos, "conv_sparse_pos", 0, 1, 0, 0, 0); }
static void test_conv_sparse_tap(const zs_kernels *K) { conv_sparse_case(K->conv_sparse_tap, "conv_sparse_tap", 0, 1, 0, 1, 0); }
static void test_conv_sparse_tap_q8(const zs_kernels *K) {
    conv_sparse_case(K->conv_sparse_tap_q8, "conv_sparse_tap_q8", 0, 1, 0, 1, 1);
}
static void test_conv_sparse_blk(const zs_kernels *K) { conv_sparse_case(K->conv_sparse_blk, "conv_sparse_blk", 0, 1, 1, 0, 0); }

/* conv_sparse_routed on weights with a routing (each kernel row (ci, ky)
 * keeps one 16-channel block, the same for all kx, the block given by
 * ci's class and ky; some rows all zero) against the naive conv, for 1 to
 * 4 blocks, 1 to ZS_ROUTED_NC classes, padding, every input density; and
 * zs_conv_scatter_pack_routed finds no routing where there is none (a row
 * in two blocks, more than ZS_ROUTED_NC classes, more than 4 blocks). */
static void test_conv_sparse_routed(const zs_kernels *K) {
    /* (Ci, H, W, Co, Kh, Kw, pad, classes) */
    static const int shapes[][8] = {
        {64, 14, 14, 64, 5, 5, 0, 4}, {8, 6, 7, 16, 3, 3, 1, 1}, {12, 9, 9, 32, 5, 5, 2, 3},
        {9, 5, 11, 48, 2, 4, 0, 8},   {64, 14, 14, 64, 5, 5, 0, 1}, {3, 1, 1, 64, 1, 1, 0, 2},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int d = 0; d < 4; d++) {
            int Ci = shapes[s][0], H = shapes[s][1], W = shapes[s][2], Co = shapes[s][3];
            int Kh = shapes[s][4], Kw = shapes[s][5], pad = shapes[s][6], nc = shapes[s][7], G = Co / 16;
            int Ho = H + 2 * pad - Kh + 1, Wo = W + 2 * pad - Kw + 1, KK = Kh * Kw, fan = Ci * KK, U = Ci * H * W;
            float *w = falloc((size_t)Co * fan), *b = falloc((size_t)Co), *x = falloc((size_t)U);
            float *got = falloc((size_t)Co * Ho * Wo), *want = falloc((size_t)Co * Ho * Wo), *mag = falloc((size_t)Co * Ho * Wo);
            float *val = falloc((size_t)U + 16);
            int32_t *idx = ialloc((size_t)U + 16), cls[64];
            uint8_t tab[ZS_ROUTED_NC][8];
            for (int c = 0; c < nc; c++)
                for (int ky = 0; ky < Kh; ky++) tab[c][ky] = (uint8_t)zs_rng_below(&rng, (uint32_t)G);
            for (int ci = 0; ci < Ci; ci++) cls[ci] = ci < nc ? ci : (int)zs_rng_below(&rng, (uint32_t)nc);
            memset(w, 0, sizeof(float) * (size_t)Co * fan);
            for (int ci = 0; ci < Ci; ci++)
                for (int ky = 0; ky < Kh; ky++) {
                    if (ci % 5 == 3 && ky == 0) continue; /* a row without weights */
                    int blk = tab[cls[ci]][ky];
                    for (int o = 16 * blk; o < 16 * blk + 16; o++)
                        for (int kx = 0; kx < Kw; kx++)
                            if (zs_rng_below(&rng, 8)) w[(size_t)o * fan + (size_t)ci * KK + ky * Kw + kx] = urand(-1, 1);
                }
            for (int o = 0; o < Co; o++) b[o] = urand(-1, 1);
            sparse_input(x, U, densities[d]);
            int n = zs_sparsify__scalar(idx, val, x, U);
            zs_conv_scatter p;
            CHECK(zs_conv_scatter_pack(&p, w, b, Co, Ci, Kh, Kw, H, W, pad, 0, 1) == ZS_OK, "pack");
            CHECK(zs_conv_scatter_pack_routed(&p) == ZS_OK, "pack routed");
            char what[192];
            snprintf(what, sizeof what, "[%s] conv_sparse_routed Ci=%d %dx%d Co=%d K=%dx%d pad %d, %d classes, density %.1f (%d inputs)",
                     isa_tag, Ci, H, W, Co, Kh, Kw, pad, nc, densities[d], n);
            CHECK(p.rt_nc >= 1 && p.rt_nc <= nc + 1, "%s: routing found (%d classes)", what, p.rt_nc);
            if (p.rt_nc) {
                float *scratch = falloc(zs_conv_sparse_scratch(&p));
                zs_conv2d_forward_naive(want, x, w, b, 1, Ci, H, W, Co, Kh, Kw, 1, pad);
                absv(w, w, (size_t)Co * fan); absv(b, b, (size_t)Co); absv(x, x, (size_t)U);
                zs_conv2d_forward_naive(mag, x, w, b, 1, Ci, H, W, Co, Kh, Kw, 1, pad);
                K->conv_sparse_routed(got, idx, val, n, &p, scratch);
                check_mag(got, want, mag, (size_t)Co * Ho * Wo, what);
                zs_free_aligned(scratch);
            }
            /* no routing: one row in two blocks (Co >= 32), or more classes */
            if (G >= 2 && d == 0) {
                int ci = Ci - 1, o2 = 16 * ((tab[cls[ci]][Kh - 1] + 1) % G);
                zs_conv_scatter q;
                float keep = w[(size_t)o2 * fan + (size_t)ci * KK + (Kh - 1) * Kw];
                w[(size_t)o2 * fan + (size_t)ci * KK + (Kh - 1) * Kw] = 0.5f;
                CHECK(zs_conv_scatter_pack(&q, w, b, Co, Ci, Kh, Kw, H, W, pad, 0, 1) == ZS_OK &&
                      zs_conv_scatter_pack_routed(&q) == ZS_OK && q.rt_nc == 0 && !q.rt_w,
                      "%s: a row in two blocks is not routable", what);
                zs_conv_scatter_free(&q);
                w[(size_t)o2 * fan + (size_t)ci * KK + (Kh - 1) * Kw] = keep;
            }
            zs_conv_scatter_free(&p);
            zs_free_aligned(w); zs_free_aligned(b); zs_free_aligned(x); zs_free_aligned(mag);
            zs_free_aligned(got); zs_free_aligned(want); zs_free_aligned(val); zs_free_aligned(idx);
        }
    /* more classes than ZS_ROUTED_NC; Co = 80 (5 blocks) */
    for (int t = 0; t < 2; t++) {
        int Ci = 12, Co = t ? 80 : 64, Kh = 4, Kw = 2, fan = Ci * Kh * Kw;
        float *w = falloc((size_t)Co * fan), *b = falloc((size_t)Co);
        memset(w, 0, sizeof(float) * (size_t)Co * fan);
        memset(b, 0, sizeof(float) * (size_t)Co);
        for (int ci = 0; ci < Ci; ci++)
            for (int ky = 0; ky < Kh; ky++) /* class of ci: its own block sequence (ci in base 4) */
                w[(size_t)(16 * ((ci >> (2 * ky)) & 3) + (t ? 16 * (ci % 2) * (ky == 3) : 0)) * fan + (size_t)ci * Kh * Kw + ky * Kw] = 1.0f;
        zs_conv_scatter q;
        CHECK(zs_conv_scatter_pack(&q, w, b, Co, Ci, Kh, Kw, 6, 6, 0, 0, 1) == ZS_OK &&
              zs_conv_scatter_pack_routed(&q) == ZS_OK && q.rt_nc == 0,
              "[%s] conv routing: %s is not routable", isa_tag, t ? "Co = 80" : "12 classes");
        zs_conv_scatter_free(&q);
        zs_free_aligned(w); zs_free_aligned(b);
    }
}

/* A random sparse conv case: shape (Ci, H, W, Co, Kh, Kw, pad), 80 % of
 * the weights zero, an input of the given density, its sparsify list
 * (idx/val, n entries), the scatter pack p (vector layout), two outputs. */
typedef struct {
    int Ci, H, W, Co, Kh, Kw, pad, Ho, Wo, fan, U, n;
    float *w, *b, *x, *val, *o1, *o2;
    int32_t *idx;
    zs_conv_scatter p;
} conv_case;

static void conv_case_make(conv_case *c, const int *shape, double density) {
    c->Ci = shape[0]; c->H = shape[1]; c->W = shape[2]; c->Co = shape[3];
    c->Kh = shape[4]; c->Kw = shape[5]; c->pad = shape[6];
    c->Ho = c->H + 2 * c->pad - c->Kh + 1; c->Wo = c->W + 2 * c->pad - c->Kw + 1;
    c->fan = c->Ci * c->Kh * c->Kw; c->U = c->Ci * c->H * c->W;
    c->w = falloc((size_t)c->Co * c->fan); c->b = falloc((size_t)c->Co); c->x = falloc((size_t)c->U);
    c->val = falloc((size_t)c->U + 16); c->idx = ialloc((size_t)c->U + 16);
    c->o1 = falloc((size_t)c->Co * c->Ho * c->Wo); c->o2 = falloc((size_t)c->Co * c->Ho * c->Wo);
    sparse_weights(c->w, c->Co, c->fan, 0.8);
    for (int o = 0; o < c->Co; o++) c->b[o] = urand(-1, 1);
    sparse_input(c->x, c->U, density);
    c->n = zs_sparsify__scalar(c->idx, c->val, c->x, c->U);
    CHECK(zs_conv_scatter_pack(&c->p, c->w, c->b, c->Co, c->Ci, c->Kh, c->Kw, c->H, c->W, c->pad, 0, 1) == ZS_OK,
          "pack");
}

static void conv_case_free(conv_case *c) {
    zs_conv_scatter_free(&c->p);
    zs_free_aligned(c->w); zs_free_aligned(c->b); zs_free_aligned(c->x); zs_free_aligned(c->val);
    zs_free_aligned(c->idx); zs_free_aligned(c->o1); zs_free_aligned(c->o2);
}

/* conv_pos_groups (int8 path): per position the 4-channel groups of the
 * quantised inputs, groups ascending, exactly the words conv_pos_lists'
 * entries make once zs_conv_quantize_inputs has rounded them (zero words
 * left out), and the sample's scale. */
static void test_conv_pos_groups(const zs_kernels *K) {
    static const int shapes[][7] = {{64, 14, 14, 64, 5, 5, 0}, {3, 8, 9, 7, 3, 3, 1}, {6, 5, 7, 17, 3, 3, 0},
                                    {17, 4, 5, 33, 2, 2, 1}};
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++)
        for (int d = 0; d < 4; d++) {
            conv_case c;
            conv_case_make(&c, shapes[sh], densities[d]);
            zs_conv_scatter *p = &c.p;
            const int HW = c.H * c.W, T = c.Kh * c.Kw * p->Cop;
            float *s1 = falloc(zs_conv_sparse_scratch(p)), *s2 = falloc(zs_conv_sparse_scratch(p));
            int32_t *ps, *pw, *gs, *gw;
            float *pv, qa;
            uint32_t *gv;
            int m = K->conv_pos_lists(c.x, p, s1);
            zs_conv_lists_at(p, s1, &ps, &pw, &pv);
            float want_qa = zs_conv_quantize_inputs(pv, m);
            int mg = K->conv_pos_groups(c.x, p, s2);
            zs_conv_groups_at(p, s2, &gs, &gw, &gv, &qa);
            int bad = mg != gs[HW] || qa != want_qa, k = 0;
            for (int q = 0; q < HW && !bad; q++) {
                bad |= gs[q] != k;
                const int32_t col = p->cx[q] * p->Cop; /* an entry's offset: ci * T + col */
                for (int e = ps[q]; e < ps[q + 1];) {
                    int g = (pw[e] - col) / T / 4;
                    uint32_t u = 0;
                    for (; e < ps[q + 1] && (pw[e] - col) / T / 4 == g; e++)
                        u |= (uint32_t)pv[e] << (8 * ((pw[e] - col) / T % 4));
                    if (!u) continue;
                    bad |= k >= mg || gv[k] != u || gw[k] != g * T + col;
                    k++;
                }
            }
            CHECK(!bad && k == mg, "[%s] conv_pos_groups == quantised conv_pos_lists in groups of 4 (Ci=%d %dx%d "
                  "density %.1f: %d words)", isa_tag, c.Ci, c.H, c.W, densities[d], mg);
            conv_case_free(&c);
            zs_free_aligned(s1); zs_free_aligned(s2);
        }
}

/* conv_sparse_vnni: from conv_pos_groups, the bits of conv_sparse_tap_q8
 * from conv_pos_lists (both exact integer sums), for every kx_group; on a
 * CPU without AVX-512 VNNI every ISA's version is the reference. */
static void test_conv_sparse_vnni(const zs_kernels *K) {
    /* 130 input channels: zs_conv_list_groups without its bitmask */
    static const int shapes[][7] = {{64, 14, 14, 64, 5, 5, 0}, {3, 8, 9, 7, 3, 3, 1}, {6, 5, 7, 17, 3, 3, 0},
                                    {17, 4, 5, 33, 2, 2, 1}, {8, 6, 6, 48, 5, 5, 2}, {130, 3, 4, 16, 1, 1, 0}};
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++)
        for (int d = 0; d < 4; d++) {
            conv_case c;
            conv_case_make(&c, shapes[sh], densities[d]);
            zs_conv_scatter *p = &c.p;
            CHECK(zs_conv_scatter_quantize_q8(p, 1) == ZS_OK && p->qact && p->wq4, "quantise");
            float *s1 = falloc(zs_conv_sparse_scratch(p)), *s2 = falloc(zs_conv_sparse_scratch(p));
            const size_t on = (size_t)c.Co * c.Ho * c.Wo;
            p->kx_group = 0;
            int m = K->conv_pos_lists(c.x, p, s1);
            K->conv_sparse_tap_q8(c.o1, NULL, NULL, m, p, s1);
            for (int g = 0; g <= c.Kw; g++) {
                p->kx_group = g;
                int mg = K->conv_pos_groups(c.x, p, s2);
                K->conv_sparse_vnni(c.o2, NULL, NULL, mg, p, s2);
                CHECK(!memcmp(c.o1, c.o2, sizeof(float) * on),
                      "[%s] conv_sparse_vnni kx_group %d == conv_sparse_tap_q8 bit for bit (Ci=%d %dx%d Co=%d pad %d "
                      "density %.1f)", isa_tag, g, c.Ci, c.H, c.W, c.Co, c.pad, densities[d]);
                /* from the list (zs_conv_list_groups in the kernel): the
                 * groups conv_pos_groups makes, so the same bits */
                memset(c.o2, 0, sizeof(float) * on);
                K->conv_sparse_vnni(c.o2, c.idx, c.val, c.n, p, s2);
                CHECK(!memcmp(c.o1, c.o2, sizeof(float) * on),
                      "[%s] conv_sparse_vnni kx_group %d from the list == conv_sparse_tap_q8 bit for bit (Ci=%d %dx%d "
                      "Co=%d density %.1f)", isa_tag, g, c.Ci, c.H, c.W, c.Co, densities[d]);
            }
            /* p->pool: the 2x2/2 max-pool of the unpooled output, bit for
             * bit, for conv_sparse_tap_q8 and conv_sparse_vnni from the map
             * and from the list (o1: tap_q8 unpooled, kx_group 0) */
            if (c.Ho >= 2 && c.Wo >= 2) {
                const size_t pn = (size_t)c.Co * (c.Ho / 2) * (c.Wo / 2);
                float *pr = falloc(pn), *pg = falloc(pn);
                zs_maxpool2d_forward(pr, NULL, c.o1, 1, c.Co, c.Ho, c.Wo, 2, 2);
                p->pool = 1;
                for (int g = 0; g <= c.Kw; g++) {
                    p->kx_group = g;
                    for (int kind = 0; kind < 3; kind++) {
                        memset(pg, 0xff, sizeof(float) * pn);
                        if (kind == 0) {
                            int mq = K->conv_pos_lists(c.x, p, s1);
                            K->conv_sparse_tap_q8(pg, NULL, NULL, mq, p, s1);
                        } else if (kind == 1) {
                            int mg = K->conv_pos_groups(c.x, p, s2);
                            K->conv_sparse_vnni(pg, NULL, NULL, mg, p, s2);
                        } else {
                            K->conv_sparse_vnni(pg, c.idx, c.val, c.n, p, s2);
                        }
                        CHECK(!memcmp(pr, pg, sizeof(float) * pn),
                              "[%s] %s pooled == max-pool of the unpooled output (kx_group %d, Ci=%d %dx%d Co=%d "
                              "density %.1f)", isa_tag, kind ? "conv_sparse_vnni" : "conv_sparse_tap_q8", g, c.Ci,
                              c.H, c.W, c.Co, densities[d]);
                    }
                }
                p->pool = 0;
                zs_free_aligned(pr); zs_free_aligned(pg);
            }
            /* zs_conv_list_groups == conv_pos_groups word for word (the
             * list in a shuffled order: the words do not depend on it) */
            {
                const int HW = c.H * c.W;
                int32_t *sidx = malloc(sizeof(int32_t) * (size_t)(c.n + 1));
                float *sval = falloc((size_t)c.n + 1);
                for (int e = 0; e < c.n; e++) { sidx[e] = c.idx[c.n - 1 - e]; sval[e] = c.val[c.n - 1 - e]; }
                int ma = K->conv_pos_groups(c.x, p, s1), mb = zs_conv_list_groups(sidx, sval, c.n, p, s2);
                int32_t *gs1, *gw1, *gs2, *gw2;
                uint32_t *gv1, *gv2;
                float qa1, qa2;
                zs_conv_groups_at(p, s1, &gs1, &gw1, &gv1, &qa1);
                zs_conv_groups_at(p, s2, &gs2, &gw2, &gv2, &qa2);
                CHECK(ma == mb && qa1 == qa2 && !memcmp(gs1, gs2, sizeof(int32_t) * ((size_t)HW + 1)) &&
                          !memcmp(gw1, gw2, sizeof(int32_t) * (size_t)ma) && !memcmp(gv1, gv2, sizeof(uint32_t) * (size_t)ma),
                      "[%s] zs_conv_list_groups == conv_pos_groups (Ci=%d %dx%d density %.1f: %d vs %d groups)", isa_tag,
                      c.Ci, c.H, c.W, densities[d], mb, ma);
                free(sidx); zs_free_aligned(sval);
            }
            conv_case_free(&c);
            zs_free_aligned(s1); zs_free_aligned(s2);
        }
}

/* conv_pos_lists: the lists zs_conv_sort_by_pos makes (with the column) from
 * the sparsify list of the same map, entry for entry; conv_sparse_tap on
 * them (idx NULL) gives the bits it gives on the list. */
static void test_conv_pos_lists(const zs_kernels *K) {
    /* (Ci, H, W, Co, Kh, Kw, pad) */
    static const int shapes[][7] = {{64, 14, 14, 64, 5, 5, 0}, {3, 8, 9, 7, 3, 3, 1}, {70, 5, 7, 17, 3, 3, 0},
                                    {17, 4, 5, 33, 2, 2, 1}};
    for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++)
        for (int d = 0; d < 4; d++) {
            conv_case c;
            conv_case_make(&c, shapes[sh], densities[d]);
            int Ci = c.Ci, H = c.H, W = c.W, Co = c.Co, Kw = c.Kw, Ho = c.Ho, Wo = c.Wo, HW = H * W, n = c.n;
            float *x = c.x, *val = c.val, *o1 = c.o1, *o2 = c.o2;
            int32_t *idx = c.idx;
            zs_conv_scatter p = c.p;
            float *s1 = falloc(zs_conv_sparse_scratch(&p)), *s2 = falloc(zs_conv_sparse_scratch(&p));
            int32_t *ps1, *pw1, *ps2, *pw2;
            float *pv1, *pv2;
            zs_conv_sort_by_pos(idx, val, n, &p, s1, 1, &ps1, &pw1, &pv1);
            int m = K->conv_pos_lists(x, &p, s2);
            zs_conv_lists_at(&p, s2, &ps2, &pw2, &pv2);
            CHECK(m == n && !memcmp(ps1, ps2, sizeof(int32_t) * ((size_t)HW + 1)) &&
                      !memcmp(pw1, pw2, sizeof(int32_t) * (size_t)n) && !memcmp(pv1, pv2, sizeof(float) * (size_t)n),
                  "[%s] conv_pos_lists == sparsify + zs_conv_sort_by_pos (Ci=%d %dx%d density %.1f: %d vs %d entries)",
                  isa_tag, Ci, H, W, densities[d], m, n);
            for (int g = 0; g <= Kw; g++) {
                p.kx_group = g;
                K->conv_sparse_tap(o1, idx, val, n, &p, s1);
                K->conv_pos_lists(x, &p, s2);
                K->conv_sparse_tap(o2, NULL, NULL, m, &p, s2);
                CHECK(!memcmp(o1, o2, sizeof(float) * (size_t)Co * Ho * Wo),
                      "[%s] conv_sparse_tap kx_group %d from conv_pos_lists == from the list bit for bit (Ci=%d %dx%d)",
                      isa_tag, g, Ci, H, W);
            }
            /* conv_sparse_tap_q8 (timed by the plan over kx_group and input
             * source like conv_sparse_tap): the same bits from the list and
             * from conv_pos_lists, and for every kx_group */
            zs_conv_scatter q;
            CHECK(zs_conv_scatter_pack(&q, c.w, c.b, Co, Ci, c.Kh, Kw, H, W, c.pad, 0, 1) == ZS_OK &&
                      zs_conv_scatter_quantize_q8(&q, 0) == ZS_OK,
                  "pack + quantise");
            float *o0 = falloc((size_t)Co * Ho * Wo);
            q.kx_group = 0;
            K->conv_sparse_tap_q8(o0, idx, val, n, &q, s1);
            for (int g = 0; g <= Kw; g++) {
                q.kx_group = g;
                K->conv_sparse_tap_q8(o1, idx, val, n, &q, s1);
                K->conv_pos_lists(x, &q, s2);
                K->conv_sparse_tap_q8(o2, NULL, NULL, m, &q, s2);
                CHECK(!memcmp(o1, o2, sizeof(float) * (size_t)Co * Ho * Wo) &&
                          !memcmp(o0, o1, sizeof(float) * (size_t)Co * Ho * Wo),
                      "[%s] conv_sparse_tap_q8 kx_group %d == kx_group 0, from conv_pos_lists == from the list, "
                      "bit for bit (Ci=%d %dx%d)", isa_tag, g, Ci, H, W);
            }
            zs_free_aligned(o0);
            zs_conv_scatter_free(&q);
            c.p = p;
            conv_case_free(&c);
            zs_free_aligned(s1); zs_free_aligned(s2);
        }
}

/* ---------------------------------------------------------------- k-WTA */

/* Kinds of score data: 0 uniform, 1 heavy ties (few values, +-0), 2 mostly
 * negative, 3 adversarial for the strided sample (large values off-sample). */
static void kwta_data(float *x, float *f, int G, int S, int kind) {
    int n = G * S;
    for (int g = 0; g < G; g++) f[g] = kind == 1 || kind == 4 ? 1.0f : expf(urand(-1, 1));
    for (int i = 0; i < n; i++) {
        switch (kind) {
        case 0: x[i] = urand(-2, 2); break;
        case 1: { int v = (int)zs_rng_below(&rng, 5) - 2; x[i] = v == 0 ? (zs_rng_below(&rng, 2) ? -0.0f : 0.0f) : (float)v; break; }
        case 2: x[i] = urand(-5, 0.1f); break;
        case 4: x[i] = 0.5f; break; /* all tie */
        default: x[i] = (i % 7 == 3) ? urand(10, 20) : urand(-1, 1); break;
        }
    }
}

/* The reference winners: zs_topk_select on s = x * f (same float products). */
static int kwta_ref(int32_t *sel, const float *x, const float *f, int G, int S, int k, float *s, int32_t *work) {
    int n = G * S;
    for (int i = 0; i < n; i++) s[i] = x[i] * f[i / S];
    return zs_topk_select(sel, s, n, k, work);
}

static int same_list(const int32_t *a, int na, const int32_t *b, int nb) {
    if (na != nb) return 0;
    for (int i = 0; i < na; i++) if (a[i] != b[i]) return 0;
    return 1;
}

static void test_kwta_select(const zs_kernels *K) {
    /* (G, S) */
    static const int shapes[][2] = {{1, 1}, {1, 7}, {8, 1}, {9, 1}, {1, 15}, {1, 16}, {17, 1}, {3, 33},
                                    {1000, 1}, {1500, 1}, {64, 100}, {64, 64}, {4095, 1}, {1, 4096},
                                    {64, 196}, {64, 784}, {5, 1001}, {300, 1}, {257, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int kind = 0; kind < 5; kind++) {
            int G = shapes[s][0], S = shapes[s][1], n = G * S;
            int ks[] = {0, 1, 2, n / 20 + 1, n / 7, n / 2, n - 1, n, n + 5};
            float *x = falloc((size_t)n), *f = falloc((size_t)G), *sc = falloc((size_t)n), *val = falloc((size_t)n + 16);
            int32_t *sel = ialloc((size_t)n), *work = ialloc((size_t)n), *idx = ialloc((size_t)n + 16);
            void *kw = zs_alloc_aligned(zs_kwta_work_size(n), 1);
            kwta_data(x, f, G, S, kind);
            for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
                int k = ks[j];
                if (k < 0) continue;
                int nr = kwta_ref(sel, x, f, G, S, k, sc, work);
                zs_kwta_cut cut;
                K->kwta_select(&cut, x, f, G, S, k, kw);
                /* the cut, applied by the scalar emitter, gives exactly the reference set */
                int ng = zs_kwta_emit__scalar(idx, val, x, f, G, S, cut);
                CHECK(same_list(idx, ng, sel, nr), "[%s] kwta_select G=%d S=%d k=%d kind %d: %d winners vs %d (or set differs)",
                      isa_tag, G, S, k, kind, ng, nr);
            }
            zs_free_aligned(x); zs_free_aligned(f); zs_free_aligned(sc); zs_free_aligned(val);
            zs_free_aligned(sel); zs_free_aligned(work); zs_free_aligned(idx); zs_free_aligned(kw);
        }
}

static void test_kwta_emit(const zs_kernels *K) {
    static const int shapes[][2] = {{1, 1}, {1, 7}, {8, 1}, {9, 1}, {2, 15}, {1, 16}, {17, 1}, {3, 33},
                                    {1000, 1}, {64, 100}, {64, 784}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int kind = 0; kind < 3; kind++) {
            int G = shapes[s][0], S = shapes[s][1], n = G * S;
            int ks[] = {0, 1, n / 9 + 1, n / 2, n};
            float *x = falloc((size_t)n), *f = falloc((size_t)G), *sc = falloc((size_t)n), *val = falloc((size_t)n + 16);
            int32_t *sel = ialloc((size_t)n), *work = ialloc((size_t)n), *idx = ialloc((size_t)n + 16);
            void *kw = zs_alloc_aligned(zs_kwta_work_size(n), 1);
            kwta_data(x, f, G, S, kind);
            for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
                int k = ks[j];
                int nr = kwta_ref(sel, x, f, G, S, k, sc, work);
                zs_kwta_cut cut;
                zs_kwta_select__scalar(&cut, x, f, G, S, k, kw);
                int ng = K->kwta_emit(idx, val, x, f, G, S, cut);
                int ok = same_list(idx, ng, sel, nr);
                for (int e = 0; ok && e < ng; e++) ok = val[e] == x[idx[e]];
                CHECK(ok, "[%s] kwta_emit G=%d S=%d k=%d kind %d: %d vs %d winners, or set/values differ", isa_tag, G,
                      S, k, kind, ng, nr);
            }
            zs_free_aligned(x); zs_free_aligned(f); zs_free_aligned(sc); zs_free_aligned(val);
            zs_free_aligned(sel); zs_free_aligned(work); zs_free_aligned(idx); zs_free_aligned(kw);
        }
    /* against the layer functions themselves, boost factors as the reference computes them */
    for (int local_vec = 0; local_vec < 2; local_vec++) {
        int C = 64, H = local_vec ? 1 : 28, W = local_vec ? 1 : 28, U = C * H * W, k = local_vec ? 10 : 7150;
        if (local_vec) { C = 1000; U = 1000; k = 150; }
        float *x = falloc((size_t)U), *duty = falloc((size_t)C), *f = falloc((size_t)C), *out = falloc((size_t)U);
        float *sw = falloc((size_t)U + C), *wv = falloc((size_t)k), *val = falloc((size_t)U + 16);
        int32_t *iw = ialloc((size_t)U + C), *wi = ialloc((size_t)k), *idx = ialloc((size_t)U + 16);
        int32_t cnt;
        void *kw = zs_alloc_aligned(zs_kwta_work_size(U), 1);
        for (int i = 0; i < U; i++) x[i] = urand(-2, 2);
        for (int c = 0; c < C; c++) duty[c] = urand(0, 0.3f);
        float boost = 1.5f, td = (float)((double)k / U);
        for (int c = 0; c < C; c++) f[c] = expf((td - duty[c]) * boost);
        if (local_vec) zs_kwinners_forward(out, &cnt, wi, wv, x, duty, boost, 1, U, k, sw, iw, 0);
        else zs_kwinners2d_forward(out, &cnt, wi, wv, x, duty, boost, 1, C, H, W, k, 0, sw, iw, 0);
        zs_kwta_cut cut;
        K->kwta_select(&cut, x, f, local_vec ? U : C, local_vec ? 1 : H * W, k, kw);
        int ng = K->kwta_emit(idx, val, x, f, local_vec ? U : C, local_vec ? 1 : H * W, cut);
        int ok = same_list(idx, ng, wi, cnt);
        for (int e = 0; ok && e < ng; e++) ok = val[e] == wv[e];
        CHECK(ok, "[%s] kwta select+emit vs %s: %d vs %d winners", isa_tag,
              local_vec ? "zs_kwinners_forward" : "zs_kwinners2d_forward", ng, (int)cnt);
        zs_free_aligned(x); zs_free_aligned(duty); zs_free_aligned(f); zs_free_aligned(out);
        zs_free_aligned(sw); zs_free_aligned(wv); zs_free_aligned(val); zs_free_aligned(iw);
        zs_free_aligned(wi); zs_free_aligned(idx); zs_free_aligned(kw);
    }
}

/* dense k-WTA output of list (idx, val) over n units */
static void densify(float *y, int n, const int32_t *idx, const float *val, int m) {
    memset(y, 0, sizeof(float) * (size_t)n);
    for (int e = 0; e < m; e++) y[idx[e]] = val[e];
}

static void test_kwta_pool(const zs_kernels *K) {
    static const int shapes[][3] = {{1, 2, 2}, {3, 4, 6}, {64, 28, 28}, {2, 5, 7}, {64, 10, 10},
                                    {2, 3, 33}, {1, 2, 64}, {4, 16, 17}, {2, 6, 31}, {300, 2, 4}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int kind = 0; kind < 3; kind++) {
            int C = shapes[s][0], H = shapes[s][1], W = shapes[s][2], U = C * H * W, Ho = H / 2, Wo = W / 2;
            int ks[] = {0, 1, U / 7 + 1, U / 2, U};
            float *x = falloc((size_t)U), *f = falloc((size_t)C), *sc = falloc((size_t)U), *y = falloc((size_t)U);
            /* got: 16 sentinels past the output, which no store may touch */
            float *got = falloc((size_t)C * Ho * Wo + 16), *want = falloc((size_t)C * Ho * Wo), *val = falloc((size_t)U + 16);
            int32_t *sel = ialloc((size_t)U), *work = ialloc((size_t)U);
            void *kw = zs_alloc_aligned(zs_kwta_work_size(U), 1);
            for (int e = 0; e < 16; e++) got[(size_t)C * Ho * Wo + e] = 12345.0f;
            kwta_data(x, f, C, H * W, kind);
            for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
                int k = ks[j];
                int nr = kwta_ref(sel, x, f, C, H * W, k, sc, work);
                for (int e = 0; e < nr; e++) val[e] = x[sel[e]];
                densify(y, U, sel, val, nr);
                zs_maxpool2d_forward(want, NULL, y, 1, C, H, W, 2, 2);
                zs_kwta_cut cut;
                zs_kwta_select__scalar(&cut, x, f, C, H * W, k, kw);
                K->kwta_pool(got, x, f, C, H, W, cut);
                char what[128];
                snprintf(what, sizeof what, "[%s] kwta_pool C=%d %dx%d k=%d kind %d", isa_tag, C, H, W, k, kind);
                check_exact(got, want, (size_t)C * Ho * Wo, what);
                int kept = 1;
                for (int e = 0; e < 16; e++) kept &= got[(size_t)C * Ho * Wo + e] == 12345.0f;
                CHECK(kept, "%s: nothing stored past the output", what);
            }
            zs_free_aligned(x); zs_free_aligned(f); zs_free_aligned(sc); zs_free_aligned(y);
            zs_free_aligned(got); zs_free_aligned(want); zs_free_aligned(val);
            zs_free_aligned(sel); zs_free_aligned(work); zs_free_aligned(kw);
        }
}

/* conv_kwta_pool (conv + global k-WTA + 2x2/2 max-pool in one kernel)
 * against (a) this ISA's conv_dense, kwta_select and kwta_pool one after
 * the other (the plan's old path: the same bits, compared bit for bit) and
 * (b) the reference on this ISA's conv output: zs_topk_select winners,
 * densified, zs_maxpool2d_forward. Inputs: random, constant (every unit of
 * a channel ties), flat -80 regions (log-mel floors), all zero (outputs =
 * bias; some biases 0 and -0), few levels, rows adversarial to a row
 * sample. Shapes: gsc-sparse conv1, odd sizes, ones the fused path does
 * not fit. */
static void test_conv_kwta_pool(const zs_kernels *K) {
    /* (Ci, H, W, Co, Kh, Kw, fused path expected) */
    static const int shapes[][7] = {
        {1, 32, 32, 64, 5, 5, 1}, {2, 20, 20, 16, 3, 3, 1}, {1, 31, 33, 24, 5, 5, 1}, {1, 20, 12, 40, 3, 3, 1},
        {1, 12, 12, 8, 5, 5, 0}, {1, 40, 40, 8, 5, 5, 0}, {1, 32, 32, 64, 5, 5, 1},
        /* rows of 25 to 27: the AVX2 pair tiles' tails of 1 to 3 lanes */
        {1, 20, 29, 16, 5, 5, 1}, {1, 21, 30, 16, 5, 5, 1}, {2, 18, 31, 12, 5, 5, 1},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int kind = 0; kind < 6; kind++) {
            int Ci = shapes[s][0], H = shapes[s][1], W = shapes[s][2], Co = shapes[s][3];
            int Kh = shapes[s][4], Kw = shapes[s][5], Ho = H - Kh + 1, Wo = W - Kw + 1, fan = Ci * Kh * Kw;
            int U = Co * Ho * Wo, P = Co * (Ho / 2) * (Wo / 2);
            float *w = falloc((size_t)Co * fan), *b = falloc((size_t)Co), *x = falloc((size_t)Ci * H * W);
            float *f = falloc((size_t)Co), *map = falloc((size_t)U), *map2 = falloc((size_t)U), *sc = falloc((size_t)U);
            float *y = falloc((size_t)U), *val = falloc((size_t)U), *got = falloc((size_t)P), *want = falloc((size_t)P);
            float *old = falloc((size_t)P);
            int32_t *sel = ialloc((size_t)U), *work = ialloc((size_t)U);
            void *kw = zs_alloc_aligned(zs_conv_kwta_pool_work_size(U), 1);
            /* gsc-sparse: 12 of 25 taps per channel (s = 6: all 25) */
            sparse_weights(w, Co, fan, s == 6 ? 0.0 : 1.0 - 12.0 / 25.0);
            for (int o = 0; o < Co; o++) {
                b[o] = urand(-1, 1);
                f[o] = expf(urand(-1, 1));
            }
            int n_in = Ci * H * W;
            for (int i = 0; i < n_in; i++) {
                int r = (i / W) % H, c = i % W;
                switch (kind) {
                case 0: x[i] = urand(-1, 2); break;
                case 1: x[i] = 0.7f; break;
                case 2: x[i] = c < W / 2 || r > H - 6 ? -80.0f : urand(-80, -20); break;
                case 3:
                    x[i] = 0.0f;
                    if (i < Co) b[i] = i % 3 == 0 ? 0.0f : i % 3 == 1 ? -0.0f : b[i];
                    if (i < Co && i % 2) f[i] = 1.0f;
                    break;
                case 4: x[i] = (float)(int)zs_rng_below(&rng, 3) - 1.0f; break;
                default: x[i] = r % 7 == 2 ? urand(10, 20) : urand(-1, 1); break;
                }
            }
            zs_conv_taps p;
            CHECK(zs_conv_taps_pack(&p, w, b, Co, Ci, Kh, Kw, H, W, 0) == ZS_OK, "pack");
            int ks[] = {0, 1, U / 7, U / 2, U - 1, U, U + 3};
            for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
                int k = ks[j];
                char what[160];
                snprintf(what, sizeof what, "[%s] conv_kwta_pool Ci=%d %dx%d Co=%d K=%dx%d k=%d input kind %d", isa_tag,
                         Ci, H, W, Co, Kh, Kw, k, kind);
                if (k == U / 7)
                    CHECK((zs_conv_kwta_pool_fast(&p, k) > 0) == shapes[s][6], "%s: fused path %s", what,
                          shapes[s][6] ? "expected" : "not expected");
                memset(got, 0xff, sizeof(float) * (size_t)P);
                K->conv_kwta_pool(got, x, &p, f, k, kw, map);
                /* (a) the unfused kernels of this ISA, bit for bit */
                zs_kwta_cut cut;
                K->conv_dense(map2, x, &p);
                K->kwta_select(&cut, map2, f, Co, Ho * Wo, k, kw);
                K->kwta_pool(old, map2, f, Co, Ho, Wo, cut);
                CHECK(!memcmp(got, old, sizeof(float) * (size_t)P), "%s: differs from conv_dense+kwta_select+kwta_pool", what);
                /* (b) the reference winners on this ISA's conv output */
                int nr = kwta_ref(sel, map2, f, Co, Ho * Wo, k, sc, work);
                for (int e = 0; e < nr; e++) val[e] = map2[sel[e]];
                densify(y, U, sel, val, nr);
                zs_maxpool2d_forward(want, NULL, y, 1, Co, Ho, Wo, 2, 2);
                check_exact(got, want, (size_t)P, what);
            }
            zs_conv_taps_free(&p);
            zs_free_aligned(w); zs_free_aligned(b); zs_free_aligned(x); zs_free_aligned(f); zs_free_aligned(map);
            zs_free_aligned(map2); zs_free_aligned(sc); zs_free_aligned(y); zs_free_aligned(val); zs_free_aligned(got);
            zs_free_aligned(want); zs_free_aligned(old); zs_free_aligned(sel); zs_free_aligned(work); zs_free_aligned(kw);
        }
}

/* conv_pool (conv + 2x2/2 max-pool, the pool-first networks' first stage)
 * against this ISA's conv_dense then maxpool, bit for bit, and against the
 * scalar kernels within rounding; nothing written past out's 16 floats of
 * slack. Shapes: conv1 of gsc-codesigned, odd output sizes, several input
 * channels, and shapes the fused path does not fit (wide rows). */
static void test_conv_pool(const zs_kernels *K) {
    /* (Ci, H, W, Co, Kh, Kw, fused path expected) */
    static const int shapes[][7] = {
        {1, 32, 32, 64, 5, 5, 1}, {2, 20, 20, 16, 3, 3, 1}, {1, 31, 33, 24, 5, 5, 1}, {1, 20, 12, 40, 3, 3, 1},
        {3, 9, 9, 5, 3, 3, 1},    {1, 40, 40, 8, 5, 5, 0},  {1, 6, 34, 4, 3, 3, 1},   {1, 3, 3, 2, 2, 2, 1},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int kind = 0; kind < 3; kind++) {
            int Ci = shapes[s][0], H = shapes[s][1], W = shapes[s][2], Co = shapes[s][3];
            int Kh = shapes[s][4], Kw = shapes[s][5], Ho = H - Kh + 1, Wo = W - Kw + 1, fan = Ci * Kh * Kw;
            size_t U = (size_t)Co * Ho * Wo, P = (size_t)Co * (Ho / 2) * (Wo / 2);
            float *w = falloc((size_t)Co * fan), *b = falloc((size_t)Co), *x = falloc((size_t)Ci * H * W);
            float *map = falloc(U), *got = falloc(P + 48), *want = falloc(P), *ref = falloc(P);
            sparse_weights(w, Co, fan, kind == 2 ? 0.0 : 1.0 - 12.0 / 25.0);
            for (int o = 0; o < Co; o++) b[o] = kind == 1 && o % 2 ? -0.0f : urand(-1, 1);
            for (int i = 0; i < Ci * H * W; i++) x[i] = kind == 1 ? (float)(int)urand(-2, 2) : urand(-80, 2);
            zs_conv_taps p;
            CHECK(zs_conv_taps_pack(&p, w, b, Co, Ci, Kh, Kw, H, W, 0) == ZS_OK, "pack");
            char what[160];
            snprintf(what, sizeof what, "[%s] conv_pool Ci=%d %dx%d Co=%d K=%dx%d kind %d", isa_tag, Ci, H, W, Co, Kh,
                     Kw, kind);
            CHECK(zs_conv_shift_fits(&p) == shapes[s][6], "%s: fused path %s", what, shapes[s][6] ? "expected" : "not expected");
            memset(got, 0xff, sizeof(float) * P);
            for (size_t i = P + 16; i < P + 48; i++) got[i] = 1234.5f;
            K->conv_pool(got, x, &p, map);
            K->conv_dense(map, x, &p);
            K->maxpool(want, map, Co, Ho, Wo, 0);
            check_exact(got, want, P, what);
            int canary = 1;
            for (size_t i = P + 16; i < P + 48; i++) canary &= got[i] == 1234.5f;
            CHECK(canary, "%s: wrote past the 16 floats of slack", what);
            zs_conv_pool__scalar(ref, x, &p, map);
            double worst = 0;
            for (size_t i = 0; i < P; i++) {
                double d = fabs((double)got[i] - ref[i]) / (1.0 + fabs((double)ref[i]));
                worst = d > worst ? d : worst;
            }
            /* sums of up to 75 terms of magnitude <= 80: rounding, not a bug */
            CHECK(worst < 1e-4, "%s: %.3g from the scalar kernels", what, worst);
            zs_conv_taps_free(&p);
            zs_free_aligned(w); zs_free_aligned(b); zs_free_aligned(x); zs_free_aligned(map);
            zs_free_aligned(got); zs_free_aligned(want); zs_free_aligned(ref);
        }
}

/* zs_kwta_raw_ge / zs_kwta_raw_gt (the raw per-channel thresholds every
 * k-WTA kernel uses) against their definition: the smallest float x with
 * fl(x f) >= t (> t), on thresholds around 0, denormals, large values. */
static void test_raw_thresholds(void) {
    int bad = 0;
    for (int i = 0; i < 20000 && bad < 5; i++) {
        /* every 7th factor tiny (down to 1e-37): from t = 0 the answer lies
         * up to ~1e9 ulps below t / f (the bisection, not the walk) */
        float t, f = i % 7 == 3 ? expf(urand(-85, -10)) : expf(urand(-3, 3));
        switch (i % 5) {
        case 0: t = urand(-4, 4); break;
        case 1: t = urand(-1e-38f, 1e-38f); break;
        case 2: t = i % 2 ? 0.0f : -0.0f; break;
        case 3: t = urand(-1, 1) * 1e30f; break;
        default: t = (float)(int)urand(-3, 3); break;
        }
        float t0 = t + 0.0f;
        float ge = zs_kwta_raw_ge(t, f), gt = zs_kwta_raw_gt(t, f);
        float ge_lo = nextafterf(ge, -INFINITY), gt_lo = nextafterf(gt, -INFINITY);
        int ok = ge * f >= t0 && (isinf(ge_lo) || !(ge_lo * f >= t0)) && gt * f > t0 && (isinf(gt_lo) || !(gt_lo * f > t0));
        if (!ok) bad++;
        CHECK(ok, "zs_kwta_raw_ge/gt(t=%.9g, f=%.9g) = %.9g / %.9g: not the smallest float passing", (double)t,
              (double)f, (double)ge, (double)gt);
    }
}

/* The ISA's kwta_raw_ge_n (vector t / f, then the first passing of six
 * consecutive floats, a scalar walk where that does not settle it) against
 * zs_kwta_raw_ge: thresholds and factors around 0, denormals, huge and
 * tiny quotients (overflow to inf, into denormals), every tail length. */
static void test_kwta_raw_ge_n(const zs_kernels *K) {
    float f[37], got[37 + 16];
    int bad = 0;
    for (int i = 0; i < 4000 && bad < 5; i++) {
        float t;
        switch (i % 7) {
        case 0: t = urand(-4, 4); break;
        case 1: t = urand(-1e-38f, 1e-38f); break;
        case 2: t = i % 2 ? 0.0f : -0.0f; break;
        case 3: t = urand(-1, 1) * 1e30f; break;
        case 4: t = (i % 3 - 1) * 3e38f; break;
        case 5: t = (float)(int)urand(-3, 3); break;
        default: t = (i % 2 ? 1 : -1) * 1e-45f * (float)(i % 5); break;
        }
        int C = 1 + i % 37;
        for (int c = 0; c < C; c++) {
            switch ((i + c) % 4) {
            case 0: f[c] = expf(urand(-3, 3)); break;
            case 1: f[c] = expf(urand(-10, 80)); break;
            case 2: f[c] = expf(urand(-85, -10)); break; /* tiny: far answers from t = 0 */
            default: f[c] = 1.0f; break;
            }
        }
        K->kwta_raw_ge_n(got, f, C, t);
        for (int c = 0; c < C; c++) {
            float want = zs_kwta_raw_ge(t, f[c]);
            int ok = got[c] == want || (isnan(got[c]) && isnan(want));
            if (!ok) bad++;
            CHECK(ok, "[%s] kwta_raw_ge_n(t=%.9g, f=%.9g) = %.9g, zs_kwta_raw_ge %.9g", isa_tag, (double)t,
                  (double)f[c], (double)got[c], (double)want);
        }
    }
}

/* boost against the scalar version (expf) bit for bit: duty cycles in
 * [0, 1] and past, boost strengths that push x past expf's fast path
 * (overflow to inf, underflow to 0 and denormals), NaN and inf duty, every
 * tail length. */
static void test_boost(const zs_kernels *K) {
    enum { N = 1000 };
    static float duty[N], got[N], want[N];
    int bad = 0;
    for (int i = 0; i < 400; i++) {
        int C = i < 64 ? i : i % 3 ? 1 + i % 97 : N;
        float td = urand(0, 0.3f), beta;
        switch (i % 5) {
        case 0: beta = urand(0, 2); break;
        case 1: beta = urand(0, 200); break; /* |x| past 88 */
        case 2: beta = urand(100, 400); break;
        case 3: beta = 0.0f; break;
        default: beta = urand(-3, 3); break;
        }
        for (int c = 0; c < C; c++) {
            duty[c] = urand(0, 1);
            if (i % 7 == 0 && c % 11 == 3) duty[c] = (c % 2) ? NAN : INFINITY;
            if (i % 9 == 0 && c % 5 == 1) duty[c] = urand(-1e3f, 1e3f);
        }
        zs_boost__scalar(want, duty, C, td, beta);
        K->boost(got, duty, C, td, beta);
        for (int c = 0; c < C; c++)
            if (memcmp(&got[c], &want[c], sizeof(float)) && !(isnan(got[c]) && isnan(want[c]))) {
                if (bad++ < 5)
                    fprintf(stderr, "  boost C=%d c=%d td=%g beta=%g duty=%g: got %a want %a\n", C, c, (double)td,
                            (double)beta, (double)duty[c], (double)got[c], (double)want[c]);
            }
    }
    CHECK(bad == 0, "[%s] boost == expf((td - duty) * beta) bit for bit (%d differ)", isa_tag, bad);
    /* x = -duty exactly (td 0, beta 1): every 4,099th float bit pattern,
     * both signs, every exponent (a million inputs) */
    int badx = 0;
    for (uint64_t u = 0; u < 0x100000000ull; u += (uint64_t)N * 4099) {
        for (int c = 0; c < N; c++) {
            uint32_t b = (uint32_t)(u + (uint64_t)c * 4099);
            memcpy(&duty[c], &b, sizeof b);
        }
        zs_boost__scalar(want, duty, N, 0.0f, 1.0f);
        K->boost(got, duty, N, 0.0f, 1.0f);
        for (int c = 0; c < N; c++)
            badx += memcmp(&got[c], &want[c], sizeof(float)) && !(isnan(got[c]) && isnan(want[c]));
    }
    CHECK(badx == 0, "[%s] boost == expf over a million float bit patterns (%d differ)", isa_tag, badx);
}

static void test_maxpool(const zs_kernels *K) {
    static const int shapes[][3] = {{1, 2, 2}, {3, 4, 6}, {64, 28, 28}, {2, 5, 7}, {64, 10, 10},
                                    {2, 3, 33}, {1, 2, 64}, {4, 16, 17}, {2, 6, 31}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int relu = 0; relu < 2; relu++) {
            int C = shapes[s][0], H = shapes[s][1], W = shapes[s][2], U = C * H * W, Ho = H / 2, Wo = W / 2;
            float *x = falloc((size_t)U), *got = falloc((size_t)C * Ho * Wo), *want = falloc((size_t)C * Ho * Wo);
            for (int i = 0; i < U; i++) x[i] = urand(-2, 1);
            zs_maxpool2d_forward(want, NULL, x, 1, C, H, W, 2, 2);
            if (relu) zs_relu_forward(want, want, (size_t)C * Ho * Wo);
            K->maxpool(got, x, C, H, W, relu);
            char what[128];
            snprintf(what, sizeof what, "[%s] maxpool C=%d %dx%d relu %d", isa_tag, C, H, W, relu);
            check_exact(got, want, (size_t)C * Ho * Wo, what);
            zs_free_aligned(x); zs_free_aligned(got); zs_free_aligned(want);
        }
}

static void test_sparsify(const zs_kernels *K) {
    static const int sizes[] = {0, 1, 7, 8, 9, 15, 16, 17, 33, 1000, 1600};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int d = 0; d < 4; d++) {
            int n = sizes[s];
            float *x = falloc((size_t)n), *val = falloc((size_t)n + 16), *rv = falloc((size_t)n + 16);
            int32_t *idx = ialloc((size_t)n + 16), *ri = ialloc((size_t)n + 16);
            sparse_input(x, n, densities[d]);
            if (n > 3) x[3] = -0.0f;
            int m = 0;
            for (int i = 0; i < n; i++) if (x[i] != 0.0f) { ri[m] = i; rv[m++] = x[i]; }
            int g = K->sparsify(idx, val, x, n);
            int ok = same_list(idx, g, ri, m);
            for (int e = 0; ok && e < g; e++) ok = val[e] == rv[e];
            CHECK(ok, "[%s] sparsify n=%d density %.1f: %d vs %d", isa_tag, n, densities[d], g, m);
            zs_free_aligned(x); zs_free_aligned(val); zs_free_aligned(rv); zs_free_aligned(idx); zs_free_aligned(ri);
        }
}

static void test_maxpool_winners(const zs_kernels *K) {
    /* (C, H, W, k, s) */
    static const int shapes[][5] = {{64, 28, 28, 2, 2}, {3, 5, 7, 2, 2}, {2, 9, 9, 3, 2}, {2, 8, 11, 2, 3},
                                    {1, 2, 2, 2, 2}, {4, 10, 10, 2, 2}, {2, 7, 6, 3, 3}, {1, 1, 1, 1, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int d = 0; d < 4; d++)
            for (int neg = 0; neg < 2; neg++) {
                int C = shapes[s][0], H = shapes[s][1], W = shapes[s][2], k = shapes[s][3], st = shapes[s][4];
                int U = C * H * W, Ho = (H - k) / st + 1, Wo = (W - k) / st + 1, P = C * Ho * Wo;
                float *x = falloc((size_t)U), *val = falloc((size_t)U + 16), *want = falloc((size_t)P);
                float *got = falloc((size_t)P), *ov = falloc((size_t)P + 16), *scr = falloc(2 * (size_t)Wo);
                int32_t *idx = ialloc((size_t)U + 16), *oi = ialloc((size_t)P + 16);
                sparse_input(x, U, densities[d]);
                if (neg) for (int i = 0; i < U; i++) x[i] = x[i] != 0.0f ? -fabsf(x[i]) - 0.1f : 0.0f;
                int n = zs_sparsify__scalar(idx, val, x, U);
                zs_maxpool2d_forward(want, NULL, x, 1, C, H, W, k, st);
                int m = K->maxpool_winners(oi, ov, idx, val, n, C, H, W, k, st, scr);
                densify(got, P, oi, ov, m);
                char what[160];
                snprintf(what, sizeof what, "[%s] maxpool_winners C=%d %dx%d k=%d s=%d density %.1f neg %d", isa_tag, C,
                         H, W, k, st, densities[d], neg);
                check_exact(got, want, (size_t)P, what);
                /* listed = exactly the windows holding a winner, ascending */
                uint8_t *has = calloc((size_t)P, 1);
                for (int c = 0; c < C; c++)
                    for (int py = 0; py < Ho; py++)
                        for (int px = 0; px < Wo; px++)
                            for (int a = 0; a < k; a++)
                                for (int b = 0; b < k; b++)
                                    if (x[(c * H + py * st + a) * W + px * st + b] != 0.0f) has[(c * Ho + py) * Wo + px] = 1;
                int ok = 1, cnt = 0;
                for (int i = 0; i < P; i++) cnt += has[i];
                ok = cnt == m;
                for (int e = 0; ok && e < m; e++) ok = has[oi[e]] && (e == 0 || oi[e] > oi[e - 1]);
                CHECK(ok, "%s: listed positions (%d) != windows with a winner (%d)", what, m, cnt);
                free(has);
                zs_free_aligned(x); zs_free_aligned(val); zs_free_aligned(want); zs_free_aligned(got);
                zs_free_aligned(ov); zs_free_aligned(scr); zs_free_aligned(idx); zs_free_aligned(oi);
            }
}

/* ---------------------------------------------------------------- linear */

/* want = b + W x in double (W: O x I rows), mag = the sum of |terms|. */
static void linear_ref(float *want, float *mag, const float *w, const float *b, const float *x, int O, int I) {
    for (int o = 0; o < O; o++) {
        double a = b[o], m = fabs(b[o]);
        for (int i = 0; i < I; i++) {
            a += (double)w[(size_t)o * I + i] * x[i];
            m += fabs((double)w[(size_t)o * I + i] * x[i]);
        }
        want[o] = (float)a;
        mag[o] = (float)m;
    }
}

/* A linear case: weights (sparsity sp), biases, an input (density d) and
 * its list; the double reference. Returns the list's length. */
static int linear_data(float *w, float *b, float *x, int32_t *idx, float *val, float *want, float *mag, int O,
                       int I, double sp, double d) {
    sparse_weights(w, O, I, sp);
    for (int o = 0; o < O; o++) b[o] = urand(-1, 1);
    sparse_input(x, I, d);
    int n = zs_sparsify__scalar(idx, val, x, I);
    linear_ref(want, mag, w, b, x, O, I);
    return n;
}

static void linear_case(zs_linear_sparse_fn *fn, zs_linear_gather_fn *gfn, const char *name, int want_fmt,
                        int dense_w) {
    static const int shapes[][2] = {{1, 1}, {15, 12}, {16, 16}, {17, 17}, {100, 7}, {1600, 1000},
                                    {1000, 12}, {33, 130}, {8, 9}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int sp = 0; sp < 4; sp++)
            for (int d = 0; d < 4; d++) {
                if (dense_w && sp) continue;
                int I = shapes[s][0], O = shapes[s][1];
                float *w = falloc((size_t)O * I), *b = falloc((size_t)O), *x = falloc((size_t)I);
                float *val = falloc((size_t)I + 16), *want = falloc((size_t)O), *got = falloc((size_t)O + 16);
                float *mag = falloc((size_t)O);
                int32_t *idx = ialloc((size_t)I + 16);
                int n = linear_data(w, b, x, idx, val, want, mag, O, I, sparsities[sp], densities[d]);
                zs_linear_pack p;
                CHECK(zs_linear_pack_make(&p, w, b, O, I, want_fmt) == ZS_OK, "pack");
                if (gfn) gfn(got, x, &p);
                else fn(got, idx, val, n, &p);
                char what[160];
                snprintf(what, sizeof what, "[%s] %s I=%d O=%d sparsity %.1f density %.1f", isa_tag, name, I, O,
                         sparsities[sp], densities[d]);
                check_mag(got, want, mag, (size_t)O, what);
                int tail0 = 1;
                for (int o = O; o < p.Op; o++) tail0 &= got[o] == 0.0f;
                CHECK(tail0, "%s: outputs past O must stay 0", what);
                zs_linear_pack_free(&p);
                zs_free_aligned(w); zs_free_aligned(b); zs_free_aligned(x); zs_free_aligned(val);
                zs_free_aligned(want); zs_free_aligned(got); zs_free_aligned(idx); zs_free_aligned(mag);
            }
}

/* The plan picks between these pairs by timing on the running CPU
 * (plan_calibrate), so they must agree BIT FOR BIT: conv_sparse_tap (for
 * every kx_group), conv_sparse_pos and conv_sparse_blk add each output's
 * products in the same (ky, kx, ci) order (blk without the zero-weight ones),
 * conv_dense on tap-major taps too (its zero inputs add nothing); linear_ss
 * (on block weights) too; linear_ss_list and linear_sg in input order, one FMA each;
 * linear_ss_expand (ZS_PLAN_LINEAR=expand) is held to the same bits as linear_ss_list. */
static void same_bits(const zs_kernels *K) {
    static const int shapes[][7] = {{64, 14, 14, 64, 5, 5, 0}, {3, 8, 9, 7, 3, 3, 1}, {5, 4, 4, 33, 2, 2, 0}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int d = 1; d < 4; d++) {
            conv_case c;
            conv_case_make(&c, shapes[s], densities[d]);
            int Ci = c.Ci, H = c.H, W = c.W, Co = c.Co, Kh = c.Kh, Kw = c.Kw, pad = c.pad, Ho = c.Ho, Wo = c.Wo;
            int fan = c.fan, n = c.n;
            float *w = c.w, *b = c.b, *val = c.val, *o1 = c.o1, *o2 = c.o2;
            int32_t *idx = c.idx;
            zs_conv_scatter p = c.p;
            float *scratch = falloc(zs_conv_sparse_scratch(&p));
            K->conv_sparse_pos(o2, idx, val, n, &p, scratch);
            for (int g = Kw; g >= 0; g--) { /* ends at kx_group 0 (one tap) for o1 below */
                p.kx_group = g;
                K->conv_sparse_tap(o1, idx, val, n, &p, scratch);
                CHECK(!memcmp(o1, o2, sizeof(float) * (size_t)Co * Ho * Wo),
                      "[%s] conv_sparse_tap kx_group %d == conv_sparse_pos bit for bit (Ci=%d %dx%d Co=%d density %.1f)",
                      isa_tag, g, Ci, H, W, Co, densities[d]);
            }
            CHECK(zs_conv_scatter_pack_blocks(&p, NULL) == ZS_OK, "pack blocks");
            K->conv_sparse_blk(o2, idx, val, n, &p, scratch);
            CHECK(!memcmp(o1, o2, sizeof(float) * (size_t)Co * Ho * Wo),
                  "[%s] conv_sparse_tap == conv_sparse_blk bit for bit (Ci=%d %dx%d Co=%d density %.1f)", isa_tag, Ci, H,
                  W, Co, densities[d]);
            /* conv_dense on tap-major taps (the plan's dense-input switch on a
             * dense map) gives the sparse kernels' bits, zero inputs and a
             * -0 bias included */
            if (!pad) {
                zs_conv_scatter q;
                zs_conv_taps t;
                float b0 = b[0];
                b[0] = -0.0f;
                CHECK(zs_conv_scatter_pack(&q, w, b, Co, Ci, Kh, Kw, H, W, 0, 0, 1) == ZS_OK &&
                          zs_conv_taps_pack(&t, w, b, Co, Ci, Kh, Kw, H, W, 1) == ZS_OK,
                      "pack tap-major");
                K->conv_sparse_tap(o1, idx, val, n, &q, scratch);
                K->conv_dense(o2, c.x, &t);
                CHECK(!memcmp(o1, o2, sizeof(float) * (size_t)Co * Ho * Wo),
                      "[%s] conv_dense (tap-major taps) == conv_sparse_tap bit for bit (Ci=%d %dx%d Co=%d density %.1f)",
                      isa_tag, Ci, H, W, Co, densities[d]);
                b[0] = b0;
                zs_conv_scatter_free(&q);
                zs_conv_taps_free(&t);
            }
            /* block-structured weights (one 16-channel block per row): the
             * block kernel skips 3 of 4 blocks and still agrees bit for bit */
            zs_conv_scatter_free(&p);
            block_weights(w, Co, fan);
            double frac = 0;
            CHECK(zs_conv_scatter_pack(&p, w, b, Co, Ci, Kh, Kw, H, W, pad, 0, 1) == ZS_OK &&
                      zs_conv_scatter_pack_blocks(&p, &frac) == ZS_OK, "pack blocks");
            CHECK(frac <= 1.0 / ((Co + 15) / 16) + 1e-9, "one block per row kept: fraction %g", frac);
            K->conv_sparse_tap(o1, idx, val, n, &p, scratch);
            K->conv_sparse_blk(o2, idx, val, n, &p, scratch);
            CHECK(!memcmp(o1, o2, sizeof(float) * (size_t)Co * Ho * Wo),
                  "[%s] conv_sparse_tap == conv_sparse_blk bit for bit, block weights (Ci=%d %dx%d Co=%d density %.1f)",
                  isa_tag, Ci, H, W, Co, densities[d]);
            c.p = p;
            conv_case_free(&c);
            zs_free_aligned(scratch);
        }
    static const int lshapes[][2] = {{1600, 1000}, {33, 130}, {17, 17}, {40, 385}, {9, 800}};
    for (size_t s = 0; s < sizeof lshapes / sizeof lshapes[0]; s++)
        for (int d = 0; d < 4; d++) {
            int I = lshapes[s][0], O = lshapes[s][1];
            float *w = falloc((size_t)O * I), *b = falloc((size_t)O), *x = falloc((size_t)I);
            float *val = falloc((size_t)I + 16), *o1 = falloc((size_t)O + 16), *o2 = falloc((size_t)O + 16);
            int32_t *idx = ialloc((size_t)I + 16);
            sparse_weights(w, O, I, 0.9);
            for (int o = 0; o < O; o++) b[o] = urand(-1, 1);
            sparse_input(x, I, densities[d]);
            int n = zs_sparsify__scalar(idx, val, x, I);
            zs_linear_pack p;
            CHECK(zs_linear_pack_make(&p, w, b, O, I, ZS_LIN_LIST | ZS_LIN_GATHER | ZS_LIN_EXPAND) == ZS_OK, "pack");
            K->linear_ss_list(o1, idx, val, n, &p);
            K->linear_sg(o2, x, &p);
            CHECK(!memcmp(o1, o2, sizeof(float) * (size_t)O), "[%s] linear_ss_list == linear_sg bit for bit (I=%d O=%d density %.1f)",
                  isa_tag, I, O, densities[d]);
            K->linear_ss_expand(o2, idx, val, n, &p);
            CHECK(!memcmp(o1, o2, sizeof(float) * (size_t)O), "[%s] linear_ss_list == linear_ss_expand bit for bit (I=%d O=%d density %.1f)",
                  isa_tag, I, O, densities[d]);
            K->linear_ss_list1(o2, idx, val, n, &p);
            CHECK(!memcmp(o1, o2, sizeof(float) * (size_t)O), "[%s] linear_ss_list == linear_ss_list1 bit for bit (I=%d O=%d density %.1f)",
                  isa_tag, I, O, densities[d]);
            /* kept weights of value +-0, inputs of value +-0, biases -0:
             * the same FMAs on the same lanes keep every sign of zero */
            for (int t = 0; t < p.start[I]; t += 3) p.lw[t] = t % 2 ? -0.0f : 0.0f;
            for (int o = 0; o < O; o += 2) p.bias[o] = -0.0f;
            for (int e = 0; e < n; e += 5) val[e] = e % 2 ? 0.0f : -0.0f;
            K->linear_ss_list(o1, idx, val, n, &p);
            K->linear_ss_expand(o2, idx, val, n, &p);
            int negz = 0;
            for (int o = 0; o < O; o++) negz += o1[o] == 0.0f && signbit(o1[o]);
            CHECK(!memcmp(o1, o2, sizeof(float) * (size_t)O),
                  "[%s] linear_ss_list == linear_ss_expand bit for bit, zero weights/inputs, -0 biases (I=%d O=%d density %.1f, %d outputs -0)",
                  isa_tag, I, O, densities[d], negz);
            K->linear_ss_list1(o2, idx, val, n, &p);
            CHECK(!memcmp(o1, o2, sizeof(float) * (size_t)O),
                  "[%s] linear_ss_list == linear_ss_list1 bit for bit, zero weights/inputs, -0 biases (I=%d O=%d density %.1f)",
                  isa_tag, I, O, densities[d]);
            CHECK(d > 0 || negz == (O + 1) / 2, "[%s] no input: the -0 biases stay -0 (%d of %d)", isa_tag, negz, (O + 1) / 2);
            n = zs_sparsify__scalar(idx, val, x, I); /* the input values back */
            /* 16-output block weights ("structure": "block"): linear_ss too */
            zs_linear_pack_free(&p);
            for (int o0 = 0; o0 < O; o0 += 16)
                for (int i = 0; i < I; i++) {
                    int keep = zs_rng_uniform(&rng) < 0.1;
                    for (int o = o0; o < o0 + 16 && o < O; o++) w[(size_t)o * I + i] = keep ? urand(-1, 1) : 0.0f;
                }
            CHECK(zs_linear_pack_make(&p, w, b, O, I, ZS_LIN_LIST | ZS_LIN_GATHER | ZS_LIN_BLOCK | ZS_LIN_EXPAND) == ZS_OK, "pack");
            K->linear_ss_list(o1, idx, val, n, &p);
            K->linear_ss_expand(o2, idx, val, n, &p);
            CHECK(!memcmp(o1, o2, sizeof(float) * (size_t)O), "[%s] linear_ss_list == linear_ss_expand bit for bit, block weights (I=%d O=%d density %.1f)",
                  isa_tag, I, O, densities[d]);
            K->linear_ss(o2, idx, val, n, &p);
            CHECK(!memcmp(o1, o2, sizeof(float) * (size_t)O), "[%s] linear_ss_list == linear_ss bit for bit, block weights (I=%d O=%d density %.1f)",
                  isa_tag, I, O, densities[d]);
            K->linear_sg(o2, x, &p);
            CHECK(!memcmp(o1, o2, sizeof(float) * (size_t)O), "[%s] linear_ss_list == linear_sg bit for bit, block weights (I=%d O=%d density %.1f)",
                  isa_tag, I, O, densities[d]);
            /* the blocks made from the list (zs_linear_pack_blocks: the
             * plan's copy of a packed model's list) are pack_make's; after
             * learning changes the list's values of some columns (to +-0
             * too) and zs_linear_pack_sync_blocks copies them, linear_ss
             * gives the list kernel's bits again */
            zs_linear_pack q;
            CHECK(zs_linear_pack_make(&q, w, b, O, I, ZS_LIN_LIST) == ZS_OK && zs_linear_pack_blocks(&q) == ZS_OK, "pack, blocks from the list");
            int nb = p.bstart ? p.bstart[I] : -1;
            CHECK(q.bstart && nb >= 0 && !memcmp(q.bstart, p.bstart, sizeof(int32_t) * ((size_t)I + 1)) &&
                      !memcmp(q.bo, p.bo, sizeof(int32_t) * (size_t)nb) && !memcmp(q.bw, p.bw, sizeof(float) * 16 * (size_t)nb),
                  "[%s] blocks from the list == pack_make's blocks (I=%d O=%d, %d blocks)", isa_tag, I, O, nb);
            int32_t *cols = ialloc((size_t)I);
            int nc = 0;
            for (int i = I - 1; i >= 0; i -= 3) {
                cols[nc++] = i;
                for (int32_t t = q.start[i]; t < q.start[i + 1]; t++) q.lw[t] = t % 5 == 0 ? -0.0f : t % 5 == 1 ? 0.0f : urand(-1, 1);
            }
            zs_linear_pack_sync_blocks(&q, cols, nc);
            K->linear_ss_list(o1, idx, val, n, &q);
            K->linear_ss(o2, idx, val, n, &q);
            CHECK(!memcmp(o1, o2, sizeof(float) * (size_t)O),
                  "[%s] linear_ss on the synced blocks == linear_ss_list bit for bit (I=%d O=%d density %.1f, %d columns changed)",
                  isa_tag, I, O, densities[d], nc);
            for (int32_t t = 0; t < q.start[I]; t++) q.lw[t] *= 0.5f; /* every column: cols NULL */
            zs_linear_pack_sync_blocks(&q, NULL, I);
            K->linear_ss_list(o1, idx, val, n, &q);
            K->linear_ss(o2, idx, val, n, &q);
            CHECK(!memcmp(o1, o2, sizeof(float) * (size_t)O),
                  "[%s] linear_ss on the blocks synced whole == linear_ss_list bit for bit (I=%d O=%d density %.1f)", isa_tag, I, O,
                  densities[d]);
            zs_free_aligned(cols);
            zs_linear_pack_free(&q);
            zs_linear_pack_free(&p);
            zs_free_aligned(w); zs_free_aligned(b); zs_free_aligned(x); zs_free_aligned(val);
            zs_free_aligned(o1); zs_free_aligned(o2); zs_free_aligned(idx);
        }
}

static void test_linear_ss(const zs_kernels *K) { linear_case(K->linear_ss, NULL, "linear_ss", ZS_LIN_BLOCK, 0); }
static void test_linear_ss_list(const zs_kernels *K) { linear_case(K->linear_ss_list, NULL, "linear_ss_list", ZS_LIN_LIST, 0); }
static void test_linear_ss_list1(const zs_kernels *K) { linear_case(K->linear_ss_list1, NULL, "linear_ss_list1", ZS_LIN_LIST, 0); }
static void test_linear_ss_expand(const zs_kernels *K) {
    linear_case(K->linear_ss_expand, NULL, "linear_ss_expand", ZS_LIN_EXPAND, 0);
}
/* col_update against the scalar reference, bit for bit: layers of columns
 * of 0..1000 kept weights (ascending outputs, the last one at the top
 * bitmap word's top bits), output gradients mostly zero (those weights keep
 * their bits, -0 included) or mostly not (more changes than AVX-512's list
 * holds: its write-backs between columns), a subset of the columns in
 * any order, each with its input value, with and without the bitmap. */
static void test_col_update(const zs_kernels *K) {
    static const int sizes[] = {0, 1, 7, 8, 15, 16, 17, 33, 100, 1000};
    const int O = 1000, NS = (int)(sizeof sizes / sizeof sizes[0]), I = 3 * NS;
    for (int dense_g = 0; dense_g < 2; dense_g++) {
        float *g = falloc((size_t)O);
        sparse_input(g, O, dense_g ? 0.9 : 0.1);
        g[O - 1] = 0.5f;
        uint32_t gm[ZS_COL_GM_WORDS(1000)] = {0};
        for (int o = 0; o < O; o++)
            if (g[o] != 0.0f) gm[o / 32] |= 1u << (o % 32);
        /* column t: sizes[t % NS] kept weights */
        int32_t start[3 * (sizeof sizes / sizeof sizes[0]) + 1], cols[3 * (sizeof sizes / sizeof sizes[0])];
        float h[3 * (sizeof sizes / sizeof sizes[0])];
        start[0] = 0;
        for (int t = 0; t < I; t++) start[t + 1] = start[t] + sizes[t % NS];
        const int nnz = start[I];
        uint16_t *idx = malloc(sizeof(uint16_t) * ((size_t)nnz + 1));
        float *w = falloc((size_t)nnz + 1), *rw = falloc((size_t)nnz + 1), *w2 = falloc((size_t)nnz + 1);
        for (int t = 0; t < I; t++) {
            const int n = sizes[t % NS];
            for (int k = 0; k < n; k++) { /* ascending distinct outputs, the last O - 1 */
                int o = n == O ? k : (int)((double)k * (O - 1) / n + zs_rng_uniform(&rng) * ((double)(O - 1) / n));
                idx[start[t] + k] = (uint16_t)(k == n - 1 ? O - 1 : o);
            }
        }
        float *w0 = falloc((size_t)nnz + 1);
        for (int k = 0; k < nnz; k++) w0[k] = rw[k] = w[k] = w2[k] = k % 7 == 3 ? -0.0f : urand(-1, 1);
        int nc = 0;
        for (int t = I - 1; t >= 0; t--) /* two of three columns, descending */
            if (t % 3 != 1) { cols[nc] = t; h[nc++] = urand(-2, 2); }
        zs_col_update__scalar(rw, idx, start, cols, h, nc, g, NULL, O);
        K->col_update(w, idx, start, cols, h, nc, g, gm, O);
        K->col_update(w2, idx, start, cols, h, nc, g, NULL, O);
        int changed = 0;
        for (int q = 0; q < nc; q++)
            for (int k = start[cols[q]]; k < start[cols[q] + 1]; k++) changed += g[idx[k]] != 0.0f;
        int untouched = 1; /* the columns not listed keep every bit */
        for (int t = 1; t < I; t += 3) untouched &= !memcmp(w + start[t], w0 + start[t], sizeof(float) * (size_t)sizes[t % NS]);
        CHECK(!memcmp(w, rw, sizeof(float) * (size_t)nnz) && !memcmp(w2, rw, sizeof(float) * (size_t)nnz) && untouched,
              "[%s] col_update, %d columns of %d kept weights, gradient density %.1f, with and without the bitmap: "
              "bits (%d weights changed)",
              isa_tag, nc, nnz, dense_g ? 0.9 : 0.1, changed);
        CHECK(!dense_g || changed > 2048, "dense gradients: %d changes, more than AVX-512's list holds at once", changed);
        zs_free_aligned(w0);
        /* a column longer than that list (outputs repeated: not from a
         * packer, but a file may say so) between two short ones */
        {
            enum { LONG = 3000 };
            int32_t st3[4] = {0, 5, 5 + LONG, 10 + LONG}, c3[3] = {0, 1, 2};
            float h3[3] = {0.5f, -1.25f, 2.0f};
            uint16_t *i3 = malloc(sizeof(uint16_t) * (10 + LONG));
            float *a3 = falloc(10 + LONG), *r3 = falloc(10 + LONG);
            for (int k = 0; k < 10 + LONG; k++) {
                i3[k] = (uint16_t)((k * 7) % O);
                a3[k] = r3[k] = urand(-1, 1);
            }
            zs_col_update__scalar(r3, i3, st3, c3, h3, 3, g, NULL, O);
            K->col_update(a3, i3, st3, c3, h3, 3, g, gm, O);
            CHECK(!memcmp(a3, r3, sizeof(float) * (10 + LONG)), "[%s] col_update, a column of %d kept weights: bits",
                  isa_tag, LONG);
            free(i3);
            zs_free_aligned(a3); zs_free_aligned(r3);
        }
        free(idx);
        zs_free_aligned(w); zs_free_aligned(rw); zs_free_aligned(w2);
        zs_free_aligned(g);
    }
}

/* row_axpy against the scalar reference, bit for bit (zero inputs leave
 * their weights' bits alone, -0 included). */
static void test_row_axpy(const zs_kernels *K) {
    static const int sizes[] = {0, 1, 7, 8, 15, 16, 17, 33, 1000, 1600};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int n = sizes[s];
        float *h = falloc((size_t)n + 1), *w = falloc((size_t)n + 1), *rw = falloc((size_t)n + 1);
        sparse_input(h, n, 0.5);
        for (int t = 0; t < n; t++) rw[t] = w[t] = t % 7 == 3 ? -0.0f : urand(-1, 1);
        float a = urand(-0.1f, 0.1f);
        zs_row_axpy__scalar(rw, h, n, a);
        K->row_axpy(w, h, n, a);
        CHECK(!memcmp(w, rw, sizeof(float) * (size_t)n), "[%s] row_axpy n=%d: bit for bit", isa_tag, n);
        zs_free_aligned(h); zs_free_aligned(w); zs_free_aligned(rw);
    }
}

static void test_linear_sd(const zs_kernels *K) { linear_case(K->linear_sd, NULL, "linear_sd", ZS_LIN_DENSE, 1); }

/* linear_sr reads the rows (O, I) in place: the same bits as the same ISA's
 * linear_sd on the same weights (bias, then one product per list entry in
 * list order: FMA in the SIMD files, multiply-add in the scalar one), and
 * within rounding of a double reference; outputs past O stay 0. */
static void test_linear_sr(const zs_kernels *K) {
    static const int shapes[][2] = {{1, 1}, {15, 12}, {1000, 12}, {16, 16}, {17, 17}, {100, 7}, {33, 130}, {8, 9}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int d = 0; d < 4; d++) {
            int I = shapes[s][0], O = shapes[s][1];
            float *w = falloc((size_t)O * I), *b = falloc((size_t)O), *x = falloc((size_t)I);
            float *val = falloc((size_t)I + 16), *want = falloc((size_t)O), *mag = falloc((size_t)O);
            float *sd = falloc((size_t)O + 16), *sr = falloc((size_t)O + 16);
            int32_t *idx = ialloc((size_t)I + 16);
            int n = linear_data(w, b, x, idx, val, want, mag, O, I, 0.0, densities[d]);
            zs_linear_pack p;
            CHECK(zs_linear_pack_make(&p, w, b, O, I, ZS_LIN_DENSE) == ZS_OK, "pack");
            K->linear_sd(sd, idx, val, n, &p);
            p.wr = w;
            for (int o = 0; o < p.Op; o++) sr[o] = 12345.0f; /* every output written */
            K->linear_sr(sr, idx, val, n, &p);
            char what[160];
            snprintf(what, sizeof what, "[%s] linear_sr I=%d O=%d density %.1f", isa_tag, I, O, densities[d]);
            check_mag(sr, want, mag, (size_t)O, what);
            CHECK(!memcmp(sr, sd, sizeof(float) * (size_t)p.Op), "%s: the bits of linear_sd (outputs past O: 0)", what);
            zs_linear_pack_free(&p);
            zs_free_aligned(w); zs_free_aligned(b); zs_free_aligned(x); zs_free_aligned(val);
            zs_free_aligned(want); zs_free_aligned(mag); zs_free_aligned(sd); zs_free_aligned(sr);
            zs_free_aligned(idx);
        }
}
static void test_linear_sg(const zs_kernels *K) { linear_case(NULL, K->linear_sg, "linear_sg", ZS_LIN_GATHER, 0); }

/* ---------------------------------------------------------------- driver */

int main(void) {
    zs_rng_seed(&rng, 12345);
    zs_isa cpu = zs_isa_cpu();
    for (int isa = ZS_ISA_SCALAR; isa <= ZS_ISA_AVX512; isa++) {
        if (isa > (int)cpu) {
            SKIP("ISA %s: this CPU lacks it (best: %s); its kernels are not tested here",
                 zs_isa_name((zs_isa)isa), zs_isa_name(cpu));
            continue;
        }
        const zs_kernels *K = zs_kernels_get((zs_isa)isa);
        CHECK(K->isa == (zs_isa)isa, "kernel table for %s", zs_isa_name((zs_isa)isa));
        isa_tag = zs_isa_name((zs_isa)isa);
        int before = check_failed;
        /* one test per kernel of the list: a kernel without a test does not compile */
#define RUN_(name, type, desc) test_##name(K);
        ZS_KERNEL_LIST(RUN_)
        if (isa == ZS_ISA_SCALAR) { ZS_KERNEL_LIST_SCALAR(RUN_) }
#undef RUN_
        same_bits(K);
        printf("ISA %s: %s\n", isa_tag, check_failed == before ? "all kernels match the reference" : "FAILURES");
    }
    test_raw_thresholds();
    /* the table listing names every family */
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    zs_kernels_list(m);
    fclose(m);
#define HAS_(name, type, desc) CHECK(buf && strstr(buf, "zs_" #name "__"), "zs_kernels_list names " #name);
    ZS_KERNEL_LIST(HAS_)
    ZS_KERNEL_LIST_SCALAR(HAS_)
#undef HAS_
    free(buf);
    return check_finish("test_kernels");
}
