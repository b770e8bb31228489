/*
 * test_safetensors.c — the safetensors reader and writer: round trips of
 * every dtype (scalar and zero-size tensors included), metadata escaping,
 * a file written by numpy (tests/data/st_numpy.safetensors, made by
 * scripts/st_read.py --write-fixture), and a table of malformed files that
 * must each fail with the right status and a message.
 *
 * `test_safetensors --write PATH` writes the round-trip file and prints the
 * lines scripts/st_read.py prints for it (used by tests/cli_st_python.sh).
 */
#include "check.h"
#include "safetensors.h"
#include "zs_internal.h"
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ----------------------------------------------------------- */

typedef struct { uint8_t *p; size_t n; } blob;

/* 8-byte LE length (hlen, or strlen(json) when hlen == UINT64_MAX-1),
 * the JSON bytes and `data_len` bytes of 0xAB. */
#define AUTO_LEN (UINT64_MAX - 1)
static blob mk(const char *json, size_t json_len, uint64_t hlen, size_t data_len) {
    blob b;
    b.n = 8 + json_len + data_len;
    b.p = malloc(b.n ? b.n : 1);
    if (hlen == AUTO_LEN) hlen = json_len;
    for (int i = 0; i < 8; i++) b.p[i] = (uint8_t)(hlen >> (8 * i));
    memcpy(b.p + 8, json, json_len);
    memset(b.p + 8 + json_len, 0xAB, data_len);
    return b;
}

static int is_zeroed(const zs_st_file *f) {
    return f->n_tensors == 0 && !f->tensors && f->n_meta == 0 && !f->meta_keys &&
           !f->meta_vals && !f->owned;
}

static char tmpdir[512];

static const char *tmp_path(const char *name) {
    static char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

/* ---- the round-trip file ----------------------------------------------- */

static float rt_f32[6] = {1.0f, -2.5f, 3.25f, 0.0f, 1e-7f, -1e30f};
static int32_t rt_i32[5] = {0, -1, 2147483647, -2147483647 - 1, 42};
static uint8_t rt_u8[3] = {7, 0, 255};          /* odd size: no per-tensor padding */
static double rt_f64 = 3.141592653589793;        /* scalar, shape [] */
static uint16_t rt_bf16[1];                       /* shape [0, 4]: no data */
static int64_t rt_i64[2] = {-5, (int64_t)1 << 50};
static uint8_t rt_bool[2] = {1, 0};
static int16_t rt_i16[3] = {-300, 300, 1};

static zs_status build_writer(zs_st_writer **out) {
    zs_st_writer *w = NULL;
    zs_status st;
    const int64_t s23[2] = {2, 3}, s5[1] = {5}, s3[1] = {3}, s04[2] = {0, 4};
    const int64_t s8d[8] = {1, 1, 1, 1, 1, 1, 1, 2}, s2[1] = {2};
    ZS_TRY(zs_st_writer_create(&w));
    ZS_TRY(zs_st_writer_add(w, "conv.weight", ZS_ST_F32, 2, s23, rt_f32));
    ZS_TRY(zs_st_writer_add(w, "labels", ZS_ST_I32, 1, s5, rt_i32));
    ZS_TRY(zs_st_writer_add(w, "mask", ZS_ST_U8, 1, s3, rt_u8));
    ZS_TRY(zs_st_writer_add(w, "scalar", ZS_ST_F64, 0, NULL, &rt_f64));
    ZS_TRY(zs_st_writer_add(w, "empty", ZS_ST_BF16, 2, s04, rt_bf16));
    ZS_TRY(zs_st_writer_add(w, "eight_dims", ZS_ST_I64, 8, s8d, rt_i64));
    ZS_TRY(zs_st_writer_add(w, "flags", ZS_ST_BOOL, 1, s2, rt_bool));
    ZS_TRY(zs_st_writer_add(w, "name \"with\" quotes\\", ZS_ST_I16, 1, s3, rt_i16));
    ZS_TRY(zs_st_writer_meta(w, "arch", "gsc-sparse"));
    ZS_TRY(zs_st_writer_meta(w, "text", "line1\nline2\t\"q\" \\ \x01 caf\xc3\xa9"));
    ZS_TRY(zs_st_writer_meta(w, "arch", "gsc-dense"));  /* replaces */
    *out = w;
    return ZS_OK;
fail:
    zs_st_writer_free(w);
    return st;
}

static uint64_t bytesum(const void *p, size_t n) {
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++) s += ((const uint8_t *)p)[i];
    return s;
}

