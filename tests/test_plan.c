/*
 * test_plan.c — whole networks through the inference plan (sparse kernels)
 * against the reference path (zs_net_set_dense(net, 1) + zs_net_infer),
 * for every ISA the CPU has (ZS_ISA set before the plan is built), on the
 * gsc-sparse, gsc-dense, gsc-supersparse, gsc-sparse-fast, gsc-codesigned and gsc-routed presets (and
 * the MLP presets). Networks get a few SGD steps first so that BatchNorm
 * statistics and k-WTA duty cycles (boosting) are not trivial.
 *
 * Tolerance on log-probabilities: |plan - ref| <= 2e-3 + 2e-3 |ref|, and
 * identical argmax on every sample. (The plan folds BatchNorm into the
 * conv weights and sums in another order, so a unit at the k-WTA boundary
 * may occasionally swap with its neighbour; the tolerance covers that.)
 * winner_sets: the top k-WTA's winners through the plan of a packed model
 * (its linear layer read in place, BatchNorm after the sum) are the
 * reference path's on every sample, for every ISA.
 * Also: batch n equals n batches of 1 bit for bit, unsupported
 * architectures say ZS_EUNSUPPORTED (and zs_net_infer still answers; dense
 * networks too unless ZS_PLAN_DENSE=1, which these comparisons set),
 * and networks run concurrently in threads give the sequential results,
 * also when networks of different shapes share one executor (zs_exec).
 */
#include "check.h"
#include "kernels/kernels.h"
#include "kernels/plan.h"
#include "net.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NS 24 /* samples per comparison */

static zs_rng rng;

static void fill_inputs(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        /* roughly N(0, 1): sum of uniforms */
        float s = 0;
        for (int j = 0; j < 4; j++) s += zs_rng_uniform(&rng);
        x[i] = (s - 2.0f) * 1.7f;
    }
}

static int argmax(const float *v, int K) {
    int b = 0;
    for (int i = 1; i < K; i++) if (v[i] > v[b]) b = i;
    return b;
}

/* A few SGD steps on random data (BN statistics, duty cycles, weights move). */
static void warm_up(zs_net *net, size_t insz, int K) {
    int B = 8;
    float *x = malloc(sizeof(float) * insz * B);
    int32_t y[8];
    zs_sgd opt = {0.01f, 0.0f, 0.0f};
    for (int step = 0; step < 4; step++) {
        fill_inputs(x, insz * B);
        for (int i = 0; i < B; i++) y[i] = (int32_t)zs_rng_below(&rng, (uint32_t)K);
        CHECK(zs_net_train_step(net, x, y, B, &opt, NULL, NULL) == ZS_OK, "train step: %s", zs_last_error());
    }
    zs_net_epoch_end(net);
    free(x);
}

/* A preset network after warm_up; its input size and class count. NULL
 * (a failed check) when it cannot be made. */
static zs_net *warmed_preset(const char *preset, uint64_t seed, size_t *insz, int *K) {
    zs_net *net = NULL;
    if (zs_net_create_preset(&net, preset, seed) != ZS_OK) {
        CHECK(0, "create %s: %s", preset, zs_last_error());
        return NULL;
    }
    int c, h, w;
    zs_net_input_shape(net, &c, &h, &w);
    *insz = (size_t)c * h * w;
    *K = zs_net_num_classes(net);
    warm_up(net, *insz, *K);
    return net;
}

static int build_with_isa(zs_net *net, zs_isa isa) {
    setenv("ZS_ISA", zs_isa_name(isa), 1);
    setenv("ZS_PLAN_DENSE", "1", 1); /* dense nets too (default: reference path) */
    zs_plan_free(net);
    net->plan_unsupported = 0;
    zs_status st = zs_plan_build(net);
    unsetenv("ZS_ISA");
    unsetenv("ZS_PLAN_DENSE");
    return st == ZS_OK;
}

