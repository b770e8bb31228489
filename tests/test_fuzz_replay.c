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
#include "fuzz_replay.h"

int main(void) {
    replay_target targets[] = {
        {"safetensors", zs_fuzz_safetensors, 0, 0, 0},
        {"dataset", zs_fuzz_dataset, 0, 0, 0},
    };
    int n = (int)(sizeof targets / sizeof targets[0]);
    int files = replay_corpus(targets, n, 0, NULL);
    if (files < 0) {
        SKIP("%s not found (run from the repository root)", REPLAY_CORPUS);
        return check_finish("fuzz_replay");
    }
    printf("replayed %d files\n", files);
    for (int t = 0; t < n; t++) {
        printf("  %-12s %d accepted, %d rejected\n", targets[t].name, targets[t].accepted, targets[t].rejected);
        /* The seed corpora hold both valid and malformed inputs. */
        CHECK(targets[t].accepted > 0, "%s: some corpus input must be accepted", targets[t].name);
        CHECK(targets[t].rejected > 0, "%s: some corpus input must be rejected", targets[t].name);
    }
    CHECK(files >= 10, "at least 10 corpus files, found %d", files);
    return check_finish("fuzz_replay");
}
