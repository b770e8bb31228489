/*
 * cmd_bench.c — `zeroskip bench`: words/s of a sparse network against its
 * dense twin (and, with --peers, against ONNX Runtime and PyTorch running the
 * same dense network exported from zeroskip's own file).
 *
 * What it measures. One configuration = (mode, threads T, batch B, networks
 * N). N independent networks with DIFFERENT weights: network 0 is the model
 * as given (file or preset with --seed), network i > 0 is the same
 * architecture created with seed + i (so its masks and weights differ, and
 * its BN statistics are fresh). T pthreads serve them; worker w owns the
 * networks i with i % T == w and runs them round-robin, one batch of B
 * inputs per call to zs_net_infer. If N < T, the idle workers get a replica
 * of network w % N (same weights, own buffers): every core serves some
 * network, as a server would. Each repetition all workers start together
 * (barrier) and run for seconds/reps; a worker's rate is its words over its
 * own elapsed time and the configuration's rate is the sum over workers.
 * Reported: median over repetitions, min and max.
 *
 * Columns. words/s aggregate and per network (aggregate / N); us/word =
 * 1e6 / aggregate (machine time per word); MACs/word: for the sparse mode
 * the products of a non-zero input and a kept weight, counted on the
 * reference activations of network 0 on the bench inputs, for the dense
 * mode every product (what a dense engine executes); dense-equivalent
 * MACs/word: every product of the dense-shaped network. GFLOP/s = 2 x MACs x
 * words/s. bytes/net: sparse = 4-byte value + 2-byte index per kept weight
 * (+ 4 per bias), dense = 4 x parameters (weights, biases, BN).
 *
 * What it is not: a test. Nothing here asserts a speed.
 */
#include "cli.h"
#include "net.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CMD "bench"
#define MAX_LIST 16
#define MAX_ROWS 1024
#define POOL_MAX 1024 /* input samples kept for the run */

static const char *USAGE =
    "zeroskip bench [--model M] [--dense-model D] [--batch 1,16,64,256] [--networks 1,2,4,8,20]\n"
    "                      [--threads 1,2] [--seconds S] [--reps R] [--warmup S] [--modes sparse,dense]\n"
    "                      [--data F] [--seed N] [--json] [--json-out F] [--plot FILE.png]\n"
    "                      [--peers] [--quick]";

static void help(void) {
    printf("usage: %s\n\n", USAGE);
    printf(
        "Words/s of a sparse network (sparse-sparse kernels) against its dense twin\n"
        "(im2col + GEMM path), and optionally against ONNX Runtime and PyTorch.\n\n"
        "  --model M         model file (safetensors) or preset name; default gsc-sparse\n"
        "  --dense-model D   dense twin (file or preset) for the dense rows; default:\n"
        "                    gsc-dense for gsc-* presets, else M itself on the dense path\n"
        "  --batch LIST      batch sizes (default 1,16,64,256)\n"
        "  --networks LIST   independent networks served at once (default 1,2,4,8,20);\n"
        "                    network i > 0 has the same architecture, seed + i\n"
        "  --threads LIST    worker threads (default 1,<online CPUs>)\n"
        "  --seconds S       measured time per configuration, split over the\n"
        "                    repetitions (default 1)\n"
        "  --reps R          repetitions; median, min and max reported (default 5)\n"
        "  --warmup S        warm-up per configuration (default 0.2)\n"
        "  --modes LIST      sparse, dense or both (default sparse,dense)\n"
        "  --data F          inputs from a data set file (default: standard-normal)\n"
        "  --seed N          seed of preset networks (default 1)\n"
        "  --json            one JSON document on stdout instead of the table\n"
        "  --json-out F      the table on stdout and the JSON document into F\n"
        "  --plot FILE.png   bar chart of words/s per configuration (gnuplot)\n"
        "  --peers           also run bench/ort_bench.js (ONNX Runtime) and\n"
        "                    bench/torch_bench.py (PyTorch) on the dense network,\n"
        "                    exported by bench/export_onnx.py; ZS_BENCH_DIR sets\n"
        "                    the bench/ folder, PYTHON the interpreter\n"
        "  --quick           small smoke run: batch 1,16, networks 1,2, threads 1,\n"
        "                    0.05 s per configuration, 2 repetitions\n\n"
        "Rows: mode x threads x batch x networks. A missing peer prints\n"
        "\"peer X unavailable: reason\" and is not an error.\n");
}

/* ---- options --------------------------------------------------------------- */

typedef struct bench_opts {
    const char *model, *dense_model, *data, *plot, *json_out;
    int batch[MAX_LIST], n_batch;
    int nets[MAX_LIST], n_nets;
    int threads[MAX_LIST], n_threads;
    double seconds, warmup;
    int reps;
    int do_sparse, do_dense;
    int json, peers, quick;
    uint64_t seed;
} bench_opts;

/* "1,16,64" -> values in [lo, hi]; -1 (message printed) on error. */
static int parse_list(const char *opt, const char *s, long lo, long hi, int *out, int *n) {
    char buf[256];
    if (strlen(s) >= sizeof buf || !*s) {
        fprintf(stderr, "zeroskip %s: bad value for %s: '%s'\n", CMD, opt, s);
        return -1;
    }
    strcpy(buf, s);
    *n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        long v;
        if (*n >= MAX_LIST) {
            fprintf(stderr, "zeroskip %s: %s: at most %d values\n", CMD, opt, MAX_LIST);
            return -1;
        }
        if (cli_int(CMD, opt, t, lo, hi, &v)) return -1;
        out[(*n)++] = (int)v;
    }
    if (*n == 0 || s[strlen(s) - 1] == ',' || strstr(s, ",,")) {
        fprintf(stderr, "zeroskip %s: bad value for %s: '%s'\n", CMD, opt, s);
        return -1;
    }
    return 0;
}

static int online_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 256 ? 256 : (int)n;
}

