/*
 * train_sparse.c — the sparse-aware training path (see train_sparse.h).
 */
#include "train_sparse.h"
#include "layers.h"
#include "kernels/kernels.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Per-layer training state, in zs_layer.packed. */
typedef struct ts_layer {
    /* k-WTA */
    float *f;          /* (G) boost factors                                 */
    void *work;        /* kwta_select work                                  */
    int32_t *eidx;     /* (U + 16) emitted winners                          */
    float *eval;
    size_t units;
} ts_layer;

int zs_ts_enabled(const zs_net *net) {
    if (!net->training) return 0;
    const char *e = getenv("ZS_TRAIN_REF");
    return !(e && *e && strcmp(e, "0"));
}

static void ts_layer_free(ts_layer *t) {
    if (!t) return;
    free(t->f);
    free(t->work);
    free(t->eidx);
    free(t->eval);
    free(t);
}

void zs_ts_free(zs_net *net) {
    if (!net || !net->layers) return;
    for (int i = 0; i < net->n_layers; i++) {
        ts_layer_free(net->layers[i].packed);
        net->layers[i].packed = NULL;
    }
}

static ts_layer *ts_get(zs_layer *L) {
    if (!L->packed) L->packed = calloc(1, sizeof(ts_layer));
    return L->packed;
}

/* ------------------------------------------------------------------ k-WTA */

static int kwta_alloc(ts_layer *t, const zs_layer *L, int G) {
    if (t->f && t->units == L->in_size) return 1;
    free(t->f); free(t->work); free(t->eidx); free(t->eval);
    t->units = L->in_size;
    t->f = malloc(sizeof(float) * (size_t)G);
    t->work = malloc(zs_kwta_work_size((int)L->in_size));
    t->eidx = malloc(sizeof(int32_t) * (L->in_size + 16));
    t->eval = malloc(sizeof(float) * (L->in_size + 16));
    if (!t->f || !t->work || !t->eidx || !t->eval) {
        free(t->f); free(t->work); free(t->eidx); free(t->eval);
        t->f = NULL; t->work = NULL; t->eidx = NULL; t->eval = NULL;
        return 0;
    }
    return 1;
}

/* Global k-WTA (1d, or 2d with local = 0) in training mode: the winners of
 * zs_kwinners(2d)_forward with k = L->k, the same dense output, winners
 * list and duty-cycle update. */
static int kwta_forward(zs_layer *L, const float *x, int N) {
    if (L->type == ZS_KWINNERS2D && L->local) return 0;
    if (L->in_size > (size_t)1 << 30) return 0;
    int U = (int)L->in_size;
    int G = L->type == ZS_KWINNERS2D ? L->in_c : U, S = L->type == ZS_KWINNERS2D ? L->in_h * L->in_w : 1;
    ts_layer *t = ts_get(L);
    if (!t || !kwta_alloc(t, L, G)) return 0;
    const zs_kernels *K = zs_kernels_active();
    int k = L->k;
    float td = (float)((double)k / U);
    int kk = k < U ? k : U;
    for (int g = 0; g < G; g++) t->f[g] = expf((td - L->duty[g]) * L->boost_strength);
    L->win.kmax = kk;
    for (int n = 0; n < N; n++) {
        const float *xn = x + (size_t)n * U;
        float *y = L->out + (size_t)n * U;
        zs_kwta_cut cut;
        K->kwta_select(&cut, xn, t->f, G, S, kk, t->work);
        int c = K->kwta_emit(t->eidx, t->eval, xn, t->f, G, S, cut);
        if (c > kk) c = kk; /* cannot happen: the cut takes exactly kk */
        L->win.count[n] = c;
        int32_t *wi = L->win.idx + (size_t)n * kk;
        float *wv = L->win.val + (size_t)n * kk;
        memcpy(wi, t->eidx, sizeof(int32_t) * (size_t)c);
        memcpy(wv, t->eval, sizeof(float) * (size_t)c);
        memset(y, 0, sizeof(float) * (size_t)U);
        for (int j = 0; j < c; j++) y[wi[j]] = wv[j];
    }
    /* duty cycles: the rule of zs_kwinners_update_duty, counting outputs > 0
     * from the winners lists (every other output is 0) */
    L->learning_iterations += N;
    int64_t period = L->learning_iterations < L->duty_cycle_period ? L->learning_iterations : L->duty_cycle_period;
    int64_t *icnt = (int64_t *)(void *)t->work; /* work holds >= 2U + 64 int32 >= G int64 */
    memset(icnt, 0, sizeof(int64_t) * (size_t)G);
    for (int n = 0; n < N; n++) {
        const int32_t *wi = L->win.idx + (size_t)n * kk;
        const float *wv = L->win.val + (size_t)n * kk;
        for (int j = 0; j < L->win.count[n]; j++)
            if (wv[j] > 0.0f) icnt[wi[j] / S]++;
    }
    for (int g = 0; g < G; g++) {
        float active = (float)icnt[g] / (float)S;
        float d = L->duty[g] * (float)(period - N);
        d = d + active;
        L->duty[g] = d / (float)period;
    }
    return 1;
}

/* ------------------------------------------------------------------ dispatch */

int zs_ts_forward(zs_net *net, int li, const float *x, int N) {
    zs_layer *L = &net->layers[li];
    switch (L->type) {
    case ZS_KWINNERS:
    case ZS_KWINNERS2D: return kwta_forward(L, x, N);
    default: return 0;
    }
}

int zs_ts_backward(zs_net *net, int li, const float *x, float *din, int N) {
    (void)net; (void)li; (void)x; (void)din; (void)N;
    return 0;
}
