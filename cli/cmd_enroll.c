/* cmd_enroll.c — `zeroskip enroll`: teach a model a new word from a few
 * clips, keeping its old classes.
 *
 * How: the output layer grows by one class whose weights are imprinted from
 * the clips (zs_net_add_class), then a few epochs of online learning
 * (zs_net_learn: sparse SGD on the top linear layers, convolutions and
 * BatchNorm frozen) on the clips, each mini-batch mixed with as many
 * replayed old-class examples drawn from a budget of --replay-n examples
 * of --replay DATA (the model's own data set, say), and with the clips of
 * other words in --negatives (learned as --negative-class). Without
 * --replay only the new word's output row learns by default
 * (zs_learn_opts.only_class): the old classes' logits are untouched and they
 * lose only the inputs the new word now wins. The model is written
 * atomically to OUT. */
#include "cli.h"
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *USAGE =
    "zeroskip enroll --model IN --word NAME --out OUT [--replay DATA] [--replay-n N]\n"
    "                [--negatives LIST] [--negative-class C] [--epochs E] [--lr F]\n"
    "                [--layers N] [--seed S] CLIP...";

static const char *HELP =
    "Add the word NAME to a model from a handful of clips (5-20), keeping\n"
    "every old class. Prints a one-line JSON summary.\n"
    "  --model IN       the model (safetensors)\n"
    "  --word NAME      the new class (must not exist yet)\n"
    "  --out OUT        where to write the grown model (atomic)\n"
    "  --replay DATA    a data set of old-class examples (labels named as the\n"
    "                   model's classes) replayed while learning\n"
    "  --replay-n N (200) replay budget: examples drawn from DATA\n"
    "  --negatives LIST clips of other words (a text file, one path a line),\n"
    "                   learned as --negative-class alongside the new word\n"
    "  --negative-class C (unknown) the old class the negatives belong to\n"
    "  --epochs E (20)  passes over the clips\n"
    "  --lr F (0.01)    learning rate\n"
    "  --layers N       linear layers that learn; 1 (default without --replay):\n"
    "                   only the new word's output row, so every old class's\n"
    "                   logits stay exactly as they were; 2 (default with\n"
    "                   --replay): the hidden layer too\n"
    "  --seed S (1)     order of the clips and the replay draw\n";

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