/* 0 ok, 1 --help printed, -1 usage error (printed). */
static int parse_opts(int argc, char **argv, bench_opts *o) {
    memset(o, 0, sizeof *o);
    o->model = "gsc-sparse";
    o->seconds = o->warmup = -1;
    o->reps = -1;
    o->do_sparse = o->do_dense = 1;
    o->seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        const char *a = argv[i];
        int r;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { help(); return 1; }
        if (!strcmp(a, "--json")) { o->json = 1; continue; }
        if (!strcmp(a, "--peers")) { o->peers = 1; continue; }
        if (!strcmp(a, "--quick")) { o->quick = 1; continue; }
#define OPT(name) ((r = cli_opt(argc, argv, &i, name, &v)) != 0)
        if (OPT("--model")) { if (r < 0) return -1; o->model = v; continue; }
        if (OPT("--dense-model")) { if (r < 0) return -1; o->dense_model = v; continue; }
        if (OPT("--data")) { if (r < 0) return -1; o->data = v; continue; }
        if (OPT("--plot")) { if (r < 0) return -1; o->plot = v; continue; }
        if (OPT("--json-out")) { if (r < 0) return -1; o->json_out = v; continue; }
        if (OPT("--batch")) {
            if (r < 0 || parse_list("--batch", v, 1, 4096, o->batch, &o->n_batch)) return -1;
            continue;
        }
        if (OPT("--networks")) {
            if (r < 0 || parse_list("--networks", v, 1, 256, o->nets, &o->n_nets)) return -1;
            continue;
        }
        if (OPT("--threads")) {
            if (r < 0 || parse_list("--threads", v, 1, 256, o->threads, &o->n_threads)) return -1;
            continue;
        }
        if (OPT("--seconds")) {
            if (r < 0 || cli_float(CMD, "--seconds", v, 1e-3, 3600, &o->seconds)) return -1;
            continue;
        }
        if (OPT("--warmup")) {
            if (r < 0 || cli_float(CMD, "--warmup", v, 0, 600, &o->warmup)) return -1;
            continue;
        }
        if (OPT("--reps")) {
            long n;
            if (r < 0 || cli_int(CMD, "--reps", v, 1, 1000, &n)) return -1;
            o->reps = (int)n;
            continue;
        }
        if (OPT("--seed")) {
            if (r < 0 || cli_u64(CMD, "--seed", v, &o->seed)) return -1;
            continue;
        }
        if (OPT("--modes")) {
            if (r < 0) return -1;
            if (!strcmp(v, "sparse")) o->do_sparse = 1, o->do_dense = 0;
            else if (!strcmp(v, "dense")) o->do_sparse = 0, o->do_dense = 1;
            else if (!strcmp(v, "sparse,dense") || !strcmp(v, "dense,sparse")) o->do_sparse = o->do_dense = 1;
            else {
                fprintf(stderr, "zeroskip %s: bad value for --modes: '%s' (sparse, dense or sparse,dense)\n", CMD, v);
                return -1;
            }
            continue;
        }
#undef OPT
        fprintf(stderr, "zeroskip %s: unknown argument '%s'\n", CMD, a);
        return -1;
    }
    /* defaults (--quick's first; explicit options win) */
    if (!o->n_batch) {
        static const int qb[] = {1, 16}, db[] = {1, 16, 64, 256};
        const int *b = o->quick ? qb : db;
        o->n_batch = o->quick ? 2 : 4;
        memcpy(o->batch, b, sizeof(int) * (size_t)o->n_batch);
    }
    if (!o->n_nets) {
        static const int qn[] = {1, 2}, dn[] = {1, 2, 4, 8, 20};
        o->n_nets = o->quick ? 2 : 5;
        memcpy(o->nets, o->quick ? qn : dn, sizeof(int) * (size_t)o->n_nets);
    }
    if (!o->n_threads) {
        int c = online_cpus();
        o->threads[0] = 1;
        o->n_threads = 1;
        if (!o->quick && c > 1) o->threads[o->n_threads++] = c;
    }
    if (o->seconds < 0) o->seconds = o->quick ? 0.05 : 1.0;
    if (o->warmup < 0) o->warmup = o->quick ? 0.01 : 0.2;
    if (o->reps < 0) o->reps = o->quick ? 2 : 5;
    return 0;
}

/* ---- networks ----------------------------------------------------------------- */

/* Where a configuration's networks come from. */
typedef struct net_source {
    const char *spec;    /* file path or preset name                      */
    int is_preset;
    char *arch_json;     /* architecture, for networks 1..N-1 (file case) */
    char arch_name[64];
    int force_dense;     /* run through the dense path                    */
    int has_kwta;        /* the network contains k-WTA layers             */
} net_source;

static int file_exists(const char *p) {
    struct stat s;
    return stat(p, &s) == 0;
}

static int is_preset(const char *name) {
    for (const char *const *p = zs_presets(); *p; p++)
        if (!strcmp(*p, name)) return 1;
    return 0;
}

/* Network `idx` of a source: 0 = the model as given, i > 0 = seed + i. */
static zs_status make_net(const net_source *s, int idx, uint64_t seed, zs_net **out) {
    zs_status st;
    if (s->is_preset) st = zs_net_create_preset(out, s->spec, seed + (uint64_t)idx);
    else if (idx == 0) st = zs_net_load(out, s->spec);
    else st = zs_net_create_json(out, s->arch_json, seed + (uint64_t)idx);
    if (st == ZS_OK) zs_net_set_dense(*out, s->force_dense);
    return st;
}

static zs_status source_init(net_source *s, const char *spec, int force_dense, uint64_t seed) {
    memset(s, 0, sizeof *s);
    s->spec = spec;
    s->force_dense = force_dense;
    s->is_preset = !file_exists(spec) && is_preset(spec);
    zs_net *net = NULL;
    zs_status st = make_net(s, 0, seed, &net);
    if (st) return st;
    snprintf(s->arch_name, sizeof s->arch_name, "%s", zs_net_arch_name(net));
    if (!s->is_preset && !(s->arch_json = zs_strdup(net->arch_json))) {
        zs_net_free(net);
        return ZS_ERR(ZS_ENOMEM, "out of memory");
    }
    for (int i = 0; i < net->n_layers; i++)
        if (net->layers[i].type == ZS_KWINNERS || net->layers[i].type == ZS_KWINNERS2D) s->has_kwta = 1;
    zs_net_free(net);
    return ZS_OK;
}

/* ---- MACs and bytes ------------------------------------------------------------- */

typedef struct net_cost {
    double macs;        /* useful multiply-adds per word (this mode)         */
    double dense_macs;  /* every product of the dense-shaped network         */
    double bytes;       /* weights as this mode stores them                  */
    int n_layers;       /* conv/linear layers, in order                      */
    char name[16][64];
    double layer_macs[16], layer_dense[16]; /* per conv/linear layer      */
    double in_density[16];  /* fraction of the layer's inputs non-zero       */
    int measured;       /* 1: layer_macs/in_density counted on activations   */
} net_cost;

static int kept(const zs_layer *L, size_t j) { return L->mask ? L->mask[j] != 0 : L->w[j] != 0.0f; }

/* Useful MACs of one sample through conv/linear layers: for every non-zero
 * input, the kept weights that touch it (and land on a valid output). */
static double sample_macs(const zs_layer *L, const float *in, const int32_t *cnt) {
    double m = 0;
    if (L->type == ZS_LINEAR) {
        for (size_t i = 0; i < L->in_size; i++)
            if (in[i] != 0.0f) m += cnt[i];
        return m;
    }
    int H = L->in_h, W = L->in_w, Ho = L->out_h, Wo = L->out_w, s = L->stride, p = L->pad;
    for (int c = 0; c < L->in_c; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                if (in[((size_t)c * H + y) * W + x] == 0.0f) continue;
                for (int ky = 0; ky < L->kh; ky++) {
                    int oy = y + p - ky;
                    if (oy < 0 || oy % s || oy / s >= Ho) continue;
                    for (int kx = 0; kx < L->kw; kx++) {
                        int ox = x + p - kx;
                        if (ox < 0 || ox % s || ox / s >= Wo) continue;
                        m += cnt[((size_t)c * L->kh + ky) * L->kw + kx];
                    }
                }
            }
    return m;
}

