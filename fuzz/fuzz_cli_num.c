/*
 * fuzz_cli_num.c — libFuzzer target for the CLI's option parsing
 * (cli/args.c: cli_int, cli_u64, cli_float, cli_opt), compiled into the
 * target. Differential: each numeric parser is compared with a plain
 * reference written from the documented contract ("the whole string must
 * be a number in [lo, hi]"), accepting what strtol/strtoull/strtod accept
 * (leading white space, a sign, C-locale syntax) and nothing else:
 *   cli_int   decimal integer in [lo, hi], no overflow;
 *   cli_u64   decimal non-negative integer < 2^64: no minus sign anywhere
 *             (strtoull would silently negate " -5" into 2^64 - 5);
 *   cli_float finite number in [lo, hi] (no NaN, no Inf, no overflow).
 * Accepted values must equal the reference's, in range, and rejection must
 * leave the output untouched. cli_opt is run over the input split into
 * arguments at NUL bytes: values it returns point inside argv.
 *
 * Input: byte 0 picks the parser and the bounds (from the CLI's own
 * option table), the rest is the string (NUL-terminated copy).
 * Messages the parsers print go to /dev/null. Invariant broken:
 * __builtin_trap(). tests/test_fuzz_replay2.c includes this file with
 * ZS_FUZZ_NO_MAIN defined.
 */
#include "fuzz_main.h"
#include "../cli/cli.h"
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ZS_FUZZ_ASSERT
#define ZS_FUZZ_ASSERT(c) do { if (!(c)) __builtin_trap(); } while (0)
#endif

static const struct { long lo, hi; } zs_fuzz_ibounds[] = {
    {1, 100000}, {1, 65536}, {0, 1024}, {1, 4096}, {1, 256}, {-5, 5}, {LONG_MIN, LONG_MAX}, {0, 0},
};
static const struct { double lo, hi; } zs_fuzz_fbounds[] = {
    {1e-9, 100}, {0, 0.9999}, {0, 1}, {1e-6, 10}, {0.01, 1}, {-1e300, 1e300}, {0, 600}, {-1, -1},
};

/* Reference integer: [ws][+|-]digits, nothing after; *neg set for '-'.
 * Returns 0 ok, -1 syntax, 1 magnitude over 2^64-1. */
static int zs_fuzz_ref_digits(const char *s, int *neg, uint64_t *mag) {
    while (isspace((unsigned char)*s)) s++;
    *neg = 0;
    if (*s == '+' || *s == '-') *neg = *s++ == '-';
    if (!isdigit((unsigned char)*s)) return -1;
    uint64_t v = 0;
    int over = 0;
    for (; isdigit((unsigned char)*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) over = 1;
        else v = v * 10 + d;
    }
    if (*s) return -1;
    *mag = v;
    return over;
}

static FILE *zs_fuzz_null(void) {
    static FILE *f;
    if (!f) f = fopen("/dev/null", "w");
    return f;
}

/* Returns 1 if the numeric parser accepted the string, 0 if not. */
int zs_fuzz_cli_num(const uint8_t *data, size_t size) {
    if (size < 1 || size > 4096) return 0;
    uint8_t sel = data[0];
    char *s = malloc(size);
    if (!s) return 0;
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';
    /* glibc's stderr is an assignable FILE *; swap it so the parsers'
     * messages vanish while libFuzzer and sanitizers keep fd 2. */
    FILE *saved = stderr;
    if (zs_fuzz_null()) stderr = zs_fuzz_null();
    int accepted = 0, kind = sel % 3, b = (sel >> 2) % 8;
    if (kind == 0) {
        long lo = zs_fuzz_ibounds[b].lo, hi = zs_fuzz_ibounds[b].hi, out = 424242;
        int r = cli_int("fuzz", "--int", s, lo, hi, &out);
        int neg;
        uint64_t mag = 0;
        int syn = zs_fuzz_ref_digits(s, &neg, &mag);
        int fits = syn == 0 && (neg ? mag <= (uint64_t)LONG_MAX + 1 : mag <= (uint64_t)LONG_MAX);
        long want = 0;
        if (fits) want = neg ? (mag == (uint64_t)LONG_MAX + 1 ? LONG_MIN : -(long)mag) : (long)mag;
        int ref_ok = fits && want >= lo && want <= hi;
        ZS_FUZZ_ASSERT((r == 0) == ref_ok);
        if (r == 0) ZS_FUZZ_ASSERT(out == want && out >= lo && out <= hi);
        else ZS_FUZZ_ASSERT(out == 424242);
        accepted = r == 0;
    } else if (kind == 1) {
        uint64_t out = 424242;
        int r = cli_u64("fuzz", "--u64", s, &out);
        int neg;
        uint64_t mag = 0;
        int syn = zs_fuzz_ref_digits(s, &neg, &mag);
        int ref_ok = syn == 0 && !neg;
        ZS_FUZZ_ASSERT((r == 0) == ref_ok);
        if (r == 0) ZS_FUZZ_ASSERT(out == mag);
        else ZS_FUZZ_ASSERT(out == 424242);
        accepted = r == 0;
    } else {
        double lo = zs_fuzz_fbounds[b].lo, hi = zs_fuzz_fbounds[b].hi, out = 424242;
        int r = cli_float("fuzz", "--float", s, lo, hi, &out);
        char *end = NULL;
        errno = 0;
        double v = strtod(s, &end);
        int syn = *s && end && *end == '\0' && end != s;
        int ref_ok = syn && errno == 0 && isfinite(v) && v >= lo && v <= hi;
        ZS_FUZZ_ASSERT((r == 0) == ref_ok);
        if (r == 0) ZS_FUZZ_ASSERT(isfinite(out) && out >= lo && out <= hi);
        else ZS_FUZZ_ASSERT(out == 424242);
        accepted = r == 0;
    }

    /* cli_opt over the bytes split at NULs into an argv. */
    int argc = 0;
    char *argv[64];
    for (size_t i = 0; i < size - 1 && argc < 63;) {
        argv[argc++] = s + i;
        i += strlen(s + i) + 1;
    }
    argv[argc] = NULL;
    static const char *names[] = {"--model", "--data", "--epochs", "--lr", "--seed", "-"};
    for (int i = 0; i < argc; i++) {
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
            const char *val = NULL;
            int j = i;
            int r = cli_opt(argc, argv, &j, names[k], &val);
            ZS_FUZZ_ASSERT(r >= -1 && r <= 1);
            if (r == 1) {
                ZS_FUZZ_ASSERT(val != NULL && j >= i && j <= i + 1 && j < argc);
                ZS_FUZZ_ASSERT(val >= s && val <= s + size - 1);
                ZS_FUZZ_ASSERT(strncmp(argv[i], names[k], strlen(names[k])) == 0);
            } else {
                ZS_FUZZ_ASSERT(j == i);
            }
        }
    }
    stderr = saved;
    free(s);
    return accepted;
}

#ifndef ZS_FUZZ_NO_MAIN
ZS_FUZZ_MAIN(zs_fuzz_cli_num)
#endif
