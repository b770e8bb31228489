/*
 * dataset.c — N samples of (C, H, W) float32 features, int32 labels and
 * optional class names; loaded from safetensors or from IDX (MNIST /
 * Fashion-MNIST, optionally gzip-compressed), saved as safetensors.
 *
 * Every count and dimension read from a file is checked against the limits
 * before anything is allocated from it; IDX pixels are read in chunks into
 * a buffer that grows with the bytes actually present, so a 30-byte file
 * that claims 10^9 images costs nothing. Not thread-safe per data set.
 */
#include "safetensors.h"
#include "zs_internal.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <unistd.h>
#include <zlib.h>

/* Largest file zs_dataset_load reads whole (safetensors). */
#define DS_MAX_FILE_BYTES ((size_t)1 << 36)
/* Largest image in an IDX file, in pixels. */
#define DS_MAX_IDX_PIXELS (1 << 20)

struct zs_dataset {
    int n, c, h, w;
    float *x;        /* (N, C, H, W), 64-byte aligned */
    int32_t *y;      /* (N) */
    int n_names;     /* 0: no class names */
    char **names;    /* (n_names) */
};

static void free_names(char **names, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

void zs_dataset_free(zs_dataset *ds) {
    if (!ds) return;
    zs_free_aligned(ds->x);
    free(ds->y);
    free_names(ds->names, ds->n_names);
    free(ds);
}

/* Allocate a data set with zeroed features and labels; dims already valid. */
static zs_status ds_alloc(zs_dataset **out, int n, int c, int h, int w) {
    zs_dataset *ds = calloc(1, sizeof *ds);
    ZS_RETURN_IF(!ds, ZS_ENOMEM, "data set: out of memory");
    size_t per = (size_t)c * (size_t)h * (size_t)w;
    ds->n = n; ds->c = c; ds->h = h; ds->w = w;
    ds->x = zs_alloc_aligned((size_t)n * per, sizeof(float));
    ds->y = zs_calloc((size_t)n, sizeof(int32_t));
    if (!ds->x || !ds->y) {
        zs_dataset_free(ds);
        return ZS_ERR(ZS_ENOMEM, "data set: out of memory for %d samples of %zu floats", n, per);
    }
    *out = ds;
    return ZS_OK;
}

/* n >= 1, c, h, w >= 1 and n*c*h*w within ZS_MAX_ELEMENTS. */
static zs_status check_dims(const char *what, int64_t n, int64_t c, int64_t h, int64_t w) {
    ZS_RETURN_IF(n < 1 || c < 1 || h < 1 || w < 1, ZS_EINVAL,
                 "%s: shape (%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 ") must be positive",
                 what, n, c, h, w);
    uint64_t t = (uint64_t)n;
    const int64_t d[3] = {c, h, w};
    for (int i = 0; i < 3; i++) {
        ZS_RETURN_IF((uint64_t)d[i] > ZS_MAX_ELEMENTS || t > ZS_MAX_ELEMENTS / (uint64_t)d[i], ZS_ELIMIT,
                     "%s: shape (%" PRId64 ", %" PRId64 ", %" PRId64 ", %" PRId64 ") has more than %llu elements",
                     what, n, c, h, w, (unsigned long long)ZS_MAX_ELEMENTS);
        t *= (uint64_t)d[i];
    }
    ZS_RETURN_IF(n > INT32_MAX || c > INT32_MAX || h > INT32_MAX || w > INT32_MAX, ZS_ELIMIT,
                 "%s: a dimension exceeds %d", what, INT32_MAX);
    return ZS_OK;
}

zs_status zs_dataset_create(zs_dataset **out, int n, int c, int h, int w) {
    ZS_RETURN_IF(!out, ZS_EINVAL, "zs_dataset_create: output is NULL");
    *out = NULL;
    zs_status st = check_dims("zs_dataset_create", n, c, h, w);
    if (st) return st;
    return ds_alloc(out, n, c, h, w);
}

int zs_dataset_size(const zs_dataset *ds) { return ds ? ds->n : 0; }

void zs_dataset_shape(const zs_dataset *ds, int *c, int *h, int *w) {
    if (c) *c = ds ? ds->c : 0;
    if (h) *h = ds ? ds->h : 0;
    if (w) *w = ds ? ds->w : 0;
}