/* Cost of network `net` on n inputs (reference path, eval mode). */
static zs_status net_cost_measure(zs_net *net, int sparse, const float *x, int n, net_cost *out) {
    memset(out, 0, sizeof *out);
    double params = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const zs_layer *L = &net->layers[i];
        if (L->type == ZS_CONV2D || L->type == ZS_LINEAR) {
            double dm = (double)L->n_weights * (L->type == ZS_CONV2D ? (double)L->out_h * L->out_w : 1.0);
            out->dense_macs += dm;
            if (out->n_layers < 16) {
                snprintf(out->name[out->n_layers], sizeof out->name[0], "%s", L->name);
                out->layer_dense[out->n_layers] = out->layer_macs[out->n_layers] = dm;
                out->in_density[out->n_layers] = 1;
                out->n_layers++;
            }
            size_t nnz = 0;
            for (size_t j = 0; j < L->n_weights; j++) nnz += (size_t)kept(L, j);
            double bias = L->b ? L->out_c : 0;
            out->bytes += L->mask ? 6.0 * (double)nnz + 4.0 * bias : 4.0 * ((double)L->n_weights + bias);
            params += (double)L->n_weights + bias;
        } else if (L->type == ZS_BATCHNORM) {
            params += (L->affine ? 4.0 : 2.0) * L->in_c;
            out->bytes += 4.0 * 2.0 * L->in_c; /* folded scale and shift */
        }
    }
    if (!sparse) {
        out->macs = out->dense_macs;
        out->bytes = 4.0 * params;
        return ZS_OK;
    }
    zs_status st = zs_net_reserve(net, n);
    if (st) return st;
    out->measured = 1;
    net->training = 0;
    zs_net_forward_ref(net, x, n);
    size_t insz = (size_t)net->in_c * net->in_h * net->in_w;
    int li = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const zs_layer *L = &net->layers[i];
        if (L->type != ZS_CONV2D && L->type != ZS_LINEAR) continue;
        /* kept weights touching each input position (conv: per ci, ky, kx) */
        size_t per = L->type == ZS_CONV2D ? (size_t)L->in_c * L->kh * L->kw : L->in_size;
        int32_t *cnt = calloc(per, sizeof *cnt);
        if (!cnt) return ZS_ERR(ZS_ENOMEM, "out of memory");
        for (int o = 0; o < L->out_c; o++)
            for (size_t j = 0; j < per; j++) cnt[j] += kept(L, (size_t)o * per + j);
        const float *in = i == 0 ? x : net->layers[i - 1].out;
        size_t isz = i == 0 ? insz : L->in_size;
        double m = 0, nz = 0;
        for (int s = 0; s < n; s++) m += sample_macs(L, in + (size_t)s * isz, cnt);
        for (size_t j = 0; j < (size_t)n * isz; j++) nz += in[j] != 0.0f;
        free(cnt);
        out->macs += m / n;
        if (li < 16) {
            out->layer_macs[li] = m / n;
            out->in_density[li] = nz / ((double)n * isz);
            li++;
        }
    }
    return ZS_OK;
}

/* ---- timing ------------------------------------------------------------------------ */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct worker {
    pthread_t th;
    zs_net *nets[256 + 1];
    int n_nets;
    const float *pool;  /* (n_pool, C, H, W) */
    int n_pool, batch;
    size_t insz;
    float *out;         /* (batch, K) */
    double warmup, slot;
    int reps;
    double *rates;      /* (reps) words/s of this worker */
    pthread_barrier_t *bar;
    zs_status st;
    char err[256];
} worker;

/* One call: next network, next batch of inputs. */
static zs_status worker_call(worker *w, long c) {
    int span = w->n_pool - w->batch + 1;
    size_t off = (size_t)((c * w->batch) % span) * w->insz;
    zs_net *net = w->nets[c % w->n_nets];
    return zs_net_infer(net, w->pool + off, w->batch, w->out);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    long c = 0;
    zs_set_threads(1); /* a per-thread setting (OpenMP): one core per worker */
    zs_status st = ZS_OK;
    double t0 = now_s();
    /* warm-up: every network at least once (plans are built lazily) */
    while (st == ZS_OK && (c < w->n_nets || now_s() - t0 < w->warmup)) st = worker_call(w, c++);
    for (int r = 0; r < w->reps; r++) {
        pthread_barrier_wait(w->bar);
        long calls = 0;
        double t1 = now_s(), dt = 0;
        while (st == ZS_OK) {
            st = worker_call(w, c++);
            calls++;
            dt = now_s() - t1;
            if (dt >= w->slot && calls >= w->n_nets) break;
        }
        w->rates[r] = st == ZS_OK && dt > 0 ? (double)calls * w->batch / dt : 0;
    }
    w->st = st;
    if (st) snprintf(w->err, sizeof w->err, "%s", zs_last_error());
    return NULL;
}

typedef struct row {
    char engine[16], mode[8];
    int threads, batch, networks;
    double wps, wps_min, wps_max;
    net_cost cost;
    int reps;
} row;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Run one configuration: nets[0..N) served by T workers. */
static zs_status run_config(const bench_opts *o, const net_source *src, zs_net **nets, int N, int T,
                            int batch, const float *pool, int n_pool, size_t insz, int K, row *rw) {
    zs_status st = ZS_OK;
    worker *ws = calloc((size_t)T, sizeof *ws);
    double *rates = calloc((size_t)T * o->reps, sizeof *rates);
    zs_net **replicas = calloc((size_t)T, sizeof *replicas);
    pthread_barrier_t bar;
    int started = 0;
    if (!ws || !rates || !replicas) { st = ZS_ERR(ZS_ENOMEM, "out of memory"); goto done; }
    for (int w = 0; w < T; w++) {
        worker *wk = &ws[w];
        for (int i = w; i < N; i += T) wk->nets[wk->n_nets++] = nets[i];
        if (wk->n_nets == 0) { /* replica of network w % N */
            if ((st = make_net(src, w % N, o->seed, &replicas[w]))) goto done;
            wk->nets[wk->n_nets++] = replicas[w];
        }
        wk->pool = pool;
        wk->n_pool = n_pool;
        wk->batch = batch;
        wk->insz = insz;
        wk->warmup = o->warmup;
        wk->slot = o->seconds / o->reps;
        wk->reps = o->reps;
        wk->rates = rates + (size_t)w * o->reps;
        wk->bar = &bar;
        if (!(wk->out = calloc((size_t)batch * K, sizeof(float)))) { st = ZS_ERR(ZS_ENOMEM, "out of memory"); goto done; }
    }
    pthread_barrier_init(&bar, NULL, (unsigned)T);
    for (int w = 0; w < T; w++) {
        if (pthread_create(&ws[w].th, NULL, worker_main, &ws[w])) {
            /* cannot start: the barrier would never open for the others */
            fprintf(stderr, "zeroskip %s: cannot start thread %d\n", CMD, w);
            exit(EXIT_FAIL);
        }
        started++;
    }
    for (int w = 0; w < started; w++) pthread_join(ws[w].th, NULL);
    pthread_barrier_destroy(&bar);
    for (int w = 0; w < T; w++)
        if (ws[w].st) { st = ZS_ERR(ws[w].st, "%s", ws[w].err); goto done; }
    double agg[1000];
    for (int r = 0; r < o->reps; r++) {
        agg[r] = 0;
        for (int w = 0; w < T; w++) agg[r] += rates[(size_t)w * o->reps + r];
    }
    qsort(agg, (size_t)o->reps, sizeof agg[0], cmp_double);
    int m = o->reps;
    rw->wps = m % 2 ? agg[m / 2] : 0.5 * (agg[m / 2 - 1] + agg[m / 2]);
    rw->wps_min = agg[0];
    rw->wps_max = agg[m - 1];
    rw->reps = m;
done:
    if (ws)
        for (int w = 0; w < T; w++) free(ws[w].out);
    if (replicas)
        for (int w = 0; w < T; w++) zs_net_free(replicas[w]);
    free(replicas);
    free(rates);
    free(ws);
    return st;
}

/* ---- peers (ONNX Runtime, PyTorch) through their bench/ scripts ------------------- */

