/*
 * fuzz_net_check.h — what the network fuzz targets (fuzz_arch.c,
 * fuzz_model.c) assert about any network the library accepted:
 *  - layer shapes chain (each layer's input is the previous output), every
 *    count is in range, the last layer gives num_classes, class names exist;
 *  - zs_net_describe works;
 *  - small networks (parameters, activations and multiply-adds bounded so
 *    one run stays in milliseconds) also run: inference on 2 samples
 *    through the sparse plan and the dense path gives finite log-probs
 *    whose exp sums to 1 per sample, and (logsoftmax last) one SGD step
 *    succeeds or reports ZS_ENUMERIC.
 * A broken invariant calls __builtin_trap(). Header-only (static), so both
 * targets can be included into one replay test.
 */
#ifndef ZS_FUZZ_NET_CHECK_H
#define ZS_FUZZ_NET_CHECK_H
#include "zeroskip.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ZS_FUZZ_ASSERT
#define ZS_FUZZ_ASSERT(c) do { if (!(c)) __builtin_trap(); } while (0)
#endif

#define ZS_FUZZ_RUN_PARAMS (1 << 18)  /* parameters of a network we run    */
#define ZS_FUZZ_RUN_ACTS (1 << 18)    /* activations per sample            */
#define ZS_FUZZ_RUN_MACS (1 << 23)    /* multiply-adds per sample          */

static FILE *zs_fuzz_devnull(void) {
    static FILE *f;
    if (!f) f = fopen("/dev/null", "w");
    return f;
}

/* Checks a network; returns 1 if it was small enough to run. */
static int zs_fuzz_check_net(zs_net *net) {
    int nl = zs_net_num_layers(net);
    ZS_FUZZ_ASSERT(nl >= 1 && nl <= ZS_MAX_LAYERS);
    int c, h, w;
    zs_net_input_shape(net, &c, &h, &w);
    ZS_FUZZ_ASSERT(c >= 1 && h >= 1 && w >= 1);
    int K = zs_net_num_classes(net);
    ZS_FUZZ_ASSERT(K >= 1 && K <= ZS_MAX_CLASSES);
    for (int i = 0; i < K; i++) ZS_FUZZ_ASSERT(zs_net_class_name(net, i) != NULL);
    ZS_FUZZ_ASSERT(zs_net_class_name(net, K) == NULL && zs_net_class_name(net, -1) == NULL);
    ZS_FUZZ_ASSERT(zs_net_arch_name(net) != NULL);
    int64_t params = 0, acts = 0, macs = 0;
    zs_layer_info li;
    for (int i = 0; i < nl; i++) {
        ZS_FUZZ_ASSERT(zs_net_layer_info(net, i, &li) == ZS_OK);
        ZS_FUZZ_ASSERT(li.name && li.name[0]);
        ZS_FUZZ_ASSERT(li.in_c == c && li.in_h == h && li.in_w == w);
        ZS_FUZZ_ASSERT(li.out_c >= 1 && li.out_h >= 1 && li.out_w >= 1);
        ZS_FUZZ_ASSERT(li.params >= 0 && li.nonzeros >= 0 && li.nonzeros <= li.params);
        ZS_FUZZ_ASSERT(li.weights >= 0 && li.weight_nonzeros >= 0 && li.weight_nonzeros <= li.weights);
        ZS_FUZZ_ASSERT(li.weight_sparsity >= 0.0f && li.weight_sparsity <= 1.0f);
        if (li.type == ZS_KWINNERS || li.type == ZS_KWINNERS2D) {
            int64_t pool = li.local ? li.in_c : (int64_t)li.in_c * li.in_h * li.in_w;
            ZS_FUZZ_ASSERT(li.k >= 1 && li.k_inference >= 1 && li.k_inference <= pool);
            ZS_FUZZ_ASSERT(isfinite(li.boost_strength) && li.boost_strength >= 0);
        }
        params += li.params;
        acts += (int64_t)li.out_c * li.out_h * li.out_w;
        if (li.type == ZS_CONV2D) macs += li.weights * li.out_h * li.out_w;
        else if (li.type == ZS_LINEAR) macs += li.weights;
        else macs += (int64_t)li.in_c * li.in_h * li.in_w;
        c = li.out_c; h = li.out_h; w = li.out_w;
    }
    ZS_FUZZ_ASSERT(h == 1 && w == 1 && c == K);
    ZS_FUZZ_ASSERT(zs_net_describe(net, zs_fuzz_devnull()) == ZS_OK);
    if (params > ZS_FUZZ_RUN_PARAMS || acts > ZS_FUZZ_RUN_ACTS || macs > ZS_FUZZ_RUN_MACS) return 0;

    /* Run it: 2 samples, a fixed pattern with both signs. */
    zs_net_input_shape(net, &c, &h, &w);
    size_t insz = (size_t)c * h * w;
    float *x = malloc(sizeof(float) * insz * 2), *lp = malloc(sizeof(float) * (size_t)K * 2);
    ZS_FUZZ_ASSERT(x && lp);
    for (size_t i = 0; i < insz * 2; i++) x[i] = (float)((int)(i * 7919 % 23) - 11) * 0.13f;
    for (int dense = 0; dense < 2; dense++) {
        zs_net_set_dense(net, dense);
        zs_status st = zs_net_infer(net, x, 2, lp);
        /* ENUMERIC: the weights overflow on this input (reported, not predicted) */
        ZS_FUZZ_ASSERT(st == ZS_OK || st == ZS_ENUMERIC);
        if (st != ZS_OK) continue;
        for (int n = 0; n < 2; n++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                ZS_FUZZ_ASSERT(isfinite(lp[n * K + k]) && lp[n * K + k] <= 1e-3f);
                s += exp((double)lp[n * K + k]);
            }
            ZS_FUZZ_ASSERT(fabs(s - 1.0) < 1e-3);
        }
    }
    zs_net_set_dense(net, 0);
    ZS_FUZZ_ASSERT(zs_net_layer_info(net, nl - 1, &li) == ZS_OK);
    int32_t y[2] = {0, K - 1};
    zs_sgd opt = {0.01f, 0.5f, 0.001f};
    float loss = 0;
    int correct = -1;
    zs_status st = zs_net_train_step(net, x, y, 2, &opt, &loss, &correct);
    if (li.type == ZS_LOGSOFTMAX) {
        ZS_FUZZ_ASSERT(st == ZS_OK || st == ZS_ENUMERIC);
        if (st == ZS_OK) ZS_FUZZ_ASSERT(isfinite(loss) && loss >= 0 && correct >= 0 && correct <= 2);
    } else {
        ZS_FUZZ_ASSERT(st == ZS_EUNSUPPORTED);
    }
    /* Still usable after training (the plan is rebuilt). */
    st = zs_net_infer(net, x, 1, lp);
    ZS_FUZZ_ASSERT(st == ZS_OK || st == ZS_ENUMERIC);
    free(x);
    free(lp);
    return 1;
}
#endif
