/*
 * test_gradcheck.c — finite-difference gradient checks of every layer in
 * src/layers.h, and of a small whole network through zs_net_backward_ref.
 *
 * Method. The functions under test are float32, so the check does not use
 * double-precision twins of the formulas (that would test the twins, not the
 * code). Instead, for a scalar loss L = sum(out * g) (or the mean NLL), each
 * input/parameter element p is perturbed in float to p+ = fl(p + h) and
 * p- = fl(p - h), the float forward is run, L is accumulated in double, and
 *     numeric = (L(p+) - L(p-)) / ((double)p+ - (double)p-)
 * (the quotient uses the perturbation actually applied). This is compared
 * with the analytic float gradient from the backward function.
 *
 * Error budget: for the piecewise-linear layers (conv2d, linear, maxpool,
 * relu, k-WTA, dropout) the central difference is exact up to float rounding
 * of the forward (~1e-7 relative per output, divided by 2h); inputs are
 * built so that no perturbation crosses a kink (maxpool and k-WTA margins
 * >> h, |relu input| >> h), and that is asserted. For batchnorm and
 * log-softmax the truncation error is O(h^2) on top.
 *   h = 1e-2 (piecewise-linear layers), 2e-3 (batchnorm, log-softmax),
 *   5e-4 (whole network; parameters whose perturbation changes any argmax,
 *   winner or relu sign are skipped, and fewer than 5 % may be).
 *   per element: |analytic - numeric| <= 2e-3 * max(1, max|numeric|) + 1e-2 * |numeric|
 *   overall:     ||analytic - numeric||_2 <= 2e-3 * ||numeric||_2 + 1e-4 * sqrt(n)
 */
#include "check.h"
#include "layers.h"
#include "net.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x1234567ull;
static float frand(void) { /* uniform [-1, 1) */
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 40) * 0x1p-23 - 1.0);
}
static void fill(float *a, size_t n, float scale) { for (size_t i = 0; i < n; i++) a[i] = frand() * scale; }

typedef double (*loss_fn)(void *ctx);

/* numeric[i] for every element of p (n floats) */
static void numgrad(double *num, float *p, size_t n, float h, loss_fn f, void *ctx) {
    for (size_t i = 0; i < n; i++) {
        float orig = p[i];
        p[i] = orig + h;
        float pp = p[i];
        double lp = f(ctx);
        p[i] = orig - h;
        float pm = p[i];
        double lm = f(ctx);
        p[i] = orig;
        num[i] = (lp - lm) / ((double)pp - (double)pm);
    }
}

static void compare(const float *an, const double *num, size_t n, const char *what) {
    double mx = 0, e2 = 0, n2 = 0, worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(num[i]));
    double atol = 2e-3 * fmax(1.0, mx);
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)an[i] - num[i]);
        double r = d / (atol + 1e-2 * fabs(num[i]));
        if (!(r <= worst)) { worst = r; wi = i; }
        ok &= r <= 1.0;
        e2 += d * d;
        n2 += num[i] * num[i];
    }
    CHECK(ok, "%s: %zu values, worst at %zu: analytic %.7g numeric %.7g", what, n, wi, an[wi], num[wi]);
    CHECK(sqrt(e2) <= 2e-3 * sqrt(n2) + 1e-4 * sqrt((double)n), "%s: ||analytic - numeric|| = %.3g, ||numeric|| = %.3g", what,
          sqrt(e2), sqrt(n2));
}

static double dot(const float *a, const float *g, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * g[i];
    return s;
}

/* ------------------------------------------------------------- conv2d ---- */

typedef struct conv_ctx {
    int N, Ci, H, W, Co, Kh, Kw, s, p;
    float *x, *w, *b, *out, *g, *col;
    size_t nout;
} conv_ctx;

static double conv_loss(void *c_) {
    conv_ctx *c = c_;
    zs_conv2d_forward(c->out, c->x, c->w, c->b, c->N, c->Ci, c->H, c->W, c->Co, c->Kh, c->Kw, c->s, c->p, c->col);
    return dot(c->out, c->g, c->nout);
}

