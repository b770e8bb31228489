/*
 * safetensors.c — reader and writer for the safetensors format.
 *
 * Layout: 8-byte little-endian header length N, N bytes of JSON (an object
 * mapping tensor names to {"dtype", "shape", "data_offsets"} plus an
 * optional "__metadata__" string->string map), then the data section.
 * Offsets are relative to the start of the data section.
 *
 * The reader trusts nothing: every size, offset and count is checked before
 * a tensor is handed out, and the JSON is pre-scanned so that a 16 MiB
 * header cannot expand into gigabytes of cJSON nodes. What it deliberately
 * does not do: memory-map, convert dtypes, or reject gaps between tensors
 * (other writers may pad; overlaps are rejected). Bytes after the last
 * tensor's end are refused, as the reference implementation refuses them.
 *
 * The writer lays tensors out back to back in the order added (no holes, so
 * the official safetensors library accepts the files) and pads the header
 * with spaces so that the data section starts at an 8-byte file offset.
 */
#include "safetensors.h"
#include "zs_internal.h"
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

/* Most JSON values a header may hold (tensors * ~16 values + metadata);
 * bounds cJSON's memory at roughly 64 bytes per value. */
#define ST_MAX_JSON_VALUES (1u << 20)
/* Largest integer a JSON number (a double in cJSON) represents exactly. */
#define ST_MAX_JSON_INT 9007199254740992.0

static const struct { const char *name; size_t size; } dtype_info[] = {
    [ZS_ST_BOOL] = {"BOOL", 1}, [ZS_ST_U8] = {"U8", 1},   [ZS_ST_I8] = {"I8", 1},
    [ZS_ST_I16] = {"I16", 2},   [ZS_ST_U16] = {"U16", 2}, [ZS_ST_F16] = {"F16", 2},
    [ZS_ST_BF16] = {"BF16", 2}, [ZS_ST_I32] = {"I32", 4}, [ZS_ST_U32] = {"U32", 4},
    [ZS_ST_F32] = {"F32", 4},   [ZS_ST_I64] = {"I64", 8}, [ZS_ST_U64] = {"U64", 8},
    [ZS_ST_F64] = {"F64", 8},
};
#define N_DTYPES ((int)(sizeof dtype_info / sizeof dtype_info[0]))

const char *zs_st_dtype_name(zs_st_dtype d) {
    return ((int)d >= 0 && (int)d < N_DTYPES) ? dtype_info[d].name : "?";
}

size_t zs_st_dtype_size(zs_st_dtype d) {
    return ((int)d >= 0 && (int)d < N_DTYPES) ? dtype_info[d].size : 0;
}

static int dtype_from_name(const char *s, zs_st_dtype *out) {
    for (int i = 0; i < N_DTYPES; i++)
        if (strcmp(s, dtype_info[i].name) == 0) { *out = (zs_st_dtype)i; return 1; }
    return 0;
}

static int host_is_little_endian(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* "[2, 3, 4]" into buf (truncated if needed). */
static const char *shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t used = 0;
    int w = snprintf(buf, cap, "[");
    used = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < ndim && used < cap; i++) {
        w = snprintf(buf + used, cap - used, "%s%" PRId64, i ? ", " : "", shape[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
    if (used < cap) snprintf(buf + used, cap - used, "]");
    return buf;
}

/* ---- reader ------------------------------------------------------------ */

void zs_st_free(zs_st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_vals[i]);
    }
    free(f->meta_keys);
    free(f->meta_vals);
    free(f->owned);
    memset(f, 0, sizeof *f);
}

/* Counts JSON values (roughly: separators and containers outside strings)
 * and rejects NUL bytes, without building anything. */
static zs_status prescan_json(const char *s, size_t n) {
    size_t values = 1;
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\0') return ZS_ERR(ZS_EFORMAT, "safetensors: header has a NUL byte at offset %zu", i);
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == ',' || c == '[' || c == '{') {
            values++;
        }
    }
    ZS_RETURN_IF(values > ST_MAX_JSON_VALUES, ZS_ELIMIT,
                 "safetensors: header has more than %u JSON values", ST_MAX_JSON_VALUES);
    return ZS_OK;
}

