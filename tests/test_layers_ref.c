/*
 * test_layers_ref.c — every reference layer of src/layers.h against PyTorch.
 *
 * Reads tests/data/ref/<layer>.safetensors (written by scripts/torch_ref.py:
 * float64 PyTorch results of float32 inputs, rounded to float32) and compares
 * outputs and gradients (upstream gradient g, i.e. loss = sum(out * g)).
 *
 * Tolerances (|got - want| <= atol + rtol * |want|):
 *   conv2d, linear (OpenBLAS sgemm)    atol 1e-4  rtol 1e-4
 *   batchnorm forward and backward     atol 1e-5  rtol 1e-4
 *   log-softmax, NLL                   atol 1e-5  rtol 1e-5
 *   duty cycles                        atol 1e-6  rtol 1e-5
 *   maxpool, relu, k-WTA values/grads  exact (they copy or route values)
 *   maxpool argmax, k-WTA winner sets  exact
 * Backward functions must accumulate: each backward is run twice and the
 * second result must be twice the reference.
 * Dropout has no PyTorch counterpart (random): its statistics, scaling,
 * determinism and backward are checked here instead.
 */
#include "check.h"
#include "layers.h"
#include "safetensors.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static zs_st_file F;
static char fname[64];

static int open_ref(const char *layer) {
    char path[256];
    snprintf(path, sizeof path, "tests/data/ref/%s.safetensors", layer);
    snprintf(fname, sizeof fname, "%s", layer);
    zs_st_free(&F);
    memset(&F, 0, sizeof F);
    zs_status st = zs_st_read(&F, path, 16u << 20);
    CHECK(st == ZS_OK, "read %s: %s", path, zs_last_error());
    return st == ZS_OK;
}

/* Copy "<case>.<what>" out with zs_st_copy (its own shape); NULL if absent
 * and not required. *n receives the element count. */
static void *load(const char *cs, const char *what, zs_st_dtype dt, size_t *n, int required) {
    char name[128];
    snprintf(name, sizeof name, "%s.%s", cs, what);
    const zs_st_tensor *t = zs_st_find(&F, name);
    if (!t) {
        if (required) CHECK(0, "%s: tensor %s missing", fname, name);
        return NULL;
    }
    void *p = calloc(t->numel ? t->numel : 1, zs_st_dtype_size(dt));
    zs_status st = zs_st_copy(&F, name, dt, t->ndim, t->shape, p);
    CHECK(st == ZS_OK, "%s: copy %s: %s", fname, name, zs_last_error());
    if (n) *n = t->numel;
    return p;
}
#define LF(cs, w) ((float *)load((cs), (w), ZS_ST_F32, NULL, 1))
#define LFO(cs, w) ((float *)load((cs), (w), ZS_ST_F32, NULL, 0))

static int *cfg_of(const char *cs, int want) {
    size_t n = 0;
    int32_t *c = load(cs, "cfg", ZS_ST_I32, &n, 1);
    CHECK(c && (int)n == want, "%s/%s: cfg has %zu fields, %d expected", fname, cs, n, want);
    if (!c || (int)n != want) { free(c); return NULL; }
    return c;
}

/* Split the "cases" metadata into a NULL-terminated array (caller frees). */
static char **cases(void) {
    const char *m = zs_st_meta(&F, "cases");
    CHECK(m != NULL, "%s: no 'cases' metadata", fname);
    if (!m) return NULL;
    size_t len = strlen(m), cnt = 2;
    for (size_t i = 0; i < len; i++) cnt += m[i] == ',';
    char **v = calloc(cnt, sizeof(char *));
    char *buf = malloc(len + 1);
    memcpy(buf, m, len + 1);
    int k = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) v[k++] = tok;
    if (k == 0) free(buf);
    return v;
}
static void free_cases(char **v) { if (v) { free(v[0]); free(v); } }

static void scale2(float *a, size_t n) { for (size_t i = 0; i < n; i++) a[i] *= 2.0f; }

