/*
 * test_concurrency.c — many networks served from many threads give exactly
 * the answers they give one at a time.
 *
 * What it checks (every comparison is memcmp, bit for bit):
 *  1. zs_isa_active() called first from 8 threads at once agrees everywhere.
 *  2. Serving: 6 networks (gsc-sparse, gsc-sparse-fast, gsc-dense with
 *     different seeds, a few SGD steps each so BatchNorm statistics and duty
 *     cycles are not trivial) are served from 4 threads. Each request picks a
 *     network (held under that network's mutex: a handle is never used by two
 *     threads at once, as zeroskip.h requires, but networks migrate between
 *     threads), a path (sparse plan, dense with 1 GEMM thread, dense with 2)
 *     and a batch (1..16 samples). The expected outputs come from twins of the
 *     networks (same preset, seed and training) run sequentially in the main
 *     thread; the served networks build their kernel plans lazily in whichever
 *     worker gets them first.
 *  3. Training: 3 networks trained in parallel threads end with the same
 *     saved bytes as the same networks trained one after another.
 *  4. Loading: one model file loaded by zs_net_load_mem in 4 threads at once,
 *     each copy answering like the original; concurrent saves to distinct
 *     paths give identical bytes; two threads saving different networks to
 *     the same path both succeed and leave one of the two files, whole.
 *  5. zs_last_error() is per thread: each thread's own failure message
 *     survives other threads' failures.
 *  6. Audio front end in threads (each its own zs_frontend and network):
 *     load a WAV, log-mel, infer — same as sequential.
 * Bounded work (fixed iteration counts), no timing assertions.
 */
#include "check.h"
#include "zeroskip.h"
#include "kernels/plan.h" /* zs_plan_trace: a failing check's evidence */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { NNET = 6, NTHR = 4, NMODE = 3, NJOB = 6, POOL = 32, ITERS = 36, INSZ = 32 * 32, K = 12 };

static const struct { const char *preset; uint64_t seed; } specs[NNET] = {
    {"gsc-sparse", 11}, {"gsc-sparse", 12}, {"gsc-sparse-fast", 13},
    {"gsc-sparse-fast", 14}, {"gsc-dense", 15}, {"gsc-dense", 16},
};
static const int job_n[NJOB] = {1, 2, 3, 5, 8, 16};
static const int job_off[NJOB] = {0, 7, 1, 20, 12, 16}; /* first sample in the pool */

/* Simple deterministic generator (tests only; the library has its own). */
static uint64_t mix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static float unif(uint64_t *s) { return (float)(mix(s) >> 40) * (1.0f / 16777216.0f); }
static void fill_normalish(float *x, size_t n, uint64_t seed) {
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) x[i] = (unif(&s) + unif(&s) + unif(&s) + unif(&s) - 2.0f) * 1.7f;
}

/* Where two outputs first differ, for a failure's message (buf). */
static const char *first_diff(char *buf, size_t len, const float *a, const float *b, size_t n) {
    size_t i = 0;
    while (i < n && !memcmp(a + i, b + i, sizeof(float))) i++;
    if (i == n) snprintf(buf, len, "none");
    else snprintf(buf, len, "output %zu: %.9g vs %.9g", i, (double)a[i], (double)b[i]);
    return buf;
}

/* Two SGD steps so that BN statistics, duty cycles and boost are not trivial. */
static zs_status make_net(zs_net **out, int i) {
    zs_status st = zs_net_create_preset(out, specs[i].preset, specs[i].seed);
    if (st) return st;
    float x[8 * INSZ];
    int32_t y[8];
    zs_sgd opt = {0.02f, 0.5f, 0.001f};
    for (int step = 0; step < 2; step++) {
        fill_normalish(x, 8 * INSZ, 1000u * (uint64_t)i + (uint64_t)step);
        for (int j = 0; j < 8; j++) y[j] = (int32_t)((i + j * 5 + step) % K);
        if ((st = zs_net_train_step(*out, x, y, 8, &opt, NULL, NULL))) return st;
    }
    zs_net_epoch_end(*out);
    return ZS_OK;
}

/* A network's plan state and each stage's output on sample x (stdout). */
static void print_trace(zs_net *net, const float *x) {
    zs_net_set_dense(net, 0);
    if (zs_plan_trace(net, x, stdout)) printf("  (no trace: %s)\n", zs_last_error());
}

/* A plan that disagrees with the dense path: its trace on the sample (of
 * n in x) where the two differ most. */
