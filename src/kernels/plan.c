/*
 * plan.c — the inference plan (see plan.h): the network's eval-mode layer
 * sequence compiled into stages that run the sparse kernels of kernels.h.
 *
 * At build: BatchNorm (running statistics) is folded into the preceding
 * conv (the conv stages pack their own copies of the weights); a linear
 * stage on a packed sparse layer reads the model's input-major packed
 * form in place (net.h; no copy) and applies bias and BatchNorm after the
 * sum (a stage on dense-held weights packs its layouts unfolded, with the
 * same epilogue); k-WTA boost factors are precomputed per unit/channel exactly
 * as the reference computes them (expf((k/U - duty) * boost): the boost
 * kernel, expf's bits), with
 * k = k_inference; a k-WTA2d followed by a 2x2/2 max-pool becomes one fused
 * stage; ReLU followed by a 2x2/2 max-pool too, and a conv (+BatchNorm)
 * followed by a 2x2/2 max-pool (conv_pool: the pool-first networks); every buffer a sample needs
 * is sized here and lives in an executor (zs_exec: the network's own, or
 * one the caller shares between networks, e.g. one per thread). zs_plan_infer
 * allocates nothing once the executor has grown to the plan, and runs the samples
 * one by one (batch 1 is the streaming case; larger batches just loop).
 *
 * What it is not: a general graph compiler. Supported: conv2d (stride 1,
 * any padding), linear, batchnorm after conv/linear, relu, maxpool2d,
 * flatten, dropout (identity), global kwinners2d, kwinners, logsoftmax
 * (last), k-WTA with the default tie rule. Anything else (e.g. "ties":
 * "nupic") returns ZS_EUNSUPPORTED and the caller uses the reference path.
 *
 * The kernel set is zs_kernels_active() read at build (so ZS_ISA set before
 * building selects it); nothing is cached globally. Environment knobs read
 * at build, for measurements: ZS_PLAN_CONV=taps|vec|list|pos|tap|blk (conv on a
 * sparse input; default: the fastest of tap, pos and, for block-structured
 * masks, blk, timed on the first samples, switching
 * per sample to the dense-input taps kernel above the non-zero count where
 * it measured faster at build (measure_dense_above) when the input is a
 * dense map), ZS_PLAN_LINEAR=gather|block|list|expand
 * (linear with sparse weights; default: a packed layer the list kernel on
 * the model's own packed form (timed against block on a copy for
 * block-structured masks); dense-held weights with AVX2/AVX-512 the
 * fastest of list, gather (and block) timed on the first samples, scalar:
 * list; gather and block pack copies of the weights; expand (not timed by
 * default: slower than list on the shipped models, see docs/KERNELS.md)
 * adds a per-column index of 16-output kept-lane masks to the list).
 */
#include "plan.h"
#include "kernels.h"
#include "layers.h"
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <time.h>

typedef enum {
    ST_PAD, ST_CONV_DENSE, ST_CONV_SPARSE, ST_LINEAR, ST_KWTA, ST_KWTA_POOL, ST_MAXPOOL,
    ST_MAXPOOL_ANY, ST_RELU, ST_SPARSIFY, ST_DENSIFY, ST_LOGSOFTMAX, ST_CONV_KWTA_POOL, ST_CONV_POOL
} stage_kind;

static const char *const stage_names[] = {"pad", "conv_dense", "conv_sparse", "linear", "kwta",
                                          "kwta_pool", "maxpool", "maxpool_any", "relu", "sparsify",
                                          "densify", "logsoftmax", "conv_kwta_pool", "conv_pool"};

/* recorded rounds per alternative in the kernel measurement (calibrate_one):
 * on a shared AMD Zen 5 VM the median of 5 kept AVX-512's scatter kernel
 * for the linear layer in 2 of 16 plans (~8 % slower there), of 9 in none
 * of 24 (the plan now keeps the lower quartile) */
#define CALIB_M 9
/* kernel alternatives a stage can time (conv2: tap g1..g3/row from the list
 * and from the map, pos, blk: 10) */
#define MAX_ALT 12

typedef struct stage {
    stage_kind kind;
    const char *layer;        /* name of the (first) layer it implements   */
    int C, H, W;              /* input shape                               */
    int oC, oH, oW;           /* output shape                              */
    int pad, relu, pk, ps;
    int li;                   /* index of that layer in the network         */
    int list_in;              /* the input arrives as the list lidx/lval    */
    const zs_layer *conv_L, *conv_bn; /* conv_sparse from a dense map: the
                                 layers its dense-input taps are packed from,
                                 when a sample first needs them             */
    int taps_failed;          /* that packing ran out of memory: sparse path */
    int dense_above;          /* conv_sparse from a dense map: use the taps
                                 kernel when more non-zeros than this, measured
                                 at build (0: not from a dense map) */
    int list_below, in_list;  /* linear auto: list kernel when fewer inputs
                                 than list_below; input arrives as a list?   */
    int G, S, k;              /* k-WTA: G groups of S units, k winners     */
    float *f;                 /* (G) boost factors                          */
    zs_conv_taps taps;
    zs_conv_scatter sc;
    zs_linear_pack lin;
    zs_conv_sparse_fn *conv_fn;
    /* kernel alternatives timed on the first samples (calibrate_one) */
    int n_alt, alt;
    zs_conv_sparse_fn *conv_alt[MAX_ALT];
    int conv_g[MAX_ALT];      /* conv: sc.kx_group per alternative (tap) */
    int conv_map[MAX_ALT];    /* conv: lists by conv_pos_lists from the dense
                                 map instead of sparsify + sort (tap)         */
    zs_conv_pos_lists_fn *lists_alt[MAX_ALT]; /* conv: what makes them (conv_pos_lists,
                                 or conv_pos_groups for conv_sparse_vnni)     */
    int map_lists;            /* conv: the chosen alternative's conv_map      */
    zs_conv_pos_lists_fn *lists_fn; /* conv: the chosen alternative's lists_alt */
    int lin_alt[MAX_ALT];     /* linear: list_below per alternative */
    zs_linear_sparse_fn *lin_fn_alt[MAX_ALT]; /* linear: list kernel per alternative */
    const char *alt_name[MAX_ALT];
    double alt_ns[MAX_ALT];   /* measured: lower-quartile ns of a whole sample */
    zs_linear_sparse_fn *lin_fn;   /* sparse input list, or            */
    zs_linear_gather_fn *lin_g;    /* dense input (gather layout)      */
    const char *kernel;       /* for zs_plan_describe                      */
    /* linear: the epilogue after the sum, y = acc + b, then the eval
     * BatchNorm (y - mean) * invstd * gamma + beta exactly as the
     * reference computes it; bias and BatchNorm read from the layers
     * (so learning that changes the bias needs no plan update) */
    const zs_layer *lin_L, *lin_bn;
    float *invstd;            /* (O) when lin_bn                             */
} stage;

/* An executor's scratch regions, always in this order and each always in
 * the same role, whichever plan runs: the largest each plan has needed. */
enum { R_BUF0, R_BUF1, R_LIDX, R_LVAL, R_KWORK, R_CSCRATCH, R_CMAP, N_REGIONS };

typedef struct zs_plan {
    const zs_kernels *K;
    int n, cap;
    stage *st;
    size_t in_size;
    int classes;
    float *buf[2];            /* ping-pong dense activations (buf_len)     */
    size_t buf_len;
    int32_t *lidx;            /* winners / non-zero list (list_len)        */
    float *lval;
    size_t list_len;
    void *kwork;              /* kwta_select work                          */
    float *cscratch;          /* conv_sparse scratch                       */
    float *cmap;              /* conv_kwta_pool's map when the stage's input
                                 is a plan buffer (NULL: not needed)        */
    size_t cmap_len;          /* floats of cmap (0: none)                  */
    /* The buffers above are not the plan's own: bind() points them into
     * an executor's scratch (zs_exec) before every run; need[r] = bytes
     * of region r (R_BUF0 ..). */
    size_t need[N_REGIONS];
    uint64_t id;              /* unique per built plan (zs_exec.last)      */
    int cold;                 /* this sample's weights likely out of L2:
                                 another plan ran on this thread before it */
    int calibrated;           /* kernel alternatives chosen by measurement */
    int calib_seen;           /* samples timed so far (calibrate_one)       */
    int calib_n;              /* samples to see: (CALIB_M + 1) x the
                                 alternatives of each stage that has them    */
    float *calib_x;           /* the first sample (in_size) and a place for
                                 its log-probabilities (classes), timed with
                                 each alternative; freed once calibrated     */
    double (*calib_t)[CALIB_M]; /* the measuring stage's whole-sample ns per
                                 alternative and recorded round (MAX_ALT x
                                 CALIB_M; the stages measure in turn); freed
                                 with calib_x                                */
} zs_plan;


enum { REP_DENSE, REP_LIST };

static void stage_free(stage *s) {
    free(s->f);
    free(s->invstd);
    zs_conv_taps_free(&s->taps);
    zs_conv_scatter_free(&s->sc);
    zs_linear_pack_free(&s->lin);
}

static void plan_destroy(zs_plan *p) {
    if (!p) return;
    for (int i = 0; i < p->n; i++) stage_free(&p->st[i]);
    free(p->st);
    free(p->calib_x);
    free(p->calib_t);
    free(p); /* the buffers belong to an executor */
}

void zs_plan_free(zs_net *net) {
    if (!net) return;
    plan_destroy(net->kernels);
    net->kernels = NULL;
}

/* Append a stage of `kind` with input shape (C, H, W); returns it or NULL. */
static stage *add(zs_plan *p, stage_kind kind, const char *layer, int C, int H, int W) {
    if (p->n == p->cap) {
        int nc = p->cap ? 2 * p->cap : 16;
        stage *ns = realloc(p->st, sizeof(stage) * (size_t)nc);
        if (!ns) return NULL;
        p->st = ns;
        p->cap = nc;
    }
    stage *s = &p->st[p->n++];
    memset(s, 0, sizeof *s);
    s->kind = kind; s->layer = layer;
    s->C = s->oC = C; s->H = s->oH = H; s->W = s->oW = W;
    s->kernel = "";
    return s;
}

static int is_pool22(const zs_layer *L) {
    return L && L->type == ZS_MAXPOOL2D && L->pool_k == 2 && L->pool_stride == 2;
}

/* Copy of the layer's weights and bias with a following eval BatchNorm
 * folded in (bn may be NULL). *w (Co*fan) and *b (Co) are malloc'ed. */
static zs_status fold_weights(const zs_layer *L, const zs_layer *bn, float **w, float **b) {
    size_t nw = (size_t)L->out_c * L->fan_in;
    *w = malloc(sizeof(float) * nw);
    *b = calloc((size_t)L->out_c, sizeof(float));
    if (!*w || !*b) { free(*w); free(*b); *w = *b = NULL; return ZS_ERR(ZS_ENOMEM, "plan: out of memory"); }
    zs_layer_weights_dense(L, *w); /* from the dense or the packed form */
    if (L->has_bias && L->b) memcpy(*b, L->b, sizeof(float) * (size_t)L->out_c);
    if (bn)
        zs_bn_fold(*w, *b, L->out_c, L->fan_in, bn->running_mean, bn->running_var,
                   bn->affine ? bn->gamma : NULL, bn->affine ? bn->beta : NULL, bn->bn_eps);
    return ZS_OK;
}

