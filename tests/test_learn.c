/* test_learn.c — zs_net_learn (gradient against finite differences, sparse
 * updates: only winner rows x non-zero inputs x kept weights move, a class
 * is learned), zs_net_add_class (old logits unchanged, imprinting, errors),
 * zs_net_clone (same answers, independent copy), zs_net_fit_class (only the
 * row fitted moves, the cap on calibration examples holds, errors). */
#include "check.h"
#include "layers.h"
#include "net.h"
#include "zeroskip.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MLP_IN (28 * 28)

static void fill_random(float *x, size_t n, unsigned seed) {
    zs_rng r;
    zs_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = zs_rng_uniform(&r);
}

/* A trained-looking network: a few epochs of zs_net_train_step on random
 * data give BatchNorm statistics and duty cycles that are not the defaults. */
static zs_net *mlp(const char *preset, unsigned seed) {
    zs_net *net = NULL;
    if (zs_net_create_preset(&net, preset, seed) != ZS_OK) return NULL;
    float x[16 * MLP_IN];
    int32_t y[16];
    zs_sgd sgd = {0.01f, 0.0f, 0.0f};
    for (int s = 0; s < 5; s++) {
        fill_random(x, 16 * MLP_IN, seed * 100 + s);
        for (int i = 0; i < 16; i++) y[i] = (i + s) % 10;
        zs_net_train_step(net, x, y, 16, &sgd, NULL, NULL);
    }
    return net;
}

static double nll(zs_net *net, const float *x, const int32_t *y, int n) {
    int K = zs_net_num_classes(net);
    float *lp = malloc(sizeof(float) * (size_t)n * K);
    double l = 0;
    zs_net_set_dense(net, 1); /* the reference path: exact float semantics */
    zs_net_infer(net, x, n, lp);
    for (int s = 0; s < n; s++) l -= lp[(size_t)s * K + y[s]];
    free(lp);
    return l / n;
}

static const zs_layer *find(const zs_net *net, const char *name) {
    for (int i = 0; i < net->n_layers; i++)
        if (!strcmp(net->layers[i].name, name)) return &net->layers[i];
    return NULL;
}

/* The SGD step equals -lr * (finite-difference gradient) at weights that
 * learned, and nothing else moved: rows of k-WTA losers, masked weights,
 * weights from zero inputs, the frozen layers, BatchNorm statistics. */
static void test_gradient_and_sparsity(void) {
    zs_net *net = mlp("mnist-sparse-mlp", 3);
    CHECK(net != NULL, "mlp");
    if (!net) return;
    float x[2 * MLP_IN];
    fill_random(x, 2 * MLP_IN, 77);
    for (int i = 0; i < 2 * MLP_IN; i += 3) x[i] = 0.0f; /* zero inputs get no update */
    int32_t y[2] = {3, 7};
    zs_net *before = NULL;
    CHECK(zs_net_clone(net, &before) == ZS_OK, "clone: %s", zs_last_error());
    zs_learn_opts o = zs_learn_defaults();
    o.lr = 1e-3f;
    o.update_duty = 0;
    float loss = -1;
    CHECK(zs_net_learn(net, x, y, 2, &o, &loss) == ZS_OK, "learn: %s", zs_last_error());
    CHECK(fabs(loss - nll(before, x, y, 2)) < 1e-4, "loss %g is the NLL before the step %g", loss, nll(before, x, y, 2));
    const zs_layer *F0 = find(before, "fc1"), *F1 = find(net, "fc1");
    const zs_layer *O0 = find(before, "output"), *O1 = find(net, "output");
    const zs_layer *K0 = find(before, "fc1_kwinner");
    /* winners of the two samples (eval forward of `before`) */
    float lp[20];
    zs_net_set_dense(before, 1);
    zs_net_infer(before, x, 2, lp);
    uint8_t win[1000] = {0};
    for (int s = 0; s < 2; s++)
        for (int j = 0; j < K0->win.count[s]; j++) win[K0->win.idx[(size_t)s * K0->win.kmax + j]] = 1;
    long moved_bad = 0, moved = 0, masked_nz = 0;
    for (int o2 = 0; o2 < 1000; o2++)
        for (int i = 0; i < MLP_IN; i++) {
            size_t k = (size_t)o2 * MLP_IN + i;
            int d = F1->w[k] != F0->w[k];
            moved += d;
            if (d && (!win[o2] || !F1->mask[k] || (x[i] == 0.0f && x[MLP_IN + i] == 0.0f))) moved_bad++;
            if (!F1->mask[k] && F1->w[k] != 0.0f) masked_nz++;
        }
    CHECK(moved > 0 && moved_bad == 0, "fc1: %ld weights moved, %ld outside winners x non-zero inputs x kept", moved,
          moved_bad);
    CHECK(masked_nz == 0, "masked weights stay 0 (%ld not)", masked_nz);
    const zs_layer *B0 = find(before, "fc1_bn"), *B1 = find(net, "fc1_bn");
    CHECK(!memcmp(B0->running_mean, B1->running_mean, sizeof(float) * 1000) &&
              !memcmp(B0->running_var, B1->running_var, sizeof(float) * 1000),
          "BatchNorm statistics frozen");
    /* finite differences at a few weights that moved (output and fc1) */
    int checked = 0, bad = 0;
    double eps = 1e-2;
    for (int pass = 0; pass < 2; pass++) {
        const zs_layer *A = pass ? F0 : O0, *Bl = pass ? F1 : O1;
        size_t nw = A->n_weights;
        for (size_t k = 0, got = 0; k < nw && got < 6; k += 97) {
            if (A->w[k] == Bl->w[k]) continue;
            got++;
            double step = (A->w[k] - Bl->w[k]) / o.lr; /* = dL/dw */
            zs_net *p = NULL;
            zs_net_clone(before, &p);
            zs_layer *P = (zs_layer *)find(p, A->name);
            P->w[k] = A->w[k] + (float)eps;
            double lp1 = nll(p, x, y, 2);
            P->w[k] = A->w[k] - (float)eps;
            double lm1 = nll(p, x, y, 2);
            zs_net_free(p);
            double fd = (lp1 - lm1) / (2 * eps);
            checked++;
            if (fabs(fd - step) > 2e-3 + 0.05 * fabs(fd)) {
                bad++;
                fprintf(stderr, "  %s w[%zu]: step %g, finite difference %g\n", A->name, k, step, fd);
            }
        }
    }
    CHECK(checked >= 8 && bad == 0, "SGD step = -lr * finite-difference gradient at %d weights (%d off)", checked, bad);
    zs_net_free(before);
    zs_net_free(net);
}