static void trace_worst(zs_net *net, const float *plan, const float *dense, int n, const float *x) {
    int w = 0;
    float wd = -1;
    for (int i = 0; i < n * K; i++)
        if (!(fabsf(plan[i] - dense[i]) <= wd)) wd = fabsf(plan[i] - dense[i]), w = i / K;
    printf("trace of the plan on sample %d of the batch (|plan - dense| up to %g):\n", w, (double)wd);
    print_trace(net, x + (size_t)w * INSZ);
}

/* Mode 0: sparse plan; 1: dense, 1 GEMM thread; 2: dense, 2 GEMM threads. */
static zs_status run_mode(zs_net *net, int mode, const float *x, int n, float *out) {
    zs_net_set_dense(net, mode != 0);
    zs_set_threads(mode == 2 ? 2 : 1);
    return zs_net_infer(net, x, n, out);
}

/* ------------------------------------------------------------ 1. ISA cache */

typedef struct { pthread_barrier_t *bar; zs_isa isa, cpu; } isa_job;
static void *isa_worker(void *a) {
    isa_job *j = a;
    pthread_barrier_wait(j->bar);
    j->isa = zs_isa_active();
    j->cpu = zs_isa_cpu();
    return NULL;
}

static void test_isa_first_call(void) {
    enum { T = 8 };
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, T);
    pthread_t th[T];
    isa_job jobs[T];
    for (int t = 0; t < T; t++) {
        jobs[t].bar = &bar;
        pthread_create(&th[t], NULL, isa_worker, &jobs[t]);
    }
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    pthread_barrier_destroy(&bar);
    int same = 1;
    for (int t = 0; t < T; t++) same &= jobs[t].isa == zs_isa_active() && jobs[t].cpu == zs_isa_cpu();
    CHECK(same, "zs_isa_active/zs_isa_cpu first called from %d threads agree", T);
}

/* ------------------------------------------------------------ 2. serving */

static float *pool_x;                          /* (POOL, 1, 32, 32)            */
static float expect[NNET][NMODE][NJOB][16 * K];
static zs_net *served[NNET];
static pthread_mutex_t net_lock[NNET];

typedef struct {
    int id;
    uint64_t rng;
    int done, mismatches, errors;
    int first_bad_net, first_bad_mode, first_bad_job;
    char err[256], diff[96];
    int used[NNET];
} serve_job;

static void *serve_worker(void *a) {
    serve_job *j = a;
    float out[16 * K];
    j->first_bad_net = -1;
    for (int it = 0; it < ITERS; it++) {
        uint64_t r = mix(&j->rng);
        int ni = (int)(r % NNET), mode = (int)((r >> 8) % NMODE), jb = (int)((r >> 16) % NJOB);
        pthread_mutex_lock(&net_lock[ni]);
        zs_status st = run_mode(served[ni], mode, pool_x + (size_t)job_off[jb] * INSZ, job_n[jb], out);
        pthread_mutex_unlock(&net_lock[ni]);
        j->used[ni]++;
        j->done++;
        if (st != ZS_OK) {
            if (!j->errors++) snprintf(j->err, sizeof j->err, "%s", zs_last_error());
            continue;
        }
        if (memcmp(out, expect[ni][mode][jb], sizeof(float) * (size_t)job_n[jb] * K) != 0) {
            if (!j->mismatches++) {
                j->first_bad_net = ni; j->first_bad_mode = mode; j->first_bad_job = jb;
                first_diff(j->diff, sizeof j->diff, out, expect[ni][mode][jb], (size_t)job_n[jb] * K);
            }
        }
    }
    return NULL;
}