static int exact_f(const float *a, const float *b, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (!(a[i] == b[i])) {
            CHECK(0, "%s: index %zu: got %.9g want %.9g (exact)", what, i, a[i], b[i]);
            return 0;
        }
    CHECK(1, "%s", what);
    return 1;
}

/* ------------------------------------------------------------- conv2d ---- */

static void test_conv2d(void) {
    if (!open_ref("conv2d")) return;
    char **cs = cases();
    int ncase = 0;
    for (int ci = 0; cs && cs[ci]; ci++, ncase++) {
        const char *c = cs[ci];
        int *g = cfg_of(c, 11);
        if (!g) continue;
        int N = g[0], Ci = g[1], H = g[2], W = g[3], Co = g[4], Kh = g[5], Kw = g[6];
        int s = g[7], p = g[8], hb = g[9];
        int Ho = (H + 2 * p - Kh) / s + 1, Wo = (W + 2 * p - Kw) / s + 1;
        size_t nin = (size_t)N * Ci * H * W, nw = (size_t)Co * Ci * Kh * Kw, nout = (size_t)N * Co * Ho * Wo;
        float *x = LF(c, "x"), *w = LF(c, "w"), *b = hb ? LF(c, "b") : NULL;
        float *ref = LF(c, "out"), *gu = LF(c, "g"), *rdx = LF(c, "dx"), *rdw = LF(c, "dw");
        float *rdb = hb ? LF(c, "db") : NULL;
        float *col = malloc(sizeof(float) * zs_conv2d_col_size(Ci, H, W, Kh, Kw, s, p));
        float *out = malloc(sizeof(float) * nout), *dx = calloc(nin, 4), *dw = calloc(nw, 4);
        float *db = calloc((size_t)Co, 4);
        char what[160];
        zs_conv2d_forward(out, x, w, b, N, Ci, H, W, Co, Kh, Kw, s, p, col);
        snprintf(what, sizeof what, "conv2d/%s forward", c);
        CHECK_CLOSE(out, ref, nout, 1e-4, 1e-4, what);
        zs_conv2d_forward_naive(out, x, w, b, N, Ci, H, W, Co, Kh, Kw, s, p);
        snprintf(what, sizeof what, "conv2d/%s forward_naive", c);
        CHECK_CLOSE(out, ref, nout, 1e-4, 1e-4, what);
        for (int rep = 1; rep <= 2; rep++) {
            zs_conv2d_backward(dx, dw, hb ? db : NULL, gu, x, w, N, Ci, H, W, Co, Kh, Kw, s, p, col);
            if (rep == 2) { scale2(rdx, nin); scale2(rdw, nw); if (rdb) scale2(rdb, (size_t)Co); }
            snprintf(what, sizeof what, "conv2d/%s dx (pass %d)", c, rep);
            CHECK_CLOSE(dx, rdx, nin, 1e-4, 1e-4, what);
            snprintf(what, sizeof what, "conv2d/%s dw (pass %d)", c, rep);
            CHECK_CLOSE(dw, rdw, nw, 1e-4, 1e-4, what);
            if (hb) {
                snprintf(what, sizeof what, "conv2d/%s db (pass %d)", c, rep);
                CHECK_CLOSE(db, rdb, (size_t)Co, 1e-4, 1e-4, what);
            }
        }
        /* NULL gradients are skipped */
        memset(dx, 0, nin * 4);
        zs_conv2d_backward(dx, NULL, NULL, gu, x, w, N, Ci, H, W, Co, Kh, Kw, s, p, col);
        scale2(dx, nin);  /* rdx holds 2x the reference by now */
        snprintf(what, sizeof what, "conv2d/%s dx alone (dw, db NULL)", c);
        CHECK_CLOSE(dx, rdx, nin, 2e-4, 1e-4, what);
        free(x); free(w); free(b); free(ref); free(gu); free(rdx); free(rdw); free(rdb);
        free(col); free(out); free(dx); free(dw); free(db); free(g);
    }
    CHECK(ncase >= 6, "conv2d: %d cases", ncase);
    free_cases(cs);
}