/* clone: same answers; learning on the clone leaves the original alone */
static void test_clone(void) {
    zs_net *a = mlp("mnist-sparse-mlp", 5), *b = NULL;
    CHECK(a && zs_net_clone(a, &b) == ZS_OK, "clone: %s", zs_last_error());
    if (!a || !b) { zs_net_free(a); return; }
    float x[4 * MLP_IN], la[40], lb[40], la2[40];
    fill_random(x, 4 * MLP_IN, 9);
    zs_net_infer(a, x, 4, la);
    zs_net_infer(b, x, 4, lb);
    CHECK(!memcmp(la, lb, sizeof la), "clone answers bit-identically");
    CHECK(zs_net_num_classes(b) == 10 && !strcmp(zs_net_arch_name(b), "mnist-sparse-mlp"), "clone keeps the name");
    int32_t y[4] = {1, 2, 3, 4};
    zs_learn_opts o = zs_learn_defaults();
    for (int i = 0; i < 5; i++) CHECK(zs_net_learn(b, x, y, 4, &o, NULL) == ZS_OK, "learn on clone");
    zs_net_infer(a, x, 4, la2);
    zs_net_infer(b, x, 4, lb);
    CHECK(!memcmp(la, la2, sizeof la) && memcmp(la, lb, sizeof la), "original unchanged, clone changed");
    zs_net_free(a);
    zs_net_free(b);
}

static char *describe_plan(zs_net *net) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    zs_net_plan_describe(net, f);
    fclose(f);
    return buf;
}

/* clone of a model (packed, as loaded): its packed arrays copied as they
 * are, and its plan built at once with the source's kernel choices (a
 * served snapshot answers without measuring again): the same description,
 * the same bits; independent of the source; a source whose plan is not
 * calibrated yet gives a copy that measures its own */