/* The lines scripts/st_read.py prints, minus its " sum=" float column. */
static void print_like_st_read(const zs_st_file *f) {
    for (int i = 0; i < f->n_tensors; i++) {
        const zs_st_tensor *t = &f->tensors[i];
        printf("tensor %s %s [", t->name, zs_st_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++) printf("%s%" PRId64, d ? "," : "", t->shape[d]);
        printf("] bytesum=%" PRIu64 "\n", bytesum(t->data, t->nbytes));
    }
}

static void test_roundtrip(void) {
    zs_st_writer *w = NULL;
    CHECK(build_writer(&w) == ZS_OK, "build writer: %s", zs_last_error());
    if (!w) return;
    void *mem = NULL;
    size_t size = 0;
    CHECK(zs_st_writer_to_mem(w, &mem, &size) == ZS_OK, "to_mem: %s", zs_last_error());
    const char *path = tmp_path("st_roundtrip.safetensors");
    CHECK(zs_st_writer_save(w, path) == ZS_OK, "save: %s", zs_last_error());
    zs_st_writer_free(w);

    /* Layout: data section 8-aligned, tensors contiguous (no holes). */
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | ((uint8_t *)mem)[i];
    CHECK((8 + hlen) % 8 == 0, "data section starts at %" PRIu64 ", not 8-aligned", 8 + hlen);
    CHECK(((char *)mem)[8] == '{', "header starts with '{'");
    CHECK(((char *)mem)[8 + hlen - 1] == ' ' || ((char *)mem)[8 + hlen - 1] == '}', "header ends with } or padding");
    size_t expect_data = sizeof rt_f32 + sizeof rt_i32 + sizeof rt_u8 + sizeof rt_f64 +
                         sizeof rt_i64 + sizeof rt_bool + sizeof rt_i16;
    CHECK(size == 8 + hlen + expect_data, "file size %zu = 8 + %" PRIu64 " + %zu", size, hlen, expect_data);

    /* The file on disk is byte-identical to the memory image. */
    void *disk = NULL;
    size_t dsize = 0;
    CHECK(zs_read_file(path, 1 << 20, &disk, &dsize) == ZS_OK, "read back %s", path);
    CHECK(disk && dsize == size && memcmp(disk, mem, size) == 0, "file == memory image");
    free(disk);

    zs_st_file f;
    CHECK(zs_st_parse(&f, mem, size) == ZS_OK, "parse: %s", zs_last_error());
    CHECK(f.n_tensors == 8, "8 tensors, got %d", f.n_tensors);
    const char *order[8] = {"conv.weight", "labels", "mask", "scalar", "empty", "eight_dims", "flags",
                            "name \"with\" quotes\\"};
    for (int i = 0; i < 8 && i < f.n_tensors; i++)
        CHECK(strcmp(f.tensors[i].name, order[i]) == 0, "tensor %d is %s, got %s", i, order[i], f.tensors[i].name);
    uint64_t prev_end = 0;
    for (int i = 0; i < f.n_tensors; i++) {
        uint64_t b = (uint64_t)((const uint8_t *)f.tensors[i].data - ((uint8_t *)mem + 8 + hlen));
        CHECK(b == prev_end, "tensor %s starts at %" PRIu64 ", expected %" PRIu64 " (no holes)",
              f.tensors[i].name, b, prev_end);
        prev_end = b + f.tensors[i].nbytes;
    }

    const zs_st_tensor *t = zs_st_find(&f, "conv.weight");
    CHECK(t && t->dtype == ZS_ST_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 &&
          t->numel == 6 && t->nbytes == 24 && memcmp(t->data, rt_f32, 24) == 0, "conv.weight");
    t = zs_st_find(&f, "labels");
    CHECK(t && t->dtype == ZS_ST_I32 && t->ndim == 1 && t->shape[0] == 5 && memcmp(t->data, rt_i32, 20) == 0, "labels");
    t = zs_st_find(&f, "mask");
    CHECK(t && t->dtype == ZS_ST_U8 && t->nbytes == 3 && memcmp(t->data, rt_u8, 3) == 0, "mask");
    t = zs_st_find(&f, "scalar");
    CHECK(t && t->dtype == ZS_ST_F64 && t->ndim == 0 && t->numel == 1 && t->nbytes == 8 &&
          memcmp(t->data, &rt_f64, 8) == 0, "scalar: shape [] holds one element");
    t = zs_st_find(&f, "empty");
    CHECK(t && t->dtype == ZS_ST_BF16 && t->ndim == 2 && t->shape[0] == 0 && t->shape[1] == 4 &&
          t->numel == 0 && t->nbytes == 0, "zero-size tensor");
    t = zs_st_find(&f, "eight_dims");
    CHECK(t && t->ndim == 8 && t->shape[7] == 2 && memcmp(t->data, rt_i64, 16) == 0, "8 dims");
    t = zs_st_find(&f, "flags");
    CHECK(t && t->dtype == ZS_ST_BOOL && memcmp(t->data, rt_bool, 2) == 0, "bool");
    t = zs_st_find(&f, "name \"with\" quotes\\");
    CHECK(t && t->dtype == ZS_ST_I16 && memcmp(t->data, rt_i16, 6) == 0, "escaped name");
    CHECK(zs_st_find(&f, "nope") == NULL, "find of a missing name is NULL");

    CHECK(f.n_meta == 2, "2 metadata entries, got %d", f.n_meta);
    const char *arch = zs_st_meta(&f, "arch"), *text = zs_st_meta(&f, "text");
    CHECK(arch && strcmp(arch, "gsc-dense") == 0, "meta arch replaced: %s", arch ? arch : "(null)");
    CHECK(text && strcmp(text, "line1\nline2\t\"q\" \\ \x01 caf\xc3\xa9") == 0, "meta text escaped round trip");
    CHECK(zs_st_meta(&f, "missing") == NULL, "missing meta key is NULL");

    /* zs_st_copy: exact match copies (into an unaligned destination too). */
    float out[6] = {0};
    const int64_t s23[2] = {2, 3}, s32[2] = {3, 2}, s6[1] = {6};
    CHECK(zs_st_copy(&f, "conv.weight", ZS_ST_F32, 2, s23, out) == ZS_OK, "copy: %s", zs_last_error());
    CHECK(memcmp(out, rt_f32, sizeof out) == 0, "copied values");
    uint8_t unal[1 + sizeof(double)];
    CHECK(zs_st_copy(&f, "scalar", ZS_ST_F64, 0, NULL, unal + 1) == ZS_OK && memcmp(unal + 1, &rt_f64, 8) == 0,
          "copy scalar to unaligned memory");
    const int64_t s04[2] = {0, 4};
    CHECK(zs_st_copy(&f, "empty", ZS_ST_BF16, 2, s04, NULL) == ZS_OK, "copy zero-size into NULL");

    zs_status st = zs_st_copy(&f, "conv.weight", ZS_ST_F32, 2, s32, out);
    const char *m = zs_last_error();
    CHECK(st == ZS_ESHAPE, "shape mismatch -> ZS_ESHAPE, got %s", zs_status_str(st));
    CHECK(strstr(m, "conv.weight") && strstr(m, "[2, 3]") && strstr(m, "[3, 2]"),
          "message names the tensor and both shapes: %s", m);
    st = zs_st_copy(&f, "conv.weight", ZS_ST_F32, 1, s6, out);
    CHECK(st == ZS_ESHAPE && strstr(zs_last_error(), "[6]"), "rank mismatch -> ZS_ESHAPE: %s", zs_last_error());
    st = zs_st_copy(&f, "conv.weight", ZS_ST_I32, 2, s23, out);
    m = zs_last_error();
    CHECK(st == ZS_ESHAPE && strstr(m, "F32") && strstr(m, "I32") && strstr(m, "conv.weight"),
          "dtype mismatch -> ZS_ESHAPE naming both dtypes: %s", m);
    st = zs_st_copy(&f, "nope", ZS_ST_F32, 2, s23, out);
    CHECK(st == ZS_EFORMAT && strstr(zs_last_error(), "nope"), "missing tensor -> ZS_EFORMAT: %s", zs_last_error());
    zs_st_free(&f);
    CHECK(is_zeroed(&f), "zs_st_free leaves a zeroed struct");
    zs_st_free(&f);  /* twice is fine */

    /* zs_st_read owns its buffer. */
    CHECK(zs_st_read(&f, path, 1 << 20) == ZS_OK, "zs_st_read: %s", zs_last_error());
    CHECK(f.owned != NULL && f.n_tensors == 8, "read owns its buffer");
    t = zs_st_find(&f, "labels");
    CHECK(t && memcmp(t->data, rt_i32, 20) == 0, "read labels");
    zs_st_free(&f);
    st = zs_st_read(&f, path, 64);
    CHECK(st == ZS_ELIMIT && is_zeroed(&f), "file over max_bytes -> ZS_ELIMIT, got %s", zs_status_str(st));
    st = zs_st_read(&f, tmp_path("does-not-exist.safetensors"), 1 << 20);
    CHECK(st == ZS_EIO && strstr(zs_last_error(), "does-not-exist"), "missing file -> ZS_EIO: %s", zs_last_error());

    /* A malformed file on disk: the message names the path. */
    const char *bad = tmp_path("st_bad.safetensors");
    const void *bufs[1] = {mem};
    size_t cut = size - 1;
    CHECK(zs_write_file_atomic(bad, bufs, &cut, 1) == ZS_OK, "write truncated file");
    st = zs_st_read(&f, bad, 1 << 20);
    CHECK(st == ZS_EFORMAT && strstr(zs_last_error(), "st_bad.safetensors") && is_zeroed(&f),
          "truncated file -> ZS_EFORMAT naming it: %s", zs_last_error());
    unlink(bad);
    unlink(path);
    free(mem);

    /* An empty writer makes a valid file with no tensors. */
    CHECK(zs_st_writer_create(&w) == ZS_OK, "create");
    CHECK(zs_st_writer_to_mem(w, &mem, &size) == ZS_OK && size == 16, "empty file is 16 bytes, got %zu", size);
    CHECK(zs_st_parse(&f, mem, size) == ZS_OK && f.n_tensors == 0 && f.n_meta == 0, "empty file parses");
    zs_st_free(&f);
    free(mem);
    zs_st_writer_free(w);
    zs_st_writer_free(NULL);
}

