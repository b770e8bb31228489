/* cmd_bench_learn.c — `zeroskip bench --learn`: online learning steps per
 * second at batch 1 (one sample: forward + backward + SGD update +
 * duty-cycle update, zs_net_learn) for a sparse network and its dense twin,
 * in interleaved rounds (sparse, dense, sparse, dense, ...) so that load
 * changes on a shared machine hit both alike. Reported: the median over
 * rounds of each network's steps/s and the median of the per-round ratios.
 *
 * Inputs: real log-mel features with their labels
 * (bench/data/gsc_test_256.safetensors, 256 Speech Commands test clips, as
 * `zeroskip bench`), or --data F (a data set with the model's input shape),
 * or --random (deterministic pseudo-random values, labels cycling through
 * the classes). Both networks learn the same sample sequence. One thread.
 *
 * What it is not: a test. Nothing here asserts a speed. */
#include "cli.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *USAGE =
    "zeroskip bench --learn [--model M] [--dense-model D] [--seconds S] [--rounds R]\n"
    "                       [--layers N] [--lr F] [--data F | --random] [--json]";

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_s(void) { /* this thread's CPU time: what preemption does not inflate */
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A model file, or a preset name (seeded 1). */
static zs_status open_net(const char *spec, zs_net **out) {
    if (access(spec, R_OK) == 0) return zs_net_load(out, spec);
    return zs_net_create_preset(out, spec, 1);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#define POOL 256

int cmd_bench_learn(int argc, char **argv) {
    const char *spec[2] = {NULL, NULL}, *data = NULL, *v;
    double seconds = 1.0, lr = 0.001;
    long rounds = 5, layers = 2;
    int json = 0, random_in = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--learn")) continue;
        if (!strcmp(argv[i], "--json")) { json = 1; continue; }
        if (!strcmp(argv[i], "--random")) { random_in = 1; continue; }
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s\n\nLearn steps/s at batch 1 (zs_net_learn: forward, sparse backward, SGD,\n"
                   "duty cycles) of the sparse model and its dense twin, interleaved rounds.\n"
                   "  --model M (models/gsc-sparse.safetensors, else preset gsc-sparse)\n"
                   "  --dense-model D (models/gsc-dense.safetensors, else preset gsc-dense)\n"
                   "  --seconds S (1)  per network per round\n"
                   "  --rounds R (5)   interleaved rounds\n"
                   "  --layers N (2)   linear layers that learn (zs_learn_opts.layers)\n"
                   "  --lr F (0.001)   learning rate\n"
                   "  --data F         inputs and labels from a data set\n"
                   "                   (default: bench/data/gsc_test_256.safetensors when present)\n"
                   "  --random         pseudo-random inputs instead\n"
                   "  --json           one JSON object instead of the table\n", USAGE);
            return EXIT_OK;
        }
#define OPT(name) ((r = cli_opt(argc, argv, &i, name, &v)) != 0)
        if (OPT("--model")) { if (r < 0) return EXIT_USAGE; spec[0] = v; }
        else if (OPT("--dense-model")) { if (r < 0) return EXIT_USAGE; spec[1] = v; }
        else if (OPT("--data")) { if (r < 0) return EXIT_USAGE; data = v; }
        else if (OPT("--seconds")) { if (r < 0 || cli_float("bench", "--seconds", v, 0.01, 600, &seconds)) return EXIT_USAGE; }
        else if (OPT("--rounds")) { if (r < 0 || cli_int("bench", "--rounds", v, 1, 1000, &rounds)) return EXIT_USAGE; }
        else if (OPT("--layers")) { if (r < 0 || cli_int("bench", "--layers", v, 1, 16, &layers)) return EXIT_USAGE; }
        else if (OPT("--lr")) { if (r < 0 || cli_float("bench", "--lr", v, 0.0, 10.0, &lr)) return EXIT_USAGE; }
        else return cli_usage("bench", USAGE, "--learn: unknown argument '%s'", argv[i]);
#undef OPT
    }
    if (!spec[0]) spec[0] = access("models/gsc-sparse.safetensors", R_OK) == 0 ? "models/gsc-sparse.safetensors" : "gsc-sparse";
    if (!spec[1]) spec[1] = access("models/gsc-dense.safetensors", R_OK) == 0 ? "models/gsc-dense.safetensors" : "gsc-dense";
    if (data && random_in) return cli_usage("bench", USAGE, "--learn: --data and --random exclude each other");
    if (!data && !random_in && access("bench/data/gsc_test_256.safetensors", R_OK) == 0)
        data = "bench/data/gsc_test_256.safetensors";
    zs_set_threads(1);
    zs_net *net[2] = {NULL, NULL};
    zs_dataset *ds = NULL;
    float *x = NULL;
    int32_t *y = NULL;
    double *rate[2] = {NULL, NULL}, *cpu[2] = {NULL, NULL}, *ratio = NULL, *cratio = NULL;
    long steps_total[2] = {0, 0};
    int rc = EXIT_OK;
    zs_status st;
    for (int m = 0; m < 2; m++)
        if ((st = open_net(spec[m], &net[m]))) { rc = cli_fail_file("bench", spec[m], st); goto out; }
    int c, h, w, c2, h2, w2;
    zs_net_input_shape(net[0], &c, &h, &w);
    zs_net_input_shape(net[1], &c2, &h2, &w2);
    int K = zs_net_num_classes(net[0]);
    if (c != c2 || h != h2 || w != w2 || K != zs_net_num_classes(net[1])) {
        fprintf(stderr, "zeroskip bench: --learn: %s and %s differ in input shape or classes\n", spec[0], spec[1]);
        rc = EXIT_FAIL;
        goto out;
    }
    size_t insz = (size_t)c * h * w;
    x = malloc(sizeof(float) * insz * POOL);
    y = malloc(sizeof(int32_t) * POOL);
    rate[0] = calloc((size_t)rounds, sizeof(double));
    rate[1] = calloc((size_t)rounds, sizeof(double));
    ratio = calloc((size_t)rounds, sizeof(double));
    cratio = calloc((size_t)rounds, sizeof(double));
    cpu[0] = calloc((size_t)rounds, sizeof(double));
    cpu[1] = calloc((size_t)rounds, sizeof(double));
    if (!x || !y || !rate[0] || !rate[1] || !ratio || !cratio || !cpu[0] || !cpu[1]) { rc = cli_fail("bench", ZS_ENOMEM); goto out; }
    if (data) {
        if ((st = zs_dataset_load(&ds, data))) { rc = cli_fail_file("bench", data, st); goto out; }
        int dc, dh, dw, n = zs_dataset_size(ds);
        zs_dataset_shape(ds, &dc, &dh, &dw);
        if ((size_t)dc * dh * dw != insz) {
            fprintf(stderr, "zeroskip bench: %s: samples of %dx%dx%d, the model takes %dx%dx%d\n", data, dc, dh, dw, c, h, w);
            rc = EXIT_FAIL;
            goto out;
        }
        const float *F = zs_dataset_features_const(ds);
        const int32_t *Y = zs_dataset_labels_const(ds);
        for (int i = 0; i < POOL; i++) {
            memcpy(x + (size_t)i * insz, F + (size_t)(i % n) * insz, sizeof(float) * insz);
            y[i] = Y[i % n] < K ? Y[i % n] : 0;
        }
    } else {
        uint64_t s = 12345;
        for (size_t i = 0; i < insz * POOL; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            x[i] = (float)((s >> 40) & 0xffff) / 65536.0f * 4.0f - 2.0f; /* uniform in [-2, 2) */
        }
        for (int i = 0; i < POOL; i++) y[i] = i % K;
    }
    zs_learn_opts o = zs_learn_defaults();
    o.lr = (float)lr;
    o.layers = (int)layers;
    double load0 = cli_loadavg();
    /* warm-up: one step each (allocations, first-touch, kernel choice) */
    for (int m = 0; m < 2; m++)
        if ((st = zs_net_learn(net[m], x, y, 1, &o, NULL))) { rc = cli_fail_file("bench", spec[m], st); goto out; }
    for (long r = 0; r < rounds; r++) {
        for (int m = 0; m < 2; m++) {
            long n = 0;
            double t0 = now_s(), c0 = cpu_s(), t;
            do {
                int i = (int)((steps_total[m] + n) % POOL);
                if ((st = zs_net_learn(net[m], x + (size_t)i * insz, y + i, 1, &o, NULL))) {
                    rc = cli_fail_file("bench", spec[m], st);
                    goto out;
                }
                n++;
                t = now_s();
            } while (t - t0 < seconds);
            rate[m][r] = n / (t - t0);
            cpu[m][r] = 1e6 * (cpu_s() - c0) / n; /* CPU us per step */
            steps_total[m] += n;
        }
        ratio[r] = rate[0][r] / rate[1][r];
        cratio[r] = cpu[1][r] / cpu[0][r];
        if (!json)
            fprintf(stderr, "round %ld/%ld: sparse %.1f, dense %.1f steps/s (%.2fx); CPU us/step %.1f, %.1f (%.2fx)\n",
                    r + 1, rounds, rate[0][r], rate[1][r], ratio[r], cpu[0][r], cpu[1][r], cratio[r]);
    }
    double load1 = cli_loadavg();
    int ncpu = cli_online_cpus(), busy = cli_machine_busy(load0, load1, 1); /* one learning thread */
    cJSON *jr = json ? cJSON_CreateArray() : NULL, *jc = json ? cJSON_CreateArray() : NULL;
    for (long r = 0; json && r < rounds; r++) {
        cJSON_AddItemToArray(jr, cJSON_CreateNumber(ratio[r]));
        cJSON_AddItemToArray(jc, cJSON_CreateNumber(cratio[r]));
    }
    double ms = median(rate[0], (int)rounds), md = median(rate[1], (int)rounds), mr = median(ratio, (int)rounds);
    double cs = median(cpu[0], (int)rounds), cd = median(cpu[1], (int)rounds), mcr = median(cratio, (int)rounds);
    if (json) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "bench", "learn");
        cJSON_AddStringToObject(j, "sparse_model", spec[0]);
        cJSON_AddStringToObject(j, "dense_model", spec[1]);
        cJSON_AddStringToObject(j, "inputs", data ? data : "random");
        cJSON_AddNumberToObject(j, "batch", 1);
        cJSON_AddNumberToObject(j, "layers", (double)layers);
        cJSON_AddNumberToObject(j, "rounds", (double)rounds);
        cJSON_AddNumberToObject(j, "seconds", seconds);
        cJSON_AddStringToObject(j, "isa", zs_isa_name(zs_isa_active()));
        cJSON_AddNumberToObject(j, "sparse_steps_per_s", ms);
        cJSON_AddNumberToObject(j, "dense_steps_per_s", md);
        cJSON_AddNumberToObject(j, "ratio_median", mr);
        cJSON_AddNumberToObject(j, "sparse_cpu_us_per_step", cs);
        cJSON_AddNumberToObject(j, "dense_cpu_us_per_step", cd);
        cJSON_AddNumberToObject(j, "cpu_ratio_median", mcr);
        cJSON_AddItemToObject(j, "round_ratios", jr);
        cJSON_AddItemToObject(j, "round_cpu_ratios", jc);
        cJSON_AddNumberToObject(j, "loadavg_start", load0);
        cJSON_AddNumberToObject(j, "loadavg_end", load1);
        cJSON_AddNumberToObject(j, "cpus", ncpu);
        char *s = cJSON_PrintUnformatted(j);
        if (s) puts(s);
        free(s);
        cJSON_Delete(j);
    } else {
        printf("learn steps/s at batch 1 (zs_net_learn, %ld linear layers learn, 1 thread, %s), median of %ld rounds;\n"
               "inputs: %s\n", layers, zs_isa_name(zs_isa_active()), rounds, data ? data : "pseudo-random (--random)");
        printf("  sparse  %-40s %10.1f steps/s  (%.3f ms/step, %.1f CPU us/step)\n", spec[0], ms, 1e3 / ms, cs);
        printf("  dense   %-40s %10.1f steps/s  (%.3f ms/step, %.1f CPU us/step)\n", spec[1], md, 1e3 / md, cd);
        printf("  sparse / dense (median of per-round ratios) %.2fx wall, %.2fx CPU time\n", mr, mcr);
        printf("load average (1 min): %.2f at start, %.2f at end, on %d CPUs\n", load0, load1, ncpu);
        if (busy)
            printf("WARNING: the machine was busy: absolute steps/s are low; the interleaved ratios are the "
                   "figures to trust\n");
    }
out:
    zs_dataset_free(ds);
    zs_net_free(net[0]);
    zs_net_free(net[1]);
    free(x); free(y); free(rate[0]); free(rate[1]); free(ratio); free(cratio); free(cpu[0]); free(cpu[1]);
    return rc;
}