static void test_clone_model(const char *preset) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/zs_test_clone_%d.safetensors", (int)getpid());
    zs_net *t = NULL, *m = NULL, *c = NULL, *u = NULL, *cu = NULL;
    CHECK(zs_net_create_preset(&t, preset, 3) == ZS_OK && zs_net_save(t, path) == ZS_OK && zs_net_load(&m, path) == ZS_OK &&
              zs_net_load(&u, path) == ZS_OK,
          "%s: saved and loaded: %s", preset, zs_last_error());
    remove(path);
    zs_net_free(t);
    if (!m || !u) { zs_net_free(m); zs_net_free(u); return; }
    enum { N = 6 };
    const int in = 32 * 32, K = zs_net_num_classes(m);
    float *x = malloc(sizeof(float) * in * N), *la = malloc(sizeof(float) * K * N), *lb = malloc(sizeof(float) * K * N);
    fill_random(x, (size_t)in * N, 77);
    for (int i = 0; i < in * N; i += 3) x[i] = 0.0f;
    CHECK(zs_net_prepare(m, NULL, x) == ZS_OK, "%s: prepare", preset);
    CHECK(zs_net_clone(m, &c) == ZS_OK, "%s: clone: %s", preset, zs_last_error());
    if (!c) goto out;
    CHECK(c->compact && c->kernels != NULL, "%s: the copy is packed and holds its plan already", preset);
    char *dm = describe_plan(m), *dc = describe_plan(c);
    CHECK(dm && dc && !strcmp(dm, dc) && strstr(dc, "measured on the first samples, a whole sample"),
          "%s: the copy's plan runs the source's measured kernel choices:\n%s---\n%s", preset, dm ? dm : "", dc ? dc : "");
    free(dm); free(dc);
    int same = 1;
    for (int i = 0; i < m->n_layers; i++) {
        const zs_layer *A = &m->layers[i], *B = &c->layers[i];
        if (!A->prow) continue;
        size_t nnz = zs_packed_nnz(A);
        same &= B->prow && B->prow != A->prow && B->pval != A->pval && zs_packed_nnz(B) == nnz &&
                !memcmp(A->prow, B->prow, sizeof(int32_t) * ((size_t)zs_packed_lines(A) + 1)) &&
                !memcmp(A->pval, B->pval, sizeof(float) * nnz) &&
                (A->pidx16 ? B->pidx16 && !memcmp(A->pidx16, B->pidx16, 2 * nnz) : B->pidx32 && !memcmp(A->pidx32, B->pidx32, 4 * nnz));
    }
    CHECK(same, "%s: the copy's packed arrays equal the source's, in memory of its own", preset);
    CHECK(zs_net_infer(m, x, N, la) == ZS_OK && zs_net_infer(c, x, N, lb) == ZS_OK && !memcmp(la, lb, sizeof(float) * K * N),
          "%s: the copy answers bit for bit as the source", preset);
    int32_t y = 1;
    zs_learn_opts o = zs_learn_defaults();
    o.lr = 0.05f;
    CHECK(zs_net_learn(c, x, &y, 1, &o, NULL) == ZS_OK, "%s: the copy learns", preset);
    CHECK(zs_net_infer(m, x, N, lb) == ZS_OK && !memcmp(la, lb, sizeof(float) * K * N), "%s: the source is unchanged", preset);
    /* a source not yet measured: the copy measures its own choices */
    CHECK(zs_net_infer(u, x, 1, lb) == ZS_OK && zs_net_clone(u, &cu) == ZS_OK, "%s: clone of a fresh model", preset);
    if (cu) {
        char *du = describe_plan(cu);
        CHECK(du && strstr(du, "being measured"), "%s: its copy measures its own kernels", preset);
        free(du);
        CHECK(zs_net_infer(cu, x, N, lb) == ZS_OK && !memcmp(la, lb, sizeof(float) * K * N),
              "%s: and answers bit for bit as the measured source", preset);
    }
out:
    free(x); free(la); free(lb);
    zs_net_free(m); zs_net_free(c); zs_net_free(u); zs_net_free(cu);
}

/* the same for a packed model with affine BatchNorm layers (gamma/beta in
 * the compact parameter block, copied from the source) and a dense output */
static void test_clone_affine(void) {
    static const char *J =
        "{\"input\":[1,8,8],\"layers\":["
        "{\"type\":\"conv2d\",\"name\":\"c\",\"out_channels\":8,\"kernel\":3,\"padding\":1,\"sparsity\":0.5},"
        "{\"type\":\"batchnorm\",\"name\":\"b1\",\"affine\":true},"
        "{\"type\":\"kwinners2d\",\"name\":\"kw\",\"percent_on\":0.2,\"boost_strength\":1.5},"
        "{\"type\":\"maxpool2d\",\"name\":\"p\",\"kernel\":2},"
        "{\"type\":\"flatten\",\"name\":\"f\"},"
        "{\"type\":\"linear\",\"name\":\"l\",\"out_features\":40,\"sparsity\":0.7},"
        "{\"type\":\"batchnorm\",\"name\":\"b2\",\"affine\":true},"
        "{\"type\":\"kwinners\",\"name\":\"kv\",\"percent_on\":0.25},"
        "{\"type\":\"linear\",\"name\":\"o\",\"out_features\":5},"
        "{\"type\":\"logsoftmax\",\"name\":\"s\"}]}";
    char path[64];
    snprintf(path, sizeof path, "/tmp/zs_test_clone_bn_%d.safetensors", (int)getpid());
    zs_net *t = NULL, *m = NULL, *c = NULL;
    CHECK(zs_net_create_json(&t, J, 4) == ZS_OK, "affine net: %s", zs_last_error());
    if (!t) return;
    for (int i = 0; i < t->n_layers; i++) /* gamma and beta that matter */
        if (t->layers[i].type == ZS_BATCHNORM)
            for (int ch = 0; ch < t->layers[i].in_c; ch++) {
                t->layers[i].gamma[ch] = 0.5f + 0.1f * (float)(ch % 7);
                t->layers[i].beta[ch] = 0.05f * (float)(ch % 5) - 0.1f;
            }
    CHECK(zs_net_save(t, path) == ZS_OK && zs_net_load(&m, path) == ZS_OK, "affine net saved and loaded: %s", zs_last_error());
    remove(path);
    enum { N = 5 };
    float x[N * 64], la[N * 5], lb[N * 5], lt[N * 5];
    fill_random(x, N * 64, 31);
    if (m && m->compact && zs_net_clone(m, &c) == ZS_OK) {
        int same = 1;
        for (int i = 0; i < m->n_layers; i++)
            if (m->layers[i].type == ZS_BATCHNORM)
                same &= c->layers[i].gamma != m->layers[i].gamma &&
                        !memcmp(c->layers[i].gamma, m->layers[i].gamma, sizeof(float) * (size_t)m->layers[i].in_c) &&
                        !memcmp(c->layers[i].beta, m->layers[i].beta, sizeof(float) * (size_t)m->layers[i].in_c);
        CHECK(same, "affine net: the copy's gamma and beta are the source's, in its own block");
        CHECK(zs_net_infer(t, x, N, lt) == ZS_OK && zs_net_infer(m, x, N, la) == ZS_OK && zs_net_infer(c, x, N, lb) == ZS_OK &&
                  !memcmp(la, lb, sizeof la),
              "affine net: the copy answers bit for bit as the packed source");
        double worst = 0;
        for (int i = 0; i < N * 5; i++) worst = fmax(worst, fabs((double)la[i] - lt[i]));
        CHECK(worst < 1e-4, "affine net: and as the network it was saved from (max diff %g)", worst);
    } else {
        CHECK(0, "affine net: loaded packed and cloned: %s", zs_last_error());
    }
    zs_net_free(t); zs_net_free(m); zs_net_free(c);
}