static void test_writer_errors(void) {
    zs_st_writer *w = NULL;
    CHECK(zs_st_writer_create(&w) == ZS_OK, "create");
    float x[4] = {0};
    const int64_t s2[1] = {2}, neg[1] = {-1}, big[2] = {1 << 20, 1 << 20}, nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    CHECK(zs_st_writer_add(w, "a", ZS_ST_F32, 1, s2, x) == ZS_OK, "add a");
    CHECK(zs_st_writer_add(w, "a", ZS_ST_F32, 1, s2, x) == ZS_EINVAL && zs_last_error()[0], "duplicate name");
    CHECK(zs_st_writer_add(w, "__metadata__", ZS_ST_F32, 1, s2, x) == ZS_EINVAL, "reserved name");
    CHECK(zs_st_writer_add(w, "", ZS_ST_F32, 1, s2, x) == ZS_OK, "empty name is valid, as in the reader");
    CHECK(zs_st_writer_add(w, "n", ZS_ST_F32, 1, neg, x) == ZS_EINVAL, "negative dim");
    CHECK(zs_st_writer_add(w, "n", ZS_ST_F32, 9, nine, x) == ZS_EINVAL, "9 dims");
    CHECK(zs_st_writer_add(w, "n", ZS_ST_F32, 2, big, x) == ZS_ELIMIT, "2^40 elements");
    CHECK(zs_st_writer_add(w, "n", (zs_st_dtype)99, 1, s2, x) == ZS_EINVAL, "bad dtype");
    CHECK(zs_st_writer_add(w, "n", ZS_ST_F32, 1, s2, NULL) == ZS_EINVAL, "NULL data");
    CHECK(zs_st_writer_meta(w, "k", NULL) == ZS_EINVAL, "NULL meta value");
    CHECK(zs_st_writer_save(w, "/nonexistent-dir/x.safetensors") == ZS_EIO, "save to a missing dir -> ZS_EIO");
    zs_st_writer_free(w);
    CHECK(strcmp(zs_st_dtype_name(ZS_ST_BF16), "BF16") == 0 && zs_st_dtype_size(ZS_ST_BF16) == 2 &&
          zs_st_dtype_size(ZS_ST_F64) == 8 && zs_st_dtype_size((zs_st_dtype)-1) == 0, "dtype table");
}

