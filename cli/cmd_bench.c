/*
 * cmd_bench.c — `zeroskip bench`: words/s of a sparse network against its
 * dense twin and the dense peers (ONNX Runtime fp32 and int8, PyTorch)
 * running the same dense network, measured so that a skeptic can trust the
 * ratio on a shared machine.
 *
 * Rounds. Every configuration row (engine, mode, threads T, batch B,
 * networks N) runs once per round for --seconds; rounds repeat --rounds
 * times and within a round the engines alternate (peer, zeroskip, peer,
 * zeroskip, ... per (T, B); the order is reversed every other round). So
 * each round's ratio compares runs made seconds apart under the same load;
 * the report gives every round's ratio and their median. The peers are
 * long-lived processes (bench/ort_bench.js, bench/torch_bench.py) driven by
 * a line protocol ("run SECONDS BATCH THREADS" -> words, wall, cpu), so no
 * engine is restarted between rounds.
 *
 * zeroskip rows: N copies of the model (network i > 0 is loaded from the same
 * file, or made from the same preset and seed: the same trained weights);
 * T pthreads serve them, worker w owns the networks i with i % T == w
 * round-robin, one batch of B inputs per zs_net_infer_with in the worker's
 * one executor (the scratch its networks share, as a server would). If N < T
 * the idle workers get one more copy each: every core serves some network,
 * as a server would. A row's rate is the sum over workers of their words
 * over their own elapsed time; CPU time is each worker's thread CPU clock.
 *
 * Inputs: real log-mel features (bench/data/gsc_test_256.safetensors, 256
 * Speech Commands test clips) unless --data or --random. MACs/word: useful
 * products counted on those inputs (zs_net_cost). Model size: the file's
 * bytes on disk and what zs_net_memory measures in memory; the scratch one
 * executor (per worker thread, whatever the number of networks) holds:
 * zs_net_scratch_bytes.
 *
 * --profile: per-stage wall time of the inference plan (preempted samples dropped)
 * (zs_net_profile) beside the measured per-core peaks (zs_cpu_peak_gflops,
 * zs_cpu_stream_gbps) and each stage's floor.
 *
 * What it is not: a test. Nothing here asserts a speed, and the project's
 * targets are in docs/BENCHMARKS.md, not here.
 */
#include "cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
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
#define MAX_ROWS 512
#define MAX_ROUNDS 101
#define MAX_NETS 256
#define POOL_MAX 1024      /* input samples kept for the run */
#define MAX_COST 64
#define DEFAULT_DATA "bench/data/gsc_test_256.safetensors"
#define DEFAULT_MODEL "models/gsc-sparse.safetensors"
/* How long a peer may take (seconds) for its ready line (imports, sessions)
 * and, beyond a run's own seconds, for a run's answer (first use warms up);
 * ZS_BENCH_PEER_TIMEOUT overrides both. A peer past it is killed. */
static double peer_timeout(double dflt) {
    const char *e = getenv("ZS_BENCH_PEER_TIMEOUT");
    double v = e && *e ? atof(e) : 0;
    return v > 0 ? v : dflt;
}
#define PEER_START_S peer_timeout(300)
#define PEER_RUN_S peer_timeout(120)

static const char *USAGE =
    "zeroskip bench [--model M] [--dense-model D] [--batch 1,64] [--networks 1,20] [--threads 1,N]\n"
    "                      [--seconds S] [--rounds R] [--warmup S] [--modes sparse,dense]\n"
    "                      [--data F | --random] [--seed N] [--json] [--json-out F] [--plot FILE.png]\n"
    "                      [--peers] [--profile] [--quick]";

static void help(void) {
    printf("usage: %s\n\n", USAGE);
    printf(
        "Words/s of a sparse network (sparse-sparse kernels) against its dense twin\n"
        "(im2col + GEMM path) and, with --peers, ONNX Runtime (fp32 and int8) and\n"
        "PyTorch running the dense twin, in interleaved rounds.\n\n"
        "  --model M         model file (safetensors) or preset name; default\n"
        "                    " DEFAULT_MODEL " (the preset gsc-sparse if missing)\n"
        "  --dense-model D   dense twin (file or preset) for the dense rows; default:\n"
        "                    gsc-dense for a gsc-* preset, gsc-dense.safetensors beside\n"
        "                    gsc-sparse.safetensors, else M\n"
        "                    itself on the dense path\n"
        "  --batch LIST      batch sizes (default 1,64)\n"
        "  --networks LIST   copies of the model served at once (default 1,20)\n"
        "  --threads LIST    worker threads (default 1,<online CPUs>)\n"
        "  --seconds S       measured time of every row in every round (default 1)\n"
        "  --rounds R        rounds; rows alternate engines within a round; medians,\n"
        "                    min, max and every round's ratio reported (default 5)\n"
        "  --warmup S        warm-up of each zeroskip row before round 1 (default 0.2)\n"
        "  --modes LIST      sparse, dense or both (default sparse,dense)\n"
        "  --data F          inputs from a data set file (default: the real log-mel\n"
        "                    features " DEFAULT_DATA ")\n"
        "  --random          standard-normal inputs instead of real features\n"
        "  --seed N          seed of preset networks and of --random (default 1)\n"
        "  --json            one JSON document on stdout instead of the table\n"
        "  --json-out F      the table on stdout and the JSON document into F\n"
        "  --plot FILE.png   bar chart of words/s per row (gnuplot)\n"
        "  --peers           also run the dense twin in ONNX Runtime fp32 and int8\n"
        "                    (bench/export_onnx.py, bench/ort_bench.js under node)\n"
        "                    and PyTorch (bench/torch_bench.py); ZS_BENCH_DIR sets\n"
        "                    the bench/ folder, PYTHON the interpreter; a peer\n"
        "                    silent for ZS_BENCH_PEER_TIMEOUT s (default 300 to\n"
        "                    start, 120 beyond a run) is dropped\n"
        "  --profile         instead of the rounds: time per stage of the sparse\n"
        "                    model's inference plan, GMAC/s per stage, the CPU's\n"
        "                    measured peak and each stage's floor\n"
        "  --int8-weights    the sparse model's sparse-input convs in integers (int8\n"
        "                    weights, u8 inputs; zs_net_set_int8_weights): smaller\n"
        "                    and faster, answers not exact\n"
        "  --quick           smoke run: batch 1,16, networks 1,2, threads 1,\n"
        "                    0.05 s per row, 2 rounds\n\n"
        "A missing peer prints \"peer X unavailable: reason\" and is not an error.\n");
}

/* ---- options --------------------------------------------------------------- */