/* add a class: old logits keep their differences exactly; the imprinted
 * class wins on its examples; learning makes it reliable; errors */
static void test_add_class(void) {
    zs_net *net = mlp("mnist-sparse-mlp", 11);
    CHECK(net != NULL, "mlp");
    if (!net) return;
    enum { NX = 8 };
    float xo[NX * MLP_IN], xn[NX * MLP_IN], l0[NX * 10], l1[NX * 11];
    fill_random(xo, NX * MLP_IN, 21);
    /* the new class: inputs with a bright band */
    fill_random(xn, NX * MLP_IN, 22);
    for (int s = 0; s < NX; s++)
        for (int i = 300; i < 420; i++) xn[(size_t)s * MLP_IN + i] = 3.0f;
    zs_net_infer(net, xo, NX, l0);
    CHECK(zs_net_add_class(net, "band", xn, 4) == ZS_OK, "add_class: %s", zs_last_error());
    CHECK(zs_net_num_classes(net) == 11 && !strcmp(zs_net_class_name(net, 10), "band") &&
              !strcmp(zs_net_class_name(net, 3), "3"),
          "11 classes, names kept");
    zs_net_infer(net, xo, NX, l1);
    double worst = 0;
    for (int s = 0; s < NX; s++)
        for (int k = 1; k < 10; k++) {
            double d0 = l0[s * 10 + k] - l0[s * 10], d1 = l1[s * 11 + k] - l1[s * 11];
            if (fabs(d0 - d1) > worst) worst = fabs(d0 - d1);
        }
    CHECK(worst < 1e-4, "old classes' logit differences unchanged (max %g)", worst);
    zs_learn_opts o = zs_learn_defaults();
    int32_t y[NX];
    for (int s = 0; s < NX; s++) y[s] = 10;
    for (int e = 0; e < 10; e++) CHECK(zs_net_learn(net, xn, y, 4, &o, NULL) == ZS_OK, "learn new class");
    zs_net_infer(net, xn, NX, l1);
    int hits = 0;
    for (int s = 0; s < NX; s++) {
        int best = 0;
        for (int k = 1; k < 11; k++) if (l1[s * 11 + k] > l1[s * 11 + best]) best = k;
        hits += best == 10;
    }
    CHECK(hits == NX, "new class recognised on %d of %d examples (4 learned, 4 held out)", hits, NX);
    /* only_class: the old classes' logits stay exactly as they were */
    {
        float a[NX * 11], b2[NX * 11];
        int32_t mix[NX];
        for (int s = 0; s < NX; s++) mix[s] = s % 2 ? 10 : 0;
        zs_learn_opts oc = zs_learn_defaults();
        oc.layers = 1;
        oc.only_class = 10;
        zs_net_set_dense(net, 1);
        zs_net_infer(net, xo, NX, a);
        CHECK(zs_net_learn(net, xo, mix, NX, &oc, NULL) == ZS_OK, "learn only class 10: %s", zs_last_error());
        zs_net_infer(net, xo, NX, b2);
        double w2 = 0, moved = 0;
        for (int s = 0; s < NX; s++) {
            for (int k = 1; k < 10; k++) {
                double d0 = a[s * 11 + k] - a[s * 11], d1 = b2[s * 11 + k] - b2[s * 11];
                if (fabs(d0 - d1) > w2) w2 = fabs(d0 - d1);
            }
            moved += fabs((b2[s * 11 + 10] - b2[s * 11]) - (a[s * 11 + 10] - a[s * 11]));
        }
        CHECK(w2 < 1e-5 && moved > 0, "only_class: old logit differences unchanged (%g), the new one moved (%g)", w2, moved);
        zs_net_set_dense(net, 0);
        oc.layers = 2;
        CHECK(zs_net_learn(net, xo, mix, NX, &oc, NULL) == ZS_EINVAL, "only_class with layers 2 refused");
    }
    zs_net_infer(net, xn, NX, l1);
    /* save/load round trip keeps the grown model */
    const char *path = "build/test_learn_grown.safetensors";
    zs_net *back = NULL;
    float l2[NX * 11];
    CHECK(zs_net_save(net, path) == ZS_OK && zs_net_load(&back, path) == ZS_OK, "save/load grown: %s", zs_last_error());
    if (back) {
        zs_net_infer(back, xn, NX, l2);
        CHECK(!memcmp(l1, l2, sizeof l2) && zs_net_num_classes(back) == 11, "grown model reloads identically");
        zs_net_free(back);
    }
    remove(path);
    CHECK(zs_net_add_class(net, "band", NULL, 0) == ZS_EINVAL, "duplicate name refused");
    CHECK(zs_net_add_class(net, "", NULL, 0) == ZS_EINVAL, "empty name refused");
    CHECK(zs_net_add_class(net, "x", NULL, 1) == ZS_EINVAL, "n > 0 without x refused");
    CHECK(zs_net_num_classes(net) == 11, "failed calls change nothing");
    CHECK(zs_net_add_class(net, "fresh", NULL, 0) == ZS_OK && zs_net_num_classes(net) == 12, "add without examples");
    zs_net_free(net);
}