/* The committed file written by numpy (scripts/st_read.py --write-fixture). */
static void test_numpy_fixture(void) {
    zs_st_file f;
    zs_status st = zs_st_read(&f, check_data("st_numpy.safetensors"), 1 << 20);
    CHECK(st == ZS_OK, "read numpy fixture: %s", zs_last_error());
    if (st) return;
    CHECK(f.n_tensors == 6, "6 tensors, got %d", f.n_tensors);
    float w[6];
    const int64_t s23[2] = {2, 3};
    CHECK(zs_st_copy(&f, "w", ZS_ST_F32, 2, s23, w) == ZS_OK, "w: %s", zs_last_error());
    for (int i = 0; i < 6; i++) CHECK(w[i] == i * 0.5f - 1.0f, "w[%d] = %g", i, w[i]);
    int64_t idx[4];
    const int64_t s4[1] = {4};
    CHECK(zs_st_copy(&f, "idx", ZS_ST_I64, 1, s4, idx) == ZS_OK, "idx");
    CHECK(idx[0] == 0 && idx[1] == -1 && idx[2] == ((int64_t)1 << 40) && idx[3] == 7, "idx values");
    uint8_t fl[3];
    const int64_t s3[1] = {3};
    CHECK(zs_st_copy(&f, "flags", ZS_ST_U8, 1, s3, fl) == ZS_OK && fl[0] == 1 && fl[1] == 0 && fl[2] == 255, "flags");
    double s = 0;
    CHECK(zs_st_copy(&f, "s", ZS_ST_F64, 0, NULL, &s) == ZS_OK && s == M_PI, "scalar pi");
    const zs_st_tensor *e = zs_st_find(&f, "e");
    CHECK(e && e->ndim == 2 && e->shape[0] == 0 && e->shape[1] == 3 && e->nbytes == 0, "empty [0,3]");
    const zs_st_tensor *h = zs_st_find(&f, "h");
    /* float16 1.5 = 0x3E00, -2.0 = 0xC000 */
    CHECK(h && h->dtype == ZS_ST_F16 && h->nbytes == 4 && memcmp(h->data, "\x00\x3e\x00\xc0", 4) == 0, "f16 bits");
    const char *q = zs_st_meta(&f, "quote");
    CHECK(q && strcmp(q, "a\"b\\c") == 0, "escaped metadata from json.dumps");
    CHECK(zs_st_meta(&f, "note") && strcmp(zs_st_meta(&f, "note"), "from numpy") == 0, "note");
    zs_st_free(&f);
}