static void test_serving(void) {
    zs_net *twin[NNET] = {0};
    pool_x = malloc(sizeof(float) * POOL * INSZ);
    fill_normalish(pool_x, (size_t)POOL * INSZ, 77);
    int ok = 1;
    for (int i = 0; i < NNET && ok; i++) {
        pthread_mutex_init(&net_lock[i], NULL);
        zs_status st = make_net(&twin[i], i);
        if (st == ZS_OK) st = make_net(&served[i], i);
        CHECK(st == ZS_OK, "create %s seed %llu: %s", specs[i].preset, (unsigned long long)specs[i].seed,
              zs_last_error());
        if (st) { ok = 0; break; }
        for (int m = 0; m < NMODE && ok; m++)
            for (int jb = 0; jb < NJOB && ok; jb++) {
                st = run_mode(twin[i], m, pool_x + (size_t)job_off[jb] * INSZ, job_n[jb], expect[i][m][jb]);
                CHECK(st == ZS_OK, "sequential %s mode %d batch %d: %s", specs[i].preset, m, job_n[jb], zs_last_error());
                if (st) ok = 0;
            }
    }
    if (ok) {
        /* Sanity: the networks differ, the sparse and dense paths agree closely. */
        CHECK(memcmp(expect[0][0][5], expect[1][0][5], sizeof(float) * 16 * K) != 0, "different seeds give different outputs");
        if (!CHECK_CLOSE(expect[0][0][5], expect[0][1][5], 16 * K, 2e-3, 2e-3, "gsc-sparse: plan vs dense path"))
            trace_worst(twin[0], expect[0][0][5], expect[0][1][5], 16, pool_x + 16 * INSZ);
        /* Batch composition: sample 7 of the pool answered alone and inside batches. */
        float one[K];
        CHECK(run_mode(twin[2], 0, pool_x + 7 * INSZ, 1, one) == ZS_OK && !memcmp(one, expect[2][0][1], sizeof one),
              "plan: sample alone == same sample in a batch of 2");

        pthread_t th[NTHR];
        serve_job jobs[NTHR];
        memset(jobs, 0, sizeof jobs);
        for (int t = 0; t < NTHR; t++) {
            jobs[t].id = t;
            jobs[t].rng = 0xC0FFEEull * (uint64_t)(t + 1);
            pthread_create(&th[t], NULL, serve_worker, &jobs[t]);
        }
        for (int t = 0; t < NTHR; t++) pthread_join(th[t], NULL);
        int done = 0, migrated = 0;
        for (int t = 0; t < NTHR; t++) {
            done += jobs[t].done;
            CHECK(jobs[t].errors == 0, "thread %d: %d failed requests (first: %s)", t, jobs[t].errors, jobs[t].err);
            CHECK(jobs[t].mismatches == 0, "thread %d: %d of %d answers differ from sequential (first: net %d mode %d batch %d, %s)",
                  t, jobs[t].mismatches, jobs[t].done, jobs[t].first_bad_net, jobs[t].first_bad_mode,
                  jobs[t].first_bad_net >= 0 ? job_n[jobs[t].first_bad_job] : 0, jobs[t].diff);
        }
        for (int t = 0, traced = 0; t < NTHR && !traced; t++)
            if (jobs[t].mismatches && jobs[t].first_bad_mode == 0) {
                int ni = jobs[t].first_bad_net;
                const float *x = pool_x + (size_t)job_off[jobs[t].first_bad_job] * INSZ;
                printf("trace of net %d's twin and served copy on the first sample of the first differing request:\n", ni);
                print_trace(twin[ni], x);
                print_trace(served[ni], x);
                traced = 1;
            }
        for (int i = 0; i < NNET; i++) {
            int users = 0;
            for (int t = 0; t < NTHR; t++) users += jobs[t].used[i] > 0;
            migrated += users > 1;
        }
        CHECK(done == NTHR * ITERS, "every request served (%d)", done);
        printf("serving: %d requests on %d networks from %d threads, %d networks served by several threads\n", done,
               NNET, NTHR, migrated);
        /* Served networks still answer like their twins afterwards, in every mode. */
        int same = 1;
        float out[16 * K];
        for (int i = 0; i < NNET; i++)
            for (int m = 0; m < NMODE; m++)
                same &= run_mode(served[i], m, pool_x + 16 * INSZ, 16, out) == ZS_OK &&
                        !memcmp(out, expect[i][m][5], sizeof out);
        CHECK(same, "served networks unchanged after serving");
    }
    for (int i = 0; i < NNET; i++) {
        zs_net_free(twin[i]);
        zs_net_free(served[i]);
        served[i] = NULL;
        pthread_mutex_destroy(&net_lock[i]);
    }
    zs_set_threads(1);
}

/* ------------------------------------------------------------ 3. training */

enum { TN = 48, TNET = 3 };
static const char *train_presets[TNET] = {"mnist-sparse-mlp", "mnist-mlp", "mnist-sparse-mlp"};

typedef struct { int i; zs_dataset *ds; char path[300]; zs_status st; char err[256]; } train_job;

