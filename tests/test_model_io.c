/* test_model_io.c — the model file format: sparse layers stored packed (kept
 * values + indices, fixed and CSR forms), old dense + mask files still
 * loading, bit-identical round trips (weights, masks, state, momentum,
 * outputs; the shipped models on real clips), and malformed packed files
 * refused with a message naming the tensor. */
#include "check.h"
#include "net.h"
#include "safetensors.h"
#include "zeroskip.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];

static const char *tmp(const char *name) {
    static char buf[4][600];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static zs_layer *find(zs_net *net, const char *name) {
    for (int i = 0; i < net->n_layers; i++)
        if (!strcmp(net->layers[i].name, name)) return &net->layers[i];
    return NULL;
}

static void fill_random(float *x, size_t n, unsigned seed) {
    zs_rng r;
    zs_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = 2.0f * zs_rng_uniform(&r) - 1.0f;
}

/* Everything a load must restore, compared bit for bit. */
static int same_net(const zs_net *ca, const zs_net *cb, int momentum) {
    /* a loaded model is packed: compare the dense form */
    zs_net *a = (zs_net *)ca, *b = (zs_net *)cb;
    if (zs_net_unpack(a) || zs_net_unpack(b)) return 0;
    if (momentum && (zs_net_train_alloc(a) || zs_net_train_alloc(b))) return 0;
    return a->n_params == b->n_params && a->n_state == b->n_state && a->n_masks == b->n_masks &&
           !memcmp(a->params, b->params, sizeof(float) * a->n_params) &&
           !memcmp(a->state, b->state, sizeof(float) * a->n_state) && !memcmp(a->masks, b->masks, a->n_masks) &&
           (!momentum || !memcmp(a->moment, b->moment, sizeof(float) * a->n_params));
}

/* Outputs of both networks on n inputs, sparse plan and dense path. */
static int same_outputs(zs_net *a, zs_net *b, const float *x, int n) {
    int K = zs_net_num_classes(a), ok = 1;
    float *la = malloc(sizeof(float) * (size_t)n * K), *lb = malloc(sizeof(float) * (size_t)n * K);
    for (int dense = 0; dense < 2 && ok; dense++) {
        zs_net_set_dense(a, dense);
        zs_net_set_dense(b, dense);
        ok = zs_net_infer(a, x, n, la) == ZS_OK && zs_net_infer(b, x, n, lb) == ZS_OK &&
             !memcmp(la, lb, sizeof(float) * (size_t)n * K);
    }
    zs_net_set_dense(a, 0);
    zs_net_set_dense(b, 0);
    free(la);
    free(lb);
    return ok;
}

static const zs_st_tensor *file_tensor(zs_st_file *f, const char *path, const char *name) {
    zs_st_free(f);
    if (zs_st_read(f, path, (size_t)1 << 30) != ZS_OK) return NULL;
    return zs_st_find(f, name);
}

/* Write a masked layer in the old form (dense weight + mask) next to the
 * rest of a packed file's tensors: what files written before the packed
 * format hold. */
static zs_status write_legacy(const char *packed_path, zs_net *net, const char *out) {
    zs_st_file f;
    zs_status st = zs_st_read(&f, packed_path, (size_t)1 << 30);
    if (st) return st;
    zs_st_writer *w = NULL;
    if ((st = zs_st_writer_create(&w))) { zs_st_free(&f); return st; }
    for (int i = 0; i < f.n_tensors && !st; i++) {
        const zs_st_tensor *t = &f.tensors[i];
        const char *dot = strstr(t->name, ".weight_");
        if (!dot) { st = zs_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data); continue; }
        if (!strstr(t->name, ".weight_values") || strstr(t->name, ".momentum")) continue;
        char lname[96], nm[128];
        snprintf(lname, sizeof lname, "%.*s", (int)(dot - t->name), t->name);
        zs_layer *L = find(net, lname);
        int64_t sh[4] = {L->out_c, L->in_c, L->kh, L->kw};
        int nd = 4;
        if (L->type == ZS_LINEAR) { sh[1] = (int64_t)L->fan_in; nd = 2; }
        snprintf(nm, sizeof nm, "%s.weight", lname);
        st = zs_st_writer_add(w, nm, ZS_ST_F32, nd, sh, L->w);
        snprintf(nm, sizeof nm, "%s.mask", lname);
        if (!st) st = zs_st_writer_add(w, nm, ZS_ST_U8, nd, sh, L->mask);
    }
    for (int i = 0; i < f.n_meta && !st; i++) st = zs_st_writer_meta(w, f.meta_keys[i], f.meta_vals[i]);
    if (!st) st = zs_st_writer_save(w, out);
    zs_st_writer_free(w);
    zs_st_free(&f);
    return st;
}

