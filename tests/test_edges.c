/*
 * test_edges.c — library checks for the "sharper edges" findings (issue 13,
 * docs/RELIABILITY.md F8-F19):
 *   nupic tie rule: "ties": "nupic" k-WTA against nupic.torch's own float32
 *     computation (tests/data/ref/kwinners_nupic.safetensors, written by
 *     scripts/torch_ref.py), exact outputs, winner counts and gradients; the
 *     network-level fallbacks (no fast plan, no fast training path);
 *   architecture keys: unknown keys refused by name, "sparsity" and its old
 *     name "weight_sparsity" (same meaning), not both;
 *   model files: trailing bytes after the data section, a negative
 *     num_batches_tracked, class names with control characters, errors that
 *     name the file;
 *   saved files: the umask, the replaced file's mode, non-regular targets;
 *   FIFOs as model, data and audio paths: refused at once (alarm(20) turns a
 *     hang into a failure of this binary);
 *   zs_net_epochs_done.
 */
#include "check.h"
#include "layers.h"
#include "net.h"
#include "kernels/plan.h"
#include "safetensors.h"
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static void tpath(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", tmpdir, name); }

/* ------------------------------------------------------------ nupic ties */

static zs_st_file F;

static void *load(const char *cs, const char *what, zs_st_dtype dt, size_t *n) {
    char name[128];
    snprintf(name, sizeof name, "%s.%s", cs, what);
    const zs_st_tensor *t = zs_st_find(&F, name);
    CHECK(t != NULL, "kwinners_nupic: tensor %s missing", name);
    if (!t) return NULL;
    void *p = calloc(t->numel ? t->numel : 1, zs_st_dtype_size(dt));
    zs_status st = zs_st_copy(&F, name, dt, t->ndim, t->shape, p);
    CHECK(st == ZS_OK, "copy %s: %s", name, zs_last_error());
    if (n) *n = t->numel;
    return p;
}

static void test_ties_reference(void) {
    const char *path = "tests/data/ref/kwinners_nupic.safetensors";
    memset(&F, 0, sizeof F);
    zs_status st = zs_st_read(&F, path, 1u << 24);
    CHECK(st == ZS_OK, "read %s: %s", path, zs_last_error());
    if (st) return;
    const char *m = zs_st_meta(&F, "cases");
    CHECK(m != NULL, "no cases");
    if (!m) { zs_st_free(&F); return; }
    char *buf = zs_strdup(m);
    int ncase = 0, more_than_k = 0;
    for (char *cs = strtok(buf, ","); cs; cs = strtok(NULL, ",")) {
        size_t ncfg = 0;
        int32_t *cfg = load(cs, "cfg", ZS_ST_I32, &ncfg);
        float *fcfg = load(cs, "fcfg", ZS_ST_F32, NULL);
        float *x = load(cs, "x", ZS_ST_F32, NULL), *duty = load(cs, "duty", ZS_ST_F32, NULL);
        float *want = load(cs, "out", ZS_ST_F32, NULL), *g = load(cs, "g", ZS_ST_F32, NULL);
        float *dx = load(cs, "dx", ZS_ST_F32, NULL);
        int32_t *cnt_want = load(cs, "count", ZS_ST_I32, NULL);
        if (!cfg || ncfg != 7 || !fcfg || !x || !duty || !want || !g || !dx || !cnt_want) {
            CHECK(0, "%s: incomplete case", cs);
            goto next;
        }
        int N = cfg[0], C = cfg[1], H = cfg[2], W = cfg[3], k = cfg[4], local = cfg[5], is2d = cfg[6];
        float boost = fcfg[0];
        size_t U = (size_t)C * H * W;
        float *out = calloc((size_t)N * U, sizeof(float)), *din = calloc((size_t)N * U, sizeof(float));
        float *out0 = calloc((size_t)N * U, sizeof(float));
        int32_t *cnt = calloc((size_t)N, sizeof(int32_t)), *idx = calloc((size_t)N * U, sizeof(int32_t));
        float *val = calloc((size_t)N * U, sizeof(float)), *score = calloc(U + C + 64, sizeof(float));
        int32_t *iw = calloc(2 * (U + C) + 64, sizeof(int32_t));
        if (is2d)
            zs_kwinners2d_forward(out, cnt, idx, val, x, duty, boost, N, C, H, W, k, local, score, iw, 1);
        else
            zs_kwinners_forward(out, cnt, idx, val, x, duty, boost, N, (int)U, k, score, iw, 1);
        CHECK(!memcmp(out, want, sizeof(float) * N * U), "%s: nupic-ties output differs from nupic.torch", cs);
        int kk = local ? k * H * W : k;
        for (int n = 0; n < N; n++) {
            CHECK(cnt[n] == cnt_want[n], "%s: sample %d: %d winners, nupic.torch keeps %d", cs, n, (int)cnt[n],
                  (int)cnt_want[n]);
            more_than_k += cnt[n] > kk;
            for (int j = 1; j < cnt[n]; j++)
                CHECK(idx[(size_t)n * U + j] > idx[(size_t)n * U + j - 1], "%s: winners ascending", cs);
            for (int j = 0; j < cnt[n]; j++)
                CHECK(val[(size_t)n * U + j] == x[(size_t)n * U + idx[(size_t)n * U + j]], "%s: winner values", cs);
        }
        zs_kwinners_backward(din, g, cnt, idx, N, (int)U, (int)U);
        CHECK(!memcmp(din, dx, sizeof(float) * N * U), "%s: gradient differs from nupic.torch autograd", cs);
        /* the default rule on the same input keeps exactly k (these cases
         * have ties at the k-th value, so the outputs differ) */
        if (is2d)
            zs_kwinners2d_forward(out0, cnt, idx, val, x, duty, boost, N, C, H, W, k, local, score, iw, 0);
        else
            zs_kwinners_forward(out0, cnt, idx, val, x, duty, boost, N, (int)U, k, score, iw, 0);
        for (int n = 0; n < N; n++) CHECK(cnt[n] == kk, "%s: lower_index keeps exactly k", cs);
        CHECK(memcmp(out0, want, sizeof(float) * N * U) != 0, "%s: the two rules differ on tied input", cs);
        free(out); free(din); free(out0); free(cnt); free(idx); free(val); free(score); free(iw);
        ncase++;
    next:
        free(cfg); free(fcfg); free(x); free(duty); free(want); free(g); free(dx); free(cnt_want);
    }
    free(buf);
    zs_st_free(&F);
    CHECK(ncase == 6, "6 tie cases read (got %d)", ncase);
    CHECK(more_than_k > 0, "the reference has samples with more than k winners");
}

static const char *TIES_NET =
    "{\"input\":[1,8,8],\"layers\":["
    "{\"type\":\"conv2d\",\"name\":\"c\",\"out_channels\":4,\"kernel\":3,\"padding\":1,\"sparsity\":0.5},"
    "{\"type\":\"kwinners2d\",\"name\":\"kw\",\"percent_on\":0.1,\"boost_strength\":1.5,\"ties\":\"%s\"},"
    "{\"type\":\"maxpool2d\",\"name\":\"p\",\"kernel\":2},"
    "{\"type\":\"flatten\",\"name\":\"f\"},"
    "{\"type\":\"linear\",\"name\":\"l\",\"out_features\":12,\"sparsity\":0.5},"
    "{\"type\":\"kwinners\",\"name\":\"kv\",\"percent_on\":0.25,\"ties\":\"%s\"},"
    "{\"type\":\"linear\",\"name\":\"o\",\"out_features\":3},"
    "{\"type\":\"logsoftmax\",\"name\":\"s\"}]}";

static zs_net *ties_net(const char *rule, uint64_t seed) {
    char j[2048];
    snprintf(j, sizeof j, TIES_NET, rule, rule);
    zs_net *net = NULL;
    zs_status st = zs_net_create_json(&net, j, seed);
    CHECK(st == ZS_OK, "ties net (%s): %s", rule, zs_last_error());
    return net;
}

static void test_ties_network(void) {
    enum { N = 4, D = 64 };
    float x[N * D], a[N * 3], b[N * 3];
    /* flat regions (zeros, a constant patch) give exact ties after the conv */
    memset(x, 0, sizeof x);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < 16; i++) x[n * D + 18 + (i / 4) * 8 + i % 4] = 1.0f + (float)n;
    zs_net *net = ties_net("nupic", 3), *net2 = ties_net("nupic", 3);
    if (!net || !net2) { zs_net_free(net); zs_net_free(net2); return; }
    zs_status st = zs_plan_build(net);
    CHECK(st == ZS_EUNSUPPORTED, "no fast plan for nupic ties (got %s)", zs_status_str(st));
    CHECK(strstr(zs_last_error(), "nupic") != NULL, "plan says why: %s", zs_last_error());
    zs_plan_free(net);
    CHECK(zs_net_infer(net, x, N, a) == ZS_OK, "infer: %s", zs_last_error());
    zs_net_set_dense(net, 1);
    CHECK(zs_net_infer(net, x, N, b) == ZS_OK, "infer dense: %s", zs_last_error());
    CHECK(!memcmp(a, b, sizeof a), "nupic ties: default inference = the reference path");
    /* ties matter in this network: more than k_inference winners somewhere */
    const zs_layer *kw = &net->layers[1];
    int over = 0;
    for (int n = 0; n < N; n++) over += kw->win.count[n] > kw->k_inference;
    CHECK(over > 0, "the test input has ties at the k-th value (layer kw)");
    /* training: the fast path is off, so it equals the reference path */
    int32_t y[N] = {0, 1, 2, 1};
    zs_sgd sgd = {0.05f, 0.9f, 0.01f};
    float l1, l2;
    unsetenv("ZS_TRAIN_REF");
    CHECK(zs_net_train_step(net, x, y, N, &sgd, &l1, NULL) == ZS_OK, "train step: %s", zs_last_error());
    setenv("ZS_TRAIN_REF", "1", 1);
    CHECK(zs_net_train_step(net2, x, y, N, &sgd, &l2, NULL) == ZS_OK, "train step (ref): %s", zs_last_error());
    unsetenv("ZS_TRAIN_REF");
    CHECK(l1 == l2 && !memcmp(net->params, net2->params, sizeof(float) * net->n_params) &&
          !memcmp(net->state, net2->state, sizeof(float) * net->n_state),
          "nupic ties: training runs the reference layers");
    /* saved and loaded, the rule stays */
    char p[512];
    tpath(p, sizeof p, "ties.st");
    CHECK(zs_net_save(net, p) == ZS_OK, "save: %s", zs_last_error());
    zs_net *back = NULL;
    CHECK(zs_net_load(&back, p) == ZS_OK, "load: %s", zs_last_error());
    if (back) {
        CHECK(back->layers[1].ties_nupic && back->layers[5].ties_nupic, "ties survive save/load");
        CHECK(strstr(back->arch_json, "\"ties\":\"nupic\"") != NULL, "canonical JSON keeps ties");
    }
    zs_net_free(back);
    zs_net_free(net);
    zs_net_free(net2);
    /* lower_index (the default) keeps its fast plan */
    net = ties_net("lower_index", 3);
    if (net) {
        CHECK(zs_plan_build(net) == ZS_OK, "lower_index keeps the fast plan: %s", zs_last_error());
        CHECK(!net->layers[1].ties_nupic, "lower_index parsed");
    }
    zs_net_free(net);
    zs_net *bad = NULL;
    char j[2048];
    snprintf(j, sizeof j, TIES_NET, "random", "nupic");
    CHECK(zs_net_create_json(&bad, j, 1) == ZS_EFORMAT && strstr(zs_last_error(), "ties"), "bad ties value refused");
    zs_net_free(bad);
}

