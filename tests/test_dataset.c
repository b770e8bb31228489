/*
 * test_dataset.c — data sets: create / fill / save / load round trip with
 * class names, the accepted safetensors layouts and label dtypes, label and
 * shape validation, IDX files (a tiny hand-made one, the real Fashion-MNIST
 * test set when installed, malformed and truncated ones, plain and gzip).
 */
#include "check.h"
#include "safetensors.h"
#include "zs_internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

static char tmpdir[512];

static const char *tmp_path(const char *name) {
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static void test_roundtrip(void) {
    zs_dataset *ds = NULL;
    CHECK(zs_dataset_create(&ds, 5, 2, 3, 4) == ZS_OK, "create: %s", zs_last_error());
    if (!ds) return;
    int c, h, w;
    zs_dataset_shape(ds, &c, &h, &w);
    CHECK(zs_dataset_size(ds) == 5 && c == 2 && h == 3 && w == 4, "shape (5, 2, 3, 4)");
    float *x = zs_dataset_features(ds);
    int32_t *y = zs_dataset_labels(ds);
    CHECK(((uintptr_t)x & 63) == 0, "features 64-byte aligned");
    int zero = 1;
    for (int i = 0; i < 5 * 24; i++) zero &= x[i] == 0.0f;
    for (int i = 0; i < 5; i++) zero &= y[i] == 0;
    CHECK(zero, "created data set is zeroed");
    CHECK(zs_dataset_num_classes(ds) == 1, "all-zero labels: 1 class");
    for (int i = 0; i < 5 * 24; i++) x[i] = (float)i * 0.25f - 7.0f;
    const int32_t lab[5] = {2, 0, 1, 2, 1};
    memcpy(y, lab, sizeof lab);
    CHECK(zs_dataset_num_classes(ds) == 3, "max label + 1 = 3");
    CHECK(zs_dataset_class_name(ds, 0) == NULL, "no names yet");
    const char *names[3] = {"yes", "no", "caf\xc3\xa9 \"quoted\""};
    CHECK(zs_dataset_set_class_names(ds, 3, names) == ZS_OK, "set names: %s", zs_last_error());
    CHECK(zs_dataset_num_classes(ds) == 3 && strcmp(zs_dataset_class_name(ds, 2), names[2]) == 0, "names set");
    CHECK(zs_dataset_class_name(ds, 3) == NULL && zs_dataset_class_name(ds, -1) == NULL, "name out of range is NULL");
    /* Names fewer than the labels need: refused, old names kept. */
    CHECK(zs_dataset_set_class_names(ds, 2, names) == ZS_EINVAL && zs_dataset_num_classes(ds) == 3,
          "2 names for label 2 refused: %s", zs_last_error());
    CHECK(zs_dataset_set_class_names(ds, ZS_MAX_CLASSES + 1, names) == ZS_EINVAL, "too many names");

    const char *path = tmp_path("ds.safetensors");
    CHECK(zs_dataset_save(ds, path) == ZS_OK, "save: %s", zs_last_error());
    zs_dataset *back = NULL;
    CHECK(zs_dataset_load(&back, path) == ZS_OK, "load: %s", zs_last_error());
    if (back) {
        zs_dataset_shape(back, &c, &h, &w);
        CHECK(zs_dataset_size(back) == 5 && c == 2 && h == 3 && w == 4, "loaded shape");
        CHECK(memcmp(zs_dataset_features_const(back), x, 5 * 24 * sizeof(float)) == 0, "features bit-identical");
        CHECK(memcmp(zs_dataset_labels_const(back), lab, sizeof lab) == 0, "labels identical");
        CHECK(zs_dataset_num_classes(back) == 3, "3 classes");
        for (int i = 0; i < 3; i++)
            CHECK(zs_dataset_class_name(back, i) && strcmp(zs_dataset_class_name(back, i), names[i]) == 0,
                  "class name %d", i);
    }
    zs_dataset_free(back);

    /* The file itself: metadata as documented. */
    zs_st_file f;
    CHECK(zs_st_read(&f, path, 1 << 20) == ZS_OK, "read as safetensors");
    const char *fmt = zs_st_meta(&f, "format"), *cls = zs_st_meta(&f, "classes");
    CHECK(fmt && strcmp(fmt, "zeroskip-dataset") == 0, "format metadata");
    CHECK(cls && strcmp(cls, "[\"yes\",\"no\",\"caf\xc3\xa9 \\\"quoted\\\"\"]") == 0, "classes JSON: %s",
          cls ? cls : "(null)");
    const int64_t xs[4] = {5, 2, 3, 4};
    float *tmp = malloc(5 * 24 * sizeof(float));
    CHECK(zs_st_copy(&f, "features", ZS_ST_F32, 4, xs, tmp) == ZS_OK, "features F32 [5,2,3,4]");
    free(tmp);
    zs_st_free(&f);

    /* load_mem of the same bytes. */
    void *mem = NULL;
    size_t size = 0;
    CHECK(zs_read_file(path, 1 << 20, &mem, &size) == ZS_OK, "read bytes");
    CHECK(zs_dataset_load_mem(&back, mem, size) == ZS_OK && zs_dataset_size(back) == 5 &&
          zs_dataset_labels(back)[0] == 2, "load_mem: %s", zs_last_error());
    zs_dataset_free(back);
    free(mem);

    /* Without names: no "classes" key, num_classes from the labels. */
    CHECK(zs_dataset_set_class_names(ds, 0, NULL) == ZS_OK && zs_dataset_class_name(ds, 0) == NULL, "clear names");
    y[4] = 6;
    CHECK(zs_dataset_save(ds, path) == ZS_OK, "save without names");
    CHECK(zs_dataset_load(&back, path) == ZS_OK && zs_dataset_num_classes(back) == 7 &&
          zs_dataset_class_name(back, 0) == NULL, "7 classes from labels");
    zs_dataset_free(back);
    CHECK(zs_st_read(&f, path, 1 << 20) == ZS_OK && zs_st_meta(&f, "classes") == NULL, "no classes key");
    zs_st_free(&f);

    /* A negative label cannot be saved; the old file stays. */
    y[1] = -1;
    zs_status st = zs_dataset_save(ds, path);
    CHECK(st == ZS_EINVAL && strstr(zs_last_error(), "-1"), "save negative label: %s", zs_last_error());
    CHECK(zs_dataset_load(&back, path) == ZS_OK && zs_dataset_labels(back)[1] == 0, "old file intact");
    zs_dataset_free(back);
    unlink(path);
    zs_dataset_free(ds);
    zs_dataset_free(NULL);

    CHECK(zs_dataset_create(&ds, 0, 1, 1, 1) == ZS_EINVAL && ds == NULL, "n = 0 refused");
    CHECK(zs_dataset_create(&ds, 1, -1, 1, 1) == ZS_EINVAL, "c < 0 refused");
    CHECK(zs_dataset_create(&ds, 1 << 20, 1 << 10, 1 << 10, 1) == ZS_ELIMIT && ds == NULL, "2^40 floats refused");
}

/* Write a safetensors data set with arbitrary tensors through the writer. */
typedef struct {
    zs_st_dtype xd; int xnd; int64_t xs[4];
    zs_st_dtype yd; int ynd; int64_t ys[2];
    const void *yv;
    const char *classes;  /* NULL: none */
} st_spec;

static zs_status load_spec(const st_spec *s, const float *xv, zs_dataset **out) {
    zs_st_writer *w = NULL;
    void *mem = NULL;
    size_t size = 0;
    zs_status st;
    *out = NULL;
    ZS_TRY(zs_st_writer_create(&w));
    ZS_TRY(zs_st_writer_add(w, "features", s->xd, s->xnd, s->xs, xv));
    if (s->yv) ZS_TRY(zs_st_writer_add(w, "labels", s->yd, s->ynd, s->ys, s->yv));
    if (s->classes) ZS_TRY(zs_st_writer_meta(w, "classes", s->classes));
    ZS_TRY(zs_st_writer_to_mem(w, &mem, &size));
    st = zs_dataset_load_mem(out, mem, size);
fail:
    free(mem);
    zs_st_writer_free(w);
    return st;
}

static void test_layouts(void) {
    float xv[24];
    for (int i = 0; i < 24; i++) xv[i] = (float)i;
    const int32_t y32[2] = {1, 0};
    const int64_t y64[2] = {3, 1};
    const uint8_t y8[2] = {0, 4};
    zs_dataset *ds;
    int c, h, w;

    st_spec s = {ZS_ST_F32, 3, {2, 3, 4}, ZS_ST_I32, 1, {2}, y32, NULL};
    CHECK(load_spec(&s, xv, &ds) == ZS_OK, "[N,H,W]: %s", zs_last_error());
    zs_dataset_shape(ds, &c, &h, &w);
    CHECK(ds && zs_dataset_size(ds) == 2 && c == 1 && h == 3 && w == 4, "[N,H,W] -> C = 1");
    CHECK(ds && zs_dataset_features(ds)[23] == 23.0f && zs_dataset_labels(ds)[0] == 1, "values");
    zs_dataset_free(ds);

    s = (st_spec){ZS_ST_F32, 2, {2, 12}, ZS_ST_I64, 1, {2}, y64, NULL};
    CHECK(load_spec(&s, xv, &ds) == ZS_OK, "[N,D] + I64: %s", zs_last_error());
    zs_dataset_shape(ds, &c, &h, &w);
    CHECK(ds && c == 1 && h == 1 && w == 12, "[N,D] -> (1, 1, D)");
    CHECK(ds && zs_dataset_labels(ds)[0] == 3 && zs_dataset_labels(ds)[1] == 1 && zs_dataset_num_classes(ds) == 4,
          "I64 labels converted");
    zs_dataset_free(ds);

    s = (st_spec){ZS_ST_F32, 4, {2, 3, 2, 2}, ZS_ST_U8, 1, {2}, y8,
                  "[\"a\",\"b\",\"c\",\"d\",\"e\"]"};
    CHECK(load_spec(&s, xv, &ds) == ZS_OK, "[N,C,H,W] + U8 + classes: %s", zs_last_error());
    CHECK(ds && zs_dataset_labels(ds)[1] == 4 && zs_dataset_num_classes(ds) == 5 &&
          strcmp(zs_dataset_class_name(ds, 4), "e") == 0, "U8 labels, 5 names");
    zs_dataset_free(ds);

    /* Failures: status and a word of the message. */
    const int32_t y_neg[2] = {0, -3}, y_big[2] = {0, ZS_MAX_CLASSES}, y_two[2] = {0, 2};
    const double xd[2] = {0, 0};
    float xnan[4] = {0, 0, NAN, 0};
    const struct { const char *what; st_spec s; const void *x; zs_status want; const char *needle; } bad[] = {
        {"label >= number of class names", {ZS_ST_F32, 2, {2, 2}, ZS_ST_I32, 1, {2}, y_two, "[\"a\",\"b\"]"}, NULL, ZS_EFORMAT, "label 2"},
        {"negative label", {ZS_ST_F32, 2, {2, 2}, ZS_ST_I32, 1, {2}, y_neg, NULL}, NULL, ZS_EFORMAT, "-3"},
        {"label >= ZS_MAX_CLASSES", {ZS_ST_F32, 2, {2, 2}, ZS_ST_I32, 1, {2}, y_big, NULL}, NULL, ZS_EFORMAT, "1024"},
        {"classes not an array", {ZS_ST_F32, 2, {2, 2}, ZS_ST_I32, 1, {2}, y32, "{\"a\":1}"}, NULL, ZS_EFORMAT, "classes"},
        {"classes not JSON", {ZS_ST_F32, 2, {2, 2}, ZS_ST_I32, 1, {2}, y32, "[\"a\","}, NULL, ZS_EFORMAT, "classes"},
        {"classes with a number", {ZS_ST_F32, 2, {2, 2}, ZS_ST_I32, 1, {2}, y32, "[\"a\",2]"}, NULL, ZS_EFORMAT, "classes"},
        {"classes empty", {ZS_ST_F32, 2, {2, 2}, ZS_ST_I32, 1, {2}, y32, "[]"}, NULL, ZS_EFORMAT, "classes"},
        {"labels count mismatch", {ZS_ST_F32, 2, {2, 2}, ZS_ST_I32, 1, {1}, y32, NULL}, NULL, ZS_EFORMAT, "labels"},
        {"labels 2-d", {ZS_ST_F32, 2, {2, 2}, ZS_ST_I32, 2, {2, 1}, y32, NULL}, NULL, ZS_EFORMAT, "labels"},
        {"labels F32", {ZS_ST_F32, 2, {2, 2}, ZS_ST_F32, 1, {2}, y32, NULL}, NULL, ZS_EFORMAT, "labels"},
        {"features F64", {ZS_ST_F64, 1, {2}, ZS_ST_I32, 1, {2}, y32, NULL}, xd, ZS_EFORMAT, "features"},
        {"features 1-d", {ZS_ST_F32, 1, {2}, ZS_ST_I32, 1, {2}, y32, NULL}, NULL, ZS_EFORMAT, "features"},
        {"features zero width", {ZS_ST_F32, 2, {2, 0}, ZS_ST_I32, 1, {2}, y32, NULL}, NULL, ZS_EFORMAT, "features"},
        {"no samples", {ZS_ST_F32, 2, {0, 2}, ZS_ST_I32, 1, {0}, y32, NULL}, NULL, ZS_EFORMAT, "features"},
        {"missing labels", {ZS_ST_F32, 2, {2, 2}, ZS_ST_I32, 1, {2}, NULL, NULL}, NULL, ZS_EFORMAT, "labels"},
        {"NaN feature", {ZS_ST_F32, 2, {2, 2}, ZS_ST_I32, 1, {2}, y32, NULL}, xnan, ZS_ENUMERIC, "NaN"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zs_error_clear();
        zs_status st = load_spec(&bad[i].s, bad[i].x ? bad[i].x : xv, &ds);
        const char *m = zs_last_error();
        CHECK(st == bad[i].want && ds == NULL, "%s: want %s, got %s (%s)", bad[i].what,
              zs_status_str(bad[i].want), zs_status_str(st), m);
        CHECK(strstr(m, bad[i].needle) != NULL, "%s: message lacks \"%s\": %s", bad[i].what, bad[i].needle, m);
    }
    /* No features tensor at all; and not safetensors. */
    CHECK(zs_dataset_load_mem(&ds, "\x02\0\0\0\0\0\0\0{}", 10) == ZS_EFORMAT && strstr(zs_last_error(), "features"),
          "empty file: %s", zs_last_error());
    CHECK(zs_dataset_load_mem(&ds, "junk", 4) == ZS_EFORMAT && ds == NULL, "junk");
    /* A malformed file on disk: the message names it. */
    const char *p = tmp_path("bad.safetensors");
    const void *b[1] = {"\x02\0\0\0\0\0\0\0[]"};
    size_t n = 10;
    CHECK(zs_write_file_atomic(p, b, &n, 1) == ZS_OK, "write bad file");
    CHECK(zs_dataset_load(&ds, p) == ZS_EFORMAT && strstr(zs_last_error(), "bad.safetensors"),
          "bad file named: %s", zs_last_error());
    unlink(p);
    CHECK(zs_dataset_load(&ds, tmp_path("missing.safetensors")) == ZS_EIO, "missing file -> ZS_EIO");

    /* A safetensors header of exactly 0x80000 bytes starts 00 00 08 00, like
     * an IDX magic minus its type byte: still read as safetensors. */
    const char *js = "{\"features\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]},"
                     "\"labels\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[8,12]}}";
    size_t hl = 0x80000, total = 8 + hl + 12;
    uint8_t *fb = malloc(total);
    memset(fb, 0, total);
    for (int i = 0; i < 8; i++) fb[i] = (uint8_t)(hl >> (8 * i));
    memset(fb + 8, ' ', hl);
    memcpy(fb + 8, js, strlen(js));
    const float two[2] = {0.5f, -1.0f};
    const int32_t one = 3;
    memcpy(fb + 8 + hl, two, 8);
    memcpy(fb + 8 + hl + 8, &one, 4);
    p = tmp_path("has-idx-in-name.safetensors");
    const void *fbs[1] = {fb};
    CHECK(zs_write_file_atomic(p, fbs, &total, 1) == ZS_OK, "write 512 KiB header file");
    CHECK(zs_dataset_load(&ds, p) == ZS_OK && zs_dataset_labels(ds)[0] == 3 && zs_dataset_features(ds)[1] == -1.0f,
          "header length 0x80000 is safetensors: %s", zs_last_error());
    zs_dataset_free(ds);
    unlink(p);
    free(fb);
}

/* ---- IDX ----------------------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* Write bytes plain or gzip-compressed. */
static int write_bytes(const char *path, const uint8_t *p, size_t n, int gz) {
    if (gz) {
        gzFile g = gzopen(path, "wb");
        if (!g) return -1;
        int ok = n == 0 || gzwrite(g, p, (unsigned)n) == (int)n;
        return gzclose(g) == Z_OK && ok ? 0 : -1;
    }
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* images header (magic, n, rows, cols) + `npix` pixel bytes i*7 mod 256. */
static int write_images(const char *path, uint32_t magic, uint32_t n, uint32_t rows, uint32_t cols,
                        size_t npix, int gz) {
    uint8_t *b = malloc(16 + npix);
    put_be32(b, magic); put_be32(b + 4, n); put_be32(b + 8, rows); put_be32(b + 12, cols);
    for (size_t i = 0; i < npix; i++) b[16 + i] = (uint8_t)(i * 7);
    int r = write_bytes(path, b, 16 + npix, gz);
    free(b);
    return r;
}

static int write_labels(const char *path, uint32_t magic, uint32_t n, const uint8_t *lab, size_t nlab, int gz) {
    uint8_t b[64];
    put_be32(b, magic); put_be32(b + 4, n);
    memcpy(b + 8, lab, nlab);
    return write_bytes(path, b, 8 + nlab, gz);
}

static void test_idx_small(int gz) {
    const char *sfx = gz ? "-ubyte.gz" : "-ubyte";
    char ip[1100], lp[1100];
    snprintf(ip, sizeof ip, "%s/t-images-idx3%s", tmpdir, sfx);
    snprintf(lp, sizeof lp, "%s/t-labels-idx1%s", tmpdir, sfx);
    const uint8_t lab[3] = {1, 0, 4};
    zs_dataset *ds = NULL;
    zs_status st;
    const char *mode = gz ? "gz" : "plain";

    /* Valid: 3 images of 2 x 3. */
    CHECK(write_images(ip, 0x803, 3, 2, 3, 18, gz) == 0 && write_labels(lp, 0x801, 3, lab, 3, gz) == 0, "write");
    st = zs_dataset_load(&ds, ip);
    CHECK(st == ZS_OK, "%s: small IDX: %s", mode, zs_last_error());
    if (ds) {
        int c, h, w;
        zs_dataset_shape(ds, &c, &h, &w);
        CHECK(zs_dataset_size(ds) == 3 && c == 1 && h == 2 && w == 3, "%s: shape (3, 1, 2, 3)", mode);
        int ok = 1;
        for (int i = 0; i < 18; i++) ok &= zs_dataset_features(ds)[i] == (float)(uint8_t)(i * 7) / 255.0f;
        CHECK(ok, "%s: pixels / 255", mode);
        CHECK(memcmp(zs_dataset_labels(ds), (int32_t[]){1, 0, 4}, 12) == 0 && zs_dataset_num_classes(ds) == 5,
              "%s: labels", mode);
    }
    zs_dataset_free(ds);
    ds = NULL;

    static const struct { const char *what; uint32_t magic, n, rows, cols; size_t npix;
                          uint32_t lmagic, ln; size_t nlab; zs_status want; const char *needle; } bad[] = {
        {"bad image magic", 0x804, 3, 2, 3, 18, 0x801, 3, 3, ZS_EFORMAT, "magic"},
        {"labels magic given as images", 0x801, 3, 2, 3, 18, 0x801, 3, 3, ZS_EFORMAT, "magic"},
        {"bad label magic", 0x803, 3, 2, 3, 18, 0x803, 3, 3, ZS_EFORMAT, "labels-idx1"},
        {"truncated pixels", 0x803, 3, 2, 3, 17, 0x801, 3, 3, ZS_EFORMAT, "images-idx3"},
        {"truncated labels", 0x803, 3, 2, 3, 18, 0x801, 3, 2, ZS_EFORMAT, "labels-idx1"},
        {"count mismatch", 0x803, 3, 2, 3, 18, 0x801, 2, 2, ZS_EFORMAT, "2 labels"},
        {"trailing pixels", 0x803, 3, 2, 3, 19, 0x801, 3, 3, ZS_EFORMAT, "trailing"},
        {"zero images", 0x803, 0, 2, 3, 0, 0x801, 0, 0, ZS_EFORMAT, "positive"},
        {"zero rows", 0x803, 3, 0, 3, 0, 0x801, 3, 3, ZS_EFORMAT, "positive"},
        {"huge image", 0x803, 1, 65536, 65536, 16, 0x801, 1, 1, ZS_ELIMIT, "pixels"},
        {"10^9 images claimed", 0x803, 1000000000, 2, 2, 18, 0x801, 1000000000, 3, ZS_EFORMAT, "truncated"},
        {"2^32 elements", 0x803, 0x7fffffff, 28, 28, 16, 0x801, 0x7fffffff, 3, ZS_ELIMIT, "elements"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(write_images(ip, bad[i].magic, bad[i].n, bad[i].rows, bad[i].cols, bad[i].npix, gz) == 0 &&
              write_labels(lp, bad[i].lmagic, bad[i].ln, lab, bad[i].nlab, gz) == 0, "write");
        zs_error_clear();
        st = zs_dataset_load(&ds, ip);
        const char *m = zs_last_error();
        CHECK(st == bad[i].want && ds == NULL, "%s: %s: want %s, got %s (%s)", mode, bad[i].what,
              zs_status_str(bad[i].want), zs_status_str(st), m);
        CHECK(strstr(m, bad[i].needle) != NULL, "%s: %s: message lacks \"%s\": %s", mode, bad[i].what,
              bad[i].needle, m);
        zs_dataset_free(ds);
        ds = NULL;
    }
    /* Header cut short, and a missing labels file. */
    CHECK(write_bytes(ip, (const uint8_t *)"\0\0\x08\x03\0\0", 6, gz) == 0, "write");
    st = zs_dataset_load(&ds, ip);
    CHECK(st == ZS_EFORMAT && strstr(zs_last_error(), "images-idx3"), "%s: short header: %s", mode, zs_last_error());
    CHECK(write_images(ip, 0x803, 3, 2, 3, 18, gz) == 0, "write");
    unlink(lp);
    st = zs_dataset_load(&ds, ip);
    CHECK(st == ZS_EIO && strstr(zs_last_error(), "labels-idx1"), "%s: no labels file: %s", mode, zs_last_error());
    unlink(ip);
}

/* A gzip stream cut in the middle. */
static void test_idx_truncated_gz(void) {
    char ip[1100], lp[1100];
    snprintf(ip, sizeof ip, "%s/z-images-idx3-ubyte.gz", tmpdir);
    snprintf(lp, sizeof lp, "%s/z-labels-idx1-ubyte.gz", tmpdir);
    uint8_t lab[40] = {0};
    CHECK(write_images(ip, 0x803, 40, 28, 28, 40 * 784, 1) == 0 && write_labels(lp, 0x801, 40, lab, 40, 1) == 0,
          "write gz");
    void *b = NULL;
    size_t n = 0;
    CHECK(zs_read_file(ip, 1 << 24, &b, &n) == ZS_OK && n > 40, "read gz");
    size_t half = n / 2;
    const void *bufs[1] = {b};
    CHECK(zs_write_file_atomic(ip, bufs, &half, 1) == ZS_OK, "cut gz");
    zs_dataset *ds = NULL;
    zs_status st = zs_dataset_load(&ds, ip);
    CHECK(st == ZS_EFORMAT && ds == NULL && strstr(zs_last_error(), "z-images-idx3"), "cut gzip: %s",
          zs_last_error());
    free(b);
    unlink(ip);
    unlink(lp);
}

static void test_fashion_mnist(void) {
    const char *ip = FMNIST_DIR "/t10k-images-idx3-ubyte.gz";
    const char *lp = FMNIST_DIR "/t10k-labels-idx1-ubyte.gz";
    if (access(ip, R_OK) != 0 || access(lp, R_OK) != 0) {
        SKIP("Fashion-MNIST not installed at %s (Debian package dataset-fashion-mnist)", FMNIST_DIR);
        return;
    }
    zs_dataset *ds = NULL;
    zs_status st = zs_dataset_load(&ds, ip);
    CHECK(st == ZS_OK, "load t10k: %s", zs_last_error());
    if (st) return;
    int c, h, w;
    zs_dataset_shape(ds, &c, &h, &w);
    CHECK(zs_dataset_size(ds) == 10000 && c == 1 && h == 28 && w == 28, "t10k is (10000, 1, 28, 28)");
    CHECK(zs_dataset_labels(ds)[0] == 9, "first t10k label is 9 (ankle boot), got %d", zs_dataset_labels(ds)[0]);
    CHECK(zs_dataset_num_classes(ds) == 10, "10 classes");

    /* Independent check against the raw bytes read here with zlib. */
    gzFile g = gzopen(ip, "rb");
    uint8_t hdr[16], img[2][784];
    int ok = g && gzread(g, hdr, 16) == 16 && gzread(g, img, sizeof img) == (int)sizeof img;
    if (g) gzclose(g);
    CHECK(ok, "raw read");
    const float *x = zs_dataset_features_const(ds);
    int same = 1;
    for (int i = 0; i < 2 * 784; i++) same &= x[i] == (float)img[i / 784][i % 784] / 255.0f;
    CHECK(same, "first two images equal raw bytes / 255");
    g = gzopen(lp, "rb");
    uint8_t lh[8], labs[10000];
    ok = g && gzread(g, lh, 8) == 8 && gzread(g, labs, 10000) == 10000;
    if (g) gzclose(g);
    CHECK(ok, "raw label read");
    int match = 1, count[10] = {0};
    for (int i = 0; i < 10000; i++) {
        match &= zs_dataset_labels(ds)[i] == labs[i];
        if (labs[i] < 10) count[labs[i]]++;
    }
    CHECK(match, "all 10000 labels match the raw file");
    for (int k = 0; k < 10; k++) CHECK(count[k] == 1000, "class %d has 1000 test images, got %d", k, count[k]);
    float lo = 1, hi = 0;
    for (size_t i = 0; i < (size_t)10000 * 784; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    CHECK(lo == 0.0f && hi == 1.0f, "pixels span [0, 1]: [%g, %g]", lo, hi);

    /* Save as safetensors and load back: identical. */
    const char *p = tmp_path("fmnist_t10k.safetensors");
    CHECK(zs_dataset_save(ds, p) == ZS_OK, "save: %s", zs_last_error());
    zs_dataset *back = NULL;
    CHECK(zs_dataset_load(&back, p) == ZS_OK && zs_dataset_size(back) == 10000 &&
          memcmp(zs_dataset_features_const(back), x, (size_t)10000 * 784 * 4) == 0 &&
          memcmp(zs_dataset_labels_const(back), zs_dataset_labels_const(ds), 40000) == 0,
          "t10k safetensors round trip");
    zs_dataset_free(back);
    unlink(p);
    zs_dataset_free(ds);
}

int main(void) {
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/zs_ds_XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        CHECK(0, "mkdtemp %s", tmpdir);
        return check_finish("dataset");
    }
    test_roundtrip();
    test_layouts();
    test_idx_small(0);
    test_idx_small(1);
    test_idx_truncated_gz();
    test_fashion_mnist();
    rmdir(tmpdir);
    return check_finish("dataset");
}