/* A JSON number that is a non-negative integer exactly representable. */
static int json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!isfinite(d) || d < 0 || d > ST_MAX_JSON_INT || d != floor(d)) return 0;
    *out = (uint64_t)d;
    return 1;
}

static zs_status parse_tensor(zs_st_tensor *t, const cJSON *e, size_t data_size) {
    const char *nm = t->name;
    ZS_RETURN_IF(!cJSON_IsObject(e), ZS_EFORMAT, "tensor '%s': entry is not a JSON object", nm);
    const cJSON *jd = NULL, *js = NULL, *jo = NULL;
    for (const cJSON *c = e->child; c; c = c->next) {
        const cJSON **slot = NULL;
        if (strcmp(c->string, "dtype") == 0) slot = &jd;
        else if (strcmp(c->string, "shape") == 0) slot = &js;
        else if (strcmp(c->string, "data_offsets") == 0) slot = &jo;
        else continue;  /* unknown keys are ignored, as the reference reader does */
        ZS_RETURN_IF(*slot, ZS_EFORMAT, "tensor '%s': duplicate key \"%s\"", nm, c->string);
        *slot = c;
    }
    ZS_RETURN_IF(!jd, ZS_EFORMAT, "tensor '%s': missing \"dtype\"", nm);
    ZS_RETURN_IF(!js, ZS_EFORMAT, "tensor '%s': missing \"shape\"", nm);
    ZS_RETURN_IF(!jo, ZS_EFORMAT, "tensor '%s': missing \"data_offsets\"", nm);

    ZS_RETURN_IF(!cJSON_IsString(jd), ZS_EFORMAT, "tensor '%s': \"dtype\" is not a string", nm);
    ZS_RETURN_IF(!dtype_from_name(jd->valuestring, &t->dtype), ZS_EFORMAT,
                 "tensor '%s': unknown dtype \"%.32s\"", nm, jd->valuestring);

    ZS_RETURN_IF(!cJSON_IsArray(js), ZS_EFORMAT, "tensor '%s': \"shape\" is not an array", nm);
    int ndim = cJSON_GetArraySize(js);
    ZS_RETURN_IF(ndim > ZS_ST_MAX_DIMS, ZS_ELIMIT, "tensor '%s': %d dimensions, at most %d supported",
                 nm, ndim, ZS_ST_MAX_DIMS);
    t->ndim = ndim;
    uint64_t numel = 1;
    int i = 0;
    for (const cJSON *c = js->child; c; c = c->next, i++) {
        uint64_t d;
        ZS_RETURN_IF(!json_uint(c, &d), ZS_EFORMAT,
                     "tensor '%s': shape[%d] is not a non-negative integer", nm, i);
        ZS_RETURN_IF(d > ZS_MAX_ELEMENTS, ZS_ELIMIT, "tensor '%s': shape[%d] = %" PRIu64
                     " is over the limit of %llu elements", nm, i, d, (unsigned long long)ZS_MAX_ELEMENTS);
        t->shape[i] = (int64_t)d;
        if (numel != 0 && d != 0 && numel > ZS_MAX_ELEMENTS / d)
            numel = ZS_MAX_ELEMENTS + 1;  /* saturate; reported below */
        else
            numel *= d;
    }
    char sb[160];
    ZS_RETURN_IF(numel > ZS_MAX_ELEMENTS, ZS_ELIMIT,
                 "tensor '%s': shape %s has more than %llu elements", nm,
                 shape_str(sb, sizeof sb, ndim, t->shape), (unsigned long long)ZS_MAX_ELEMENTS);
    t->numel = (size_t)numel;
    t->nbytes = t->numel * dtype_info[t->dtype].size;  /* <= 2^35: no overflow */

    ZS_RETURN_IF(!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2, ZS_EFORMAT,
                 "tensor '%s': \"data_offsets\" is not an array [begin, end]", nm);
    uint64_t begin, end;
    ZS_RETURN_IF(!json_uint(jo->child, &begin) || !json_uint(jo->child->next, &end), ZS_EFORMAT,
                 "tensor '%s': data_offsets are not non-negative integers", nm);
    ZS_RETURN_IF(begin > end, ZS_EFORMAT, "tensor '%s': data_offsets begin %" PRIu64
                 " > end %" PRIu64, nm, begin, end);
    ZS_RETURN_IF(end - begin != t->nbytes, ZS_EFORMAT, "tensor '%s': data_offsets span %" PRIu64
                 " bytes but %s %s needs %zu", nm, end - begin, dtype_info[t->dtype].name,
                 shape_str(sb, sizeof sb, ndim, t->shape), t->nbytes);
    ZS_RETURN_IF(end > data_size, ZS_EFORMAT, "tensor '%s': data_offsets end %" PRIu64
                 " is beyond the data section (%zu bytes)", nm, end, data_size);
    /* Stash begin in data as an offset; rebased to a pointer by the caller. */
    t->data = (const void *)(uintptr_t)begin;
    return ZS_OK;
}

