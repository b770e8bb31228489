/*
 * test_dataset_build.c — the pieces of `zeroskip dataset build` that the
 * shell suite (tests/cli_dataset.sh) cannot see: CSV splitting, manifest
 * parsing and path resolution, centring a clip in one second, the speed
 * change (against libsamplerate) and the augmentation's determinism.
 * It compiles cli/cmd_dataset.c into itself to reach its static functions.
 */
#include "../cli/cmd_dataset.c"
#include "../cli/args.c"
#include "check.h"

static double energy_centre(const float *x, size_t n) {
    double e = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        e += (double)x[i] * x[i];
        m += (double)i * x[i] * x[i];
    }
    return e > 0 ? m / e : -1;
}

static void test_csv(void) {
    char *f[8];
    char a[] = "p.wav,zero,,x";
    CHECK(csv_split(a, f, 7) == 4 && !strcmp(f[0], "p.wav") && !strcmp(f[1], "zero") &&
              !strcmp(f[2], "") && !strcmp(f[3], "x"), "plain fields");
    char b[] = "\"a,b\",\"say \"\"hi\"\"\",c";
    CHECK(csv_split(b, f, 7) == 3 && !strcmp(f[0], "a,b") && !strcmp(f[1], "say \"hi\"") &&
              !strcmp(f[2], "c"), "quoted fields: '%s' '%s'", f[0], f[1]);
    char c[] = "\"open,x";
    CHECK(csv_split(c, f, 7) == -1, "unterminated quote refused");
    char d[] = "\"a\"b,c";
    CHECK(csv_split(d, f, 7) == -1, "text after a closing quote refused");
    char e[] = "a\"b,c";
    CHECK(csv_split(e, f, 7) == -1, "quote inside an unquoted field refused");
    char g[] = "1,2,3,4,5,6,7,8,9";
    CHECK(csv_split(g, f, 7) > 7, "too many fields reported");
}

static void test_manifest(void) {
    char dir[] = "/tmp/zs_ds_test.XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    char path[256];
    snprintf(path, sizeof path, "%s/m.csv", dir);
    FILE *fp = fopen(path, "w");
    fprintf(fp, "extra,label,\"path\",split,speaker\r\n\r\n"
                "1,zero,a/b.wav,train,s1\r\n"
                "2,nine,/abs/c.wav,test,s2\n"
                "\n3,silence,\"d e.wav\",val,\n");
    fclose(fp);
    manifest m;
    zs_status st = manifest_read(&m, path);
    CHECK(st == ZS_OK, "manifest with CRLF, blank lines, quoted header: %s", zs_last_error());
    if (st == ZS_OK) {
        char want[300];
        snprintf(want, sizeof want, "%s/a/b.wav", dir);
        CHECK(m.n == 3, "3 rows, got %d", m.n);
        CHECK(m.rows[0].label == 2 && m.rows[0].split == SPLIT_TRAIN && m.rows[0].line == 3,
              "row 1 label/split/line");
        CHECK(!strcmp(m.rows[0].open_path, want), "relative path resolved: %s", m.rows[0].open_path);
        CHECK(!strcmp(m.rows[1].open_path, "/abs/c.wav"), "absolute path kept");
        CHECK(m.rows[1].label == 11 && m.rows[1].split == SPLIT_TEST, "row 2");
        CHECK(m.rows[2].label == 1 && m.rows[2].split == SPLIT_VAL && !strcmp(m.rows[2].speaker, ""),
              "row 3");
        CHECK(!strcmp(m.rows[0].source, ""), "missing source column reads as empty");
        manifest_free(&m);
    }
    fp = fopen(path, "w");
    fprintf(fp, "path,label,split\na.wav,Zero,train\n");
    fclose(fp);
    st = manifest_read(&m, path);
    CHECK(st == ZS_EFORMAT && strstr(zs_last_error(), ":2: unknown label 'Zero'"),
          "labels are case-sensitive: %s", zs_last_error());
    fp = fopen(path, "w");
    fprintf(fp, "path,label,split\na,b.wav,zero,train\n");
    fclose(fp);
    st = manifest_read(&m, path);
    CHECK(st == ZS_EFORMAT && strstr(zs_last_error(), ":2: 4 fields, the header has 3"),
          "extra field: %s", zs_last_error());
    remove(path);
    rmdir(dir);
}