static void test_packed_round_trip(void) {
    zs_net *a = NULL, *b = NULL, *c = NULL;
    CHECK(zs_net_create_preset(&a, "gsc-sparse", 3) == ZS_OK, "create: %s", zs_last_error());
    if (!a) return;
    enum { N = 4 };
    float *x = malloc(sizeof(float) * N * 1024);
    int32_t y[N] = {1, 2, 7, 11};
    fill_random(x, N * 1024, 9);
    zs_sgd sgd = {0.01f, 0.9f, 0.01f};
    CHECK(zs_net_train_step(a, x, y, N, &sgd, NULL, NULL) == ZS_OK, "train step: %s", zs_last_error());
    const char *p = tmp("packed.st"), *legacy = tmp("legacy.st");
    CHECK(zs_net_save(a, p) == ZS_OK, "save: %s", zs_last_error());
    zs_st_file f;
    memset(&f, 0, sizeof f);
    const zs_st_tensor *t = file_tensor(&f, p, "cnn2.weight_values");
    CHECK(t && t->dtype == ZS_ST_F32 && t->ndim == 2 && t->shape[0] == 64 && t->shape[1] == 320,
          "cnn2.weight_values is F32 [64, 320]");
    t = zs_st_find(&f, "linear.weight_index");
    CHECK(t && t->dtype == ZS_ST_U16 && t->ndim == 2 && t->shape[0] == 1000 && t->shape[1] == 160,
          "linear.weight_index is U16 [1000, 160]");
    CHECK(!zs_st_find(&f, "linear.weight") && !zs_st_find(&f, "linear.mask") && !zs_st_find(&f, "cnn1.mask") &&
              !zs_st_find(&f, "linear.weight_rowptr"), "no dense weight, mask or row pointer for packed layers");
    CHECK(zs_st_find(&f, "output.weight") != NULL, "the dense output layer stays dense");
    zs_st_free(&f);
    CHECK(zs_net_load(&b, p) == ZS_OK, "load packed: %s", zs_last_error());
    if (b) {
        CHECK(same_net(a, b, 0), "packed round trip: weights, masks, BN/duty state bit-identical");
        CHECK(same_outputs(a, b, x, N), "packed round trip: identical outputs (sparse and dense paths)");
        /* the same network in the old form loads to the same bits */
        CHECK(write_legacy(p, b, legacy) == ZS_OK, "write old-form file: %s", zs_last_error());
        CHECK(zs_net_load(&c, legacy) == ZS_OK, "old dense + mask form loads: %s", zs_last_error());
        if (c) CHECK(same_net(b, c, 0) && same_outputs(b, c, x, N), "old form and packed form load identically");
        /* and re-saving packs it again, byte for byte */
        const char *p2 = tmp("repacked.st");
        if (c) CHECK(zs_net_save(c, p2) == ZS_OK, "re-save: %s", zs_last_error());
        void *d1 = NULL, *d2 = NULL;
        size_t s1 = 0, s2 = 0;
        CHECK(zs_read_file(p, 1 << 30, &d1, &s1) == ZS_OK && zs_read_file(p2, 1 << 30, &d2, &s2) == ZS_OK &&
                  s1 == s2 && !memcmp(d1, d2, s1), "old form -> save == packed file, byte for byte");
        free(d1);
        free(d2);
    }
    zs_net_free(c);
    c = NULL;

    /* CSR form: a unit that keeps a different number of weights */
    zs_layer *L = find(a, "linear");
    size_t k = 0;
    while (!L->mask[k]) k++;
    L->mask[k] = 0;
    L->w[k] = 0.0f;
    L->mask[L->fan_in + (k == 0 ? 1 : 0)] = 1; /* unit 1 gains one (may already hold it: then 160 or 161) */
    const char *pc = tmp("csr.st");
    CHECK(zs_net_save(a, pc) == ZS_OK, "save CSR: %s", zs_last_error());
    t = file_tensor(&f, pc, "linear.weight_rowptr");
    CHECK(t && t->dtype == ZS_ST_I32 && t->ndim == 1 && t->shape[0] == 1001, "linear.weight_rowptr I32 [1001]");
    t = zs_st_find(&f, "linear.weight_values");
    CHECK(t && t->ndim == 1, "CSR values are 1-D");
    CHECK(zs_st_find(&f, "cnn2.weight_rowptr") == NULL, "uniform layers keep the fixed form");
    zs_st_free(&f);
    CHECK(zs_net_load(&c, pc) == ZS_OK, "load CSR: %s", zs_last_error());
    if (c) CHECK(same_net(a, c, 0) && same_outputs(a, c, x, N), "CSR round trip bit-identical");
    zs_net_free(c);
    c = NULL;

    /* checkpoints: momentum (packed or dense) restored bit for bit */
    const char *ck = tmp("ck.st");
    CHECK(zs_net_save_checkpoint(a, ck) == ZS_OK, "save checkpoint: %s", zs_last_error());
    CHECK(zs_net_load(&c, ck) == ZS_OK, "load checkpoint: %s", zs_last_error());
    if (c) CHECK(same_net(a, c, 1), "checkpoint round trip: momentum bit-identical too");
    zs_net_free(c);
    c = NULL;
    /* momentum zero off the mask is stored packed */
    for (int i = 0; i < a->n_layers; i++) {
        zs_layer *M = &a->layers[i];
        if (M->mask)
            for (size_t j = 0; j < M->n_weights; j++)
                if (!M->mask[j]) M->mw[j] = 0.0f;
    }
    CHECK(zs_net_save_checkpoint(a, ck) == ZS_OK, "save checkpoint 2: %s", zs_last_error());
    t = file_tensor(&f, ck, "cnn2.weight_values.momentum");
    CHECK(t && t->ndim == 2 && t->shape[1] == 320 && !zs_st_find(&f, "cnn2.weight.momentum"),
          "momentum stored packed when zero off the mask");
    CHECK(zs_st_find(&f, "linear.weight_values.momentum") && zs_st_find(&f, "linear.weight_values.momentum")->ndim == 1,
          "CSR layer: packed momentum is 1-D like its values");
    zs_st_free(&f);
    CHECK(zs_net_load(&c, ck) == ZS_OK, "load checkpoint 2: %s", zs_last_error());
    if (c) CHECK(same_net(a, c, 1), "packed momentum round trip bit-identical");
    zs_net_free(c);
    zs_net_free(b);
    zs_net_free(a);
    free(x);
}