static zs_status parse_metadata(zs_st_file *f, const cJSON *m) {
    ZS_RETURN_IF(!cJSON_IsObject(m), ZS_EFORMAT, "\"__metadata__\" is not a JSON object");
    int n = cJSON_GetArraySize(m);
    if (n == 0) return ZS_OK;
    f->meta_keys = zs_calloc((size_t)n, sizeof(char *));
    f->meta_vals = zs_calloc((size_t)n, sizeof(char *));
    ZS_RETURN_IF(!f->meta_keys || !f->meta_vals, ZS_ENOMEM, "out of memory for %d metadata entries", n);
    for (const cJSON *c = m->child; c; c = c->next) {
        ZS_RETURN_IF(!cJSON_IsString(c), ZS_EFORMAT,
                     "\"__metadata__\": value of \"%.64s\" is not a string", c->string);
        for (int j = 0; j < f->n_meta; j++)
            ZS_RETURN_IF(strcmp(f->meta_keys[j], c->string) == 0, ZS_EFORMAT,
                         "\"__metadata__\": duplicate key \"%.64s\"", c->string);
        int k = f->n_meta;
        f->meta_keys[k] = zs_strdup(c->string);
        f->meta_vals[k] = zs_strdup(c->valuestring);
        if (f->meta_keys[k] || f->meta_vals[k]) f->n_meta++;  /* so free() sees both */
        ZS_RETURN_IF(!f->meta_keys[k] || !f->meta_vals[k], ZS_ENOMEM, "out of memory for metadata");
    }
    return ZS_OK;
}