static int argmax(const float *v, int n) {
    int b = 0;
    for (int k = 1; k < n; k++) if (v[k] > v[b]) b = k;
    return b;
}

/* zs_net_fit_class: every other row and bias bit for bit as it was; of the
 * calibration examples the network classified right, at most
 * floor(max_old x n_cal) are called the class afterwards (none with
 * max_old = 0) and every other one keeps its answer; the report matches
 * what inference says; bad arguments refused with the network unchanged. */
static void test_fit_class(void) {
    zs_net *base = mlp("mnist-sparse-mlp", 13);
    CHECK(base != NULL, "mlp");
    if (!base) return;
    enum { NP = 12, NN = 8, NO = 16, NC = 80, N = NP + NN + NO };
    static float x[N * MLP_IN], xc[NC * MLP_IN];
    int32_t y[N], grp[N], yc[NC], before[NC];
    float lp[NC * 11];
    fill_random(x, (size_t)N * MLP_IN, 31);
    fill_random(xc, (size_t)NC * MLP_IN, 32);
    for (int s = 0; s < N; s++) {
        y[s] = s < NP ? 10 : s < NP + NN ? -1 : 0;
        grp[s] = s < NP ? s / 2 : -1;
        int lo = s < NP ? 300 : s < NP + NN ? 500 : 0; /* positives: a band; negatives: another one */
        if (lo) for (int i = lo; i < lo + 120; i++) x[(size_t)s * MLP_IN + i] = 3.0f;
    }
    for (int s = 0; s < NC / 2; s++) /* half the calibration set looks a bit like the new class */
        for (int i = 300; i < 420; i++) xc[(size_t)s * MLP_IN + i] = 2.0f + 0.05f * (float)(s % 20);
    zs_net_infer(base, x + (size_t)(NP + NN) * MLP_IN, NO, lp);
    for (int s = 0; s < NO; s++) y[NP + NN + s] = argmax(lp + s * 10, 10);
    zs_net_infer(base, xc, NC, lp);
    int nright = 0;
    for (int s = 0; s < NC; s++) {
        before[s] = argmax(lp + s * 10, 10);
        yc[s] = s % 8 == 7 ? (before[s] + 1) % 10 : before[s]; /* every 8th labelled wrong */
        nright += yc[s] == before[s];
    }
    CHECK(zs_net_add_class(base, "band", x, NP) == ZS_OK, "add_class: %s", zs_last_error());
    const float caps[3] = {0.02f, 0.0f, -1.0f};
    for (int c = 0; c < 3; c++) {
        zs_net *net = NULL;
        CHECK(zs_net_clone(base, &net) == ZS_OK, "clone");
        if (!net) break;
        zs_net_unpack(net);
        const zs_layer *O = &net->layers[net->n_layers - 2];
        int I = (int)O->fan_in;
        float *w0 = malloc(sizeof(float) * 11 * (size_t)I), b0[11];
        memcpy(w0, O->w, sizeof(float) * 11 * (size_t)I);
        memcpy(b0, O->b, sizeof b0);
        zs_fit_class_opts o = zs_fit_class_defaults();
        o.max_old = caps[c];
        o.folds = 3;
        zs_fit_class_report r;
        CHECK(zs_net_fit_class(net, 10, x, y, grp, N, xc, yc, NC, &o, &r) == ZS_OK, "fit_class: %s", zs_last_error());
        O = &net->layers[net->n_layers - 2];
        CHECK(!memcmp(w0, O->w, sizeof(float) * 10 * (size_t)I) && !memcmp(b0, O->b, sizeof(float) * 10),
              "fit_class: the other rows and biases are bit for bit as they were");
        CHECK(memcmp(w0 + (size_t)10 * I, O->w + (size_t)10 * I, sizeof(float) * (size_t)I) != 0, "the row moved");
        CHECK(r.n_cal == nright, "n_cal %d = the calibration examples classified right (%d)", r.n_cal, nright);
        for (int dense = 0; dense < 2; dense++) {
            zs_net_set_dense(net, dense);
            zs_net_infer(net, xc, NC, lp);
            int called = 0, changed = 0;
            for (int s = 0; s < NC; s++) {
                int a = argmax(lp + s * 11, 11);
                called += yc[s] == before[s] && a == 10;
                changed += a != 10 && a != before[s];
            }
            int allowed = caps[c] < 0 ? NC : (int)floor(caps[c] * nright);
            CHECK(called <= allowed && called == r.cal_called && changed == 0,
                  "cap %g (dense %d): %d right calibration examples called 'band' (allowed %d, report %d), %d "
                  "other answers changed", caps[c], dense, called, allowed, r.cal_called, changed);
            if (caps[c] < 0) CHECK(called > (int)floor(0.02 * nright), "without the cap more are called (%d)", called);
        }
        zs_net_infer(net, x, NP, lp);
        int hits = 0;
        for (int s = 0; s < NP; s++) hits += argmax(lp + s * 11, 11) == 10;
        CHECK(hits == r.pos_called, "report: positives called %d = inference %d", r.pos_called, hits);
        if (caps[c] < 0) CHECK(hits == NP && r.bias == r.bias_recall, "without a cap every positive is called (%d)", hits);
        zs_net_free(net);
        free(w0);
    }
    /* old_weight: the share of the negatives' loss on the old examples; all
     * of it on the y = -1 examples (0) separates them from the positives
     * further than none of it (1): the gap between the positives' and the
     * y = -1 examples' mean margin (new log-probability minus the best
     * old one; the bias cancels) is wider */
    double gap[2];
    for (int c = 0; c < 2; c++) {
        zs_net *net = NULL;
        CHECK(zs_net_clone(base, &net) == ZS_OK, "clone");
        if (!net) return;
        zs_fit_class_opts o = zs_fit_class_defaults();
        o.old_weight = (float)c;
        o.folds = 3;
        CHECK(zs_net_fit_class(net, 10, x, y, grp, N, xc, yc, NC, &o, NULL) == ZS_OK, "fit_class: %s", zs_last_error());
        static float lpx[N * 11];
        zs_net_infer(net, x, N, lpx);
        double mp = 0, mn = 0;
        for (int s = 0; s < NP + NN; s++) {
            float best = -INFINITY;
            for (int j = 0; j < 10; j++) best = lpx[s * 11 + j] > best ? lpx[s * 11 + j] : best;
            if (s < NP) mp += (lpx[s * 11 + 10] - best) / NP;
            else mn += (lpx[s * 11 + 10] - best) / NN;
        }
        gap[c] = mp - mn;
        zs_net_free(net);
    }
    CHECK(gap[0] > gap[1], "old_weight 0 separates the y = -1 examples further (gap %g) than 1 (%g)", gap[0], gap[1]);
    /* errors: the network stays as it was */
    zs_net_unpack(base);
    const zs_layer *O = &base->layers[base->n_layers - 2];
    size_t wn = (size_t)11 * O->fan_in;
    float *w0 = malloc(sizeof(float) * wn);
    memcpy(w0, O->w, sizeof(float) * wn);
    zs_fit_class_opts o = zs_fit_class_defaults();
    CHECK(zs_net_fit_class(base, 11, x, y, grp, N, xc, yc, NC, &o, NULL) == ZS_EINVAL, "class out of range refused");
    y[0] = 11;
    CHECK(zs_net_fit_class(base, 10, x, y, grp, N, xc, yc, NC, &o, NULL) == ZS_EINVAL, "label out of range refused");
    y[0] = 10;
    yc[0] = 10;
    CHECK(zs_net_fit_class(base, 10, x, y, grp, N, xc, yc, NC, &o, NULL) == ZS_EINVAL, "calibration label = class refused");
    yc[0] = before[0];
    CHECK(zs_net_fit_class(base, 10, x + (size_t)NP * MLP_IN, y + NP, NULL, N - NP, NULL, NULL, 0, &o, NULL) == ZS_EINVAL,
          "no positives refused");
    CHECK(zs_net_fit_class(base, 10, x, y, grp, N, NULL, yc, NC, &o, NULL) == ZS_EINVAL, "calibration without x refused");
    o.recall = 0;
    CHECK(zs_net_fit_class(base, 10, x, y, grp, N, xc, yc, NC, &o, NULL) == ZS_EINVAL, "recall 0 refused");
    o = zs_fit_class_defaults();
    o.lr = NAN;
    CHECK(zs_net_fit_class(base, 10, x, y, grp, N, xc, yc, NC, &o, NULL) == ZS_EINVAL, "NaN lr refused");
    o = zs_fit_class_defaults();
    xc[7] = NAN;
    CHECK(zs_net_fit_class(base, 10, x, y, grp, N, xc, yc, NC, &o, NULL) == ZS_ENUMERIC, "NaN input refused");
    O = &base->layers[base->n_layers - 2];
    CHECK(!memcmp(w0, O->w, sizeof(float) * wn), "failed fits change nothing");
    free(w0);
    zs_net_free(base);
}