static void check_conv(int N, int Ci, int H, int W, int Co, int Kh, int Kw, int s, int p, int bias) {
    conv_ctx c = {N, Ci, H, W, Co, Kh, Kw, s, p, 0, 0, 0, 0, 0, 0, 0};
    int Ho = (H + 2 * p - Kh) / s + 1, Wo = (W + 2 * p - Kw) / s + 1;
    size_t nx = (size_t)N * Ci * H * W, nw = (size_t)Co * Ci * Kh * Kw;
    c.nout = (size_t)N * Co * Ho * Wo;
    c.x = malloc(4 * nx); c.w = malloc(4 * nw); c.b = bias ? malloc(4 * Co) : NULL;
    c.out = malloc(4 * c.nout); c.g = malloc(4 * c.nout);
    c.col = malloc(4 * zs_conv2d_col_size(Ci, H, W, Kh, Kw, s, p));
    fill(c.x, nx, 1); fill(c.w, nw, 0.5f); if (bias) fill(c.b, Co, 0.5f); fill(c.g, c.nout, 1);
    float *dx = calloc(nx, 4), *dw = calloc(nw, 4), *db = calloc(Co, 4);
    double *num = malloc(8 * (nx > nw ? nx : nw));
    conv_loss(&c);
    zs_conv2d_backward(dx, dw, bias ? db : NULL, c.g, c.x, c.w, N, Ci, H, W, Co, Kh, Kw, s, p, c.col);
    char what[128];
    numgrad(num, c.x, nx, 1e-2f, conv_loss, &c);
    snprintf(what, sizeof what, "conv2d %dx%d s%d p%d Ci%d Co%d: dx", Kh, Kw, s, p, Ci, Co);
    compare(dx, num, nx, what);
    numgrad(num, c.w, nw, 1e-2f, conv_loss, &c);
    snprintf(what, sizeof what, "conv2d %dx%d s%d p%d Ci%d Co%d: dw", Kh, Kw, s, p, Ci, Co);
    compare(dw, num, nw, what);
    if (bias) {
        numgrad(num, c.b, Co, 1e-2f, conv_loss, &c);
        snprintf(what, sizeof what, "conv2d %dx%d s%d p%d Ci%d Co%d: db", Kh, Kw, s, p, Ci, Co);
        compare(db, num, Co, what);
    }
    free(c.x); free(c.w); free(c.b); free(c.out); free(c.g); free(c.col); free(dx); free(dw); free(db); free(num);
}

/* ------------------------------------------------------------- linear ---- */

typedef struct lin_ctx { int N, I, O; float *x, *w, *b, *out, *g; } lin_ctx;

static double lin_loss(void *c_) {
    lin_ctx *c = c_;
    zs_linear_forward(c->out, c->x, c->w, c->b, c->N, c->I, c->O);
    return dot(c->out, c->g, (size_t)c->N * c->O);
}

static void check_linear(int N, int I, int O) {
    lin_ctx c = {N, I, O, malloc(4 * N * I), malloc(4 * O * I), malloc(4 * O), malloc(4 * N * O), malloc(4 * N * O)};
    fill(c.x, (size_t)N * I, 1); fill(c.w, (size_t)O * I, 0.5f); fill(c.b, O, 0.5f); fill(c.g, (size_t)N * O, 1);
    float *dx = calloc((size_t)N * I, 4), *dw = calloc((size_t)O * I, 4), *db = calloc(O, 4);
    double *num = malloc(8 * (size_t)O * I * N);
    zs_linear_backward(dx, dw, db, c.g, c.x, c.w, N, I, O);
    numgrad(num, c.x, (size_t)N * I, 1e-2f, lin_loss, &c);
    compare(dx, num, (size_t)N * I, "linear: dx");
    numgrad(num, c.w, (size_t)O * I, 1e-2f, lin_loss, &c);
    compare(dw, num, (size_t)O * I, "linear: dw");
    numgrad(num, c.b, O, 1e-2f, lin_loss, &c);
    compare(db, num, O, "linear: db");
    free(c.x); free(c.w); free(c.b); free(c.out); free(c.g); free(dx); free(dw); free(db); free(num);
}