/* ------------------------------------------------------ architecture keys */

static void test_arch_keys(void) {
    zs_net *n = NULL;
    const char *typo = "{\"input\":[1,4,4],\"layers\":[{\"type\":\"flatten\"},"
                       "{\"type\":\"linear\",\"out_features\":8,\"weight_sparsty\":0.9},{\"type\":\"logsoftmax\"}]}";
    CHECK(zs_net_create_json(&n, typo, 1) == ZS_EFORMAT, "misspelt key refused");
    CHECK(strstr(zs_last_error(), "weight_sparsty") != NULL, "message names the key: %s", zs_last_error());
    zs_net_free(n); n = NULL;
    const char *top = "{\"input\":[1,4,4],\"layer\":[],\"layers\":[{\"type\":\"flatten\"}]}";
    CHECK(zs_net_create_json(&n, top, 1) == ZS_EFORMAT && strstr(zs_last_error(), "'layer'"), "unknown top-level key named: %s",
          zs_last_error());
    zs_net_free(n); n = NULL;
    const char *kw = "{\"input\":[1,4,4],\"layers\":[{\"type\":\"flatten\"},{\"type\":\"kwinners\",\"k\":3,\"boost\":1}]}";
    CHECK(zs_net_create_json(&n, kw, 1) == ZS_EFORMAT && strstr(zs_last_error(), "'boost'"), "k-WTA typo named: %s",
          zs_last_error());
    zs_net_free(n); n = NULL;
    const char *relu = "{\"input\":[1,4,4],\"layers\":[{\"type\":\"relu\",\"p\":0.5},{\"type\":\"flatten\"}]}";
    CHECK(zs_net_create_json(&n, relu, 1) == ZS_EFORMAT, "relu takes no options");
    zs_net_free(n); n = NULL;
    /* sparsity and its old name: the same fraction of zero weights */
    const char *fmt = "{\"input\":[1,4,4],\"layers\":[{\"type\":\"flatten\"},"
                      "{\"type\":\"linear\",\"name\":\"l\",\"out_features\":8,%s},{\"type\":\"logsoftmax\"}]}";
    char a[512], b[512], c[512];
    snprintf(a, sizeof a, fmt, "\"sparsity\":0.75");
    snprintf(b, sizeof b, fmt, "\"weight_sparsity\":0.75");
    snprintf(c, sizeof c, fmt, "\"sparsity\":0.75,\"weight_sparsity\":0.25");
    zs_net *na = NULL, *nb = NULL, *nc = NULL;
    CHECK(zs_net_create_json(&na, a, 7) == ZS_OK, "sparsity: %s", zs_last_error());
    CHECK(zs_net_create_json(&nb, b, 7) == ZS_OK, "weight_sparsity: %s", zs_last_error());
    CHECK(zs_net_create_json(&nc, c, 7) == ZS_EFORMAT, "both keys refused");
    if (na && nb) {
        zs_layer_info ia, ib;
        zs_net_layer_info(na, 1, &ia);
        zs_net_layer_info(nb, 1, &ib);
        CHECK(ia.weight_nonzeros == 4 * 8 && ia.weight_sparsity == 0.75f, "sparsity 0.75 keeps 4 of 16 weights per unit");
        CHECK(!memcmp(na->params, nb->params, sizeof(float) * na->n_params) &&
              !memcmp(na->masks, nb->masks, na->n_masks), "weight_sparsity = sparsity (fraction of zeros)");
        CHECK(strstr(nb->arch_json, "\"sparsity\":0.75") && !strstr(nb->arch_json, "weight_sparsity"),
              "canonical JSON says sparsity: %s", nb->arch_json);
    }
    zs_net_free(na); zs_net_free(nb); zs_net_free(nc);
}

