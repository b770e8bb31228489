/* cmd_continual.c — `zeroskip continual`: catastrophic forgetting measured
 * as the continual-learning field does, on an image data set (MNIST /
 * Fashion-MNIST IDX files).
 *
 * Protocols:
 *   permuted  T tasks; task t sees every image with its pixels shuffled by a
 *             fixed permutation P_t (P_0 = identity), all 10 classes.
 *   split     5 tasks of 2 classes ({0,1}, {2,3}, ...); task-incremental:
 *             at test, the prediction is the better of the task's 2 classes.
 * Tasks are trained one after the other (zs_train, --epochs each, the same
 * SGD settings, no access to earlier tasks' data, no replay). After each
 * task the network is evaluated on every task's test images. Printed /
 * written (--csv): the accuracy matrix acc[after task][task]; summary: the
 * average accuracy over all tasks after the last one and each task's
 * forgetting (its best accuracy after any earlier task minus its final
 * accuracy).
 *
 * What it is not: a general continual-learning framework (no task
 * inference, no regularisers; see docs/CONTINUAL.md). */
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "zeroskip continual (--preset P | --arch FILE) --train IDX --test IDX\n"
    "                   [--protocol permuted|split] [--tasks T] [--epochs E] [--samples N]\n"
    "                   [--test-samples M] [--batch B] [--lr F] [--momentum F]\n"
    "                   [--weight-decay F] [--seed S] [--csv FILE]";

static uint64_t sm64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Task t's view of `src` (first `limit` samples, filtered to the task's
 * classes for split), pixels permuted by perm (NULL: identity). */
static zs_status make_task(const zs_dataset *src, int limit, const int32_t *perm, int c0, int c1,
                           zs_dataset **out) {
    int c, h, w, n = zs_dataset_size(src);
    zs_dataset_shape(src, &c, &h, &w);
    size_t D = (size_t)c * h * w;
    const float *X = zs_dataset_features_const(src);
    const int32_t *Y = zs_dataset_labels_const(src);
    int m = 0;
    for (int i = 0; i < n && m < limit; i++) m += c0 < 0 || Y[i] == c0 || Y[i] == c1;
    zs_status st = zs_dataset_create(out, m, c, h, w);
    if (st) return st;
    float *F = zs_dataset_features(*out);
    int32_t *L = zs_dataset_labels(*out);
    m = 0;
    for (int i = 0; i < n && m < limit; i++) {
        if (!(c0 < 0 || Y[i] == c0 || Y[i] == c1)) continue;
        const float *x = X + (size_t)i * D;
        float *y = F + (size_t)m * D;
        if (perm) for (size_t j = 0; j < D; j++) y[j] = x[perm[j]];
        else memcpy(y, x, sizeof(float) * D);
        L[m++] = Y[i];
    }
    return ZS_OK;
}

/* Accuracy (%) of net on data; split: the better of classes c0, c1. */
static zs_status task_acc(zs_net *net, const zs_dataset *d, int c0, int c1, double *acc) {
    int n = zs_dataset_size(d), K = zs_net_num_classes(net);
    int c, h, w;
    zs_dataset_shape(d, &c, &h, &w);
    size_t D = (size_t)c * h * w;
    float *lp = malloc(sizeof(float) * 256 * (size_t)K);
    if (!lp) return ZS_ENOMEM;
    const float *X = zs_dataset_features_const(d);
    const int32_t *Y = zs_dataset_labels_const(d);
    long ok = 0;
    for (int s = 0; s < n; s += 256) {
        int b = n - s < 256 ? n - s : 256;
        zs_status st = zs_net_infer(net, X + (size_t)s * D, b, lp);
        if (st) { free(lp); return st; }
        for (int j = 0; j < b; j++) {
            const float *p = lp + (size_t)j * K;
            int best;
            if (c0 >= 0) best = p[c1] > p[c0] ? c1 : c0;
            else { best = 0; for (int k = 1; k < K; k++) if (p[k] > p[best]) best = k; }
            ok += best == Y[s + j];
        }
    }
    free(lp);
    *acc = 100.0 * (double)ok / n;
    return ZS_OK;
}