/* ---- malformed files --------------------------------------------------- */

typedef struct {
    const char *what;
    const char *json;      /* NULL: raw bytes below */
    size_t data_len;
    uint64_t hlen;         /* AUTO_LEN: strlen(json) */
    zs_status want;
    const char *needle;    /* substring the message must contain, or NULL */
} bad_case;

#define T(name) "\"" name "\""
static const bad_case bad_cases[] = {
    {"header length larger than file", "{}", 0, 100, ZS_EFORMAT, "exceeds"},
    {"huge header length 2^40", "{}", 0, 1ull << 40, ZS_ELIMIT, "limit"},
    {"header length 2^64-1", "{}", 0, UINT64_MAX, ZS_ELIMIT, "limit"},
    {"header length just over 16 MiB", "{}", 0, (16u << 20) + 1, ZS_ELIMIT, "limit"},
    {"header length 0", "{}", 8, 0, ZS_EFORMAT, NULL},
    {"not JSON", "{not json}", 0, AUTO_LEN, ZS_EFORMAT, "JSON"},
    {"unterminated JSON", "{\"a\":{\"dtype\":\"F32\"", 0, AUTO_LEN, ZS_EFORMAT, "JSON"},
    {"JSON array", "[1, 2]", 0, AUTO_LEN, ZS_EFORMAT, NULL},
    {"JSON string", "\"{}\"", 0, AUTO_LEN, ZS_EFORMAT, NULL},
    {"leading space", " {}", 0, AUTO_LEN, ZS_EFORMAT, NULL},
    {"trailing garbage", "{}  x", 0, AUTO_LEN, ZS_EFORMAT, "trailing"},
    {"two JSON objects", "{}{}", 0, AUTO_LEN, ZS_EFORMAT, NULL},
    {"entry not an object", "{" T("w") ":5}", 0, AUTO_LEN, ZS_EFORMAT, "'w'"},
    {"unknown dtype", "{" T("w") ":{\"dtype\":\"F8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, AUTO_LEN, ZS_EFORMAT, "F8"},
    {"dtype not a string", "{" T("w") ":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, AUTO_LEN, ZS_EFORMAT, "'w'"},
    {"lowercase dtype", "{" T("w") ":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, AUTO_LEN, ZS_EFORMAT, "'w'"},
    {"missing dtype", "{" T("w") ":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, AUTO_LEN, ZS_EFORMAT, "dtype"},
    {"missing shape", "{" T("w") ":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, AUTO_LEN, ZS_EFORMAT, "shape"},
    {"missing data_offsets", "{" T("w") ":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, AUTO_LEN, ZS_EFORMAT, "data_offsets"},
    {"duplicate dtype key", "{" T("w") ":{\"dtype\":\"F32\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, AUTO_LEN, ZS_EFORMAT, "duplicate"},
    {"negative shape", "{" T("w") ":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, AUTO_LEN, ZS_EFORMAT, "'w'"},
    {"fractional shape", "{" T("w") ":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, AUTO_LEN, ZS_EFORMAT, "shape[0]"},
    {"string in shape", "{" T("w") ":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, AUTO_LEN, ZS_EFORMAT, "'w'"},
    {"shape not an array", "{" T("w") ":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}", 4, AUTO_LEN, ZS_EFORMAT, "'w'"},
    {"9 dims", "{" T("w") ":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1, AUTO_LEN, ZS_ELIMIT, "'w'"},
    {"10^12 elements", "{" T("w") ":{\"dtype\":\"U8\",\"shape\":[1000000,1000000],\"data_offsets\":[0,1000000000000]}}", 0, AUTO_LEN, ZS_ELIMIT, "'w'"},
    {"shape product overflows 64 bits", "{" T("w") ":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,0]}}", 0, AUTO_LEN, ZS_ELIMIT, "'w'"},
    {"dimension 2^53+", "{" T("w") ":{\"dtype\":\"F32\",\"shape\":[0,1e300],\"data_offsets\":[0,0]}}", 0, AUTO_LEN, ZS_EFORMAT, "'w'"},
    {"shape*dtype != byte range", "{" T("w") ":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, AUTO_LEN, ZS_EFORMAT, "'w'"},
    {"offsets beyond the data", "{" T("w") ":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, AUTO_LEN, ZS_EFORMAT, "beyond"},
    {"truncated data", "{" T("w") ":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 15, AUTO_LEN, ZS_EFORMAT, "'w'"},
    {"begin > end", "{" T("w") ":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8, AUTO_LEN, ZS_EFORMAT, "begin"},
    {"negative offset", "{" T("w") ":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-1,0]}}", 8, AUTO_LEN, ZS_EFORMAT, "'w'"},
    {"three offsets", "{" T("w") ":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 8, AUTO_LEN, ZS_EFORMAT, "'w'"},
    {"offsets not an array", "{" T("w") ":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":{}}}", 8, AUTO_LEN, ZS_EFORMAT, "'w'"},
    {"huge offsets", "{" T("w") ":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1e300,1e300]}}", 8, AUTO_LEN, ZS_EFORMAT, "'w'"},
    {"trailing data after tensors (the reference implementation refuses it)",
     "{" T("w") ":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 9, AUTO_LEN, ZS_EFORMAT, "trailing"},
    {"data but no tensors", "{}", 4, AUTO_LEN, ZS_EFORMAT, "trailing"},
    {"overlapping tensors",
     "{" T("a") ":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         T("b") ":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, AUTO_LEN, ZS_EFORMAT, "overlaps"},
    {"same range twice",
     "{" T("a") ":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         T("b") ":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, AUTO_LEN, ZS_EFORMAT, "overlaps"},
    {"empty tensor inside another",
     "{" T("a") ":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         T("b") ":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}", 8, AUTO_LEN, ZS_EFORMAT, "overlaps"},
    {"duplicate names",
     "{" T("a") ":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
         T("a") ":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, AUTO_LEN, ZS_EFORMAT, "duplicate"},
    {"non-string metadata value", "{\"__metadata__\":{\"k\":1}}", 0, AUTO_LEN, ZS_EFORMAT, "\"k\""},
    {"metadata not an object", "{\"__metadata__\":[\"k\",\"v\"]}", 0, AUTO_LEN, ZS_EFORMAT, "__metadata__"},
    {"metadata nested object", "{\"__metadata__\":{\"k\":{}}}", 0, AUTO_LEN, ZS_EFORMAT, "\"k\""},
    {"duplicate metadata key", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, AUTO_LEN, ZS_EFORMAT, "duplicate"},
    {"two __metadata__", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, AUTO_LEN, ZS_EFORMAT, "__metadata__"},
};

static void check_bad(const char *what, const uint8_t *p, size_t n, zs_status want, const char *needle) {
    zs_st_file f;
    memset(&f, 0x5A, sizeof f);  /* garbage in: parse must zero it */
    zs_error_clear();
    zs_status st = zs_st_parse(&f, p, n);
    const char *m = zs_last_error();
    CHECK(st == want, "%s: want %s, got %s (%s)", what, zs_status_str(want), zs_status_str(st), m);
    CHECK(m[0] != '\0', "%s: empty error message", what);
    CHECK(!needle || strstr(m, needle), "%s: message lacks \"%s\": %s", what, needle ? needle : "", m);
    CHECK(is_zeroed(&f), "%s: partial struct left behind", what);
    zs_st_free(&f);
}

static void test_malformed(void) {
    int n = (int)(sizeof bad_cases / sizeof bad_cases[0]);
    CHECK(n >= 20, "at least 20 malformed cases");
    for (int i = 0; i < n; i++) {
        const bad_case *c = &bad_cases[i];
        blob b = mk(c->json, strlen(c->json), c->hlen, c->data_len);
        check_bad(c->what, b.p, b.n, c->want, c->needle);
        free(b.p);
    }
    /* Raw short files. */
    const uint8_t seven[7] = {2, 0, 0, 0, 0, 0, 0};
    check_bad("empty file", seven, 0, ZS_EFORMAT, NULL);
    check_bad("7-byte file", seven, 7, ZS_EFORMAT, "7 bytes");
    check_bad("NULL data, size 0", NULL, 0, ZS_EFORMAT, NULL);
    /* NUL byte inside the header. */
    const char nul_json[] = "{\"__metadata__\":{\"k\":\"a\0b\"}}";
    blob b = mk(nul_json, sizeof nul_json - 1, AUTO_LEN, 0);
    check_bad("NUL in header", b.p, b.n, ZS_EFORMAT, "NUL");
    free(b.p);
    /* Deep nesting: cJSON's nesting limit, no stack overflow. */
    size_t depth = 5000, jl = 0;
    char *deep = malloc(2 * depth + 32);
    jl += (size_t)sprintf(deep, "{\"__metadata__\":");
    for (size_t i = 0; i < depth; i++) deep[jl++] = '[';
    for (size_t i = 0; i < depth; i++) deep[jl++] = ']';
    deep[jl++] = '}';
    b = mk(deep, jl, AUTO_LEN, 0);
    check_bad("5000-deep nesting", b.p, b.n, ZS_EFORMAT, NULL);
    free(b.p);
    free(deep);
    /* More than ZS_MAX_TENSORS tensors (all empty, which is otherwise valid). */
    size_t cap = (ZS_MAX_TENSORS + 2) * 64, len = 0;
    char *many = malloc(cap);
    len += (size_t)sprintf(many, "{");
    for (int i = 0; i <= ZS_MAX_TENSORS; i++)
        len += (size_t)sprintf(many + len, "%s\"t%d\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}",
                               i ? "," : "", i);
    many[len++] = '}';
    b = mk(many, len, AUTO_LEN, 0);
    check_bad("4097 tensors", b.p, b.n, ZS_ELIMIT, "4097");
    free(b.p);
    /* ...and exactly ZS_MAX_TENSORS is fine. */
    char *cut = strstr(many, ",\"t4096\"");
    CHECK(cut != NULL, "find last tensor");
    if (cut) {
        cut[0] = '}';
        b = mk(many, (size_t)(cut - many) + 1, AUTO_LEN, 0);
        zs_st_file f;
        CHECK(zs_st_parse(&f, b.p, b.n) == ZS_OK && f.n_tensors == ZS_MAX_TENSORS, "4096 tensors ok: %s",
              zs_last_error());
        zs_st_free(&f);
        free(b.p);
    }
    free(many);
    /* A header of a million commas: refused before cJSON builds nodes. */
    size_t big = (size_t)2 << 20;
    char *commas = malloc(big + 16);
    len = (size_t)sprintf(commas, "{\"__metadata__\":[");
    while (len < big) commas[len++] = ',';
    commas[len++] = ']';
    commas[len++] = '}';
    b = mk(commas, len, AUTO_LEN, 0);
    check_bad("2M JSON values", b.p, b.n, ZS_ELIMIT, "JSON values");
    free(b.p);
    free(commas);
}

/* Valid files that a strict-but-wrong reader might refuse. */
static void test_valid_edge_cases(void) {
    static const struct { const char *what, *json; size_t data_len; int n; } ok[] = {
        {"empty header object", "{}", 0, 0},
        {"space padding after JSON", "{}      ", 0, 0},
        {"metadata only", "{\"__metadata__\":{\"a\":\"b\"}}", 0, 0},
        {"empty metadata", "{\"__metadata__\":{}}", 0, 0},
        {"gap between tensors", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                                "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[4,5]}}", 5, 2},
        {"two empty tensors at one offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
                                            "\"b\":{\"dtype\":\"F32\",\"shape\":[3,0],\"data_offsets\":[0,0]}}", 0, 2},
        {"unknown extra key ignored", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2],\"x\":1}}", 2, 1},
        {"out-of-order offsets", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]},"
                                 "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 2, 2},
        {"integer written as 2.0", "{\"a\":{\"dtype\":\"U8\",\"shape\":[2.0],\"data_offsets\":[0,2e0]}}", 2, 1},
        {"empty name", "{\"\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}", 1, 1},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        blob b = mk(ok[i].json, strlen(ok[i].json), AUTO_LEN, ok[i].data_len);
        zs_st_file f;
        zs_status st = zs_st_parse(&f, b.p, b.n);
        CHECK(st == ZS_OK && f.n_tensors == ok[i].n, "%s: %s (%d tensors)", ok[i].what,
              st ? zs_last_error() : "ok", f.n_tensors);
        zs_st_free(&f);
        free(b.p);
    }
}

static int write_for_python(const char *path) {
    zs_st_writer *w = NULL;
    if (build_writer(&w) != ZS_OK || zs_st_writer_save(w, path) != ZS_OK) {
        fprintf(stderr, "%s\n", zs_last_error());
        zs_st_writer_free(w);
        return 1;
    }
    zs_st_writer_free(w);
    zs_st_file f;
    if (zs_st_read(&f, path, 1 << 20) != ZS_OK) {
        fprintf(stderr, "%s\n", zs_last_error());
        return 1;
    }
    print_like_st_read(&f);
    zs_st_free(&f);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--write") == 0) return write_for_python(argv[2]);
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/zs_st_XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        CHECK(0, "mkdtemp %s", tmpdir);
        return check_finish("safetensors");
    }
    test_roundtrip();
    test_writer_errors();
    test_numpy_fixture();
    test_malformed();
    test_valid_edge_cases();
    rmdir(tmpdir);
    return check_finish("safetensors");
}