/* ------------------------------------------------------------- linear ---- */

static void test_linear(void) {
    if (!open_ref("linear")) return;
    char **cs = cases();
    int ncase = 0;
    for (int ci = 0; cs && cs[ci]; ci++, ncase++) {
        const char *c = cs[ci];
        int *g = cfg_of(c, 4);
        if (!g) continue;
        int N = g[0], I = g[1], O = g[2], hb = g[3];
        float *x = LF(c, "x"), *w = LF(c, "w"), *b = hb ? LF(c, "b") : NULL;
        float *ref = LF(c, "out"), *gu = LF(c, "g"), *rdx = LF(c, "dx"), *rdw = LF(c, "dw");
        float *rdb = hb ? LF(c, "db") : NULL;
        float *out = malloc(sizeof(float) * N * O), *dx = calloc((size_t)N * I, 4);
        float *dw = calloc((size_t)O * I, 4), *db = calloc((size_t)O, 4);
        char what[160];
        zs_linear_forward(out, x, w, b, N, I, O);
        snprintf(what, sizeof what, "linear/%s forward", c);
        CHECK_CLOSE(out, ref, (size_t)N * O, 1e-4, 1e-4, what);
        for (int rep = 1; rep <= 2; rep++) {
            zs_linear_backward(dx, dw, hb ? db : NULL, gu, x, w, N, I, O);
            if (rep == 2) { scale2(rdx, (size_t)N * I); scale2(rdw, (size_t)O * I); if (rdb) scale2(rdb, (size_t)O); }
            snprintf(what, sizeof what, "linear/%s dx (pass %d)", c, rep);
            CHECK_CLOSE(dx, rdx, (size_t)N * I, 1e-4, 1e-4, what);
            snprintf(what, sizeof what, "linear/%s dw (pass %d)", c, rep);
            CHECK_CLOSE(dw, rdw, (size_t)O * I, 1e-4, 1e-4, what);
            if (hb) {
                snprintf(what, sizeof what, "linear/%s db (pass %d)", c, rep);
                CHECK_CLOSE(db, rdb, (size_t)O, 1e-4, 1e-4, what);
            }
        }
        free(x); free(w); free(b); free(ref); free(gu); free(rdx); free(rdw); free(rdb);
        free(out); free(dx); free(dw); free(db); free(g);
    }
    CHECK(ncase >= 3, "linear: %d cases", ncase);
    free_cases(cs);
}

/* ---------------------------------------------------------- maxpool2d ---- */

static void test_maxpool(void) {
    if (!open_ref("maxpool2d")) return;
    char **cs = cases();
    int ncase = 0;
    for (int ci = 0; cs && cs[ci]; ci++, ncase++) {
        const char *c = cs[ci];
        int *g = cfg_of(c, 8);
        if (!g) continue;
        int N = g[0], C = g[1], H = g[2], W = g[3], k = g[4], s = g[5], Ho = g[6], Wo = g[7];
        CHECK(Ho == (H - k) / s + 1 && Wo == (W - k) / s + 1, "maxpool/%s: output size", c);
        size_t nin = (size_t)N * C * H * W, nout = (size_t)N * C * Ho * Wo;
        float *x = LF(c, "x"), *ref = LF(c, "out"), *gu = LF(c, "g"), *rdx = LF(c, "dx");
        int32_t *ram = load(c, "argmax", ZS_ST_I32, NULL, 1);
        float *out = malloc(4 * nout), *dx = calloc(nin, 4);
        int32_t *am = malloc(4 * nout);
        char what[160];
        zs_maxpool2d_forward(out, am, x, N, C, H, W, k, s);
        snprintf(what, sizeof what, "maxpool/%s forward", c);
        exact_f(out, ref, nout, what);
        size_t bad = nout;
        for (size_t i = 0; i < nout && ram; i++) if (am[i] != ram[i]) { bad = i; break; }
        CHECK(bad == nout, "maxpool/%s argmax: first mismatch at %zu: got %d want %d (first max in scan order)",
              c, bad, bad < nout ? am[bad] : 0, bad < nout && ram ? ram[bad] : 0);
        for (int rep = 1; rep <= 2; rep++) {
            zs_maxpool2d_backward(dx, gu, am, N, C, H, W, Ho, Wo);
            if (rep == 2) scale2(rdx, nin);
            snprintf(what, sizeof what, "maxpool/%s dx (pass %d)", c, rep);
            CHECK_CLOSE(dx, rdx, nin, 1e-6, 1e-6, what);
        }
        free(x); free(ref); free(gu); free(rdx); free(ram); free(out); free(dx); free(am); free(g);
    }
    CHECK(ncase >= 5, "maxpool: %d cases", ncase);
    free_cases(cs);
}