/* Sort keys for the duplicate-name and overlap checks. */
typedef struct { const char *name; uint64_t begin, end; } st_key;
static int key_by_name(const void *a, const void *b) {
    return strcmp(((const st_key *)a)->name, ((const st_key *)b)->name);
}
static int key_by_range(const void *a, const void *b) {
    const st_key *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Duplicate names and overlapping byte ranges, with n log n sorts. */
static zs_status check_names_and_overlaps(const zs_st_file *f) {
    int n = f->n_tensors;
    if (n < 2) return ZS_OK;
    st_key *k = zs_calloc((size_t)n, sizeof *k);
    ZS_RETURN_IF(!k, ZS_ENOMEM, "out of memory for %d tensors", n);
    for (int i = 0; i < n; i++) {
        k[i].name = f->tensors[i].name;
        k[i].begin = (uint64_t)(uintptr_t)f->tensors[i].data;
        k[i].end = k[i].begin + f->tensors[i].nbytes;
    }
    zs_status st = ZS_OK;
    qsort(k, (size_t)n, sizeof *k, key_by_name);
    for (int i = 1; i < n && st == ZS_OK; i++)
        if (strcmp(k[i - 1].name, k[i].name) == 0)
            st = ZS_ERR(ZS_EFORMAT, "tensor '%s': duplicate name", k[i].name);
    if (st == ZS_OK) {
        qsort(k, (size_t)n, sizeof *k, key_by_range);
        for (int i = 1; i < n && st == ZS_OK; i++)
            if (k[i].begin < k[i - 1].end)
                st = ZS_ERR(ZS_EFORMAT, "tensor '%s' (bytes %" PRIu64 "..%" PRIu64 ") overlaps "
                            "tensor '%s' (bytes %" PRIu64 "..%" PRIu64 ")", k[i].name, k[i].begin,
                            k[i].end, k[i - 1].name, k[i - 1].begin, k[i - 1].end);
    }
    free(k);
    return st;
}

zs_status zs_st_parse(zs_st_file *out, const void *data, size_t size) {
    ZS_RETURN_IF(!out, ZS_EINVAL, "zs_st_parse: output is NULL");
    memset(out, 0, sizeof *out);
    ZS_RETURN_IF(!data && size, ZS_EINVAL, "zs_st_parse: data is NULL");
    ZS_RETURN_IF(!host_is_little_endian(), ZS_EUNSUPPORTED, "safetensors: big-endian hosts are not supported");
    ZS_RETURN_IF(size < 8, ZS_EFORMAT, "safetensors: file of %zu bytes is shorter than the 8-byte header length", size);
    const uint8_t *p = data;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | p[i];
    ZS_RETURN_IF(hlen > ZS_MAX_HEADER_BYTES, ZS_ELIMIT, "safetensors: header length %" PRIu64
                 " is over the limit of %u bytes", hlen, ZS_MAX_HEADER_BYTES);
    ZS_RETURN_IF(hlen > size - 8, ZS_EFORMAT, "safetensors: header length %" PRIu64
                 " exceeds the %zu bytes after the length field", hlen, size - 8);
    ZS_RETURN_IF(hlen < 2 || p[8] != '{', ZS_EFORMAT, "safetensors: header does not start with '{'");
    size_t data_size = size - 8 - (size_t)hlen;
    const uint8_t *base = p + 8 + hlen;

    zs_status st = prescan_json((const char *)p + 8, (size_t)hlen);
    if (st) return st;
    /* cJSON gets its own NUL-terminated copy: no read can run past it. */
    char *hdr = malloc((size_t)hlen + 1);
    ZS_RETURN_IF(!hdr, ZS_ENOMEM, "safetensors: out of memory for a %" PRIu64 "-byte header", hlen);
    memcpy(hdr, p + 8, (size_t)hlen);
    hdr[hlen] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, 0);
    zs_st_file f = {0};
    if (!root) {
        /* cJSON sets `end` to the error position (cJSON_GetErrorPtr is a
         * global, not thread-safe). */
        size_t at = end ? (size_t)(end - hdr) : 0;
        ZS_FAIL(ZS_EFORMAT, "safetensors: header is not valid JSON (near byte %zu)", at);
    }
    for (const char *q = end; q && q < hdr + hlen; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r')
            ZS_FAIL(ZS_EFORMAT, "safetensors: trailing bytes after the header JSON (byte %zu)",
                    (size_t)(q - hdr));
    if (!cJSON_IsObject(root)) ZS_FAIL(ZS_EFORMAT, "safetensors: header is not a JSON object");

    int n_entries = cJSON_GetArraySize(root);
    const cJSON *meta = NULL;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (strcmp(c->string, "__metadata__") == 0) {
            if (meta) ZS_FAIL(ZS_EFORMAT, "safetensors: duplicate \"__metadata__\"");
            meta = c;
        }
    }
    int n_t = n_entries - (meta != NULL);
    if (n_t > ZS_MAX_TENSORS)
        ZS_FAIL(ZS_ELIMIT, "safetensors: %d tensors, over the limit of %d", n_t, ZS_MAX_TENSORS);
    if (meta) ZS_TRY(parse_metadata(&f, meta));
    if (n_t > 0) {
        f.tensors = zs_calloc((size_t)n_t, sizeof *f.tensors);
        if (!f.tensors) ZS_FAIL(ZS_ENOMEM, "safetensors: out of memory for %d tensors", n_t);
    }
    for (const cJSON *c = root->child; c; c = c->next) {
        if (c == meta) continue;
        zs_st_tensor *t = &f.tensors[f.n_tensors];
        t->name = zs_strdup(c->string);
        if (!t->name) ZS_FAIL(ZS_ENOMEM, "safetensors: out of memory");
        f.n_tensors++;
        ZS_TRY(parse_tensor(t, c, data_size));
    }
    ZS_TRY(check_names_and_overlaps(&f));
    {
        /* the data section ends where the last tensor ends: trailing bytes
         * are refused, as the reference safetensors implementation does */
        uint64_t last = 0;
        for (int i = 0; i < f.n_tensors; i++) {
            uint64_t e = (uint64_t)(uintptr_t)f.tensors[i].data + f.tensors[i].nbytes;
            if (e > last) last = e;
        }
        if (last != data_size)
            ZS_FAIL(ZS_EFORMAT, "safetensors: %zu trailing bytes after the data section (tensors end at byte %" PRIu64
                    " of %zu)", data_size - (size_t)last, last, data_size);
    }
    for (int i = 0; i < f.n_tensors; i++)
        f.tensors[i].data = base + (uintptr_t)f.tensors[i].data;
    cJSON_Delete(root);
    free(hdr);
    *out = f;
    return ZS_OK;
fail:
    cJSON_Delete(root);
    free(hdr);
    zs_st_free(&f);
    return st;
}