/* CLOCK_MONOTONIC: read without a system call (tens of ns; the thread
 * CPU-time clock costs ~0.6 us in a VM, more than some stages). The stage
 * profile drops preempted samples instead (profile_run). */
static double wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The dense-input fallback of a conv on a dense map (ST_CONV_SPARSE with
 * taps): measured on this CPU at build, never a fixed share. The sparse
 * path (conv_pos_lists + conv_sparse_tap, one tap per phase) costs about
 * a + b * nonzeros, the taps kernel the same at any density: both timed on
 * synthetic maps with 1/4 and 1/2 of the units non-zero, the crossover
 * solved from the line. dense_above: the non-zero count above which a
 * sample takes the taps kernel (units: never). The choice is fixed for
 * the plan's life, so one input gets the same bits whichever batch it is
 * in.
 * A shared machine only adds time, and one burst of another load must not
 * fix the plan's conv for good: the three runs alternate in DA_ROUNDS
 * rounds (a burst hits one round's runs, not all of one kind) and each
 * keeps its fastest. Timed back to back instead (3 of each in turn), with
 * `make test` running on the other core of a 2-vCPU Zen 5 the crossover
 * came out below 3,000 non-zeros in 13 of 1,530 builds of gsc-sparse's
 * plan, 8 of them at 1: every sample on the taps kernel for the plan's
 * life, 30 % fewer words/s (real inputs: ~2,500 non-zeros, crossover
 * ~5,600); so, 0 of 1,530 (lowest 3,024; docs/BENCHMARKS.md, "2026-11-30
 * 07:00"). A line that does not rise is measured again, then taken as
 * "never" (zs_plan_dense_cross). */
enum { DA_ROUNDS = 7, DA_TRIES = 3 };
int zs_plan_dense_cross(const double t[3], const int nz[2], int units) {
    if (nz[1] <= nz[0] || !(t[1] > t[0])) return -1; /* no rising line */
    const double b = (t[1] - t[0]) / (nz[1] - nz[0]), a = t[0] - b * nz[0], cross = (t[2] - a) / b;
    return cross <= 1 ? 1 : cross >= units ? units : (int)cross;
}
static zs_status measure_dense_above(const zs_kernels *K, stage *s, int units) {
    const zs_conv_scatter *sc = &s->sc;
    size_t outn = (size_t)sc->Co * sc->Ho * sc->Wo;
    float *x[2] = {zs_alloc_aligned((size_t)units + 64, sizeof(float)), zs_alloc_aligned((size_t)units + 64, sizeof(float))};
    float *y = zs_alloc_aligned(outn + 64, sizeof(float));
    float *cs = zs_alloc_aligned(zs_conv_sparse_scratch(sc), sizeof(float));
    if (!x[0] || !x[1] || !y || !cs) {
        zs_free_aligned(x[0]); zs_free_aligned(x[1]); zs_free_aligned(y); zs_free_aligned(cs);
        return ZS_ERR(ZS_ENOMEM, "plan: out of memory");
    }
    zs_conv_scatter one = *sc;
    one.kx_group = 1;
    zs_rng r;
    zs_rng_seed(&r, 12345);
    int nz[2] = {0, 0};
    for (int d = 0; d < 2; d++) {
        memset(x[d], 0, sizeof(float) * (size_t)units);
        for (int i = 0; i < units; i++)
            if (zs_rng_below(&r, 4) < (uint32_t)(d + 1)) x[d][i] = 0.5f + zs_rng_uniform(&r), nz[d]++;
    }
    s->dense_above = units; /* never, unless a rising line says otherwise */
    for (int tr = 0; tr < DA_TRIES; tr++) {
        double t[3] = {1e30, 1e30, 1e30}; /* sparse at 1/4, sparse at 1/2, taps */
        for (int rd = 0; rd < DA_ROUNDS; rd++)
            for (int j = 0; j < 3; j++) {
                const int c = (j + rd) % 3; /* each kind in each place of a round */
                double t0 = wall_ns();
                if (c < 2) {
                    int nl = K->conv_pos_lists(x[c], &one, cs);
                    K->conv_sparse_tap(y, NULL, NULL, nl, &one, cs);
                } else {
                    K->conv_dense(y, x[1], &s->taps);
                }
                double dt = wall_ns() - t0;
                if (dt < t[c]) t[c] = dt;
            }
        const int da = zs_plan_dense_cross(t, nz, units);
        if (da > 0) {
            s->dense_above = da;
            break;
        }
    }
    zs_free_aligned(x[0]); zs_free_aligned(x[1]); zs_free_aligned(y); zs_free_aligned(cs);
    return ZS_OK;
}

/* A conv stage on routed masks (sc.rt_nc > 0) with a list input:
 * conv_sparse_routed sums in another order than the tap/pos/blk kernels
 * (the same bits among themselves, timed per sample by calibrate_one), so
 * it is chosen here, at build, before any sample: timed against each of
 * the stage's alternatives (set by the auto mode, s->n_alt >= 1) on a
 * synthetic input list of n entries at random positions (best of 5 runs
 * each). The loser's layouts are freed. */
static zs_status choose_routed(const zs_kernels *K, stage *s, int n) {
    zs_conv_scatter *sc = &s->sc;
    int units = sc->Ci * sc->H * sc->W;
    n = n < 1 ? 1 : n > units ? units : n;
    size_t outn = (size_t)sc->Co * sc->Ho * sc->Wo;
    int32_t *idx = malloc(sizeof(int32_t) * (size_t)units);
    float *val = malloc(sizeof(float) * (size_t)units);
    float *y = zs_alloc_aligned(outn + 64, sizeof(float));
    float *cs = zs_alloc_aligned(zs_conv_sparse_scratch(sc), sizeof(float));
    if (!idx || !val || !y || !cs) {
        free(idx); free(val); zs_free_aligned(y); zs_free_aligned(cs);
        return ZS_ERR(ZS_ENOMEM, "plan: out of memory");
    }
    zs_rng r;
    zs_rng_seed(&r, 4242);
    /* n of the units, ascending (selection sampling) */
    for (int i = 0, m = 0; i < units && m < n; i++)
        if (zs_rng_below(&r, (uint32_t)(units - i)) < (uint32_t)(n - m)) { idx[m] = i; val[m++] = 0.5f + zs_rng_uniform(&r); }
    double best_other = 1e30, routed = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        for (int a = 0; a < s->n_alt; a++) {
            sc->kx_group = s->conv_g[a];
            double t0 = wall_ns();
            s->conv_alt[a](y, idx, val, n, sc, cs);
            double t = wall_ns() - t0;
            if (t < best_other) best_other = t;
        }
        double t0 = wall_ns();
        K->conv_sparse_routed(y, idx, val, n, sc, cs);
        double t = wall_ns() - t0;
        if (t < routed) routed = t;
    }
    free(idx); free(val); zs_free_aligned(y); zs_free_aligned(cs);
    sc->kx_group = s->conv_g[0];
    if (routed < best_other) {
        s->conv_fn = K->conv_sparse_routed;
        s->kernel = "conv_sparse_routed (timed at build)";
        s->n_alt = 0;
        free(sc->bstart); free(sc->boff); zs_free_aligned(sc->bw);
        sc->bstart = sc->boff = NULL; sc->bw = NULL;
        zs_free_aligned(sc->wvec); sc->wvec = NULL;
    } else {
        free(sc->rt_cls); free(sc->rt_blk); zs_free_aligned(sc->rt_w);
        sc->rt_cls = NULL; sc->rt_blk = NULL; sc->rt_w = NULL; sc->rt_nc = 0;
    }
    return ZS_OK;
}

static void set_alt(stage *s, int a);

static int env_is(const char *name, const char *val) {
    const char *e = getenv(name);
    return e && !strcmp(e, val);
}

static void drop_unused(zs_plan *p);

/* like: a calibrated plan of a network of the same architecture (its
 * clone's source): its measurements (conv's dense-input crossover, the
 * kernel choices) are taken instead of made again, when its stages match */
static zs_status plan_build(zs_net *net, const zs_plan *like) {
    zs_status st = ZS_OK;
    ZS_RETURN_IF(!net, ZS_EINVAL, "zs_plan_build: NULL network");
    zs_plan_free(net);
    zs_plan *p = calloc(1, sizeof *p);
    ZS_RETURN_IF(!p, ZS_ENOMEM, "plan: out of memory");
    p->K = zs_kernels_active();
    p->in_size = (size_t)net->in_c * net->in_h * net->in_w;
    p->classes = net->num_classes;
    /* conv on a sparse input: 0 taps (dense input), 1 vec, 2 list, 3 pos, 4 auto */
    int conv_mode = 4;
    if (env_is("ZS_PLAN_CONV", "taps")) conv_mode = 0;
    if (env_is("ZS_PLAN_CONV", "vec")) conv_mode = 1;
    if (env_is("ZS_PLAN_CONV", "list")) conv_mode = 2;
    if (env_is("ZS_PLAN_CONV", "pos")) conv_mode = 3;
    if (env_is("ZS_PLAN_CONV", "tap")) conv_mode = 5;
    if (env_is("ZS_PLAN_CONV", "blk")) conv_mode = 6;
    if (env_is("ZS_PLAN_CONV", "routed")) conv_mode = 7;
    /* sparse linear: 0 gather, 1 block, 2 list, 3 auto (timed; scalar:
     * list), 4 expand */
    int lin_mode = p->K->isa == ZS_ISA_SCALAR ? 2 : 3;
    if (env_is("ZS_PLAN_LINEAR", "gather")) lin_mode = 0;
    if (env_is("ZS_PLAN_LINEAR", "block")) lin_mode = 1;
    if (env_is("ZS_PLAN_LINEAR", "list")) lin_mode = 2;
    if (env_is("ZS_PLAN_LINEAR", "expand")) lin_mode = 4;

    float *fw = NULL, *fb = NULL;
    int any_sparse = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const zs_layer *L = &net->layers[i];
        if (L->type == ZS_KWINNERS || L->type == ZS_KWINNERS2D) any_sparse = 1;
        if ((L->type == ZS_KWINNERS || L->type == ZS_KWINNERS2D) && L->ties_nupic)
            ZS_FAIL(ZS_EUNSUPPORTED, "plan: k-WTA '%s' uses nupic ties (more than k winners possible); "
                    "the reference path implements them", L->name);
        if ((L->type == ZS_CONV2D || L->type == ZS_LINEAR) && L->weight_sparsity > 0) any_sparse = 1;
    }
    if (!any_sparse && !env_is("ZS_PLAN_DENSE", "1"))
        ZS_FAIL(ZS_EUNSUPPORTED, "plan: '%s' has no sparse weights or k-WTA; the dense path is faster",
                net->arch_name);

    int rep = REP_DENSE, sparse_hint = 0;     /* current activation */
    int C = net->in_c, H = net->in_h, W = net->in_w;
    size_t maxd = (size_t)C * H * W, maxl, maxk = 16, maxc = 16, maxm = 0;
    stage *s;
    int li_cur = 0;
#define ADD(kind, name) do { if (!(s = add(p, (kind), (name), C, H, W))) ZS_FAIL(ZS_ENOMEM, "plan: out of memory"); \
                             s->li = li_cur; s->list_in = rep == REP_LIST; } while (0)
