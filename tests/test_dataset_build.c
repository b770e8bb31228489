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
    aug_opts o = {.copies = 2, .seed = 42, .shift_s = 0.1, .noise_p = 0.8};
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
    /* --noise-p 0: no copy gets noise; a copy that got none at 0.8 is unchanged */
    aug_opts o0 = o;
    o0.noise_p = 0.0;
    int noisy0 = 0, same_quiet = 1;
    for (int k = 1; k <= 20; k++) {
        augment(&o0, 9, k, 1, z, 16000, a, tmp);
        double p = 0;
        for (int i = 0; i < ZS_CLIP_SAMPLES; i++) p += (double)a[i] * a[i];
        if (p > 0) noisy0++;
        augment(&o, 9, k, 1, z, 16000, b, tmp);
        double q = 0;
        for (int i = 0; i < ZS_CLIP_SAMPLES; i++) q += (double)b[i] * b[i];
        if (q == 0 && memcmp(a, b, sizeof a)) same_quiet = 0;
    }
    CHECK(noisy0 == 0, "noise_p 0: no silence copy gets noise (%d/20)", noisy0);
    CHECK(same_quiet, "noise_p 0: copies without noise at 0.8 are unchanged");
    int speech_differs = 0;
    for (int k = 1; k <= 5; k++) {
        augment(&o0, 5, k, 2, x, 12000, a, tmp);
        augment(&o, 5, k, 2, x, 12000, b, tmp);
        speech_differs += memcmp(a, b, sizeof a) != 0;
    }
    CHECK(speech_differs > 0, "noise_p 0 changes some speech copies (%d/5)", speech_differs);
}

static double goertzel(const float *x, int n, double hz) {
    double w = 2 * 3.14159265358979 * hz / ZS_SAMPLE_RATE, c = 2 * cos(w), s1 = 0, s2 = 0;
    for (int i = 0; i < n; i++) { double s0 = x[i] + c * s1 - s2; s2 = s1; s1 = s0; }
    return (s1 * s1 + s2 * s2 - c * s1 * s2) / ((double)n * n);
}