zs_status zs_st_read(zs_st_file *f, const char *path, size_t max_bytes) {
    ZS_RETURN_IF(!f || !path, ZS_EINVAL, "zs_st_read: NULL argument");
    memset(f, 0, sizeof *f);
    void *buf = NULL;
    size_t size = 0;
    zs_status st = zs_read_file(path, max_bytes, &buf, &size);
    if (st) return st;
    st = zs_st_parse(f, buf, size);
    if (st) {
        free(buf);
        /* Prefix the file name; zs_error_set formats into a scratch buffer
         * first, so passing the current message as an argument is safe. */
        return ZS_ERR(st, "%s: %s", path, zs_last_error());
    }
    f->owned = buf;
    return ZS_OK;
}

const zs_st_tensor *zs_st_find(const zs_st_file *f, const char *name) {
    if (!f || !name) return NULL;
    for (int i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *zs_st_meta(const zs_st_file *f, const char *key) {
    if (!f || !key) return NULL;
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_vals[i];
    return NULL;
}

zs_status zs_st_copy(const zs_st_file *f, const char *name, zs_st_dtype dtype,
                     int ndim, const int64_t *shape, void *dst) {
    ZS_RETURN_IF(!f || !name || (ndim > 0 && !shape), ZS_EINVAL, "zs_st_copy: NULL argument");
    const zs_st_tensor *t = zs_st_find(f, name);
    ZS_RETURN_IF(!t, ZS_EFORMAT, "tensor '%s' is missing", name);
    int same = t->dtype == dtype && t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char a[160], b[160];
        int nd = ndim < 0 ? 0 : ndim > ZS_ST_MAX_DIMS ? ZS_ST_MAX_DIMS : ndim;
        return ZS_ERR(ZS_ESHAPE, "tensor '%s': file has %s %s, expected %s %s%s", name,
                      zs_st_dtype_name(t->dtype), shape_str(a, sizeof a, t->ndim, t->shape),
                      zs_st_dtype_name(dtype), shape_str(b, sizeof b, nd, shape),
                      nd != ndim ? " (too many dims)" : "");
    }
    ZS_RETURN_IF(!dst && t->nbytes, ZS_EINVAL, "zs_st_copy: destination for '%s' is NULL", name);
    if (t->nbytes) memcpy(dst, t->data, t->nbytes);
    return ZS_OK;
}

/* ---- writer ------------------------------------------------------------ */

typedef struct st_wtensor {
    char *name;
    zs_st_dtype dtype;
    int ndim;
    int64_t shape[ZS_ST_MAX_DIMS];
    size_t nbytes;
    const void *data;
} st_wtensor;

struct zs_st_writer {
    int n, cap;
    st_wtensor *t;
    int n_meta, cap_meta;
    char **keys, **vals;
};

zs_status zs_st_writer_create(zs_st_writer **out) {
    ZS_RETURN_IF(!out, ZS_EINVAL, "zs_st_writer_create: output is NULL");
    *out = NULL;
    ZS_RETURN_IF(!host_is_little_endian(), ZS_EUNSUPPORTED, "safetensors: big-endian hosts are not supported");
    zs_st_writer *w = calloc(1, sizeof *w);
    ZS_RETURN_IF(!w, ZS_ENOMEM, "out of memory");
    *out = w;
    return ZS_OK;
}

void zs_st_writer_free(zs_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) free(w->t[i].name);
    free(w->t);
    for (int i = 0; i < w->n_meta; i++) { free(w->keys[i]); free(w->vals[i]); }
    free(w->keys);
    free(w->vals);
    free(w);
}

