/* cmd_enroll.c — `zeroskip enroll`: teach a model a new word from a few
 * clips, keeping its old classes.
 *
 * How (docs/CONTINUAL.md, "Keyword enrollment on real clips"): the output
 * layer grows by one class whose row is imprinted from the clips
 * (zs_net_add_class); then only that row and its bias are fitted
 * (zs_net_fit_class) on the output layer's inputs of
 *   - the clips, each also as 8 augmented copies (speed 0.92 / 1.08 x time
 *     shift -100 / 0 / +100 ms), grouped by clip for the cross-validation;
 *   - --negatives: clips of other words (ideally by the same speakers);
 *   - --replay: --replay-n examples of the model's own data set, with
 *     their labels, learned against; the rest of it is the calibration set
 *     of the cap.
 * The bias lets about --recall of the clips' cross-validated scores through,
 * but at most --max-old of the replayed examples the model classified
 * right may be called NAME. Every old class's logits stay exactly as they
 * were. The model is written atomically to OUT. */
#include "cli.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *USAGE =
    "zeroskip enroll --model IN --word NAME --out OUT [--replay DATA] [--replay-n N]\n"
    "                [--negatives LIST] [--recall R] [--max-old F] [--no-augment]\n"
    "                [--neg-weight F] [--iters N] [--lr F] [--l2 F] [--seed S] CLIP...";

