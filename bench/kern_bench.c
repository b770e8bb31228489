/*
 * kern_bench.c — quick measurement harness for the sparse kernels and the
 * inference plan (the full `zeroskip bench` with ONNX Runtime / PyTorch
 * peers lives in cli/cmd_bench.c). For each preset: useful MACs per word
 * (products of a non-zero input and a non-zero weight, counted on the
 * reference activations) vs dense MACs, per-stage time, and words/s for
 * batch 1 and 64, 1 and 2 threads (one network per thread), for every ISA,
 * next to the reference (dense oneDNN) path.
 *
 * Build and run (from the repository root):
 *   make BUILD=build-kern lib
 *   cc -O2 -Iinclude -Isrc -o build-kern/kern_bench bench/kern_bench.c build-kern/libzeroskip.a \
 *      -lcjson -ldnnl -lgomp -lsndfile -lsamplerate -lfftw3f -lz -lm -lpthread
 *   build-kern/kern_bench [--secs S] [--presets a,b,...] [--isa avx512,...] [--no-ref] [--wall]
 * Rates are words per second of THREAD CPU time (summed over threads) unless
 * --wall: the development machine is shared, and CPU time is what a
 * dedicated core would give (wall-clock figures belong to `zeroskip bench`).
 * Inputs: log-mel images of the first 64 recordings of ../shared/data/fsdd
 * when present (else random N(0,1)); networks are untrained (seeded init)
 * with BatchNorm statistics and duty cycles calibrated by 30 zero-lr SGD
 * steps on those inputs.
 */
#define _GNU_SOURCE
#include "kernels/kernels.h"
#include "kernels/plan.h"
#include "net.h"
#include "layers.h"
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NX 64

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* log-mel of up to n recordings from dir; returns how many. */
static int load_audio(float *x, int n, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    char *names[4096];
    int m = 0;
    struct dirent *e;
    while ((e = readdir(d)) && m < 4096)
        if (strstr(e->d_name, ".wav")) names[m++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)m, sizeof(char *), cmpstr);
    zs_frontend *fe = NULL;
    int got = 0;
    if (zs_frontend_create(&fe) == ZS_OK) {
        float clip[ZS_CLIP_SAMPLES];
        for (int i = 0; i < m && got < n; i++) {
            /* spread over speakers and digits */
            int j = (int)(((long)i * 37) % m);
            char path[2048];
            snprintf(path, sizeof path, "%s/%s", dir, names[j]);
            float *s = NULL;
            size_t ns = 0;
            if (zs_audio_load(path, ZS_SAMPLE_RATE, 10, &s, &ns) != ZS_OK) continue;
            zs_clip_fit(s, ns, clip);
            free(s);
            if (zs_frontend_logmel(fe, clip, x + (size_t)got * 1024) == ZS_OK) got++;
        }
        zs_frontend_free(fe);
    }
    for (int i = 0; i < m; i++) free(names[i]);
    return got;
}

static void fill_random(float *x, size_t n, uint64_t seed) {
    zs_rng r;
    zs_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        float s = 0;
        for (int j = 0; j < 4; j++) s += zs_rng_uniform(&r);
        x[i] = (s - 2.0f) * 1.7f;
    }
}

/* BN statistics and duty cycles from the inputs: zero-lr SGD steps. */
static void calibrate(zs_net *net, const float *x, int nx) {
    zs_sgd opt = {0.0f, 0.0f, 0.0f};
    int32_t y[16] = {0};
    for (int s = 0; s < 30; s++) {
        int off = (s * 16) % (nx - 15);
        zs_net_train_step(net, x + (size_t)off * 1024, y, 16, &opt, NULL, NULL);
    }
}

/* Useful and dense multiply-adds per word, averaged over samples. */
static void count_macs(zs_net *net, const float *x, int nx, double *useful, double *dense) {
    zs_net_reserve(net, 1);
    net->training = 0;
    double u = 0, d = 0;
    for (int s = 0; s < nx; s++) {
        zs_net_forward_ref(net, x + (size_t)s * 1024, 1);
        const float *in = x + (size_t)s * 1024;
        for (int i = 0; i < net->n_layers; i++) {
            zs_layer *L = &net->layers[i];
            if (L->type == ZS_CONV2D) {
                int Ci = L->in_c, H = L->in_h, W = L->in_w, Kh = L->kh, Kw = L->kw, Co = L->out_c;
                int pad = L->pad, Ho = L->out_h, Wo = L->out_w;
                d += (double)Co * Ho * Wo * L->fan_in;
                /* per (ci, ky, kx): non-zero weights over co */
                for (int ci = 0; ci < Ci; ci++)
                    for (int ky = 0; ky < Kh; ky++)
                        for (int kx = 0; kx < Kw; kx++) {
                            int cnt = 0;
                            for (int co = 0; co < Co; co++)
                                cnt += L->w[(((size_t)co * Ci + ci) * Kh + ky) * Kw + kx] != 0.0f;
                            if (!cnt) continue;
                            for (int oy = 0; oy < Ho; oy++)
                                for (int ox = 0; ox < Wo; ox++) {
                                    int iy = oy - pad + ky, ix = ox - pad + kx;
                                    if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                    if (in[((size_t)ci * H + iy) * W + ix] != 0.0f) u += cnt;
                                }
                        }
            } else if (L->type == ZS_LINEAR) {
                int I = (int)L->fan_in, O = L->out_c;
                d += (double)I * O;
                for (int ii = 0; ii < I; ii++) {
                    if (in[ii] == 0.0f) continue;
                    for (int o = 0; o < O; o++) u += L->w[(size_t)o * I + ii] != 0.0f;
                }
            }
            in = L->out;
        }
    }
    *useful = u / nx;
    *dense = d / nx;
}