/* --------------------------------------------------------------- relu ---- */

static void test_relu(void) {
    if (!open_ref("relu")) return;
    int *g = cfg_of("basic", 1);
    if (!g) return;
    size_t n = (size_t)g[0];
    float *x = LF("basic", "x"), *ref = LF("basic", "out"), *gu = LF("basic", "g"), *rdx = LF("basic", "dx");
    float *out = malloc(4 * n), *dx = calloc(n, 4);
    zs_relu_forward(out, x, n);
    exact_f(out, ref, n, "relu forward");
    zs_relu_backward(dx, gu, out, n);
    exact_f(dx, rdx, n, "relu dx (zero gradient at x = 0)");
    zs_relu_backward(dx, gu, out, n);
    scale2(rdx, n);
    exact_f(dx, rdx, n, "relu dx accumulates");
    free(x); free(ref); free(gu); free(rdx); free(out); free(dx); free(g);
}

/* ---------------------------------------------------------- batchnorm ---- */

static void test_batchnorm(void) {
    if (!open_ref("batchnorm")) return;
    char **cs = cases();
    int ncase = 0;
    for (int ci = 0; cs && cs[ci]; ci++, ncase++) {
        const char *c = cs[ci];
        int *g = cfg_of(c, 5);
        float *fc = LF(c, "fcfg");
        if (!g || !fc) { free(g); free(fc); continue; }
        int N = g[0], C = g[1], S = g[2], affine = g[3], training = g[4];
        float mom = fc[0], eps = fc[1];
        size_t n = (size_t)N * C * S;
        float *x = LF(c, "x"), *rm = LF(c, "running_mean"), *rv = LF(c, "running_var");
        float *ref = LF(c, "out"), *gu = LF(c, "g");
        float *gamma = affine ? LF(c, "gamma") : NULL, *beta = affine ? LF(c, "beta") : NULL;
        float *rm0 = malloc(4 * C), *rv0 = malloc(4 * C);
        memcpy(rm0, rm, 4 * C); memcpy(rv0, rv, 4 * C);
        float *out = malloc(4 * n), *sm = malloc(4 * C), *si = malloc(4 * C);
        char what[160];
        zs_batchnorm_forward(out, sm, si, x, gamma, beta, rm, rv, N, C, S, mom, eps, training);
        snprintf(what, sizeof what, "batchnorm/%s forward", c);
        CHECK_CLOSE(out, ref, n, 1e-5, 1e-4, what);
        if (training) {
            float *rma = LF(c, "running_mean_after"), *rva = LF(c, "running_var_after");
            float *rsm = LF(c, "save_mean"), *rsi = LF(c, "save_invstd"), *rdx = LF(c, "dx");
            snprintf(what, sizeof what, "batchnorm/%s running_mean", c);
            CHECK_CLOSE(rm, rma, (size_t)C, 1e-6, 1e-5, what);
            snprintf(what, sizeof what, "batchnorm/%s running_var (unbiased)", c);
            CHECK_CLOSE(rv, rva, (size_t)C, 1e-6, 1e-5, what);
            snprintf(what, sizeof what, "batchnorm/%s save_mean", c);
            CHECK_CLOSE(sm, rsm, (size_t)C, 1e-6, 1e-5, what);
            snprintf(what, sizeof what, "batchnorm/%s save_invstd", c);
            CHECK_CLOSE(si, rsi, (size_t)C, 1e-6, 1e-5, what);
            float *dx = calloc(n, 4), *dg = calloc((size_t)C, 4), *dbt = calloc((size_t)C, 4);
            float *rdg = affine ? LF(c, "dgamma") : NULL, *rdb = affine ? LF(c, "dbeta") : NULL;
            for (int rep = 1; rep <= 2; rep++) {
                zs_batchnorm_backward(dx, affine ? dg : NULL, affine ? dbt : NULL, gu, x, sm, si, gamma, N, C, S);
                if (rep == 2) { scale2(rdx, n); if (affine) { scale2(rdg, (size_t)C); scale2(rdb, (size_t)C); } }
                snprintf(what, sizeof what, "batchnorm/%s dx (pass %d)", c, rep);
                CHECK_CLOSE(dx, rdx, n, 1e-5, 1e-4, what);
                if (affine) {
                    snprintf(what, sizeof what, "batchnorm/%s dgamma (pass %d)", c, rep);
                    CHECK_CLOSE(dg, rdg, (size_t)C, 1e-5, 1e-4, what);
                    snprintf(what, sizeof what, "batchnorm/%s dbeta (pass %d)", c, rep);
                    CHECK_CLOSE(dbt, rdb, (size_t)C, 1e-5, 1e-4, what);
                }
            }
            free(rma); free(rva); free(rsm); free(rsi); free(rdx); free(dx); free(dg); free(dbt);
            free(rdg); free(rdb);
        } else {
            snprintf(what, sizeof what, "batchnorm/%s eval leaves running_mean", c);
            exact_f(rm, rm0, (size_t)C, what);
            snprintf(what, sizeof what, "batchnorm/%s eval leaves running_var", c);
            exact_f(rv, rv0, (size_t)C, what);
        }
        free(x); free(rm); free(rv); free(ref); free(gu); free(gamma); free(beta); free(rm0); free(rv0);
        free(out); free(sm); free(si); free(g); free(fc);
    }
    CHECK(ncase >= 8, "batchnorm: %d cases", ncase);
    free_cases(cs);
}

