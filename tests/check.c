#include "check.h"
#include <math.h>
#include <stdarg.h>

int check_passed, check_failed;

void check_report(int ok, const char *file, int line, const char *fmt, ...) {
    if (ok) { check_passed++; return; }
    check_failed++;
    fprintf(stderr, "FAIL %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int check_close_f(const float *a, const float *b, size_t n, double atol, double rtol,
                  const char *what, const char *file, int line) {
    double worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double r = d / (atol + rtol * fabs((double)b[i]));
        if (!(r <= worst) ) { worst = r; wi = i; }  /* NaN counts as worst */
        if (isnan(r)) { worst = INFINITY; wi = i; break; }
    }
    int ok = worst <= 1.0;
    check_report(ok, file, line, "%s: %zu values, worst at %zu: got %.9g want %.9g (atol %g rtol %g)",
                 what, n, wi, n ? (double)a[wi] : 0.0, n ? (double)b[wi] : 0.0, atol, rtol);
    return ok;
}

const char *check_data(const char *name) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "tests/data/%s", name);
    return buf;
}

int check_finish(const char *suite) {
    printf("%s: %d passed, %d failed\n", suite, check_passed, check_failed);
    printf("RESULT %d %d\n", check_passed, check_failed);
    return check_failed ? 1 : 0;
}