/* ------------------------------------------------------------ model files */

static unsigned char *slurp(const char *p, size_t *n) {
    void *d = NULL;
    if (zs_read_file(p, 1u << 28, &d, n)) return NULL;
    return d;
}

/* Re-serialise a model file's bytes with one metadata value replaced. */
static int with_meta(const unsigned char *in, size_t n, const char *key, const char *val, void **out, size_t *on) {
    zs_st_file f;
    if (zs_st_parse(&f, in, n)) return -1;
    zs_st_writer *w = NULL;
    int rc = zs_st_writer_create(&w) ? -1 : 0;
    for (int i = 0; rc == 0 && i < f.n_tensors; i++)
        rc = zs_st_writer_add(w, f.tensors[i].name, f.tensors[i].dtype, f.tensors[i].ndim, f.tensors[i].shape,
                              f.tensors[i].data) ? -1 : 0;
    for (int i = 0; rc == 0 && i < f.n_meta; i++)
        rc = zs_st_writer_meta(w, f.meta_keys[i], strcmp(f.meta_keys[i], key) ? f.meta_vals[i] : val) ? -1 : 0;
    if (rc == 0) rc = zs_st_writer_to_mem(w, out, on) ? -1 : 0;
    zs_st_writer_free(w);
    zs_st_free(&f);
    return rc;
}

