/*
 * test_train_sparse.c — the sparse-aware training path (src/train_sparse.c)
 * against the plain reference path (ZS_TRAIN_REF=1), for every ISA the CPU
 * has (ZS_ISA=scalar|avx2|avx512; missing ones are skipped with a message).
 *
 * For each network (gsc-sparse, gsc-sparse-fast, gsc-supersparse (native ISA
 * only) and two small custom sparse nets with padding, odd sizes and channel
 * counts, a local k-WTA (reference fallback), a masked conv on a dense input
 * whose input gradient is needed, and a batch of 18 (two 16-sample blocks
 * of the linear kernels)), two copies built from the same seed see the
 * same batch:
 *   1. one training-mode forward: every layer's output, and the k-WTA
 *      winner lists (count and indices) IDENTICAL;
 *   2. backward from the NLL loss: every gradient;
 *   3. four SGD steps (lr 0.05, momentum 0.9, weight decay 0.01) on
 *      different batches: losses, all parameters, duty cycles and BN
 *      statistics, and winner lists identical at the last step.
 *
 * Tolerances. The fast path sums the same products in another order
 * (scatter/taps instead of im2col + GEMM), so values differ by float
 * rounding only: per tensor, |fast - ref| <= atol + rtol*|ref| with
 * rtol = 1e-3 and atol = 1e-5 * max|ref| (forward outputs, gradients;
 * for a bias gradient max|ref| is that of the layer's weight gradient, as
 * a bias before BatchNorm has a true gradient of 0 and only rounding noise),
 * and rtol = 1e-3, atol = 1e-4 * max|ref| after the SGD steps.
 * (Winner sets can only flip if two boosted values at a k-WTA cut were
 * within rounding; the batches here are fixed, and that is asserted.)
 */
#include "check.h"
#include "net.h"
#include "layers.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_s = 0x9e3779b97f4a7c15ull;
static float frand(void) { /* uniform [-1, 1) */
    rng_s = rng_s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng_s >> 40) * 0x1p-23 - 1.0);
}

static void use_ref(int ref) { setenv("ZS_TRAIN_REF", ref ? "1" : "0", 1); }

static double maxabs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(a[i]) > m ? fabs(a[i]) : m;
    return m;
}

static void close_scaled(const float *got, const float *want, size_t n, double arel, double rtol,
                         const char *what) {
    double atol = arel * maxabs(want, n) + 1e-30;
    CHECK_CLOSE(got, want, n, atol, rtol, what);
}

static int same_winners(const zs_layer *a, const zs_layer *b, int N) {
    if (a->win.kmax != b->win.kmax) return 0;
    for (int n = 0; n < N; n++) {
        if (a->win.count[n] != b->win.count[n]) return 0;
        if (memcmp(a->win.idx + (size_t)n * a->win.kmax, b->win.idx + (size_t)n * b->win.kmax,
                   sizeof(int32_t) * (size_t)a->win.count[n]))
            return 0;
    }
    return 1;
}

static void make_batch(float *x, int32_t *y, int N, size_t insz, int K) {
    for (int n = 0; n < N; n++) {
        /* smooth-ish structure plus noise, like log-mel patches */
        float a = frand(), b = frand();
        for (size_t i = 0; i < insz; i++)
            x[(size_t)n * insz + i] = 0.8f * sinf((float)i * 0.05f * (1.5f + a)) + 0.5f * b + 0.6f * frand();
        y[n] = (int32_t)((frand() + 1.0f) * 0.5f * (float)K) % K;
    }
}

static void compare_net(const char *label, zs_net *A, zs_net *B, int N, const char *phase, double arel) {
    char what[256];
    for (int i = 0; i < A->n_layers; i++) {
        zs_layer *La = &A->layers[i], *Lb = &B->layers[i];
        snprintf(what, sizeof what, "%s %s: layer %s output", label, phase, La->name);
        close_scaled(Lb->out, La->out, (size_t)N * La->out_size, arel, 1e-3, what);
        if (La->type == ZS_KWINNERS || La->type == ZS_KWINNERS2D)
            CHECK(same_winners(La, Lb, N), "%s %s: layer %s winner lists identical", label, phase, La->name);
    }
}

static void compare_params(const char *label, zs_net *A, zs_net *B, const char *phase, double arel) {
    char what[256];
    for (int i = 0; i < A->n_layers; i++) {
        zs_layer *La = &A->layers[i], *Lb = &B->layers[i];
        if (La->type == ZS_CONV2D || La->type == ZS_LINEAR) {
            snprintf(what, sizeof what, "%s %s: %s weight", label, phase, La->name);
            close_scaled(Lb->w, La->w, La->n_weights, arel, 1e-3, what);
            if (La->b) {
                snprintf(what, sizeof what, "%s %s: %s bias", label, phase, La->name);
                close_scaled(Lb->b, La->b, (size_t)La->out_c, arel, 1e-3, what);
            }
            if (La->mask) {
                size_t bad = 0;
                for (size_t j = 0; j < La->n_weights; j++) bad += !La->mask[j] && Lb->w[j] != 0.0f;
                CHECK(bad == 0, "%s %s: %s masked weights stay 0 (%zu not)", label, phase, La->name, bad);
            }
        }
    }
    snprintf(what, sizeof what, "%s %s: all parameters", label, phase);
    close_scaled(B->params, A->params, A->n_params, arel, 1e-3, what);
    snprintf(what, sizeof what, "%s %s: state (BN statistics, duty cycles)", label, phase);
    close_scaled(B->state, A->state, A->n_state, arel, 1e-3, what);
}