zs_status zs_st_writer_add(zs_st_writer *w, const char *name, zs_st_dtype dtype,
                           int ndim, const int64_t *shape, const void *data) {
    ZS_RETURN_IF(!w || !name, ZS_EINVAL, "zs_st_writer_add: NULL argument");
    /* "" is a valid name (the reader accepts it too); "__metadata__" is not. */
    ZS_RETURN_IF(strcmp(name, "__metadata__") == 0, ZS_EINVAL,
                 "zs_st_writer_add: \"__metadata__\" is reserved, not a tensor name");
    ZS_RETURN_IF((int)dtype < 0 || (int)dtype >= N_DTYPES, ZS_EINVAL,
                 "tensor '%s': unknown dtype %d", name, (int)dtype);
    ZS_RETURN_IF(ndim < 0 || ndim > ZS_ST_MAX_DIMS || (ndim > 0 && !shape), ZS_EINVAL,
                 "tensor '%s': bad ndim %d", name, ndim);
    ZS_RETURN_IF(w->n >= ZS_MAX_TENSORS, ZS_ELIMIT, "tensor '%s': more than %d tensors", name, ZS_MAX_TENSORS);
    for (int i = 0; i < w->n; i++)
        ZS_RETURN_IF(strcmp(w->t[i].name, name) == 0, ZS_EINVAL, "tensor '%s' added twice", name);
    uint64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        ZS_RETURN_IF(shape[i] < 0, ZS_EINVAL, "tensor '%s': negative shape[%d]", name, i);
        uint64_t d = (uint64_t)shape[i];
        if (d > ZS_MAX_ELEMENTS || (numel && d && numel > ZS_MAX_ELEMENTS / d)) numel = ZS_MAX_ELEMENTS + 1;
        else numel *= d;
    }
    ZS_RETURN_IF(numel > ZS_MAX_ELEMENTS, ZS_ELIMIT, "tensor '%s': more than %llu elements", name,
                 (unsigned long long)ZS_MAX_ELEMENTS);
    size_t nbytes = (size_t)numel * dtype_info[dtype].size;
    ZS_RETURN_IF(nbytes && !data, ZS_EINVAL, "tensor '%s': data is NULL", name);
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        st_wtensor *t = realloc(w->t, (size_t)cap * sizeof *t);
        ZS_RETURN_IF(!t, ZS_ENOMEM, "out of memory");
        w->t = t;
        w->cap = cap;
    }
    st_wtensor *t = &w->t[w->n];
    memset(t, 0, sizeof *t);
    t->name = zs_strdup(name);
    ZS_RETURN_IF(!t->name, ZS_ENOMEM, "out of memory");
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->nbytes = nbytes;
    t->data = data;
    w->n++;
    return ZS_OK;
}

zs_status zs_st_writer_meta(zs_st_writer *w, const char *key, const char *value) {
    ZS_RETURN_IF(!w || !key || !value, ZS_EINVAL, "zs_st_writer_meta: NULL argument");
    for (int i = 0; i < w->n_meta; i++) {
        if (strcmp(w->keys[i], key) == 0) {  /* replace */
            char *v = zs_strdup(value);
            ZS_RETURN_IF(!v, ZS_ENOMEM, "out of memory");
            free(w->vals[i]);
            w->vals[i] = v;
            return ZS_OK;
        }
    }
    if (w->n_meta == w->cap_meta) {
        int cap = w->cap_meta ? 2 * w->cap_meta : 8;
        char **k = realloc(w->keys, (size_t)cap * sizeof *k);
        if (k) w->keys = k;
        char **v = k ? realloc(w->vals, (size_t)cap * sizeof *v) : NULL;
        if (v) w->vals = v;
        ZS_RETURN_IF(!k || !v, ZS_ENOMEM, "out of memory");
        w->cap_meta = cap;
    }
    char *k = zs_strdup(key), *v = zs_strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return ZS_ERR(ZS_ENOMEM, "out of memory");
    }
    w->keys[w->n_meta] = k;
    w->vals[w->n_meta] = v;
    w->n_meta++;
    return ZS_OK;
}

/* Growable text buffer for the header. */
typedef struct { char *s; size_t n, cap; int oom; } sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) { b->oom = 1; return; }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}
static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_fmt(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_fmt(sbuf *b, const char *fmt, ...) {
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}
/* A JSON string literal: quotes, backslash and control bytes escaped. */
static void sb_json_str(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            sb_put(b, e, 2);
        } else if (*p < 0x20) {
            sb_fmt(b, "\\u%04x", *p);
        } else {
            sb_put(b, (const char *)p, 1);
        }
    }
    sb_put(b, "\"", 1);
}