static void compare_preset(const char *preset, int dense) {
    zs_net *net = NULL;
    if (zs_net_create_preset(&net, preset, 7) != ZS_OK) {
        CHECK(0, "create %s: %s", preset, zs_last_error());
        return;
    }
    /* by default, dense networks are left to the reference (GEMM) path */
    zs_status dst = zs_plan_build(net);
    CHECK(dense ? dst == ZS_EUNSUPPORTED : dst == ZS_OK, "%s: default plan build says %s", preset, zs_status_str(dst));
    zs_plan_free(net);
    int c, h, w;
    zs_net_input_shape(net, &c, &h, &w);
    size_t insz = (size_t)c * h * w;
    int K = zs_net_num_classes(net);
    warm_up(net, insz, K);
    /* sharpen the output layer so log-probs spread over several units: a
     * wrong winner or sum upstream then shows in the comparison */
    for (int i = net->n_layers - 1; i >= 0; i--)
        if (net->layers[i].type == ZS_LINEAR) {
            zs_layer *L = &net->layers[i];
            for (size_t j = 0; j < L->n_weights; j++) L->w[j] *= 25.0f;
            if (L->b) for (int j = 0; j < L->out_c; j++) L->b[j] *= 25.0f;
            break;
        }
    float *x = malloc(sizeof(float) * insz * NS), *ref = malloc(sizeof(float) * K * NS);
    float *got = malloc(sizeof(float) * K * NS), *one = malloc(sizeof(float) * K * NS);
    fill_inputs(x, insz * NS);
    zs_net_set_dense(net, 1);
    CHECK(zs_net_infer(net, x, NS, ref) == ZS_OK, "%s reference infer: %s", preset, zs_last_error());
    float lo = ref[0], hi = ref[0];
    for (int i = 0; i < K * NS; i++) { lo = ref[i] < lo ? ref[i] : lo; hi = ref[i] > hi ? ref[i] : hi; }
    CHECK(hi - lo > 1.0f, "%s: reference log-probs spread %.3g (test needs > 1)", preset, (double)(hi - lo));
    zs_net_set_dense(net, 0);
    for (int isa = ZS_ISA_SCALAR; isa <= ZS_ISA_AVX512; isa++) {
        if (isa > (int)zs_isa_cpu()) {
            SKIP("%s plan with ISA %s: this CPU lacks it", preset, zs_isa_name((zs_isa)isa));
            continue;
        }
        if (!build_with_isa(net, (zs_isa)isa)) {
            CHECK(0, "%s: plan build (%s): %s", preset, zs_isa_name((zs_isa)isa), zs_last_error());
            continue;
        }
        CHECK(zs_plan_isa(net) == isa, "%s: plan uses the ISA set in ZS_ISA (%s)",
              preset, zs_isa_name((zs_isa)isa));
        /* through the public entry point: it must use the built plan */
        CHECK(zs_net_infer(net, x, NS, got) == ZS_OK, "%s plan infer: %s", preset, zs_last_error());
        double worst = 0, maxabs = 0;
        int wi = 0, am = 0;
        for (int i = 0; i < K * NS; i++) {
            if (fabs((double)got[i] - ref[i]) > maxabs) maxabs = fabs((double)got[i] - ref[i]);
            double d = fabs((double)got[i] - ref[i]) / (2e-3 + 2e-3 * fabs(ref[i]));
            if (!(d <= worst)) { worst = d; wi = i; }
        }
        for (int n = 0; n < NS; n++) am += argmax(got + n * K, K) == argmax(ref + n * K, K);
        CHECK(worst <= 1.0, "%s [%s]: log-probs differ from the reference: worst at %d got %.6g want %.6g",
              preset, zs_isa_name((zs_isa)isa), wi, (double)got[wi], (double)ref[wi]);
        CHECK(am == NS, "%s [%s]: argmax identical on %d of %d samples", preset, zs_isa_name((zs_isa)isa), am, NS);
        printf("%s [%s]: max |plan - ref| = %.2g (%.3f of the tolerance), argmax %d/%d\n", preset,
               zs_isa_name((zs_isa)isa), maxabs, worst, am, NS);
        /* batch n == n batches of 1, bit for bit */
        for (int n = 0; n < NS; n++)
            CHECK(zs_plan_infer(net, NULL, x + n * insz, 1, one + n * K) == ZS_OK, "plan infer 1");
        CHECK(!memcmp(one, got, sizeof(float) * K * NS), "%s [%s]: batch of %d == %d batches of 1", preset,
              zs_isa_name((zs_isa)isa), NS, NS);
    }
    zs_plan_free(net);
    free(x); free(ref); free(got); free(one);
    zs_net_free(net);
}

/* The built plan's description contains `what`; else it goes to the log. */
static int plan_has(const zs_net *net, const char *what) {
    char *desc = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&desc, &len);
    if (!m) return 0;
    zs_plan_describe(net, m);
    fclose(m);
    int ok = desc && strstr(desc, what);
    if (!ok) printf("plan without %s:\n%s", what, desc ? desc : "");
    free(desc);
    return ok;
}

/* The pool-first networks (conv -> BatchNorm -> max-pool -> k-WTA): the
 * plan fuses conv and pool into one conv_pool stage, which gives the same
 * bits as the two kernels (ZS_PLAN_FUSE=0), for every ISA. */
static void pool_first_fused(const char *preset) {
    zs_net *net = NULL;
    if (zs_net_create_preset(&net, preset, 5) != ZS_OK) { CHECK(0, "create %s", preset); return; }
    warm_up(net, 1024, 12);
    float *x = malloc(sizeof(float) * 1024 * 4), a[12 * 4], b[12 * 4];
    fill_inputs(x, 1024 * 4);
    for (int isa = ZS_ISA_SCALAR; isa <= ZS_ISA_AVX512 && isa <= (int)zs_isa_cpu(); isa++) {
        CHECK(build_with_isa(net, (zs_isa)isa), "%s plan (%s)", preset, zs_isa_name((zs_isa)isa));
        CHECK(plan_has(net, "conv_pool"), "%s [%s]: the plan has a conv_pool stage", preset, zs_isa_name((zs_isa)isa));
        CHECK(zs_plan_infer(net, NULL, x, 4, a) == ZS_OK, "infer fused");
        setenv("ZS_PLAN_FUSE", "0", 1);
        CHECK(build_with_isa(net, (zs_isa)isa), "%s plan without fusion", preset);
        unsetenv("ZS_PLAN_FUSE");
        CHECK(zs_plan_infer(net, NULL, x, 4, b) == ZS_OK, "infer unfused");
        CHECK(!memcmp(a, b, sizeof a), "%s [%s]: conv_pool stage == conv_dense + maxpool, bit for bit", preset,
              zs_isa_name((zs_isa)isa));
        /* the int8 path: conv2 on the winners list (conv_sparse_tap_q8 and,
         * with AVX-512 VNNI, conv_sparse_vnni timed) with the max-pool in
         * its unpack, the same bits as the two stages */
        zs_net_set_int8_weights(net, 1);
        const int vn = isa == ZS_ISA_AVX512 && zs_cpu_avx512_vnni();
        CHECK(build_with_isa(net, (zs_isa)isa), "%s int8 plan (%s)", preset, zs_isa_name((zs_isa)isa));
        CHECK(plan_has(net, "conv_sparse_tap_q8") && plan_has(net, "conv_sparse_vnni") == vn &&
                  plan_has(net, "+maxpool"),
              "%s [%s] int8: conv2 on conv_sparse_tap_q8%s, pooled in the stage", preset, zs_isa_name((zs_isa)isa),
              vn ? " and conv_sparse_vnni" : "");
        CHECK(zs_plan_infer(net, NULL, x, 4, a) == ZS_OK, "infer int8 fused");
        setenv("ZS_PLAN_FUSE", "0", 1);
        CHECK(build_with_isa(net, (zs_isa)isa), "%s int8 plan without fusion", preset);
        unsetenv("ZS_PLAN_FUSE");
        CHECK(!plan_has(net, "+maxpool"), "%s int8 without fusion: a maxpool stage", preset);
        CHECK(zs_plan_infer(net, NULL, x, 4, b) == ZS_OK, "infer int8 unfused");
        CHECK(!memcmp(a, b, sizeof a), "%s [%s] int8: conv2 with the max-pool in its unpack == conv2 + maxpool, bit for bit",
              preset, zs_isa_name((zs_isa)isa));
        zs_net_set_int8_weights(net, 0);
    }
    zs_plan_free(net);
    zs_net_free(net);
    free(x);
}