/* ---- malformed packed files ---- */

typedef struct edit {
    const char *name;  /* tensor to replace, drop or add */
    int drop;
    zs_st_dtype dt;
    int ndim;
    int64_t shape[2];
    const void *data;
} edit;

/* The tensors of `f` with one edit applied, as a file in memory. */
static zs_status rewrite(const zs_st_file *f, const edit *e, void **out, size_t *size) {
    zs_st_writer *w = NULL;
    zs_status st = zs_st_writer_create(&w);
    int done = 0;
    for (int i = 0; i < f->n_tensors && !st; i++) {
        const zs_st_tensor *t = &f->tensors[i];
        if (!strcmp(t->name, e->name)) {
            done = 1;
            if (!e->drop) st = zs_st_writer_add(w, e->name, e->dt, e->ndim, e->shape, e->data);
        } else {
            st = zs_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data);
        }
    }
    if (!done && !e->drop && !st) st = zs_st_writer_add(w, e->name, e->dt, e->ndim, e->shape, e->data);
    for (int i = 0; i < f->n_meta && !st; i++) st = zs_st_writer_meta(w, f->meta_keys[i], f->meta_vals[i]);
    if (!st) st = zs_st_writer_to_mem(w, out, size);
    zs_st_writer_free(w);
    return st;
}

