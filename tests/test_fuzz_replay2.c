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

#include "zs_internal.h" /* first: cli.h keeps the library's ZS_ERR */
#include "../fuzz/fuzz_arch.c"
#include "../fuzz/fuzz_model.c"
#include "../fuzz/fuzz_audio.c"
#include "../fuzz/fuzz_cli_num.c"
#include "../cli/args.c"
#include "fuzz_replay.h"

int main(void) {
    replay_target targets[] = {
        {"arch", zs_fuzz_arch, 0, 0, 0},
        {"model", zs_fuzz_model, 0, 0, 0},
        {"audio", zs_fuzz_audio, 0, 0, 0},
        {"cli_num", zs_fuzz_cli_num, 0, 0, 0},
    };
    int n = (int)(sizeof targets / sizeof targets[0]);
    int files = replay_corpus(targets, n, 1, &replay_file);
    if (files < 0) {
        SKIP("%s not found (run from the repository root)", REPLAY_CORPUS);
        return check_finish("fuzz_replay2");
    }
    printf("replayed %d files\n", files);
    for (int t = 0; t < n; t++) {
        printf("  %-8s own corpus: %d files, %d accepted, %d rejected\n", targets[t].name, targets[t].own_files,
               targets[t].accepted, targets[t].rejected);
        /* Each seed corpus holds valid and malformed inputs. */
        CHECK(targets[t].accepted > 0, "%s: some corpus input must be accepted", targets[t].name);
        CHECK(targets[t].rejected > 0, "%s: some corpus input must be rejected", targets[t].name);
    }
    CHECK(files >= 40, "at least 40 corpus files, found %d", files);
    return check_finish("fuzz_replay2");
}