#define NEED_DENSE(name) do { if (rep == REP_LIST) { ADD(ST_DENSIFY, name); rep = REP_DENSE; } } while (0)
#define NEED_LIST(name) do { if (rep == REP_DENSE) { ADD(ST_SPARSIFY, name); s->kernel = "sparsify"; rep = REP_LIST; } } while (0)

    for (int i = 0; i < net->n_layers; i++) {
        const zs_layer *L = &net->layers[i], *next = i + 1 < net->n_layers ? &net->layers[i + 1] : NULL;
        size_t units = (size_t)C * H * W;
        li_cur = i;
        if (units > maxd) maxd = units;
        switch (L->type) {
        case ZS_CONV2D: {
            if (L->stride != 1) ZS_FAIL(ZS_EUNSUPPORTED, "plan: conv '%s' has stride %d (only 1)", L->name, L->stride);
            const zs_layer *bn = next && next->type == ZS_BATCHNORM ? next : NULL;
            ZS_TRY(fold_weights(L, bn, &fw, &fb));
            int useful_sparse = rep == REP_LIST || (sparse_hint && conv_mode != 0);
            if (useful_sparse) {
                /* auto on a dense map: sparsify in the stage, then per sample the
                 * sparse kernel or, above the measured crossover, the dense-input taps */
                int from_dense = rep == REP_DENSE && conv_mode == 4 && L->pad == 0;
                if (!from_dense) NEED_LIST(L->name);
                ADD(ST_CONV_SPARSE, L->name);
                ZS_TRY(zs_conv_scatter_pack(&s->sc, fw, fb, L->out_c, C, L->kh, L->kw, H, W, L->pad,
                                            conv_mode == 2, conv_mode != 2));
                int mode = conv_mode;
                /* int8 rows (zs_net_set_int8_weights): conv_sparse_tap_q8 and,
                 * with AVX-512 VNNI, conv_sparse_vnni, timed
                 * over the same groups and input sources; no fp32 blocks and
                 * no dense-input fallback (its taps are fp32: another answer
                 * for one input depending on its density) */
                const int q8 = net->int8_weights && conv_mode == 4;
                const int vnni_cpu = q8 && p->K->isa == ZS_ISA_AVX512 && zs_cpu_avx512_vnni();
                /* block-structured masks ("structure": "block"/"complementary",
                 * checked here on the folded weights, not trusted from the JSON):
                 * at most half of the rows' 16-channel blocks hold a weight */
                double bfrac = 1.0;
                if ((mode == 4 && !q8) || mode == 6) ZS_TRY(zs_conv_scatter_pack_blocks(&s->sc, &bfrac));
                if (mode == 4 && bfrac > 0.5) {
                    free(s->sc.bstart); free(s->sc.boff); zs_free_aligned(s->sc.bw);
                    s->sc.bstart = s->sc.boff = NULL; s->sc.bw = NULL;
                }
                s->conv_fn = mode == 2 ? p->K->conv_sparse_list : mode == 1 ? p->K->conv_sparse_vec
                           : mode == 5 ? p->K->conv_sparse_tap : mode == 6 ? p->K->conv_sparse_blk : p->K->conv_sparse_pos;
                s->kernel = mode == 2 ? "conv_sparse_list" : mode == 1 ? "conv_sparse_vec" : mode == 5 ? "conv_sparse_tap"
                          : mode == 6 ? "conv_sparse_blk" : "conv_sparse_pos";
                if (q8) ZS_TRY(zs_conv_scatter_quantize_q8(&s->sc, vnni_cpu));
                if (conv_mode == 4) {
                    /* auto: kernels that give the same bits (same summation
                     * order; tests/test_kernels.c same_bits) are timed on the
                     * first samples (calibrate_one) and the fastest kept: tap
                     * with 1, 2, 3 and Kw taps per phase (kx_group), from the
                     * sparsify list or (dense input map) from conv_pos_lists,
                     * pos, and for block-structured masks blk. (vec sums in
                     * another order.) */
                    static const char *const tap_names[6][4] = {
                        {"conv_sparse_tap g1", "conv_sparse_tap g2", "conv_sparse_tap g3", "conv_sparse_tap row"},
                        {"conv_pos_lists+conv_sparse_tap g1", "conv_pos_lists+conv_sparse_tap g2",
                         "conv_pos_lists+conv_sparse_tap g3", "conv_pos_lists+conv_sparse_tap row"},
                        {"conv_sparse_tap_q8 g1", "conv_sparse_tap_q8 g2", "conv_sparse_tap_q8 g3",
                         "conv_sparse_tap_q8 row"},
                        {"conv_pos_lists+conv_sparse_tap_q8 g1", "conv_pos_lists+conv_sparse_tap_q8 g2",
                         "conv_pos_lists+conv_sparse_tap_q8 g3", "conv_pos_lists+conv_sparse_tap_q8 row"},
                        {"conv_pos_groups+conv_sparse_vnni g1", "conv_pos_groups+conv_sparse_vnni g2",
                         "conv_pos_groups+conv_sparse_vnni g3", "conv_pos_groups+conv_sparse_vnni row"},
                        {"conv_sparse_vnni g1", "conv_sparse_vnni g2", "conv_sparse_vnni g3", "conv_sparse_vnni row"}};
                    /* conv_sparse_vnni on 4-channel groups needs integer sums
                     * (the same bits as conv_sparse_tap_q8: exact integers) */
                    const int vnni = vnni_cpu && s->sc.qact;
                    if (vnni_cpu && !vnni) { /* only conv_sparse_vnni reads the groups' rows */
                        zs_free_aligned(s->sc.wq4);
                        s->sc.wq4 = NULL;
                    }
                    /* sources: 0 the list, 1 conv_pos_lists (dense map), 2
                     * 4-channel groups (conv_pos_groups from a dense map,
                     * zs_conv_list_groups in the kernel from a list) */
                    int na = 0;
                    for (int src = 0; src <= 2; src++)
                        for (int g = 1; g <= 4; g++) {
                            int kg = g == 4 ? L->kw : g;
                            if ((src == 1 && !from_dense) || (src == 2 && !vnni)) break;
                            if (kg > L->kw || (g == 4 && L->kw <= 3)) continue;
                            s->conv_alt[na] = src == 2 ? p->K->conv_sparse_vnni
                                            : q8 ? p->K->conv_sparse_tap_q8 : p->K->conv_sparse_tap;
                            s->lists_alt[na] = src == 2 ? p->K->conv_pos_groups : p->K->conv_pos_lists;
                            s->conv_g[na] = kg; s->conv_map[na] = src > 0 && from_dense;
                            s->alt_name[na++] = tap_names[src == 2 ? (from_dense ? 4 : 5) : q8 ? src + 2 : src][g - 1];
                        }
                    if (!q8) {
                        s->conv_alt[na] = p->K->conv_sparse_pos; s->alt_name[na++] = "conv_sparse_pos";
                    }
                    if (s->sc.bstart && !q8) {
                        s->conv_alt[na] = p->K->conv_sparse_blk; s->alt_name[na++] = "conv_sparse_blk";
                    }
                    s->n_alt = na;
                    set_alt(s, 0);
                }
                if ((conv_mode == 4 && !from_dense && !q8) || conv_mode == 7) {
                    /* routed masks: conv_sparse_routed, if it wins at build
                     * (ZS_PLAN_CONV=routed: always; the weights must have a
                     * routing) */
                    ZS_TRY(zs_conv_scatter_pack_routed(&s->sc));
                    if (conv_mode == 7 && !s->sc.rt_nc)
                        ZS_FAIL(ZS_EUNSUPPORTED, "plan: conv '%s' has no routing (ZS_PLAN_CONV=routed)", L->name);
                    if (conv_mode == 7) {
                        s->conv_fn = p->K->conv_sparse_routed;
                        s->kernel = "conv_sparse_routed";
                    } else if (s->sc.rt_nc) {
                        const stage *pk = p->n > 1 && p->st[p->n - 2].kind == ST_KWTA ? &p->st[p->n - 2] : NULL;
                        ZS_TRY(choose_routed(p->K, s, pk ? pk->k : (int)(units / 10)));
                    }
                }
                if (from_dense) {
                    /* tap-major: the same bits as the sparse kernels, so the
                     * per-sample switch (measured crossover) changes no answer.
                     * Packed to measure, then dropped: a sample above the
                     * crossover packs them again (dense_taps); real inputs
                     * stay far below it (gsc-sparse: ~20 % non-zero, crossover
                     * 40-47 %), and the plan holds 164 KB less */
                    const char *da = getenv("ZS_PLAN_CONV_DENSE_ABOVE"); /* tests: a fraction of the units */
                    if (q8) {
                        s->dense_above = (int)units; /* never */
                    } else if (da && *da) {
                        double f = atof(da) * (double)units;
                        s->dense_above = f < 1 ? 1 : f > (double)units ? (int)units : (int)f;
                    } else if (like && p->n <= like->n && like->st[p->n - 1].kind == ST_CONV_SPARSE &&
                               like->st[p->n - 1].dense_above > 0) {
                        s->dense_above = like->st[p->n - 1].dense_above; /* measured for the source */
                    } else {
                        ZS_TRY(zs_conv_taps_pack(&s->taps, fw, fb, L->out_c, C, L->kh, L->kw, H, W, 1));
                        ZS_TRY(measure_dense_above(p->K, s, (int)units));
                        zs_conv_taps_free(&s->taps);
                    }
                    s->conv_L = L; s->conv_bn = bn;
                }
                size_t cs = zs_conv_sparse_scratch(&s->sc);
                if (cs > maxc) maxc = cs;
            } else {
                NEED_DENSE(L->name);
                if (L->pad > 0) {
                    ADD(ST_PAD, L->name);
                    s->pad = L->pad;
                    H += 2 * L->pad; W += 2 * L->pad;
                    s->oH = H; s->oW = W;
                    if ((size_t)C * H * W > maxd) maxd = (size_t)C * H * W;
                }
                ADD(ST_CONV_DENSE, L->name);
                ZS_TRY(zs_conv_taps_pack(&s->taps, fw, fb, L->out_c, C, L->kh, L->kw, H, W, 0));
                s->kernel = "conv_dense";
            }
            free(fw); free(fb); fw = fb = NULL;
            C = L->out_c; H = L->out_h; W = L->out_w;
            s->oC = C; s->oH = H; s->oW = W;
            rep = REP_DENSE; sparse_hint = 0;
            if (bn) i++;
            break;
        }
        case ZS_LINEAR: {
            const zs_layer *bn = next && next->type == ZS_BATCHNORM ? next : NULL;
            if (L->prow && L->pcol && L->pidx16 && lin_mode >= 1) {
                /* a packed sparse layer: the list kernel on the model's
                 * own input-major packed form, in place (no copy), the
                 * expand kernel on it plus the plan's mask index, or the
                 * block kernel on a copy in 16-output blocks made from it
                 * (ZS_PLAN_LINEAR=block, or chosen below), which learning
                 * keeps in step (zs_plan_sync_linear) */
                NEED_LIST(L->name);
                ADD(ST_LINEAR, L->name);
                zs_linear_pack *lp = &s->lin;
                lp->I = (int)L->fan_in; lp->O = L->out_c; lp->Op = (L->out_c + 15) & ~15;
                lp->start = L->prow; lp->lo = L->pidx16; lp->lw = L->pval; lp->borrowed = 1;
                zs_linear_pack_pf(lp);
                if (!(lp->bias = zs_alloc_aligned((size_t)lp->Op, sizeof(float)))) ZS_FAIL(ZS_ENOMEM, "plan: out of memory");
                if (lin_mode == 4) ZS_TRY(zs_linear_pack_expand(lp));
                if (lin_mode == 1) ZS_TRY(zs_linear_pack_blocks(lp));
                s->lin_fn = lin_mode == 4 ? p->K->linear_ss_expand : lin_mode == 1 ? p->K->linear_ss : p->K->linear_ss_list;
                s->kernel = lin_mode == 4 ? "linear_ss_expand (model's packed form)"
                          : lin_mode == 1 ? "linear_ss (blocks of the model's packed form)"
                                          : "linear_ss_list (model's packed form)";
                /* auto: timed against it (bit-identical, tests/test_kernels.c
                 * same_bits), AVX-512's one-weight-at-a-time twin (no
                 * gather/scatter) and, for block-structured weights (kept
                 * 16-output blocks of the columns at least half full), the
                 * block kernel on a copy, freed if it loses */
                int na = 0;
                if (lin_mode == 3) {
                    s->alt_name[na] = "linear_ss_list"; s->lin_fn_alt[na++] = p->K->linear_ss_list;
                    if (p->K->isa == ZS_ISA_AVX512) {
                        s->alt_name[na] = "linear_ss_list1"; s->lin_fn_alt[na++] = p->K->linear_ss_list1;
                    }
                }
                const size_t nblk = zs_linear_pack_nblocks(lp), nnz = (size_t)L->prow[L->fan_in];
                if (lin_mode == 3 && nnz > 0 && nnz * 2 >= nblk * 16) {
                    ZS_TRY(zs_linear_pack_blocks(lp));
                    s->alt_name[na] = "linear_ss"; s->lin_fn_alt[na++] = p->K->linear_ss;
                }
                if (na > 1) {
                    s->in_list = 1;
                    s->n_alt = na;
                    for (int a = 0; a < na; a++) s->lin_alt[a] = INT32_MAX;
                    s->list_below = INT32_MAX;
                }
            } else {
                /* dense-held weights (a trainer's, or a layer without
                 * sparsity): the plan packs its layouts, unfolded */
                ZS_TRY(fold_weights(L, NULL, &fw, &fb));
                memset(fb, 0, sizeof(float) * (size_t)L->out_c); /* the bias: in the epilogue */
                size_t nnz = 0, nw = (size_t)L->out_c * L->fan_in;
                for (size_t j = 0; j < nw; j++) nnz += fw[j] != 0.0f;
                int sparse_w = nnz * 2 < nw;
                int fmt = !sparse_w ? ZS_LIN_DENSE : lin_mode == 0 ? ZS_LIN_GATHER : lin_mode == 1 ? ZS_LIN_BLOCK
                        : lin_mode == 2 ? ZS_LIN_LIST : lin_mode == 4 ? ZS_LIN_LIST | ZS_LIN_EXPAND
                        : ZS_LIN_GATHER | ZS_LIN_LIST;
                if ((fmt & ZS_LIN_LIST) && L->out_c > 65536) fmt = ZS_LIN_GATHER; /* the list's uint16 outputs */
                /* block-structured weights ("structure": "block"/"complementary"
                 * with 16-unit blocks): the kept 16-output blocks of the
                 * columns are at least half full, so the block kernel is a
                 * third candidate in auto mode */
                int blocky = 0;
                if (sparse_w && lin_mode == 3) {
                    size_t nblk = 0;
                    for (size_t i = 0; i < L->fan_in; i++)
                        for (int o0 = 0; o0 < L->out_c; o0 += 16) {
                            int any = 0;
                            for (int o = o0; o < o0 + 16 && o < L->out_c; o++) any |= fw[(size_t)o * L->fan_in + i] != 0.0f;
                            nblk += (size_t)any;
                        }
                    blocky = nnz * 2 >= nblk * 16;
                }
                if (fmt == (ZS_LIN_GATHER | ZS_LIN_LIST)) {
                    /* auto: the stage converts its input (list or dense) as needed */
                } else if (fmt == ZS_LIN_GATHER) NEED_DENSE(L->name);
                else NEED_LIST(L->name);
                ADD(ST_LINEAR, L->name);
                /* a small dense layer (the output: <= 16 outputs, one
                 * 16-float column would be mostly padding) is read in place
                 * from the model's rows: no copy to hold or to update when
                 * it learns */
                int rows = fmt == ZS_LIN_DENSE && L->out_c <= 16 && L->w && !L->mask;
                ZS_TRY(zs_linear_pack_make(&s->lin, fw, fb, L->out_c, (int)L->fan_in,
                                           rows ? 0 : fmt | (blocky ? ZS_LIN_BLOCK : 0)));
                if (rows) s->lin.wr = L->w;
                s->lin_fn = rows ? p->K->linear_sr : fmt == ZS_LIN_DENSE ? p->K->linear_sd : (fmt & ZS_LIN_EXPAND) ? p->K->linear_ss_expand
                          : (fmt & ZS_LIN_LIST) ? p->K->linear_ss_list : p->K->linear_ss;
                if (fmt & ZS_LIN_GATHER) s->lin_g = p->K->linear_sg;
                s->kernel = rows ? "linear_sr (the model's rows in place)" : fmt == ZS_LIN_DENSE ? "linear_sd" : (fmt & ZS_LIN_EXPAND) ? "linear_ss_expand"
                          : fmt == ZS_LIN_LIST ? "linear_ss_list"
                          : fmt == ZS_LIN_GATHER ? "linear_sg" : fmt == ZS_LIN_BLOCK ? "linear_ss"
                          : "linear_ss_list (< 27% inputs) | linear_sg";
                if (fmt == (ZS_LIN_GATHER | ZS_LIN_LIST)) {
                    const char *sw = getenv("ZS_PLAN_LINEAR_SWITCH"); /* tests: fraction, default 0.27 */
                    double frac = sw && *sw ? atof(sw) : 0.27;
                    s->list_below = frac <= 0 ? -1 : (int)(frac * (double)L->fan_in) + (frac >= 1);
                    s->in_list = rep == REP_LIST;
                    if (!sw || !*sw) {
                        /* measured on the first samples: always list, always gather
                         * (bit-identical: same_bits in tests/test_kernels.c) */
                        int na = 2;
                        s->lin_alt[0] = INT32_MAX; s->alt_name[0] = "linear_ss_list";
                        s->lin_alt[1] = -1; s->alt_name[1] = "linear_sg";
                        s->lin_fn_alt[0] = s->lin_fn_alt[1] = p->K->linear_ss_list;
                        if (p->K->isa == ZS_ISA_AVX512) { /* no gather/scatter: same bits */
                            s->lin_alt[na] = INT32_MAX; s->alt_name[na] = "linear_ss_list1";
                            s->lin_fn_alt[na++] = p->K->linear_ss_list1;
                        }
                        if (blocky) {
                            /* (bit-identical too: one FMA per product in input order,
                             * plus FMAs with the zero weights of a block) */
                            s->lin_alt[na] = INT32_MAX; s->alt_name[na] = "linear_ss";
                            s->lin_fn_alt[na++] = p->K->linear_ss;
                        }
                        s->n_alt = na;
                        s->list_below = s->lin_alt[0];
                        s->kernel = s->alt_name[0];
                    }
                }
                free(fw); free(fb); fw = fb = NULL;
            }
            s->lin_L = L;
            if (bn) {
                s->lin_bn = bn;
                if (!(s->invstd = malloc(sizeof(float) * (size_t)L->out_c))) ZS_FAIL(ZS_ENOMEM, "plan: out of memory");
                for (int o = 0; o < L->out_c; o++) /* as zs_batchnorm_forward in eval mode */
                    s->invstd[o] = (float)(1.0 / sqrt((double)bn->running_var[o] + bn->bn_eps));
            }
            C = L->out_c; H = W = 1;
            s->oC = C; s->oH = s->oW = 1;
            if ((size_t)s->lin.Op > maxd) maxd = (size_t)s->lin.Op;
            rep = REP_DENSE; sparse_hint = 0;
            if (bn) i++;
            break;
        }
        case ZS_BATCHNORM:
            ZS_FAIL(ZS_EUNSUPPORTED, "plan: batchnorm '%s' does not follow a conv/linear", L->name);
        case ZS_KWINNERS2D:
        case ZS_KWINNERS: {
            if (L->type == ZS_KWINNERS2D && L->local)
                ZS_FAIL(ZS_EUNSUPPORTED, "plan: local k-WTA '%s'", L->name);
            NEED_DENSE(L->name);
            int vec = L->type == ZS_KWINNERS;
            int G = vec ? (int)units : C, S = vec ? 1 : H * W;
            int kk = L->k_inference < (int)units ? L->k_inference : (int)units;
            float td = (float)((double)L->k_inference / (double)units);
            int fuse = !vec && is_pool22(next);
            /* conv (+BN) -> global k-WTA -> 2x2/2 max-pool on the conv's
             * output: one stage, conv_kwta_pool (ZS_PLAN_FUSE=0: the conv
             * stage, then kwta_select+kwta_pool, for measurements) */
            stage *cv = p->n ? &p->st[p->n - 1] : NULL;
            if (fuse && cv && cv->kind == ST_CONV_DENSE && cv->oC == C && cv->oH == H && cv->oW == W &&
                i > 0 && (net->layers[i - 1].type == ZS_CONV2D || net->layers[i - 1].type == ZS_BATCHNORM) &&
                !env_is("ZS_PLAN_FUSE", "0")) {
                s = cv;
                s->kind = ST_CONV_KWTA_POOL;
                s->li = li_cur; /* the k-WTA layer (its boost factors: zs_plan_update_kwta) */
                s->G = G; s->S = S; s->k = kk;
                if (!(s->f = malloc(sizeof(float) * (size_t)G))) ZS_FAIL(ZS_ENOMEM, "plan: out of memory");
                p->K->boost(s->f, L->duty, G, td, L->boost_strength);
                if (zs_conv_kwta_pool_work_size((int)units) > maxk) maxk = zs_conv_kwta_pool_work_size((int)units);
                if (p->n > 1 && units > maxm) maxm = units; /* input in a plan buffer: own map */
                s->kernel = zs_conv_kwta_pool_fast(&s->taps, kk) ? "conv_kwta_pool"
                                                                 : "conv_kwta_pool (conv_dense+kwta_select+kwta_pool)";
                H /= 2; W /= 2;
                s->oH = H; s->oW = W;
                rep = REP_DENSE; sparse_hint = 1;
                i++;
                break;
            }
            ADD(fuse ? ST_KWTA_POOL : ST_KWTA, L->name);
            s->G = G; s->S = S; s->k = kk;
            if (!(s->f = malloc(sizeof(float) * (size_t)G))) ZS_FAIL(ZS_ENOMEM, "plan: out of memory");
            p->K->boost(s->f, L->duty, G, td, L->boost_strength);
            if (zs_kwta_work_size((int)units) > maxk) maxk = zs_kwta_work_size((int)units);
            if (fuse) {
                s->kernel = "kwta_select+kwta_pool";
                H /= 2; W /= 2;
                s->oH = H; s->oW = W;
                rep = REP_DENSE; sparse_hint = 1;
                i++;
            } else {
                s->kernel = "kwta_select+kwta_emit";
                rep = REP_LIST;
            }
            break;
        }
        case ZS_MAXPOOL2D: {
            /* conv (+BN) -> 2x2/2 max-pool (the pool-first networks): one
             * stage, conv_pool (ZS_PLAN_FUSE=0: the two kernels) */
            stage *cv = p->n ? &p->st[p->n - 1] : NULL;
            /* a sparse-input conv on the int8 path -> 2x2/2 max-pool: its
             * sums pooled before the unpack (zs_conv_scatter.pool, which
             * every alternative of such a stage, conv_sparse_tap_q8 and
             * conv_sparse_vnni, honours); the same bits as the two stages */
            const int fuse = rep == REP_DENSE && is_pool22(L) && cv && cv->oC == C && cv->oH == H && cv->oW == W &&
                             i > 0 && (net->layers[i - 1].type == ZS_CONV2D || net->layers[i - 1].type == ZS_BATCHNORM) &&
                             !env_is("ZS_PLAN_FUSE", "0");
            if (fuse && cv->kind == ST_CONV_SPARSE && (cv->sc.wq || cv->sc.wq4)) {
                cv->sc.pool = 1;
                H = L->out_h; W = L->out_w;
                cv->oH = H; cv->oW = W;
                break;
            }
            if (fuse && cv->kind == ST_CONV_DENSE) {
                s = cv;
                s->kind = ST_CONV_POOL;
                s->kernel = zs_conv_shift_fits(&s->taps) ? "conv_pool" : "conv_pool (conv_dense+maxpool)";
                if (p->n > 1 && units > maxm) maxm = units; /* input in a plan buffer: own map */
                H = L->out_h; W = L->out_w;
                s->oH = H; s->oW = W;
                break;
            }
            NEED_DENSE(L->name);
            ADD(is_pool22(L) ? ST_MAXPOOL : ST_MAXPOOL_ANY, L->name);
            s->pk = L->pool_k; s->ps = L->pool_stride;
            s->kernel = is_pool22(L) ? "maxpool" : "zs_maxpool2d_forward (reference)";
            H = L->out_h; W = L->out_w;
            s->oH = H; s->oW = W;
            break;
        }
        case ZS_RELU:
            NEED_DENSE(L->name);
            if (is_pool22(next)) {
                ADD(ST_MAXPOOL, L->name);
                s->relu = 1; s->pk = s->ps = 2;
                s->kernel = "maxpool (+relu)";
                H = next->out_h; W = next->out_w;
                s->oH = H; s->oW = W;
                i++;
            } else {
                ADD(ST_RELU, L->name);
                s->kernel = "zs_relu_forward (reference)";
            }
            break;
        case ZS_FLATTEN:
            if (rep == REP_DENSE || rep == REP_LIST) { C = C * H * W; H = W = 1; }
            break;
        case ZS_DROPOUT: break; /* identity in eval mode */
        case ZS_LOGSOFTMAX:
            if (i != net->n_layers - 1) ZS_FAIL(ZS_EUNSUPPORTED, "plan: logsoftmax '%s' is not the last layer", L->name);
            break;
        default:
            ZS_FAIL(ZS_EUNSUPPORTED, "plan: layer '%s' of an unsupported type", L->name);
        }
        (void)sparse_hint;
    }
    if ((size_t)C * H * W > maxd) maxd = (size_t)C * H * W;
    li_cur = net->n_layers - 1;
    NEED_DENSE("output");
    if ((size_t)C * H * W != (size_t)net->num_classes)
        ZS_FAIL(ZS_EUNSUPPORTED, "plan: output has %d values for %d classes", C * H * W, net->num_classes);
    ADD(ST_LOGSOFTMAX, "output");
    s->kernel = "zs_logsoftmax_forward (reference)";

    /* the list buffers hold the longest list a stage writes (a sparsify,
     * a winners list), not the largest map */
    maxl = 16;
    for (int i = 0; i < p->n; i++) {
        const stage *q = &p->st[i];
        int writes = q->kind == ST_SPARSIFY || q->kind == ST_KWTA || (q->kind == ST_CONV_SPARSE && q->dense_above) ||
                     (q->kind == ST_LINEAR && q->list_below && !q->in_list);
        if (writes && (size_t)q->C * q->H * q->W > maxl) maxl = (size_t)q->C * q->H * q->W;
    }
    p->buf_len = maxd + 64;
    p->list_len = maxl + 64;
    p->cmap_len = maxm ? maxm + 64 : 0;
    p->need[R_BUF0] = p->need[R_BUF1] = sizeof(float) * p->buf_len;
    p->need[R_LIDX] = sizeof(int32_t) * p->list_len;
    p->need[R_LVAL] = sizeof(float) * p->list_len;
    p->need[R_KWORK] = maxk;
    p->need[R_CSCRATCH] = sizeof(float) * maxc;
    p->need[R_CMAP] = sizeof(float) * p->cmap_len;
    /* the source's kernel choices, when every stage matches it (the same
     * kinds and alternatives): nothing left to measure */
    int adopt = like && like->n == p->n && like->K == p->K;
    for (int i = 0; adopt && i < p->n; i++) {
        const stage *a = &p->st[i], *b = &like->st[i];
        adopt = a->kind == b->kind && a->n_alt == b->n_alt;
        for (int k = 0; adopt && k < a->n_alt; k++) adopt = !strcmp(a->alt_name[k], b->alt_name[k]);
    }
    if (adopt) {
        for (int i = 0; i < p->n; i++)
            if (p->st[i].n_alt > 1) {
                set_alt(&p->st[i], like->st[i].alt);
                memcpy(p->st[i].alt_ns, like->st[i].alt_ns, sizeof p->st[i].alt_ns);
            }
        drop_unused(p);
    }
    /* kernel choice by measurement (calibrate_one): its turns, and the
     * first sample's copy it reruns */
    for (int i = 0; i < p->n && !adopt; i++)
        if (p->st[i].n_alt > 1) p->calib_n += (CALIB_M + 1) * p->st[i].n_alt;
    if (p->calib_n && (!(p->calib_x = malloc(sizeof(float) * (p->in_size + (size_t)p->classes))) ||
                       !(p->calib_t = calloc(MAX_ALT, sizeof *p->calib_t))))
        ZS_FAIL(ZS_ENOMEM, "plan: out of memory");
    p->calibrated = p->calib_n == 0;
    static _Atomic uint64_t next_id = 1;
    p->id = next_id++;
    net->kernels = p;
    return ZS_OK;