/* ------------------------------------------------------ maxpool, relu ---- */

typedef struct mp_ctx { int N, C, H, W, k, s; float *x, *out, *g; int32_t *am; size_t nout; } mp_ctx;

static double mp_loss(void *c_) {
    mp_ctx *c = c_;
    zs_maxpool2d_forward(c->out, c->am, c->x, c->N, c->C, c->H, c->W, c->k, c->s);
    return dot(c->out, c->g, c->nout);
}

static void check_maxpool(int N, int C, int H, int W, int k, int s) {
    int Ho = (H - k) / s + 1, Wo = (W - k) / s + 1;
    size_t nx = (size_t)N * C * H * W;
    mp_ctx c = {N, C, H, W, k, s, malloc(4 * nx), 0, 0, 0, (size_t)N * C * Ho * Wo};
    c.out = malloc(4 * c.nout); c.g = malloc(4 * c.nout); c.am = malloc(4 * c.nout);
    /* distinct values 0.1 apart (a shuffled ramp): no perturbation of 1e-2 changes an argmax */
    for (size_t i = 0; i < nx; i++) c.x[i] = 0.1f * (float)i - 0.05f * (float)nx;
    for (size_t i = nx - 1; i > 0; i--) {
        size_t j = (size_t)((frand() + 1.0f) * 0.5f * (float)(i + 1)) % (i + 1);
        float t = c.x[i]; c.x[i] = c.x[j]; c.x[j] = t;
    }
    fill(c.g, c.nout, 1);
    mp_loss(&c);
    int32_t *am0 = malloc(4 * c.nout);
    memcpy(am0, c.am, 4 * c.nout);
    float *dx = calloc(nx, 4);
    double *num = malloc(8 * nx);
    zs_maxpool2d_backward(dx, c.g, c.am, N, C, H, W, Ho, Wo);
    numgrad(num, c.x, nx, 1e-2f, mp_loss, &c);
    char what[96];
    snprintf(what, sizeof what, "maxpool k%d s%d: dx", k, s);
    compare(dx, num, nx, what);
    free(c.x); free(c.out); free(c.g); free(c.am); free(am0); free(dx); free(num);
}

typedef struct relu_ctx { size_t n; float *x, *out, *g; } relu_ctx;
static double relu_loss(void *c_) {
    relu_ctx *c = c_;
    zs_relu_forward(c->out, c->x, c->n);
    return dot(c->out, c->g, c->n);
}
static void check_relu(void) {
    enum { n = 60 };
    relu_ctx c = {n, malloc(4 * n), malloc(4 * n), malloc(4 * n)};
    for (int i = 0; i < n; i++) { float v = frand(); c.x[i] = v + (v >= 0 ? 0.1f : -0.1f); }
    fill(c.g, n, 1);
    relu_loss(&c);
    float *dx = calloc(n, 4);
    double num[n];
    zs_relu_backward(dx, c.g, c.out, n);
    numgrad(num, c.x, n, 1e-2f, relu_loss, &c);
    compare(dx, num, n, "relu: dx");
    free(c.x); free(c.out); free(c.g); free(dx);
}

/* ----------------------------------------------------------- batchnorm --- */

