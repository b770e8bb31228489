/* cmd_continual.c — `zeroskip continual`: catastrophic forgetting measured
 * as the continual-learning field does, on an image data set (MNIST /
 * Fashion-MNIST IDX files).
 *
 * Protocols:
 *   permuted  T tasks; task t sees every image with its pixels shuffled by a
 *             fixed permutation P_t (P_0 = identity), all 10 classes.
 *   split     5 tasks of 2 classes ({0,1}, {2,3}, ...); task-incremental:
 *             at test, the prediction is the better of the task's 2 classes
 *             (--task-id given: the image's task; inferred: the task of the
 *             nearest prototype). --head shared trains one 10-way softmax
 *             on the current task's images; --head task masks the output to
 *             the current task's 2 classes (the loss's softmax runs over
 *             them only: one head per task on a shared output layer).
 * Inputs are standardised (the training set's pixel mean and standard
 * deviation). Tasks are trained one after the other (--epochs each, Adam or
 * plain SGD at a constant rate, no access to earlier tasks' data, no
 * replay) on a
 * continual-learning MLP (zs_cl_*): --model dense (ReLU), sparse (sparse
 * weights + k-WTA) or dendrites (sparse + k-WTA + active dendrites whose
 * context is the mean training input of the task, the task's prototype; at
 * test each image gets the context of the nearest prototype among the
 * tasks seen so far), each optionally with synaptic intelligence (--si C).
 * After each
 * task the network is evaluated on every task's test images. Printed /
 * written (--csv): the accuracy matrix acc[after task][task]; summary: the
 * average accuracy over all tasks after the last one and each task's
 * forgetting (its best accuracy after any earlier task minus its final
 * accuracy).
 *
 * What it is not: a general continual-learning framework (see
 * docs/CONTINUAL.md for the protocol and results). */
#include "cli.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "zeroskip continual --train IDX --test IDX [--model dense|sparse|dendrites] [--si C]\n"
    "                   [--protocol permuted|split] [--tasks T] [--epochs E] [--samples N]\n"
    "                   [--test-samples M] [--batch B] [--lr F] [--hidden H] [--sparsity F]\n"
    "                   [--percent-on F] [--segments S] [--optimizer sgd|adam] [--seed S]\n"
    "                   [--head shared|task] [--task-id given|inferred] [--context nearest|given]\n"
    "                   [--eval all|seen] [--csv FILE]";

static uint64_t sm64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct task {
    int n, c0, c1;        /* split: the task's classes; permuted: -1     */
    float *x;             /* (n, D)                                        */
    int32_t *y;
    int32_t *near;        /* test: the nearest prototype so far (n)        */
    double *d2;           /* test: its squared distance (n)                */
    int upto;             /* test: prototypes measured so far              */
} task;

/* Task view of a data set: the first `limit` samples of the task's classes,
 * pixels permuted by perm (NULL: identity). */
static int make_task(task *t, const zs_dataset *src, int limit, const int32_t *perm, int c0, int c1) {
    int c, h, w, n = zs_dataset_size(src);
    zs_dataset_shape(src, &c, &h, &w);
    size_t D = (size_t)c * h * w;
    const float *X = zs_dataset_features_const(src);
    const int32_t *Y = zs_dataset_labels_const(src);
    int m = 0;
    for (int i = 0; i < n && m < limit; i++) m += c0 < 0 || Y[i] == c0 || Y[i] == c1;
    t->n = m; t->c0 = c0; t->c1 = c1;
    t->x = malloc(sizeof(float) * D * (size_t)(m ? m : 1));
    t->y = malloc(sizeof(int32_t) * (size_t)(m ? m : 1));
    t->near = malloc(sizeof(int32_t) * (size_t)(m ? m : 1));
    t->d2 = malloc(sizeof(double) * (size_t)(m ? m : 1));
    if (!t->x || !t->y || !t->near || !t->d2) return -1;
    m = 0;
    for (int i = 0; i < n && m < t->n; i++) {
        if (!(c0 < 0 || Y[i] == c0 || Y[i] == c1)) continue;
        const float *x = X + (size_t)i * D;
        float *y = t->x + (size_t)m * D;
        if (perm) for (size_t j = 0; j < D; j++) y[j] = x[perm[j]];
        else memcpy(y, x, sizeof(float) * D);
        t->y[m++] = Y[i];
    }
    return 0;
}