fail:
    free(fw); free(fb);
    plan_destroy(p);
    return st;
#undef ADD
#undef NEED_DENSE
#undef NEED_LIST
}

zs_status zs_plan_build(zs_net *net) { return plan_build(net, NULL); }

zs_status zs_plan_build_like(zs_net *net, const zs_net *src) {
    const zs_plan *like = src ? src->kernels : NULL;
    return plan_build(net, like && like->calibrated ? like : NULL);
}


/* The linear stage's epilogue on its output y (see stage): y = acc + b
 * (b may be NULL), then the eval BatchNorm (y - mean) * invstd * g + beta
 * (g, beta = 1, 0 without affine, as the reference), 4 outputs at a time
 * (GCC vector extension; the same operations per element). */
static void lin_epilogue(const stage *s, float *y) {
    const zs_layer *L = s->lin_L, *bn = s->lin_bn;
    const float *b = L->has_bias ? L->b : NULL;
    int O = L->out_c, o = 0;
    if (!bn) {
        if (b)
            for (; o < O; o++) y[o] += b[o];
        return;
    }
    const float *mean = bn->running_mean, *is = s->invstd;
    const float *ga = bn->affine ? bn->gamma : NULL, *be = bn->affine ? bn->beta : NULL;
    const zs_v4f one = {1.0f, 1.0f, 1.0f, 1.0f}, zero = {0.0f, 0.0f, 0.0f, 0.0f};
    for (; o + 4 <= O; o += 4) {
        zs_v4f v = zs_ld4(y + o);
        if (b) v += zs_ld4(b + o);
        v = (v - zs_ld4(mean + o)) * zs_ld4(is + o) * (ga ? zs_ld4(ga + o) : one) + (be ? zs_ld4(be + o) : zero);
        zs_st4(y + o, v);
    }
    for (; o < O; o++) {
        float v = b ? y[o] + b[o] : y[o];
        y[o] = (v - mean[o]) * is[o] * (ga ? ga[o] : 1.0f) + (be ? be[o] : 0.0f);
    }
}