typedef struct bn_ctx { int N, C, S; float *x, *gamma, *beta, *out, *g, *sm, *si; } bn_ctx;
static double bn_loss(void *c_) {
    bn_ctx *c = c_;
    zs_batchnorm_forward(c->out, c->sm, c->si, c->x, c->gamma, c->beta, NULL, NULL, c->N, c->C, c->S, 0.1f,
                         1e-5f, 1);
    return dot(c->out, c->g, (size_t)c->N * c->C * c->S);
}
static void check_bn(int N, int C, int S, int affine) {
    size_t n = (size_t)N * C * S;
    bn_ctx c = {N, C, S, malloc(4 * n), affine ? malloc(4 * C) : NULL, affine ? malloc(4 * C) : NULL,
                malloc(4 * n), malloc(4 * n), malloc(4 * C), malloc(4 * C)};
    for (size_t i = 0; i < n; i++) c.x[i] = frand() * (1.0f + (float)((i / S) % C)) + 0.5f * (float)((i / S) % C);
    if (affine) { for (int i = 0; i < C; i++) { c.gamma[i] = 1.0f + 0.5f * frand(); c.beta[i] = frand(); } }
    fill(c.g, n, 1);
    bn_loss(&c);
    float *dx = calloc(n, 4), *dg = calloc(C, 4), *db = calloc(C, 4);
    double *num = malloc(8 * n);
    zs_batchnorm_backward(dx, affine ? dg : NULL, affine ? db : NULL, c.g, c.x, c.sm, c.si, c.gamma, N, C, S);
    char what[96];
    numgrad(num, c.x, n, 2e-3f, bn_loss, &c);
    snprintf(what, sizeof what, "batchnorm %s S=%d %s: dx", S > 1 ? "2d" : "1d", S, affine ? "affine" : "plain");
    compare(dx, num, n, what);
    if (affine) {
        numgrad(num, c.gamma, C, 2e-3f, bn_loss, &c);
        snprintf(what, sizeof what, "batchnorm S=%d: dgamma", S);
        compare(dg, num, C, what);
        numgrad(num, c.beta, C, 2e-3f, bn_loss, &c);
        snprintf(what, sizeof what, "batchnorm S=%d: dbeta", S);
        compare(db, num, C, what);
    }
    free(c.x); free(c.gamma); free(c.beta); free(c.out); free(c.g); free(c.sm); free(c.si);
    free(dx); free(dg); free(db); free(num);
}

/* ------------------------------------------------------------- k-WTA ----- */

typedef struct kw_ctx {
    int N, C, H, W, k, local, is2d, kmax;
    float bs, *x, *duty, *out, *g, *val, *score;
    int32_t *cnt, *idx, *iw;
} kw_ctx;

static double kw_loss(void *c_) {
    kw_ctx *c = c_;
    if (c->is2d)
        zs_kwinners2d_forward(c->out, c->cnt, c->idx, c->val, c->x, c->duty, c->bs, c->N, c->C, c->H, c->W, c->k,
                              c->local, c->score, c->iw, 0);
    else
        zs_kwinners_forward(c->out, c->cnt, c->idx, c->val, c->x, c->duty, c->bs, c->N, c->C, c->k, c->score, c->iw, 0);
    return dot(c->out, c->g, (size_t)c->N * c->C * c->H * c->W);
}

