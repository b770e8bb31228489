/*
 * zs_internal.h — helpers shared by every source file of libzeroskip:
 * error raising, a seeded RNG, checked allocation, small numeric utilities.
 * Not installed; not part of the public API.
 */
#ifndef ZS_INTERNAL_H
#define ZS_INTERNAL_H

#include "zeroskip.h"
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Record a formatted message for zs_last_error() and return `st`. Debug
 * builds (ZS_DEBUG defined) prefix the source location. */
zs_status zs_error_set(zs_status st, const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
#define ZS_ERR(st, ...) zs_error_set((st), __FILE__, __LINE__, __VA_ARGS__)
/* Return an error from the current function when `cond` holds. */
#define ZS_RETURN_IF(cond, st, ...) \
    do { if (cond) return ZS_ERR((st), __VA_ARGS__); } while (0)
/* Evaluate a zs_status expression; on failure jump to `fail` with `st` set.
 * The message is whatever the failing call recorded. */
#define ZS_TRY(expr) do { st = (expr); if (st != ZS_OK) goto fail; } while (0)
#define ZS_FAIL(code, ...) do { st = ZS_ERR((code), __VA_ARGS__); goto fail; } while (0)
/* Clear this thread's message (used at public entry points). */
void zs_error_clear(void);

/* Allocation with overflow-checked sizes. Return NULL on failure (callers
 * turn that into ZS_ENOMEM). zs_alloc_aligned memory is 64-byte aligned and
 * zero-filled; free with zs_free_aligned. */
void *zs_calloc(size_t n, size_t size);
void *zs_alloc_aligned(size_t n, size_t size);
void zs_free_aligned(void *p);
/* a*b without overflow; returns 0 and sets *out on success, -1 on overflow. */
int zs_mul_overflow(size_t a, size_t b, size_t *out);
char *zs_strdup(const char *s);

/* The seeded RNG (zs_rng) is public: zeroskip.h. */

/* round(x) with ties to even, as Python's round(). */
double zs_round_half_even(double x);
/* 1 if s holds a byte below 0x20 or 0x7f (tab, newline, escape...). */
int zs_has_control_chars(const char *s);
/* 1 if all n values are finite. */
int zs_all_finite(const float *x, size_t n);
/* 1: the CPU runs the AVX-512 kernels and has AVX-512 VNNI (vpdpbusd:
 * conv_sparse_vnni); the ZS_ISA override does not change it. */
int zs_cpu_avx512_vnni(void);

/* Open `path` for reading without ever blocking in open(): O_NONBLOCK,
 * then fstat; anything but a regular file (FIFO, device, directory,
 * socket) is refused with ZS_EIO naming the file, before a read could
 * block. Returns a blocking descriptor (O_CLOEXEC) or -1 with the error set. */
int zs_open_regular(const char *path);
/* zs_read_file and zs_write_file_atomic are public: zeroskip.h. */

/* 4 floats / int32 (GCC vector extension) for portable elementwise loops
 * (the reference layers, the plan's linear epilogue): the same operations
 * per element as a scalar loop; unaligned loads and stores. */
typedef float zs_v4f __attribute__((vector_size(16)));
typedef int32_t zs_v4i __attribute__((vector_size(16)));
static inline zs_v4f zs_ld4(const float *p) { zs_v4f v; memcpy(&v, p, sizeof v); return v; }
static inline void zs_st4(float *p, zs_v4f v) { memcpy(p, &v, sizeof v); }

#endif