/* A conv_sparse stage's dense-input taps, packed the first time a sample
 * has more non-zeros than the crossover (kept from then on). 0: out of
 * memory, the sparse path runs (the same bits). */
static int dense_taps(stage *s) {
    if (s->taps.w) return 1;
    if (s->taps_failed || !s->conv_L) return 0;
    float *fw = NULL, *fb = NULL;
    const zs_layer *L = s->conv_L;
    int ok = fold_weights(L, s->conv_bn, &fw, &fb) == ZS_OK &&
             zs_conv_taps_pack(&s->taps, fw, fb, L->out_c, s->C, L->kh, L->kw, s->H, s->W, 1) == ZS_OK;
    free(fw);
    free(fb);
    s->taps_failed = !ok;
    return ok;
}

/* Stage i on its input `cur` (and the list lidx/lval of *nl entries);
 * returns the stage's output map (cur itself for stages that only make a
 * list). Re-running a stage on the same input gives the same output. */
static const float *step(zs_plan *p, int i, const float *cur, int *nlp, float *logprob) {
    const zs_kernels *K = p->K;
    stage *s = &p->st[i];
    int nl = *nlp;
    float *dst = cur == p->buf[0] ? p->buf[1] : p->buf[0];
    size_t units = (size_t)s->C * s->H * s->W;
    {
        switch (s->kind) {
        case ST_PAD: {
            int Hp = s->oH, Wp = s->oW, pd = s->pad;
            memset(dst, 0, sizeof(float) * (size_t)s->C * Hp * Wp);
            for (int c = 0; c < s->C; c++)
                for (int y = 0; y < s->H; y++)
                    memcpy(dst + ((size_t)c * Hp + y + pd) * Wp + pd, cur + ((size_t)c * s->H + y) * s->W,
                           sizeof(float) * (size_t)s->W);
            cur = dst;
            break;
        }
        case ST_CONV_DENSE: K->conv_dense(dst, cur, &s->taps); cur = dst; break;
        case ST_CONV_KWTA_POOL: {
            /* the map: the plan buffer that is neither input nor output, if any */
            float *map = cur == p->buf[0] || cur == p->buf[1] ? p->cmap : dst == p->buf[0] ? p->buf[1] : p->buf[0];
            K->conv_kwta_pool(dst, cur, &s->taps, s->f, s->k, p->kwork, map);
            cur = dst;
            break;
        }
        case ST_CONV_POOL: {
            float *map = cur == p->buf[0] || cur == p->buf[1] ? p->cmap : dst == p->buf[0] ? p->buf[1] : p->buf[0];
            K->conv_pool(dst, cur, &s->taps, map);
            cur = dst;
            break;
        }
        case ST_CONV_SPARSE:
            if (s->dense_above && s->map_lists) {
                /* the lists straight from the dense map (conv_sparse_tap
                 * reads them in cscratch: idx NULL) */
                nl = s->lists_fn(cur, &s->sc, p->cscratch);
                if (nl > s->dense_above && dense_taps(s)) K->conv_dense(dst, cur, &s->taps);
                else s->sc.prefetch = p->cold, s->conv_fn(dst, NULL, NULL, nl, &s->sc, p->cscratch);
                nl = 0; /* no list in lidx/lval */
                cur = dst;
                break;
            }
            if (s->dense_above) {
                nl = K->sparsify(p->lidx, p->lval, cur, (int)units);
                if (nl > s->dense_above && dense_taps(s)) {
                    K->conv_dense(dst, cur, &s->taps);
                    cur = dst;
                    break;
                }
            }
            s->sc.prefetch = p->cold;
            s->conv_fn(dst, p->lidx, p->lval, nl, &s->sc, p->cscratch);
            cur = dst;
            break;
        case ST_LINEAR:
            if (s->list_below) { /* -1: always gather */
                if (!s->in_list) nl = K->sparsify(p->lidx, p->lval, cur, (int)units);
                if (nl < s->list_below) {
                    s->lin_fn(dst, p->lidx, p->lval, nl, &s->lin);
                } else {
                    if (s->in_list) {
                        /* densify into a buffer that is neither the output nor the caller's x */
                        float *d = dst == p->buf[0] ? p->buf[1] : p->buf[0];
                        if (d == dst) d = p->buf[1];
                        memset(d, 0, sizeof(float) * units);
                        for (int e = 0; e < nl; e++) d[p->lidx[e]] = p->lval[e];
                        cur = d;
                    }
                    s->lin_g(dst, cur, &s->lin);
                }
            } else if (s->lin_g) s->lin_g(dst, cur, &s->lin);
            else s->lin_fn(dst, p->lidx, p->lval, nl, &s->lin);
            lin_epilogue(s, dst);
            cur = dst;
            break;
        case ST_KWTA: {
            zs_kwta_cut cut;
            K->kwta_select(&cut, cur, s->f, s->G, s->S, s->k, p->kwork);
            nl = K->kwta_emit(p->lidx, p->lval, cur, s->f, s->G, s->S, cut);
            break;
        }
        case ST_KWTA_POOL: {
            zs_kwta_cut cut;
            K->kwta_select(&cut, cur, s->f, s->G, s->S, s->k, p->kwork);
            K->kwta_pool(dst, cur, s->f, s->C, s->H, s->W, cut);
            cur = dst;
            break;
        }
        case ST_MAXPOOL: K->maxpool(dst, cur, s->C, s->H, s->W, s->relu); cur = dst; break;
        case ST_MAXPOOL_ANY: zs_maxpool2d_forward(dst, NULL, cur, 1, s->C, s->H, s->W, s->pk, s->ps); cur = dst; break;
        case ST_RELU: zs_relu_forward(dst, cur, units); cur = dst; break;
        case ST_SPARSIFY: nl = K->sparsify(p->lidx, p->lval, cur, (int)units); break;
        case ST_DENSIFY:
            memset(dst, 0, sizeof(float) * units);
            for (int e = 0; e < nl; e++) dst[p->lidx[e]] = p->lval[e];
            cur = dst;
            break;
        case ST_LOGSOFTMAX: zs_logsoftmax_forward(logprob, cur, 1, p->classes); break;
        }
    }
    *nlp = nl;
    return cur;
}