typedef struct bench_opts {
    const char *model, *dense_model, *data, *plot, *json_out;
    int batch[MAX_LIST], n_batch;
    int nets[MAX_LIST], n_nets;
    int threads[MAX_LIST], n_threads;
    double seconds, warmup;
    int rounds;
    int do_sparse, do_dense;
    int json, peers, quick, random, profile, int8_weights;
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

static int file_exists(const char *p) {
    struct stat s;
    return stat(p, &s) == 0;
}

/* A file of the repository: REL in the working folder, else beside the
 * executable (<exe dir>/../REL). 0 and the path in buf, or -1. */
static int repo_file(const char *rel, char *buf, size_t n) {
    if (file_exists(rel)) { snprintf(buf, n, "%s", rel); return 0; }
    char p[4096];
    ssize_t len = readlink("/proc/self/exe", p, sizeof p - 1);
    if (len <= 0) return -1;
    p[len] = 0;
    char *slash = strrchr(p, '/');
    if (!slash) return -1;
    *slash = 0;
    int w = snprintf(buf, n, "%s/../%s", p, rel);
    return (w > 0 && (size_t)w < n && file_exists(buf)) ? 0 : -1;
}

/* 0 ok, 1 --help printed, -1 usage error (printed). */
static int parse_opts(int argc, char **argv, bench_opts *o) {
    memset(o, 0, sizeof *o);
    o->seconds = o->warmup = -1;
    o->rounds = -1;
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
        if (!strcmp(a, "--random")) { o->random = 1; continue; }
        if (!strcmp(a, "--profile")) { o->profile = 1; continue; }
        if (!strcmp(a, "--int8-weights")) { o->int8_weights = 1; continue; }
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
            if (r < 0 || parse_list("--networks", v, 1, MAX_NETS - 16, o->nets, &o->n_nets)) return -1;
            continue;
        }
        if (OPT("--threads")) {
            if (r < 0 || parse_list("--threads", v, 1, 16, o->threads, &o->n_threads)) return -1;
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
        if (OPT("--rounds")) {
            long n;
            if (r < 0 || cli_int(CMD, "--rounds", v, 1, MAX_ROUNDS, &n)) return -1;
            o->rounds = (int)n;
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
    if (o->random && o->data) {
        fprintf(stderr, "zeroskip %s: --random and --data exclude each other\n", CMD);
        return -1;
    }
    /* defaults (--quick's first; explicit options win) */
    if (!o->n_batch) {
        o->n_batch = 2;
        o->batch[0] = 1;
        o->batch[1] = o->quick ? 16 : 64;
    }
    if (!o->n_nets) {
        o->n_nets = 2;
        o->nets[0] = 1;
        o->nets[1] = o->quick ? 2 : 20;
    }
    if (!o->n_threads) {
        int c = cli_online_cpus();
        o->threads[0] = 1;
        o->n_threads = 1;
        if (!o->quick && c > 1) o->threads[o->n_threads++] = c > 16 ? 16 : c;
    }
    if (o->seconds < 0) o->seconds = o->quick ? 0.05 : 1.0;
    if (o->warmup < 0) o->warmup = o->quick ? 0.01 : 0.2;
    if (o->rounds < 0) o->rounds = o->quick ? 2 : 5;
    return 0;
}

/* ---- networks ----------------------------------------------------------------- */

/* Where a mode's networks come from: a file or a preset; every copy is the
 * same trained (or same-seed) network with its own buffers. */
typedef struct net_source {
    char spec[4096];
    int is_preset;
    int force_dense;     /* run through the dense path                    */
    int int8_weights;    /* zs_net_set_int8_weights                       */
    int has_kwta;        /* the network contains k-WTA layers             */
    char arch_name[64];
} net_source;

static int is_preset(const char *name) {
    for (const char *const *p = zs_presets(); *p; p++)
        if (!strcmp(*p, name)) return 1;
    return 0;
}

static zs_status make_net(const net_source *s, uint64_t seed, zs_net **out) {
    zs_status st = s->is_preset ? zs_net_create_preset(out, s->spec, seed) : zs_net_load(out, s->spec);
    if (st == ZS_OK) zs_net_set_dense(*out, s->force_dense);
    if (st == ZS_OK) zs_net_set_int8_weights(*out, s->int8_weights);
    return st;
}

static zs_status source_init(net_source *s, const char *spec, int force_dense, uint64_t seed) {
    memset(s, 0, sizeof *s);
    snprintf(s->spec, sizeof s->spec, "%s", spec);
    s->force_dense = force_dense;
    s->is_preset = !file_exists(spec) && is_preset(spec);
    zs_net *net = NULL;
    zs_status st = make_net(s, seed, &net);
    if (st) return st;
    snprintf(s->arch_name, sizeof s->arch_name, "%s", zs_net_arch_name(net));
    for (int i = 0; i < zs_net_num_layers(net); i++) {
        zs_layer_info li;
        if (zs_net_layer_info(net, i, &li) == ZS_OK && (li.type == ZS_KWINNERS || li.type == ZS_KWINNERS2D))
            s->has_kwta = 1;
    }
    zs_net_free(net);
    return ZS_OK;
}

/* The dense twin: --dense-model; the gsc-dense preset for a gsc-* preset;
 * gsc-dense.safetensors beside gsc-sparse.safetensors; else NULL (the model
 * itself on the dense path). */
static const char *dense_twin(const bench_opts *o, const net_source *sp, char *buf, size_t n) {
    if (o->dense_model) return o->dense_model;
    if (sp->is_preset) return !strncmp(sp->spec, "gsc-", 4) ? "gsc-dense" : NULL;
    const char *slash = strrchr(sp->spec, '/');
    const char *base = slash ? slash + 1 : sp->spec;
    if (strcmp(base, "gsc-sparse.safetensors")) return NULL; /* other files: run densely themselves */
    int w = snprintf(buf, n, "%.*sgsc-dense.safetensors", (int)(base - sp->spec), sp->spec);
    return (w > 0 && (size_t)w < n && file_exists(buf)) ? buf : NULL;
}

/* ---- timing ------------------------------------------------------------------------ */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double thread_cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct worker {
    pthread_t th;
    zs_net *nets[MAX_NETS];
    int n_nets;
    const float *pool;  /* (n_pool, C, H, W) */
    int n_pool, batch;
    size_t insz;
    float *out;         /* (batch, K) */
    zs_exec *exec;      /* the worker's scratch, shared by its networks */
    double warmup, seconds;
    long next;          /* call counter, kept across rounds */
    double words, wall, cpu;
    pthread_barrier_t *bar;
    zs_status st;
    char err[256];
} worker;

/* One call: next network, next batch of inputs. */
static zs_status worker_call(worker *w) {
    long c = w->next++;
    int span = w->n_pool - w->batch + 1;
    size_t off = (size_t)((c * w->batch) % span) * w->insz;
    return zs_net_infer_with(w->nets[c % w->n_nets], w->exec, w->pool + off, w->batch, w->out);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    zs_set_threads(1); /* a per-thread setting (OpenMP): one core per worker */
    zs_status st = ZS_OK;
    double t0 = now_s();
    /* warm-up: every network's plan built and its kernels chosen
     * (zs_net_prepare: otherwise twenty networks at batch 1 would still be
     * timing their alternatives, a second forward pass per sample, in the
     * first round), then every network at least once */
    for (int i = 0; st == ZS_OK && w->warmup > 0 && i < w->n_nets; i++) st = zs_net_prepare(w->nets[i], w->exec, w->pool);
    for (long c = 0; st == ZS_OK && w->warmup > 0 && (c < w->n_nets || now_s() - t0 < w->warmup); c++)
        st = worker_call(w);
    pthread_barrier_wait(w->bar);
    long calls = 0;
    double c1 = thread_cpu_s(), t1 = now_s(), dt = 0;
    while (st == ZS_OK) {
        st = worker_call(w);
        calls++;
        dt = now_s() - t1;
        if (dt >= w->seconds && calls >= w->n_nets) break;
    }
    w->cpu = thread_cpu_s() - c1;
    w->wall = dt;
    w->words = (double)calls * w->batch;
    w->st = st;
    if (st) snprintf(w->err, sizeof w->err, "%s", zs_last_error());
    return NULL;
}

/* One measurement of one zeroskip row: nets[0..N) (plus the spares
 * nets[N_max..] for idle workers) served by T workers for `seconds`.
 * *wps = sum of the workers' words/s, *cpu_us = CPU microseconds per word,
 * *util = CPU seconds of all workers per elapsed second (as for a peer). */
static zs_status run_zs(zs_net **nets, zs_net **spares, int N, int T, int batch, const float *pool, int n_pool,
                        size_t insz, int K, double seconds, double warmup, double *wps, double *cpu_us,
                        double *util) {
    zs_status st = ZS_OK;
    worker *ws = calloc((size_t)T, sizeof *ws);
    pthread_barrier_t bar;
    int started = 0;
    if (!ws) return ZS_ERR(ZS_ENOMEM, "out of memory");
    for (int w = 0; w < T; w++) {
        worker *wk = &ws[w];
        for (int i = w; i < N; i += T) wk->nets[wk->n_nets++] = nets[i];
        if (wk->n_nets == 0) wk->nets[wk->n_nets++] = spares[w];
        wk->pool = pool;
        wk->n_pool = n_pool;
        wk->batch = batch;
        wk->insz = insz;
        wk->warmup = warmup;
        wk->seconds = seconds;
        wk->next = w;
        wk->bar = &bar;
        if (!(wk->out = calloc((size_t)batch * K, sizeof(float)))) { st = ZS_ERR(ZS_ENOMEM, "out of memory"); goto done; }
        if ((st = zs_exec_create(&wk->exec))) goto done;
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
    double rate = 0, words = 0, cpu = 0, wall = 0;
    for (int w = 0; w < T; w++) {
        if (ws[w].st) { st = ZS_ERR(ws[w].st, "%s", ws[w].err); goto done; }
        rate += ws[w].wall > 0 ? ws[w].words / ws[w].wall : 0;
        words += ws[w].words;
        cpu += ws[w].cpu;
        wall += ws[w].wall;
    }
    *wps = rate;
    *cpu_us = words > 0 ? 1e6 * cpu / words : 0;
    *util = wall > 0 ? cpu / (wall / T) : 0; /* CPU seconds per elapsed second, all workers */
done:
    for (int w = 0; w < T; w++) { free(ws[w].out); zs_exec_free(ws[w].exec); }
    free(ws);
    return st;
}

/* ---- peers: long-lived processes on a line protocol ----------------------------------- */

typedef struct peer {
    char engine[24];     /* "onnxruntime", "onnxruntime-int8", "pytorch" */
    pid_t pid;
    FILE *to, *from;
    char errfile[128];
    char buf[8192];      /* bytes read from `from` past the last line taken */
    size_t len;
    cJSON *info;         /* its "ready" document */
    int ok;
} peer;

/* Last non-empty line of a file, or "". */
static void last_line(const char *path, char *why, size_t n) {
    FILE *f = fopen(path, "r");
    char line[1024];
    why[0] = 0;
    while (f && fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r')) line[--l] = 0;
        if (l) snprintf(why, n, "%s", line);
    }
    if (f) fclose(f);
}

/* Start argv[] with pipes on stdin/stdout and stderr into errfile. */
static int spawn(char *const argv[], const char *errfile, pid_t *pid, FILE **to, FILE **from) {
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC)) return -1;
    if (pipe2(out, O_CLOEXEC)) { close(in[0]); close(in[1]); return -1; }
    pid_t p = fork();
    if (p < 0) { close(in[0]); close(in[1]); close(out[0]); close(out[1]); return -1; }
    if (p == 0) {
        int e = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(in[0], 0);
        dup2(out[1], 1);
        if (e >= 0) dup2(e, 2);
        execvp(argv[0], argv);
        /* not printf: stdout's buffer may hold the parent's unwritten lines */
        dprintf(1, "error cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    *pid = p;
    *to = fdopen(in[1], "w");
    *from = fdopen(out[0], "r");
    if (!*to || !*from) return -1;
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

static void peer_stop(peer *p) {
    if (p->to) { fputs("quit\n", p->to); fclose(p->to); }
    if (p->from) fclose(p->from);
    if (p->pid > 0 && waitpid(p->pid, NULL, WNOHANG) == 0) { /* a hung peer: give it a moment, then kill it */
        for (int i = 0; i < 20 && waitpid(p->pid, NULL, WNOHANG) == 0; i++) usleep(50000);
        if (kill(p->pid, SIGKILL) == 0) waitpid(p->pid, NULL, 0);
    }
    p->to = p->from = NULL;
    p->pid = 0;
    p->ok = 0;
}

/* One line from the peer into line (no newline), waiting at most
 * timeout_s: 0, or -1 on end of output, error or timeout ("timeout" set). */
static int peer_line(peer *p, double timeout_s, char *line, size_t n, int *timeout) {
    int fd = fileno(p->from);
    double end = now_s() + timeout_s;
    *timeout = 0;
    for (;;) {
        char *nl = memchr(p->buf, '\n', p->len);
        if (nl) {
            size_t l = (size_t)(nl - p->buf), c = l < n - 1 ? l : n - 1;
            memcpy(line, p->buf, c);
            line[c] = 0;
            memmove(p->buf, nl + 1, p->len - l - 1);
            p->len -= l + 1;
            return 0;
        }
        if (p->len == sizeof p->buf) p->len = 0; /* an over-long line: drop it */
        double left = end - now_s();
        if (left <= 0) { *timeout = 1; return -1; }
        struct pollfd pf = {fd, POLLIN, 0};
        int r = poll(&pf, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) { *timeout = 1; return -1; }
        if (r < 0) return -1;
        ssize_t got = read(fd, p->buf + p->len, sizeof p->buf - p->len);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return -1;
        p->len += (size_t)got;
    }
}

/* Start a peer and read its "ready" line; prints why not on failure. */
static int peer_start(peer *p, const char *engine, char *const argv[], const char *tmp, cJSON *unav, int json) {
    char line[8192], why[1024];
    memset(p, 0, sizeof *p);
    snprintf(p->engine, sizeof p->engine, "%s", engine);
    snprintf(p->errfile, sizeof p->errfile, "%s/%s.err", tmp, engine);
    if (spawn(argv, p->errfile, &p->pid, &p->to, &p->from)) {
        peer_unavailable(engine, "cannot start a process", unav, json);
        peer_stop(p);
        return -1;
    }
    int to = 0;
    line[0] = 0;
    if (peer_line(p, PEER_START_S, line, sizeof line, &to) || strncmp(line, "ready ", 6)) {
        if (to) snprintf(why, sizeof why, "no ready line within %g s", PEER_START_S);
        else if (!strncmp(line, "error ", 6)) snprintf(why, sizeof why, "%.1000s", line + 6);
        else last_line(p->errfile, why, sizeof why);
        if (!why[0]) snprintf(why, sizeof why, "exited without a ready line");
        peer_unavailable(engine, why, unav, json);
        peer_stop(p);
        return -1;
    }
    p->info = cJSON_Parse(line + 6);
    p->ok = 1;
    return 0;
}

/* One measurement: 0 and words/s, CPU us/word, CPU/wall; -1 (peer dropped). */
static int peer_run(peer *p, double seconds, int batch, int threads, double *wps, double *cpu_us, double *util,
                    cJSON *unav, int json) {
    char line[1024];
    fprintf(p->to, "run %g %d %d\n", seconds, batch, threads);
    fflush(p->to);
    cJSON *r = NULL;
    int to = 0;
    line[0] = 0;
    if (!peer_line(p, seconds + PEER_RUN_S, line, sizeof line, &to) && (r = cJSON_Parse(line))) {
        double words = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "words"));
        double wall = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "wall"));
        double cpu = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(r, "cpu"));
        cJSON_Delete(r);
        if (words > 0 && wall > 0 && cpu >= 0) {
            *wps = words / wall;
            *cpu_us = 1e6 * cpu / words;
            *util = cpu / wall;
            return 0;
        }
    }
    char why[1100];
    if (to) snprintf(why, sizeof why, "no answer to 'run' within %g s", seconds + PEER_RUN_S);
    else if (!strncmp(line, "error ", 6)) snprintf(why, sizeof why, "%s", line + 6);
    else last_line(p->errfile, why, sizeof why);
    if (!why[0]) snprintf(why, sizeof why, "no answer to 'run'");
    peer_unavailable(p->engine, why, unav, json);
    peer_stop(p);
    return -1;
}