static void test_model_files(void) {
    zs_net *net = NULL;
    CHECK(zs_net_create_preset(&net, "mnist-sparse-mlp", 1) == ZS_OK, "preset");
    if (!net) return;
    char p[512], q[512];
    tpath(p, sizeof p, "m.st");
    tpath(q, sizeof q, "bad.st");
    CHECK(zs_net_save(net, p) == ZS_OK, "save: %s", zs_last_error());
    size_t n = 0;
    unsigned char *b = slurp(p, &n);
    CHECK(b != NULL, "read back");
    if (!b) { zs_net_free(net); return; }
    zs_net *m = NULL;
    CHECK(zs_net_load_mem(&m, b, n) == ZS_OK, "the saved file loads");
    zs_net_free(m); m = NULL;
    /* trailing bytes after the data section */
    unsigned char *t = malloc(n + 1);
    memcpy(t, b, n);
    t[n] = 0;
    CHECK(zs_net_load_mem(&m, t, n + 1) == ZS_EFORMAT && strstr(zs_last_error(), "trailing"),
          "one trailing byte refused: %s", zs_last_error());
    zs_net_free(m); m = NULL;
    free(t);
    /* num_batches_tracked = INT64_MIN */
    zs_st_file f;
    if (zs_st_parse(&f, b, n) == ZS_OK) {
        const zs_st_tensor *nb = zs_st_find(&f, "fc1_bn.num_batches_tracked");
        CHECK(nb != NULL, "num_batches_tracked tensor");
        if (nb) {
            unsigned char *c = malloc(n);
            memcpy(c, b, n);
            int64_t v = INT64_MIN;
            memcpy(c + ((const unsigned char *)nb->data - b), &v, 8);
            CHECK(zs_net_load_mem(&m, c, n) == ZS_EFORMAT && strstr(zs_last_error(), "num_batches_tracked"),
                  "num_batches_tracked INT64_MIN refused: %s", zs_last_error());
            zs_net_free(m); m = NULL;
            free(c);
        }
        zs_st_free(&f);
    }
    /* class names: control characters refused, the file named */
    void *o = NULL;
    size_t on = 0;
    CHECK(with_meta(b, n, "classes", "[\"0\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"a\\nb\"]", &o, &on) == 0,
          "rewrite classes");
    if (o) {
        FILE *fp = fopen(q, "wb");
        fwrite(o, 1, on, fp);
        fclose(fp);
        CHECK(zs_net_load(&m, q) == ZS_EFORMAT && strstr(zs_last_error(), "control character") &&
              !strncmp(zs_last_error(), q, strlen(q)), "newline in a class name refused, file named: %s", zs_last_error());
        zs_net_free(m); m = NULL;
        free(o); o = NULL;
    }
    CHECK(with_meta(b, n, "classes", "[\"0\",\"1\"]", &o, &on) == 0, "rewrite classes");
    if (o) {
        FILE *fp = fopen(q, "wb");
        fwrite(o, 1, on, fp);
        fclose(fp);
        CHECK(zs_net_load(&m, q) == ZS_EFORMAT && !strncmp(zs_last_error(), q, strlen(q)),
              "bad 'classes' names the file: %s", zs_last_error());
        zs_net_free(m); m = NULL;
        free(o);
    }
    const char *names[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "tab\there"};
    CHECK(zs_net_set_class_names(net, 10, names) == ZS_EINVAL, "zs_net_set_class_names refuses a tab");
    CHECK(strcmp(zs_net_class_name(net, 9), "9") == 0, "names unchanged after the refusal");
    free(b);
    zs_net_free(net);
}