static void compare_grads(const char *label, zs_net *A, zs_net *B, double arel) {
    char what[256];
    for (int i = 0; i < A->n_layers; i++) {
        zs_layer *La = &A->layers[i], *Lb = &B->layers[i];
        if (La->type == ZS_CONV2D || La->type == ZS_LINEAR) {
            snprintf(what, sizeof what, "%s: d %s weight", label, La->name);
            close_scaled(Lb->dw, La->dw, La->n_weights, arel, 1e-3, what);
            if (La->db) {
                /* a bias followed by BatchNorm has a true gradient of 0: its
                 * value is summation noise, so scale by the weight gradient */
                double sc = maxabs(La->db, (size_t)La->out_c), sw = maxabs(La->dw, La->n_weights);
                snprintf(what, sizeof what, "%s: d %s bias", label, La->name);
                CHECK_CLOSE(Lb->db, La->db, (size_t)La->out_c, arel * (sc > sw ? sc : sw) + 1e-30, 1e-3, what);
            }
        }
    }
    snprintf(what, sizeof what, "%s: all gradients", label);
    close_scaled(B->grads, A->grads, A->n_params, arel, 1e-3, what);
}

static void run_case(const char *label, const char *preset, const char *json, int N) {
    zs_net *A = NULL, *B = NULL;
    zs_status st = preset ? zs_net_create_preset(&A, preset, 7) : zs_net_create_json(&A, json, 7);
    CHECK(st == ZS_OK, "%s: build A: %s", label, zs_last_error());
    st = preset ? zs_net_create_preset(&B, preset, 7) : zs_net_create_json(&B, json, 7);
    CHECK(st == ZS_OK, "%s: build B: %s", label, zs_last_error());
    if (!A || !B) { zs_net_free(A); zs_net_free(B); return; }
    size_t insz = (size_t)A->in_c * A->in_h * A->in_w;
    int K = A->num_classes;
    float *x = malloc(sizeof(float) * insz * (size_t)N);
    int32_t *y = malloc(sizeof(int32_t) * (size_t)N);
    float *dl = malloc(sizeof(float) * (size_t)N * (size_t)K);
    make_batch(x, y, N, insz, K);
    CHECK(zs_net_train_alloc(A) == ZS_OK && zs_net_train_alloc(B) == ZS_OK && zs_net_reserve(A, N) == ZS_OK && zs_net_reserve(B, N) == ZS_OK, "%s: gradients and activations", label);

    /* 1. one training-mode forward, 2. its backward */
    A->training = B->training = 1;
    use_ref(1);
    const float *la = zs_net_forward_ref(A, x, N);
    use_ref(0);
    const float *lb = zs_net_forward_ref(B, x, N);
    compare_net(label, A, B, N, "forward", 1e-5);
    close_scaled(lb, la, (size_t)N * K, 1e-5, 1e-3, "log-probabilities");
    float l = zs_nll_loss(dl, la, y, N, K);
    CHECK(isfinite(l), "%s: loss finite", label);
    use_ref(1);
    zs_net_backward_ref(A, x, N, dl);
    zs_nll_loss(dl, lb, y, N, K);
    use_ref(0);
    zs_net_backward_ref(B, x, N, dl);
    compare_grads(label, A, B, 1e-5);
    A->training = B->training = 0;

    /* 3. SGD steps on fresh batches */
    zs_sgd opt = {.lr = 0.05f, .momentum = 0.9f, .weight_decay = 0.01f};
    for (int s = 0; s < 4; s++) {
        make_batch(x, y, N, insz, K);
        float lossa = 0, lossb = 0;
        int ca = 0, cb = 0;
        use_ref(1);
        st = zs_net_train_step(A, x, y, N, &opt, &lossa, &ca);
        CHECK(st == ZS_OK, "%s: ref step %d", label, s);
        use_ref(0);
        st = zs_net_train_step(B, x, y, N, &opt, &lossb, &cb);
        CHECK(st == ZS_OK, "%s: fast step %d", label, s);
        CHECK(fabsf(lossa - lossb) <= 1e-4f * (1.0f + fabsf(lossa)), "%s: step %d loss %.7g vs %.7g", label, s,
              (double)lossb, (double)lossa);
        CHECK(ca == cb, "%s: step %d correct %d vs %d", label, s, cb, ca);
    }
    for (int i = 0; i < A->n_layers; i++)
        if (A->layers[i].type == ZS_KWINNERS || A->layers[i].type == ZS_KWINNERS2D)
            CHECK(same_winners(&A->layers[i], &B->layers[i], N), "%s: after steps: %s winner lists identical",
                  label, A->layers[i].name);
    compare_params(label, A, B, "after 4 SGD steps", 1e-4);
    unsetenv("ZS_TRAIN_REF");
    free(x); free(y); free(dl);
    zs_net_free(A);
    zs_net_free(B);
}