/* Routed conv2 masks (gsc-routed): the routing is found in the trained
 * weights and conv_sparse_routed (ZS_PLAN_CONV=routed forces it) matches the
 * reference on every ISA; a network without a routing refuses the forced
 * choice with a message; the default plan names the kernel it chose at
 * build. */
static void routed(void) {
    zs_net *net = NULL;
    if (zs_net_create_preset(&net, "gsc-routed", 9) != ZS_OK) { CHECK(0, "create gsc-routed"); return; }
    warm_up(net, 1024, 12);
    float *x = malloc(sizeof(float) * 1024 * 8), ref[12 * 8], got[12 * 8];
    fill_inputs(x, 1024 * 8);
    zs_net_set_dense(net, 1);
    CHECK(zs_net_infer(net, x, 8, ref) == ZS_OK, "reference");
    zs_net_set_dense(net, 0);
    for (int isa = ZS_ISA_SCALAR; isa <= ZS_ISA_AVX512 && isa <= (int)zs_isa_cpu(); isa++) {
        setenv("ZS_PLAN_CONV", "routed", 1);
        int ok = build_with_isa(net, (zs_isa)isa);
        unsetenv("ZS_PLAN_CONV");
        CHECK(ok, "gsc-routed: plan with ZS_PLAN_CONV=routed (%s): %s", zs_isa_name((zs_isa)isa), zs_last_error());
        if (!ok) continue;
        CHECK(plan_has(net, "conv_sparse_routed"), "gsc-routed [%s]: conv2 runs conv_sparse_routed",
              zs_isa_name((zs_isa)isa));
        CHECK(zs_plan_infer(net, NULL, x, 8, got) == ZS_OK, "infer");
        char what[96];
        snprintf(what, sizeof what, "gsc-routed [%s] with conv_sparse_routed", zs_isa_name((zs_isa)isa));
        CHECK_CLOSE(got, ref, 12 * 8, 2e-3, 2e-3, what);
    }
    zs_plan_free(net);
    zs_net_free(net);
    free(x);
    /* no routing: the random complementary blocks of gsc-codesigned */
    if (zs_net_create_preset(&net, "gsc-codesigned", 9) != ZS_OK) { CHECK(0, "create gsc-codesigned"); return; }
    setenv("ZS_PLAN_CONV", "routed", 1);
    zs_status st = zs_plan_build(net);
    unsetenv("ZS_PLAN_CONV");
    CHECK(st == ZS_EUNSUPPORTED && strstr(zs_last_error(), "no routing"),
          "gsc-codesigned with ZS_PLAN_CONV=routed: unsupported, with a message (%s)", zs_last_error());
    zs_net_free(net);
}

/* The other kernel choices of the plan (ZS_PLAN_CONV / ZS_PLAN_LINEAR) on
 * the best ISA, against the reference. */
static void variants(const char *preset) {
    zs_net *net = NULL;
    if (zs_net_create_preset(&net, preset, 11) != ZS_OK) { CHECK(0, "create %s", preset); return; }
    warm_up(net, 1024, 12);
    float *x = malloc(sizeof(float) * 1024 * 8), ref[12 * 8], got[12 * 8];
    fill_inputs(x, 1024 * 8);
    zs_net_set_dense(net, 1);
    CHECK(zs_net_infer(net, x, 8, ref) == ZS_OK, "reference");
    zs_net_set_dense(net, 0);
    static const char *conv[] = {"taps", "vec", "list", "pos", NULL, NULL, NULL, NULL, NULL};
    static const char *lin[] = {"gather", "block", "list", NULL, NULL, NULL, NULL, "expand", "expand"};
    static const char *sw[] = {NULL, NULL, NULL, NULL, NULL, "0", "1", NULL, NULL}; /* auto linear: always gather / list */
    for (int v = 0; v < 9; v++) {
        if (conv[v]) setenv("ZS_PLAN_CONV", conv[v], 1);
        if (lin[v]) setenv("ZS_PLAN_LINEAR", lin[v], 1);
        if (sw[v]) setenv("ZS_PLAN_LINEAR_SWITCH", sw[v], 1);
        if (v == 4 || v == 8) setenv("ZS_ISA", "avx2", 1); /* default choices / expand under AVX2 */
        zs_plan_free(net);
        zs_status st = zs_plan_build(net);
        unsetenv("ZS_PLAN_CONV"); unsetenv("ZS_PLAN_LINEAR"); unsetenv("ZS_ISA"); unsetenv("ZS_PLAN_LINEAR_SWITCH");
        CHECK(st == ZS_OK, "%s plan variant %d: %s", preset, v, zs_last_error());
        if (st) continue;
        CHECK(zs_plan_infer(net, NULL, x, 8, got) == ZS_OK, "infer");
        char what[128];
        snprintf(what, sizeof what, "%s with ZS_PLAN_CONV=%s ZS_PLAN_LINEAR=%s switch %s", preset,
                 conv[v] ? conv[v] : "default", lin[v] ? lin[v] : "default", sw[v] ? sw[v] : "default");
        CHECK_CLOSE(got, ref, 12 * 8, 2e-3, 2e-3, what);
    }
    zs_plan_free(net);
    zs_net_free(net);
    free(x);
}

/* conv2 on a dense map switches per sample to its dense-input taps above the
 * crossover measured at build; the taps are packed only when a sample first
 * needs them. ZS_PLAN_CONV_DENSE_ABOVE (a fraction of the units) fixes the
 * crossover: 0 sends every sample to the taps, 1 none. Same bits either
 * way, for every ISA; the plan holds the taps only after such a sample. */