int cmd_enroll(int argc, char **argv) {
    const char *model_path = NULL, *word = NULL, *out_path = NULL, *replay_path = NULL, *v;
    const char *neg_path = NULL, *neg_class = "unknown";
    long replay_n = 200, epochs = 20, layers = 0;
    double lr = 0.01;
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
        else if (OPT("--negative-class")) { BAD(r < 0); neg_class = v; }
        else if (OPT("--replay-n")) { BAD(r < 0 || cli_int("enroll", "--replay-n", v, 1, 1000000, &replay_n)); }
        else if (OPT("--epochs")) { BAD(r < 0 || cli_int("enroll", "--epochs", v, 1, 10000, &epochs)); }
        else if (OPT("--layers")) { BAD(r < 0 || cli_int("enroll", "--layers", v, 1, 16, &layers)); }
        else if (OPT("--lr")) { BAD(r < 0 || cli_float("enroll", "--lr", v, 1e-6, 10.0, &lr)); }
        else if (OPT("--seed")) { BAD(r < 0 || cli_u64("enroll", "--seed", v, &seed)); }
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
    if (!layers) layers = replay_path ? 2 : 1;

    zs_net *net = NULL;
    zs_frontend *fe = NULL;
    zs_dataset *rep = NULL;
    float *X = NULL, *xb = NULL, *rx = NULL;
    int32_t *ry = NULL, *yb = NULL, *order = NULL;
    int nrep = 0, nneg = 0;
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
    X = malloc(sizeof(float) * FEAT * (size_t)nclips);
    if (!X || (st = zs_frontend_create(&fe))) { rc = cli_fail("enroll", st ? st : ZS_ENOMEM); goto done; }
    for (int i = 0; i < nclips; i++) {
        float *x = NULL, clip[ZS_CLIP_SAMPLES];
        size_t n = 0;
        st = zs_audio_load(clips[i], ZS_SAMPLE_RATE, 30.0, &x, &n);
        if (st == ZS_OK) {
            zs_clip_fit_centred(x, n, clip);
            free(x);
            st = zs_frontend_logmel(fe, clip, X + (size_t)i * FEAT);
        }
        if (st) { rc = cli_fail_file("enroll", clips[i], st); goto done; }
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
        rx = malloc(sizeof(float) * FEAT * (size_t)replay_n);
        ry = malloc(sizeof(int32_t) * (size_t)replay_n);
        if (!rx || !ry) { free(map); rc = cli_fail("enroll", ZS_ENOMEM); goto done; }
        const float *F = zs_dataset_features_const(rep);
        for (int i = 0; i < N && nrep < replay_n; i++) {
            int k = map[Y[order[i]]];
            if (k < 0) continue;
            memcpy(rx + (size_t)nrep * FEAT, F + (size_t)order[i] * FEAT, sizeof(float) * FEAT);
            ry[nrep++] = k;
        }
        free(map);
        free(order);
        order = NULL;
        zs_dataset_free(rep);
        rep = NULL;
    }
    if (neg_path) {
        int yk = -1;
        for (int k = 0; k < K; k++) if (!strcmp(zs_net_class_name(net, k), neg_class)) yk = k;
        if (yk < 0) {
            fprintf(stderr, "zeroskip enroll: %s has no class '%s' (--negative-class)\n", model_path, neg_class);
            rc = EXIT_FAIL;
            goto done;
        }
        FILE *lf = fopen(neg_path, "r");
        if (!lf) { fprintf(stderr, "zeroskip enroll: %s: cannot open\n", neg_path); rc = EXIT_IO; goto done; }
        char line[4096];
        while (fgets(line, sizeof line, lf)) {
            size_t n = strlen(line);
            while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
            if (!n) continue;
            float *nx = realloc(rx, sizeof(float) * FEAT * (size_t)(nrep + 1));
            int32_t *ny = realloc(ry, sizeof(int32_t) * (size_t)(nrep + 1));
            if (nx) rx = nx;
            if (ny) ry = ny;
            if (!nx || !ny) { fclose(lf); rc = cli_fail("enroll", ZS_ENOMEM); goto done; }
            float *x = NULL, clip[ZS_CLIP_SAMPLES];
            size_t ns = 0;
            st = zs_audio_load(line, ZS_SAMPLE_RATE, 30.0, &x, &ns);
            if (st == ZS_OK) {
                zs_clip_fit_centred(x, ns, clip);
                free(x);
                st = zs_frontend_logmel(fe, clip, rx + (size_t)nrep * FEAT);
            }
            if (st) { fclose(lf); rc = cli_fail_file("enroll", line, st); goto done; }
            ry[nrep++] = yk;
            nneg++;
        }
        fclose(lf);
        /* interleave negatives with the replayed examples */
        for (int i = nrep - 1; i > 0; i--) {
            int j = (int)(rng_next(&seed) % (uint64_t)(i + 1));
            int32_t t = ry[i]; ry[i] = ry[j]; ry[j] = t;
            float tmp[FEAT];
            memcpy(tmp, rx + (size_t)i * FEAT, sizeof tmp);
            memcpy(rx + (size_t)i * FEAT, rx + (size_t)j * FEAT, sizeof tmp);
            memcpy(rx + (size_t)j * FEAT, tmp, sizeof tmp);
        }
    }
    if ((st = zs_net_add_class(net, word, X, nclips))) { rc = cli_fail("enroll", st); goto done; }
    zs_learn_opts o = zs_learn_defaults();
    o.lr = (float)lr;
    o.layers = (int)layers;
    if (layers == 1) o.only_class = K; /* old classes' logits stay exactly as they were */
    int B = 4; /* new-word clips per step, each step also replays B old examples */
    xb = malloc(sizeof(float) * FEAT * 2 * (size_t)B);
    yb = malloc(sizeof(int32_t) * 2 * (size_t)B);
    order = malloc(sizeof(int32_t) * (size_t)nclips);
    if (!xb || !yb || !order) { rc = cli_fail("enroll", ZS_ENOMEM); goto done; }
    for (int i = 0; i < nclips; i++) order[i] = i;
    uint64_t s = seed;
    int r = 0, steps = 0;
    float loss = 0;
    for (long e = 0; e < epochs; e++) {
        for (int i = nclips - 1; i > 0; i--) {
            int j = (int)(rng_next(&s) % (uint64_t)(i + 1));
            int32_t t = order[i]; order[i] = order[j]; order[j] = t;
        }
        for (int i = 0; i < nclips; i += B) {
            int b = 0;
            for (int j = i; j < nclips && j < i + B; j++, b++) {
                memcpy(xb + (size_t)b * FEAT, X + (size_t)order[j] * FEAT, sizeof(float) * FEAT);
                yb[b] = K;
            }
            for (int j = 0, nb = b; j < nb && nrep; j++, b++) {
                memcpy(xb + (size_t)b * FEAT, rx + (size_t)r * FEAT, sizeof(float) * FEAT);
                yb[b] = ry[r];
                r = (r + 1) % nrep;
            }
            if ((st = zs_net_learn(net, xb, yb, b, &o, &loss))) { rc = cli_fail("enroll", st); goto done; }
            steps++;
        }
    }
    /* how many clips the grown model now calls NAME */
    int hits = 0;
    float lp[ZS_MAX_CLASSES + 1];
    for (int i = 0; i < nclips; i++) {
        if ((st = zs_net_infer(net, X + (size_t)i * FEAT, 1, lp))) { rc = cli_fail("enroll", st); goto done; }
        int best = 0;
        for (int k = 1; k <= K; k++) if (lp[k] > lp[best]) best = k;
        hits += best == K;
    }
    if ((st = zs_net_save(net, out_path))) { rc = cli_fail_file("enroll", out_path, st); goto done; }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "word", word);
    cJSON_AddNumberToObject(j, "clips", nclips);
    cJSON_AddNumberToObject(j, "clips_recognised", hits);
    cJSON_AddNumberToObject(j, "replayed", nrep - nneg);
    cJSON_AddNumberToObject(j, "negatives", nneg);
    cJSON_AddNumberToObject(j, "layers", (double)layers);
    cJSON_AddNumberToObject(j, "epochs", (double)epochs);
    cJSON_AddNumberToObject(j, "steps", steps);
    cJSON_AddNumberToObject(j, "last_loss", loss);
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
    free(X); free(xb); free(yb); free(rx); free(ry); free(order);
    free(clips);
    return rc;
}