static const char *HELP =
    "Add the word NAME to a model from a handful of clips (5-20), keeping\n"
    "every old class's logits exactly as they were. Prints a one-line JSON\n"
    "summary.\n"
    "  --model IN       the model (safetensors)\n"
    "  --word NAME      the new class (must not exist yet)\n"
    "  --out OUT        where to write the grown model (atomic)\n"
    "  --replay DATA    a data set of old-class examples (labels named as the\n"
    "                   model's classes): --replay-n of them (drawn at random)\n"
    "                   are learned against, the others are the calibration\n"
    "                   set of --max-old (without it nothing caps the bias)\n"
    "  --replay-n N (1000) examples of DATA learned against\n"
    "  --negatives LIST clips of other words (a text file, one path a line),\n"
    "                   learned against; best by the speakers of the CLIPs\n"
    "  --recall R (0.99) the bias lets this fraction of the clips'\n"
    "                   cross-validated scores through ...\n"
    "  --max-old F (0.003) ... unless more than this fraction of the\n"
    "                   calibration examples the model classifies right would\n"
    "                   be called NAME\n"
    "  --neg-weight F (0.5) share of the negatives' loss on the --negatives\n"
    "                   clips (the rest on the replayed examples)\n"
    "  --no-augment     learn from the clips only (default: each clip also as\n"
    "                   8 copies, speed 0.92/1.08 x shift -100/0/+100 ms)\n"
    "  --iters N (300), --lr F (0.5), --l2 F (0.03)  the row's fit\n"
    "  --seed S (1)     the replay draw\n";

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t rng_next(uint64_t *s) { /* splitmix64 */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#define FEAT (ZS_N_MELS * ZS_N_FRAMES)
#define NAUG 9
static const double SPEED[NAUG] = {1, 1, 1, 0.92, 0.92, 0.92, 1.08, 1.08, 1.08};
static const int SHIFT[NAUG] = {0, -1600, 1600, 0, -1600, 1600, 0, -1600, 1600};

/* A grown array of examples (features + label + group). */
typedef struct ex_set {
    float *x;
    int32_t *y, *g;
    int n, cap;
} ex_set;

static zs_status ex_room(ex_set *e, int more) {
    if (e->n + more <= e->cap) return ZS_OK;
    int cap = e->cap ? e->cap : 256;
    while (cap < e->n + more) cap *= 2;
    float *x = realloc(e->x, sizeof(float) * FEAT * (size_t)cap);
    if (x) e->x = x;
    int32_t *y = realloc(e->y, sizeof(int32_t) * (size_t)cap);
    if (y) e->y = y;
    int32_t *g = realloc(e->g, sizeof(int32_t) * (size_t)cap);
    if (g) e->g = g;
    if (!x || !y || !g) return ZS_ENOMEM;
    e->cap = cap;
    return ZS_OK;
}

/* The features of `path` (its centred clip, as listen computes them), and
 * with `aug` its augmented copies after them: *count examples at e. */
static zs_status clip_features(zs_frontend *fe, const char *path, int aug, int32_t label, int32_t group, ex_set *e) {
    float *x = NULL, clip[ZS_CLIP_SAMPLES], shifted[ZS_CLIP_SAMPLES];
    size_t n = 0;
    zs_status st = zs_audio_load(path, ZS_SAMPLE_RATE, 30.0, &x, &n);
    if (st) return st;
    int na = aug ? NAUG : 1;
    if ((st = ex_room(e, na))) { free(x); return st; }
    for (int a = 0; a < na && st == ZS_OK; a++) {
        float *y = x;
        size_t ny = n;
        if (SPEED[a] != 1) /* played as if recorded at SPEED x the rate */
            st = zs_audio_resample(x, n, (int)lround(ZS_SAMPLE_RATE * SPEED[a]), ZS_SAMPLE_RATE, &y, &ny);
        if (st) break;
        zs_clip_fit_centred(y, ny, clip);
        if (y != x) free(y);
        int s = SHIFT[a];
        for (int i = 0; i < ZS_CLIP_SAMPLES; i++) {
            int j = i - s;
            shifted[i] = j >= 0 && j < ZS_CLIP_SAMPLES ? clip[j] : 0.0f;
        }
        st = zs_frontend_logmel(fe, shifted, e->x + (size_t)e->n * FEAT);
        if (st == ZS_OK) {
            e->y[e->n] = label;
            e->g[e->n++] = group;
        }
    }
    free(x);
    return st;
}

int cmd_enroll(int argc, char **argv) {
    const char *model_path = NULL, *word = NULL, *out_path = NULL, *replay_path = NULL, *neg_path = NULL, *v;
    long replay_n = 1000, iters = -1;
    double recall = -1, max_old = -2, lr = -1, l2 = -1, neg_weight = -1;
    int augment = 1;
    uint64_t seed = 1;
    int nclips = 0;
    char **clips = calloc((size_t)argc + 1, sizeof(char *));
    if (!clips) return EXIT_FAIL;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s\n\n%s", USAGE, HELP);
            free(clips);
            return EXIT_OK;
        }
#define OPT(name) ((r = cli_opt(argc, argv, &i, name, &v)) != 0)
#define BAD(cond) do { if (cond) { free(clips); return EXIT_USAGE; } } while (0)
        if (OPT("--model")) { BAD(r < 0); model_path = v; }
        else if (OPT("--word")) { BAD(r < 0); word = v; }
        else if (OPT("--out")) { BAD(r < 0); out_path = v; }
        else if (OPT("--replay")) { BAD(r < 0); replay_path = v; }
        else if (OPT("--negatives")) { BAD(r < 0); neg_path = v; }
        else if (OPT("--replay-n")) { BAD(r < 0 || cli_int("enroll", "--replay-n", v, 1, 1000000, &replay_n)); }
        else if (OPT("--iters")) { BAD(r < 0 || cli_int("enroll", "--iters", v, 0, 100000, &iters)); }
        else if (OPT("--recall")) { BAD(r < 0 || cli_float("enroll", "--recall", v, 1e-3, 1.0, &recall)); }
        else if (OPT("--max-old")) { BAD(r < 0 || cli_float("enroll", "--max-old", v, 0.0, 1.0, &max_old)); }
        else if (OPT("--lr")) { BAD(r < 0 || cli_float("enroll", "--lr", v, 0.0, 100.0, &lr)); }
        else if (OPT("--neg-weight")) { BAD(r < 0 || cli_float("enroll", "--neg-weight", v, 0.0, 1.0, &neg_weight)); }
        else if (OPT("--l2")) { BAD(r < 0 || cli_float("enroll", "--l2", v, 0.0, 100.0, &l2)); }
        else if (OPT("--seed")) { BAD(r < 0 || cli_u64("enroll", "--seed", v, &seed)); }
        else if (!strcmp(argv[i], "--no-augment")) {
            BAD(!augment && cli_usage("enroll", USAGE, "--no-augment given twice"));
            augment = 0;
        }
        else if (argv[i][0] == '-' && argv[i][1]) {
            free(clips);
            return cli_usage("enroll", USAGE, "unknown option '%s'", argv[i]);
        } else clips[nclips++] = argv[i];
#undef BAD
#undef OPT
    }
    int rc = EXIT_OK;
    if (!model_path || !word || !out_path) rc = cli_usage("enroll", USAGE, "--model, --word and --out are required");
    else if (!nclips) rc = cli_usage("enroll", USAGE, "give the CLIPs of the new word");
    else if (!*word || strlen(word) > 255) rc = cli_usage("enroll", USAGE, "--word must have 1 to 255 bytes");
    if (rc != EXIT_OK) { free(clips); return rc; }

    zs_net *net = NULL;
    zs_frontend *fe = NULL;
    zs_dataset *rep = NULL;
    ex_set E = {0}, C = {0};
    int32_t *order = NULL;
    int nrep = 0, nneg = 0, npos = 0;
    double t0 = now_s();
    zs_status st = zs_net_load(&net, model_path);
    if (st) { rc = cli_fail_file("enroll", model_path, st); goto done; }
    int c, h, w;
    zs_net_input_shape(net, &c, &h, &w);
    if (c != 1 || h != ZS_N_MELS || w != ZS_N_FRAMES) {
        fprintf(stderr, "zeroskip enroll: %s: the model takes (%d, %d, %d), the audio front end gives (1, %d, %d)\n",
                model_path, c, h, w, ZS_N_MELS, ZS_N_FRAMES);
        rc = EXIT_FAIL;
        goto done;
    }
    int K = zs_net_num_classes(net);
    for (int k = 0; k < K; k++)
        if (!strcmp(zs_net_class_name(net, k), word)) {
            fprintf(stderr, "zeroskip enroll: %s already has a class '%s'\n", model_path, word);
            rc = EXIT_FAIL;
            goto done;
        }
    if (nclips < 5) fprintf(stderr, "zeroskip enroll: warning: %d clips; 5 to 20 work best\n", nclips);
    if ((st = zs_frontend_create(&fe))) { rc = cli_fail("enroll", st); goto done; }
    /* the clips first (their unaugmented copy first), then negatives, replay */
    for (int i = 0; i < nclips; i++)
        if ((st = clip_features(fe, clips[i], augment, K, i, &E))) { rc = cli_fail_file("enroll", clips[i], st); goto done; }
    npos = E.n;
    if (neg_path) {
        FILE *lf = fopen(neg_path, "r");
        if (!lf) { fprintf(stderr, "zeroskip enroll: %s: cannot open\n", neg_path); rc = EXIT_IO; goto done; }
        char line[4096];
        while (fgets(line, sizeof line, lf)) {
            size_t n = strlen(line);
            while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
            if (!n) continue;
            if ((st = clip_features(fe, line, 0, -1, -1, &E))) { fclose(lf); rc = cli_fail_file("enroll", line, st); goto done; }
            nneg++;
        }
        fclose(lf);
    }
    /* the replay budget: replay_n examples of the model's old classes */
    if (replay_path) {
        if ((st = zs_dataset_load(&rep, replay_path))) { rc = cli_fail_file("enroll", replay_path, st); goto done; }
        int dc, dh, dw, N = zs_dataset_size(rep);
        zs_dataset_shape(rep, &dc, &dh, &dw);
        if (dc * dh * dw != FEAT) {
            fprintf(stderr, "zeroskip enroll: %s: examples of %dx%dx%d, the model takes 1x%dx%d\n", replay_path, dc, dh,
                    dw, ZS_N_MELS, ZS_N_FRAMES);
            rc = EXIT_FAIL;
            goto done;
        }
        int *map = malloc(sizeof(int) * (size_t)zs_dataset_num_classes(rep));
        order = malloc(sizeof(int32_t) * (size_t)N);
        if (!map || !order) { free(map); rc = cli_fail("enroll", ZS_ENOMEM); goto done; }
        for (int j = 0; j < zs_dataset_num_classes(rep); j++) {
            const char *nm = zs_dataset_class_name(rep, j);
            map[j] = -1;
            for (int k = 0; k < K && nm; k++) if (!strcmp(zs_net_class_name(net, k), nm)) map[j] = k;
            if (!nm && j < K) map[j] = j; /* unnamed labels: the model's order */
        }
        const int32_t *Y = zs_dataset_labels_const(rep);
        for (int i = 0; i < N; i++) order[i] = i;
        uint64_t s = seed ^ 0xabcdefull;
        for (int i = N - 1; i > 0; i--) {
            int j = (int)(rng_next(&s) % (uint64_t)(i + 1));
            int32_t t = order[i]; order[i] = order[j]; order[j] = t;
        }
        const float *F = zs_dataset_features_const(rep);
        for (int i = 0; i < N; i++) { /* replay_n to learn against, the rest to calibrate */
            int k = map[Y[order[i]]];
            if (k < 0) continue;
            ex_set *S = nrep < replay_n ? &E : &C;
            if ((st = ex_room(S, 1))) { free(map); rc = cli_fail("enroll", st); goto done; }
            memcpy(S->x + (size_t)S->n * FEAT, F + (size_t)order[i] * FEAT, sizeof(float) * FEAT);
            S->y[S->n] = k;
            S->g[S->n++] = -1;
            if (S == &E) nrep++;
        }
        free(map);
        zs_dataset_free(rep);
        rep = NULL;
    }
    if (!nneg && !nrep) {
        fprintf(stderr, "zeroskip enroll: give --negatives or --replay: the new word needs other sounds to be told from\n");
        rc = EXIT_USAGE;
        goto done;
    }
    /* imprint from the unaugmented clips, then fit the row */
    {
        float *X = malloc(sizeof(float) * FEAT * (size_t)nclips);
        if (!X) { rc = cli_fail("enroll", ZS_ENOMEM); goto done; }
        for (int i = 0, j = 0; i < npos; i++)
            if (i == 0 || E.g[i] != E.g[i - 1]) memcpy(X + (size_t)j++ * FEAT, E.x + (size_t)i * FEAT, sizeof(float) * FEAT);
        st = zs_net_add_class(net, word, X, nclips);
        free(X);
        if (st) { rc = cli_fail("enroll", st); goto done; }
    }
    zs_fit_class_opts fo = zs_fit_class_defaults();
    if (iters >= 0) fo.iters = (int)iters;
    if (recall > 0) fo.recall = (float)recall;
    if (max_old >= 0) fo.max_old = (float)max_old;
    if (lr >= 0) fo.lr = (float)lr;
    if (l2 >= 0) fo.l2 = (float)l2;
    if (neg_weight >= 0) fo.old_weight = (float)(1.0 - neg_weight);
    zs_fit_class_report fr;
    if ((st = zs_net_fit_class(net, K, E.x, E.y, E.g, E.n, C.x, C.y, C.n, &fo, &fr))) { rc = cli_fail("enroll", st); goto done; }
    /* how many of the clips (unaugmented) the grown model now calls NAME */
    int hits = 0;
    float lp[ZS_MAX_CLASSES + 1];
    for (int i = 0; i < npos; i++) {
        if (i && E.g[i] == E.g[i - 1]) continue;
        if ((st = zs_net_infer(net, E.x + (size_t)i * FEAT, 1, lp))) { rc = cli_fail("enroll", st); goto done; }
        int best = 0;
        for (int k = 1; k <= K; k++) if (lp[k] > lp[best]) best = k;
        hits += best == K;
    }
    if ((st = zs_net_save(net, out_path))) { rc = cli_fail_file("enroll", out_path, st); goto done; }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "word", word);
    cJSON_AddNumberToObject(j, "clips", nclips);
    cJSON_AddNumberToObject(j, "clips_recognised", hits);
    cJSON_AddNumberToObject(j, "positives", npos);
    cJSON_AddNumberToObject(j, "negatives", nneg);
    cJSON_AddNumberToObject(j, "replayed", nrep);
    cJSON_AddNumberToObject(j, "bias", fr.bias);
    cJSON_AddNumberToObject(j, "bias_recall", fr.bias_recall);
    if (isfinite(fr.bias_cap)) cJSON_AddNumberToObject(j, "bias_cap", fr.bias_cap);
    cJSON_AddNumberToObject(j, "calibration", C.n);
    cJSON_AddNumberToObject(j, "calibration_right", fr.n_cal);
    cJSON_AddNumberToObject(j, "calibration_right_called", fr.cal_called);
    cJSON_AddNumberToObject(j, "positives_called", fr.pos_called);
    cJSON_AddNumberToObject(j, "negatives_called", fr.neg_called);
    cJSON_AddNumberToObject(j, "classes", K + 1);
    cJSON_AddNumberToObject(j, "seconds", now_s() - t0);
    cJSON_AddStringToObject(j, "out", out_path);
    char *js = cJSON_PrintUnformatted(j);
    if (js) puts(js);
    free(js);
    cJSON_Delete(j);
done:
    zs_dataset_free(rep);
    zs_frontend_free(fe);
    zs_net_free(net);
    free(E.x); free(E.y); free(E.g); free(C.x); free(C.y); free(C.g); free(order);
    free(clips);
    return rc;
}
