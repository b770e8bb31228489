/*
 * fuzz_audio.c — libFuzzer target for the audio loaders: zs_audio_load
 * (libsndfile: WAV, FLAC, OGG, AIFF, AU, ...; mono mix; libsamplerate) and
 * the incremental reader behind `listen --stream`, plus the log-mel front
 * end on what they return.
 *
 * The input is written to one fixed file per process (under /dev/shm when
 * writable, else $TMPDIR or /tmp; removed at exit) because the loaders take
 * a path. Then:
 *  - zs_audio_load(path, 16 kHz, 2 s): on success a buffer, every sample
 *    finite, in [-1, 1] when the file is 16 kHz already; the clip's
 *    log-mel image is finite, in [-80, 0] dB; on failure a message;
 *  - the stream reader over the same file (at most 4 s): finite samples,
 *    in [-1, 1] without resampling; when the file is 16 kHz and load
 *    succeeded, the stream's first samples equal load's bit for bit.
 *    Resampled audio is held to |x| <= ZS_FUZZ_RESAMPLED_MAX = 1: the
 *    band-limited sinc overshoots full-scale steps (1.58 was seen, corpus
 *    file audio-resample-overshoot.voc) and the loaders now clamp;
 *  - the stream reader in raw mode (headerless 16-bit PCM at 16 kHz): every
 *    sample is exactly int16 / 32768 of the input bytes.
 * Invariant broken: __builtin_trap().
 *
 * tests/test_fuzz_replay2.c includes this file with ZS_FUZZ_NO_MAIN.
 */
#include "fuzz_main.h"
#include "zeroskip.h"
#include "audio_internal.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef ZS_FUZZ_ASSERT
#define ZS_FUZZ_ASSERT(c) do { if (!(c)) __builtin_trap(); } while (0)
#endif

#define ZS_FUZZ_AUDIO_SECONDS 2.0
#define ZS_FUZZ_STREAM_MAX (4 * ZS_SAMPLE_RATE)
#define ZS_FUZZ_RESAMPLED_MAX 1.0f

static char zs_fuzz_audio_path[300];
static zs_frontend *zs_fuzz_fe;

static void zs_fuzz_audio_cleanup(void) {
    if (zs_fuzz_audio_path[0]) unlink(zs_fuzz_audio_path);
    zs_frontend_free(zs_fuzz_fe);
    zs_fuzz_fe = NULL;
}