static void check_kwta(int N, int C, int H, int W, int k, int local, int is2d, float bs) {
    int U = C * H * W;
    size_t n = (size_t)N * U;
    kw_ctx c = {N, C, H, W, k, local, is2d, local ? k * H * W : k, bs, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    c.x = malloc(4 * n); c.duty = malloc(4 * U); c.out = malloc(4 * n); c.g = malloc(4 * n);
    c.val = malloc(4 * n); c.score = malloc(4 * (2 * (size_t)U + 8)); c.cnt = malloc(4 * N);
    c.idx = malloc(4 * n); c.iw = malloc(4 * (2 * (size_t)U + 8));
    /* inputs whose boosted values are >= 0.05 apart (relative to 1), so a
     * perturbation of 1e-2 never changes the winners */
    for (size_t i = 0; i < n; i++) c.x[i] = 0.2f * (float)(i % U) - 0.1f * (float)U;
    for (int s = 0; s < N; s++)
        for (int i = U - 1; i > 0; i--) {
            int j = (int)((frand() + 1.0f) * 0.5f * (float)(i + 1)) % (i + 1);
            float t = c.x[(size_t)s * U + i]; c.x[(size_t)s * U + i] = c.x[(size_t)s * U + j]; c.x[(size_t)s * U + j] = t;
        }
    /* duty 0, 0.01, 0.02: boost factors within 3 % of each other, so the
     * boosted values stay >= 0.1 apart while the ranking still depends on them */
    for (int i = 0; i < U; i++) c.duty[i] = 0.01f * (float)(i % 3);
    fill(c.g, n, 1);
    kw_loss(&c);
    int32_t *idx0 = malloc(4 * n);
    memcpy(idx0, c.idx, 4 * (size_t)N * c.kmax);
    float *dx = calloc(n, 4);
    double *num = malloc(8 * n);
    zs_kwinners_backward(dx, c.g, c.cnt, c.idx, N, U, c.kmax);
    numgrad(num, c.x, n, 1e-2f, kw_loss, &c);
    kw_loss(&c);
    CHECK(memcmp(idx0, c.idx, 4 * (size_t)N * c.kmax) == 0, "k-WTA winners unchanged by the perturbations");
    char what[96];
    snprintf(what, sizeof what, "kwinners %s k=%d boost %.1f: dx", is2d ? (local ? "2d local" : "2d global") : "1d", k, bs);
    compare(dx, num, n, what);
    free(c.x); free(c.duty); free(c.out); free(c.g); free(c.val); free(c.score); free(c.cnt); free(c.idx); free(c.iw);
    free(idx0); free(dx); free(num);
}

/* --------------------------------------------------- log-softmax, NLL ---- */

typedef struct ls_ctx { int N, K, nll; float *x, *out, *g; int32_t *y; } ls_ctx;
static double ls_loss(void *c_) {
    ls_ctx *c = c_;
    zs_logsoftmax_forward(c->out, c->x, c->N, c->K);
    if (c->nll) return zs_nll_loss(NULL, c->out, c->y, c->N, c->K);
    return dot(c->out, c->g, (size_t)c->N * c->K);
}
static void check_logsoftmax(int nll) {
    enum { N = 4, K = 7 };
    int32_t y[N] = {0, 3, 6, 2};
    ls_ctx c = {N, K, nll, malloc(4 * N * K), malloc(4 * N * K), malloc(4 * N * K), y};
    fill(c.x, N * K, 3); fill(c.g, N * K, 1);
    ls_loss(&c);
    float dl[N * K], dx[N * K] = {0};
    double num[N * K];
    if (nll) {
        zs_nll_loss(dl, c.out, y, N, K);
        zs_logsoftmax_backward(dx, dl, c.out, N, K);
    } else {
        zs_logsoftmax_backward(dx, c.g, c.out, N, K);
    }
    numgrad(num, c.x, N * K, 2e-3f, ls_loss, &c);
    compare(dx, num, N * K, nll ? "log-softmax + NLL: dx" : "log-softmax: dx");
    free(c.x); free(c.out); free(c.g);
}

/* ------------------------------------------------------------ dropout ---- */

typedef struct do_ctx { size_t n; float p, *x, *out, *g; uint8_t *m; } do_ctx;
static double do_loss(void *c_) {
    do_ctx *c = c_;
    uint64_t r = 99;  /* the same mask every time */
    zs_dropout_forward(c->out, c->m, c->x, c->n, c->p, &r, 1);
    return dot(c->out, c->g, c->n);
}
static void check_dropout(void) {
    enum { n = 64 };
    do_ctx c = {n, 0.4f, malloc(4 * n), malloc(4 * n), malloc(4 * n), malloc(n)};
    fill(c.x, n, 1); fill(c.g, n, 1);
    do_loss(&c);
    float dx[n] = {0};
    double num[n];
    zs_dropout_backward(dx, c.g, c.m, n, c.p);
    numgrad(num, c.x, n, 1e-2f, do_loss, &c);
    compare(dx, num, n, "dropout p=0.4: dx");
    free(c.x); free(c.out); free(c.g); free(c.m);
}

/* ------------------------------------------------ whole network ----------- */
/* conv (sparse) -> BN affine -> kWTA2d -> maxpool -> conv -> relu -> flatten
 * -> linear (sparse) -> BN1d plain -> kWTA (k_inference > k) -> linear ->
 * logsoftmax; mean NLL; gradients of every unmasked parameter through
 * zs_net_forward_ref / zs_net_backward_ref in training mode. Boosting is
 * off (training forwards update duty cycles, which would move winners). */

static const char *NET_JSON =
    "{\"name\":\"gradcheck\",\"input\":[2,8,8],\"layers\":["
    "{\"type\":\"conv2d\",\"name\":\"c1\",\"out_channels\":4,\"kernel\":[3,3],\"padding\":1,\"weight_sparsity\":0.5},"
    "{\"type\":\"batchnorm\",\"name\":\"bn1\",\"affine\":true},"
    "{\"type\":\"kwinners2d\",\"name\":\"kw1\",\"percent_on\":0.25,\"boost_strength\":0,\"k_inference_factor\":1.5},"
    "{\"type\":\"maxpool2d\",\"name\":\"mp1\",\"kernel\":2,\"stride\":2},"
    "{\"type\":\"conv2d\",\"name\":\"c2\",\"out_channels\":3,\"kernel\":[3,2],\"stride\":1},"
    "{\"type\":\"relu\",\"name\":\"r2\"},"
    "{\"type\":\"flatten\",\"name\":\"fl\"},"
    "{\"type\":\"linear\",\"name\":\"l1\",\"out_features\":10,\"weight_sparsity\":0.5},"
    "{\"type\":\"batchnorm\",\"name\":\"bn2\",\"affine\":false},"
    "{\"type\":\"kwinners\",\"name\":\"kw2\",\"percent_on\":0.3,\"boost_strength\":0,\"k_inference_factor\":1.5},"
    "{\"type\":\"linear\",\"name\":\"out\",\"out_features\":3},"
    "{\"type\":\"logsoftmax\",\"name\":\"sm\"}]}";

#define NET_H 5e-4f  /* small: fewer perturbations cross a k-WTA/argmax/relu kink */

typedef struct net_ctx { zs_net *net; const float *x; const int32_t *y; int N; } net_ctx;

static double net_loss(void *c_) {
    net_ctx *c = c_;
    c->net->training = 1;
    const float *lp = zs_net_forward_ref(c->net, c->x, c->N);
    return zs_nll_loss(NULL, lp, c->y, c->N, zs_net_num_classes(c->net));
}

/* FNV-1a over every discrete choice of the forward (argmax, winners, relu
 * signs): a perturbation that changes one is at a kink; skip it. */
static uint64_t net_signature(zs_net *net, int N) {
    uint64_t h = 1469598103934665603ull;
#define MIX(v) do { h ^= (uint64_t)(v); h *= 1099511628211ull; } while (0)
    for (int i = 0; i < net->n_layers; i++) {
        zs_layer *L = &net->layers[i];
        if (L->type == ZS_MAXPOOL2D) for (size_t j = 0; j < (size_t)N * L->out_size; j++) MIX(L->argmax[j]);
        if (L->type == ZS_KWINNERS || L->type == ZS_KWINNERS2D)
            for (int s = 0; s < N; s++)
                for (int j = 0; j < L->win.count[s]; j++) MIX(L->win.idx[(size_t)s * L->win.kmax + j]);
        if (L->type == ZS_RELU) for (size_t j = 0; j < (size_t)N * L->out_size; j++) MIX(L->out[j] > 0);
    }
#undef MIX
    return h;
}

static void check_net(void) {
    zs_net *net = NULL;
    zs_status st = zs_net_create_json(&net, NET_JSON, 7);
    CHECK(st == ZS_OK, "gradcheck network: %s", zs_last_error());
    if (st) return;
    enum { N = 4 };
    int c, h, w;
    zs_net_input_shape(net, &c, &h, &w);
    size_t insz = (size_t)c * h * w;
    float *x = malloc(4 * N * insz);
    fill(x, N * insz, 1);
    int32_t y[N] = {0, 1, 2, 1};
    CHECK(zs_net_train_alloc(net) == ZS_OK && zs_net_reserve(net, N) == ZS_OK, "gradients and activations");
    net_ctx ctx = {net, x, y, N};
    /* base forward + analytic gradients */
    net->training = 1;
    const float *lp = zs_net_forward_ref(net, x, N);
    int K = zs_net_num_classes(net);
    float dl[N * 3];
    zs_nll_loss(dl, lp, y, N, K);
    zs_net_backward_ref(net, x, N, dl);
    uint64_t sig0 = net_signature(net, N);
    float *grad = malloc(4 * net->n_params);
    memcpy(grad, net->grads, 4 * net->n_params);
    /* numeric gradient of every parameter not masked out */
    int checked = 0, skipped = 0;
    for (int li = 0; li < net->n_layers; li++) {
        zs_layer *L = &net->layers[li];
        struct { float *p; size_t n; const uint8_t *mask; const char *what; } ps[4] = {
            {L->w, L->w ? L->n_weights : 0, L->mask, "weight"},
            {L->b, L->b ? (size_t)L->out_c : 0, NULL, "bias"},
            {L->gamma, L->gamma ? (size_t)L->in_c : 0, NULL, "gamma"},
            {L->beta, L->beta ? (size_t)L->in_c : 0, NULL, "beta"}};
        for (int q = 0; q < 4; q++) {
            if (!ps[q].p || !ps[q].n) continue;
            size_t n = ps[q].n;
            float *an = malloc(4 * n);
            double *num = malloc(8 * n);
            size_t m = 0;
            for (size_t i = 0; i < n; i++) {
                if (ps[q].mask && !ps[q].mask[i]) continue;
                float *p = &ps[q].p[i], orig = *p;
                *p = orig + NET_H; float pp = *p;
                double lpv = net_loss(&ctx);
                uint64_t s1 = net_signature(net, N);
                *p = orig - NET_H; float pm = *p;
                double lmv = net_loss(&ctx);
                uint64_t s2 = net_signature(net, N);
                *p = orig;
                if (s1 != sig0 || s2 != sig0) { skipped++; continue; }
                num[m] = (lpv - lmv) / ((double)pp - (double)pm);
                an[m] = grad[(size_t)(ps[q].p - net->params) + i];
                m++;
            }
            char what[96];
            snprintf(what, sizeof what, "network %s.%s (%zu unmasked)", L->name, ps[q].what, m);
            if (m) compare(an, num, m, what);
            checked += (int)m;
            free(an); free(num);
        }
    }
    /* masked weights get no gradient */
    int masked_zero = 1;
    for (int li = 0; li < net->n_layers; li++) {
        zs_layer *L = &net->layers[li];
        if (!L->mask) continue;
        for (size_t i = 0; i < L->n_weights; i++)
            if (!L->mask[i]) masked_zero &= grad[(size_t)(L->dw - net->grads) + i] == 0.0f;
    }
    CHECK(masked_zero, "network: masked weights have zero gradient");
    printf("network: %d parameters checked, %d skipped at kinks\n", checked, skipped);
    CHECK(checked > 200 && skipped * 20 < checked, "network: %d parameters checked, %d skipped at kinks", checked,
          skipped);
    free(grad); free(x);
    zs_net_free(net);
}

int main(void) {
    check_conv(2, 2, 6, 5, 3, 3, 3, 1, 0, 1);
    check_conv(2, 3, 7, 6, 2, 3, 5, 2, 1, 1);
    check_conv(1, 2, 5, 5, 2, 5, 5, 1, 2, 0);
    check_conv(2, 1, 8, 7, 2, 2, 3, 3, 1, 1);
    check_linear(3, 6, 4);
    check_maxpool(2, 2, 6, 6, 2, 2);
    check_maxpool(2, 2, 7, 7, 3, 2);
    check_relu();
    check_bn(4, 3, 1, 1);
    check_bn(5, 3, 1, 0);
    check_bn(2, 3, 6, 1);
    check_bn(3, 2, 4, 0);
    check_kwta(3, 12, 1, 1, 4, 0, 0, 1.5f);
    check_kwta(2, 3, 3, 3, 5, 0, 1, 1.5f);
    check_kwta(2, 5, 2, 3, 2, 1, 1, 1.0f);
    check_logsoftmax(0);
    check_logsoftmax(1);
    check_dropout();
    check_net();
    return check_finish("gradcheck");
}