int cmd_continual(int argc, char **argv) {
    const char *train_path = NULL, *test_path = NULL, *csv_path = NULL, *model = "dense", *protocol = "permuted",
               *optim = "adam", *head = "shared", *taskid = "given", *context = "nearest", *evalw = "all", *v;
    long tasks = 10, epochs = 1, samples = 60000, test_samples = 10000, batch = 32, hidden = 512, segments = -1;
    double lr = -1, si = 0, sparsity = -1, pon = -1;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s\n\nTrain tasks one after the other and measure forgetting (docs/CONTINUAL.md).\n"
                   "  --model dense (ReLU) | sparse (50 %% zero weights, k-WTA 5 %%) |\n"
                   "          dendrites (sparse + active dendrites, one segment per task,\n"
                   "          context = the task's mean (standardised) input, its\n"
                   "          prototype; at test, the nearest prototype's)\n"
                   "  --si C (0)   synaptic intelligence strength (0: off)\n"
                   "  --protocol permuted (default; --tasks T, 10) or split (5 tasks x 2\n"
                   "               classes, task-incremental evaluation)\n"
                   "  --head shared (default: one 10-way softmax) | task (split: the loss\n"
                   "               over the current task's classes only)\n"
                   "  --task-id given (default) | inferred (split: the test prediction\n"
                   "               among the classes of the image's task, or of the task\n"
                   "               of the nearest prototype)\n"
                   "  --context nearest (default) | given: the dendrites' context at test,\n"
                   "               the nearest prototype's or the image's own task's\n"
                   "  --epochs E (1) per task   --samples N (60000) training images per task\n"
                   "  --test-samples M (10000) per task   --batch B (32)\n"
                   "  --optimizer adam (default) | sgd   --lr F (adam 0.001, sgd 0.05)\n"
                   "  --hidden H (512) units per hidden layer (2 layers)\n"
                   "  --sparsity F, --percent-on F, --segments S: override the model's\n"
                   "  --seed S (1) weights, masks, permutations, shuffling\n"
                   "  --eval all (default: after each task, every task's test images) |\n"
                   "          seen (the tasks trained so far only: what the average and the\n"
                   "          forgetting read; the CSV then has no rows for later tasks)\n"
                   "  --csv FILE  after_task,task,accuracy rows\n"
                   "Inputs are standardised with the training set's pixel mean and\n"
                   "standard deviation (one of each).\n", USAGE);
            return EXIT_OK;
        }
#define OPT(name) ((r = cli_opt(argc, argv, &i, name, &v)) != 0)
#define NUM(name, lo, hi, out) else if (OPT(name)) { if (r < 0 || cli_int("continual", name, v, lo, hi, out)) return EXIT_USAGE; }
#define FLT(name, lo, hi, out) else if (OPT(name)) { if (r < 0 || cli_float("continual", name, v, lo, hi, out)) return EXIT_USAGE; }
        if (OPT("--train")) { if (r < 0) return EXIT_USAGE; train_path = v; }
        else if (OPT("--test")) { if (r < 0) return EXIT_USAGE; test_path = v; }
        else if (OPT("--csv")) { if (r < 0) return EXIT_USAGE; csv_path = v; }
        else if (OPT("--protocol")) { if (r < 0) return EXIT_USAGE; protocol = v; }
        else if (OPT("--model")) { if (r < 0) return EXIT_USAGE; model = v; }
        else if (OPT("--optimizer")) { if (r < 0) return EXIT_USAGE; optim = v; }
        else if (OPT("--head")) { if (r < 0) return EXIT_USAGE; head = v; }
        else if (OPT("--task-id")) { if (r < 0) return EXIT_USAGE; taskid = v; }
        else if (OPT("--context")) { if (r < 0) return EXIT_USAGE; context = v; }
        else if (OPT("--eval")) { if (r < 0) return EXIT_USAGE; evalw = v; }
        NUM("--tasks", 1, 1000, &tasks)
        NUM("--epochs", 1, 1000, &epochs)
        NUM("--samples", 1, 100000000, &samples)
        NUM("--test-samples", 1, 100000000, &test_samples)
        NUM("--batch", 1, 4096, &batch)
        NUM("--hidden", 1, 65536, &hidden)
        NUM("--segments", 0, 1024, &segments)
        FLT("--lr", 1e-6, 10, &lr)
        FLT("--si", 0, 1e6, &si)
        FLT("--sparsity", 0, 0.99, &sparsity)
        FLT("--percent-on", 0, 1, &pon)
        else if (OPT("--seed")) { if (r < 0 || cli_u64("continual", "--seed", v, &seed)) return EXIT_USAGE; }
        else return cli_usage("continual", USAGE, "unknown argument '%s'", argv[i]);