/* One sample x (in_size) -> logprob (classes). prof (n stages) or NULL:
 * the nanoseconds spent in each stage are written to it. */
static void infer_one(zs_plan *p, const float *x, float *logprob, double *prof) {
    const float *cur = x;
    int nl = 0;
    double t0 = prof ? wall_ns() : 0;
    for (int i = 0; i < p->n; i++) {
        cur = step(p, i, cur, &nl, logprob);
        if (prof) {
            double t1 = wall_ns();
            prof[i] = t1 - t0;
            t0 = t1;
        }
    }
}

/* ------------------------------------------------------------ executors */

/* A run's scratch (public: zs_exec): one zero-filled block of regions
 * R_BUF0 .. (64-byte aligned, in that order), cap[r] bytes each, grown to
 * the largest need of any plan bound to it. last: the id of the plan that
 * ran in it last. */
struct zs_exec {
    unsigned char *mem;
    size_t cap[N_REGIONS];
    uint64_t last;
};

static size_t up64(size_t b) { return (b + 63) & ~(size_t)63; }

zs_status zs_exec_create(zs_exec **out) {
    ZS_RETURN_IF(!out, ZS_EINVAL, "zs_exec_create: NULL argument");
    *out = calloc(1, sizeof **out);
    ZS_RETURN_IF(!*out, ZS_ENOMEM, "zs_exec_create: out of memory");
    return ZS_OK;
}

void zs_exec_free(zs_exec *e) {
    if (!e) return;
    zs_free_aligned(e->mem);
    free(e);
}

size_t zs_exec_bytes(const zs_exec *e) { return e && e->mem ? malloc_usable_size(e->mem) : 0; }

/* Point p's buffers into e's scratch, growing it first if p needs more. */
static zs_status bind(zs_plan *p, zs_exec *e) {
    int grow = !e->mem;
    for (int r = 0; r < N_REGIONS; r++) grow |= p->need[r] > e->cap[r];
    if (grow) {
        size_t cap[N_REGIONS], tot = 0;
        for (int r = 0; r < N_REGIONS; r++) {
            cap[r] = up64(p->need[r] > e->cap[r] ? p->need[r] : e->cap[r]);
            tot += cap[r];
        }
        unsigned char *m = zs_alloc_aligned(tot ? tot : 64, 1);
        ZS_RETURN_IF(!m, ZS_ENOMEM, "executor: out of memory (%zu bytes of scratch)", tot);
        zs_free_aligned(e->mem);
        e->mem = m;
        memcpy(e->cap, cap, sizeof cap);
        e->last = 0;
    }
    unsigned char *q[N_REGIONS];
    q[0] = e->mem;
    for (int r = 1; r < N_REGIONS; r++) q[r] = q[r - 1] + e->cap[r - 1];
    p->buf[0] = (float *)q[R_BUF0];
    p->buf[1] = (float *)q[R_BUF1];
    p->lidx = (int32_t *)q[R_LIDX];
    p->lval = (float *)q[R_LVAL];
    p->kwork = q[R_KWORK];
    p->cscratch = (float *)q[R_CSCRATCH];
    p->cmap = p->cmap_len ? (float *)q[R_CMAP] : NULL;
    if (e->last != p->id) {
        /* another plan ran here: what lies past this plan's extents may be
         * its values; the 64 padding entries after each buffer are zero
         * again, as in a block of this plan's own */
        memset(p->buf[0] + p->buf_len - 64, 0, 64 * sizeof(float));
        memset(p->buf[1] + p->buf_len - 64, 0, 64 * sizeof(float));
        memset(p->lidx + p->list_len - 64, 0, 64 * sizeof(int32_t));
        memset(p->lval + p->list_len - 64, 0, 64 * sizeof(float));
        if (p->cmap) memset(p->cmap + p->cmap_len - 64, 0, 64 * sizeof(float));
        e->last = p->id;
    }
    return ZS_OK;
}

/* The plan that last ran a sample on this thread: when another one did,
 * this plan's weights have likely been pushed out of L2 (p->cold for its
 * first sample). */
static _Thread_local uint64_t tl_last_plan;
static void note_run(zs_plan *p) {
    p->cold = tl_last_plan != p->id;
    tl_last_plan = p->id;
}

/* The network's own executor (zs_net_infer, learning, profiling). */
static zs_status bind_own(zs_net *net) {
    if (!net->exec) {
        zs_status st = zs_exec_create((zs_exec **)&net->exec);
        if (st) return st;
    }
    return bind(net->kernels, net->exec);
}

size_t zs_plan_scratch_bytes(const zs_net *net) {
    const zs_plan *p = net ? net->kernels : NULL;
    size_t b = 0;
    for (int r = 0; p && r < N_REGIONS; r++) b += up64(p->need[r]);
    return b;
}

static void set_alt(stage *s, int a) {
    s->alt = a;
    s->kernel = s->alt_name[a];
    if (s->kind == ST_CONV_SPARSE) {
        s->conv_fn = s->conv_alt[a];
        s->sc.kx_group = s->conv_g[a];
        s->map_lists = s->conv_map[a];
        s->lists_fn = s->lists_alt[a];
    } else {
        s->list_below = s->lin_alt[a];
        s->lin_fn = s->lin_fn_alt[a];
    }
}

/* Kernel choice by measurement on this CPU. The first sample the plan
 * sees is kept (calib_x). Then for each later sample (any number of
 * calls), after the caller's sample has run, calib_x runs once more, whole,
 * with one stage set to one of its alternatives, in turn; the stages with
 * alternatives take their turns one after the other, each (CALIB_M + 1) x
 * its alternatives samples, the first round unrecorded (page faults, first
 * touches). Each stage keeps the alternative with the smallest lower
 * quartile of its rounds' whole-sample times for the life of the plan,
 * before the next stage's turns (a shared machine only adds time: bursts
 * of another load that hit 4-5 of one alternative's 9 rounds move its
 * median, not its quartile; with a periodic load on the same core the
 * median kept the slower linear kernel in 2-3 of 16 builds, the quartile
 * in 0-2, and the quartile's conv2 choice was the same in 12 of 16, the
 * median's in 8). Why so: timing every alternative back to back on the caller's
 * sample (as this did before) let the later ones find inputs and weights
 * warm, and in about a third of the runs on Zen 3 it kept a list-based
 * conv2 ~8 us/word slower than conv_pos_lists once it ran alone; timing one
 * alternative per caller's sample mixes in the samples' contents (a
 * stage's time per input favoured conv_sparse_tap g1, 1.5-2 % slower end
 * to end than g2). One input, whole samples, in the steady state's cache
 * state (after a sample of the same network). The alternatives give the
 * same bits (tests/test_kernels.c same_bits), so outputs never depend on
 * which one runs. ZS_PLAN_CONV / ZS_PLAN_LINEAR / ZS_PLAN_LINEAR_SWITCH fix
 * a kernel instead. (CALIB_M: above, with the plan.) */

/* After calibration a stage runs one kernel for good: the layouts only
 * the other alternatives read are freed (linear: list start/lo/lw, gather
 * gi/gw, blocks bstart/bo/bw; conv: the blocks unless blk won). */