/* ----------------------------------------------------------- kwinners ---- */

static void test_topk_ties(void) {
    const float s[8] = {1, 3, 3, 2, 3, 0, 2, 2};
    int32_t sel[8], work[8];
    int n = zs_topk_select(sel, s, 8, 3, work);
    CHECK(n == 3 && sel[0] == 1 && sel[1] == 2 && sel[2] == 4, "topk ties k=3: %d [%d %d %d]", n, sel[0], sel[1], sel[2]);
    n = zs_topk_select(sel, s, 8, 5, work);
    CHECK(n == 5 && sel[0] == 1 && sel[1] == 2 && sel[2] == 3 && sel[3] == 4 && sel[4] == 6,
          "topk ties k=5 (2,2,2 at 3,6,7: lower index first)");
    n = zs_topk_select(sel, s, 8, 20, work);
    CHECK(n == 8, "topk k > n returns n (%d)", n);
    for (int i = 0; i < n; i++) CHECK(sel[i] == i, "topk k > n: all, ascending");
    /* Many ties vs a brute-force rank: rank(i) = #{j: s_j > s_i or (s_j == s_i and j < i)} */
    enum { M = 997 };
    float *sc = malloc(sizeof(float) * M);
    int32_t *sl = malloc(4 * M), *wk = malloc(4 * M);
    uint64_t r = 12345;
    for (int i = 0; i < M; i++) { r = r * 6364136223846793005ull + 1442695040888963407ull; sc[i] = (float)((r >> 33) % 7) - 3.0f; }
    int ks[] = {1, 2, 50, 142, 143, 500, 996, 997};
    for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) {
        int k = ks[t];
        int got = zs_topk_select(sl, sc, M, k, wk);
        int ok = got == k;
        for (int j = 1; j < got; j++) ok &= sl[j - 1] < sl[j];
        int inset = 0;
        for (int i = 0; i < M; i++) {
            int rank = 0;
            for (int j = 0; j < M; j++) rank += sc[j] > sc[i] || (sc[j] == sc[i] && j < i);
            if (rank < k) inset++;
            int found = 0;
            for (int j = 0; j < got; j++) found |= sl[j] == i;
            ok &= found == (rank < k);
        }
        CHECK(ok && inset == k, "topk with ties: n=%d k=%d matches the brute-force rank rule", M, k);
    }
    free(sc); free(sl); free(wk);
}