/* snprintf that reports truncation: 0, or -1 if the text did not fit. */
static int fmt(char *buf, size_t n, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(char *buf, size_t n, const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    int r = vsnprintf(buf, n, f, ap);
    va_end(ap);
    return (r < 0 || (size_t)r >= n) ? -1 : 0;
}

/* 'x' quoted for sh into buf; 0, or -1 if it does not fit. */
static int sh_quote(const char *s, char *buf, size_t n) {
    size_t j = 0;
    if (n < 3) return -1;
    buf[j++] = '\'';
    for (; *s; s++) {
        if (*s == '\'') {
            if (j + 5 >= n) return -1;
            memcpy(buf + j, "'\\''", 4);
            j += 4;
        } else {
            if (j + 2 >= n) return -1;
            buf[j++] = *s;
        }
    }
    buf[j++] = '\'';
    buf[j] = 0;
    return 0;
}

/* The bench/ folder: $ZS_BENCH_DIR, ./bench, or <exe dir>/../bench. */
static int find_bench_dir(char *dir, size_t n) {
    const char *e = getenv("ZS_BENCH_DIR");
    char p[4096];
    if (e && *e) { snprintf(dir, n, "%s", e); return 0; }
    if (file_exists("bench/ort_bench.js")) { snprintf(dir, n, "bench"); return 0; }
    ssize_t len = readlink("/proc/self/exe", p, sizeof p - 1);
    if (len > 0) {
        p[len] = 0;
        char *slash = strrchr(p, '/');
        if (slash) {
            *slash = 0;
            char q[4200];
            if (!fmt(q, sizeof q, "%s/../bench/ort_bench.js", p) && file_exists(q) &&
                !fmt(dir, n, "%s/../bench", p))
                return 0;
        }
    }
    return -1;
}

/* Run `cmd` (stdout captured, stderr to errfile). Returns the output
 * (malloc'ed) on exit status 0; else NULL and *why = the last stderr line. */
static char *run_capture(const char *cmd, const char *errfile, char *why, size_t nwhy) {
    char full[8192];
    char qe[1200];
    if (sh_quote(errfile, qe, sizeof qe) || fmt(full, sizeof full, "%s 2>%s", cmd, qe)) {
        snprintf(why, nwhy, "command line too long");
        return NULL;
    }
    FILE *p = popen(full, "r");
    if (!p) { snprintf(why, nwhy, "popen: %s", strerror(errno)); return NULL; }
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    size_t got;
    while (out && (got = fread(out + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (len + 1 == cap) {
            char *t = realloc(out, cap *= 2);
            if (!t) { free(out); out = NULL; }
            else out = t;
        }
    }
    int rc = pclose(p);
    if (out) out[len] = 0;
    if (out && rc == 0) return out;
    free(out);
    /* reason: the last non-empty line of stderr */
    why[0] = 0;
    FILE *f = fopen(errfile, "r");
    char line[1024];
    while (f && fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r')) line[--l] = 0;
        if (l) snprintf(why, nwhy, "%s", line);
    }
    if (f) fclose(f);
    if (!why[0]) snprintf(why, nwhy, "exit status %d", WIFEXITED(rc) ? WEXITSTATUS(rc) : rc);
    return NULL;
}

static int write_f32(const char *path, const float *x, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(x, sizeof(float), n, f); /* the host is little-endian (x86-64) */
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

static void list_str(const int *v, int n, char *buf, size_t cap) {
    size_t j = 0;
    buf[0] = 0;
    for (int i = 0; i < n && j < cap; i++) j += (size_t)snprintf(buf + j, cap - j, i ? ",%d" : "%d", v[i]);
}

typedef struct peer_ctx {
    char dir[4096];     /* bench/ */
    char tmp[64];       /* scratch folder */
    const char *python;
    int verify;         /* check files written */
} peer_ctx;

/* Parse a peer's JSON into rows; prints its verification. */
static int peer_rows(const char *engine, const char *text, const net_cost *cost, int quiet,
                     row *rows, int *n_rows, char *why, size_t nwhy) {
    cJSON *root = cJSON_Parse(text);
    const cJSON *arr = root ? cJSON_GetObjectItemCaseSensitive(root, "rows") : NULL;
    if (!cJSON_IsArray(arr)) {
        snprintf(why, nwhy, "no JSON rows in its output");
        cJSON_Delete(root);
        return -1;
    }
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "verify");
    if (!quiet && cJSON_IsObject(v)) {
        double d = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(v, "max_abs_diff"));
        double a = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(v, "argmax_agree"));
        int n = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(v, "n"));
        printf("peer %s %s: outputs vs zeroskip dense on %d inputs: max |diff| %.3g, argmax agree %.0f%%%s\n",
               engine, cJSON_IsString(ver) ? ver->valuestring : "", n, d, 100 * a,
               (d <= 1e-3 && a == 1.0) ? " (match)" : " (MISMATCH)");
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) {
        if (*n_rows >= MAX_ROWS) break;
        row *r = &rows[(*n_rows)++];
        memset(r, 0, sizeof *r);
        snprintf(r->engine, sizeof r->engine, "%s", engine);
        snprintf(r->mode, sizeof r->mode, "dense");
        r->threads = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "threads"));
        r->batch = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "batch"));
        r->networks = 1;
        r->wps = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "words_per_s"));
        r->wps_min = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "words_per_s_min"));
        r->wps_max = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "words_per_s_max"));
        r->reps = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "reps"));
        r->cost = *cost;
    }
    cJSON_Delete(root);
    return 0;
}

static void peer_unavailable(const char *engine, const char *why, cJSON *unav, int json) {
    if (!json) printf("peer %s unavailable: %s\n", engine, why);
    else fprintf(stderr, "peer %s unavailable: %s\n", engine, why);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "engine", engine);
    cJSON_AddStringToObject(o, "reason", why);
    cJSON_AddItemToArray(unav, o);
}