int cmd_continual(int argc, char **argv) {
    const char *preset = NULL, *arch = NULL, *train_path = NULL, *test_path = NULL, *csv_path = NULL, *v;
    const char *protocol = "permuted";
    long tasks = 10, epochs = 1, samples = 60000, test_samples = 10000, batch = 32;
    double lr = 0.01, momentum = 0.0, wd = 0.0;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s\n\nTrain tasks one after the other and measure forgetting (docs/CONTINUAL.md).\n"
                   "  --protocol permuted (default; --tasks T, 10) or split (5 tasks x 2 classes,\n"
                   "             task-incremental evaluation)\n"
                   "  --epochs E (1) per task   --samples N (60000) training images per task\n"
                   "  --test-samples M (10000) test images per task   --batch B (32)\n"
                   "  --lr F (0.01) --momentum F (0) --weight-decay F (0): SGD, constant lr\n"
                   "  --seed S (1) weights, masks, permutations, shuffling\n"
                   "  --csv FILE  after_task,task,accuracy rows\n", USAGE);
            return EXIT_OK;
        }
#define OPT(name) ((r = cli_opt(argc, argv, &i, name, &v)) != 0)
        if (OPT("--preset")) { if (r < 0) return EXIT_USAGE; preset = v; }
        else if (OPT("--arch")) { if (r < 0) return EXIT_USAGE; arch = v; }
        else if (OPT("--train")) { if (r < 0) return EXIT_USAGE; train_path = v; }
        else if (OPT("--test")) { if (r < 0) return EXIT_USAGE; test_path = v; }
        else if (OPT("--csv")) { if (r < 0) return EXIT_USAGE; csv_path = v; }
        else if (OPT("--protocol")) { if (r < 0) return EXIT_USAGE; protocol = v; }
        else if (OPT("--tasks")) { if (r < 0 || cli_int("continual", "--tasks", v, 1, 1000, &tasks)) return EXIT_USAGE; }
        else if (OPT("--epochs")) { if (r < 0 || cli_int("continual", "--epochs", v, 1, 1000, &epochs)) return EXIT_USAGE; }
        else if (OPT("--samples")) { if (r < 0 || cli_int("continual", "--samples", v, 1, 100000000, &samples)) return EXIT_USAGE; }
        else if (OPT("--test-samples")) { if (r < 0 || cli_int("continual", "--test-samples", v, 1, 100000000, &test_samples)) return EXIT_USAGE; }
        else if (OPT("--batch")) { if (r < 0 || cli_int("continual", "--batch", v, 1, 4096, &batch)) return EXIT_USAGE; }
        else if (OPT("--lr")) { if (r < 0 || cli_float("continual", "--lr", v, 1e-6, 10, &lr)) return EXIT_USAGE; }
        else if (OPT("--momentum")) { if (r < 0 || cli_float("continual", "--momentum", v, 0, 0.999, &momentum)) return EXIT_USAGE; }
        else if (OPT("--weight-decay")) { if (r < 0 || cli_float("continual", "--weight-decay", v, 0, 1, &wd)) return EXIT_USAGE; }
        else if (OPT("--seed")) { if (r < 0 || cli_u64("continual", "--seed", v, &seed)) return EXIT_USAGE; }
        else return cli_usage("continual", USAGE, "unknown argument '%s'", argv[i]);
