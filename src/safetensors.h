/*
 * safetensors.h — reader and writer for the safetensors format
 * (8-byte little-endian header length, JSON header, raw little-endian data).
 *
 * The reader validates everything before any caller sees a tensor: header
 * length within ZS_MAX_HEADER_BYTES and the file, JSON well-formed (cJSON),
 * every entry an object with a known dtype, a shape of non-negative integers
 * (at most ZS_ST_MAX_DIMS, product within ZS_MAX_ELEMENTS), data_offsets
 * [begin, end] with end - begin == product(shape) * dtype size, inside the
 * data section, tensors not overlapping; "__metadata__" a string->string map.
 * Any violation: ZS_EFORMAT or ZS_ELIMIT and a message naming the tensor.
 */
#ifndef ZS_SAFETENSORS_H
#define ZS_SAFETENSORS_H

#include "zeroskip.h"
#include <stddef.h>
#include <stdint.h>

#define ZS_ST_MAX_DIMS 8

typedef enum zs_st_dtype {
    ZS_ST_BOOL, ZS_ST_U8, ZS_ST_I8, ZS_ST_I16, ZS_ST_U16, ZS_ST_F16, ZS_ST_BF16,
    ZS_ST_I32, ZS_ST_U32, ZS_ST_F32, ZS_ST_I64, ZS_ST_U64, ZS_ST_F64
} zs_st_dtype;

/* "F32" etc.; dtype size in bytes. */
const char *zs_st_dtype_name(zs_st_dtype d);
size_t zs_st_dtype_size(zs_st_dtype d);

typedef struct zs_st_tensor {
    char *name;
    zs_st_dtype dtype;
    int ndim;
    int64_t shape[ZS_ST_MAX_DIMS];
    size_t numel;
    size_t nbytes;
    const void *data;   /* points into the file's buffer (not aligned!) */
} zs_st_tensor;

typedef struct zs_st_file {
    int n_tensors;
    zs_st_tensor *tensors;
    int n_meta;
    char **meta_keys, **meta_vals;
    void *owned;        /* buffer owned by the file, or NULL */
} zs_st_file;

/* Parse `size` bytes at `data`. The file keeps pointers into `data`, which
 * must outlive it (unless it came from zs_st_read, which owns its buffer). */
zs_status zs_st_parse(zs_st_file *f, const void *data, size_t size);
/* Read and parse a whole file (refusing files beyond max_bytes). */
zs_status zs_st_read(zs_st_file *f, const char *path, size_t max_bytes);
void zs_st_free(zs_st_file *f);   /* accepts a zeroed struct */
const zs_st_tensor *zs_st_find(const zs_st_file *f, const char *name);
const char *zs_st_meta(const zs_st_file *f, const char *key);
/* Copy a tensor into `dst` as float32/int32/uint8 etc. when its dtype and
 * shape match exactly (ndim, shape[]); ZS_ESHAPE otherwise, naming it. */
zs_status zs_st_copy(const zs_st_file *f, const char *name, zs_st_dtype dtype,
                     int ndim, const int64_t *shape, void *dst);

/* Writer: collects tensors (pointers, not copies) and metadata, then writes
 * atomically. Tensors are written in the order added; the data section
 * starts 8-byte aligned and tensors lie back to back with no holes (as the
 * reference Python reader requires). */
typedef struct zs_st_writer zs_st_writer;
zs_status zs_st_writer_create(zs_st_writer **out);
void zs_st_writer_free(zs_st_writer *w);
zs_status zs_st_writer_add(zs_st_writer *w, const char *name, zs_st_dtype dtype,
                           int ndim, const int64_t *shape, const void *data);
zs_status zs_st_writer_meta(zs_st_writer *w, const char *key, const char *value);
/* Serialise to a malloc'ed buffer (caller frees) or to a file atomically. */
zs_status zs_st_writer_to_mem(const zs_st_writer *w, void **data, size_t *size);
zs_status zs_st_writer_save(const zs_st_writer *w, const char *path);

#endif