static void run_peers(const bench_opts *o, peer_ctx *pc, const char *model_path, const net_cost *dcost,
                      const char *inputs, row *rows, int *n_rows, cJSON *unav) {
    char q_dir[8200], q_model[8200], q_py[1200], q_in[256], q_ci[256], q_cr[256];
    char lb[256], lt[256], extra[1024], cmd[8192], errf[128], why[1024];
    list_str(o->batch, o->n_batch, lb, sizeof lb);
    list_str(o->threads, o->n_threads, lt, sizeof lt);
    char p[4200];
    fmt(p, sizeof p, "%s/ci.f32", pc->tmp);
    sh_quote(p, q_ci, sizeof q_ci);
    fmt(p, sizeof p, "%s/cr.f32", pc->tmp);
    sh_quote(p, q_cr, sizeof q_cr);
    sh_quote(inputs, q_in, sizeof q_in);
    if (sh_quote(pc->python, q_py, sizeof q_py) || sh_quote(model_path, q_model, sizeof q_model)) {
        peer_unavailable("pytorch", "path too long", unav, o->json);
        return;
    }
    fmt(extra, sizeof extra, "--batch %s --threads %s --seconds %g --reps %d --input %s%s%s%s%s",
             lb, lt, o->seconds, o->reps, q_in, pc->verify ? " --check-in " : "", pc->verify ? q_ci : "",
             pc->verify ? " --check-ref " : "", pc->verify ? q_cr : "");

    /* PyTorch */
    fmt(p, sizeof p, "%s/torch_bench.py", pc->dir);
    sh_quote(p, q_dir, sizeof q_dir);
    snprintf(errf, sizeof errf, "%s/torch.err", pc->tmp);
    if (fmt(cmd, sizeof cmd, "%s %s --model %s %s", q_py, q_dir, q_model, extra)) {
        peer_unavailable("pytorch", "command line too long", unav, o->json);
        return;
    }
    if (!o->json) fprintf(stderr, "bench: running PyTorch (%s)\n", pc->python);
    char *out = run_capture(cmd, errf, why, sizeof why);
    if (!out || peer_rows("pytorch", out, dcost, o->json, rows, n_rows, why, sizeof why))
        peer_unavailable("pytorch", why, unav, o->json);
    free(out);

    /* ONNX Runtime: export, then node */
    char onnx[128], q_onnx[256], q_js[8200];
    snprintf(onnx, sizeof onnx, "%s/dense.onnx", pc->tmp);
    sh_quote(onnx, q_onnx, sizeof q_onnx);
    snprintf(errf, sizeof errf, "%s/node.err", pc->tmp);
    out = run_capture("command -v node", errf, why, sizeof why);
    if (!out) { peer_unavailable("onnxruntime", "node not found (apt install nodejs)", unav, o->json); return; }
    free(out);
    fmt(p, sizeof p, "%s/export_onnx.py", pc->dir);
    sh_quote(p, q_dir, sizeof q_dir);
    snprintf(errf, sizeof errf, "%s/export.err", pc->tmp);
    if (fmt(cmd, sizeof cmd, "%s %s --model %s --out %s", q_py, q_dir, q_model, q_onnx)) {
        peer_unavailable("onnxruntime", "command line too long", unav, o->json);
        return;
    }
    if (!o->json) fprintf(stderr, "bench: exporting the dense network to ONNX\n");
    out = run_capture(cmd, errf, why, sizeof why);
    if (!out) {
        char w2[1100];
        fmt(w2, sizeof w2, "export to ONNX failed: %s", why);
        peer_unavailable("onnxruntime", w2, unav, o->json);
        return;
    }
    free(out);
    fmt(p, sizeof p, "%s/ort_bench.js", pc->dir);
    sh_quote(p, q_js, sizeof q_js);
    snprintf(errf, sizeof errf, "%s/ort.err", pc->tmp);
    if (fmt(cmd, sizeof cmd, "node %s --onnx %s %s", q_js, q_onnx, extra)) {
        peer_unavailable("onnxruntime", "command line too long", unav, o->json);
        return;
    }
    if (!o->json) fprintf(stderr, "bench: running ONNX Runtime\n");
    out = run_capture(cmd, errf, why, sizeof why);
    if (!out || peer_rows("onnxruntime", out, dcost, o->json, rows, n_rows, why, sizeof why))
        peer_unavailable("onnxruntime", why, unav, o->json);
    free(out);
}

/* ---- output ------------------------------------------------------------------------ */

static void cpu_name(char *buf, size_t n) {
    snprintf(buf, n, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ' || *c == '\t') c++;
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, n, "%s", c);
            }
            break;
        }
    }
    if (f) fclose(f);
}

/* 1-minute load average from /proc/loadavg, or -1: on a shared machine it
 * says how much the cores were ours. */
static double loadavg(void) {
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fscanf(f, "%lf", &l) != 1) l = -1;
    if (f) fclose(f);
    return l;
}

static const char *si(double v, char *buf, size_t n) {
    if (v >= 1e9) snprintf(buf, n, "%.2fG", v / 1e9);
    else if (v >= 1e6) snprintf(buf, n, "%.2fM", v / 1e6);
    else if (v >= 1e3) snprintf(buf, n, "%.1fk", v / 1e3);
    else snprintf(buf, n, "%.0f", v);
    return buf;
}

static void print_table(const row *rows, int n) {
    printf("%-11s %-6s %3s %5s %4s %11s %23s %11s %9s %9s %9s %9s %9s\n", "engine", "mode", "thr", "batch", "nets",
           "words/s", "(min..max)", "per-net", "us/word", "MACs/word", "GFLOP/s", "dense-eq", "bytes/net");
    for (int i = 0; i < n; i++) {
        const row *r = &rows[i];
        char a[32], b[32], c[64], d[32];
        snprintf(c, sizeof c, "(%.0f..%.0f)", r->wps_min, r->wps_max);
        double gu = 2e-9 * r->cost.macs * r->wps, gd = 2e-9 * r->cost.dense_macs * r->wps;
        printf("%-11s %-6s %3d %5d %4d %11.0f %23s %11.0f %9.2f %9s %9.2f %9.2f %9s\n", r->engine, r->mode, r->threads,
               r->batch, r->networks, r->wps, c, r->wps / r->networks, 1e6 / r->wps, si(r->cost.macs, a, sizeof a),
               gu, gd, si(r->cost.bytes, b, sizeof b));
        (void)d;
    }
}

static void print_cost(const char *mode, const net_cost *c) {
    char a[32], b[32];
    printf("%s MACs/word %s of %s dense-equivalent:", mode, si(c->macs, a, sizeof a), si(c->dense_macs, b, sizeof b));
    for (int i = 0; i < c->n_layers; i++)
        if (c->measured)
            printf("%s %s %s (%.0f%% inputs non-zero)", i ? "," : "", c->name[i], si(c->layer_macs[i], a, sizeof a),
                   100 * c->in_density[i]);
        else printf("%s %s %s", i ? "," : "", c->name[i], si(c->layer_macs[i], a, sizeof a));
    printf("\n");
}

static cJSON *cost_json(const net_cost *c) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "macs_per_word", c->macs);
    cJSON_AddNumberToObject(o, "dense_macs_per_word", c->dense_macs);
    cJSON_AddNumberToObject(o, "bytes_per_network", c->bytes);
    cJSON *l = cJSON_AddArrayToObject(o, "layers");
    for (int i = 0; i < c->n_layers; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", c->name[i]);
        cJSON_AddNumberToObject(e, "macs", c->layer_macs[i]);
        cJSON_AddNumberToObject(e, "dense_macs", c->layer_dense[i]);
        if (c->measured) cJSON_AddNumberToObject(e, "input_nonzero_fraction", c->in_density[i]);
        cJSON_AddItemToArray(l, e);
    }
    return o;
}

static cJSON *rows_json(const row *rows, int n) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        const row *r = &rows[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "engine", r->engine);
        cJSON_AddStringToObject(o, "mode", r->mode);
        cJSON_AddNumberToObject(o, "threads", r->threads);
        cJSON_AddNumberToObject(o, "batch", r->batch);
        cJSON_AddNumberToObject(o, "networks", r->networks);
        cJSON_AddNumberToObject(o, "words_per_s", r->wps);
        cJSON_AddNumberToObject(o, "words_per_s_min", r->wps_min);
        cJSON_AddNumberToObject(o, "words_per_s_max", r->wps_max);
        cJSON_AddNumberToObject(o, "words_per_s_per_network", r->wps / r->networks);
        cJSON_AddNumberToObject(o, "us_per_word", 1e6 / r->wps);
        cJSON_AddNumberToObject(o, "macs_per_word", r->cost.macs);
        cJSON_AddNumberToObject(o, "dense_macs_per_word", r->cost.dense_macs);
        cJSON_AddNumberToObject(o, "gflops_useful", 2e-9 * r->cost.macs * r->wps);
        cJSON_AddNumberToObject(o, "gflops_dense_equivalent", 2e-9 * r->cost.dense_macs * r->wps);
        cJSON_AddNumberToObject(o, "bytes_per_network", r->cost.bytes);
        cJSON_AddNumberToObject(o, "reps", r->reps);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* Best words/s among rows matching engine ("zeroskip" or any peer: NULL
 * with peers=1), mode, and batch (0 = any), threads (0 = any), networks
 * (0 = any). Returns the row index or -1. */