/* The padded header (JSON + spaces) and the data section size. */
static zs_status build_header(const zs_st_writer *w, sbuf *h, size_t *data_size) {
    memset(h, 0, sizeof *h);
    sb_str(h, "{");
    int first = 1;
    if (w->n_meta) {
        sb_str(h, "\"__metadata__\":{");
        for (int i = 0; i < w->n_meta; i++) {
            if (i) sb_str(h, ",");
            sb_json_str(h, w->keys[i]);
            sb_str(h, ":");
            sb_json_str(h, w->vals[i]);
        }
        sb_str(h, "}");
        first = 0;
    }
    uint64_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const st_wtensor *t = &w->t[i];
        if (!first) sb_str(h, ",");
        first = 0;
        sb_json_str(h, t->name);
        sb_fmt(h, ":{\"dtype\":\"%s\",\"shape\":[", dtype_info[t->dtype].name);
        for (int d = 0; d < t->ndim; d++) sb_fmt(h, "%s%" PRId64, d ? "," : "", t->shape[d]);
        sb_fmt(h, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", off, off + t->nbytes);
        off += t->nbytes;
    }
    sb_str(h, "}");
    while ((8 + h->n) % 8) sb_str(h, " ");
    if (h->oom) {
        free(h->s);
        memset(h, 0, sizeof *h);
        return ZS_ERR(ZS_ENOMEM, "safetensors: out of memory for the header");
    }
    ZS_RETURN_IF(h->n > ZS_MAX_HEADER_BYTES || off > SIZE_MAX - 8 - h->n, ZS_ELIMIT,
                 "safetensors: header of %zu bytes is over the limit of %u", h->n, ZS_MAX_HEADER_BYTES);
    *data_size = (size_t)off;
    return ZS_OK;
}

zs_status zs_st_writer_to_mem(const zs_st_writer *w, void **data, size_t *size) {
    ZS_RETURN_IF(!w || !data || !size, ZS_EINVAL, "zs_st_writer_to_mem: NULL argument");
    sbuf h;
    size_t dsize = 0;
    zs_status st = build_header(w, &h, &dsize);
    if (st) { free(h.s); return st; }
    size_t total = 8 + h.n + dsize;
    uint8_t *buf = malloc(total);
    if (!buf) {
        free(h.s);
        return ZS_ERR(ZS_ENOMEM, "safetensors: out of memory for %zu bytes", total);
    }
    uint64_t hl = h.n;
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(hl >> (8 * i));
    memcpy(buf + 8, h.s, h.n);
    size_t off = 8 + h.n;
    for (int i = 0; i < w->n; i++) {
        if (w->t[i].nbytes) memcpy(buf + off, w->t[i].data, w->t[i].nbytes);
        off += w->t[i].nbytes;
    }
    free(h.s);
    *data = buf;
    *size = total;
    return ZS_OK;
}

zs_status zs_st_writer_save(const zs_st_writer *w, const char *path) {
    ZS_RETURN_IF(!w || !path, ZS_EINVAL, "zs_st_writer_save: NULL argument");
    sbuf h;
    size_t dsize = 0;
    zs_status st = build_header(w, &h, &dsize);
    if (st) { free(h.s); return ZS_ERR(st, "%s: %s", path, zs_last_error()); }
    /* Length field, header, then each tensor straight from the caller's
     * memory: no copy of the data section. */
    int nb = 2 + w->n;
    const void **bufs = calloc((size_t)nb, sizeof *bufs);
    size_t *sizes = calloc((size_t)nb, sizeof *sizes);
    if (!bufs || !sizes) {
        free(bufs); free(sizes); free(h.s);
        return ZS_ERR(ZS_ENOMEM, "%s: out of memory", path);
    }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)h.n >> (8 * i));
    bufs[0] = len8; sizes[0] = 8;
    bufs[1] = h.s; sizes[1] = h.n;
    for (int i = 0; i < w->n; i++) {
        bufs[2 + i] = w->t[i].data;
        sizes[2 + i] = w->t[i].nbytes;
    }
    st = zs_write_file_atomic(path, (const void *const *)bufs, sizes, nb);
    free(bufs);
    free(sizes);
    free(h.s);
    return st;
}