/* ------------------------------------------------------------ file modes */

static int mode_of(const char *p) {
    struct stat s;
    return stat(p, &s) ? -1 : (int)(s.st_mode & 07777);
}

static void test_modes(void) {
    zs_net *net = NULL;
    CHECK(zs_net_create_preset(&net, "mnist-mlp", 1) == ZS_OK, "preset");
    if (!net) return;
    char p[512], d[512], fifo[512];
    tpath(p, sizeof p, "mode.st");
    mode_t old = umask(077);
    CHECK(zs_net_save(net, p) == ZS_OK && mode_of(p) == 0600, "umask 077: a new model is 0600 (got %o)", mode_of(p));
    umask(022);
    unlink(p);
    CHECK(zs_net_save(net, p) == ZS_OK && mode_of(p) == 0644, "umask 022: 0644 (got %o)", mode_of(p));
    chmod(p, 0600);
    CHECK(zs_net_save(net, p) == ZS_OK && mode_of(p) == 0600, "replacing a 0600 model keeps 0600 (got %o)", mode_of(p));
    chmod(p, 0640);
    CHECK(zs_net_save_checkpoint(net, p) == ZS_OK && mode_of(p) == 0640, "checkpoints too (got %o)", mode_of(p));
    umask(old);
    tpath(d, sizeof d, "adir");
    mkdir(d, 0755);
    CHECK(zs_net_save(net, d) == ZS_EIO && strstr(zs_last_error(), "directory"), "a directory target: %s", zs_last_error());
    tpath(fifo, sizeof fifo, "out.fifo");
    if (mkfifo(fifo, 0644) == 0) {
        CHECK(zs_net_save(net, fifo) == ZS_EIO, "a FIFO target is refused, not replaced");
        struct stat s;
        CHECK(stat(fifo, &s) == 0 && S_ISFIFO(s.st_mode), "the FIFO is still there");
    } else SKIP("mkfifo failed: %s", strerror(errno));
    /* through a symbolic link: the target is replaced, the link stays */
    char link[512];
    tpath(link, sizeof link, "link.st");
    if (symlink(p, link) == 0) {
        CHECK(zs_net_save(net, link) == ZS_OK, "save through a link: %s", zs_last_error());
        struct stat ls;
        CHECK(lstat(link, &ls) == 0 && S_ISLNK(ls.st_mode), "the link is still a link");
        CHECK(mode_of(p) == 0640, "the target was replaced with its mode (got %o)", mode_of(p));
    } else SKIP("symlink failed: %s", strerror(errno));
    CHECK(zs_net_save(net, "") == ZS_EINVAL, "empty path");
    zs_net_free(net);
}