static int best_row(const row *rows, int n, int peers, const char *mode, int batch, int threads, int networks) {
    int best = -1;
    for (int i = 0; i < n; i++) {
        const row *r = &rows[i];
        int is_zs = !strcmp(r->engine, "zeroskip");
        if (peers == is_zs) continue;
        if (mode && strcmp(r->mode, mode)) continue;
        if ((batch && r->batch != batch) || (threads && r->threads != threads) || (networks && r->networks != networks))
            continue;
        if (best < 0 || r->wps > rows[best].wps) best = i;
    }
    return best;
}

static void add_ratio(cJSON *ratios, const char *name, double value, double target, int json, const char *what) {
    if (!json) {
        if (target > 0)
            printf("  %-44s %8.2f  (target >= %g: %s)\n", what, value, target, value >= target ? "met" : "not met");
        else printf("  %-44s %8.2f\n", what, value);
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "value", value);
    if (target > 0) {
        cJSON_AddNumberToObject(o, "target", target);
        cJSON_AddBoolToObject(o, "met", value >= target);
    }
    cJSON_AddStringToObject(o, "what", what);
    cJSON_AddItemToObject(ratios, name, o);
}

static void print_ratios(const bench_opts *o, const row *rows, int n, const char *arch, cJSON *ratios) {
    char what[160];
    if (!o->json) printf("\nratios (same run):\n");
    int bs = best_row(rows, n, 0, "sparse", 0, 0, 0);
    int bd = best_row(rows, n, 0, "dense", 0, 0, 0);
    int bp = best_row(rows, n, 1, NULL, 0, 0, 0);
    int fast = strstr(arch, "fast") != NULL;
    if (bs >= 0 && bp >= 0) {
        snprintf(what, sizeof what, "zeroskip sparse best / best peer dense (%s t%d b%d)", rows[bp].engine,
                 rows[bp].threads, rows[bp].batch);
        add_ratio(ratios, "sparse_vs_best_peer", rows[bs].wps / rows[bp].wps, fast ? 15 : 5, o->json, what);
        double useful = 2e-9 * rows[bs].cost.macs * rows[bs].wps, peer = 2e-9 * rows[bp].cost.macs * rows[bp].wps;
        add_ratio(ratios, "useful_gflops_vs_peer", useful / peer, 0.5, o->json,
                  "useful GFLOP/s sparse / peer dense GFLOP/s");
        for (int i = 0; i < o->n_batch; i++) {
            int s = best_row(rows, n, 0, "sparse", o->batch[i], 0, 0), p = best_row(rows, n, 1, NULL, o->batch[i], 0, 0);
            if (s < 0 || p < 0) continue;
            char name[64];
            snprintf(name, sizeof name, "sparse_vs_peer_batch%d", o->batch[i]);
            snprintf(what, sizeof what, "  batch %d: sparse best / peer best", o->batch[i]);
            add_ratio(ratios, name, rows[s].wps / rows[p].wps, 0, o->json, what);
        }
    }
    if (bd >= 0 && bp >= 0)
        add_ratio(ratios, "zs_dense_vs_best_peer", rows[bd].wps / rows[bp].wps, 0, o->json,
                  "zeroskip dense best / best peer dense");
    if (bs >= 0 && bd >= 0)
        add_ratio(ratios, "sparse_vs_zs_dense", rows[bs].wps / rows[bd].wps, 0, o->json,
                  "zeroskip sparse best / zeroskip dense best");
    int b1 = best_row(rows, n, 0, "sparse", 1, 1, 1);
    if (b1 >= 0)
        add_ratio(ratios, "batch1_one_core_words_per_s", rows[b1].wps, 35714, o->json,
                  "sparse batch 1, 1 thread, 1 network: words/s");
    if (bs >= 0 && bd >= 0)
        add_ratio(ratios, "bytes_dense_vs_sparse", rows[bd].cost.bytes / rows[bs].cost.bytes, 5, o->json,
                  "model bytes dense / sparse");
    /* many networks: aggregate at the most networks vs one network, at the
     * highest thread count, per batch */
    int maxn = 1, maxt = 1;
    for (int i = 0; i < o->n_nets; i++) maxn = o->nets[i] > maxn ? o->nets[i] : maxn;
    for (int i = 0; i < o->n_threads; i++) maxt = o->threads[i] > maxt ? o->threads[i] : maxt;
    if (maxn > 1)
        for (int i = 0; i < o->n_batch; i++) {
            int a = best_row(rows, n, 0, "sparse", o->batch[i], maxt, maxn);
            int b = best_row(rows, n, 0, "sparse", o->batch[i], maxt, 1);
            if (a < 0 || b < 0) continue;
            char name[64];
            snprintf(name, sizeof name, "networks%d_vs_1_batch%d", maxn, o->batch[i]);
            snprintf(what, sizeof what, "sparse %d nets / 1 net, t%d b%d (aggregate)", maxn, maxt, o->batch[i]);
            add_ratio(ratios, name, rows[a].wps / rows[b].wps, 0.8, o->json, what);
        }
}

static int write_plot(const char *png, const row *rows, int n, const char *title, const char *tmpdir) {
    char dat[128], gp[128];
    snprintf(dat, sizeof dat, "%s/plot.dat", tmpdir);
    snprintf(gp, sizeof gp, "%s/plot.gp", tmpdir);
    FILE *f = fopen(dat, "w");
    if (!f) return -1;
    for (int i = 0; i < n; i++) {
        const row *r = &rows[i];
        int color = !strcmp(r->engine, "zeroskip") ? (!strcmp(r->mode, "sparse") ? 1 : 2)
                    : !strcmp(r->engine, "onnxruntime") ? 3 : 4;
        fprintf(f, "\"%s%s t%d b%d n%d\" %.3f %d\n",
                !strcmp(r->engine, "zeroskip") ? "" : !strcmp(r->engine, "onnxruntime") ? "ort" : "torch",
                !strcmp(r->engine, "zeroskip") ? (color == 1 ? "sp" : "dn") : "", r->threads, r->batch,
                r->networks, r->wps, color);
    }
    fclose(f);
    char qpng[4200], qdat[256];
    if (sh_quote(png, qpng, sizeof qpng)) return -1;
    sh_quote(dat, qdat, sizeof qdat);
    char t[512];
    size_t j = 0;
    for (const char *c = title; *c && j + 1 < sizeof t; c++) /* no quotes into gnuplot's string */
        t[j++] = (*c == '"' || (*c == '\\' && c[1] != 'n')) ? '_' : *c;
    t[j] = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!(f = fopen(gp, "w"))) return -1;
        int w = 160 + 22 * n < 640 ? 640 : 160 + 22 * n;
        fprintf(f, "set terminal %s size %d,640\n", attempt ? "png" : "pngcairo", w > 4000 ? 4000 : w);
        fprintf(f, "set output %s\nset title \"%s\" noenhanced font ',10'\n", qpng, t);
        fprintf(f, "set style fill solid 0.85 border -1\nset boxwidth 0.8\nset logscale y\n"
                   "set ylabel 'words/s (aggregate, median)'\nset grid ytics\nset key top left\n"
                   "set xtics rotate by -60 font ',8' noenhanced\nset xrange [-1:%d]\n", n);
        fprintf(f, "plot %s u 0:($3==1?$2:1/0):xtic(1) w boxes lc rgb '#1b9e77' t 'zeroskip sparse', \\\n"
                   " '' u 0:($3==2?$2:1/0) w boxes lc rgb '#7570b3' t 'zeroskip dense', \\\n"
                   " '' u 0:($3==3?$2:1/0) w boxes lc rgb '#d95f02' t 'ONNX Runtime', \\\n"
                   " '' u 0:($3==4?$2:1/0) w boxes lc rgb '#e7298a' t 'PyTorch'\n", qdat);
        fclose(f);
        char cmd[512], q_gp[256];
        sh_quote(gp, q_gp, sizeof q_gp);
        snprintf(cmd, sizeof cmd, "gnuplot %s 2>/dev/null", q_gp);
        if (system(cmd) == 0 && file_exists(png)) return 0;
    }
    return -1;
}