static void test_errors(void) {
    zs_net *g = NULL;
    CHECK(zs_net_create_preset(&g, "gsc-sparse", 1) == ZS_OK, "gsc-sparse");
    float x[32 * 32] = {0};
    int32_t y = 0;
    zs_learn_opts o = zs_learn_defaults();
    o.layers = 3;
    CHECK(zs_net_learn(g, x, &y, 1, &o, NULL) == ZS_EUNSUPPORTED, "learning through a conv refused");
    o = zs_learn_defaults();
    y = 12;
    CHECK(zs_net_learn(g, x, &y, 1, &o, NULL) == ZS_EINVAL, "label out of range refused");
    y = 1;
    o.lr = NAN;
    CHECK(zs_net_learn(g, x, &y, 1, &o, NULL) == ZS_EINVAL, "NaN lr refused");
    o = zs_learn_defaults();
    x[5] = INFINITY;
    CHECK(zs_net_learn(g, x, &y, 1, &o, NULL) == ZS_ENUMERIC, "Inf input refused");
    x[5] = 0;
    CHECK(zs_net_learn(g, x, &y, 1, &o, NULL) == ZS_OK, "gsc-sparse learns at batch 1: %s", zs_last_error());
    CHECK(zs_net_clone(NULL, &g) == ZS_EINVAL, "clone NULL refused");
    zs_net_free(g);
}