/* Run a command to completion; its stdout (malloc'ed) on exit status 0,
 * else NULL and the reason in why. */
static char *run_capture(char *const argv[], const char *errfile, char *why, size_t nwhy) {
    pid_t pid;
    FILE *to = NULL, *from = NULL;
    if (spawn(argv, errfile, &pid, &to, &from)) {
        snprintf(why, nwhy, "cannot start %s", argv[0]);
        if (to) fclose(to);
        if (from) fclose(from);
        return NULL;
    }
    fclose(to);
    size_t cap = 1 << 16, len = 0, got;
    char *out = malloc(cap);
    while (out && (got = fread(out + len, 1, cap - len - 1, from)) > 0) {
        len += got;
        if (len + 1 == cap) {
            char *t = realloc(out, cap *= 2);
            if (!t) { free(out); out = NULL; }
            else out = t;
        }
    }
    fclose(from);
    int rc = 0;
    waitpid(pid, &rc, 0);
    if (out) out[len] = 0;
    if (out && WIFEXITED(rc) && WEXITSTATUS(rc) == 0) return out;
    if (out && !strncmp(out, "error ", 6)) snprintf(why, nwhy, "%s", out + 6), why[strcspn(why, "\n")] = 0;
    else last_line(errfile, why, nwhy);
    if (!why[0]) snprintf(why, nwhy, "exit status %d", WIFEXITED(rc) ? WEXITSTATUS(rc) : rc);
    free(out);
    return NULL;
}