static void rm_tree(const char *dir) {
    char cmd[256], q[200];
    if (!dir[0] || strncmp(dir, "/tmp/zsbench.", 13) || sh_quote(dir, q, sizeof q)) return;
    snprintf(cmd, sizeof cmd, "rm -rf %s", q);
    if (system(cmd) != 0) fprintf(stderr, "zeroskip %s: could not remove %s\n", CMD, dir);
}

/* ---- main -------------------------------------------------------------------------- */

int cmd_bench(int argc, char **argv) {
    bench_opts o;
    int pr = parse_opts(argc, argv, &o);
    if (pr > 0) return EXIT_OK;
    if (pr < 0) {
        fprintf(stderr, "usage: %s\n", USAGE);
        return EXIT_USAGE;
    }
    int rc = EXIT_OK;
    zs_status st;
    net_source src[2];
    memset(src, 0, sizeof src);
    zs_dataset *ds = NULL;
    float *pool = NULL;
    row *rows = calloc(MAX_ROWS, sizeof *rows);
    zs_net *nets[256];
    int n_nets_made = 0;
    cJSON *unav = cJSON_CreateArray(), *ratios = cJSON_CreateObject();
    char tmpdir[64] = "";
    int n_rows = 0;
    net_cost cost[2];
    memset(cost, 0, sizeof cost);
    if (!rows || !unav || !ratios) { rc = cli_fail(CMD, ZS_ERR(ZS_ENOMEM, "out of memory")); goto out; }

    zs_set_threads(1); /* workers are the parallelism: GEMM stays on its thread */
    /* sources: [0] sparse = the model; [1] dense = --dense-model, the dense
     * preset twin, or the model itself on the dense path */
    if ((st = source_init(&src[0], o.model, 0, o.seed))) { rc = cli_fail(CMD, st); goto out; }
    const char *dspec = o.dense_model;
    if (!dspec && src[0].is_preset && !strncmp(o.model, "gsc-", 4)) dspec = "gsc-dense";
    if ((st = source_init(&src[1], dspec ? dspec : o.model, 1, o.seed))) { rc = cli_fail(CMD, st); goto out; }

    /* input pool */
    zs_net *probe = NULL;
    if ((st = make_net(&src[0], 0, o.seed, &probe))) { rc = cli_fail(CMD, st); goto out; }
    int C, H, W;
    zs_net_input_shape(probe, &C, &H, &W);
    int K = zs_net_num_classes(probe);
    zs_net_free(probe);
    size_t insz = (size_t)C * H * W;
    int maxb = 1;
    for (int i = 0; i < o.n_batch; i++) maxb = o.batch[i] > maxb ? o.batch[i] : maxb;
    int n_pool = maxb > POOL_MAX ? maxb : (2 * maxb > 64 ? (2 * maxb < POOL_MAX ? 2 * maxb : POOL_MAX) : 64);
    if (!(pool = malloc(sizeof(float) * insz * (size_t)n_pool))) { rc = cli_fail(CMD, ZS_ERR(ZS_ENOMEM, "out of memory")); goto out; }
    char input_desc[512];
    if (o.data) {
        if ((st = zs_dataset_load(&ds, o.data))) { rc = cli_fail(CMD, st); goto out; }
        int dc, dh, dw, dn = zs_dataset_size(ds);
        zs_dataset_shape(ds, &dc, &dh, &dw);
        if (dc != C || dh != H || dw != W || dn < 1) {
            fprintf(stderr, "zeroskip %s: %s: samples are %dx%dx%d, the model wants %dx%dx%d\n", CMD, o.data, dc, dh,
                    dw, C, H, W);
            rc = EXIT_FAIL;
            goto out;
        }
        const float *f = zs_dataset_features_const(ds);
        for (int i = 0; i < n_pool; i++) memcpy(pool + (size_t)i * insz, f + (size_t)(i % dn) * insz, insz * sizeof(float));
        snprintf(input_desc, sizeof input_desc, "%d samples from %s (cycled)", dn < n_pool ? dn : n_pool, o.data);
    } else {
        zs_rng rng;
        zs_rng_seed(&rng, 12345);
        for (size_t i = 0; i < insz * (size_t)n_pool; i += 2) { /* Box-Muller */
            double u1 = (zs_rng_uniform(&rng) + 0x1p-25), u2 = zs_rng_uniform(&rng);
            double r = sqrt(-2.0 * log(u1));
            pool[i] = (float)(r * cos(6.283185307179586 * u2));
            if (i + 1 < insz * (size_t)n_pool) pool[i + 1] = (float)(r * sin(6.283185307179586 * u2));
        }
        snprintf(input_desc, sizeof input_desc, "%d standard-normal samples (%dx%dx%d)", n_pool, C, H, W);
    }

    char cpu[256];
    cpu_name(cpu, sizeof cpu);
    double load0 = loadavg();
    if (!o.json) {
        printf("zeroskip bench %s: model %s (%s%s), dense rows: %s%s\n", zs_version(), o.model, src[0].arch_name,
               src[0].is_preset ? ", preset" : "", src[1].spec, src[1].spec == o.model ? " on the dense path" : "");
        printf("cpu: %s, %d online CPUs, isa %s (active %s); networks i>0: same architecture, seed %llu+i\n", cpu,
               online_cpus(), zs_isa_name(zs_isa_cpu()), zs_isa_name(zs_isa_active()), (unsigned long long)o.seed);
        printf("inputs: %s; %g s per configuration in %d repetitions after %g s warm-up\n\n", input_desc, o.seconds,
               o.reps, o.warmup);
    }

    int maxn = 1, maxt = 1;
    for (int i = 0; i < o.n_nets; i++) maxn = o.nets[i] > maxn ? o.nets[i] : maxn;
    for (int i = 0; i < o.n_threads; i++) maxt = o.threads[i] > maxt ? o.threads[i] : maxt;
    int sparse_plan = -1;
    int progress = !o.json && isatty(2);
    for (int m = 0; m < 2; m++) {
        if ((m == 0 && !o.do_sparse) || (m == 1 && !o.do_dense && !o.peers)) continue;
        for (int i = 0; i < maxn; i++, n_nets_made++)
            if ((st = make_net(&src[m], i, o.seed, &nets[i]))) { rc = cli_fail(CMD, st); goto out; }
        int nc = n_pool < 64 ? n_pool : 64;
        if ((st = net_cost_measure(nets[0], m == 0, pool, nc, &cost[m]))) { rc = cli_fail(CMD, st); goto out; }
        if (m == 1 && o.dense_model == NULL && !src[1].is_preset && src[1].spec == o.model)
            cost[1].dense_macs = cost[1].macs; /* masked dense: same shapes */
        if (m == 0 || o.do_dense)
            for (int ti = 0; ti < o.n_threads; ti++)
                for (int bi = 0; bi < o.n_batch; bi++)
                    for (int ni = 0; ni < o.n_nets; ni++) {
                        row *r = &rows[n_rows];
                        memset(r, 0, sizeof *r);
                        snprintf(r->engine, sizeof r->engine, "zeroskip");
                        snprintf(r->mode, sizeof r->mode, "%s", m == 0 ? "sparse" : "dense");
                        r->threads = o.threads[ti];
                        r->batch = o.batch[bi];
                        r->networks = o.nets[ni];
                        r->cost = cost[m];
                        if (progress)
                            fprintf(stderr, "\rbench: %s threads %d batch %d networks %d ...   ", r->mode, r->threads,
                                    r->batch, r->networks);
                        if ((st = run_config(&o, &src[m], nets, r->networks, r->threads, r->batch, pool, n_pool, insz,
                                             K, r))) {
                            if (progress) fprintf(stderr, "\n");
                            rc = cli_fail(CMD, st);
                            goto out;
                        }
                        n_rows++;
                        if (m == 0 && sparse_plan < 0) sparse_plan = nets[0]->kernels != NULL;
                    }
        if (progress && (m == 0 || o.do_dense)) fprintf(stderr, "\r%60s\r", "");
        if (m == 1 && o.peers) {
            /* the dense network 0 goes to the peers as a model file */
            peer_ctx pc;
            memset(&pc, 0, sizeof pc);
            pc.python = getenv("PYTHON") && *getenv("PYTHON") ? getenv("PYTHON") : "/usr/bin/python3";
            snprintf(tmpdir, sizeof tmpdir, "/tmp/zsbench.XXXXXX");
            if (!mkdtemp(tmpdir)) {
                tmpdir[0] = 0;
                peer_unavailable("all", "cannot create a temporary folder", unav, o.json);
            } else if (find_bench_dir(pc.dir, sizeof pc.dir)) {
                peer_unavailable("all", "bench/ scripts not found (run from the repository root or set ZS_BENCH_DIR)",
                                 unav, o.json);
            } else {
                snprintf(pc.tmp, sizeof pc.tmp, "%s", tmpdir);
                char mpath[128], ipath[128], ci[128], cr[128];
                snprintf(mpath, sizeof mpath, "%s/dense.safetensors", tmpdir);
                snprintf(ipath, sizeof ipath, "%s/inputs.f32", tmpdir);
                snprintf(ci, sizeof ci, "%s/ci.f32", tmpdir);
                snprintf(cr, sizeof cr, "%s/cr.f32", tmpdir);
                if ((st = zs_net_save(nets[0], mpath)) || write_f32(ipath, pool, insz * (size_t)n_pool)) {
                    peer_unavailable("all", st ? zs_last_error() : "cannot write the inputs", unav, o.json);
                } else {
                    /* the dense twin equals zeroskip's network only without k-WTA */
                    if (!src[1].has_kwta) {
                        int nv = n_pool < 8 ? n_pool : 8;
                        float *ref = malloc(sizeof(float) * (size_t)nv * K);
                        if (ref && zs_net_infer(nets[0], pool, nv, ref) == ZS_OK && !write_f32(ci, pool, insz * nv) &&
                            !write_f32(cr, ref, (size_t)nv * K))
                            pc.verify = 1;
                        free(ref);
                    } else if (!o.json) {
                        printf("peers run the dense twin (k-WTA -> ReLU) of %s: outputs are not compared\n",
                               src[1].spec);
                    }
                    run_peers(&o, &pc, mpath, &cost[1], ipath, rows, &n_rows, unav);
                }
            }
        }
        for (int i = 0; i < maxn; i++) zs_net_free(nets[i]);
        n_nets_made = 0;
    }

    double load1 = loadavg();
    if (!o.json) {
        if (sparse_plan == 0) printf("note: no fast sparse plan in this build: sparse rows ran the reference path\n");
        if (o.do_sparse) print_cost("sparse", &cost[0]);
        if (o.do_dense || o.peers) print_cost("dense ", &cost[1]);
        printf("\n");
        print_table(rows, n_rows);
        printf("load average (1 min): %.2f at start, %.2f at end, on %d CPUs\n", load0, load1, online_cpus());
    }
    print_ratios(&o, rows, n_rows, src[0].arch_name, ratios); /* prints unless --json */
    if (o.json || o.json_out) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "zeroskip_version", zs_version());
        cJSON_AddStringToObject(root, "model", o.model);
        cJSON_AddStringToObject(root, "arch", src[0].arch_name);
        cJSON_AddStringToObject(root, "dense_model", src[1].spec);
        cJSON_AddStringToObject(root, "cpu", cpu);
        cJSON_AddNumberToObject(root, "online_cpus", online_cpus());
        cJSON_AddNumberToObject(root, "loadavg_start", load0);
        cJSON_AddNumberToObject(root, "loadavg_end", load1);
        cJSON_AddStringToObject(root, "isa", zs_isa_name(zs_isa_active()));
        cJSON_AddBoolToObject(root, "sparse_fast_plan", sparse_plan == 1);
        cJSON_AddStringToObject(root, "inputs", input_desc);
        cJSON_AddNumberToObject(root, "seconds", o.seconds);
        cJSON_AddNumberToObject(root, "reps", o.reps);
        cJSON_AddNumberToObject(root, "warmup", o.warmup);
        if (o.do_sparse) cJSON_AddItemToObject(root, "cost_sparse", cost_json(&cost[0]));
        if (o.do_dense || o.peers) cJSON_AddItemToObject(root, "cost_dense", cost_json(&cost[1]));
        cJSON_AddItemToObject(root, "rows", rows_json(rows, n_rows));
        cJSON_AddItemToObject(root, "ratios", ratios);
        ratios = NULL;
        cJSON_AddItemToObject(root, "peers_unavailable", unav);
        unav = NULL;
        char *s = cJSON_Print(root);
        cJSON_Delete(root);
        if (!s) { rc = cli_fail(CMD, ZS_ERR(ZS_ENOMEM, "out of memory")); goto out; }
        if (o.json) printf("%s\n", s);
        if (o.json_out) {
            FILE *f = fopen(o.json_out, "w");
            int bad = !f || fputs(s, f) < 0 || fputc('\n', f) < 0;
            if (f && fclose(f)) bad = 1;
            if (bad) {
                fprintf(stderr, "zeroskip %s: cannot write %s: %s\n", CMD, o.json_out, strerror(errno));
                rc = EXIT_IO;
            }
        }
        free(s);
    }
    if (o.plot) {
        if (!tmpdir[0]) {
            snprintf(tmpdir, sizeof tmpdir, "/tmp/zsbench.XXXXXX");
            if (!mkdtemp(tmpdir)) tmpdir[0] = 0;
        }
        char title[512];
        snprintf(title, sizeof title, "zeroskip bench: %s vs %s\\n%s, %d CPUs", o.model, src[1].spec, cpu,
                 online_cpus());
        if (!tmpdir[0] || write_plot(o.plot, rows, n_rows, title, tmpdir)) {
            fprintf(stderr, "zeroskip %s: could not write the plot %s (is gnuplot installed?)\n", CMD, o.plot);
            rc = EXIT_IO;
        } else if (!o.json) {
            printf("plot: %s\n", o.plot);
        }
    }
out:
    for (int i = 0; i < n_nets_made; i++) zs_net_free(nets[i]);
    if (tmpdir[0]) rm_tree(tmpdir);
    free(src[0].arch_json);
    free(src[1].arch_json);
    zs_dataset_free(ds);
    free(pool);
    free(rows);
    cJSON_Delete(unav);
    cJSON_Delete(ratios);
    return rc;
}