static zs_status train_one(train_job *j) {
    zs_net *net = NULL;
    zs_status st = zs_net_create_preset(&net, train_presets[j->i], 50 + (uint64_t)j->i);
    zs_set_threads(1);
    zs_train_opts o = zs_train_defaults();
    o.epochs = 2;
    o.batch = 8;
    o.momentum = 0.9f;
    o.seed = 7 + (uint64_t)j->i;
    if (st == ZS_OK) st = zs_train(net, j->ds, NULL, &o);
    if (st == ZS_OK) st = zs_net_save(net, j->path);
    if (st) snprintf(j->err, sizeof j->err, "%s", zs_last_error());
    zs_net_free(net);
    return st;
}
static void *train_worker(void *a) {
    train_job *j = a;
    j->st = train_one(j);
    return NULL;
}

static int same_file(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) same = 0;
        if (ca == EOF || cb == EOF) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

static char tmpdir[200];

static void test_training(void) {
    zs_dataset *ds = NULL;
    if (zs_dataset_create(&ds, TN, 1, 28, 28) != ZS_OK) { CHECK(0, "dataset: %s", zs_last_error()); return; }
    fill_normalish(zs_dataset_features(ds), (size_t)TN * 28 * 28, 5);
    for (int i = 0; i < TN; i++) zs_dataset_labels(ds)[i] = (i * 7) % 10;
    train_job seq[TNET], par[TNET];
    for (int i = 0; i < TNET; i++) {
        seq[i] = (train_job){.i = i, .ds = ds};
        par[i] = (train_job){.i = i, .ds = ds};
        snprintf(seq[i].path, sizeof seq[i].path, "%s/seq%d.safetensors", tmpdir, i);
        snprintf(par[i].path, sizeof par[i].path, "%s/par%d.safetensors", tmpdir, i);
        seq[i].st = train_one(&seq[i]);
        CHECK(seq[i].st == ZS_OK, "sequential training %d: %s", i, seq[i].err);
    }
    pthread_t th[TNET];
    for (int i = 0; i < TNET; i++) pthread_create(&th[i], NULL, train_worker, &par[i]);
    for (int i = 0; i < TNET; i++) pthread_join(th[i], NULL);
    for (int i = 0; i < TNET; i++) {
        CHECK(par[i].st == ZS_OK, "parallel training %d: %s", i, par[i].err);
        CHECK(same_file(seq[i].path, par[i].path), "%s trained in a thread == trained alone (saved bytes)",
              train_presets[i]);
    }
    CHECK(!same_file(seq[0].path, seq[2].path), "different seeds train different models");
    zs_dataset_free(ds);
    for (int i = 0; i < TNET; i++) { unlink(seq[i].path); unlink(par[i].path); }
}

/* ------------------------------------------------------------ 4. loading and saving */

typedef struct {
    const void *bytes; size_t size; const float *x; float out[16 * K];
    char path[300]; zs_status st; char err[256];
} load_job;

static void *load_worker(void *a) {
    load_job *j = a;
    zs_net *net = NULL;
    zs_set_threads(1);
    j->st = zs_net_load_mem(&net, j->bytes, j->size);
    if (j->st == ZS_OK) j->st = zs_net_infer(net, j->x, 16, j->out);
    if (j->st == ZS_OK) j->st = zs_net_save(net, j->path);
    if (j->st) snprintf(j->err, sizeof j->err, "%s", zs_last_error());
    zs_net_free(net);
    return NULL;
}

static void test_loading(void) {
    enum { T = 4 };
    zs_net *net = NULL;
    char path[300];
    snprintf(path, sizeof path, "%s/orig.safetensors", tmpdir);
    float x[16 * INSZ], want[16 * K];
    fill_normalish(x, 16 * INSZ, 99);
    zs_status st = make_net(&net, 0);
    if (st == ZS_OK) st = zs_net_save(net, path);
    if (st == ZS_OK) st = zs_net_infer(net, x, 16, want);
    CHECK(st == ZS_OK, "make, save and run the original: %s", zs_last_error());
    zs_net_free(net);
    if (st) return;
    FILE *f = fopen(path, "rb");
    void *bytes = NULL;
    long size = 0;
    if (f && fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
        bytes = malloc((size_t)size);
        if (bytes && fread(bytes, 1, (size_t)size, f) != (size_t)size) { free(bytes); bytes = NULL; }
    }
    if (f) fclose(f);
    CHECK(bytes != NULL, "read back %s", path);
    if (!bytes) return;
    pthread_t th[T];
    load_job *jobs = calloc(T, sizeof *jobs);
    for (int t = 0; t < T; t++) {
        jobs[t].bytes = bytes;
        jobs[t].size = (size_t)size;
        jobs[t].x = x;
        snprintf(jobs[t].path, sizeof jobs[t].path, "%s/copy%d.safetensors", tmpdir, t);
        pthread_create(&th[t], NULL, load_worker, &jobs[t]);
    }
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < T; t++) {
        CHECK(jobs[t].st == ZS_OK, "thread %d load/infer/save: %s", t, jobs[t].err);
        char d[96];
        CHECK(!memcmp(jobs[t].out, want, sizeof want), "thread %d: loaded copy answers like the original (first difference: %s)",
              t, first_diff(d, sizeof d, jobs[t].out, want, 16 * K));
        CHECK(same_file(jobs[t].path, path), "thread %d: saved copy is byte-identical to the original file", t);
        unlink(jobs[t].path);
    }
    unlink(path);
    free(jobs);
    free(bytes);
}