static void test_room_band_mask(void) {
    /* reverb: an impulse comes back as the direct tap then a decaying tail */
    static float imp[100];
    imp[0] = 1.0f;
    zs_rng r;
    zs_rng_seed(&r, 7);
    size_t ny = 0;
    float *h = reverb(&r, imp, 100, &ny);
    CHECK(h && ny > 100 + 0.1 * ZS_SAMPLE_RATE, "reverb: tail at least RT60 0.1 s long (%zu samples)", ny);
    if (h) {
        CHECK(h[0] == 1.0f, "reverb: direct sound first, unscaled");
        double e1 = 0, e2 = 0;
        size_t q = (ny - 100) / 4;
        for (size_t i = 1; i < 1 + q; i++) e1 += (double)h[i] * h[i];
        for (size_t i = ny - q; i < ny; i++) e2 += (double)h[i] * h[i];
        CHECK(e1 > 0 && e2 < e1 / 10, "reverb: the last quarter of the tail is >10 dB below the first (%g, %g)", e1, e2);
        float *h2;
        zs_rng_seed(&r, 7);
        size_t ny2 = 0;
        h2 = reverb(&r, imp, 100, &ny2);
        CHECK(h2 && ny2 == ny && !memcmp(h, h2, ny * sizeof *h), "reverb: same generator state, same response");
        free(h2);
    }
    free(h);
    /* band-limit: a 6 kHz tone is gone, a 1 kHz tone stays */
    static float x[16000], a[ZS_CLIP_SAMPLES], tmp[ZS_CLIP_SAMPLES];
    for (int i = 0; i < 16000; i++)
        x[i] = 0.3f * sinf(2 * 3.14159265f * 1000.0f * (float)i / 16000) + 0.3f * sinf(2 * 3.14159265f * 6000.0f * (float)i / 16000);
    aug_opts o = {.copies = 1, .seed = 3, .band_p = 1.0, .noise_p = 0.8};
    CHECK(augment(&o, 1, 1, 2, x, 16000, a, tmp) == ZS_OK, "band-limited copy made");
    double p1 = goertzel(a + 2000, 12000, 1000.0 * 1.0), p6 = 0;
    /* speed 0.9-1.1 moves the tones: look for the largest bin near each */
    p1 = 0;
    for (double f = 880; f <= 1120; f += 0.5) { double g = goertzel(a + 2000, 12000, f); p1 = g > p1 ? g : p1; }
    for (double f = 5300; f <= 6700; f += 0.5) { double g = goertzel(a + 2000, 12000, f); p6 = g > p6 ? g : p6; }
    CHECK(p1 > 0 && p6 < p1 * 1e-3, "band-limit: 6 kHz more than 30 dB below 1 kHz (%g vs %g)", p6, p1);
    o.band_p = 0;
    augment(&o, 1, 1, 2, x, 16000, a, tmp);
    p6 = 0;
    for (double f = 5300; f <= 6700; f += 0.5) { double g = goertzel(a + 2000, 12000, f); p6 = g > p6 ? g : p6; }
    CHECK(p6 > p1 * 0.1, "without band-limit the 6 kHz tone is there (%g vs %g)", p6, p1);
    /* SpecAugment: one band of mels and one run of frames set to the mean */
    static float feat[ZS_N_MELS * ZS_N_FRAMES], orig[ZS_N_MELS * ZS_N_FRAMES];
    double mean = 0;
    for (int i = 0; i < ZS_N_MELS * ZS_N_FRAMES; i++) { orig[i] = (float)(i % 37) - 40.0f; mean += orig[i]; }
    mean /= ZS_N_MELS * ZS_N_FRAMES;
    memcpy(feat, orig, sizeof feat);
    aug_opts om = {.copies = 1, .seed = 5, .mask_p = 1.0, .noise_p = 0.8};
    spec_mask(&om, 2, 1, feat);
    int rows = 0, cols = 0, changed_elsewhere = 0;
    for (int m = 0; m < ZS_N_MELS; m++) {
        int all = 1;
        for (int t = 0; t < ZS_N_FRAMES; t++) all &= fabsf(feat[m * ZS_N_FRAMES + t] - (float)mean) < 1e-4f;
        rows += all;
    }
    for (int t = 0; t < ZS_N_FRAMES; t++) {
        int all = 1;
        for (int m = 0; m < ZS_N_MELS; m++) all &= fabsf(feat[m * ZS_N_FRAMES + t] - (float)mean) < 1e-4f;
        cols += all;
    }
    for (int i = 0; i < ZS_N_MELS * ZS_N_FRAMES; i++)
        changed_elsewhere += feat[i] != orig[i] && fabsf(feat[i] - (float)mean) > 1e-4f;
    CHECK(rows >= 1 && rows <= 4 && cols >= 1 && cols <= 4 && !changed_elsewhere,
          "spec mask: 1-4 mel rows and 1-4 frames set to the mean, nothing else (%d, %d)", rows, cols);
    om.mask_p = 0;
    memcpy(feat, orig, sizeof feat);
    spec_mask(&om, 2, 1, feat);
    CHECK(!memcmp(feat, orig, sizeof feat), "spec mask off: image unchanged");
    /* --classes */
    CHECK(classes_parse("unknown,silence,yes,no") == 0 && N_CLASSES == 4 && !strcmp(class_names[2], "yes"),
          "--classes parsed");
    CHECK(classes_parse("a,a") != 0 && classes_parse("a") != 0 && classes_parse("a,,b") != 0,
          "--classes: duplicates, one class and empty names refused");
    classes_default();
    CHECK(N_CLASSES == 12 && !strcmp(class_names[11], "nine"), "default classes: the digit task's 12");
}

int main(void) {
    classes_default();
    test_csv();
    test_manifest();
    test_fit();
    test_speed();
    test_augment();
    test_room_band_mask();
    return check_finish("test_dataset_build");
}