static int write_f32(const char *path, const float *x, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(x, sizeof(float), n, f); /* the host is little-endian (x86-64) */
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

/* The bench/ folder: $ZS_BENCH_DIR, ./bench, or <exe dir>/../bench. */
static int find_bench_dir(char *dir, size_t n) {
    const char *e = getenv("ZS_BENCH_DIR");
    if (e && *e) { snprintf(dir, n, "%s", e); return 0; }
    char p[4200];
    if (repo_file("bench/ort_bench.js", p, sizeof p)) return -1;
    char *slash = strrchr(p, '/');
    *slash = 0;
    snprintf(dir, n, "%.4000s", p);
    return 0;
}

enum { PEER_ORT, PEER_ORT8, PEER_TORCH, N_PEERS };
static const char *const peer_names[N_PEERS] = {"onnxruntime", "onnxruntime-int8", "pytorch"};

/* Export the dense network to ONNX (fp32 + int8) and start the peers. */
static void start_peers(const bench_opts *o, zs_net *dense, const net_source *dsrc, const float *pool, int n_pool,
                        size_t insz, int K, const char *tmp, peer *peers, cJSON *unav, cJSON **export_info) {
    char dir[4096], mpath[128], ipath[128], ci[128], cr[128], onnx[128], onnx8[128], errf[160], why[1024];
    char script[4200];
    const char *py = getenv("PYTHON") && *getenv("PYTHON") ? getenv("PYTHON") : "/usr/bin/python3";
    if (find_bench_dir(dir, sizeof dir)) {
        for (int i = 0; i < N_PEERS; i++)
            peer_unavailable(peer_names[i], "bench/ scripts not found (run from the repository root or set "
                                            "ZS_BENCH_DIR)", unav, o->json);
        return;
    }
    snprintf(mpath, sizeof mpath, "%s/dense.safetensors", tmp);
    snprintf(ipath, sizeof ipath, "%s/inputs.f32", tmp);
    snprintf(ci, sizeof ci, "%s/ci.f32", tmp);
    snprintf(cr, sizeof cr, "%s/cr.f32", tmp);
    snprintf(onnx, sizeof onnx, "%s/dense.onnx", tmp);
    snprintf(onnx8, sizeof onnx8, "%s/dense_int8.onnx", tmp);
    zs_status st = zs_net_save(dense, mpath);
    if (st || write_f32(ipath, pool, insz * (size_t)n_pool)) {
        for (int i = 0; i < N_PEERS; i++)
            peer_unavailable(peer_names[i], st ? zs_last_error() : "cannot write the inputs", unav, o->json);
        return;
    }
    /* the dense twin equals zeroskip's dense network only without k-WTA */
    int verify = 0;
    if (!dsrc->has_kwta) {
        int nv = n_pool < 8 ? n_pool : 8;
        float *ref = malloc(sizeof(float) * (size_t)nv * K);
        if (ref && zs_net_infer(dense, pool, nv, ref) == ZS_OK && !write_f32(ci, pool, insz * nv) &&
            !write_f32(cr, ref, (size_t)nv * K))
            verify = 1;
        free(ref);
    } else if (!o->json) {
        printf("peers run the dense twin (k-WTA -> ReLU) of %s: their outputs are not compared with zeroskip's\n",
               dsrc->spec);
    }
    /* PyTorch */
    snprintf(script, sizeof script, "%s/torch_bench.py", dir);
    {
        char *argv[] = {(char *)py, script, "--model", mpath, "--input", ipath,
                        verify ? "--check-in" : NULL, ci, "--check-ref", cr, NULL};
        peer_start(&peers[PEER_TORCH], "pytorch", argv, tmp, unav, o->json);
    }
    /* ONNX Runtime: export fp32 + int8 (calibrated on the same inputs), then node */
    snprintf(script, sizeof script, "%s/export_onnx.py", dir);
    snprintf(errf, sizeof errf, "%s/export.err", tmp);
    char *eargv[] = {(char *)py, script, "--model", mpath, "--out", onnx, "--int8-out", onnx8, "--calib", ipath, NULL};
    if (!o->json) fprintf(stderr, "bench: exporting the dense network to ONNX (fp32, int8)\n");
    char *out = run_capture(eargv, errf, why, sizeof why);
    if (!out) {
        char w2[1100];
        snprintf(w2, sizeof w2, "export to ONNX failed: %s", why);
        peer_unavailable(peer_names[PEER_ORT], w2, unav, o->json);
        peer_unavailable(peer_names[PEER_ORT8], w2, unav, o->json);
        return;
    }
    *export_info = cJSON_Parse(out);
    free(out);
    snprintf(script, sizeof script, "%s/ort_bench.js", dir);
    {
        char *argv[] = {"node", script, "--onnx", onnx, "--input", ipath,
                        verify ? "--check-in" : NULL, ci, "--check-ref", cr, NULL};
        peer_start(&peers[PEER_ORT], peer_names[PEER_ORT], argv, tmp, unav, o->json);
    }
    {
        char *argv[] = {"node", script, "--onnx", onnx8, "--input", ipath, "--agree-with", onnx, NULL};
        peer_start(&peers[PEER_ORT8], peer_names[PEER_ORT8], argv, tmp, unav, o->json);
    }
}

/* ---- rows ------------------------------------------------------------------------ */

typedef struct row {
    char engine[24], mode[8];
    int threads, batch, networks;
    int zs_mode;               /* zeroskip: 0 sparse, 1 dense; peers: -1 */
    int peer;                  /* peer index, or -1 */
    double wps[MAX_ROUNDS], cpu_us[MAX_ROUNDS], util[MAX_ROUNDS];
    int ok[MAX_ROUNDS];
    double med, lo, hi, cpu_med, util_med;
    int n_ok;
    double macs, dense_macs;
} row;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n) {
    double t[MAX_ROUNDS];
    if (n <= 0) return 0;
    memcpy(t, v, sizeof(double) * (size_t)n);
    qsort(t, (size_t)n, sizeof t[0], cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static void row_summarise(row *r, int rounds) {
    double w[MAX_ROUNDS], c[MAX_ROUNDS], u[MAX_ROUNDS];
    int n = 0;
    for (int i = 0; i < rounds; i++)
        if (r->ok[i]) { w[n] = r->wps[i]; c[n] = r->cpu_us[i]; u[n] = r->util[i]; n++; }
    r->n_ok = n;
    r->med = median(w, n);
    r->cpu_med = median(c, n);
    r->util_med = median(u, n);
    r->lo = r->hi = n ? w[0] : 0;
    for (int i = 1; i < n; i++) {
        if (w[i] < r->lo) r->lo = w[i];
        if (w[i] > r->hi) r->hi = w[i];
    }
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

static const char *si(double v, char *buf, size_t n) {
    if (v >= 1e9) snprintf(buf, n, "%.2fG", v / 1e9);
    else if (v >= 1e6) snprintf(buf, n, "%.2fM", v / 1e6);
    else if (v >= 1e3) snprintf(buf, n, "%.1fk", v / 1e3);
    else snprintf(buf, n, "%.0f", v);
    return buf;
}

static void print_table(const row *rows, int n) {
    printf("%-16s %-6s %3s %5s %4s %10s %19s %10s %8s %8s %8s %9s %8s %8s\n", "engine", "mode", "thr", "batch",
           "nets", "words/s", "(min..max)", "per-net", "us/word", "cpu-us/w", "cpu/wall", "MACs/word", "GFLOP/s",
           "dense-eq");
    for (int i = 0; i < n; i++) {
        const row *r = &rows[i];
        if (!r->n_ok) continue;
        char a[32], c[64];
        snprintf(c, sizeof c, "(%.0f..%.0f)", r->lo, r->hi);
        printf("%-16s %-6s %3d %5d %4d %10.0f %19s %10.0f %8.2f %8.2f %8.2f %9s %8.2f %8.2f\n", r->engine, r->mode,
               r->threads, r->batch, r->networks, r->med, c, r->med / r->networks, 1e6 / r->med, r->cpu_med,
               r->util_med, si(r->macs, a, sizeof a), 2e-9 * r->macs * r->med, 2e-9 * r->dense_macs * r->med);
    }
}

static void print_cost(const char *mode, const zs_layer_cost *c, int n, double macs, double dense) {
    char a[32], b[32];
    printf("%s MACs/word %s of %s dense-equivalent:", mode, si(macs, a, sizeof a), si(dense, b, sizeof b));
    for (int i = 0; i < n; i++)
        printf("%s %s %s (%.0f%% inputs non-zero)", i ? "," : "", c[i].name, si(c[i].macs, a, sizeof a),
               100 * c[i].input_nonzero);
    printf("\n");
}

static cJSON *cost_json(const zs_layer_cost *c, int n, double macs, double dense) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "macs_per_word", macs);
    cJSON_AddNumberToObject(o, "dense_macs_per_word", dense);
    cJSON *l = cJSON_AddArrayToObject(o, "layers");
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", c[i].name);
        cJSON_AddNumberToObject(e, "macs", c[i].macs);
        cJSON_AddNumberToObject(e, "dense_macs", c[i].dense_macs);
        cJSON_AddNumberToObject(e, "input_nonzero_fraction", c[i].input_nonzero);
        cJSON_AddItemToArray(l, e);
    }
    return o;
}

static cJSON *num_array(const double *v, const int *ok, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, ok && !ok[i] ? cJSON_CreateNull() : cJSON_CreateNumber(v[i]));
    return a;
}

static cJSON *rows_json(const row *rows, int n, int rounds) {
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < n; i++) {
        const row *r = &rows[i];
        if (!r->n_ok) continue;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "engine", r->engine);
        cJSON_AddStringToObject(o, "mode", r->mode);
        cJSON_AddNumberToObject(o, "threads", r->threads);
        cJSON_AddNumberToObject(o, "batch", r->batch);
        cJSON_AddNumberToObject(o, "networks", r->networks);
        cJSON_AddNumberToObject(o, "words_per_s", r->med);
        cJSON_AddNumberToObject(o, "words_per_s_min", r->lo);
        cJSON_AddNumberToObject(o, "words_per_s_max", r->hi);
        cJSON_AddItemToObject(o, "words_per_s_rounds", num_array(r->wps, r->ok, rounds));
        cJSON_AddNumberToObject(o, "words_per_s_per_network", r->med / r->networks);
        cJSON_AddNumberToObject(o, "us_per_word", 1e6 / r->med);
        cJSON_AddNumberToObject(o, "cpu_us_per_word", r->cpu_med);
        cJSON_AddItemToObject(o, "cpu_us_per_word_rounds", num_array(r->cpu_us, r->ok, rounds));
        cJSON_AddNumberToObject(o, "cpu_per_wall", r->util_med);
        cJSON_AddNumberToObject(o, "macs_per_word", r->macs);
        cJSON_AddNumberToObject(o, "dense_macs_per_word", r->dense_macs);
        cJSON_AddNumberToObject(o, "gflops_useful", 2e-9 * r->macs * r->med);
        cJSON_AddNumberToObject(o, "gflops_dense_equivalent", 2e-9 * r->dense_macs * r->med);
        cJSON_AddNumberToObject(o, "rounds", r->n_ok);
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

/* ---- ratios: per round, then the median ---------------------------------------------- */

/* Row index of (engine prefix/mode, threads, batch, networks); -1 if none. */
static int find_row(const row *rows, int n, const char *engine, const char *mode, int t, int b, int nets) {
    for (int i = 0; i < n; i++)
        if (!strcmp(rows[i].engine, engine) && (!mode || !strcmp(rows[i].mode, mode)) && rows[i].threads == t &&
            rows[i].batch == b && rows[i].networks == nets)
            return i;
    return -1;
}

/* Best of the given rows in round r (0 if none measured); *who = its index. */
static double best_in_round(const row *rows, const int *idx, int n, int r, int *who) {
    double best = 0;
    for (int i = 0; i < n; i++)
        if (idx[i] >= 0 && rows[idx[i]].ok[r] && rows[idx[i]].wps[r] > best) {
            best = rows[idx[i]].wps[r];
            if (who) *who = idx[i];
        }
    return best;
}

