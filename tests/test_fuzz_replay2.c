/*
 * test_fuzz_replay2.c — replays fuzz/corpus/ through the network, audio
 * and CLI-option fuzz targets (fuzz/fuzz_arch.c, fuzz_model.c,
 * fuzz_audio.c, fuzz_cli_num.c, included with ZS_FUZZ_NO_MAIN) without
 * libFuzzer, in the ordinary test suite (and under ASan+UBSan in
 * `make test-asan`). tests/test_fuzz_replay.c does the same for the
 * safetensors and data-set targets.
 *
 * fuzz/corpus/<target>/ goes through that target; every other directory
 * (safetensors, dataset, ...) goes through all four, since every parser
 * must survive any input. A broken invariant prints the input file and the
 * condition and fails the suite (then aborts: the state after a broken
 * invariant is not trusted).
 */
#define ZS_FUZZ_NO_MAIN
#include "check.h"
#include <stdio.h>
#include <stdlib.h>

static const char *replay_file = "";
static void replay_trap(const char *cond, const char *file, int line) {
    fprintf(stderr, "FAIL %s: invariant '%s' broken (%s:%d)\n", replay_file, cond, file, line);
    check_report(0, file, line, "replaying %s", replay_file);
    check_finish("fuzz_replay2");
    fflush(stdout);
    abort();
}
#define ZS_FUZZ_ASSERT(c) do { if (!(c)) replay_trap(#c, __FILE__, __LINE__); } while (0)

#include "../fuzz/fuzz_arch.c"
#include "../fuzz/fuzz_model.c"
#include "../fuzz/fuzz_audio.c"
#include "../fuzz/fuzz_cli_num.c"
#include "../cli/args.c"
#include "zs_internal.h"
#include <dirent.h>
#include <sys/stat.h>

#define CORPUS "fuzz/corpus"

typedef int (*fuzz_fn)(const uint8_t *, size_t);
static const struct { const char *name; fuzz_fn fn; } targets[] = {
    {"arch", zs_fuzz_arch},
    {"model", zs_fuzz_model},
    {"audio", zs_fuzz_audio},
    {"cli_num", zs_fuzz_cli_num},
};
#define N_TARGETS ((int)(sizeof targets / sizeof targets[0]))

static int files, own_files[N_TARGETS], accepted[N_TARGETS], rejected[N_TARGETS];

static void replay_dir(const char *dir, int target) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", CORPUS, dir);
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        static char fp[4096 + 256];
        snprintf(fp, sizeof fp, "%s/%s", path, e->d_name);
        struct stat sb;
        if (stat(fp, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        void *buf = NULL;
        size_t n = 0;
        zs_status st = zs_read_file(fp, (size_t)1 << 26, &buf, &n);
        CHECK(st == ZS_OK, "read %s: %s", fp, zs_last_error());
        if (st) continue;
        files++;
        replay_file = fp;
        for (int t = 0; t < N_TARGETS; t++) {
            if (target >= 0 && t != target) continue;
            int ok = targets[t].fn(buf, n);
            if (target == t) {
                own_files[t]++;
                if (ok) accepted[t]++;
                else rejected[t]++;
            }
        }
        free(buf);
    }
    closedir(d);
}

int main(void) {
    DIR *d = opendir(CORPUS);
    if (!d) {
        SKIP("%s not found (run from the repository root)", CORPUS);
        return check_finish("fuzz_replay2");
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        int target = -1;
        for (int t = 0; t < N_TARGETS; t++)
            if (strcmp(e->d_name, targets[t].name) == 0) target = t;
        replay_dir(e->d_name, target);
    }
    closedir(d);
    printf("replayed %d files\n", files);
    for (int t = 0; t < N_TARGETS; t++) {
        printf("  %-8s own corpus: %d files, %d accepted, %d rejected\n", targets[t].name, own_files[t], accepted[t],
               rejected[t]);
        /* Each seed corpus holds valid and malformed inputs. */
        CHECK(accepted[t] > 0, "%s: some corpus input must be accepted", targets[t].name);
        CHECK(rejected[t] > 0, "%s: some corpus input must be rejected", targets[t].name);
    }
    CHECK(files >= 40, "at least 40 corpus files, found %d", files);
    return check_finish("fuzz_replay2");
}