static void drop_unused(zs_plan *p) {
    for (int i = 0; i < p->n; i++) {
        stage *s = &p->st[i];
        if (s->n_alt < 2) continue;
        const char *k = s->alt_name[s->alt];
        if (s->kind == ST_LINEAR) {
            zs_linear_pack *l = &s->lin;
            if (strcmp(k, "linear_sg")) {
                zs_free_aligned(l->gi); zs_free_aligned(l->gw);
                l->gi = NULL; l->gw = NULL; l->gnz = 0;
            }
            if (strcmp(k, "linear_ss_list") && strcmp(k, "linear_ss_list1") && !l->borrowed) {
                /* (the model's own list stays: learning updates it, and
                 * zs_plan_sync_linear copies it into the blocks) */
                free(l->start); free(l->lo); free(l->lw);
                l->start = NULL; l->lo = NULL; l->lw = NULL;
            }
            if (strcmp(k, "linear_ss")) {
                free(l->bstart); free(l->bo); zs_free_aligned(l->bw);
                l->bstart = l->bo = NULL; l->bw = NULL;
            }
        } else if (s->kind == ST_CONV_SPARSE) {
            if (strcmp(k, "conv_sparse_blk") && s->sc.bstart) {
                free(s->sc.bstart); free(s->sc.boff); zs_free_aligned(s->sc.bw);
                s->sc.bstart = s->sc.boff = NULL; s->sc.bw = NULL;
            }
            /* int8 rows: the layout the winner does not read */
            if (s->sc.wq && s->sc.wq4) {
                int8_t **drop = s->conv_fn == p->K->conv_sparse_vnni ? &s->sc.wq : &s->sc.wq4;
                zs_free_aligned(*drop);
                *drop = NULL;
            }
        }
    }
}

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void quartile_pick(const zs_plan *p, stage *s) {
    int b = 0;
    for (int a = 0; a < s->n_alt; a++) {
        double v[CALIB_M];
        memcpy(v, p->calib_t[a], sizeof v);
        qsort(v, CALIB_M, sizeof(double), cmp_dbl);
        s->alt_ns[a] = v[(CALIB_M - 1) / 4];
        if (s->alt_ns[a] < s->alt_ns[b]) b = a;
    }
    set_alt(s, b);
}

static void calibrate_one(zs_plan *p, const float *x, float *logprob) {
    if (p->calib_seen == 0) memcpy(p->calib_x, x, sizeof(float) * p->in_size);
    infer_one(p, x, logprob, NULL); /* the caller's sample, the current alternatives */
    /* whose turn: stage i, alternative a, round r */
    int t = p->calib_seen, i = 0;
    for (; i < p->n; i++) {
        if (p->st[i].n_alt <= 1) continue;
        if (t < (CALIB_M + 1) * p->st[i].n_alt) break;
        t -= (CALIB_M + 1) * p->st[i].n_alt;
    }
    stage *s = &p->st[i];
    const int a = t % s->n_alt, r = t / s->n_alt, keep = s->alt;
    set_alt(s, a);
    double t0 = wall_ns();
    infer_one(p, p->calib_x, p->calib_x + p->in_size, NULL);
    double dt = wall_ns() - t0;
    set_alt(s, keep);
    if (r >= 1) p->calib_t[a][r - 1] = dt;
    if (t + 1 == (CALIB_M + 1) * s->n_alt) quartile_pick(p, s); /* the stage's last turn */
    if (++p->calib_seen == p->calib_n) {
        p->calibrated = 1;
        free(p->calib_x);
        free(p->calib_t);
        p->calib_x = NULL;
        p->calib_t = NULL;
        drop_unused(p);
    }
}

zs_status zs_plan_infer(zs_net *net, zs_exec *e, const float *x, int n, float *logprob) {
    ZS_RETURN_IF(!net || !net->kernels, ZS_EINVAL, "zs_plan_infer: no plan built");
    ZS_RETURN_IF(n < 0 || (n > 0 && (!x || !logprob)), ZS_EINVAL, "zs_plan_infer: bad argument");
    zs_plan *p = net->kernels;
    zs_status st = e ? bind(p, e) : bind_own(net);
    if (st) return st;
    for (int i = 0; i < n; i++) {
        note_run(p);
        if (!p->calibrated) calibrate_one(p, x + (size_t)i * p->in_size, logprob + (size_t)i * p->classes);
        else infer_one(p, x + (size_t)i * p->in_size, logprob + (size_t)i * p->classes, NULL);
    }
    return ZS_OK;
}

void zs_plan_describe(const zs_net *net, FILE *f) {
    const zs_plan *p = net ? net->kernels : NULL;
    if (!p) { fprintf(f, "no inference plan (reference path)\n"); return; }
    fprintf(f, "inference plan, ISA %s, %d stages:\n", zs_isa_name(p->K->isa), p->n);
    for (int i = 0; i < p->n; i++) {
        const stage *s = &p->st[i];
        fprintf(f, "  %-12s %-16s %dx%dx%d -> %dx%dx%d  %s", stage_names[s->kind], s->layer, s->C, s->H, s->W,
                s->oC, s->oH, s->oW, s->kernel);
        if (s->kind == ST_KWTA || s->kind == ST_KWTA_POOL || s->kind == ST_CONV_KWTA_POOL) fprintf(f, " k=%d", s->k);
        if (s->kind == ST_CONV_SPARSE && s->sc.pool) fprintf(f, " +maxpool (sums pooled before the unpack)");
        if (s->n_alt > 1) {
            fprintf(f, " (%s:", p->calibrated ? "measured on the first samples, a whole sample with each" : "being measured on the first samples");
            for (int a = 0; a < s->n_alt; a++)
                if (p->calibrated) fprintf(f, " %s %.1f us", s->alt_name[a], s->alt_ns[a] / 1e3);
                else fprintf(f, " %s", s->alt_name[a]);
            fputc(')', f);
        }
        fputc('\n', f);
    }
}

/* A failing check's evidence (tests): the plan's state that no output
 * shows (kernel choice, the measured crossover, the lazily packed taps,
 * the boost factors) and, for sample x, each stage's output (non-zeros,
 * sum) — which stage lost the input. */
static void range_of(const float *v, size_t n, int *nz, int *bad, double *sum, float *lo, float *hi) {
    *nz = *bad = 0; *sum = 0; *lo = INFINITY; *hi = -INFINITY;
    for (size_t j = 0; j < n; j++) {
        if (!isfinite(v[j])) { ++*bad; continue; }
        *nz += v[j] != 0.0f;
        *sum += v[j];
        if (v[j] < *lo) *lo = v[j];
        if (v[j] > *hi) *hi = v[j];
    }
}

zs_status zs_plan_trace(zs_net *net, const float *x, FILE *f) {
    zs_plan *p = net ? net->kernels : NULL;
    ZS_RETURN_IF(!p || !x || !f, ZS_EINVAL, "zs_plan_trace: no plan built or bad argument");
    zs_status st = bind_own(net);
    if (st) return st;
    fprintf(f, "plan %llu, ISA %s, kernel choice %s (%d of %d samples)\n", (unsigned long long)p->id,
            zs_isa_name(p->K->isa), p->calibrated ? "made" : "being measured", p->calib_seen, p->calib_n);
    float *lp = malloc(sizeof(float) * (size_t)p->classes);
    ZS_RETURN_IF(!lp, ZS_ENOMEM, "out of memory");
    const float *cur = x;
    int nl = 0, nz, bad;
    double sum;
    float lo, hi;
    for (int i = 0; i < p->n; i++) {
        stage *s = &p->st[i];
        fprintf(f, "  %d %s %s [%s]", i, stage_names[s->kind], s->layer, s->kernel);
        if (s->n_alt > 1) fprintf(f, " alt %d of %d", s->alt, s->n_alt);
        if (s->kind == ST_CONV_SPARSE) fprintf(f, " dense_above %d map_lists %d", s->dense_above, s->map_lists);
        if (s->taps.w) {
            range_of(s->taps.w, (size_t)s->taps.start[s->taps.Co], &nz, &bad, &sum, &lo, &hi);
            fprintf(f, " taps %d (non-finite %d, [%g, %g])", s->taps.start[s->taps.Co], bad, (double)lo, (double)hi);
        }
        if (s->f) {
            range_of(s->f, (size_t)s->G, &nz, &bad, &sum, &lo, &hi);
            fprintf(f, " k %d boost [%g, %g] non-finite %d", s->k, (double)lo, (double)hi, bad);
        }
        cur = step(p, i, cur, &nl, lp);
        if (s->kind == ST_LOGSOFTMAX) range_of(lp, (size_t)p->classes, &nz, &bad, &sum, &lo, &hi);
        else range_of(cur, (size_t)s->oC * s->oH * s->oW, &nz, &bad, &sum, &lo, &hi);
        fprintf(f, " -> list %d, map non-zero %d sum %.6g [%g, %g] non-finite %d\n", nl, nz, sum, (double)lo,
                (double)hi, bad);
    }
    free(lp);
    return ZS_OK;
}

/* reps passes over the n samples x, each stage timed per sample; mean[i]:
 * stage i's mean ns per sample over the samples whose total is within 1.5x
 * the median total (the others were preempted or interrupted), less the
 * clock's own cost (the least of 64 back-to-back reads). */
static int profile_run(zs_plan *p, const float *x, int n, int reps, float *lp, double *mean) {
    size_t ns = (size_t)n * reps, S = (size_t)p->n;
    double *t = malloc(sizeof(double) * ns * S), *tot = malloc(sizeof(double) * ns * 2);
    if (!t || !tot) { free(t); free(tot); return -1; }
    double clk = 1e9;
    for (int i = 0; i < 64; i++) {
        double a = wall_ns(), b = wall_ns();
        if (b - a < clk) clk = b - a;
    }
    for (size_t j = 0; j < ns; j++) {
        infer_one(p, x + (j % (size_t)n) * p->in_size, lp, t + j * S);
        tot[j] = 0;
        for (size_t i = 0; i < S; i++) tot[j] += t[j * S + i];
        tot[ns + j] = tot[j];
    }
    qsort(tot + ns, ns, sizeof(double), cmp_dbl);
    double lim = 1.5 * tot[ns + ns / 2];
    size_t kept = 0;
    for (size_t i = 0; i < S; i++) mean[i] = 0;
    for (size_t j = 0; j < ns; j++) {
        if (tot[j] > lim) continue;
        kept++;
        for (size_t i = 0; i < S; i++) mean[i] += t[j * S + i];
    }
    for (size_t i = 0; i < S; i++) {
        mean[i] = mean[i] / (double)kept - clk;
        if (mean[i] < 0) mean[i] = 0;
    }
    free(t);
    free(tot);
    return 0;
}

zs_status zs_plan_profile(zs_net *net, const float *x, int n, int reps, FILE *f) {
    ZS_RETURN_IF(!net || !net->kernels || !x || n < 1 || reps < 1, ZS_EINVAL, "zs_plan_profile: bad argument");
    zs_plan *p = net->kernels;
    zs_status st = bind_own(net);
    if (st) return st;
    double *prof = calloc((size_t)p->n, sizeof(double));
    float *lp = malloc(sizeof(float) * (size_t)p->classes);
    if (!prof || !lp || profile_run(p, x, n, reps, lp, prof)) {
        free(prof);
        free(lp);
        return ZS_ERR(ZS_ENOMEM, "out of memory");
    }
    double tot = 0;
    for (int i = 0; i < p->n; i++) tot += prof[i];
    fprintf(f, "per-sample wall time by stage (ISA %s, %d samples x %d, preempted samples dropped):\n",
            zs_isa_name(p->K->isa), n, reps);
    for (int i = 0; i < p->n; i++)
        fprintf(f, "  %-12s %-16s %8.2f us  %5.1f%%\n", stage_names[p->st[i].kind], p->st[i].layer, prof[i] / 1e3,
                100.0 * prof[i] / tot);
    fprintf(f, "  total %.2f us/sample\n", tot / 1e3);
    free(prof);
    free(lp);
    return ZS_OK;
}