/* Two threads saving different networks to the same path at the same time:
 * both calls succeed and the file is, complete, one of the two (last rename
 * wins). Needs a temporary name unique per call, not only per process. */
typedef struct { zs_net *net; const char *path; zs_status st; char err[512]; pthread_barrier_t *bar; } same_job;
static void *same_worker(void *a) {
    same_job *j = a;
    pthread_barrier_wait(j->bar);
    j->st = zs_net_save(j->net, j->path);
    if (j->st) snprintf(j->err, sizeof j->err, "%s", zs_last_error());
    return NULL;
}

static void test_same_path(void) {
    enum { R = 8 };
    zs_net *net[2] = {0};
    char alone[2][300], path[300];
    snprintf(path, sizeof path, "%s/same.safetensors", tmpdir);
    zs_status st = ZS_OK;
    for (int i = 0; i < 2 && st == ZS_OK; i++) {
        snprintf(alone[i], sizeof alone[i], "%s/alone%d.safetensors", tmpdir, i);
        st = zs_net_create_preset(&net[i], i ? "mnist-sparse-mlp" : "mnist-mlp", 3);
        if (st == ZS_OK) st = zs_net_save(net[i], alone[i]);
    }
    CHECK(st == ZS_OK, "same-path setup: %s", zs_last_error());
    int failed = 0, mixed = 0;
    char first_err[600] = "";
    for (int r = 0; r < R && st == ZS_OK; r++) {
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, 2);
        same_job jobs[2];
        pthread_t th[2];
        for (int i = 0; i < 2; i++) {
            jobs[i] = (same_job){.net = net[i], .path = path, .bar = &bar};
            pthread_create(&th[i], NULL, same_worker, &jobs[i]);
        }
        for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
        pthread_barrier_destroy(&bar);
        for (int i = 0; i < 2; i++)
            if (jobs[i].st) {
                if (!failed++) snprintf(first_err, sizeof first_err, "%.500s", jobs[i].err);
            }
        mixed += !same_file(path, alone[0]) && !same_file(path, alone[1]);
    }
    CHECK(failed == 0, "concurrent saves to one path: %d of %d failed (first: %s)", failed, 2 * R, first_err);
    CHECK(mixed == 0, "concurrent saves to one path: %d of %d results are neither network's file", mixed, R);
    for (int i = 0; i < 2; i++) { zs_net_free(net[i]); unlink(alone[i]); }
    unlink(path);
}

/* ------------------------------------------------------------ 5. per-thread errors */

typedef struct { int id; pthread_barrier_t *bar; int own_kept, cleared_ok; char seen[256]; } err_job;

static void *err_worker(void *a) {
    err_job *j = a;
    char name[64];
    snprintf(name, sizeof name, "no-such-preset-%d", j->id);
    zs_net *net = NULL;
    j->cleared_ok = zs_last_error()[0] == '\0'; /* a new thread starts with no message */
    pthread_barrier_wait(j->bar);
    for (int r = 0; r < 50; r++) {
        (void)zs_net_create_preset(&net, name, 0);
        sched_yield();
    }
    pthread_barrier_wait(j->bar); /* everyone has failed, many times */
    snprintf(j->seen, sizeof j->seen, "%s", zs_last_error());
    j->own_kept = strstr(j->seen, name) != NULL;
    return NULL;
}