/* Learning on the inference plan (the default for a model: packed weights,
 * the plan's folded copies updated in place): after each step the model
 * answers bit for bit as a fresh copy of it does (a plan built from
 * scratch); the weights follow the reference path (ZS_LEARN_REF: dense
 * weights, reference layers) to float rounding; a kept weight that was 0
 * when the plan was built and learns makes the plan rebuild, still exact. */
static int same_answers(zs_net *a, const float *x, int n) {
    zs_net *c = NULL;
    if (zs_net_clone(a, &c) != ZS_OK) return 0;
    int K = zs_net_num_classes(a);
    float *la = malloc(sizeof(float) * (size_t)n * K), *lc = malloc(sizeof(float) * (size_t)n * K);
    int ok = la && lc && zs_net_infer(a, x, n, la) == ZS_OK && zs_net_infer(c, x, n, lc) == ZS_OK &&
             !memcmp(la, lc, sizeof(float) * (size_t)n * K);
    free(la); free(lc);
    zs_net_free(c);
    return ok;
}

static char *describe_plan(zs_net *net);
static int plan_says(zs_net *net, const char *what) {
    char *buf = describe_plan(net);
    int hit = buf && strstr(buf, what) != NULL;
    free(buf);
    return hit;
}

/* kernel: text the plan's description must hold after learning (NULL: any) */
static void learn_on_plan_case(const char *preset, int in_size, int zero_rows, float decay, const char *kernel) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/zs_test_learn_%d.safetensors", (int)getpid());
    zs_net *t = NULL, *m = NULL, *r = NULL;
    CHECK(zs_net_create_preset(&t, preset, 9) == ZS_OK && zs_net_save(t, path) == ZS_OK &&
              zs_net_load(&m, path) == ZS_OK && zs_net_load(&r, path) == ZS_OK,
          "%s: saved and loaded twice: %s", preset, zs_last_error());
    remove(path);
    zs_net_free(t);
    if (!m || !r) { zs_net_free(m); zs_net_free(r); return; }
    int fc = -1; /* the lowest sparse linear layer: the one that learns under layers = 2 */
    for (int i = m->n_layers - 1; i >= 0; i--)
        if (m->layers[i].type == ZS_LINEAR && m->layers[i].prow) { fc = i; break; }
    CHECK(fc >= 0 && m->compact, "%s: loaded packed", preset);
    if (fc < 0) { zs_net_free(m); zs_net_free(r); return; }
    if (zero_rows) /* kept weights that are 0 when the plan is built (the first lines: inputs) */
        for (int u = 0; u < zero_rows; u++)
            for (int32_t k = m->layers[fc].prow[u]; k < m->layers[fc].prow[u + 1]; k++)
                m->layers[fc].pval[k] = r->layers[fc].pval[k] = 0.0f;
    enum { N = 12 };
    float *x = malloc(sizeof(float) * (size_t)in_size * N), *xt = malloc(sizeof(float) * (size_t)in_size * N);
    fill_random(x, (size_t)in_size * N, 4242);
    for (int i = 0; i < in_size * N; i += 4) x[i] = 0.0f;
    fill_random(xt, (size_t)in_size * N, 4343); /* answers checked on inputs without those zeros */
    zs_learn_opts o = zs_learn_defaults();
    o.lr = 0.05f;
    o.weight_decay = decay; /* every kept weight of a learning row changes */
    int exact = 1, packed = 1, plan_kept = 0;
    for (int s = 0; s < N; s++) {
        int32_t y = s % zs_net_num_classes(m);
        CHECK(zs_net_learn(m, x + (size_t)s * in_size, &y, 1, &o, NULL) == ZS_OK, "%s: learn on the plan: %s",
              preset, zs_last_error());
        setenv("ZS_LEARN_REF", "1", 1);
        CHECK(zs_net_learn(r, x + (size_t)s * in_size, &y, 1, &o, NULL) == ZS_OK, "%s: learn, reference", preset);
        unsetenv("ZS_LEARN_REF");
        plan_kept += m->kernels != NULL;
        packed &= m->compact;
        exact &= same_answers(m, xt, N);
    }
    CHECK(packed, "%s: the model stays packed while it learns", preset);
    CHECK(exact, "%s: after every step it answers bit for bit as a fresh copy (a plan built anew)", preset);
    /* the plan reads the packed weights in place, kept zeros included: never dropped */
    CHECK(plan_kept == N, "%s: the plan stays, reading the learned weights in place (%d of %d)", preset, plan_kept, N);
    if (kernel) CHECK(plan_says(m, kernel), "%s: the plan runs %s", preset, kernel);
    /* the same step as the reference path, to rounding */
    const zs_layer *A = &m->layers[fc], *B = &r->layers[fc];
    double worst = 0;
    long moved = 0;
    for (int u = 0; u < zs_packed_lines(A); u++)
        for (int32_t k = A->prow[u]; k < A->prow[u + 1]; k++) {
            size_t j = zs_packed_at(A, u, k);
            double d = fabs((double)A->pval[k] - B->w[j]);
            if (d > worst) worst = d;
            moved += B->w[j] != 0.0f && A->pval[k] != 0.0f;
        }
    CHECK(moved > 0 && worst < 1e-4, "%s: weights as the reference path's (max diff %g)", preset, worst);
    free(x);
    free(xt);
    zs_net_free(m);
    zs_net_free(r);
}

