/*
 * fuzz_safetensors.c — libFuzzer target for zs_st_parse.
 *
 * Beyond "no crash": a file that parses must round-trip through the writer
 * (same names, dtypes, shapes, bytes and metadata), every tensor's bytes are
 * read (so ASan sees any out-of-range pointer), and a failure must leave a
 * zeroed struct and a message. An invariant broken calls __builtin_trap().
 *
 * Built by fuzz/Makefile.fuzz; tests/test_fuzz_replay.c includes this file
 * with ZS_FUZZ_NO_MAIN defined and replays fuzz/corpus/ without libFuzzer.
 */
#include "fuzz_main.h"
#include "safetensors.h"
#include "zs_internal.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef ZS_FUZZ_ASSERT
#define ZS_FUZZ_ASSERT(c) do { if (!(c)) __builtin_trap(); } while (0)
#endif

static uint64_t zs_fuzz_bytesum(const void *p, size_t n) {
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++) s += ((const uint8_t *)p)[i];
    return s;
}

/* Returns 1 if the input parsed, 0 if it was rejected. */
int zs_fuzz_safetensors(const uint8_t *data, size_t size) {
    zs_st_file f;
    zs_error_clear();
    zs_status st = zs_st_parse(&f, data, size);
    if (st != ZS_OK) {
        ZS_FUZZ_ASSERT(zs_last_error()[0] != '\0');
        ZS_FUZZ_ASSERT(f.n_tensors == 0 && !f.tensors && f.n_meta == 0 && !f.meta_keys && !f.owned);
        zs_st_free(&f);
        return 0;
    }
    ZS_FUZZ_ASSERT(f.n_tensors >= 0 && f.n_tensors <= ZS_MAX_TENSORS);
    uint64_t sum = 0;
    for (int i = 0; i < f.n_tensors; i++) {
        const zs_st_tensor *t = &f.tensors[i];
        ZS_FUZZ_ASSERT(t->ndim >= 0 && t->ndim <= ZS_ST_MAX_DIMS);
        ZS_FUZZ_ASSERT(t->numel <= ZS_MAX_ELEMENTS);
        ZS_FUZZ_ASSERT(t->nbytes == t->numel * zs_st_dtype_size(t->dtype));
        ZS_FUZZ_ASSERT((const uint8_t *)t->data >= data && (const uint8_t *)t->data + t->nbytes <= data + size);
        ZS_FUZZ_ASSERT(zs_st_find(&f, t->name) == t);
        sum += zs_fuzz_bytesum(t->data, t->nbytes);
    }
    for (int i = 0; i < f.n_meta; i++) ZS_FUZZ_ASSERT(zs_st_meta(&f, f.meta_keys[i]) == f.meta_vals[i]);

    /* Writer round trip. */
    zs_st_writer *w = NULL;
    ZS_FUZZ_ASSERT(zs_st_writer_create(&w) == ZS_OK);
    for (int i = 0; i < f.n_tensors; i++) {
        const zs_st_tensor *t = &f.tensors[i];
        ZS_FUZZ_ASSERT(zs_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data) == ZS_OK);
    }
    for (int i = 0; i < f.n_meta; i++) ZS_FUZZ_ASSERT(zs_st_writer_meta(w, f.meta_keys[i], f.meta_vals[i]) == ZS_OK);
    void *mem = NULL;
    size_t msize = 0;
    st = zs_st_writer_to_mem(w, &mem, &msize);
    /* ELIMIT only if the re-encoded header outgrew 16 MiB (escapes). */
    ZS_FUZZ_ASSERT(st == ZS_OK || st == ZS_ELIMIT);
    if (st == ZS_OK) {
        zs_st_file g;
        ZS_FUZZ_ASSERT(zs_st_parse(&g, mem, msize) == ZS_OK);
        ZS_FUZZ_ASSERT(g.n_tensors == f.n_tensors && g.n_meta == f.n_meta);
        uint64_t sum2 = 0;
        for (int i = 0; i < g.n_tensors; i++) {
            const zs_st_tensor *a = &f.tensors[i], *b = &g.tensors[i];
            ZS_FUZZ_ASSERT(strcmp(a->name, b->name) == 0 && a->dtype == b->dtype && a->ndim == b->ndim);
            ZS_FUZZ_ASSERT(memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim) == 0);
            ZS_FUZZ_ASSERT(a->nbytes == b->nbytes && (a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0));
            sum2 += zs_fuzz_bytesum(b->data, b->nbytes);
        }
        for (int i = 0; i < g.n_meta; i++) {
            const char *v = zs_st_meta(&f, g.meta_keys[i]);
            ZS_FUZZ_ASSERT(v && strcmp(v, g.meta_vals[i]) == 0);
        }
        ZS_FUZZ_ASSERT(sum == sum2);
        zs_st_free(&g);
    }
    free(mem);
    zs_st_writer_free(w);
    zs_st_free(&f);
    return 1;
}

#ifndef ZS_FUZZ_NO_MAIN
ZS_FUZZ_MAIN(zs_fuzz_safetensors)
#endif
