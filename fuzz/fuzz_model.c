/*
 * fuzz_model.c — libFuzzer target for the whole model loader from memory
 * (zs_net_load_mem: safetensors container, "arch" and "classes" metadata,
 * checkpoint "train_state", every tensor's name, dtype, shape and values).
 *
 * A rejected input must leave *out NULL and a message. An accepted model
 * must pass fuzz_net_check.h (shapes chain, counts in range, small ones
 * run inference and an SGD step; as the loader refuses NaN/Inf weights,
 * inference may fail only with ZS_ENUMERIC when finite weights overflow).
 * Accepted models also round-trip: saved
 * to a file under /dev/shm (or $TMPDIR) and loaded again, they answer
 * bit-identically. Invariant broken: __builtin_trap().
 *
 * Memory: as fuzz_arch.c, single allocations over 256 MiB fail (ZS_ENOMEM
 * expected) when run under libFuzzer.
 *
 * tests/test_fuzz_replay2.c includes this file with ZS_FUZZ_NO_MAIN.
 */
#include "fuzz_main.h"
#include "zeroskip.h"
#include "fuzz_net_check.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef ZS_FUZZ_ASSERT
#define ZS_FUZZ_ASSERT(c) do { if (!(c)) __builtin_trap(); } while (0)
#endif

static char zs_fuzz_model_path[300];

static void zs_fuzz_model_cleanup(void) {
    if (zs_fuzz_model_path[0]) unlink(zs_fuzz_model_path);
}

static void zs_fuzz_model_roundtrip(zs_net *net) {
    if (!zs_fuzz_model_path[0]) {
        const char *t = getenv("TMPDIR");
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (t && *t ? t : "/tmp");
        snprintf(zs_fuzz_model_path, sizeof zs_fuzz_model_path, "%s/zs_fuzz_model_%ld.st", dir, (long)getpid());
        atexit(zs_fuzz_model_cleanup);
    }
    zs_status st = zs_net_save(net, zs_fuzz_model_path);
    if (st == ZS_EIO) return; /* disk trouble is not the loader's fault */
    ZS_FUZZ_ASSERT(st == ZS_OK);
    zs_net *back = NULL;
    st = zs_net_load(&back, zs_fuzz_model_path);
    ZS_FUZZ_ASSERT(st == ZS_OK || st == ZS_ENOMEM);
    if (st != ZS_OK) return;
    ZS_FUZZ_ASSERT(zs_net_num_layers(back) == zs_net_num_layers(net));
    ZS_FUZZ_ASSERT(zs_net_num_classes(back) == zs_net_num_classes(net));
    for (int i = 0; i < zs_net_num_classes(net); i++)
        ZS_FUZZ_ASSERT(strcmp(zs_net_class_name(back, i), zs_net_class_name(net, i)) == 0);
    int c, h, w, K = zs_net_num_classes(net);
    zs_net_input_shape(net, &c, &h, &w);
    size_t insz = (size_t)c * h * w;
    if (insz <= (1 << 16)) {
        float *x = malloc(sizeof(float) * insz), *a = malloc(sizeof(float) * K), *b = malloc(sizeof(float) * K);
        ZS_FUZZ_ASSERT(x && a && b);
        for (size_t i = 0; i < insz; i++) x[i] = (float)((int)(i % 13) - 6) * 0.25f;
        zs_net_set_dense(net, 1);
        zs_net_set_dense(back, 1);
        zs_status s1 = zs_net_infer(net, x, 1, a), s2 = zs_net_infer(back, x, 1, b);
        ZS_FUZZ_ASSERT(s1 == s2);
        if (s1 == ZS_OK) ZS_FUZZ_ASSERT(memcmp(a, b, sizeof(float) * K) == 0);
        free(x);
        free(a);
        free(b);
    }
    zs_net_free(back);
}

/* Returns 1 if the model loaded, 0 if it was rejected. */
int zs_fuzz_model(const uint8_t *data, size_t size) {
    zs_net *net = (zs_net *)&net; /* poison: must be overwritten */
    zs_status st = zs_net_load_mem(&net, data, size);
    if (st != ZS_OK) {
        ZS_FUZZ_ASSERT(net == NULL && zs_last_error()[0] != '\0');
        return 0;
    }
    ZS_FUZZ_ASSERT(net != NULL);
    zs_fuzz_model_roundtrip(net); /* before check_net trains it */
    zs_fuzz_check_net(net);
    zs_net_free(net);
    return 1;
}

#ifndef ZS_FUZZ_NO_MAIN
ZS_FUZZ_ASAN_NULL_ON_HUGE
ZS_FUZZ_MAIN(zs_fuzz_model)
#endif
