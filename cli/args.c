/* args.c — strict option parsing shared by every subcommand. */
#include "cli.h"
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out) {
    char *end = NULL;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "zeroskip %s: bad value for %s: '%s' (want an integer in [%ld, %ld])\n",
                cmd, opt, s ? s : "", lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_u64(const char *cmd, const char *opt, const char *s, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    /* strtoull accepts " -1" as 2^64 - 1: refuse any minus sign */
    unsigned long long v = (s && !strchr(s, '-')) ? strtoull(s, &end, 10) : 0;
    if (!s || !*s || strchr(s, '-') || *end || errno) {
        fprintf(stderr, "zeroskip %s: bad value for %s: '%s' (want a non-negative integer)\n",
                cmd, opt, s ? s : "");
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int cli_float(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out) {
    char *end = NULL;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "zeroskip %s: bad value for %s: '%s' (want a number in [%g, %g])\n",
                cmd, opt, s ? s : "", lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_fail(const char *cmd, zs_status st) {
    fprintf(stderr, "zeroskip %s: %s\n", cmd, zs_last_error()[0] ? zs_last_error() : zs_status_str(st));
    return st == ZS_EIO ? EXIT_IO : EXIT_FAIL;
}

int cli_fail_file(const char *cmd, const char *file, zs_status st) {
    const char *m = zs_last_error()[0] ? zs_last_error() : zs_status_str(st);
    size_t n = strlen(file);
    if (!strncmp(m, file, n)) fprintf(stderr, "zeroskip %s: %s\n", cmd, m); /* already named */
    else fprintf(stderr, "zeroskip %s: %s: %s\n", cmd, file, m);
    return st == ZS_EIO ? EXIT_IO : EXIT_FAIL;
}

int cli_usage(const char *cmd, const char *usage, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "zeroskip %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\n", usage);
    return EXIT_USAGE;
}

/* argument a is option `name` (as "name" or "name=value") */
static int is_opt(const char *a, const char *name, size_t n) {
    return !strncmp(a, name, n) && (a[n] == '\0' || a[n] == '=');
}

int cli_opt(int argc, char **argv, int *i, const char *name, const char **val) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (!is_opt(a, name, n)) return 0;
    /* the same option earlier on the line: refuse rather than silently
     * take the last value (`--model a --model b` is a mistake) */
    for (int j = 1; j < *i; j++)
        if (is_opt(argv[j], name, n)) {
            fprintf(stderr, "zeroskip: option %s given more than once\n", name);
            return -1;
        }
    if (a[n] == '=') { *val = a + n + 1; return 1; }
    if (*i + 1 >= argc) {
        fprintf(stderr, "zeroskip: option %s needs a value\n", name);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}

int cli_check_output(const char *cmd, const char *usage, const char *opt, const char *path, int atomic) {
    if (!path) return EXIT_OK;
    if (!*path) return cli_usage(cmd, usage, "%s: empty file name", opt);
    struct stat st;
    int exists = stat(path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "zeroskip %s: %s %s: is a directory\n", cmd, opt, path);
        return EXIT_IO;
    }
    if (exists && atomic && !S_ISREG(st.st_mode)) {
        fprintf(stderr, "zeroskip %s: %s %s: exists and is not a regular file (it would be replaced)\n", cmd, opt, path);
        return EXIT_IO;
    }
    if (exists && !atomic) {
        /* written in place: it must open for writing now (no truncation
         * here; O_NONBLOCK so that a FIFO without a reader fails at once) */
        int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "zeroskip %s: %s %s: cannot write: %s\n", cmd, opt, path, strerror(errno));
            return EXIT_IO;
        }
        close(fd);
        return EXIT_OK;
    }
    /* a new file (or an atomic replacement) is created next to PATH: the
     * directory must exist and take a new file; try one */
    size_t n = strlen(path);
    char *probe = malloc(n + 48);
    if (!probe) { fprintf(stderr, "zeroskip %s: out of memory\n", cmd); return EXIT_FAIL; }
    snprintf(probe, n + 48, "%s.tmp.probe.%ld", path, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        char *dir = malloc(n + 2);
        const char *slash = strrchr(path, '/');
        if (dir) {
            if (!slash) snprintf(dir, n + 2, ".");
            else if (slash == path) snprintf(dir, n + 2, "/");
            else { memcpy(dir, path, (size_t)(slash - path)); dir[slash - path] = '\0'; }
        }
        fprintf(stderr, "zeroskip %s: %s %s: cannot create a file in %s: %s\n", cmd, opt, path,
                dir ? dir : "its directory", strerror(e));
        free(dir);
        free(probe);
        return EXIT_IO;
    }
    close(fd);
    unlink(probe);
    free(probe);
    return EXIT_OK;
}

int cli_stdout_done(const char *cmd) {
    errno = 0;
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "zeroskip %s: cannot write to stdout: %s\n", cmd, errno ? strerror(errno) : "write error");
        return EXIT_IO;
    }
    return EXIT_OK;
}

void cli_json_string(FILE *f, const char *s) {
    cJSON *j = cJSON_CreateString(s ? s : "");
    char *t = j ? cJSON_PrintUnformatted(j) : NULL;
    if (t) fputs(t, f);
    else fputs("\"\"", f);
    free(t);
    cJSON_Delete(j);
}

int cli_read_text(const char *cmd, const char *path, size_t max, char **out) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "zeroskip %s: %s: cannot open: %s\n", cmd, path, strerror(errno));
        return EXIT_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "zeroskip %s: %s: not a regular file\n", cmd, path);
        close(fd);
        return EXIT_IO;
    }
    if ((size_t)st.st_size > max) {
        fprintf(stderr, "zeroskip %s: %s: %lld bytes, over the limit of %zu\n", cmd, path, (long long)st.st_size, max);
        close(fd);
        return EXIT_FAIL;
    }
    char *buf = calloc(1, (size_t)st.st_size + 1);
    size_t got = 0;
    while (buf && got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    int e = errno;
    close(fd);
    if (!buf || got != (size_t)st.st_size) {
        fprintf(stderr, "zeroskip %s: %s: %s\n", cmd, path, buf ? (e ? strerror(e) : "short read") : "out of memory");
        free(buf);
        return buf ? EXIT_IO : EXIT_FAIL;
    }
    *out = buf;
    return EXIT_OK;
}

int cli_online_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

int cli_machine_busy(double load0, double load1, int threads) {
    double half = 0.5 * cli_online_cpus();
    return load0 > half || load1 > threads + half;
}

double cli_loadavg(void) {
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fscanf(f, "%lf", &l) != 1) l = -1;
    if (f) fclose(f);
    return l;
}