static void dense_fallback(const char *preset) {
    zs_net *net = NULL;
    if (zs_net_create_preset(&net, preset, 13) != ZS_OK) { CHECK(0, "create %s", preset); return; }
    warm_up(net, 1024, 12);
    enum { N = 6 };
    float *x = malloc(sizeof(float) * 1024 * N), sparse[12 * N], dense[12 * N];
    fill_inputs(x, 1024 * N);
    for (int isa = ZS_ISA_SCALAR; isa <= (int)zs_isa_cpu(); isa++) {
        setenv("ZS_PLAN_CONV_DENSE_ABOVE", "1", 1);
        int ok = build_with_isa(net, (zs_isa)isa);
        size_t b_sparse = zs_plan_bytes(net);
        ok = ok && zs_plan_infer(net, NULL, x, N, sparse) == ZS_OK;
        CHECK(ok && zs_plan_bytes(net) == b_sparse, "%s [%s]: no sample above the crossover: no taps packed (%zu bytes)",
              preset, zs_isa_name((zs_isa)isa), b_sparse);
        setenv("ZS_PLAN_CONV_DENSE_ABOVE", "0", 1);
        ok = build_with_isa(net, (zs_isa)isa);
        unsetenv("ZS_PLAN_CONV_DENSE_ABOVE");
        size_t b0 = zs_plan_bytes(net);
        ok = ok && zs_plan_infer(net, NULL, x, N, dense) == ZS_OK;
        size_t b1 = zs_plan_bytes(net);
        CHECK(ok && b0 < b_sparse + 4096 && b1 > b0 + 100000, "%s [%s]: the dense-input taps packed on first need (%zu, %zu -> %zu bytes)",
              preset, zs_isa_name((zs_isa)isa), b_sparse, b0, b1);
        CHECK(ok && !memcmp(sparse, dense, sizeof sparse), "%s [%s]: dense-input taps give the sparse kernels' bits",
              preset, zs_isa_name((zs_isa)isa));
    }
    zs_plan_free(net);
    zs_net_free(net);
    free(x);
}

/* The crossover from measured times (zs_plan_dense_cross): the line
 * through the two sparse times meets the taps kernel's time; it is clipped
 * to [1, units]; sparse times that do not rise with the non-zeros (a burst
 * of another load during the sparser runs) give -1, "measure again",
 * never a crossover of 1 (before: every sample on the taps for good). */
static void dense_cross(void) {
    const int nz[2] = {1000, 2000};
    const double rising[3] = {10000, 20000, 40000}; /* 10 ns a non-zero from 0: the taps = 4000 */
    CHECK(zs_plan_dense_cross(rising, nz, 12544) == 4000, "crossover where the line meets the taps' time: %d",
          zs_plan_dense_cross(rising, nz, 12544));
    const double cheap_taps[3] = {15000, 20000, 8000}, dear_taps[3] = {10000, 20000, 1e9};
    CHECK(zs_plan_dense_cross(cheap_taps, nz, 12544) == 1, "taps faster than the line at 0 non-zeros: 1");
    CHECK(zs_plan_dense_cross(dear_taps, nz, 12544) == 12544, "taps slower than every map: units (never)");
    const double burst[3] = {30000, 20000, 25000}, flat[3] = {20000, 20000, 25000};
    CHECK(zs_plan_dense_cross(burst, nz, 12544) == -1 && zs_plan_dense_cross(flat, nz, 12544) == -1,
          "sparse times that do not rise: -1 (measure again), not 1");
    const int same[2] = {1000, 1000};
    CHECK(zs_plan_dense_cross(rising, same, 12544) == -1, "one non-zero count twice: -1");
}

/* zs_plan_trace (the evidence a failing concurrency check prints): the
 * stages, the measured crossover, the lazily packed taps and boost factors
 * of a plan, each stage's output; it changes no answer; no plan or no
 * sample: refused. */
static void trace(void) {
    zs_net *net = NULL;
    if (zs_net_create_preset(&net, "gsc-sparse", 13) != ZS_OK) { CHECK(0, "create gsc-sparse"); return; }
    warm_up(net, 1024, 12);
    float *x = malloc(sizeof(float) * 1024 * 2), a[24], b[24];
    fill_inputs(x, 1024 * 2);
    CHECK(zs_plan_trace(net, x, stdout) == ZS_EINVAL, "trace: no plan built yet: refused");
    setenv("ZS_PLAN_CONV_DENSE_ABOVE", "0", 1); /* every sample on the dense-input taps */
    int ok = zs_net_infer(net, x, 2, a) == ZS_OK;
    unsetenv("ZS_PLAN_CONV_DENSE_ABOVE");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ok = ok && f && zs_plan_trace(net, x + 1024, f) == ZS_OK;
    if (f) fclose(f);
    ok = ok && buf && strstr(buf, "conv_kwta_pool") && strstr(buf, "dense_above 1 ") && strstr(buf, " taps ") &&
         strstr(buf, " boost [") && strstr(buf, "logsoftmax") && strstr(buf, "non-finite 0");
    CHECK(ok, "trace names the stages, the crossover, the packed taps and the boost factors:\n%s", buf ? buf : "");
    CHECK(zs_net_infer(net, x, 2, b) == ZS_OK && !memcmp(a, b, sizeof a), "trace: the answers unchanged after it");
    CHECK(zs_plan_trace(net, NULL, stdout) == ZS_EINVAL && zs_plan_trace(NULL, x, stdout) == ZS_EINVAL,
          "trace: no sample or no network: refused");
    free(buf);
    free(x);
    zs_net_free(net);
}

