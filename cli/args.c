/* args.c — strict option parsing shared by every subcommand. */
#include "cli.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int cli_opt(int argc, char **argv, int *i, const char *name, const char **val) {
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0) return 0;
    if (a[n] == '=') { *val = a + n + 1; return 1; }
    if (a[n] != '\0') return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "zeroskip: option %s needs a value\n", name);
        return -1;
    }
    *val = argv[++*i];
    return 1;
}
