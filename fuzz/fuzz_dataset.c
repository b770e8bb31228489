/*
 * fuzz_dataset.c — libFuzzer target for the data-set loaders.
 *
 * Input byte 0 picks the loader:
 *   even: bytes 1.. are a safetensors data set for zs_dataset_load_mem;
 *   odd:  bytes 1..4 are a little-endian length L, then L bytes of an IDX
 *         images file and the rest an IDX labels file; both are written to
 *         a private temporary directory as x-images-idx3-ubyte and
 *         x-labels-idx1-ubyte and loaded with zs_dataset_load (zlib passes
 *         plain files through, so gzip input is exercised too).
 * A data set that loads must be self-consistent (shape, labels in range,
 * finite features). Invariant broken: __builtin_trap().
 *
 * tests/test_fuzz_replay.c includes this file with ZS_FUZZ_NO_MAIN defined.
 */
#include "fuzz_main.h"
#include "zeroskip.h"
#include "zs_internal.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef ZS_FUZZ_ASSERT
#define ZS_FUZZ_ASSERT(c) do { if (!(c)) __builtin_trap(); } while (0)
#endif

static char zs_fuzz_dir[256];
static char zs_fuzz_img[300], zs_fuzz_lab[300];

static void zs_fuzz_cleanup(void) {
    if (!zs_fuzz_dir[0]) return;
    unlink(zs_fuzz_img);
    unlink(zs_fuzz_lab);
    rmdir(zs_fuzz_dir);
}

static int zs_fuzz_write(const char *path, const uint8_t *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(p, 1, n, f) : 0;
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

static void zs_fuzz_check(const zs_dataset *ds) {
    int n = zs_dataset_size(ds), c, h, w;
    zs_dataset_shape(ds, &c, &h, &w);
    ZS_FUZZ_ASSERT(n >= 1 && c >= 1 && h >= 1 && w >= 1);
    int k = zs_dataset_num_classes(ds);
    ZS_FUZZ_ASSERT(k >= 1 && k <= ZS_MAX_CLASSES);
    const int32_t *y = zs_dataset_labels_const(ds);
    for (int i = 0; i < n; i++) ZS_FUZZ_ASSERT(y[i] >= 0 && y[i] < k);
    const float *x = zs_dataset_features_const(ds);
    size_t total = (size_t)n * (size_t)c * (size_t)h * (size_t)w;
    for (size_t i = 0; i < total; i++) ZS_FUZZ_ASSERT(isfinite(x[i]));
    for (int i = 0; i < k; i++) {
        const char *s = zs_dataset_class_name(ds, i);
        if (s) ZS_FUZZ_ASSERT(strlen(s) < ((size_t)1 << 30));
    }
}

/* Returns 1 if a data set loaded, 0 if the input was rejected. */
int zs_fuzz_dataset(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    zs_dataset *ds = NULL;
    zs_status st;
    zs_error_clear();
    if ((data[0] & 1) == 0) {
        st = zs_dataset_load_mem(&ds, data + 1, size - 1);
    } else {
        if (!zs_fuzz_dir[0]) {
            const char *t = getenv("TMPDIR");
            snprintf(zs_fuzz_dir, sizeof zs_fuzz_dir, "%s/zs_fuzz_ds_XXXXXX", t && *t ? t : "/tmp");
            if (!mkdtemp(zs_fuzz_dir)) { zs_fuzz_dir[0] = '\0'; return 0; }
            snprintf(zs_fuzz_img, sizeof zs_fuzz_img, "%s/x-images-idx3-ubyte", zs_fuzz_dir);
            snprintf(zs_fuzz_lab, sizeof zs_fuzz_lab, "%s/x-labels-idx1-ubyte", zs_fuzz_dir);
            atexit(zs_fuzz_cleanup);
        }
        size_t rest = size - 1, len = 0;
        const uint8_t *p = data + 1;
        if (rest >= 4) {
            len = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
            p += 4;
            rest -= 4;
        }
        if (len > rest) len = rest;
        if (zs_fuzz_write(zs_fuzz_img, p, len) || zs_fuzz_write(zs_fuzz_lab, p + len, rest - len)) return 0;
        st = zs_dataset_load(&ds, zs_fuzz_img);
    }
    if (st != ZS_OK) {
        ZS_FUZZ_ASSERT(ds == NULL && zs_last_error()[0] != '\0');
        return 0;
    }
    zs_fuzz_check(ds);
    zs_dataset_free(ds);
    return 1;
}

#ifndef ZS_FUZZ_NO_MAIN
ZS_FUZZ_MAIN(zs_fuzz_dataset)
#endif