static void unsupported(void) {
    static const char *archs[] = {
        /* local k-WTA */
        "{\"name\":\"t1\",\"input\":[1,8,8],\"layers\":[{\"type\":\"conv2d\",\"name\":\"c\",\"out_channels\":4,"
        "\"kernel\":3},{\"type\":\"kwinners2d\",\"name\":\"k\",\"percent_on\":0.5,\"local\":true},"
        "{\"type\":\"flatten\",\"name\":\"f\"},{\"type\":\"linear\",\"name\":\"o\",\"out_features\":3},"
        "{\"type\":\"logsoftmax\",\"name\":\"s\"}]}",
        /* strided conv */
        "{\"name\":\"t2\",\"input\":[1,8,8],\"layers\":[{\"type\":\"conv2d\",\"name\":\"c\",\"out_channels\":4,"
        "\"kernel\":3,\"stride\":2},{\"type\":\"flatten\",\"name\":\"f\"},{\"type\":\"linear\",\"name\":\"o\","
        "\"out_features\":3},{\"type\":\"logsoftmax\",\"name\":\"s\"}]}",
    };
    for (size_t a = 0; a < sizeof archs / sizeof archs[0]; a++) {
        zs_net *net = NULL;
        if (zs_net_create_json(&net, archs[a], 1) != ZS_OK) { CHECK(0, "create: %s", zs_last_error()); continue; }
        CHECK(zs_plan_build(net) == ZS_EUNSUPPORTED, "arch %zu: plan says unsupported", a);
        CHECK(net->kernels == NULL, "arch %zu: no half-built plan", a);
        float x[64], lp[3], lr[3];
        fill_inputs(x, 64);
        CHECK(zs_net_infer(net, x, 1, lp) == ZS_OK, "arch %zu: zs_net_infer falls back: %s", a, zs_last_error());
        zs_net_set_dense(net, 1);
        CHECK(zs_net_infer(net, x, 1, lr) == ZS_OK && !memcmp(lp, lr, sizeof lp), "arch %zu: fallback == reference", a);
        zs_net_free(net);
    }
}

/* A padded, dropout, relu-without-pool, non-2x2-pool architecture through the plan. */
static void odd_arch(void) {
    const char *arch =
        "{\"name\":\"t3\",\"input\":[2,11,13],\"layers\":["
        "{\"type\":\"conv2d\",\"name\":\"c1\",\"out_channels\":5,\"kernel\":[3,4],\"padding\":1,\"weight_sparsity\":0.5},"
        "{\"type\":\"batchnorm\",\"name\":\"b1\",\"affine\":true},{\"type\":\"relu\",\"name\":\"r1\"},"
        "{\"type\":\"maxpool2d\",\"name\":\"p1\",\"kernel\":3,\"stride\":2},"
        "{\"type\":\"conv2d\",\"name\":\"c2\",\"out_channels\":17,\"kernel\":3,\"padding\":2,\"weight_sparsity\":0.7},"
        "{\"type\":\"kwinners2d\",\"name\":\"k2\",\"percent_on\":0.2,\"boost_strength\":1.0},"
        "{\"type\":\"dropout\",\"name\":\"d\",\"p\":0.3},{\"type\":\"flatten\",\"name\":\"f\"},"
        "{\"type\":\"linear\",\"name\":\"l\",\"out_features\":33,\"weight_sparsity\":0.8},"
        "{\"type\":\"batchnorm\",\"name\":\"b3\",\"affine\":true},{\"type\":\"kwinners\",\"name\":\"k3\",\"percent_on\":0.25},"
        "{\"type\":\"linear\",\"name\":\"o\",\"out_features\":5},{\"type\":\"logsoftmax\",\"name\":\"s\"}]}";
    zs_net *net = NULL;
    if (zs_net_create_json(&net, arch, 3) != ZS_OK) { CHECK(0, "create odd arch: %s", zs_last_error()); return; }
    warm_up(net, 2 * 11 * 13, 5);
    float x[2 * 11 * 13 * 8], ref[5 * 8], got[5 * 8];
    fill_inputs(x, sizeof x / sizeof x[0]);
    zs_net_set_dense(net, 1);
    CHECK(zs_net_infer(net, x, 8, ref) == ZS_OK, "odd arch reference");
    zs_net_set_dense(net, 0);
    for (int isa = ZS_ISA_SCALAR; isa <= (int)zs_isa_cpu(); isa++) {
        CHECK(build_with_isa(net, (zs_isa)isa), "odd arch plan (%s): %s", zs_isa_name((zs_isa)isa), zs_last_error());
        CHECK(zs_plan_infer(net, NULL, x, 8, got) == ZS_OK, "odd arch infer");
        CHECK_CLOSE(got, ref, 5 * 8, 2e-3, 2e-3, "odd arch (pad, affine BN, relu, 3x3/2 pool, dropout) vs reference");
    }
    zs_net_free(net);
}

typedef struct { zs_net *net; const float *x; float *out; int n; zs_status st; } job;
static void *run_job(void *a) {
    job *j = a;
    for (int r = 0; r < 3; r++) j->st = zs_net_infer(j->net, j->x, j->n, j->out);
    return NULL;
}

static void concurrent(void) {
    enum { NN = 4, N = 6 };
    zs_net *nets[NN] = {0};
    float *x = malloc(sizeof(float) * 1024 * N), seq[NN][12 * N], par[NN][12 * N];
    fill_inputs(x, 1024 * N);
    for (int i = 0; i < NN; i++) {
        if (zs_net_create_preset(&nets[i], i % 2 ? "gsc-sparse-fast" : "gsc-sparse", 100 + i) != ZS_OK) {
            CHECK(0, "create: %s", zs_last_error());
            goto out;
        }
        CHECK(zs_net_infer(nets[i], x, N, seq[i]) == ZS_OK, "sequential infer");
    }
    pthread_t th[NN];
    job jobs[NN];
    for (int i = 0; i < NN; i++) {
        jobs[i] = (job){nets[i], x, par[i], N, ZS_OK};
        pthread_create(&th[i], NULL, run_job, &jobs[i]);
    }
    for (int i = 0; i < NN; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < NN; i++)
        CHECK(jobs[i].st == ZS_OK && !memcmp(seq[i], par[i], sizeof seq[i]), "network %d in a thread == sequential", i);
out:
    for (int i = 0; i < NN; i++) zs_net_free(nets[i]);
    free(x);
}

/* One executor serving networks of different architectures in turn (the
 * largest scratch first needed last, so it grows): every answer is the one
 * the network gives in its own executor, bit for bit; once grown it holds
 * at least each plan's need and does not grow again; two threads, each with
 * one executor for two networks, give the same answers too. */
typedef struct { zs_net *a, *b; zs_exec *e; const float *xa, *xb; float *oa, *ob; int n; zs_status st; } ejob;
static void *run_ejob(void *v) {
    ejob *j = v;
    for (int r = 0; r < 3 && j->st == ZS_OK; r++) {
        j->st = zs_net_infer_with(j->a, j->e, j->xa, j->n, j->oa);
        if (j->st == ZS_OK) j->st = zs_net_infer_with(j->b, j->e, j->xb, j->n, j->ob);
    }
    return NULL;
}