float *zs_dataset_features(zs_dataset *ds) { return ds ? ds->x : NULL; }
int32_t *zs_dataset_labels(zs_dataset *ds) { return ds ? ds->y : NULL; }
const float *zs_dataset_features_const(const zs_dataset *ds) { return ds ? ds->x : NULL; }
const int32_t *zs_dataset_labels_const(const zs_dataset *ds) { return ds ? ds->y : NULL; }

int zs_dataset_num_classes(const zs_dataset *ds) {
    if (!ds) return 0;
    if (ds->n_names) return ds->n_names;
    int32_t mx = -1;
    for (int i = 0; i < ds->n; i++)
        if (ds->y[i] > mx) mx = ds->y[i];
    return mx < 0 ? 0 : mx == INT32_MAX ? INT32_MAX : (int)mx + 1;
}

const char *zs_dataset_class_name(const zs_dataset *ds, int i) {
    if (!ds || i < 0 || i >= ds->n_names) return NULL;
    return ds->names[i];
}

/* Labels in [0, k): the first offender named. */
static zs_status check_labels(const zs_dataset *ds, int k, zs_status code, const char *what) {
    for (int i = 0; i < ds->n; i++)
        ZS_RETURN_IF(ds->y[i] < 0 || ds->y[i] >= k, code,
                     "%s: label %" PRId32 " of sample %d is outside [0, %d)", what, ds->y[i], i, k);
    return ZS_OK;
}

zs_status zs_dataset_set_class_names(zs_dataset *ds, int n, const char *const *names) {
    ZS_RETURN_IF(!ds, ZS_EINVAL, "zs_dataset_set_class_names: data set is NULL");
    ZS_RETURN_IF(n < 0 || n > ZS_MAX_CLASSES || (n > 0 && !names), ZS_EINVAL,
                 "zs_dataset_set_class_names: %d names (1..%d, or 0 to clear)", n, ZS_MAX_CLASSES);
    if (n == 0) {
        free_names(ds->names, ds->n_names);
        ds->names = NULL;
        ds->n_names = 0;
        return ZS_OK;
    }
    for (int i = 0; i < n; i++)
        ZS_RETURN_IF(!names[i], ZS_EINVAL, "zs_dataset_set_class_names: name %d is NULL", i);
    zs_status st = check_labels(ds, n, ZS_EINVAL, "zs_dataset_set_class_names");
    if (st) return st;
    char **copy = zs_calloc((size_t)n, sizeof *copy);
    ZS_RETURN_IF(!copy, ZS_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        copy[i] = zs_strdup(names[i]);
        if (!copy[i]) {
            free_names(copy, i);
            return ZS_ERR(ZS_ENOMEM, "out of memory");
        }
    }
    free_names(ds->names, ds->n_names);
    ds->names = copy;
    ds->n_names = n;
    return ZS_OK;
}

/* ---- safetensors ------------------------------------------------------- */

/* "classes": a JSON array of 1..ZS_MAX_CLASSES strings. */
static zs_status parse_classes(zs_dataset *ds, const char *json) {
    cJSON *a = cJSON_Parse(json);
    zs_status st = ZS_OK;
    if (!a || !cJSON_IsArray(a)) {
        st = ZS_ERR(ZS_EFORMAT, "metadata \"classes\" is not a JSON array");
    } else {
        int n = cJSON_GetArraySize(a);
        if (n < 1) st = ZS_ERR(ZS_EFORMAT, "metadata \"classes\" is empty");
        else if (n > ZS_MAX_CLASSES) st = ZS_ERR(ZS_ELIMIT, "metadata \"classes\": %d names, over the limit of %d", n, ZS_MAX_CLASSES);
        int i = 0;
        for (const cJSON *c = a->child; c && st == ZS_OK; c = c->next, i++)
            if (!cJSON_IsString(c)) st = ZS_ERR(ZS_EFORMAT, "metadata \"classes\"[%d] is not a string", i);
        if (st == ZS_OK) {
            ds->names = zs_calloc((size_t)n, sizeof *ds->names);
            if (!ds->names) st = ZS_ERR(ZS_ENOMEM, "out of memory");
            for (const cJSON *c = a->child; c && st == ZS_OK; c = c->next) {
                ds->names[ds->n_names] = zs_strdup(c->valuestring);
                if (!ds->names[ds->n_names]) st = ZS_ERR(ZS_ENOMEM, "out of memory");
                else ds->n_names++;
            }
        }
    }
    cJSON_Delete(a);
    return st;
}