static void test_kwinners(void) {
    if (!open_ref("kwinners")) return;
    char **cs = cases();
    int ncase = 0;
    float carry_duty[4096];
    int64_t carry_li = 0;
    for (int ci = 0; cs && cs[ci]; ci++, ncase++) {
        const char *c = cs[ci];
        int *g = cfg_of(c, 11);
        float *fc = LF(c, "fcfg");
        if (!g || !fc) { free(g); free(fc); continue; }
        int N = g[0], C = g[1], H = g[2], W = g[3], k = g[4], local = g[5], is2d = g[6];
        int training = g[7], period = g[8], li0 = g[9], li1 = g[10];
        float bs = fc[0];
        int S = H * W, U = C * S;
        int kk = local ? (k < C ? k : C) : (k < U ? k : U);
        int kmax = local ? kk * S : kk;
        size_t n = (size_t)N * U;
        float *x = LF(c, "x"), *duty = LF(c, "duty"), *ref = LF(c, "out"), *gu = LF(c, "g");
        float *rdx = LF(c, "dx");
        uint8_t *rmask = load(c, "mask", ZS_ST_U8, NULL, 1);
        /* duty-cycle chains: batch b > 0 starts from OUR duty after batch b-1 */
        int chained = strncmp(c, "chain", 5) == 0 && c[strlen(c) - 1] != '0';
        char what[160];
        if (chained) {
            snprintf(what, sizeof what, "kwinners/%s chained duty in", c);
            CHECK_CLOSE(carry_duty, duty, (size_t)C, 1e-6, 1e-5, what);
            CHECK(carry_li == li0, "kwinners/%s chained iterations %lld want %d", c, (long long)carry_li, li0);
            memcpy(duty, carry_duty, 4 * C);
        }
        float *out = malloc(4 * n), *val = malloc(4 * (size_t)N * kmax);
        int32_t *cnt = malloc(4 * N), *idx = malloc(4 * (size_t)N * kmax);
        float *score = malloc(4 * (2 * (size_t)U + 64));
        int32_t *iw = malloc(4 * (2 * (size_t)U + 64));
        if (is2d)
            zs_kwinners2d_forward(out, cnt, idx, val, x, duty, bs, N, C, H, W, k, local, score, iw, 0);
        else
            zs_kwinners_forward(out, cnt, idx, val, x, duty, bs, N, U, k, score, iw, 0);
        snprintf(what, sizeof what, "kwinners/%s output", c);
        exact_f(out, ref, n, what);
        /* winners list: count, strictly ascending indices, values, = the mask */
        int ok = 1;
        size_t first_bad = (size_t)-1;
        for (int s = 0; s < N; s++) {
            ok &= cnt[s] == kmax;
            uint8_t *m = calloc((size_t)U, 1);
            for (int j = 0; j < cnt[s] && j < kmax; j++) {
                int32_t id = idx[(size_t)s * kmax + j];
                if (id < 0 || id >= U) { ok = 0; continue; }
                if (j && id <= idx[(size_t)s * kmax + j - 1]) ok = 0;
                if (!(val[(size_t)s * kmax + j] == x[(size_t)s * U + id])) ok = 0;
                m[id] = 1;
            }
            for (int u = 0; u < U; u++)
                if (m[u] != rmask[(size_t)s * U + u] && first_bad == (size_t)-1) first_bad = (size_t)s * U + u;
            free(m);
        }
        CHECK(ok, "kwinners/%s winners list: count = %d per sample, ascending, values = x", c, kmax);
        CHECK(first_bad == (size_t)-1, "kwinners/%s winner set differs from PyTorch at flat index %zu", c, first_bad);
        float *dx = calloc(n, 4);
        for (int rep = 1; rep <= 2; rep++) {
            zs_kwinners_backward(dx, gu, cnt, idx, N, U, kmax);
            if (rep == 2) scale2(rdx, n);
            snprintf(what, sizeof what, "kwinners/%s dx (pass %d)", c, rep);
            exact_f(dx, rdx, n, what);
        }
        if (training) {
            float *rda = LF(c, "duty_after");
            int64_t li = li0;
            zs_kwinners_update_duty(duty, &li, out, N, C, is2d ? S : 1, period);
            CHECK(li == li1, "kwinners/%s learning_iterations %lld want %d", c, (long long)li, li1);
            snprintf(what, sizeof what, "kwinners/%s duty after update", c);
            CHECK_CLOSE(duty, rda, (size_t)C, 1e-6, 1e-5, what);
            if (C <= 4096) { memcpy(carry_duty, duty, 4 * C); carry_li = li; }
            free(rda);
        }
        free(x); free(duty); free(ref); free(gu); free(rdx); free(rmask); free(out); free(val);
        free(cnt); free(idx); free(score); free(iw); free(dx); free(g); free(fc);
    }
    CHECK(ncase >= 20, "kwinners: %d cases", ncase);
    free_cases(cs);
}