static void shared_exec(void) {
    enum { NN = 4, N = 5 };
    static const char *pre[NN] = {"mnist-sparse-mlp", "gsc-sparse-fast", "gsc-sparse", "mnist-sparse-mlp"};
    zs_net *nets[NN] = {0};
    float *x[NN] = {0}, *own[NN] = {0}, *got[NN] = {0};
    int K[NN];
    size_t need[NN], most = 0;
    zs_exec *e = NULL;
    CHECK(zs_exec_create(NULL) == ZS_EINVAL && zs_exec_bytes(NULL) == 0, "zs_exec_create(NULL), zs_exec_bytes(NULL)");
    zs_exec_free(NULL);
    for (int i = 0; i < NN; i++) {
        if (zs_net_create_preset(&nets[i], pre[i], 300 + i) != ZS_OK) { CHECK(0, "create: %s", zs_last_error()); goto out; }
        int c, h, w;
        zs_net_input_shape(nets[i], &c, &h, &w);
        size_t insz = (size_t)c * h * w;
        K[i] = zs_net_num_classes(nets[i]);
        warm_up(nets[i], insz, K[i]);
        x[i] = malloc(sizeof(float) * insz * N);
        own[i] = malloc(sizeof(float) * (size_t)K[i] * N);
        got[i] = malloc(sizeof(float) * (size_t)K[i] * N);
        fill_inputs(x[i], insz * N);
        CHECK(zs_net_infer(nets[i], x[i], N, own[i]) == ZS_OK, "own executor: %s", zs_last_error());
        CHECK(zs_net_scratch_bytes(nets[i], &need[i]) == ZS_OK && need[i] > 0, "%s: scratch bytes", pre[i]);
        if (need[i] > most) most = need[i];
    }
    CHECK(need[2] > need[0], "gsc-sparse needs more scratch (%zu) than the MLP (%zu)", need[2], need[0]);
    CHECK(zs_exec_create(&e) == ZS_OK && zs_exec_bytes(e) == 0, "an executor starts empty");
    size_t grown = 0;
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < NN; i++) {
            CHECK(zs_net_infer_with(nets[i], e, x[i], N, got[i]) == ZS_OK, "infer_with: %s", zs_last_error());
            CHECK(!memcmp(got[i], own[i], sizeof(float) * (size_t)K[i] * N),
                  "round %d, %s in a shared executor == in its own", r, pre[i]);
        }
        if (r == 0) grown = zs_exec_bytes(e);
        else CHECK(zs_exec_bytes(e) == grown, "the executor grows once (%zu, now %zu)", grown, zs_exec_bytes(e));
    }
    CHECK(grown >= most, "the executor holds the largest need (%zu >= %zu)", grown, most);
    /* two threads, one executor each, serving two networks each */
    {
        zs_exec *te[2] = {0};
        float *pa[NN];
        for (int i = 0; i < NN; i++) pa[i] = malloc(sizeof(float) * (size_t)K[i] * N);
        ejob jobs[2];
        pthread_t th[2];
        for (int t = 0; t < 2; t++) {
            CHECK(zs_exec_create(&te[t]) == ZS_OK, "create");
            jobs[t] = (ejob){nets[t], nets[t + 2], te[t], x[t], x[t + 2], pa[t], pa[t + 2], N, ZS_OK};
            pthread_create(&th[t], NULL, run_ejob, &jobs[t]);
        }
        for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
        for (int t = 0; t < 2; t++) CHECK(jobs[t].st == ZS_OK, "thread %d: %s", t, zs_last_error());
        for (int i = 0; i < NN; i++)
            CHECK(!memcmp(pa[i], own[i], sizeof(float) * (size_t)K[i] * N), "%s: threads with shared executors", pre[i]);
        for (int i = 0; i < NN; i++) free(pa[i]);
        zs_exec_free(te[0]); zs_exec_free(te[1]);
    }
out:
    zs_exec_free(e);
    for (int i = 0; i < NN; i++) { zs_net_free(nets[i]); free(x[i]); free(own[i]); free(got[i]); }
}

/* fp32 winner sets: the top k-WTA's winners of every sample through the
 * plan of the packed model (its linear layer read in place, BatchNorm
 * after the sum; every ISA) are the reference path's, unit for unit. */
static void winner_sets(const char *preset) {
    size_t insz;
    int K, kw = -1, lo = -1;
    zs_net *net = warmed_preset(preset, 11, &insz, &K);
    if (!net) return;
    for (int i = net->n_layers - 1; i >= 0 && kw < 0; i--)
        if (net->layers[i].type == ZS_KWINNERS) kw = i;
    for (int i = kw; i >= 0 && lo < 0; i--)
        if (net->layers[i].type == ZS_LINEAR) lo = i;
    CHECK(kw > 0 && lo >= 0, "%s: a linear layer under a k-WTA", preset);
    if (kw <= 0 || lo < 0) { zs_net_free(net); return; }
    float *x = malloc(sizeof(float) * insz * NS), *lp = malloc(sizeof(float) * (size_t)K);
    fill_inputs(x, insz * NS);
    CHECK(zs_net_reserve(net, NS) == ZS_OK, "reserve");
    net->training = 0;
    zs_net_forward_ref(net, x, NS);
    const zs_layer *L = &net->layers[kw];
    int kmax = L->win.kmax;
    int32_t *ref = malloc(sizeof(int32_t) * (size_t)kmax * NS), cnt[NS];
    for (int s = 0; s < NS; s++) {
        cnt[s] = L->win.count[s];
        memcpy(ref + (size_t)s * kmax, L->win.idx + (size_t)s * kmax, sizeof(int32_t) * (size_t)cnt[s]);
    }
    CHECK(zs_net_pack(net) == ZS_OK && net->layers[lo].pcol, "%s: packed, the linear layer input-major", preset);
    /* the default (timed) choice, then each packed-layer kernel forced */
    static const char *lin[] = {NULL, "list", "expand"};
    for (int isa = ZS_ISA_SCALAR; isa <= ZS_ISA_AVX512 * 3 + 2; isa++) {
        int is = isa % (ZS_ISA_AVX512 + 1), fl = isa / (ZS_ISA_AVX512 + 1);
        if (is > (int)zs_isa_cpu()) continue;
        if (lin[fl]) setenv("ZS_PLAN_LINEAR", lin[fl], 1);
        int ok = build_with_isa(net, (zs_isa)is);
        unsetenv("ZS_PLAN_LINEAR");
        if (!ok || !zs_plan_can_keep(net, lo)) {
            CHECK(0, "%s: plan (%s) that keeps layer %d: %s", preset, zs_isa_name((zs_isa)is), lo, zs_last_error());
            continue;
        }
        char tag[64];
        snprintf(tag, sizeof tag, "%s%s%s", zs_isa_name((zs_isa)is), lin[fl] ? ", ZS_PLAN_LINEAR=" : "", lin[fl] ? lin[fl] : "");
        CHECK(zs_plan_linear_shared(net, lo), "%s [%s]: the plan reads the packed linear layer in place", preset, tag);
        CHECK(zs_net_reserve(net, NS) == ZS_OK, "reserve");
        int same = 0;
        for (int s = 0; s < NS; s++) {
            CHECK(zs_plan_forward_keep(net, x + (size_t)s * insz, s, lp, lo) == ZS_OK, "forward_keep: %s",
                  zs_last_error());
            same += L->win.count[s] == cnt[s] &&
                    !memcmp(L->win.idx + (size_t)s * L->win.kmax, ref + (size_t)s * kmax, sizeof(int32_t) * (size_t)cnt[s]);
        }
        CHECK(same == NS, "%s [%s]: winner sets of '%s' identical to the reference on %d of %d samples", preset, tag,
              L->name, same, NS);
    }
    free(x); free(lp); free(ref);
    zs_net_free(net);
}