static zs_status from_st(zs_dataset **out, const zs_st_file *f) {
    const zs_st_tensor *tx = zs_st_find(f, "features"), *ty = zs_st_find(f, "labels");
    ZS_RETURN_IF(!tx, ZS_EFORMAT, "data set: no tensor 'features'");
    ZS_RETURN_IF(!ty, ZS_EFORMAT, "data set: no tensor 'labels'");
    ZS_RETURN_IF(tx->dtype != ZS_ST_F32, ZS_EFORMAT, "data set: 'features' is %s, expected F32",
                 zs_st_dtype_name(tx->dtype));
    int64_t n, c = 1, h = 1, w;
    switch (tx->ndim) {
    case 4: n = tx->shape[0]; c = tx->shape[1]; h = tx->shape[2]; w = tx->shape[3]; break;
    case 3: n = tx->shape[0]; h = tx->shape[1]; w = tx->shape[2]; break;
    case 2: n = tx->shape[0]; w = tx->shape[1]; break;
    default:
        return ZS_ERR(ZS_EFORMAT, "data set: 'features' has %d dimensions, expected [N,C,H,W], [N,H,W] or [N,D]",
                      tx->ndim);
    }
    zs_status st = check_dims("data set 'features'", n, c, h, w);
    if (st) return st == ZS_EINVAL ? ZS_ERR(ZS_EFORMAT, "%s", zs_last_error()) : st;
    ZS_RETURN_IF(ty->dtype != ZS_ST_I32 && ty->dtype != ZS_ST_I64 && ty->dtype != ZS_ST_U8, ZS_EFORMAT,
                 "data set: 'labels' is %s, expected I32, I64 or U8", zs_st_dtype_name(ty->dtype));
    ZS_RETURN_IF(ty->ndim != 1 || ty->shape[0] != n, ZS_EFORMAT,
                 "data set: 'labels' must have shape [%" PRId64 "] to match 'features'", n);

    zs_dataset *ds = NULL;
    ZS_TRY(ds_alloc(&ds, (int)n, (int)c, (int)h, (int)w));
    if (tx->nbytes) memcpy(ds->x, tx->data, tx->nbytes);
    for (int i = 0; i < ds->n; i++) {
        const uint8_t *p = (const uint8_t *)ty->data;
        int64_t v;
        if (ty->dtype == ZS_ST_I32) { int32_t t; memcpy(&t, p + 4 * (size_t)i, 4); v = t; }
        else if (ty->dtype == ZS_ST_I64) memcpy(&v, p + 8 * (size_t)i, 8);
        else v = p[i];
        if (v < 0 || v >= ZS_MAX_CLASSES)
            ZS_FAIL(ZS_EFORMAT, "data set: label %" PRId64 " of sample %d is outside [0, %d)", v, i,
                    ZS_MAX_CLASSES);
        ds->y[i] = (int32_t)v;
    }
    size_t total = (size_t)ds->n * (size_t)ds->c * (size_t)ds->h * (size_t)ds->w;
    for (size_t i = 0; i < total; i++)
        if (!isfinite(ds->x[i]))
            ZS_FAIL(ZS_ENUMERIC, "data set: feature %zu (sample %zu) is %s", i,
                    i / (total / (size_t)ds->n), isnan(ds->x[i]) ? "NaN" : "Inf");
    const char *classes = zs_st_meta(f, "classes");
    if (classes) {
        ZS_TRY(parse_classes(ds, classes));
        ZS_TRY(check_labels(ds, ds->n_names, ZS_EFORMAT, "data set"));
    }
    *out = ds;
    return ZS_OK;
fail:
    zs_dataset_free(ds);
    return st;
}

zs_status zs_dataset_load_mem(zs_dataset **out, const void *data, size_t size) {
    ZS_RETURN_IF(!out, ZS_EINVAL, "zs_dataset_load_mem: output is NULL");
    *out = NULL;
    zs_st_file f;
    zs_status st = zs_st_parse(&f, data, size);
    if (st) return st;
    st = from_st(out, &f);
    zs_st_free(&f);
    return st;
}