typedef struct { zs_net *net; const float *x; int batch; double secs; double words, cpu_words; } job;

static void *run(void *a) {
    job *j = a;
    zs_set_threads(1); /* dense reference GEMM: one core per thread */
    float out[64 * 12];
    double t0 = now(), c0 = cpu_now(), t;
    long w = 0;
    int off = 0;
    do {
        zs_net_infer(j->net, j->x + (size_t)off * 1024, j->batch, out);
        off = (off + j->batch) % (NX - j->batch + 1);
        w += j->batch;
    } while ((t = now()) - t0 < j->secs);
    j->words = w / (t - t0);
    j->cpu_words = w / (cpu_now() - c0);
    return NULL;
}

/* words/s (median of 3) with `threads` networks in parallel threads; wall
 * clock, or per thread CPU time when cpu_based (the machine is shared: this
 * is the rate with the cores to ourselves, summed over threads). */
static int cpu_based = 1;
static double rate(zs_net **nets, int threads, const float *x, int batch, double secs) {
    double r[3];
    for (int rep = 0; rep < 3; rep++) {
        pthread_t th[8];
        job jb[8];
        for (int t = 0; t < threads; t++) {
            jb[t] = (job){nets[t], x, batch, secs / 3, 0, 0};
            pthread_create(&th[t], NULL, run, &jb[t]);
        }
        double tot = 0;
        for (int t = 0; t < threads; t++) { pthread_join(th[t], NULL); tot += cpu_based ? jb[t].cpu_words : jb[t].words; }
        r[rep] = tot;
    }
    qsort(r, 3, sizeof(double), cmpd);
    return r[1];
}

int main(int argc, char **argv) {
    double secs = 1.5;
    const char *presets = "gsc-sparse,gsc-sparse-fast,gsc-supersparse,gsc-dense";
    const char *isas = NULL;
    int do_ref = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--secs") && i + 1 < argc) secs = atof(argv[++i]);
        else if (!strcmp(argv[i], "--presets") && i + 1 < argc) presets = argv[++i];
        else if (!strcmp(argv[i], "--isa") && i + 1 < argc) isas = argv[++i];
        else if (!strcmp(argv[i], "--no-ref")) do_ref = 0;
        else if (!strcmp(argv[i], "--wall")) cpu_based = 0;
        else { fprintf(stderr, "usage: kern_bench [--secs S] [--presets a,b] [--isa x,y] [--no-ref] [--wall]\n"); return 2; }
    }
    static float x[NX * 1024];
    int na = load_audio(x, NX, "../shared/data/fsdd/recordings");
    if (na < NX) fill_random(x + (size_t)na * 1024, (size_t)(NX - na) * 1024, 99);
    printf("inputs: %d fsdd log-mel images, %d random; rates per %s\n", na, NX - na,
           cpu_based ? "thread CPU second (summed over threads)" : "wall-clock second");
    char plist[512];
    snprintf(plist, sizeof plist, "%s", presets);
    for (char *pr = strtok(plist, ","); pr; pr = strtok(NULL, ",")) {
        zs_net *nets[2] = {0};
        for (int t = 0; t < 2; t++) {
            if (zs_net_create_preset(&nets[t], pr, 1) != ZS_OK) { fprintf(stderr, "%s: %s\n", pr, zs_last_error()); return 1; }
            calibrate(nets[t], x, NX);
        }
        double useful, dense;
        count_macs(nets[0], x, 16, &useful, &dense);
        printf("\n== %s: useful MACs/word %.3f M, dense %.3f M (%.1fx fewer)\n", pr, useful / 1e6, dense / 1e6,
               dense / useful);
        for (int isa = (int)zs_isa_cpu(); isa >= 0; isa--) {
            if (isas && !strstr(isas, zs_isa_name((zs_isa)isa))) continue;
            setenv("ZS_ISA", zs_isa_name((zs_isa)isa), 1);
            for (int t = 0; t < 2; t++) {
                zs_plan_free(nets[t]);
                nets[t]->plan_unsupported = 0;
                zs_net_set_dense(nets[t], 0);
                if (zs_plan_build(nets[t]) != ZS_OK) { printf("%s: no plan: %s\n", pr, zs_last_error()); break; }
            }
            if (!nets[0]->kernels) continue;
            if (isa == (int)zs_isa_cpu()) zs_plan_describe(nets[0], stdout);
            zs_plan_profile(nets[0], x, 16, 20, stdout);
            double b1 = rate(nets, 1, x, 1, secs), b64 = rate(nets, 1, x, 64, secs);
            double b1t2 = rate(nets, 2, x, 1, secs), b64t2 = rate(nets, 2, x, 64, secs);
            printf("[%s] sparse plan words/s: batch1 1T %.0f | batch64 1T %.0f | batch1 2T %.0f | batch64 2T %.0f"
                   "  (useful GMAC/s %.2f at batch1 1T)\n",
                   zs_isa_name((zs_isa)isa), b1, b64, b1t2, b64t2, b1 * useful / 1e9);
        }
        unsetenv("ZS_ISA");
        if (do_ref) {
            for (int t = 0; t < 2; t++) zs_net_set_dense(nets[t], 1);
            zs_set_threads(1);
            double r1 = rate(nets, 1, x, 1, secs), r64 = rate(nets, 1, x, 64, secs);
            double r64t2 = rate(nets, 2, x, 64, secs);
            printf("[reference dense path] words/s: batch1 1T %.0f | batch64 1T %.0f | batch64 2T %.0f\n", r1, r64, r64t2);
        }
        zs_net_free(nets[0]);
        zs_net_free(nets[1]);
    }
    return 0;
}