/* Kernel choice by measurement (calibrate_one): the plan times its
 * alternatives over its first samples (the first sample kept and rerun with
 * each alternative), then keeps one. The answers are the same bits during
 * and after, also for the first sample (its log-probabilities are not those
 * of the rerun's buffer); the plan describes what it measured once done. */
static void calibration(const char *preset) {
    size_t insz;
    int K;
    zs_net *net = warmed_preset(preset, 11, &insz, &K);
    if (!net) return;
    enum { NX = 7, ROUNDS = 40 }; /* 280 samples: past any plan's calibration */
    float *x = malloc(sizeof(float) * insz * NX), *first = malloc(sizeof(float) * K * NX);
    float *got = malloc(sizeof(float) * K * NX);
    fill_inputs(x, insz * NX);
    CHECK(zs_plan_build(net) == ZS_OK, "%s: plan: %s", preset, zs_last_error());
    char *desc = NULL;
    size_t dlen = 0;
    FILE *f = open_memstream(&desc, &dlen);
    zs_plan_describe(net, f);
    fclose(f);
    int alts = desc && strstr(desc, "being measured on the first samples") != NULL;
    free(desc);
    int same = 1, r;
    for (r = 0; r < ROUNDS; r++)
        for (int i = 0; i < NX; i++) {
            float *o = r == 0 ? first + (size_t)i * K : got + (size_t)i * K;
            if (zs_net_infer(net, x + insz * i, 1, o) != ZS_OK) { same = 0; break; }
            if (r > 0 && memcmp(o, first + (size_t)i * K, sizeof(float) * (size_t)K)) same = 0;
        }
    CHECK(same, "%s: the same input gives the same bits during and after the kernel measurement", preset);
    desc = NULL;
    f = open_memstream(&desc, &dlen);
    zs_plan_describe(net, f);
    fclose(f);
    CHECK(!alts || (desc && strstr(desc, "measured on the first samples") && !strstr(desc, "being measured")),
          "%s: the plan has measured its alternatives after %d samples", preset, ROUNDS * NX);
    CHECK(alts, "%s: the plan has kernel alternatives to measure", preset);
    free(desc);
    free(x); free(first); free(got);
    zs_net_free(net);
}

/* zs_net_prepare: the plan built and its kernel choice finished on one
 * sample before any inference (the describe says so at once), in a given
 * executor or the network's own; the answers are the same bits as a twin
 * that measured on the samples it served; bad arguments and NaN refused;
 * a network forced dense is left alone. */
static void prepared(void) {
    zs_net *a = NULL, *b = NULL;
    if (zs_net_load(&a, "models/gsc-sparse.safetensors") != ZS_OK || zs_net_load(&b, "models/gsc-sparse.safetensors") != ZS_OK) {
        CHECK(0, "load models/gsc-sparse.safetensors: %s", zs_last_error());
        zs_net_free(a);
        zs_net_free(b);
        return;
    }
    int c, h, w, K = zs_net_num_classes(a);
    zs_net_input_shape(a, &c, &h, &w);
    const size_t insz = (size_t)c * h * w;
    enum { NX = 40 };
    float *x = malloc(sizeof(float) * insz * NX), *oa = malloc(sizeof(float) * (size_t)K), *ob = malloc(sizeof(float) * (size_t)K);
    fill_inputs(x, insz * NX);
    zs_exec *e = NULL;
    CHECK(zs_exec_create(&e) == ZS_OK, "executor");
    CHECK(zs_net_prepare(a, e, x + insz) == ZS_OK, "prepare: %s", zs_last_error());
    char *desc = NULL;
    size_t dlen = 0;
    FILE *f = open_memstream(&desc, &dlen);
    zs_plan_describe(a, f);
    fclose(f);
    CHECK(desc && strstr(desc, "measured on the first samples") && !strstr(desc, "being measured"),
          "prepared: the kernel choice is made before any inference");
    free(desc);
    CHECK(zs_exec_bytes(e) > 0, "prepared in the given executor (%zu bytes)", zs_exec_bytes(e));
    CHECK(zs_net_prepare(a, NULL, x) == ZS_OK, "prepare again: a no-op");
    int same = 1;
    for (int i = 0; i < NX; i++) {
        same &= zs_net_infer_with(a, e, x + insz * i, 1, oa) == ZS_OK && zs_net_infer(b, x + insz * i, 1, ob) == ZS_OK;
        same &= !memcmp(oa, ob, sizeof(float) * (size_t)K);
    }
    CHECK(same, "prepared and measuring-while-serving twins give the same bits on %d samples", NX);
    CHECK(zs_net_prepare(NULL, NULL, x) == ZS_EINVAL && zs_net_prepare(a, NULL, NULL) == ZS_EINVAL, "bad arguments refused");
    x[5] = NAN;
    CHECK(zs_net_prepare(b, NULL, x) == ZS_ENUMERIC, "NaN input refused");
    x[5] = 0.0f;
    zs_net_set_dense(b, 1);
    CHECK(zs_net_prepare(b, NULL, x) == ZS_OK, "forced dense: nothing to prepare");
    zs_exec_free(e);
    free(x); free(oa); free(ob);
    zs_net_free(a);
    zs_net_free(b);
}