zs_status zs_dataset_save(const zs_dataset *ds, const char *path) {
    ZS_RETURN_IF(!ds || !path, ZS_EINVAL, "zs_dataset_save: NULL argument");
    zs_status st = check_labels(ds, ds->n_names ? ds->n_names : ZS_MAX_CLASSES, ZS_EINVAL, path);
    if (st) return st;
    zs_st_writer *w = NULL;
    char *classes = NULL;
    cJSON *arr = NULL;
    ZS_TRY(zs_st_writer_create(&w));
    const int64_t xs[4] = {ds->n, ds->c, ds->h, ds->w}, ys[1] = {ds->n};
    ZS_TRY(zs_st_writer_add(w, "features", ZS_ST_F32, 4, xs, ds->x));
    ZS_TRY(zs_st_writer_add(w, "labels", ZS_ST_I32, 1, ys, ds->y));
    ZS_TRY(zs_st_writer_meta(w, "format", "zeroskip-dataset"));
    if (ds->n_names) {
        arr = cJSON_CreateStringArray((const char *const *)ds->names, ds->n_names);
        classes = arr ? cJSON_PrintUnformatted(arr) : NULL;
        if (!classes) ZS_FAIL(ZS_ENOMEM, "%s: out of memory", path);
        ZS_TRY(zs_st_writer_meta(w, "classes", classes));
    }
    ZS_TRY(zs_st_writer_save(w, path));
fail:
    cJSON_Delete(arr);
    cJSON_free(classes);
    zs_st_writer_free(w);
    return st;
}

/* ---- IDX --------------------------------------------------------------- */

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Read exactly n bytes; ZS_EFORMAT naming the file when it ends early. */
static zs_status gz_read_exact(gzFile g, const char *path, void *buf, size_t n, const char *what) {
    uint8_t *p = buf;
    while (n) {
        unsigned chunk = n > (1u << 30) ? (1u << 30) : (unsigned)n;
        int got = gzread(g, p, chunk);
        if (got < 0) {
            int err;
            const char *m = gzerror(g, &err);
            return ZS_ERR(ZS_EFORMAT, "%s: cannot read %s: %s", path, what, m ? m : "zlib error");
        }
        ZS_RETURN_IF(got == 0, ZS_EFORMAT, "%s: truncated while reading %s", path, what);
        p += got;
        n -= (size_t)got;
    }
    return ZS_OK;
}

/* 1 if the stream has no bytes left, 0 otherwise (or on error). */
static int gz_at_end(gzFile g) {
    uint8_t b;
    return gzread(g, &b, 1) == 0;
}

/* Read `n` bytes in chunks into a buffer grown only as data arrives. */
static zs_status gz_read_grow(gzFile g, const char *path, size_t n, uint8_t **out, const char *what) {
    size_t cap = 0, have = 0;
    uint8_t *buf = NULL;
    while (have < n) {
        if (have == cap) {
            size_t ncap = cap ? cap * 2 : (1u << 20);
            if (ncap > n) ncap = n;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) { free(buf); return ZS_ERR(ZS_ENOMEM, "%s: out of memory for %zu bytes", path, ncap); }
            buf = nb;
            cap = ncap;
        }
        zs_status st = gz_read_exact(g, path, buf + have, cap - have, what);
        if (st) { free(buf); return st; }
        have = cap;
    }
    *out = buf;
    return ZS_OK;
}

static zs_status gz_open(gzFile *g, const char *path) {
    int fd = zs_open_regular(path);  /* never blocks on a FIFO */
    if (fd < 0) { *g = NULL; return ZS_EIO; }
    errno = 0;
    *g = gzdopen(fd, "rb");
    if (!*g) close(fd);
    ZS_RETURN_IF(!*g, ZS_EIO, "%s: cannot open: %s", path, errno ? strerror(errno) : "zlib error");
    return ZS_OK;
}