static void test_fit(void) {
    static float x[48000], clip[ZS_CLIP_SAMPLES];
    /* 0.2 s burst at the start of a 0.5 s clip -> centred in the second */
    memset(x, 0, sizeof x);
    for (int i = 0; i < 3200; i++) x[i] = sinf(0.3f * (float)i);
    zs_clip_fit_centred(x, 8000, clip);
    double c = energy_centre(clip, ZS_CLIP_SAMPLES);
    CHECK(fabs(c - 8000) < 200, "short clip centred on its speech: centre %.0f", c);
    /* 0.3 s burst at 2.0-2.3 s of 3 s -> inside the window, centred */
    memset(x, 0, sizeof x);
    for (int i = 32000; i < 36800; i++) x[i] = 0.5f * sinf(0.1f * (float)i);
    x[100] = 1e-6f; /* a far, quiet sample must not stretch the active region */
    zs_clip_fit_centred(x, 48000, clip);
    c = energy_centre(clip, ZS_CLIP_SAMPLES);
    CHECK(fabs(c - 8000) < 200, "long clip: burst centred, centre %.0f", c);
    /* speech longer than a second: the loudest second is taken */
    for (int i = 0; i < 48000; i++) x[i] = (i >= 20000 && i < 36000 ? 0.8f : 0.05f) * sinf(0.2f * (float)i);
    zs_clip_fit_centred(x, 48000, clip);
    double e = 0;
    for (int i = 0; i < ZS_CLIP_SAMPLES; i++) e += (double)clip[i] * clip[i];
    CHECK(e > 0.3 * 0.64 * ZS_CLIP_SAMPLES * 0.9, "loudest second chosen (energy %.0f)", e);
    CHECK(clip[0] == x[20000], "loudest second starts at its onset");
    /* exactly one second, all active: unchanged */
    for (int i = 0; i < ZS_CLIP_SAMPLES; i++) x[i] = sinf(0.05f * (float)i);
    zs_clip_fit_centred(x, ZS_CLIP_SAMPLES, clip);
    CHECK(!memcmp(x, clip, sizeof clip), "a full one-second clip is left as is");
    /* silence: zeros, any length */
    memset(x, 0, sizeof x);
    clip[5] = 1;
    zs_clip_fit_centred(x, 3000, clip);
    int nz = 0;
    for (int i = 0; i < ZS_CLIP_SAMPLES; i++) nz += clip[i] != 0;
    CHECK(nz == 0, "all-zero input gives zeros");
    zs_clip_fit_centred(x, 0, clip);
    CHECK(clip[0] == 0 && clip[ZS_CLIP_SAMPLES - 1] == 0, "empty input gives zeros");
}

static void test_speed(void) {
    static float x[16000];
    for (int i = 0; i < 16000; i++)
        x[i] = (i > 2000 && i < 14000) ? 0.8f * sinf(2.0f * 3.14159265f * 1000.0f * (float)i / 16000.0f) : 0.0f;
    const int rates[2] = {17000, 15000};
    for (int t = 0; t < 2; t++) {
        double f = 16000.0 / rates[t];
        size_t ny = 0, nz = 0;
        float *y = speed_change(x, 16000, f, &ny), *z = NULL;
        zs_status st = zs_audio_resample(x, 16000, 16000, rates[t], &z, &nz);
        CHECK(y && st == ZS_OK, "speed_change and zs_audio_resample run");
        if (y && z) {
            CHECK(ny == (size_t)rates[t], "length n/f: %zu", ny);
            size_t lo = 3000, hi = (size_t)(13000.0 / f);
            CHECK_CLOSE(y + lo, z + lo, hi - lo, 1e-3, 0, "speed_change vs libsamplerate best sinc");
        }
        free(y);
        free(z);
    }
    /* a 7.9 kHz tone slowed down must not alias back: sped up by 1.1 it
     * lies above the new Nyquist and is removed */
    for (int i = 0; i < 16000; i++) x[i] = 0.8f * sinf(2.0f * 3.14159265f * 7900.0f * (float)i / 16000.0f);
    size_t ny = 0;
    float *y = speed_change(x, 16000, 1.1, &ny);
    double e = 0;
    for (size_t i = 1000; y && i + 1000 < ny; i++) e += (double)y[i] * y[i];
    e /= (double)ny - 2000;
    CHECK(y && e < 1e-3, "tone above the new Nyquist removed (power %g)", e);
    free(y);
}

static void test_augment(void) {
    static float x[12000], a[ZS_CLIP_SAMPLES], b[ZS_CLIP_SAMPLES], tmp[ZS_CLIP_SAMPLES];
    for (int i = 0; i < 12000; i++) x[i] = 0.9f * sinf(0.07f * (float)i) * sinf(3.14159265f * (float)i / 12000.0f);
    aug_opts o = {2, 42, 0.1, NULL, 0};
    CHECK(augment(&o, 5, 1, 2, x, 12000, a, tmp) == ZS_OK, "augment runs");
    CHECK(augment(&o, 5, 1, 2, x, 12000, b, tmp) == ZS_OK, "augment runs again");
    CHECK(!memcmp(a, b, sizeof a), "same (seed, row, copy): same clip");
    augment(&o, 5, 2, 2, x, 12000, b, tmp);
    CHECK(memcmp(a, b, sizeof a) != 0, "another copy differs");
    augment(&o, 6, 1, 2, x, 12000, b, tmp);
    CHECK(memcmp(a, b, sizeof a) != 0, "another row differs");
    o.seed = 43;
    augment(&o, 5, 1, 2, x, 12000, b, tmp);
    CHECK(memcmp(a, b, sizeof a) != 0, "another seed differs");
    int in_range = 1;
    for (int i = 0; i < ZS_CLIP_SAMPLES; i++) in_range &= a[i] >= -1.0f && a[i] <= 1.0f;
    CHECK(in_range, "augmented samples stay in [-1, 1]");
    /* silence gets noise at -70..-20 dBFS (when the 0.8 draw says so) */
    static float z[16000];
    int noisy = 0, quiet_enough = 1;
    for (int k = 1; k <= 20; k++) {
        augment(&o, 9, k, 1, z, 16000, a, tmp);
        double p = 0;
        for (int i = 0; i < ZS_CLIP_SAMPLES; i++) p += (double)a[i] * a[i];
        p /= ZS_CLIP_SAMPLES;
        if (p > 0) noisy++;
        if (p > 1e-2 * 1.01) quiet_enough = 0;
    }
    CHECK(noisy >= 10 && noisy < 20, "silence: noise added in most copies (%d/20)", noisy);
    CHECK(quiet_enough, "silence: noise at most -20 dBFS");
}

int main(void) {
    test_csv();
    test_manifest();
    test_fit();
    test_speed();
    test_augment();
    return check_finish("test_dataset_build");
}