/* Add a ratio: per-round values (0 = missing) and their median. */
static void add_ratio(cJSON *ratios, const char *name, const char *what, const double *v, int rounds, int json,
                      const char *note) {
    double ok[MAX_ROUNDS];
    int n = 0;
    for (int r = 0; r < rounds; r++)
        if (v[r] > 0) ok[n++] = v[r];
    if (!n) return;
    double med = median(ok, n);
    if (!json) {
        printf("  %-52s median %7.2f  rounds:", what, med);
        for (int r = 0; r < rounds; r++) v[r] > 0 ? printf(" %.2f", v[r]) : printf(" -");
        printf("%s%s\n", note && *note ? "  " : "", note ? note : "");
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "what", what);
    cJSON_AddNumberToObject(o, "median", med);
    cJSON *a = cJSON_AddArrayToObject(o, "rounds");
    for (int r = 0; r < rounds; r++) cJSON_AddItemToArray(a, v[r] > 0 ? cJSON_CreateNumber(v[r]) : cJSON_CreateNull());
    if (note && *note) cJSON_AddStringToObject(o, "note", note);
    cJSON_AddItemToObject(ratios, name, o);
}

static void print_ratios(const bench_opts *o, const row *rows, int n, cJSON *ratios) {
    int R = o->rounds;
    double v[MAX_ROUNDS];
    char name[96], what[160], note[160];
    if (!o->json) printf("\nratios (per round: engines alternated within each round; median of the rounds):\n");
    int n1 = o->nets[0];
    for (int i = 1; i < o->n_nets; i++) n1 = o->nets[i] < n1 ? o->nets[i] : n1;
    /* whole machine: best sparse row vs best dense peer (fp32 or int8), per round */
    int zs_idx[MAX_ROWS], pe_idx[MAX_ROWS], nz = 0, np = 0;
    for (int i = 0; i < n; i++) {
        if (rows[i].peer < 0 && rows[i].zs_mode == 0 && rows[i].networks == n1) zs_idx[nz++] = i;
        if (rows[i].peer == PEER_ORT || rows[i].peer == PEER_ORT8) pe_idx[np++] = i;
    }
    if (nz && np) {
        int wins[MAX_ROWS] = {0};
        for (int r = 0; r < R; r++) {
            int who = -1;
            double p = best_in_round(rows, pe_idx, np, r, &who), s = best_in_round(rows, zs_idx, nz, r, NULL);
            v[r] = p > 0 && s > 0 ? s / p : 0;
            if (who >= 0) wins[who]++;
        }
        int top = pe_idx[0];
        for (int i = 0; i < np; i++) if (wins[pe_idx[i]] > wins[top]) top = pe_idx[i];
        snprintf(note, sizeof note, "(best peer row most often: %s t%d b%d)", rows[top].engine, rows[top].threads,
                 rows[top].batch);
        add_ratio(ratios, "sparse_vs_best_dense_peer", "zeroskip sparse best / best dense peer (whole machine)", v,
                  R, o->json, note);
    }
    /* per (threads, batch) */
    for (int ti = 0; ti < o->n_threads; ti++)
        for (int bi = 0; bi < o->n_batch; bi++) {
            int t = o->threads[ti], b = o->batch[bi];
            int s = find_row(rows, n, "zeroskip", "sparse", t, b, n1), d = find_row(rows, n, "zeroskip", "dense", t, b, n1);
            int pp[2] = {find_row(rows, n, peer_names[PEER_ORT], NULL, t, b, 1),
                         find_row(rows, n, peer_names[PEER_ORT8], NULL, t, b, 1)};
            if (s >= 0 && (pp[0] >= 0 || pp[1] >= 0)) {
                int w8 = 0;
                for (int r = 0; r < R; r++) {
                    int who = -1;
                    double p = best_in_round(rows, pp, 2, r, &who);
                    v[r] = p > 0 && rows[s].ok[r] ? rows[s].wps[r] / p : 0;
                    if (who >= 0 && who == pp[1]) w8++;
                }
                snprintf(name, sizeof name, "sparse_vs_best_dense_peer_t%d_b%d", t, b);
                snprintf(what, sizeof what, "t%d b%d: sparse / best dense peer", t, b);
                snprintf(note, sizeof note, "(int8 faster in %d of %d rounds)", w8, R);
                add_ratio(ratios, name, what, v, R, o->json, pp[1] >= 0 ? note : "");
            }
            if (s >= 0 && (pp[0] >= 0 || pp[1] >= 0)) {
                /* the same by CPU time per word: what a busy machine distorts least */
                for (int r = 0; r < R; r++) {
                    double p = 0;
                    for (int j = 0; j < 2; j++)
                        if (pp[j] >= 0 && rows[pp[j]].ok[r] && (p == 0 || rows[pp[j]].cpu_us[r] < p)) p = rows[pp[j]].cpu_us[r];
                    v[r] = p > 0 && rows[s].ok[r] && rows[s].cpu_us[r] > 0 ? p / rows[s].cpu_us[r] : 0;
                }
                snprintf(name, sizeof name, "sparse_vs_best_dense_peer_cpu_t%d_b%d", t, b);
                snprintf(what, sizeof what, "t%d b%d: same, by CPU time per word", t, b);
                add_ratio(ratios, name, what, v, R, o->json, "");
            }
            if (pp[0] >= 0 && pp[1] >= 0) {
                for (int r = 0; r < R; r++)
                    v[r] = rows[pp[0]].ok[r] && rows[pp[1]].ok[r] ? rows[pp[1]].wps[r] / rows[pp[0]].wps[r] : 0;
                snprintf(name, sizeof name, "ort_int8_vs_fp32_t%d_b%d", t, b);
                snprintf(what, sizeof what, "t%d b%d: onnxruntime int8 / fp32", t, b);
                add_ratio(ratios, name, what, v, R, o->json, "");
            }
            if (s >= 0 && d >= 0) {
                for (int r = 0; r < R; r++)
                    v[r] = rows[s].ok[r] && rows[d].ok[r] ? rows[s].wps[r] / rows[d].wps[r] : 0;
                snprintf(name, sizeof name, "sparse_vs_zs_dense_t%d_b%d", t, b);
                snprintf(what, sizeof what, "t%d b%d: sparse / zeroskip dense", t, b);
                add_ratio(ratios, name, what, v, R, o->json, "");
            }
        }
    /* many networks: aggregate at the most networks vs the fewest, per (threads, batch) */
    int maxn = n1;
    for (int i = 0; i < o->n_nets; i++) maxn = o->nets[i] > maxn ? o->nets[i] : maxn;
    if (maxn > n1)
        for (int ti = 0; ti < o->n_threads; ti++)
            for (int bi = 0; bi < o->n_batch; bi++) {
                int t = o->threads[ti], b = o->batch[bi];
                int a = find_row(rows, n, "zeroskip", "sparse", t, b, maxn), c = find_row(rows, n, "zeroskip", "sparse", t, b, n1);
                if (a < 0 || c < 0) continue;
                for (int r = 0; r < R; r++)
                    v[r] = rows[a].ok[r] && rows[c].ok[r] ? rows[a].wps[r] / rows[c].wps[r] : 0;
                snprintf(name, sizeof name, "networks%d_vs_%d_t%d_b%d", maxn, n1, t, b);
                snprintf(what, sizeof what, "t%d b%d: sparse %d networks / %d (aggregate)", t, b, maxn, n1);
                add_ratio(ratios, name, what, v, R, o->json, "");
            }
}

/* ---- model size ---------------------------------------------------------------- */

typedef struct msize {
    double file, model, plan;  /* bytes; file < 0: none */
    double scratch;            /* one executor's scratch (per worker thread) */
} msize;

static zs_status measure_size(const net_source *s, zs_net *net, const char *tmp, int idx, msize *m) {
    struct stat sb;
    m->file = -1;
    if (!s->is_preset && stat(s->spec, &sb) == 0) m->file = (double)sb.st_size;
    else if (tmp[0]) { /* a preset: the file zs_net_save would write */
        char p[160];
        snprintf(p, sizeof p, "%s/size%d.safetensors", tmp, idx);
        if (zs_net_save(net, p) == ZS_OK && stat(p, &sb) == 0) m->file = (double)sb.st_size;
        remove(p);
    }
    size_t plan = 0, model = 0, scratch = 0;
    zs_status st = zs_net_memory(net, &plan, &model);
    if (!st) st = zs_net_scratch_bytes(net, &scratch);
    m->plan = (double)plan;
    m->model = (double)model;
    m->scratch = (double)scratch;
    return st;
}

static void print_size(const char *what, const char *spec, const msize *m) {
    char f[32];
    if (m->file >= 0) snprintf(f, sizeof f, "%.0f", m->file);
    else snprintf(f, sizeof f, "-");
    printf("  %-6s %-40s %12s %12.0f %12.0f %12.0f %12.0f\n", what, spec, f, m->model, m->plan, m->model + m->plan,
           m->scratch);
}

static cJSON *size_json(const char *spec, const msize *m) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", spec);
    if (m->file >= 0) cJSON_AddNumberToObject(o, "file_bytes", m->file);
    cJSON_AddNumberToObject(o, "model_bytes_in_memory", m->model);
    cJSON_AddNumberToObject(o, "plan_bytes_in_memory", m->plan);
    cJSON_AddNumberToObject(o, "scratch_bytes_per_thread", m->scratch);
    return o;
}

/* ---- profile ---------------------------------------------------------------------- */