#undef FLT
#undef NUM
#undef OPT
    }
    int split = !strcmp(protocol, "split");
    if (!split && strcmp(protocol, "permuted")) return cli_usage("continual", USAGE, "--protocol is permuted or split");
    int kind = !strcmp(model, "dense") ? 0 : !strcmp(model, "sparse") ? 1 : !strcmp(model, "dendrites") ? 2 : -1;
    if (kind < 0) return cli_usage("continual", USAGE, "--model is dense, sparse or dendrites");
    int task_head = !strcmp(head, "task"), infer_id = !strcmp(taskid, "inferred");
    if (!task_head && strcmp(head, "shared")) return cli_usage("continual", USAGE, "--head is shared or task");
    if (!infer_id && strcmp(taskid, "given")) return cli_usage("continual", USAGE, "--task-id is given or inferred");
    if ((task_head || infer_id) && !split)
        return cli_usage("continual", USAGE, "--head task and --task-id inferred need --protocol split");
    int ctx_given = !strcmp(context, "given");
    if (!ctx_given && strcmp(context, "nearest")) return cli_usage("continual", USAGE, "--context is nearest or given");
    int seen_only = !strcmp(evalw, "seen");
    if (!seen_only && strcmp(evalw, "all")) return cli_usage("continual", USAGE, "--eval is all or seen");
    int adam = !strcmp(optim, "adam");
    if (!adam && strcmp(optim, "sgd")) return cli_usage("continual", USAGE, "--optimizer is adam or sgd");
    if (lr < 0) lr = adam ? 0.001 : 0.05;
    if (!train_path || !test_path) return cli_usage("continual", USAGE, "--train and --test are required");
    int orc = cli_check_output("continual", USAGE, "--csv", csv_path, 0);
    if (orc) return orc;
    if (split) tasks = 5;
    int T = (int)tasks, rc = EXIT_OK;
    zs_status st;
    zs_cl *net = NULL;
    zs_dataset *tr = NULL, *te = NULL;
    task *ttr = calloc((size_t)T, sizeof *ttr), *tte = calloc((size_t)T, sizeof *tte);
    int32_t **perm = calloc((size_t)T, sizeof *perm), *order = NULL, *cid = NULL, *yb = NULL;
    double *acc = calloc((size_t)T * T, sizeof(double));
    float *proto = NULL, *xb = NULL, *lg = NULL;
    FILE *csv = NULL;
    if (!ttr || !tte || !perm || !acc) { rc = cli_fail("continual", ZS_ENOMEM); goto out; }
    if ((st = zs_dataset_load(&tr, train_path))) { rc = cli_fail_file("continual", train_path, st); goto out; }
    if ((st = zs_dataset_load(&te, test_path))) { rc = cli_fail_file("continual", test_path, st); goto out; }
    int c, h, w;
    zs_dataset_shape(tr, &c, &h, &w);
    int D = c * h * w;
    zs_cl_opts o = zs_cl_defaults();
    o.inputs = D;
    o.hidden = (int)hidden;
    o.classes = 10;
    o.weight_sparsity = kind ? 0.5f : 0.0f;
    o.percent_on = kind ? 0.05f : 0.0f;
    o.segments = kind == 2 ? T : 0;
    if (sparsity >= 0) o.weight_sparsity = (float)sparsity;
    if (pon >= 0) o.percent_on = (float)pon;
    if (segments >= 0) o.segments = (int)segments;
    o.si_c = (float)si;
    o.adam = adam;
    o.seed = seed;
    if ((st = zs_cl_create(&net, &o))) { rc = cli_fail("continual", st); goto out; }
    printf("%s, %d tasks: %s MLP, %d x %d hidden units, %.0f %% of the weights zero, %s, %d segments per unit, "
           "%s lr %g, batch %ld, %ld epochs of %ld images per task%s\n",
           protocol, T, model, o.layers, o.hidden, 100.0 * o.weight_sparsity,
           o.percent_on > 0 ? "k-WTA" : "ReLU", o.segments, adam ? "Adam" : "SGD", lr, batch, epochs, samples,
           si > 0 ? ", SI" : "");
    uint64_t s = seed * 0x2545f4914f6cdd1dull + 7;
    for (int t = 1; t < T && !split; t++) {
        if (!(perm[t] = malloc(sizeof(int32_t) * (size_t)D))) { rc = cli_fail("continual", ZS_ENOMEM); goto out; }
        for (int j = 0; j < D; j++) perm[t][j] = j;
        for (int j = D - 1; j > 0; j--) {
            int k = (int)(sm64(&s) % (uint64_t)(j + 1));
            int32_t x = perm[t][j]; perm[t][j] = perm[t][k]; perm[t][k] = x;
        }
    }
    /* standardise every pixel with the training set's mean and standard
     * deviation (one scalar each, as is usual for MNIST-style data): the
     * prototypes of permuted tasks are then nearly orthogonal, so the
     * dendritic segments can tell the tasks apart */
    {
        float *X = zs_dataset_features(tr), *Xt = zs_dataset_features(te);
        size_t nx = (size_t)zs_dataset_size(tr) * D, nt = (size_t)zs_dataset_size(te) * D;
        double s1 = 0, s2 = 0;
        for (size_t j = 0; j < nx; j++) { s1 += X[j]; s2 += (double)X[j] * X[j]; }
        double mu = nx ? s1 / nx : 0, sd = nx ? sqrt(s2 / nx - mu * mu) : 1;
        if (!(sd > 1e-12)) sd = 1;
        for (size_t j = 0; j < nx; j++) X[j] = (float)((X[j] - mu) / sd);
        for (size_t j = 0; j < nt; j++) Xt[j] = (float)((Xt[j] - mu) / sd);
    }
    long maxn = 0;
    for (int t = 0; t < T; t++) {
        int c0 = split ? 2 * t : -1, c1 = split ? 2 * t + 1 : -1;
        if (make_task(&ttr[t], tr, (int)samples, perm[t], c0, c1) || make_task(&tte[t], te, (int)test_samples, perm[t], c0, c1)) {
            rc = cli_fail("continual", ZS_ENOMEM);
            goto out;
        }
        if (ttr[t].n > maxn) maxn = ttr[t].n;
        if (tte[t].n > maxn) maxn = tte[t].n;
    }
    zs_dataset_free(tr); tr = NULL;
    zs_dataset_free(te); te = NULL;
    proto = calloc((size_t)T * D, sizeof(float));
    order = malloc(sizeof(int32_t) * (size_t)maxn);
    cid = malloc(sizeof(int32_t) * (size_t)maxn);
    xb = malloc(sizeof(float) * (size_t)batch * D);
    yb = malloc(sizeof(int32_t) * (size_t)batch);
    lg = malloc(sizeof(float) * (size_t)maxn * 10);
    if (!proto || !order || !cid || !xb || !yb || !lg) { rc = cli_fail("continual", ZS_ENOMEM); goto out; }
    if (csv_path && !(csv = fopen(csv_path, "w"))) { fprintf(stderr, "zeroskip continual: %s: cannot write\n", csv_path); rc = EXIT_IO; goto out; }
    if (csv) fprintf(csv, "after_task,task,accuracy\n");
    uint64_t sh = seed ^ 0x51ed27ull;
    for (int t = 0; t < T; t++) {
        task *k = &ttr[t];
        float *pt = proto + (size_t)t * D;
        for (int i = 0; i < k->n; i++)
            for (int j = 0; j < D; j++) pt[j] += k->x[(size_t)i * D + j];
        /* the dendrites read the prototype itself */
        for (int j = 0; j < D; j++) pt[j] /= (float)(k->n ? k->n : 1);
        if (task_head) {
            uint8_t act[10] = {0};
            act[k->c0] = act[k->c1] = 1;
            if ((st = zs_cl_set_classes(net, act))) { rc = cli_fail("continual", st); goto out; }
        }
        for (long e = 0; e < epochs; e++) {
            for (int i = 0; i < k->n; i++) order[i] = i;
            for (int i = k->n - 1; i > 0; i--) {
                int j = (int)(sm64(&sh) % (uint64_t)(i + 1));
                int32_t x = order[i]; order[i] = order[j]; order[j] = x;
            }
            for (int i = 0; i < k->n; i += (int)batch) {
                int b = k->n - i < batch ? k->n - i : (int)batch;
                for (int j = 0; j < b; j++) {
                    memcpy(xb + (size_t)j * D, k->x + (size_t)order[i + j] * D, sizeof(float) * D);
                    yb[j] = k->y[order[i + j]];
                }
                if ((st = zs_cl_train_step(net, xb, yb, b, o.segments ? pt : NULL, (float)lr, NULL))) {
                    rc = cli_fail("continual", st);
                    goto out;
                }
            }
        }
        zs_cl_task_end(net);
        double avg = 0;
        long ctx_ok = 0, ctx_n = 0;
        for (int j = 0; j < (seen_only ? t + 1 : T); j++) {
            task *q = &tte[j];
            /* context (and inferred task): the nearest prototype among the
             * tasks seen so far; the distances to the prototypes measured at
             * earlier evaluations are kept, so only the new ones are
             * measured (lowest index on ties) */
            for (int i = 0; i < q->n && (o.segments || infer_id); i++) {
                const float *x = q->x + (size_t)i * D;
                for (int p = q->upto; p <= t; p++) {
                    const float *pp = proto + (size_t)p * D;
                    double d2 = 0;
                    for (int jj = 0; jj < D; jj++) d2 += (double)(x[jj] - pp[jj]) * (x[jj] - pp[jj]);
                    if (p == 0 || d2 < q->d2[i]) { q->d2[i] = d2; q->near[i] = p; }
                }
                cid[i] = q->near[i];
                if (j <= t) { ctx_ok += cid[i] == j; ctx_n++; }
            }
            q->upto = t + 1;
            /* the image's own task as the dendrites' context: the tasks seen
             * so far only (an unseen task's images keep the nearest one) */
            for (int i = 0; i < q->n && ctx_given && j <= t; i++) cid[i] = j;
            if ((st = zs_cl_infer(net, q->x, q->n, o.segments ? proto : NULL, o.segments ? t + 1 : 0,
                                  o.segments ? cid : NULL, lg))) {
                rc = cli_fail("continual", st);
                goto out;
            }
            long ok = 0;
            for (int i = 0; i < q->n; i++) {
                const float *z = lg + (size_t)i * 10;
                int best;
                if (split) {
                    int c0 = infer_id ? 2 * q->near[i] : q->c0, c1 = c0 + 1;
                    best = z[c1] > z[c0] ? c1 : c0;
                }
                else { best = 0; for (int kk = 1; kk < 10; kk++) if (z[kk] > z[best]) best = kk; }
                ok += best == q->y[i];
            }
            acc[(size_t)t * T + j] = 100.0 * (double)ok / (q->n ? q->n : 1);
            if (j <= t) avg += acc[(size_t)t * T + j];
            if (csv) fprintf(csv, "%d,%d,%.4f\n", t + 1, j + 1, acc[(size_t)t * T + j]);
        }
        printf("after task %d: task 1 %.2f %%, average over tasks 1..%d %.2f %%", t + 1, acc[(size_t)t * T], t + 1,
               avg / (t + 1));
        if (o.segments && ctx_given) printf(", context given (the nearest prototype's task right %.2f %%)", 100.0 * ctx_ok / (ctx_n ? ctx_n : 1));
        else if (o.segments) printf(", context inferred right %.2f %%", 100.0 * ctx_ok / (ctx_n ? ctx_n : 1));
        else if (infer_id) printf(", task inferred right %.2f %%", 100.0 * ctx_ok / (ctx_n ? ctx_n : 1));
        printf("\n");
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
    printf("\naverage accuracy %.2f %%, mean forgetting %.2f points (%s, %s%s, %d tasks%s%s)\n", avg / T,
           T > 1 ? fsum / (T - 1) : 0.0, protocol, model, si > 0 ? " + SI" : "", T,
           split ? (task_head ? ", task head" : ", shared head") : "",
           split ? (infer_id ? ", task inferred at test" : ", task given at test") : "");
out:
    if (csv && fclose(csv) && rc == EXIT_OK) rc = EXIT_IO;
    for (int t = 0; t < T && ttr; t++) { free(ttr[t].x); free(ttr[t].y); free(ttr[t].near); free(ttr[t].d2); }
    for (int t = 0; t < T && tte; t++) { free(tte[t].x); free(tte[t].y); free(tte[t].near); free(tte[t].d2); }
    for (int t = 0; t < T && perm; t++) free(perm[t]);
    free(ttr); free(tte); free(perm); free(acc); free(proto); free(order); free(cid); free(xb); free(yb); free(lg);
    zs_dataset_free(tr);
    zs_dataset_free(te);
    zs_cl_free(net);
    return rc;
}