/* ------------------------------------------------------------ FIFOs */

static void on_alarm(int sig) {
    (void)sig;
    static const char m[] = "FAIL: a FIFO path blocked (alarm after 20 s)\nRESULT 0 1\n";
    if (write(1, m, sizeof m - 1) < 0) _exit(3);
    _exit(1);
}

static void test_fifos(void) {
    char f[512];
    tpath(f, sizeof f, "in.fifo");
    if (mkfifo(f, 0644) != 0) { SKIP("mkfifo failed: %s", strerror(errno)); return; }
    signal(SIGALRM, on_alarm);
    alarm(20);
    zs_net *n = NULL;
    CHECK(zs_net_load(&n, f) == ZS_EIO && strstr(zs_last_error(), "not a regular file"), "model FIFO: %s", zs_last_error());
    zs_dataset *ds = NULL;
    CHECK(zs_dataset_load(&ds, f) == ZS_EIO && strstr(zs_last_error(), "FIFO"), "data FIFO: %s", zs_last_error());
    float *x = NULL;
    size_t len = 0;
    CHECK(zs_audio_load(f, 16000, 0, &x, &len) == ZS_EIO && strstr(zs_last_error(), "FIFO"), "audio FIFO: %s",
          zs_last_error());
    free(x);
    zs_net_free(n);
    zs_dataset_free(ds);
    alarm(0);
}

/* ------------------------------------------------------------ epochs done */

static void test_epochs_done(void) {
    zs_net *net = NULL;
    CHECK(zs_net_create_preset(&net, "mnist-mlp", 1) == ZS_OK, "preset");
    if (!net) return;
    CHECK(zs_net_epochs_done(net) == 0, "new network: 0 epochs");
    net->epochs_done = 3;
    char p[512];
    tpath(p, sizeof p, "ck.st");
    CHECK(zs_net_save_checkpoint(net, p) == ZS_OK, "checkpoint");
    zs_net *b = NULL;
    CHECK(zs_net_load(&b, p) == ZS_OK && zs_net_epochs_done(b) == 3, "a checkpoint reports its epochs");
    zs_net_free(b);
    CHECK(zs_net_save(net, p) == ZS_OK, "model");
    b = NULL;
    CHECK(zs_net_load(&b, p) == ZS_OK && zs_net_epochs_done(b) == 0, "a plain model reports 0");
    zs_net_free(b);
    zs_net_free(net);
    CHECK(zs_net_epochs_done(NULL) == 0, "NULL");
}

static void rm_rf(const char *d) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", d);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/zs_edges.XXXXXX");
    if (!mkdtemp(tmpdir)) { perror("mkdtemp"); return 1; }
    test_ties_reference();
    test_ties_network();
    test_arch_keys();
    test_model_files();
    test_modes();
    test_fifos();
    test_epochs_done();
    rm_rf(tmpdir);
    return check_finish("test_edges");
}