static void test_errors(void) {
    enum { T = 6 };
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, T);
    pthread_t th[T];
    err_job jobs[T];
    zs_net *net = NULL;
    (void)zs_net_create_preset(&net, "main-thread-bad", 0);
    for (int t = 0; t < T; t++) {
        jobs[t] = (err_job){.id = t, .bar = &bar};
        pthread_create(&th[t], NULL, err_worker, &jobs[t]);
    }
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    pthread_barrier_destroy(&bar);
    for (int t = 0; t < T; t++) {
        CHECK(jobs[t].cleared_ok, "thread %d starts with an empty zs_last_error()", t);
        CHECK(jobs[t].own_kept, "thread %d sees its own error, got '%s'", t, jobs[t].seen);
    }
    CHECK(strstr(zs_last_error(), "main-thread-bad") != NULL, "main thread keeps its error: '%s'", zs_last_error());
}

/* ------------------------------------------------------------ 6. audio pipeline */

static const char *wavs[] = {"audio/yes_1000ms.wav", "audio/no_1000ms.wav", "audio/0_george_0.wav",
                             "audio/7_jackson_32.wav"};
enum { NWAV = 4 };

typedef struct { int id; float feat[ZS_N_MELS * ZS_N_FRAMES]; float out[K]; zs_status st; char err[256]; } audio_job;

static zs_status audio_one(audio_job *j) {
    float *s = NULL, clip[ZS_CLIP_SAMPLES];
    size_t n = 0;
    zs_frontend *fe = NULL;
    zs_net *net = NULL;
    char path[256]; /* not check_data(): its static buffer is shared by all threads */
    snprintf(path, sizeof path, "tests/data/%s", wavs[j->id % NWAV]);
    zs_status st = zs_audio_load(path, ZS_SAMPLE_RATE, 30, &s, &n);
    if (st == ZS_OK) {
        zs_clip_fit(s, n, clip);
        st = zs_frontend_create(&fe);
    }
    if (st == ZS_OK) st = zs_frontend_logmel(fe, clip, j->feat);
    if (st == ZS_OK) st = zs_net_create_preset(&net, j->id % 2 ? "gsc-sparse-fast" : "gsc-sparse", 200 + (uint64_t)j->id);
    if (st == ZS_OK) st = zs_net_infer(net, j->feat, 1, j->out);
    if (st) snprintf(j->err, sizeof j->err, "%s", zs_last_error());
    zs_net_free(net);
    zs_frontend_free(fe);
    free(s);
    return st;
}
static void *audio_worker(void *a) {
    audio_job *j = a;
    j->st = audio_one(j);
    return NULL;
}

static void test_audio(void) {
    enum { T = 4 };
    if (access(check_data(wavs[0]), R_OK) != 0) {
        SKIP("%s not found: audio pipeline in threads not tested", check_data(wavs[0]));
        return;
    }
    audio_job *seq = calloc(T, sizeof *seq), *par = calloc(T, sizeof *par);
    for (int t = 0; t < T; t++) {
        seq[t].id = par[t].id = t;
        seq[t].st = audio_one(&seq[t]);
        CHECK(seq[t].st == ZS_OK, "sequential audio %d: %s", t, seq[t].err);
    }
    pthread_t th[T];
    for (int t = 0; t < T; t++) pthread_create(&th[t], NULL, audio_worker, &par[t]);
    for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
    for (int t = 0; t < T; t++) {
        CHECK(par[t].st == ZS_OK, "audio thread %d: %s", t, par[t].err);
        char d[96];
        CHECK(!memcmp(par[t].feat, seq[t].feat, sizeof seq[t].feat), "audio thread %d: log-mel features == sequential (%s)", t,
              first_diff(d, sizeof d, par[t].feat, seq[t].feat, ZS_N_MELS * ZS_N_FRAMES));
        CHECK(!memcmp(par[t].out, seq[t].out, sizeof seq[t].out), "audio thread %d: network output == sequential (%s)", t,
              first_diff(d, sizeof d, par[t].out, seq[t].out, K));
    }
    free(seq);
    free(par);
}

int main(void) {
    test_isa_first_call(); /* must come first: the CPU-feature cache is still empty */
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/zs_conc_XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        CHECK(0, "mkdtemp %s", tmpdir);
        return check_finish("test_concurrency");
    }
    test_errors();
    test_serving();
    test_training();
    test_loading();
    test_same_path();
    test_audio();
    rmdir(tmpdir);
    return check_finish("test_concurrency");
}
