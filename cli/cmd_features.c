/* cmd_features.c — `zeroskip features FILE`: the 32x32 log-mel image the
 * networks see (read, mix to mono, resample to 16 kHz, pad/cut to 1 s,
 * optional noise, log-mel). */
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "zeroskip features FILE [--out F.f32 | --csv] [--centre] [--noise ALPHA [--seed S]] [--max-seconds S]";

static const char *HELP =
    "Print the log-mel features of an audio file: 32 rows (mel bands, low to high)\n"
    "of 32 values (frames, 32 ms apart) in dB relative to the clip's maximum,\n"
    "floored at -80 dB. Any file libsndfile reads, any rate, mono or stereo; it is\n"
    "resampled to 16 kHz and padded with zeros or cut to its first second.\n"
    "  --out F.f32         write the 32x32 float32 little-endian values (row-major)\n"
    "                      to F.f32 atomically instead of printing them\n"
    "  --csv               print comma-separated values instead of spaces\n"
    "  --centre            centre the speech in the second, as the data sets and\n"
    "                      `zeroskip listen` do (zs_clip_fit_centred)\n"
    "  --noise ALPHA       mix in uniform noise: x' = (1 - ALPHA) x + ALPHA u,\n"
    "                      u ~ U(-1, 1), ALPHA in [0, 1] (the paper's robustness test)\n"
    "  --seed S (42)       seed of the noise\n"
    "  --max-seconds S (600) refuse longer files\n";

int cmd_features(int argc, char **argv) {
    const char *file = NULL, *out = NULL, *v;
    int csv = 0, have_noise = 0, centre = 0;
    double alpha = 0.0, max_s = 600.0;
    uint64_t seed = 42;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s\n\n%s", USAGE, HELP);
            return EXIT_OK;
        }
        if (!strcmp(argv[i], "--csv")) { csv = 1; continue; }
        if (!strcmp(argv[i], "--centre") || !strcmp(argv[i], "--center")) { centre = 1; continue; }
#define OPT(name) ((r = cli_opt(argc, argv, &i, name, &v)) != 0)
        if (OPT("--out")) { if (r < 0) return EXIT_USAGE; out = v; }
        else if (OPT("--noise")) {
            if (r < 0 || cli_float("features", "--noise", v, 0.0, 1.0, &alpha)) return EXIT_USAGE;
            have_noise = 1;
        }
        else if (OPT("--seed")) { if (r < 0 || cli_u64("features", "--seed", v, &seed)) return EXIT_USAGE; }
        else if (OPT("--max-seconds")) {
            if (r < 0 || cli_float("features", "--max-seconds", v, 0.001, 1e6, &max_s)) return EXIT_USAGE;
        }
        else if (argv[i][0] == '-' && argv[i][1] != '\0')
            return cli_usage("features", USAGE, "unknown option '%s'", argv[i]);
        else if (file) return cli_usage("features", USAGE, "one FILE only (got '%s' and '%s')", file, argv[i]);
        else file = argv[i];
#undef OPT
    }
    if (!file) return cli_usage("features", USAGE, "FILE is required");
    if (out && csv) return cli_usage("features", USAGE, "--out and --csv exclude each other");

    float *x = NULL, clip[ZS_CLIP_SAMPLES], feat[ZS_N_MELS * ZS_N_FRAMES];
    size_t n = 0;
    zs_frontend *fe = NULL;
    zs_status st = zs_audio_load(file, ZS_SAMPLE_RATE, max_s, &x, &n);
    if (st != ZS_OK) return cli_fail("features", st);
    if (centre) zs_clip_fit_centred(x, n, clip);
    else zs_clip_fit(x, n, clip);
    free(x);
    if (have_noise) zs_add_noise(clip, ZS_CLIP_SAMPLES, (float)alpha, seed);
    st = zs_frontend_create(&fe);
    if (st == ZS_OK) st = zs_frontend_logmel(fe, clip, feat);
    zs_frontend_free(fe);
    if (st != ZS_OK) return cli_fail("features", st);

    if (out) {
        const uint16_t one = 1;
        if (*(const uint8_t *)&one == 0) {   /* big-endian host: store little-endian */
            for (int i = 0; i < ZS_N_MELS * ZS_N_FRAMES; i++) {
                uint8_t *b = (uint8_t *)&feat[i], t0 = b[0], t1 = b[1];
                b[0] = b[3]; b[1] = b[2]; b[2] = t1; b[3] = t0;
            }
        }
        const void *bufs[1] = {feat};
        size_t sizes[1] = {sizeof feat};
        st = zs_write_file_atomic(out, bufs, sizes, 1);
        if (st != ZS_OK) return cli_fail("features", st);
        return EXIT_OK;
    }
    for (int m = 0; m < ZS_N_MELS; m++) {
        for (int t = 0; t < ZS_N_FRAMES; t++)
            printf("%s%.4f", t ? (csv ? "," : " ") : "", (double)feat[m * ZS_N_FRAMES + t]);
        putchar('\n');
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "zeroskip features: cannot write to stdout\n");
        return EXIT_IO;
    }
    return EXIT_OK;
}
