/* util.c — errors, allocation, RNG, rounding, whole-file and atomic I/O. */
#include "zs_internal.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

const char *zs_version(void) { return ZS_VERSION_STRING; }

static _Thread_local char err_msg[1024];

const char *zs_status_str(zs_status s) {
    switch (s) {
    case ZS_OK: return "ZS_OK";
    case ZS_EINVAL: return "ZS_EINVAL";
    case ZS_ENOMEM: return "ZS_ENOMEM";
    case ZS_EIO: return "ZS_EIO";
    case ZS_EFORMAT: return "ZS_EFORMAT";
    case ZS_ESHAPE: return "ZS_ESHAPE";
    case ZS_EUNSUPPORTED: return "ZS_EUNSUPPORTED";
    case ZS_ENUMERIC: return "ZS_ENUMERIC";
    case ZS_ELIMIT: return "ZS_ELIMIT";
    }
    return "ZS_E?";
}

const char *zs_last_error(void) { return err_msg; }
void zs_error_clear(void) { err_msg[0] = '\0'; }

zs_status zs_error_set(zs_status st, const char *file, int line, const char *fmt, ...) {
    char tmp[sizeof err_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
#ifdef ZS_DEBUG
    snprintf(err_msg, sizeof err_msg, "%s (%s:%d)", tmp, file, line);
#else
    (void)file; (void)line;
    memcpy(err_msg, tmp, sizeof err_msg);
#endif
    return st;
}

zs_status zs_set_error(zs_status st, const char *fmt, ...) {
    char tmp[sizeof err_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    memcpy(err_msg, tmp, sizeof err_msg);
    return st;
}

int zs_mul_overflow(size_t a, size_t b, size_t *out) {
    if (a && b > SIZE_MAX / a) return -1;
    *out = a * b;
    return 0;
}

void *zs_calloc(size_t n, size_t size) {
    size_t t;
    if (zs_mul_overflow(n, size, &t)) return NULL;
    return calloc(t ? n : 1, t ? size : 1);
}

void *zs_alloc_aligned(size_t n, size_t size) {
    size_t t;
    if (zs_mul_overflow(n, size, &t) || t > SIZE_MAX - 64) return NULL;
    t = (t + 63) & ~(size_t)63;
    if (t == 0) t = 64;
    void *p = aligned_alloc(64, t);
    if (p) memset(p, 0, t);
    return p;
}

void zs_free_aligned(void *p) { free(p); }

char *zs_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void zs_rng_seed(zs_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t zs_rng_u64(zs_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float zs_rng_uniform(zs_rng *r) { return (float)(zs_rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

uint32_t zs_rng_below(zs_rng *r, uint32_t n) {
    /* Lemire's multiply-shift with rejection. */
    uint64_t m = (uint64_t)(uint32_t)(zs_rng_u64(r) >> 32) * n;
    uint32_t l = (uint32_t)m;
    if (l < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while (l < t) {
            m = (uint64_t)(uint32_t)(zs_rng_u64(r) >> 32) * n;
            l = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

void zs_rng_shuffle(zs_rng *r, int32_t *idx, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)zs_rng_below(r, (uint32_t)i + 1);
        int32_t t = idx[i]; idx[i] = idx[j]; idx[j] = t;
    }
}

double zs_round_half_even(double x) {
    double f = floor(x), d = x - f;
    if (d > 0.5) return f + 1;
    if (d < 0.5) return f;
    return fmod(f, 2.0) == 0.0 ? f : f + 1;
}

int zs_has_control_chars(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f) return 1;
    return 0;
}

int zs_all_finite(const float *x, size_t n) {
    /* blocks of 64 without a branch per value (the compiler vectorises the
     * exponent test; the early exit per element kept it scalar: ~1 us of
     * every 1024-float sample) */
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        uint32_t bad = 0;
        for (int j = 0; j < 64; j++) {
            uint32_t u;
            memcpy(&u, x + i + j, sizeof u);
            bad |= (u & 0x7F800000u) == 0x7F800000u;
        }
        if (bad) return 0;
    }
    for (; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

int zs_open_regular(const char *path) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) { ZS_ERR(ZS_EIO, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    struct stat stt;
    if (fstat(fd, &stt) != 0) {
        int e = errno;
        close(fd);
        ZS_ERR(ZS_EIO, "%s: cannot stat: %s", path, strerror(e));
        return -1;
    }
    if (!S_ISREG(stt.st_mode)) {
        close(fd);
        ZS_ERR(ZS_EIO, "%s: not a regular file (%s)", path,
               S_ISDIR(stt.st_mode) ? "a directory" : S_ISFIFO(stt.st_mode) ? "a FIFO" :
               S_ISCHR(stt.st_mode) ? "a character device" : S_ISBLK(stt.st_mode) ? "a block device" :
               S_ISSOCK(stt.st_mode) ? "a socket" : "not a plain file");
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(fd);
        ZS_ERR(ZS_EIO, "%s: fcntl failed: %s", path, strerror(e));
        return -1;
    }
    return fd;
}

zs_status zs_read_file(const char *path, size_t max_bytes, void **data, size_t *size) {
    int fd = zs_open_regular(path);
    if (fd < 0) return ZS_EIO;
    FILE *f = fdopen(fd, "rb");
    if (!f) { int e = errno; close(fd); return ZS_ERR(ZS_EIO, "%s: cannot open: %s", path, strerror(e)); }
    struct stat stt;
    if (fstat(fileno(f), &stt) != 0) {
        fclose(f);
        return ZS_ERR(ZS_EIO, "%s: cannot stat: %s", path, strerror(errno));
    }
    if ((uint64_t)stt.st_size > max_bytes) {
        fclose(f);
        return ZS_ERR(ZS_ELIMIT, "%s: %lld bytes is over the limit of %zu", path,
                      (long long)stt.st_size, max_bytes);
    }
    size_t n = (size_t)stt.st_size;
    char *buf = malloc(n ? n : 1);
    if (!buf) { fclose(f); return ZS_ERR(ZS_ENOMEM, "%s: out of memory for %zu bytes", path, n); }
    size_t got = fread(buf, 1, n, f);
    int bad = ferror(f);
    fclose(f);
    if (got != n || bad) { free(buf); return ZS_ERR(ZS_EIO, "%s: short read (%zu of %zu bytes)", path, got, n); }
    *data = buf;
    *size = n;
    return ZS_OK;
}

zs_status zs_write_file_atomic(const char *path, const void *const *bufs, const size_t *sizes, int n) {
    ZS_RETURN_IF(!*path, ZS_EINVAL, "empty output path");
    /* the replaced file's mode, or 0666 minus the umask (open(2) applies it) */
    mode_t mode = 0666;
    int keep_mode = 0;
    struct stat old;
    char *real = NULL;
    const char *user_path = path;
    if (stat(path, &old) == 0) {
        ZS_RETURN_IF(S_ISDIR(old.st_mode), ZS_EIO, "%s: is a directory", path);
        ZS_RETURN_IF(!S_ISREG(old.st_mode), ZS_EIO, "%s: exists and is not a regular file (it would be replaced)", path);
        mode = old.st_mode & 07777;
        keep_mode = 1;
        /* through a symbolic link: replace the file it points to, never the link */
        real = realpath(path, NULL);
        if (real) path = real;
    }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 64);
    if (!tmp) { free(real); return ZS_ERR(ZS_ENOMEM, "out of memory"); }
    /* a unique temporary per call (threads of one process may save to the
     * same path at once); the last rename wins, each file is whole */
    static atomic_uint seq;
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        snprintf(tmp, plen + 64, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&seq, 1u));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        zs_status st = ZS_ERR(ZS_EIO, "%s: cannot create %s: %s", user_path, tmp, strerror(errno));
        free(tmp); free(real);
        return st;
    }
    if (keep_mode && fchmod(fd, mode) != 0) {
        zs_status st = ZS_ERR(ZS_EIO, "%s: cannot set permissions of %s: %s", user_path, tmp, strerror(errno));
        close(fd); unlink(tmp); free(tmp); free(real);
        return st;
    }
    for (int i = 0; i < n; i++) {
        const char *p = bufs[i];
        size_t left = sizes[i];
        while (left) {
            ssize_t w = write(fd, p, left);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                zs_status st = ZS_ERR(ZS_EIO, "%s: write failed: %s", user_path, w < 0 ? strerror(errno) : "no progress");
                close(fd); unlink(tmp); free(tmp); free(real);
                return st;
            }
            p += w; left -= (size_t)w;
        }
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        zs_status st = ZS_ERR(ZS_EIO, "%s: fsync/close failed: %s", user_path, strerror(errno));
        unlink(tmp); free(tmp); free(real);
        return st;
    }
    if (rename(tmp, path) != 0) {
        zs_status st = ZS_ERR(ZS_EIO, "%s: rename failed: %s", user_path, strerror(errno));
        unlink(tmp); free(tmp); free(real);
        return st;
    }
    free(tmp); free(real);
    return ZS_OK;
}
