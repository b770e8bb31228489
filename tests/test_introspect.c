/*
 * test_introspect.c — the public measurement calls the CLI relies on
 * (zeroskip.h, "introspection and measurement"), through the public header
 * only: zs_net_cost counts exactly the useful multiply-adds (checked against
 * closed forms and against a count from zs_net_layer_info), zs_net_profile
 * reports every stage with the same MACs, zs_net_memory measures the packed
 * plan and the model, zs_net_plan_describe / zs_kernels_describe write text,
 * the per-core peaks are positive and cached, zs_set_error sets the message.
 * No speed is asserted.
 */
#include "check.h"
#include "zeroskip.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void fill(float *x, size_t n, uint64_t seed) {
    zs_rng r;
    zs_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = zs_rng_uniform(&r) * 4.0f - 2.0f + 1e-3f; /* never exactly 0 */
}

static char *capture(zs_status (*fn)(zs_net *, FILE *), zs_net *net, zs_status *st) {
    FILE *f = tmpfile();
    if (!f) return NULL;
    *st = fn(net, f);
    long n = ftell(f);
    char *buf = calloc((size_t)(n > 0 ? n : 0) + 1, 1);
    rewind(f);
    if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) buf[0] = 0;
    fclose(f);
    return buf;
}

int main(void) {
    zs_net *net = NULL;
    CHECK(zs_net_create_preset(&net, "gsc-sparse", 3) == ZS_OK, "gsc-sparse preset");
    if (!net) return check_finish("introspect");
    enum { N = 4 };
    float *x = malloc(sizeof(float) * N * 32 * 32);
    fill(x, N * 32 * 32, 7);

    /* zs_net_cost: conv1 sees a dense input -> 64 x 12 kept taps x 28 x 28 */
    zs_layer_cost c[8];
    int nc = 0;
    CHECK(zs_net_cost(net, x, N, c, 8, &nc) == ZS_OK && nc == 4, "cost: 4 conv/linear layers (%d)", nc);
    CHECK(!strcmp(c[0].name, "cnn1") && c[0].type == ZS_CONV2D, "cost: first layer cnn1");
    CHECK(c[0].macs == 64.0 * 12 * 28 * 28, "cost: cnn1 useful MACs %.0f", c[0].macs);
    CHECK(c[0].dense_macs == 64.0 * 25 * 28 * 28 && c[0].input_nonzero == 1.0, "cost: cnn1 dense MACs, density");
    CHECK(c[3].type == ZS_LINEAR && fabs(c[3].macs - 150.0 * 12) < 1e-9, "cost: output = 150 winners x 12");
    for (int i = 1; i < 3; i++)
        CHECK(c[i].macs > 0 && c[i].macs < c[i].dense_macs && c[i].input_nonzero > 0 && c[i].input_nonzero < 1,
              "cost: layer %d sparse on both sides", i);
    /* the linear layer: dense MACs = its weights (from zs_net_layer_info) */
    for (int i = 0; i < zs_net_num_layers(net); i++) {
        zs_layer_info li;
        if (zs_net_layer_info(net, i, &li) == ZS_OK && !strcmp(li.name, "linear"))
            CHECK(c[2].dense_macs == (double)li.weights, "cost: linear dense MACs = weights");
    }
    int only = 0;
    CHECK(zs_net_cost(net, x, N, c, 1, &only) == ZS_OK && only == 4, "cost: count reported beyond max");
    CHECK(zs_net_cost(net, x, 0, c, 8, &nc) == ZS_EINVAL && zs_last_error()[0], "cost: n = 0 refused");

    /* zs_net_profile: every stage, conv/linear stages carry the same MACs */
    zs_stage_profile sp[64];
    int ns = 0;
    CHECK(zs_net_profile(net, x, N, 1, sp, 64, &ns) == ZS_OK && ns > 4 && ns <= 64, "profile: %d stages", ns);
    double macs = 0, us = 0;
    int named = 1;
    for (int i = 0; i < ns && i < 64; i++) {
        macs += sp[i].macs_per_word;
        us += sp[i].us_per_word;
        if (!sp[i].name || !sp[i].layer || !sp[i].kernel || sp[i].bytes_per_word <= 0 || sp[i].us_per_word < 0)
            named = 0;
    }
    double total = 0;
    for (int i = 0; i < 4; i++) total += c[i].macs;
    CHECK(named, "profile: every stage named, with input bytes");
    CHECK(fabs(macs - total) < 1e-6 * total, "profile MACs %.0f = cost MACs %.0f", macs, total);
    CHECK(us > 0, "profile: time measured");
    CHECK(zs_net_profile(net, x, N, 0, sp, 64, &ns) == ZS_EINVAL, "profile: reps 0 refused");

    /* zs_net_memory: the plan holds at least every kept weight once */
    size_t plan = 0, model = 0;
    int64_t kept = 0, params = 0;
    for (int i = 0; i < zs_net_num_layers(net); i++) {
        zs_layer_info li;
        if (zs_net_layer_info(net, i, &li) == ZS_OK) kept += li.weight_nonzeros, params += li.params;
    }
    CHECK(zs_net_memory(net, &plan, &model) == ZS_OK, "memory");
    CHECK(plan >= 4 * (size_t)kept && model >= 4 * (size_t)params, "memory: plan %zu >= 4 x %lld kept, model %zu",
          plan, (long long)kept, model);
    CHECK(zs_net_memory(net, NULL, NULL) == ZS_OK && zs_net_memory(NULL, &plan, NULL) == ZS_EINVAL, "memory: NULLs");

    /* descriptions */
    zs_status st = ZS_EINVAL;
    char *d = capture(zs_net_plan_describe, net, &st);
    CHECK(st == ZS_OK && d && strstr(d, "inference plan") && strstr(d, "cnn1"), "plan described");
    free(d);
    FILE *f = tmpfile();
    zs_kernels_describe(f);
    CHECK(f && ftell(f) > 100, "kernels described");
    if (f) fclose(f);

    /* forced dense: no plan; cost counts every product */
    zs_net_set_dense(net, 1);
    d = capture(zs_net_plan_describe, net, &st);
    CHECK(st == ZS_EUNSUPPORTED, "dense: no plan to describe");
    free(d);
    CHECK(zs_net_profile(net, x, N, 1, sp, 64, &ns) == ZS_EUNSUPPORTED, "dense: no plan to profile");
    CHECK(zs_net_memory(net, &plan, &model) == ZS_OK && plan == 0, "dense: plan bytes 0");
    CHECK(zs_net_cost(net, x, N, c, 8, &nc) == ZS_OK && c[1].macs == c[1].dense_macs && c[1].input_nonzero == 1,
          "dense: every product counted");

    /* peaks: positive, finite, cached; vectors beat scalar code */
    for (int i = 0; i <= (int)zs_isa_cpu(); i++) {
        double p = zs_cpu_peak_gflops((zs_isa)i), b = zs_cpu_stream_gbps((zs_isa)i);
        CHECK(p > 0 && isfinite(p) && b > 0 && isfinite(b), "%s peak %.1f GFLOP/s, %.1f GB/s", zs_isa_name(i), p, b);
        CHECK(zs_cpu_peak_gflops((zs_isa)i) == p && zs_cpu_stream_gbps((zs_isa)i) == b, "%s peaks cached",
              zs_isa_name(i));
    }
    CHECK(zs_cpu_peak_gflops((zs_isa)(zs_isa_cpu() + 1)) == zs_cpu_peak_gflops(zs_isa_cpu()), "peak clamped to the CPU");

    /* zs_set_error */
    CHECK(zs_set_error(ZS_EIO, "x %d", 42) == ZS_EIO && !strcmp(zs_last_error(), "x 42"), "zs_set_error");

    zs_net_free(net);
    free(x);
    return check_finish("introspect");
}