/* Small custom net: 3-channel input, padding, 13 and 21 channels (vector
 * tails), a local k-WTA (reference fallback), sparse linear, dense output. */
static const char *custom_json =
    "{\"name\":\"tiny\",\"input\":[3,12,12],\"layers\":["
    "{\"type\":\"conv2d\",\"out_channels\":13,\"kernel\":3,\"padding\":1,\"weight_sparsity\":0.6},"
    "{\"type\":\"batchnorm\",\"affine\":true},"
    "{\"type\":\"kwinners2d\",\"percent_on\":0.2,\"boost_strength\":1.2},"
    "{\"type\":\"maxpool2d\",\"kernel\":2},"
    "{\"type\":\"conv2d\",\"out_channels\":21,\"kernel\":[3,2],\"padding\":1,\"weight_sparsity\":0.7},"
    "{\"type\":\"batchnorm\",\"affine\":false},"
    "{\"type\":\"kwinners2d\",\"percent_on\":0.25,\"local\":true},"
    "{\"type\":\"conv2d\",\"out_channels\":17,\"kernel\":3,\"weight_sparsity\":0.5},"
    "{\"type\":\"kwinners2d\",\"percent_on\":0.3},"
    "{\"type\":\"maxpool2d\",\"kernel\":2},"
    "{\"type\":\"flatten\"},"
    "{\"type\":\"linear\",\"out_features\":40,\"weight_sparsity\":0.8},"
    "{\"type\":\"batchnorm\"},"
    "{\"type\":\"kwinners\",\"percent_on\":0.2},"
    "{\"type\":\"linear\",\"out_features\":5},"
    "{\"type\":\"logsoftmax\"}]}";

/* Second custom net: a masked conv with a dense input (a BatchNorm output)
 * whose input gradient is needed (the taps form of dX), stride-2 pooling
 * over a k-WTA with odd sizes, 1d k-WTA after a sparse linear. */
static const char *custom2_json =
    "{\"name\":\"tiny2\",\"input\":[2,11,13],\"layers\":["
    "{\"type\":\"conv2d\",\"out_channels\":6,\"kernel\":3,\"weight_sparsity\":0.5},"
    "{\"type\":\"batchnorm\"},"
    "{\"type\":\"conv2d\",\"out_channels\":19,\"kernel\":[3,4],\"padding\":2,\"weight_sparsity\":0.75},"
    "{\"type\":\"batchnorm\",\"affine\":false},"
    "{\"type\":\"kwinners2d\",\"percent_on\":0.15},"
    "{\"type\":\"maxpool2d\",\"kernel\":2},"
    "{\"type\":\"flatten\"},"
    "{\"type\":\"linear\",\"out_features\":33,\"weight_sparsity\":0.7},"
    "{\"type\":\"batchnorm\"},"
    "{\"type\":\"kwinners\",\"percent_on\":0.25},"
    "{\"type\":\"linear\",\"out_features\":4},"
    "{\"type\":\"logsoftmax\"}]}";

int main(void) {
    const char *isas[] = {"scalar", "avx2", "avx512"};
    for (int i = 0; i < 3; i++) {
        if ((int)zs_isa_cpu() < i) {
            SKIP("ISA %s: this CPU lacks it", isas[i]);
            continue;
        }
        setenv("ZS_ISA", isas[i], 1);
        CHECK((int)zs_isa_active() == i, "ZS_ISA=%s is active", isas[i]);
        char lab[64];
        snprintf(lab, sizeof lab, "[%s] gsc-sparse", isas[i]);
        run_case(lab, "gsc-sparse", NULL, 5);
        snprintf(lab, sizeof lab, "[%s] gsc-sparse-fast", isas[i]);
        run_case(lab, "gsc-sparse-fast", NULL, 4);
        /* the third GSC preset only differs in the linear layer: once */
        if ((int)zs_isa_cpu() == i) {
            snprintf(lab, sizeof lab, "[%s] gsc-supersparse", isas[i]);
            run_case(lab, "gsc-supersparse", NULL, 3);
        }
        snprintf(lab, sizeof lab, "[%s] custom", isas[i]);
        run_case(lab, NULL, custom_json, 7);
        snprintf(lab, sizeof lab, "[%s] custom2", isas[i]);
        run_case(lab, NULL, custom2_json, 18); /* two sample blocks for the linear */
    }
    unsetenv("ZS_ISA");
    return check_finish("train_sparse");
}