/* --------------------------------------------------------- logsoftmax ---- */

static void test_logsoftmax(void) {
    if (!open_ref("logsoftmax")) return;
    char **cs = cases();
    int ncase = 0;
    for (int ci = 0; cs && cs[ci]; ci++, ncase++) {
        const char *c = cs[ci];
        int *g = cfg_of(c, 2);
        if (!g) continue;
        int N = g[0], K = g[1];
        size_t n = (size_t)N * K;
        float *x = LF(c, "x"), *rlp = LF(c, "logp"), *rdl = LF(c, "dlogp"), *rdx = LF(c, "dx");
        float *gu = LF(c, "g"), *rdxg = LF(c, "dx_g"), *rloss = LF(c, "loss");
        int32_t *y = load(c, "y", ZS_ST_I32, NULL, 1);
        float *lp = malloc(4 * n), *dl = malloc(4 * n), *dx = calloc(n, 4);
        char what[160];
        zs_logsoftmax_forward(lp, x, N, K);
        snprintf(what, sizeof what, "logsoftmax/%s forward", c);
        CHECK_CLOSE(lp, rlp, n, 1e-5, 1e-5, what);
        memset(dl, 0x7f, 4 * n);  /* written, not accumulated */
        float loss = zs_nll_loss(dl, lp, y, N, K);
        CHECK(fabs(loss - rloss[0]) <= 1e-5 + 1e-5 * fabs(rloss[0]), "nll/%s loss %.8g want %.8g", c, loss, rloss[0]);
        snprintf(what, sizeof what, "nll/%s dlogp", c);
        CHECK_CLOSE(dl, rdl, n, 1e-7, 1e-6, what);
        CHECK(zs_nll_loss(NULL, lp, y, N, K) == loss, "nll/%s dlogp NULL", c);
        zs_logsoftmax_backward(dx, dl, lp, N, K);
        snprintf(what, sizeof what, "logsoftmax+nll/%s dx", c);
        CHECK_CLOSE(dx, rdx, n, 1e-6, 1e-4, what);
        memset(dx, 0, 4 * n);
        for (int rep = 1; rep <= 2; rep++) {
            zs_logsoftmax_backward(dx, gu, lp, N, K);
            if (rep == 2) scale2(rdxg, n);
            snprintf(what, sizeof what, "logsoftmax/%s dx of g (pass %d)", c, rep);
            CHECK_CLOSE(dx, rdxg, n, 1e-5, 1e-4, what);
        }
        free(x); free(rlp); free(rdl); free(rdx); free(gu); free(rdxg); free(rloss); free(y);
        free(lp); free(dl); free(dx); free(g);
    }
    CHECK(ncase >= 3, "logsoftmax: %d cases", ncase);
    free_cases(cs);
}