#undef OPT
    }
    int split = !strcmp(protocol, "split");
    if (!split && strcmp(protocol, "permuted")) return cli_usage("continual", USAGE, "--protocol is permuted or split");
    if (!!preset == !!arch) return cli_usage("continual", USAGE, "give one of --preset and --arch");
    if (!train_path || !test_path) return cli_usage("continual", USAGE, "--train and --test are required");
    if (split) tasks = 5;
    int T = (int)tasks, rc = EXIT_OK;
    zs_status st;
    zs_net *net = NULL;
    zs_dataset *tr = NULL, *te = NULL, **tt = calloc((size_t)T, sizeof *tt);
    int32_t **perm = calloc((size_t)T, sizeof *perm);
    double *acc = calloc((size_t)T * T, sizeof(double));
    FILE *csv = NULL;
    char *json = NULL;
    if (!tt || !perm || !acc) { rc = cli_fail("continual", ZS_ENOMEM); goto out; }
    if ((st = zs_dataset_load(&tr, train_path))) { rc = cli_fail_file("continual", train_path, st); goto out; }
    if ((st = zs_dataset_load(&te, test_path))) { rc = cli_fail_file("continual", test_path, st); goto out; }
    if (preset) st = zs_net_create_preset(&net, preset, seed);
    else {
        FILE *f = fopen(arch, "rb");
        long len = -1;
        if (f && !fseek(f, 0, SEEK_END)) len = ftell(f);
        if (len >= 0 && len < (1 << 24) && !fseek(f, 0, SEEK_SET) && (json = calloc((size_t)len + 1, 1)) &&
            fread(json, 1, (size_t)len, f) == (size_t)len)
            st = zs_net_create_json(&net, json, seed);
        else { if (f) fclose(f); fprintf(stderr, "zeroskip continual: %s: cannot read\n", arch); rc = EXIT_IO; goto out; }
        fclose(f);
    }
    if (st) { rc = cli_fail("continual", st); goto out; }
    if (zs_net_num_classes(net) < 10) {
        fprintf(stderr, "zeroskip continual: the network has %d outputs; the protocols need 10\n", zs_net_num_classes(net));
        rc = EXIT_FAIL;
        goto out;
    }
    int c, h, w;
    zs_dataset_shape(tr, &c, &h, &w);
    int D = c * h * w;
    uint64_t s = seed * 0x2545f4914f6cdd1dull + 7;
    for (int t = 1; t < T && !split; t++) {
        if (!(perm[t] = malloc(sizeof(int32_t) * (size_t)D))) { rc = cli_fail("continual", ZS_ENOMEM); goto out; }
        for (int j = 0; j < D; j++) perm[t][j] = j;
        for (int j = D - 1; j > 0; j--) {
            int k = (int)(sm64(&s) % (uint64_t)(j + 1));
            int32_t x = perm[t][j]; perm[t][j] = perm[t][k]; perm[t][k] = x;
        }
    }
    for (int t = 0; t < T; t++) {
        int c0 = split ? 2 * t : -1, c1 = split ? 2 * t + 1 : -1;
        if ((st = make_task(te, (int)test_samples, perm[t], c0, c1, &tt[t]))) { rc = cli_fail("continual", st); goto out; }
    }
    if (csv_path && !(csv = fopen(csv_path, "w"))) { fprintf(stderr, "zeroskip continual: %s: cannot write\n", csv_path); rc = EXIT_IO; goto out; }
    if (csv) fprintf(csv, "after_task,task,accuracy\n");
    zs_train_opts o = zs_train_defaults();
    o.batch = (int)batch;
    o.lr = (float)lr;
    o.momentum = (float)momentum;
    o.weight_decay = (float)wd;
    o.lr_gamma = 1.0f;
    o.seed = seed;
    for (int t = 0; t < T; t++) {
        zs_dataset *task = NULL;
        int c0 = split ? 2 * t : -1, c1 = split ? 2 * t + 1 : -1;
        if ((st = make_task(tr, split ? 1 << 30 : (int)samples, perm[t], c0, c1, &task))) { rc = cli_fail("continual", st); goto out; }
        o.epochs = (int)((t + 1) * epochs); /* zs_train counts epochs over the network's life */
        if (split && zs_dataset_size(task) > samples) o.max_samples = (int)samples;
        st = zs_train(net, task, NULL, &o);
        zs_dataset_free(task);
        if (st) { rc = cli_fail("continual", st); goto out; }
        double avg = 0;
        for (int j = 0; j < T; j++) {
            if ((st = task_acc(net, tt[j], split ? 2 * j : -1, split ? 2 * j + 1 : -1, &acc[(size_t)t * T + j]))) {
                rc = cli_fail("continual", st);
                goto out;
            }
            if (j <= t) avg += acc[(size_t)t * T + j];
            if (csv) fprintf(csv, "%d,%d,%.4f\n", t + 1, j + 1, acc[(size_t)t * T + j]);
        }
        printf("after task %d: task 1 %.2f %%, average over tasks 1..%d %.2f %%\n", t + 1, acc[(size_t)t * T], t + 1,
               avg / (t + 1));
        fflush(stdout);
    }
    double avg = 0, fsum = 0;
    printf("final accuracy per task:");
    for (int j = 0; j < T; j++) {
        double best = 0;
        for (int t = j; t < T - 1; t++) if (acc[(size_t)t * T + j] > best) best = acc[(size_t)t * T + j];
        double fin = acc[(size_t)(T - 1) * T + j], fg = j < T - 1 ? best - fin : 0;
        avg += fin;
        fsum += fg;
        printf(" %.2f", fin);
    }
    printf("\naverage accuracy %.2f %%, mean forgetting %.2f points (%s, %d tasks)\n", avg / T,
           T > 1 ? fsum / (T - 1) : 0.0, protocol, T);
out:
    if (csv && fclose(csv) && rc == EXIT_OK) rc = EXIT_IO;
    for (int t = 0; t < T && tt; t++) zs_dataset_free(tt[t]);
    for (int t = 0; t < T && perm; t++) free(perm[t]);
    free(tt); free(perm); free(acc); free(json);
    zs_dataset_free(tr);
    zs_dataset_free(te);
    zs_net_free(net);
    return rc;
}