/* zs_net_set_int8_weights on the shipped gsc-sparse and the bench's real
 * features (bench/data): conv2 runs conv_sparse_tap_q8 on every ISA, the
 * plan holds >= 300 KB less (its int8 rows instead of 409,600 bytes of
 * fp32), batch n == n batches of 1 bit for bit, and top-1 agrees with the
 * exact fp32 plan on >= 98 % of these clips (252 of 256 measured: real
 * command words, mostly "unknown", where the network is least sure;
 * 99.75 % of the test split, docs/RESULTS.md); switched off, the plan is the fp32 one again, the
 * same bits as a network never switched. */
static void int8_weights(void) {
    zs_net *a = NULL, *b = NULL;
    zs_dataset *ds = NULL;
    if (zs_net_load(&a, "models/gsc-sparse.safetensors") != ZS_OK || zs_net_load(&b, "models/gsc-sparse.safetensors") != ZS_OK ||
        zs_dataset_load(&ds, "bench/data/gsc_test_256.safetensors") != ZS_OK) {
        CHECK(0, "load the shipped model and bench/data features: %s", zs_last_error());
        zs_net_free(a); zs_net_free(b); zs_dataset_free(ds);
        return;
    }
    const int n = zs_dataset_size(ds), K = zs_net_num_classes(a);
    const float *x = zs_dataset_features_const(ds);
    int c, h, w;
    zs_net_input_shape(a, &c, &h, &w);
    const size_t insz = (size_t)c * h * w;
    float *ra = malloc(sizeof(float) * (size_t)K * n), *rb = malloc(sizeof(float) * (size_t)K * n);
    float *one = malloc(sizeof(float) * (size_t)K * n);
    size_t pa = 0, pb = 0;
    CHECK(zs_net_infer(a, x, n, ra) == ZS_OK && zs_net_memory(a, &pa, NULL) == ZS_OK, "fp32 plan: %s", zs_last_error());
    zs_net_set_int8_weights(b, 1);
    for (int isa = ZS_ISA_SCALAR; isa <= ZS_ISA_AVX512; isa++) {
        if (isa > (int)zs_isa_cpu()) continue;
        const char *in = zs_isa_name((zs_isa)isa);
        if (!build_with_isa(b, (zs_isa)isa)) {
            CHECK(0, "int8 plan build (%s): %s", in, zs_last_error());
            continue;
        }
        const int vn = isa == ZS_ISA_AVX512 && zs_cpu_avx512_vnni();
        CHECK(plan_has(b, "conv_sparse_tap_q8") && plan_has(b, "conv_sparse_vnni") == vn,
              "[%s] int8 weights: conv2 on conv_sparse_tap_q8%s", in, vn ? " and conv_sparse_vnni timed" : "");
        CHECK(zs_net_infer(b, x, n, rb) == ZS_OK, "int8 infer: %s", zs_last_error());
        /* after the kernel choice (256 samples): one int8 layout left */
        pb = 0;
        CHECK(zs_net_memory(b, &pb, NULL) == ZS_OK && pb + 300000 <= pa, "[%s] int8 plan %zu bytes, fp32 %zu", in, pb, pa);
        int agree = 0;
        for (int i = 0; i < n; i++) agree += argmax(ra + (size_t)i * K, K) == argmax(rb + (size_t)i * K, K);
        CHECK(agree * 100 >= 98 * n, "[%s] int8 weights: top-1 as fp32 on %d of %d real clips", in, agree, n);
        printf("int8 weights [%s]: plan %zu bytes (fp32 %zu), top-1 as fp32 on %d/%d\n", in, pb, pa, agree, n);
        for (int i = 0; i < n; i++)
            CHECK(zs_net_infer(b, x + insz * i, 1, one + (size_t)i * K) == ZS_OK, "int8 infer 1");
        CHECK(!memcmp(one, rb, sizeof(float) * (size_t)K * n), "[%s] int8: batch of %d == %d batches of 1", in, n, n);
    }
    zs_net_set_int8_weights(b, 0);
    CHECK(zs_net_infer(b, x, n, rb) == ZS_OK && !memcmp(ra, rb, sizeof(float) * (size_t)K * n),
          "int8 weights off again: the fp32 plan's bits");
    free(ra); free(rb); free(one);
    zs_dataset_free(ds);
    zs_net_free(a);
    zs_net_free(b);
}

int main(void) {
    zs_rng_seed(&rng, 2024);
    static const char *presets[] = {"gsc-sparse", "gsc-dense", "gsc-supersparse", "gsc-sparse-fast",
                                    "gsc-codesigned", "gsc-routed", "mnist-mlp", "mnist-sparse-mlp"};
    static const int dense[] = {0, 1, 0, 0, 0, 0, 1, 0};
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) compare_preset(presets[i], dense[i]);
    variants("gsc-sparse");
    variants("gsc-sparse-fast");
    pool_first_fused("gsc-sparse-fast");
    pool_first_fused("gsc-codesigned");
    routed();
    calibration("gsc-sparse");
    prepared();
    int8_weights();
    dense_fallback("gsc-sparse");
    dense_cross();
    trace();
    winner_sets("gsc-sparse");
    winner_sets("mnist-sparse-mlp");
    odd_arch();
    unsupported();
    concurrent();
    shared_exec();
    return check_finish("test_plan");
}