int zs_plan_profile_stages(zs_net *net, const float *x, int n, int reps, zs_stage_profile *out, int max) {
    zs_plan *p = net->kernels;
    if (bind_own(net)) return -1;
    double *prof = calloc((size_t)p->n, sizeof(double));
    float *lp = malloc(sizeof(float) * (size_t)p->classes);
    if (!prof || !lp) { free(prof); free(lp); return -1; }
    /* profile the kernels inference runs: finish the timed choice first */
    for (int i = 0; !p->calibrated; i = (i + 1) % n) calibrate_one(p, x + (size_t)i * p->in_size, lp);
    if (profile_run(p, x, n, reps, lp, prof)) {
        free(prof);
        free(lp);
        return -1;
    }
    for (int i = 0; i < p->n && i < max; i++) {
        const stage *s = &p->st[i];
        memset(&out[i], 0, sizeof out[i]);
        out[i].name = stage_names[s->kind];
        out[i].layer = s->layer;
        out[i].kernel = s->kernel;
        out[i].us_per_word = prof[i] / 1e3;
        /* conv_kwta_pool: its conv output map, which the k-WTA must pass over */
        out[i].bytes_per_word = s->kind == ST_CONV_KWTA_POOL ? 4.0 * s->G * s->S : 4.0 * s->C * s->H * s->W;
    }
    free(prof);
    free(lp);
    return p->n;
}

static size_t ub(const void *q) { return q ? malloc_usable_size((void *)q) : 0; }

/* What the plan really holds: the allocator's usable size of each of its
 * blocks (packed weights, boost factors, stage table). */
size_t zs_plan_bytes(const zs_net *net) {
    const zs_plan *p = net ? net->kernels : NULL;
    if (!p) return 0;
    size_t b = ub(p) + ub(p->st) + ub(p->calib_x) + ub(p->calib_t); /* the buffers are an executor's: zs_exec_bytes */
    for (int i = 0; i < p->n; i++) {
        const stage *s = &p->st[i];
        const zs_conv_taps *t = &s->taps;
        const zs_conv_scatter *c = &s->sc;
        const zs_linear_pack *l = &s->lin;
        b += ub(s->f) + ub(s->invstd) + ub(t->start) + ub(t->off) + ub(t->soff) + ub(t->w) + ub(t->bias);
        b += ub(c->start) + ub(c->lco) + ub(c->lw) + ub(c->wvec) + ub(c->wq) + ub(c->wq4) + ub(c->qscale) + ub(c->cmask) + ub(c->cy) + ub(c->cx) + ub(c->bias) +
             ub(c->bstart) + ub(c->boff) + ub(c->bw) + ub(c->rt_cls) + ub(c->rt_blk) + ub(c->rt_w);
        if (!l->borrowed) b += ub(l->start) + ub(l->lo) + ub(l->lw); /* else the model's, counted there */
        b += ub(l->bstart) + ub(l->bo) + ub(l->bw) + ub(l->gi) + ub(l->gw) +
             ub(l->wt) + ub(l->bias) + ub(l->xm) + ub(l->xoff);
    }
    return b;
}

int zs_plan_isa(const zs_net *net) {
    const zs_plan *p = net ? net->kernels : NULL;
    return p ? (int)p->K->isa : -1;
}

/* ------------------------------------------------------------ learning */

static stage *linear_stage(zs_plan *p, int li) {
    for (int i = 0; p && i < p->n; i++)
        if (p->st[i].kind == ST_LINEAR && p->st[i].li == li) return &p->st[i];
    return NULL;
}


zs_status zs_plan_forward_keep(zs_net *net, const float *x, int s, float *logprob, int lo) {
    ZS_RETURN_IF(!net || !net->kernels || !x || !logprob || s < 0 || s >= net->max_batch, ZS_EINVAL,
                 "zs_plan_forward_keep: bad argument");
    zs_plan *p = net->kernels;
    zs_status bs = bind_own(net);
    if (bs) return bs;
    note_run(p);
    if (!p->calibrated) calibrate_one(p, x, logprob); /* same outputs; then run again, keeping */
    const float *cur = x;
    int nl = 0;
    for (int i = 0; i < p->n; i++) {
        stage *st = &p->st[i];
        int keep = st->li >= lo;
        if (keep && st->kind == ST_LINEAR && st->li > 0) {
            zs_layer *B = &net->layers[st->li - 1]; /* its output is this linear's input */
            size_t I = (size_t)st->C * st->H * st->W;
            float *d = B->out + (size_t)s * I;
            if (st->list_in) {
                memset(d, 0, sizeof(float) * I);
                for (int e = 0; e < nl; e++) d[p->lidx[e]] = p->lval[e];
            } else {
                memcpy(d, cur, sizeof(float) * I);
            }
        }
        cur = step(p, i, cur, &nl, logprob);
        if (keep && st->kind == ST_KWTA) {
            zs_layer *L = &net->layers[st->li];
            size_t U = (size_t)st->C * st->H * st->W;
            L->win.kmax = st->k;
            L->win.count[s] = nl;
            int32_t *wi = L->win.idx + (size_t)s * st->k;
            float *wv = L->win.val + (size_t)s * st->k, *o = L->out + (size_t)s * U;
            memset(o, 0, sizeof(float) * U);
            for (int e = 0; e < nl; e++) {
                wi[e] = p->lidx[e];
                wv[e] = p->lval[e];
                o[p->lidx[e]] = p->lval[e];
            }
        } else if (keep && st->kind == ST_RELU) {
            zs_layer *L = &net->layers[st->li];
            memcpy(L->out + (size_t)s * L->out_size, cur, sizeof(float) * L->out_size);
        }
    }
    return ZS_OK;
}

int zs_plan_can_keep(const zs_net *net, int lo) {
    const zs_plan *p = net ? net->kernels : NULL;
    if (!p) return 0;
    for (int i = 0; i < p->n; i++) {
        const stage *st = &p->st[i];
        if (st->li < lo) continue;
        switch (st->kind) {
        case ST_LINEAR: case ST_KWTA: case ST_RELU: case ST_SPARSIFY: case ST_DENSIFY: case ST_LOGSOFTMAX: break;
        default: return 0; /* a fused stage (k-WTA + pool, ReLU + pool) keeps nothing */
        }
    }
    return 1;
}

/* First t in [lo, hi) with key[t] >= v (key ascending), or hi: one body
 * for int32 and uint16 keys. */
#define LOWER_BOUND(name, T)                                        \
    static int32_t name(const T *key, int32_t lo, int32_t hi, int32_t v) { \
        while (lo < hi) {                                           \
            int32_t m = lo + (hi - lo) / 2;                         \
            if (key[m] < v) lo = m + 1;                             \
            else hi = m;                                            \
        }                                                           \
        return lo;                                                  \
    }
LOWER_BOUND(lower, int32_t)
LOWER_BOUND(lower16, uint16_t)
#undef LOWER_BOUND

zs_status zs_plan_update_linear(zs_net *net, int li, const int32_t *rows, int nr, const int32_t *cstart,
                                const int32_t *cols) {
    zs_plan *p = net ? net->kernels : NULL;
    ZS_RETURN_IF(!p || li < 0 || li >= net->n_layers || net->layers[li].type != ZS_LINEAR || !net->layers[li].w,
                 ZS_EINVAL, "zs_plan_update_linear: no plan, or layer %d is not a dense-held linear layer", li);
    stage *st = linear_stage(p, li);
    ZS_RETURN_IF(!st, ZS_EUNSUPPORTED, "zs_plan_update_linear: the plan has no stage for layer %d", li);
    const zs_layer *L = &net->layers[li];
    zs_linear_pack *lp = &st->lin;
    if (lp->wr == L->w) return ZS_OK; /* linear_sr reads the rows in place */
    int missing = 0;
    for (int r = 0; r < nr; r++) {
        int o = rows[r];
        /* the layouts hold the weights unfolded (bias and BatchNorm: the epilogue) */
        const float *wrow = L->w + (size_t)o * L->fan_in;
        size_t gbase = (size_t)(o / 16) * lp->gnz * 16 + (size_t)(o % 16);
        int j = 0; /* gather: walk of row o's lane, inputs ascending */
        for (int32_t c = cstart[r]; c < cstart[r + 1]; c++) {
            int32_t i = cols[c];
            float v = wrow[i];
            if (lp->wt) lp->wt[(size_t)i * lp->Op + o] = v;
            if (lp->start) {
                int32_t t = lower16(lp->lo, lp->start[i], lp->start[i + 1], o);
                if (t < lp->start[i + 1] && lp->lo[t] == o) lp->lw[t] = v;
                else if (v != 0.0f) missing = 1;
            }
            if (lp->bstart) {
                int32_t t = lower(lp->bo, lp->bstart[i], lp->bstart[i + 1], o - 15);
                if (t < lp->bstart[i + 1] && lp->bo[t] <= o && o < lp->bo[t] + 16)
                    lp->bw[(size_t)t * 16 + (o - lp->bo[t])] = v;
                else if (v != 0.0f) missing = 1;
            }
            if (lp->gi) {
                int hit = 0;
                for (; j < lp->gnz; j++) {
                    int32_t q = lp->gi[gbase + (size_t)j * 16];
                    if (j > 0 && q <= lp->gi[gbase + (size_t)(j - 1) * 16]) { j = lp->gnz; break; } /* padding */
                    if (q == i) { lp->gw[gbase + (size_t)j * 16] = v; hit = 1; j++; break; }
                    if (q > i) break;
                }
                if (!hit && v != 0.0f) missing = 1;
            }
        }
    }
    ZS_RETURN_IF(missing, ZS_EUNSUPPORTED,
                 "zs_plan_update_linear: a weight of layer '%s' that was zero when the plan was built is not", L->name);
    return ZS_OK;
}

zs_status zs_plan_update_kwta(zs_net *net, int li) {
    zs_plan *p = net ? net->kernels : NULL;
    ZS_RETURN_IF(!p || li < 0 || li >= net->n_layers, ZS_EINVAL, "zs_plan_update_kwta: bad argument");
    const zs_layer *L = &net->layers[li];
    for (int i = 0; i < p->n; i++) {
        stage *st = &p->st[i];
        if ((st->kind != ST_KWTA && st->kind != ST_KWTA_POOL && st->kind != ST_CONV_KWTA_POOL) || st->li != li) continue;
        size_t units = (size_t)st->G * st->S;
        float td = (float)((double)L->k_inference / (double)units); /* as zs_plan_build */
        p->K->boost(st->f, L->duty, st->G, td, L->boost_strength); /* the same bits as expf */
        return ZS_OK;
    }
    return ZS_ERR(ZS_EUNSUPPORTED, "zs_plan_update_kwta: the plan has no k-WTA stage for layer %d", li);
}

zs_status zs_plan_calibrate(zs_net *net, zs_exec *e, const float *x, float *logprob) {
    zs_plan *p = net ? net->kernels : NULL;
    if (!p || p->calibrated) return ZS_OK;
    zs_status st = e ? bind(p, e) : bind_own(net);
    if (st) return st;
    while (!p->calibrated) calibrate_one(p, x, logprob);
    return ZS_OK;
}

void zs_plan_sync_linear(zs_net *net, int li, const int32_t *cols, int nc) {
    stage *st = linear_stage(net ? net->kernels : NULL, li);
    if (st && st->lin.borrowed) zs_linear_pack_sync_blocks(&st->lin, cols, nc);
}

int zs_plan_linear_shared(const zs_net *net, int li) {
    zs_plan *p = net ? net->kernels : NULL;
    stage *st = linear_stage(p, li);
    return st && st->lin.borrowed && st->lin.lw == net->layers[li].pval;
}