static void test_learn_on_plan(void) {
    learn_on_plan_case("mnist-sparse-mlp", MLP_IN, 0, 0.0f, NULL);
    learn_on_plan_case("mnist-sparse-mlp", MLP_IN, 0, 0.1f, NULL);
    learn_on_plan_case("mnist-sparse-mlp", MLP_IN, 400, 0.0f, NULL);
    learn_on_plan_case("gsc-sparse", 32 * 32, 0, 0.0f, NULL);
    learn_on_plan_case("gsc-codesigned", 32 * 32, 0, 0.0f, NULL); /* whichever kernel its plan keeps */
    /* the block kernel on the plan's copy of the packed list, kept in step
     * by zs_plan_sync_linear (the codesigned network's choice on Zen 5):
     * learned columns, every column (weight decay), kept weights that were 0 */
    setenv("ZS_PLAN_LINEAR", "block", 1);
    learn_on_plan_case("gsc-codesigned", 32 * 32, 0, 0.0f, "linear_ss (blocks");
    learn_on_plan_case("mnist-sparse-mlp", MLP_IN, 0, 0.1f, "linear_ss (blocks");
    learn_on_plan_case("mnist-sparse-mlp", MLP_IN, 400, 0.0f, "linear_ss (blocks");
    unsetenv("ZS_PLAN_LINEAR");
}

/* zs_kwinners_update_duty for one sample of a 1-d layer (learn's case,
 * its own loop) gives the bits of the general count loop: duty (period -
 * N) + active, divided by the period, while the period grows and after. */
static void test_duty_one_sample(void) {
    enum { C = 1000 };
    float duty[C], want[C], out[C];
    uint32_t r = 12345;
    for (int c = 0; c < C; c++) {
        r = r * 1664525u + 1013904223u;
        duty[c] = want[c] = (float)(r >> 8) / 16777216.0f * 0.3f;
        out[c] = (r & 3) == 0 ? 0.5f : (r & 3) == 1 ? 0.0f : (r & 3) == 2 ? -0.0f : -1.0f;
    }
    out[7] = NAN;
    int64_t li = 0, wli = 0;
    int bad = 0;
    for (int step = 0; step < 40; step++) {
        out[step * 13 % C] = step % 2 ? 2.0f : 0.0f; /* the winners move */
        zs_kwinners_update_duty(duty, &li, out, 1, C, 1, 16);
        wli += 1;
        int64_t period = wli < 16 ? wli : 16;
        for (int c = 0; c < C; c++) {
            int64_t cnt = out[c] > 0.0f;
            float active = (float)cnt / 1.0f, d = want[c] * (float)(period - 1);
            d = d + active;
            want[c] = d / (float)period;
        }
        bad += memcmp(duty, want, sizeof duty) != 0 || li != wli;
    }
    CHECK(bad == 0, "duty cycles of one sample, S = 1: the general loop's bits (%d of 40 steps differ)", bad);
}

int main(void) {
    test_duty_one_sample();
    test_clone_model("gsc-sparse");
    test_clone_model("gsc-codesigned");
    test_clone_affine();
    test_gradient_and_sparsity();
    test_clone();
    test_add_class();
    test_fit_class();
    test_errors();
    test_learn_on_plan();
    return check_finish("learn");
}