static int zs_fuzz_audio_write(const uint8_t *p, size_t n) {
    if (!zs_fuzz_audio_path[0]) {
        const char *t = getenv("TMPDIR");
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (t && *t ? t : "/tmp");
        snprintf(zs_fuzz_audio_path, sizeof zs_fuzz_audio_path, "%s/zs_fuzz_audio_%ld.bin", dir, (long)getpid());
        atexit(zs_fuzz_audio_cleanup);
    }
    FILE *f = fopen(zs_fuzz_audio_path, "wb");
    if (!f) return -1;
    size_t w = n ? fwrite(p, 1, n, f) : 0;
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

/* Reads the whole stream (at most ZS_FUZZ_STREAM_MAX samples) into buf. */
static zs_status zs_fuzz_stream(int raw_rate, float *buf, size_t *n, int *src_rate) {
    zs_audio_stream *s = NULL;
    *n = 0;
    zs_status st = zs_audio_stream_open(&s, zs_fuzz_audio_path, raw_rate, ZS_SAMPLE_RATE);
    if (st != ZS_OK) {
        ZS_FUZZ_ASSERT(s == NULL && zs_last_error()[0] != '\0');
        return st;
    }
    *src_rate = zs_audio_stream_source_rate(s);
    ZS_FUZZ_ASSERT(*src_rate >= 1);
    ZS_FUZZ_ASSERT(zs_audio_stream_source_channels(s) >= 1 && zs_audio_stream_source_channels(s) <= ZS_MAX_CHANNELS);
    float bound = *src_rate == ZS_SAMPLE_RATE ? 1.0f : ZS_FUZZ_RESAMPLED_MAX;
    while (*n < ZS_FUZZ_STREAM_MAX) {
        size_t want = ZS_FUZZ_STREAM_MAX - *n, got = 0;
        if (want > 1000) want = 1000; /* odd chunk size on purpose */
        st = zs_audio_stream_read(s, buf + *n, want, &got);
        if (st != ZS_OK) break;
        ZS_FUZZ_ASSERT(got <= want);
        if (got == 0) break;
        for (size_t i = 0; i < got; i++) ZS_FUZZ_ASSERT(isfinite(buf[*n + i]) && fabsf(buf[*n + i]) <= bound);
        *n += got;
    }
    zs_audio_stream_close(s);
    return st;
}

/* Returns 1 if zs_audio_load accepted the input, 0 if it was rejected. */
int zs_fuzz_audio(const uint8_t *data, size_t size) {
    if (zs_fuzz_audio_write(data, size) != 0) return 0;
    /* The stream reader first: it tells the source rate. */
    float *sb = malloc(sizeof(float) * ZS_FUZZ_STREAM_MAX);
    ZS_FUZZ_ASSERT(sb != NULL);
    size_t sn = 0;
    int rate = 0;
    zs_status sst = zs_fuzz_stream(0, sb, &sn, &rate);

    float *x = (float *)&x; /* poison */
    size_t n = 12345;
    zs_status st = zs_audio_load(zs_fuzz_audio_path, ZS_SAMPLE_RATE, ZS_FUZZ_AUDIO_SECONDS, &x, &n);
    int ok = st == ZS_OK;
    if (!ok) {
        ZS_FUZZ_ASSERT(zs_last_error()[0] != '\0');
        ZS_FUZZ_ASSERT(st == ZS_EFORMAT || st == ZS_ELIMIT || st == ZS_EUNSUPPORTED || st == ZS_EIO ||
                       st == ZS_ENOMEM);
        x = NULL;
        n = 0;
    } else {
        /* n may be 0: 2 samples at 393 kHz resample to round(0.08) = 0 at
         * 16 kHz (fuzz/corpus/audio/rate393k_2_samples.wav) */
        ZS_FUZZ_ASSERT(x != NULL);
        float bound = rate == ZS_SAMPLE_RATE ? 1.0f : ZS_FUZZ_RESAMPLED_MAX;
        for (size_t i = 0; i < n; i++) ZS_FUZZ_ASSERT(isfinite(x[i]) && fabsf(x[i]) <= bound);
        static float clip[ZS_CLIP_SAMPLES], mel[ZS_N_MELS * ZS_N_FRAMES];
        zs_clip_fit(x, n, clip);
        if (!zs_fuzz_fe) ZS_FUZZ_ASSERT(zs_frontend_create(&zs_fuzz_fe) == ZS_OK);
        ZS_FUZZ_ASSERT(zs_frontend_logmel(zs_fuzz_fe, clip, mel) == ZS_OK);
        for (int i = 0; i < ZS_N_MELS * ZS_N_FRAMES; i++)
            ZS_FUZZ_ASSERT(isfinite(mel[i]) && mel[i] <= 1e-3f && mel[i] >= -80.001f);
        /* Same file, no resampling: stream and whole-file load agree. */
        if (sst == ZS_OK && rate == ZS_SAMPLE_RATE) {
            size_t m = sn < n ? sn : n;
            ZS_FUZZ_ASSERT(memcmp(sb, x, m * sizeof(float)) == 0);
        }
    }

    /* Raw 16-bit PCM: exact values. */
    st = zs_fuzz_stream(ZS_SAMPLE_RATE, sb, &sn, &rate);
    if (st == ZS_OK) {
        ZS_FUZZ_ASSERT(rate == ZS_SAMPLE_RATE && sn <= size / 2);
        for (size_t i = 0; i < sn; i++) {
            int16_t v = (int16_t)(uint16_t)(data[2 * i] | (unsigned)data[2 * i + 1] << 8);
            ZS_FUZZ_ASSERT(sb[i] == (float)v / 32768.0f);
        }
    }
    free(sb);
    free(x);
    return ok;
}

#ifndef ZS_FUZZ_NO_MAIN
ZS_FUZZ_MAIN(zs_fuzz_audio)
#endif