static int run_profile(const bench_opts *o, zs_net *net, const float *pool, int n_pool, cJSON *root) {
    zs_stage_profile sp[256];
    int ns = 0, n = n_pool < 64 ? n_pool : 64, reps = o->quick ? 2 : 20;
    zs_status st = zs_net_profile(net, pool, n, reps, sp, 256, &ns);
    if (st) return cli_fail(CMD, st);
    if (ns > 256) ns = 256;
    zs_isa isa = zs_isa_active();
    double peak = zs_cpu_peak_gflops(isa), gbps = zs_cpu_stream_gbps(isa);
    double gmacs = peak / 2, tot = 0, ftot = 0;
    for (int i = 0; i < ns; i++) tot += sp[i].us_per_word;
    if (!o->json) {
        printf("per-stage profile (wall time, preempted samples dropped, %d samples x %d, ISA %s); this core measured: fp32 FMA peak "
               "%.1f GFLOP/s = %.1f GMAC/s, streaming pass %.1f GB/s\n",
               n, reps, zs_isa_name(isa), peak, gmacs, gbps);
        printf("floor: useful MACs at the FMA peak (conv/linear stages), else one streaming pass over the "
               "stage's input; conv_kwta_pool: its MACs at the peak + one pass over its conv output\n");
        printf("%-14s %-14s %-32s %9s %6s %9s %8s %7s %9s %9s\n", "stage", "layer", "kernel", "us/word", "%",
               "MACs/word", "GMAC/s", "%peak", "floor us", "x floor");
    }
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < ns; i++) {
        const zs_stage_profile *s = &sp[i];
        /* a stage with multiply-adds: them at the FMA peak; conv_kwta_pool
         * adds one streaming pass over its conv output map (its k-WTA's) */
        int fused = !strcmp(s->name, "conv_kwta_pool");
        double floor_us = s->macs_per_word > 0 ? s->macs_per_word / (gmacs * 1e3) + (fused ? s->bytes_per_word / (gbps * 1e3) : 0)
                                               : s->bytes_per_word / (gbps * 1e3);
        double g = s->us_per_word > 0 ? s->macs_per_word / (s->us_per_word * 1e3) : 0;
        ftot += floor_us;
        if (!o->json) {
            char a[32];
            printf("%-14s %-14s %-32.32s %9.2f %6.1f %9s %8.2f %7.1f %9.2f %9.1f\n", s->name, s->layer, s->kernel,
                   s->us_per_word, tot > 0 ? 100 * s->us_per_word / tot : 0, si(s->macs_per_word, a, sizeof a), g,
                   gmacs > 0 ? 100 * g / gmacs : 0, floor_us, floor_us > 0 ? s->us_per_word / floor_us : 0);
        }
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "stage", s->name);
        cJSON_AddStringToObject(e, "layer", s->layer);
        cJSON_AddStringToObject(e, "kernel", s->kernel);
        cJSON_AddNumberToObject(e, "us_per_word", s->us_per_word);
        cJSON_AddNumberToObject(e, "macs_per_word", s->macs_per_word);
        cJSON_AddNumberToObject(e, "bytes_per_word", s->bytes_per_word);
        cJSON_AddNumberToObject(e, "gmacs_per_s", g);
        cJSON_AddNumberToObject(e, "floor_us", floor_us);
        cJSON_AddNumberToObject(e, "achieved_over_floor", floor_us > 0 ? s->us_per_word / floor_us : 0);
        cJSON_AddItemToArray(arr, e);
    }
    if (!o->json)
        printf("%-14s %-14s %-32s %9.2f %6.1f %9s %8s %7s %9.2f %9.1f\n", "total", "", "", tot, 100.0, "", "", "",
               ftot, ftot > 0 ? tot / ftot : 0);
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "isa", zs_isa_name(isa));
    cJSON_AddNumberToObject(p, "peak_gflops", peak);
    cJSON_AddNumberToObject(p, "stream_gbps", gbps);
    cJSON_AddNumberToObject(p, "samples", n);
    cJSON_AddNumberToObject(p, "reps", reps);
    cJSON_AddNumberToObject(p, "total_us_per_word", tot);
    cJSON_AddNumberToObject(p, "floor_us_per_word", ftot);
    cJSON_AddItemToObject(p, "stages", arr);
    cJSON_AddItemToObject(root, "profile", p);
    return EXIT_OK;
}

/* ---- plot ------------------------------------------------------------------------ */

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

