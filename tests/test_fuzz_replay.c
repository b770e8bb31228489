/*
 * test_fuzz_replay.c — replays every file under fuzz/corpus/<target>/
 * through the fuzz targets' own checking functions (fuzz/fuzz_*.c included
 * with ZS_FUZZ_NO_MAIN), without libFuzzer: a crash, a sanitizer report or
 * a broken invariant (__builtin_trap) fails the suite. Directories named
 * after a target go through that target; any other directory goes through
 * all of them (every parser must survive any input).
 */
#define ZS_FUZZ_NO_MAIN
#include "check.h"
#include "../fuzz/fuzz_safetensors.c"
#include "../fuzz/fuzz_dataset.c"
#include <dirent.h>
#include <sys/stat.h>

#define CORPUS "fuzz/corpus"

typedef int (*fuzz_fn)(const uint8_t *, size_t);
static const struct { const char *name; fuzz_fn fn; } targets[] = {
    {"safetensors", zs_fuzz_safetensors},
    {"dataset", zs_fuzz_dataset},
};
#define N_TARGETS ((int)(sizeof targets / sizeof targets[0]))

static int files, accepted[N_TARGETS], rejected[N_TARGETS];

static void replay_dir(const char *dir, int target) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", CORPUS, dir);
    DIR *d = opendir(path);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char fp[4096 + 256];
        snprintf(fp, sizeof fp, "%s/%s", path, e->d_name);
        struct stat sb;
        if (stat(fp, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        void *buf = NULL;
        size_t n = 0;
        zs_status st = zs_read_file(fp, (size_t)1 << 26, &buf, &n);
        CHECK(st == ZS_OK, "read %s: %s", fp, zs_last_error());
        if (st) continue;
        files++;
        for (int t = 0; t < N_TARGETS; t++) {
            if (target >= 0 && t != target) continue;
            /* The target returns 1/0 (accepted/rejected) or traps. */
            if (targets[t].fn(buf, n)) accepted[t]++;
            else rejected[t]++;
        }
        free(buf);
    }
    closedir(d);
}

int main(void) {
    DIR *d = opendir(CORPUS);
    if (!d) {
        SKIP("%s not found (run from the repository root)", CORPUS);
        return check_finish("fuzz_replay");
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
        printf("  %-12s %d accepted, %d rejected\n", targets[t].name, accepted[t], rejected[t]);
        /* The seed corpora hold both valid and malformed inputs. */
        CHECK(accepted[t] > 0, "%s: some corpus input must be accepted", targets[t].name);
        CHECK(rejected[t] > 0, "%s: some corpus input must be rejected", targets[t].name);
    }
    CHECK(files >= 10, "at least 10 corpus files, found %d", files);
    return check_finish("fuzz_replay");
}