#define TINY "{\"name\":\"tiny\",\"input\":[1,4,4],\"layers\":[" \
    "{\"type\":\"conv2d\",\"name\":\"c1\",\"out_channels\":3,\"kernel\":3,\"weight_sparsity\":0.5}," \
    "{\"type\":\"flatten\",\"name\":\"flat\"}," \
    "{\"type\":\"linear\",\"name\":\"l1\",\"out_features\":5,\"weight_sparsity\":0.5}," \
    "{\"type\":\"linear\",\"name\":\"out\",\"out_features\":2}," \
    "{\"type\":\"logsoftmax\",\"name\":\"sm\"}]}"

static void test_malformed(void) {
    zs_net *net = NULL;
    CHECK(zs_net_create_json(&net, TINY, 5) == ZS_OK, "tiny net: %s", zs_last_error());
    if (!net) return;
    zs_layer *l1 = find(net, "l1");
    CHECK(l1->fan_in == 12 && l1->nnz_per_unit == 6, "l1: fan_in 12, keeps 6");
    const char *p = tmp("tiny.st");
    CHECK(zs_net_save(net, p) == ZS_OK, "save tiny: %s", zs_last_error());
    zs_st_file f;
    if (zs_st_read(&f, p, 1 << 20) != ZS_OK) { CHECK(0, "read tiny: %s", zs_last_error()); zs_net_free(net); return; }
    const zs_st_tensor *ti = zs_st_find(&f, "l1.weight_index");
    CHECK(ti && ti->dtype == ZS_ST_U16 && ti->numel == 30, "tiny l1.weight_index U16 [5, 6]");
    if (!ti) { zs_st_free(&f); zs_net_free(net); return; }
    uint16_t idx[30], bad[30];
    memcpy(idx, ti->data, sizeof idx);
    float vals[30], nanv[30];
    memcpy(vals, zs_st_find(&f, "l1.weight_values")->data, sizeof vals);
    memcpy(nanv, vals, sizeof nanv);
    nanv[7] = 0.0f / 0.0f;
    int32_t idx32[30], rp_bad[6] = {0, 6, 12, 11, 24, 30}, rp_short[6] = {0, 6, 12, 18, 24, 29};
    for (int i = 0; i < 30; i++) idx32[i] = idx[i];
    int64_t idx64[30];
    for (int i = 0; i < 30; i++) idx64[i] = idx[i];
    float dense[60] = {0};
    uint8_t mask[60] = {0};

    struct { const char *what; edit e; int patch; uint16_t val; zs_status st; const char *needle; } cases[] = {
        {"index out of range", {"l1.weight_index", 0, ZS_ST_U16, 2, {5, 6}, bad}, 5, 12, ZS_EFORMAT, "'l1.weight_index'"},
        {"index not ascending", {"l1.weight_index", 0, ZS_ST_U16, 2, {5, 6}, bad}, 1, 0xFFFF, ZS_EFORMAT, "'l1.weight_index'"},
        {"values of the wrong shape", {"l1.weight_values", 0, ZS_ST_F32, 2, {5, 5}, vals}, -1, 0, ZS_ESHAPE, "'l1.weight_values'"},
        {"count off the architecture", {"l1.weight_values", 0, ZS_ST_F32, 2, {6, 5}, vals}, -1, 0, ZS_ESHAPE, "'l1.weight_values'"},
        {"index dtype I64", {"l1.weight_index", 0, ZS_ST_I64, 2, {5, 6}, idx64}, -1, 0, ZS_ESHAPE, "'l1.weight_index'"},
        {"index missing", {"l1.weight_index", 1, 0, 0, {0, 0}, NULL}, -1, 0, ZS_EFORMAT, "'l1.weight_index'"},
        {"values missing", {"l1.weight_values", 1, 0, 0, {0, 0}, NULL}, -1, 0, ZS_EFORMAT, "'l1.weight_values'"},
        {"both packed and dense", {"l1.weight", 0, ZS_ST_F32, 2, {5, 12}, dense}, -1, 0, ZS_EFORMAT, "'l1.weight'"},
        {"stray mask beside packed", {"l1.mask", 0, ZS_ST_U8, 2, {5, 12}, mask}, -1, 0, ZS_EFORMAT, "'l1.mask'"},
        {"row pointer not monotone", {"l1.weight_rowptr", 0, ZS_ST_I32, 1, {6, 0}, rp_bad}, -1, 0, ZS_ESHAPE, "l1.weight_"},
        {"row pointer total off", {"l1.weight_rowptr", 0, ZS_ST_I32, 1, {6, 0}, rp_short}, -1, 0, ZS_ESHAPE, "l1.weight_"},
        {"packed tensors on a dense layer", {"out.weight_values", 0, ZS_ST_F32, 2, {2, 5}, vals}, -1, 0, ZS_EFORMAT, "'out.weight_values'"},
        {"packed momentum without a checkpoint", {"l1.weight_values.momentum", 0, ZS_ST_F32, 2, {5, 6}, vals}, -1, 0, ZS_EFORMAT, "'l1.weight_values.momentum'"},
        {"NaN among the kept values", {"l1.weight_values", 0, ZS_ST_F32, 2, {5, 6}, nanv}, -1, 0, ZS_ENUMERIC, "NaN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(bad, idx, sizeof bad);
        if (cases[i].patch >= 0) bad[cases[i].patch] = cases[i].val == 0xFFFF ? bad[0] : cases[i].val;
        void *d = NULL;
        size_t n = 0;
        zs_status st = rewrite(&f, &cases[i].e, &d, &n);
        CHECK(st == ZS_OK, "%s: rewrite: %s", cases[i].what, zs_last_error());
        zs_net *m = NULL;
        st = zs_net_load_mem(&m, d, n);
        CHECK(st == cases[i].st && m == NULL && strstr(zs_last_error(), cases[i].needle),
              "%s: refused (%s, want %s) with '%s' in: %s", cases[i].what, zs_status_str(st),
              zs_status_str(cases[i].st), cases[i].needle, zs_last_error());
        zs_net_free(m);
        free(d);
    }
    /* an I32 index is accepted as well as U16 */
    {
        edit e = {"l1.weight_index", 0, ZS_ST_I32, 2, {5, 6}, idx32};
        void *d = NULL;
        size_t n = 0;
        zs_net *m = NULL;
        CHECK(rewrite(&f, &e, &d, &n) == ZS_OK && zs_net_load_mem(&m, d, n) == ZS_OK && same_net(net, m, 0),
              "I32 indices load the same network: %s", zs_last_error());
        zs_net_free(m);
        free(d);
    }
    zs_st_free(&f);

    /* A small packed file may not declare a huge network (bounded before
     * allocation): 1000 x 65536 weights keeping 1 per unit. */
    {
        const char *arch = "{\"name\":\"bomb\",\"input\":[1,256,256],\"layers\":[{\"type\":\"flatten\",\"name\":\"f\"},"
                           "{\"type\":\"linear\",\"name\":\"l\",\"out_features\":1000,\"bias\":false,"
                           "\"weight_sparsity\":0.99999},{\"type\":\"logsoftmax\",\"name\":\"s\"}]}";
        static float zv[1000];
        static uint16_t zi[1000];
        zs_st_writer *w = NULL;
        int64_t sh[2] = {1000, 1};
        void *d = NULL;
        size_t n = 0;
        zs_net *m = NULL;
        CHECK(zs_st_writer_create(&w) == ZS_OK && zs_st_writer_add(w, "l.weight_values", ZS_ST_F32, 2, sh, zv) == ZS_OK &&
                  zs_st_writer_add(w, "l.weight_index", ZS_ST_U16, 2, sh, zi) == ZS_OK &&
                  zs_st_writer_meta(w, "format", "zeroskip") == ZS_OK && zs_st_writer_meta(w, "arch", arch) == ZS_OK &&
                  zs_st_writer_to_mem(w, &d, &n) == ZS_OK, "bomb file written");
        zs_status st = zs_net_load_mem(&m, d, n);
        CHECK(st == ZS_EFORMAT && m == NULL && strstr(zs_last_error(), "declares"),
              "a %zu-byte packed file declaring 65M weights is refused before allocating: %s", n, zs_last_error());
        zs_st_writer_free(w);
        free(d);
    }
    zs_net_free(net);

    /* A network too sparse for the loader's expansion bound (1 of 4096
     * weights kept) is saved in the dense + mask form, and loads again. */
    zs_net *sp = NULL, *back = NULL;
    CHECK(zs_net_create_json(&sp, "{\"input\":[1,64,64],\"layers\":[{\"type\":\"flatten\",\"name\":\"f\"},"
                             "{\"type\":\"linear\",\"name\":\"l\",\"out_features\":100,\"sparsity\":0.9998},"
                             "{\"type\":\"logsoftmax\",\"name\":\"s\"}]}", 2) == ZS_OK,
          "very sparse net: %s", zs_last_error());
    if (sp) {
        const char *vp = tmp("very_sparse.st");
        CHECK(zs_net_save(sp, vp) == ZS_OK, "save very sparse: %s", zs_last_error());
        zs_st_file g;
        memset(&g, 0, sizeof g);
        CHECK(file_tensor(&g, vp, "l.mask") && zs_st_find(&g, "l.weight") && !zs_st_find(&g, "l.weight_values"),
              "very sparse net written as dense weight + mask");
        zs_st_free(&g);
        CHECK(zs_net_load(&back, vp) == ZS_OK && same_net(sp, back, 0), "very sparse net loads again: %s",
              zs_last_error());
    }
    zs_net_free(sp);
    zs_net_free(back);
}

/* The shipped sparse models: whatever form models/ holds, loading, saving
 * (packed) and loading again gives the same bits and the same outputs on the
 * real clips' log-mel features. */
static void test_shipped(void) {
    const char *models[] = {"models/gsc-sparse.safetensors", "models/gsc-supersparse.safetensors"};
    const char *clips[] = {"yes_1000ms", "no_1000ms", "silence_1000ms", "noise_1000ms", "0_george_0", "7_jackson_32"};
    enum { NC = sizeof clips / sizeof clips[0] };
    float *x = malloc(sizeof(float) * NC * 1024);
    int nx = 0;
    for (int i = 0; i < NC; i++) {
        char name[64];
        snprintf(name, sizeof name, "audio/%s.logmel.f32", clips[i]);
        FILE *fp = fopen(check_data(name), "rb");
        if (fp && fread(x + (size_t)nx * 1024, sizeof(float), 1024, fp) == 1024) nx++;
        if (fp) fclose(fp);
    }
    CHECK(nx == NC, "read %d of %d clip features", nx, NC);
    for (int m = 0; m < 2; m++) {
        if (access(models[m], R_OK) != 0) { SKIP("%s not present", models[m]); continue; }
        zs_net *a = NULL, *b = NULL;
        CHECK(zs_net_load(&a, models[m]) == ZS_OK, "load %s: %s", models[m], zs_last_error());
        if (!a) continue;
        const char *p = tmp("shipped.st");
        CHECK(zs_net_save(a, p) == ZS_OK && zs_net_load(&b, p) == ZS_OK, "%s: save + load: %s", models[m], zs_last_error());
        if (b) {
            CHECK(same_net(a, b, 0), "%s: round trip bit-identical", models[m]);
            CHECK(same_outputs(a, b, x, nx), "%s: identical log-probabilities on %d real clips", models[m], nx);
        }
        /* the same model in the old dense + mask form: same bits, same outputs */
        zs_net *c = NULL;
        const char *old = tmp("shipped_old.st");
        CHECK(write_legacy(p, a, old) == ZS_OK && zs_net_load(&c, old) == ZS_OK, "%s: old-form copy loads: %s",
              models[m], zs_last_error());
        if (c) CHECK(same_net(a, c, 0) && same_outputs(a, c, x, nx),
                     "%s: old form and packed form give bit-identical log-probabilities on real clips", models[m]);
        zs_net_free(a);
        zs_net_free(b);
        zs_net_free(c);
    }
    free(x);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/zs_test_model_io_%d", (int)getpid());
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", tmpdir);
    if (system(cmd) != 0) { CHECK(0, "mkdir %s", tmpdir); return check_finish("test_model_io"); }
    test_packed_round_trip();
    test_malformed();
    test_shipped();
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_finish("test_model_io");
}