static int write_plot(const char *png, const row *rows, int n, const char *title, const char *tmpdir) {
    char dat[128], gp[128];
    snprintf(dat, sizeof dat, "%s/plot.dat", tmpdir);
    snprintf(gp, sizeof gp, "%s/plot.gp", tmpdir);
    FILE *f = fopen(dat, "w");
    if (!f) return -1;
    int shown = 0;
    for (int i = 0; i < n; i++) {
        const row *r = &rows[i];
        if (!r->n_ok) continue;
        int color = r->peer < 0 ? (r->zs_mode == 0 ? 1 : 2) : r->peer == PEER_TORCH ? 4 : 3;
        const char *tag = r->peer < 0 ? (r->zs_mode == 0 ? "sp" : "dn")
                          : r->peer == PEER_ORT ? "ort" : r->peer == PEER_ORT8 ? "ort8" : "torch";
        fprintf(f, "\"%s t%d b%d n%d\" %.3f %d\n", tag, r->threads, r->batch, r->networks, r->med, color);
        shown++;
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
        int w = 160 + 22 * shown < 640 ? 640 : 160 + 22 * shown;
        fprintf(f, "set terminal %s size %d,640\n", attempt ? "png" : "pngcairo", w > 4000 ? 4000 : w);
        fprintf(f, "set output %s\nset title \"%s\" noenhanced font ',10'\n", qpng, t);
        fprintf(f, "set style fill solid 0.85 border -1\nset boxwidth 0.8\nset logscale y\n"
                   "set ylabel 'words/s (aggregate, median of rounds)'\nset grid ytics\nset key top left\n"
                   "set xtics rotate by -60 font ',8' noenhanced\nset xrange [-1:%d]\n", shown);
        fprintf(f, "plot %s u 0:($3==1?$2:1/0):xtic(1) w boxes lc rgb '#1b9e77' t 'zeroskip sparse', \\\n"
                   " '' u 0:($3==2?$2:1/0) w boxes lc rgb '#7570b3' t 'zeroskip dense', \\\n"
                   " '' u 0:($3==3?$2:1/0) w boxes lc rgb '#d95f02' t 'ONNX Runtime (fp32, int8)', \\\n"
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

static int write_json(const bench_opts *o, cJSON *root) {
    char *s = cJSON_Print(root);
    if (!s) return cli_fail(CMD, ZS_ERR(ZS_ENOMEM, "out of memory"));
    int rc = EXIT_OK;
    if (o->json) printf("%s\n", s);
    if (o->json_out) {
        size_t len = strlen(s);
        char *buf = malloc(len + 2);
        if (!buf) { free(s); return cli_fail(CMD, ZS_ERR(ZS_ENOMEM, "out of memory")); }
        memcpy(buf, s, len);
        buf[len] = '\n';
        const void *bufs[1] = {buf};
        size_t sizes[1] = {len + 1};
        zs_status st = zs_write_file_atomic(o->json_out, bufs, sizes, 1);
        if (st) rc = cli_fail_file(CMD, o->json_out, st);
        free(buf);
    }
    free(s);
    return rc;
}

int cmd_bench(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--learn")) return cmd_bench_learn(argc, argv); /* cli/cmd_bench_learn.c */
    bench_opts o;
    int pr = parse_opts(argc, argv, &o);
    if (pr > 0) return EXIT_OK;
    if (pr < 0) {
        fprintf(stderr, "usage: %s\n", USAGE);
        return EXIT_USAGE;
    }
    int rc;
    if ((rc = cli_check_output(CMD, USAGE, "--json-out", o.json_out, 1)) ||
        (rc = cli_check_output(CMD, USAGE, "--plot", o.plot, 0)))
        return rc;
    zs_status st;
    net_source src[2];
    zs_dataset *ds = NULL;
    float *pool = NULL;
    row *rows = calloc(MAX_ROWS, sizeof *rows);
    zs_net *nets[2][MAX_NETS + 16];
    int n_made[2] = {0, 0};
    peer peers[N_PEERS];
    cJSON *unav = cJSON_CreateArray(), *ratios = cJSON_CreateObject(), *root = cJSON_CreateObject();
    cJSON *export_info = NULL;
    char tmpdir[64] = "", model_buf[4200], dense_buf[4200], data_buf[4200];
    int n_rows = 0;
    zs_layer_cost cost[2][MAX_COST];
    int n_cost[2] = {0, 0};
    double macs[2] = {0, 0}, dmacs[2] = {0, 0};
    memset(src, 0, sizeof src);
    memset(peers, 0, sizeof peers);
    if (!rows || !unav || !ratios || !root) { rc = cli_fail(CMD, ZS_ERR(ZS_ENOMEM, "out of memory")); goto out; }
    signal(SIGPIPE, SIG_IGN); /* a peer that dies must not take the bench with it */

    zs_set_threads(1); /* workers are the parallelism: GEMM stays on its thread */
    const char *model = o.model;
    if (!model) model = repo_file(DEFAULT_MODEL, model_buf, sizeof model_buf) ? "gsc-sparse" : model_buf;
    if ((st = source_init(&src[0], model, 0, o.seed))) { rc = cli_fail_file(CMD, model, st); goto out; }
    src[0].int8_weights = o.int8_weights;
    const char *dspec = dense_twin(&o, &src[0], dense_buf, sizeof dense_buf);
    if ((st = source_init(&src[1], dspec ? dspec : model, 1, o.seed))) { rc = cli_fail_file(CMD, dspec ? dspec : model, st); goto out; }

    /* input pool */
    zs_net *probe = NULL;
    if ((st = make_net(&src[0], o.seed, &probe))) { rc = cli_fail(CMD, st); goto out; }
    int C, H, W;
    zs_net_input_shape(probe, &C, &H, &W);
    int K = zs_net_num_classes(probe);
    zs_net_free(probe);
    size_t insz = (size_t)C * H * W;
    int maxb = 1;
    for (int i = 0; i < o.n_batch; i++) maxb = o.batch[i] > maxb ? o.batch[i] : maxb;
    int n_pool;
    char input_desc[4400];
    const char *data = o.data;
    if (!data && !o.random) {
        if (repo_file(DEFAULT_DATA, data_buf, sizeof data_buf)) {
            fprintf(stderr, "zeroskip %s: the default inputs %s are not found (run from the repository root), "
                            "give --data F or --random\n", CMD, DEFAULT_DATA);
            rc = EXIT_USAGE;
            goto out;
        }
        data = data_buf;
    }
    if (data) {
        if ((st = zs_dataset_load(&ds, data))) { rc = cli_fail_file(CMD, data, st); goto out; }
        int dc, dh, dw, dn = zs_dataset_size(ds);
        zs_dataset_shape(ds, &dc, &dh, &dw);
        if (dc != C || dh != H || dw != W || dn < 1) {
            fprintf(stderr, "zeroskip %s: %s: samples are %dx%dx%d, the model wants %dx%dx%d%s\n", CMD, data, dc, dh,
                    dw, C, H, W, o.data ? "" : " (give --data F or --random)");
            rc = EXIT_FAIL;
            goto out;
        }
        n_pool = dn > POOL_MAX ? POOL_MAX : dn;
        if (n_pool < maxb) n_pool = maxb;
        if (!(pool = malloc(sizeof(float) * insz * (size_t)n_pool))) { rc = cli_fail(CMD, ZS_ERR(ZS_ENOMEM, "out of memory")); goto out; }
        const float *f = zs_dataset_features_const(ds);
        for (int i = 0; i < n_pool; i++) memcpy(pool + (size_t)i * insz, f + (size_t)(i % dn) * insz, insz * sizeof(float));
        snprintf(input_desc, sizeof input_desc, "%d samples from %s%s", dn < n_pool ? dn : n_pool, data,
                 o.data ? "" : " (real log-mel features of Speech Commands test clips)");
    } else {
        n_pool = 2 * maxb > 64 ? (2 * maxb < POOL_MAX ? 2 * maxb : (maxb > POOL_MAX ? maxb : POOL_MAX)) : 64;
        if (!(pool = malloc(sizeof(float) * insz * (size_t)n_pool))) { rc = cli_fail(CMD, ZS_ERR(ZS_ENOMEM, "out of memory")); goto out; }
        zs_rng rng;
        zs_rng_seed(&rng, o.seed);
        for (size_t i = 0; i < insz * (size_t)n_pool; i += 2) { /* Box-Muller */
            double u1 = (zs_rng_uniform(&rng) + 0x1p-25), u2 = zs_rng_uniform(&rng);
            double r = sqrt(-2.0 * log(u1));
            pool[i] = (float)(r * cos(6.283185307179586 * u2));
            if (i + 1 < insz * (size_t)n_pool) pool[i + 1] = (float)(r * sin(6.283185307179586 * u2));
        }
        snprintf(input_desc, sizeof input_desc, "%d standard-normal samples (%dx%dx%d, --random)", n_pool, C, H, W);
    }

    char cpu[256];
    cpu_name(cpu, sizeof cpu);
    double load0 = cli_loadavg();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/zsbench.XXXXXX");
    if (!mkdtemp(tmpdir)) tmpdir[0] = 0;
    if (!o.json) {
        printf("zeroskip bench %s: model %s (%s%s%s), dense rows: %s%s\n", zs_version(), src[0].spec, src[0].arch_name,
               src[0].is_preset ? ", preset: untrained" : "",
               o.int8_weights ? ", sparse-input convs in int8 (--int8-weights): not exact" : "", src[1].spec,
               !strcmp(src[1].spec, src[0].spec) ? " on the dense path" : "");
        printf("cpu: %s, %d online CPUs, isa %s (active %s); networks i>0: copies of network 0\n", cpu,
               cli_online_cpus(), zs_isa_name(zs_isa_cpu()), zs_isa_name(zs_isa_active()));
        if (!o.profile)
            printf("inputs: %s; %d rounds of %g s per row (engines alternate within a round), %g s warm-up\n",
                   input_desc, o.rounds, o.seconds, o.warmup);
        else printf("inputs: %s\n", input_desc);
        printf("load average (1 min) at start: %.2f on %d CPUs\n", load0, cli_online_cpus());
    }
    cJSON_AddStringToObject(root, "zeroskip_version", zs_version());
    cJSON_AddStringToObject(root, "model", src[0].spec);
    cJSON_AddStringToObject(root, "arch", src[0].arch_name);
    cJSON_AddStringToObject(root, "weights", o.int8_weights ? "sparse-input convs in int8 (int8 weights, u8 inputs)" : "fp32");
    cJSON_AddStringToObject(root, "dense_model", src[1].spec);
    cJSON_AddStringToObject(root, "cpu", cpu);
    cJSON_AddNumberToObject(root, "online_cpus", cli_online_cpus());
    cJSON_AddStringToObject(root, "isa", zs_isa_name(zs_isa_active()));
    cJSON_AddStringToObject(root, "inputs", input_desc);

    if (o.profile) {
        zs_net *net = NULL;
        if ((st = make_net(&src[0], o.seed, &net))) { rc = cli_fail(CMD, st); goto out; }
        rc = run_profile(&o, net, pool, n_pool, root);
        zs_net_free(net);
        if (rc == EXIT_OK && (o.json || o.json_out)) rc = write_json(&o, root);
        goto out;
    }

    /* networks: maxn copies per mode + one spare per thread */
    int maxn = 1, maxt = 1;
    for (int i = 0; i < o.n_nets; i++) maxn = o.nets[i] > maxn ? o.nets[i] : maxn;
    for (int i = 0; i < o.n_threads; i++) maxt = o.threads[i] > maxt ? o.threads[i] : maxt;
    int use[2] = {o.do_sparse, o.do_dense || o.peers};
    for (int m = 0; m < 2; m++) {
        if (!use[m]) continue;
        int want = (m == 1 && !o.do_dense) ? 1 : maxn + maxt;
        for (int i = 0; i < want; i++, n_made[m]++)
            if ((st = make_net(&src[m], o.seed, &nets[m][i]))) { rc = cli_fail(CMD, st); goto out; }
        int nc = n_pool < 64 ? n_pool : 64;
        if ((st = zs_net_cost(nets[m][0], pool, nc, cost[m], MAX_COST, &n_cost[m]))) { rc = cli_fail(CMD, st); goto out; }
        if (n_cost[m] > MAX_COST) n_cost[m] = MAX_COST;
        for (int i = 0; i < n_cost[m]; i++) macs[m] += cost[m][i].macs, dmacs[m] += cost[m][i].dense_macs;
    }
    /* model size: what is stored and what is held */
    msize size[2];
    memset(size, 0, sizeof size);
    for (int m = 0; m < 2; m++)
        if (use[m] && (st = measure_size(&src[m], nets[m][0], tmpdir, m, &size[m]))) { rc = cli_fail(CMD, st); goto out; }

    if (o.peers && tmpdir[0]) start_peers(&o, nets[1][0], &src[1], pool, n_pool, insz, K, tmpdir, peers, unav, &export_info);
    else if (o.peers) peer_unavailable("all", "cannot create a temporary folder", unav, o.json);
    if (!o.json && o.peers) {
        for (int p = 0; p < N_PEERS; p++) {
            if (!peers[p].ok) continue;
            const cJSON *ver = cJSON_GetObjectItemCaseSensitive(peers[p].info, "version");
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(peers[p].info, "verify");
            const cJSON *ag = cJSON_GetObjectItemCaseSensitive(peers[p].info, "agree");
            printf("peer %s %s", peer_names[p], cJSON_IsString(ver) ? ver->valuestring : "");
            if (cJSON_IsObject(v)) {
                double d = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(v, "max_abs_diff"));
                double a = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(v, "argmax_agree"));
                printf(": outputs vs zeroskip dense: max |diff| %.3g, argmax agree %.0f%%%s", d, 100 * a,
                       (d <= 1e-3 && a == 1.0) ? " (match)" : " (MISMATCH)");
            }
            if (cJSON_IsObject(ag))
                printf(": top-1 agreement with the fp32 model on the %d bench inputs: %.2f%%",
                       (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ag, "n")),
                       100 * cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ag, "top1")));
            printf("\n");
        }
    }

    /* rows, grouped by (threads, batch): peers and zeroskip alternate */
    typedef struct group { int first, n; } group;
    group groups[MAX_LIST * MAX_LIST];
    int n_groups = 0;
    for (int ti = 0; ti < o.n_threads; ti++)
        for (int bi = 0; bi < o.n_batch; bi++) {
            group *g = &groups[n_groups++];
            g->first = n_rows;
            int zs[MAX_ROWS], nz = 0, pe[N_PEERS], np = 0;
            for (int m = 0; m < 2; m++) {
                if (!(m == 0 ? o.do_sparse : o.do_dense)) continue;
                for (int ni = 0; ni < o.n_nets && nz < MAX_ROWS; ni++) zs[nz++] = m * 1000 + o.nets[ni];
            }
            for (int p = 0; p < N_PEERS; p++)
                if (peers[p].ok) pe[np++] = p;
            /* order: peer, zeroskip, peer, zeroskip, ... (ORT fp32 next to sparse n1) */
            int zi = 0, pi = 0;
            while ((zi < nz || pi < np) && n_rows < MAX_ROWS) {
                for (int take = 0; take < 2 && n_rows < MAX_ROWS; take++) {
                    row *r = &rows[n_rows];
                    memset(r, 0, sizeof *r);
                    r->threads = o.threads[ti];
                    r->batch = o.batch[bi];
                    if (take == 0 && pi < np) {
                        int p = pe[pi++];
                        snprintf(r->engine, sizeof r->engine, "%s", peer_names[p]);
                        snprintf(r->mode, sizeof r->mode, "dense");
                        r->networks = 1;
                        r->peer = p;
                        r->zs_mode = -1;
                        r->macs = r->dense_macs = dmacs[1];
                        n_rows++;
                    } else if (take == 1 && zi < nz) {
                        int m = zs[zi] / 1000;
                        snprintf(r->engine, sizeof r->engine, "zeroskip");
                        snprintf(r->mode, sizeof r->mode, "%s", m == 0 ? "sparse" : "dense");
                        r->networks = zs[zi++] % 1000;
                        r->peer = -1;
                        r->zs_mode = m;
                        r->macs = macs[m];
                        r->dense_macs = dmacs[m];
                        n_rows++;
                    }
                }
            }
            g->n = n_rows - g->first;
        }

    int progress = !o.json && isatty(2);
    for (int rd = 0; rd < o.rounds; rd++)
        for (int gi = 0; gi < n_groups; gi++)
            for (int k = 0; k < groups[gi].n; k++) {
                /* odd rounds run each group backwards: no engine always goes first */
                row *r = &rows[groups[gi].first + (rd % 2 ? groups[gi].n - 1 - k : k)];
                if (progress)
                    fprintf(stderr, "\rbench: round %d/%d: %s %s t%d b%d n%d ...        ", rd + 1, o.rounds,
                            r->engine, r->mode, r->threads, r->batch, r->networks);
                if (r->peer >= 0) {
                    if (!peers[r->peer].ok) continue;
                    r->ok[rd] = !peer_run(&peers[r->peer], o.seconds, r->batch, r->threads, &r->wps[rd],
                                          &r->cpu_us[rd], &r->util[rd], unav, o.json);
                    continue;
                }
                int m = r->zs_mode;
                st = run_zs(nets[m], nets[m] + maxn, r->networks, r->threads, r->batch, pool, n_pool, insz, K,
                            o.seconds, rd == 0 ? o.warmup : 0, &r->wps[rd], &r->cpu_us[rd], &r->util[rd]);
                if (st) {
                    if (progress) fprintf(stderr, "\n");
                    rc = cli_fail(CMD, st);
                    goto out;
                }
                r->ok[rd] = 1;
            }
    if (progress) fprintf(stderr, "\r%78s\r", "");
    for (int i = 0; i < n_rows; i++) row_summarise(&rows[i], o.rounds);
    /* the bytes held after the runs: a plan packs some layouts only when a
     * sample first needs them (conv2's dense-input taps) */
    for (int m = 0; m < 2; m++)
        if (use[m] && (st = measure_size(&src[m], nets[m][0], tmpdir, m, &size[m]))) { rc = cli_fail(CMD, st); goto out; }

    double load1 = cli_loadavg();
    /* what this run adds: its busiest row (maxt threads, or a peer's) */
    int ncpu = cli_online_cpus(), busy = cli_machine_busy(load0, load1, maxt);
    if (!o.json) {
        if (o.do_sparse) print_cost("sparse", cost[0], n_cost[0], macs[0], dmacs[0]);
        if (use[1]) print_cost("dense ", cost[1], n_cost[1], macs[1], dmacs[1]);
        printf("\n");
        print_table(rows, n_rows);
        printf("us/word: wall time per word (1e6 / words/s); cpu-us/w: CPU time per word (all threads of the "
               "engine); cpu/wall: CPU seconds per elapsed second\n");
        printf("load average (1 min): %.2f at start, %.2f at end, on %d CPUs\n", load0, load1, ncpu);
        if (busy)
            printf("WARNING: the machine was busy (load average above what this run adds): absolute words/s are "
                   "low and noisy; trust the per-round ratios more\n");
        printf("\nmodel size (bytes, measured):%-25s %12s %12s %12s %12s %12s\n", "", "file on disk", "model in mem",
               "plan in mem", "in memory", "scratch/thr");
        if (use[0]) print_size("sparse", src[0].spec, &size[0]);
        if (use[1]) print_size("dense", src[1].spec, &size[1]);
        if (use[0] && use[1] && size[0].file > 0 && size[1].file > 0)
            printf("  dense / sparse: file %.2fx, in memory %.2fx (sparse plan alone %.2fx)\n",
                   size[1].file / size[0].file,
                   (size[1].model + size[1].plan) / (size[0].model + size[0].plan),
                   size[0].plan > 0 ? (size[1].model + size[1].plan) / size[0].plan : 0);
        printf("  in memory = model + plan, per network; scratch/thr: the per-sample buffers, one executor per "
               "worker thread\n  whatever the number of networks it serves (the dense reference path's activations "
               "are per network and not counted)\n");
    }
    print_ratios(&o, rows, n_rows, ratios); /* prints unless --json */
    if (!o.json)
        printf("(targets and their status: docs/BENCHMARKS.md)\n");

    cJSON_AddNumberToObject(root, "loadavg_start", load0);
    cJSON_AddNumberToObject(root, "loadavg_end", load1);
    cJSON_AddBoolToObject(root, "busy_warning", busy);
    cJSON_AddNumberToObject(root, "seconds", o.seconds);
    cJSON_AddNumberToObject(root, "rounds", o.rounds);
    cJSON_AddNumberToObject(root, "warmup", o.warmup);
    if (o.do_sparse) cJSON_AddItemToObject(root, "cost_sparse", cost_json(cost[0], n_cost[0], macs[0], dmacs[0]));
    if (use[1]) cJSON_AddItemToObject(root, "cost_dense", cost_json(cost[1], n_cost[1], macs[1], dmacs[1]));
    cJSON *sz = cJSON_AddObjectToObject(root, "size");
    if (use[0]) cJSON_AddItemToObject(sz, "sparse", size_json(src[0].spec, &size[0]));
    if (use[1]) cJSON_AddItemToObject(sz, "dense", size_json(src[1].spec, &size[1]));
    cJSON_AddItemToObject(root, "rows", rows_json(rows, n_rows, o.rounds));
    cJSON_AddItemToObject(root, "ratios", ratios);
    ratios = NULL;
    cJSON *pi = cJSON_AddObjectToObject(root, "peers");
    for (int p = 0; p < N_PEERS; p++)
        if (peers[p].info) cJSON_AddItemToObject(pi, peer_names[p], cJSON_Duplicate(peers[p].info, 1));
    if (export_info) cJSON_AddItemToObject(pi, "export", cJSON_Duplicate(export_info, 1));
    cJSON_AddItemToObject(root, "peers_unavailable", unav);
    unav = NULL;
    if (o.json || o.json_out) {
        int jr = write_json(&o, root);
        if (jr) rc = jr;
    }
    if (o.plot) {
        char title[512];
        snprintf(title, sizeof title, "zeroskip bench: %.150s vs %.150s\\n%.150s, %d CPUs", src[0].spec, src[1].spec, cpu, ncpu);
        if (!tmpdir[0] || write_plot(o.plot, rows, n_rows, title, tmpdir)) {
            fprintf(stderr, "zeroskip %s: could not write the plot %s (is gnuplot installed?)\n", CMD, o.plot);
            rc = EXIT_IO;
        } else if (!o.json) {
            printf("plot: %s\n", o.plot);
        }
    }
out:
    if (rc == EXIT_OK) rc = cli_stdout_done(CMD);
    for (int p = 0; p < N_PEERS; p++) {
        peer_stop(&peers[p]);
        cJSON_Delete(peers[p].info);
    }
    for (int m = 0; m < 2; m++)
        for (int i = 0; i < n_made[m]; i++) zs_net_free(nets[m][i]);
    if (tmpdir[0]) rm_tree(tmpdir);
    zs_dataset_free(ds);
    free(pool);
    free(rows);
    cJSON_Delete(unav);
    cJSON_Delete(ratios);
    cJSON_Delete(root);
    cJSON_Delete(export_info);
    return rc;
}
