/*
 * fuzz_arch.c — libFuzzer target for the JSON architecture parser
 * (zs_net_create_json, the text behind --arch and a model's "arch").
 *
 * The input is the JSON text (NUL-terminated copy). A rejected input must
 * leave *out NULL and a message; an accepted one must pass
 * fuzz_net_check.h (shapes chain, counts in range) and, when small, run
 * inference and an SGD step. The same JSON with another seed must give the
 * same architecture. Invariant broken: __builtin_trap().
 *
 * Memory: an architecture may legally ask for a lot (up to the per-layer
 * limits). Run under libFuzzer, this target caps single allocations at
 * 256 MiB (__asan_default_options below) so that asking for more is an
 * allocation failure the library must turn into ZS_ENOMEM, not a crash.
 *
 * tests/test_fuzz_replay2.c includes this file with ZS_FUZZ_NO_MAIN.
 */
#include "fuzz_main.h"
#include "zeroskip.h"
#include "fuzz_net_check.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef ZS_FUZZ_ASSERT
#define ZS_FUZZ_ASSERT(c) do { if (!(c)) __builtin_trap(); } while (0)
#endif

/* Returns 1 if the architecture was accepted, 0 if it was rejected. */
int zs_fuzz_arch(const uint8_t *data, size_t size) {
    if (size > (1 << 20)) return 0;
    char *json = malloc(size + 1);
    if (!json) return 0;
    memcpy(json, data, size);
    json[size] = '\0';
    zs_net *net = (zs_net *)&net; /* poison: must be overwritten */
    zs_status st = zs_net_create_json(&net, json, 1);
    if (st != ZS_OK) {
        ZS_FUZZ_ASSERT(net == NULL && zs_last_error()[0] != '\0');
        free(json);
        return 0;
    }
    ZS_FUZZ_ASSERT(net != NULL);
    /* Seed changes weights, never the architecture. */
    zs_net *again = NULL;
    st = zs_net_create_json(&again, json, 2);
    ZS_FUZZ_ASSERT(st == ZS_OK || st == ZS_ENOMEM);
    if (st == ZS_OK) {
        ZS_FUZZ_ASSERT(zs_net_num_layers(again) == zs_net_num_layers(net));
        ZS_FUZZ_ASSERT(zs_net_num_classes(again) == zs_net_num_classes(net));
        for (int i = 0; i < zs_net_num_layers(net); i++) {
            zs_layer_info a, b;
            ZS_FUZZ_ASSERT(zs_net_layer_info(net, i, &a) == ZS_OK && zs_net_layer_info(again, i, &b) == ZS_OK);
            ZS_FUZZ_ASSERT(a.type == b.type && a.out_c == b.out_c && a.out_h == b.out_h && a.out_w == b.out_w &&
                           a.params == b.params && a.weight_nonzeros == b.weight_nonzeros && a.k == b.k &&
                           a.k_inference == b.k_inference && strcmp(a.name, b.name) == 0);
        }
        zs_net_free(again);
    }
    zs_fuzz_check_net(net);
    zs_net_free(net);
    free(json);
    return 1;
}

#ifndef ZS_FUZZ_NO_MAIN
ZS_FUZZ_ASAN_NULL_ON_HUGE
ZS_FUZZ_MAIN(zs_fuzz_arch)
#endif
