/*
 * check.h — the tiny assertion harness every tests/test_*.c uses.
 * Each CHECK counts one pass or one failure (with a message on stderr);
 * check_finish() prints "RESULT <passed> <failed>" for tests/run_tests.sh
 * and returns the process exit code. SKIP() prints a loud skip line.
 */
#ifndef ZS_CHECK_H
#define ZS_CHECK_H
#include <stdio.h>
#include <stddef.h>

extern int check_passed, check_failed;
void check_report(int ok, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define CHECK(cond, ...) check_report(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
/* max |a-b| / (atol + rtol*|b|) <= 1 over n floats; reports the worst index. */
int check_close_f(const float *a, const float *b, size_t n, double atol, double rtol,
                  const char *what, const char *file, int line);
#define CHECK_CLOSE(a, b, n, atol, rtol, what) \
    check_close_f((a), (b), (n), (atol), (rtol), (what), __FILE__, __LINE__)
#define SKIP(...) do { printf("SKIP: "); printf(__VA_ARGS__); printf("\n"); } while (0)
/* Path of a file under tests/data (tests run from the repository root). */
const char *check_data(const char *name);
int check_finish(const char *suite);
#endif