/* The images file is open at offset 4 (its magic was read by the caller). */
static zs_status load_idx(zs_dataset **out, gzFile gi, const char *path) {
    zs_status st = ZS_OK;
    gzFile gl = NULL;
    uint8_t *pix = NULL, *lab = NULL;
    zs_dataset *ds = NULL;
    char *lpath = NULL;

    uint8_t hdr[12];
    ZS_TRY(gz_read_exact(gi, path, hdr, 12, "the IDX image header"));
    uint32_t n = be32(hdr), rows = be32(hdr + 4), cols = be32(hdr + 8);
    if (n < 1 || rows < 1 || cols < 1)
        ZS_FAIL(ZS_EFORMAT, "%s: IDX dimensions %" PRIu32 " x %" PRIu32 " x %" PRIu32 " must be positive",
                path, n, rows, cols);
    if ((uint64_t)rows * cols > DS_MAX_IDX_PIXELS)
        ZS_FAIL(ZS_ELIMIT, "%s: IDX images of %" PRIu32 " x %" PRIu32 " exceed %d pixels", path, rows,
                cols, DS_MAX_IDX_PIXELS);
    ZS_TRY(check_dims(path, n, 1, rows, cols));
    size_t per = (size_t)rows * cols, total = (size_t)n * per;

    /* Labels file first: a count mismatch is caught before reading pixels. */
    const char *at = strstr(path, "images-idx3");
    if (!at) ZS_FAIL(ZS_EINVAL, "%s: cannot find the labels file (name lacks \"images-idx3\")", path);
    size_t plen = strlen(path);
    lpath = malloc(plen + 1);
    if (!lpath) ZS_FAIL(ZS_ENOMEM, "out of memory");
    memcpy(lpath, path, plen + 1);
    memcpy(lpath + (at - path), "labels-idx1", 11);
    ZS_TRY(gz_open(&gl, lpath));
    uint8_t lh[8];
    ZS_TRY(gz_read_exact(gl, lpath, lh, 8, "the IDX label header"));
    if (be32(lh) != 0x00000801)
        ZS_FAIL(ZS_EFORMAT, "%s: bad IDX label magic 0x%08" PRIx32 " (expected 0x00000801)", lpath, be32(lh));
    if (be32(lh + 4) != n)
        ZS_FAIL(ZS_EFORMAT, "%s holds %" PRIu32 " labels but %s holds %" PRIu32 " images", lpath,
                be32(lh + 4), path, n);

    ZS_TRY(gz_read_grow(gi, path, total, &pix, "IDX pixels"));
    if (!gz_at_end(gi)) ZS_FAIL(ZS_EFORMAT, "%s: trailing bytes after %" PRIu32 " images", path, n);
    ZS_TRY(gz_read_grow(gl, lpath, n, &lab, "IDX labels"));
    if (!gz_at_end(gl)) ZS_FAIL(ZS_EFORMAT, "%s: trailing bytes after %" PRIu32 " labels", lpath, n);

    ZS_TRY(ds_alloc(&ds, (int)n, 1, (int)rows, (int)cols));
    for (size_t i = 0; i < total; i++) ds->x[i] = (float)pix[i] / 255.0f;
    for (uint32_t i = 0; i < n; i++) ds->y[i] = lab[i];
    *out = ds;
    ds = NULL;
fail:
    zs_dataset_free(ds);
    free(pix);
    free(lab);
    free(lpath);
    if (gl) gzclose(gl);
    return st;
}

zs_status zs_dataset_load(zs_dataset **out, const char *path) {
    ZS_RETURN_IF(!out || !path, ZS_EINVAL, "zs_dataset_load: NULL argument");
    *out = NULL;
    /* Sniff: an IDX magic 00 00 08 nn, nn != 0 (after gunzip if
     * compressed), or a name holding "images-idx3" selects IDX; anything
     * else is read as safetensors. Those four bytes as a safetensors header
     * length would be over 16 MiB, beyond ZS_MAX_HEADER_BYTES. */
    gzFile g;
    zs_status st = gz_open(&g, path);
    if (st) return st;
    uint8_t magic[4];
    int got = gzread(g, magic, 4);
    int idx_magic = got == 4 && magic[0] == 0 && magic[1] == 0 && magic[2] == 8 && magic[3] != 0;
    if (idx_magic || strstr(path, "images-idx3")) {
        if (got != 4 || be32(magic) != 0x00000803)
            st = ZS_ERR(ZS_EFORMAT, "%s: not an IDX image file (magic %s0x%08" PRIx32
                        ", expected 0x00000803)", path, got == 4 ? "" : "missing, ",
                        got == 4 ? be32(magic) : 0);
        else
            st = load_idx(out, g, path);
        gzclose(g);
        return st;
    }
    gzclose(g);
    zs_st_file f;
    st = zs_st_read(&f, path, DS_MAX_FILE_BYTES);
    if (st) return st;
    st = from_st(out, &f);
    zs_st_free(&f);
    if (st) return ZS_ERR(st, "%s: %s", path, zs_last_error());
    return ZS_OK;
}