/* ------------------------------------------------------------ dropout ---- */

static void test_dropout(void) {
    enum { n = 200000 };
    float *x = malloc(4 * n), *y = malloc(4 * n), *y2 = malloc(4 * n), *dx = calloc(n, 4), *g = malloc(4 * n);
    uint8_t *m = malloc(n), *m2 = malloc(n);
    for (int i = 0; i < n; i++) { x[i] = 1.0f + (float)(i % 97) * 0.01f; g[i] = (float)(i % 13) - 6.0f; }
    const float ps[] = {0.1f, 0.3f, 0.5f};
    for (int t = 0; t < 3; t++) {
        float p = ps[t], sc = 1.0f / (1.0f - p);
        uint64_t r1 = 777 + t, r2 = 777 + t;
        zs_dropout_forward(y, m, x, n, p, &r1, 1);
        zs_dropout_forward(y2, m2, x, n, p, &r2, 1);
        CHECK(memcmp(m, m2, n) == 0 && memcmp(y, y2, 4 * (size_t)n) == 0 && r1 == r2,
              "dropout p=%.1f: same RNG state, same mask", p);
        long kept = 0;
        int vals_ok = 1;
        for (int i = 0; i < n; i++) {
            kept += m[i];
            vals_ok &= m[i] ? y[i] == x[i] * sc : y[i] == 0.0f;
        }
        double frac = (double)kept / n, sd = sqrt(p * (1 - p) / n);
        CHECK(fabs(frac - (1 - p)) < 6 * sd, "dropout p=%.1f keeps %.5f (want %.5f +- %.5f)", p, frac, 1 - p, 6 * sd);
        CHECK(vals_ok, "dropout p=%.1f: kept units scaled by 1/(1-p), others 0", p);
        /* consecutive runs give different masks */
        zs_dropout_forward(y2, m2, x, n, p, &r2, 1);
        CHECK(memcmp(m, m2, n) != 0, "dropout p=%.1f: the RNG advances", p);
        /* no long-range pattern: kept fraction in each 1/8 of the array */
        int blocks_ok = 1;
        for (int b = 0; b < 8; b++) {
            long kb = 0;
            for (int i = b * (n / 8); i < (b + 1) * (n / 8); i++) kb += m[i];
            blocks_ok &= fabs((double)kb / (n / 8) - (1 - p)) < 6 * sqrt(p * (1 - p) / (n / 8));
        }
        CHECK(blocks_ok, "dropout p=%.1f: kept fraction uniform across the array", p);
        memset(dx, 0, 4 * (size_t)n);
        zs_dropout_backward(dx, g, m, n, p);
        int bk = 1;
        for (int i = 0; i < n; i++) bk &= dx[i] == (m[i] ? g[i] * sc : 0.0f);
        CHECK(bk, "dropout p=%.1f backward: dout * mask / (1-p)", p);
    }
    uint64_t r = 5;
    zs_dropout_forward(y, m, x, n, 0.5f, &r, 0);
    CHECK(memcmp(y, x, 4 * (size_t)n) == 0, "dropout eval mode is the identity");
    zs_dropout_forward(y, m, x, n, 0.0f, &r, 1);
    CHECK(memcmp(y, x, 4 * (size_t)n) == 0, "dropout p=0 is the identity");
    free(x); free(y); free(y2); free(dx); free(g); free(m); free(m2);
}

int main(void) {
    test_conv2d();
    test_linear();
    test_maxpool();
    test_relu();
    test_batchnorm();
    test_topk_ties();
    test_kwinners();
    test_logsoftmax();
    test_dropout();
    zs_st_free(&F);
    return check_finish("layers_ref");
}
