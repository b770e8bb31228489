/*
 * packed.c — the two forms of a network's sparse layers (net.h, "Memory
 * model") and the buffers only training needs.
 *
 * A model loaded for inference holds each sparse conv/linear layer packed:
 * its kept weights line by line (values + ascending indices), and nothing
 * else of it: no dense weights, no mask, no gradients, no momenta. A conv
 * layer's lines are its output units (indices into the fan-in, as model
 * files store every sparse layer); a linear layer's lines are its inputs
 * (indices = output units, CSC): the one format the inference plan's
 * linear kernel reads in place (BatchNorm applied after the sum) and
 * online learning (zs_net_learn) updates in place. The conv layers' plan
 * stages still pack their own copies (src/kernels/). Whatever needs dense
 * weights (training, the reference path, cost counting) calls
 * zs_net_unpack or zs_net_train_alloc first; zs_net_pack goes back.
 */
#include "net.h"
#include "train_sparse.h"
#include "kernels/plan.h"
#include <malloc.h>

/* Point every parameter tensor into P, gradient into G, momentum into M
 * (NULL bases give NULL pointers). full = 1: the dense layout, every
 * weight; 0: the packed layout, sparse layers' weights left out (their
 * pointers NULL). Returns the floats the layout takes. */
static size_t layout(zs_net *net, float *P, float *G, float *M, int full) {
    size_t po = 0;
#define AT(base) ((base) ? (base) + po : NULL)
    for (int i = 0; i < net->n_layers; i++) {
        zs_layer *L = &net->layers[i];
        if (L->type == ZS_CONV2D || L->type == ZS_LINEAR) {
            if (full || !zs_layer_sparse(L)) {
                L->w = AT(P); L->dw = AT(G); L->mw = AT(M);
                po += L->n_weights;
            } else L->w = L->dw = L->mw = NULL;
            if (L->has_bias) {
                L->b = AT(P); L->db = AT(G); L->mb = AT(M);
                po += (size_t)L->out_c;
            }
        } else if (L->type == ZS_BATCHNORM && L->affine) {
            L->gamma = AT(P); L->dgamma = AT(G); L->mgamma = AT(M); po += (size_t)L->in_c;
            L->beta = AT(P); L->dbeta = AT(G); L->mbeta = AT(M); po += (size_t)L->in_c;
        }
    }
#undef AT
    return po;
}

typedef struct old_ptrs { float *w, *b, *gamma, *beta; } old_ptrs;

static void save_ptrs(const zs_net *net, old_ptrs *o) {
    for (int i = 0; i < net->n_layers; i++) {
        const zs_layer *L = &net->layers[i];
        o[i].w = L->w; o[i].b = L->b; o[i].gamma = L->gamma; o[i].beta = L->beta;
    }
}

/* Copy every parameter the new layout holds from the old pointers (sparse
 * weights excepted: the caller fills them). */
static void copy_params(zs_net *net, const old_ptrs *o) {
    for (int i = 0; i < net->n_layers; i++) {
        zs_layer *L = &net->layers[i];
        if (L->type == ZS_CONV2D || L->type == ZS_LINEAR) {
            if (L->w && o[i].w) memcpy(L->w, o[i].w, sizeof(float) * L->n_weights);
            if (L->b && o[i].b) memcpy(L->b, o[i].b, sizeof(float) * (size_t)L->out_c);
        } else if (L->type == ZS_BATCHNORM && L->affine) {
            memcpy(L->gamma, o[i].gamma, sizeof(float) * (size_t)L->in_c);
            memcpy(L->beta, o[i].beta, sizeof(float) * (size_t)L->in_c);
        }
    }
}

static void free_packed_layer(zs_layer *L) {
    free(L->prow); free(L->pval); free(L->pidx16); free(L->pidx32);
    L->prow = NULL; L->pval = NULL; L->pidx16 = NULL; L->pidx32 = NULL;
    L->pcol = 0;
}

void zs_net_free_packed(zs_net *net) {
    if (!net || !net->layers) return;
    for (int i = 0; i < net->n_layers; i++) free_packed_layer(&net->layers[i]);
}

void zs_layer_weights_dense(const zs_layer *L, float *dst) {
    if (L->w) {
        for (size_t j = 0; j < L->n_weights; j++) dst[j] = L->mask && !L->mask[j] ? 0.0f : L->w[j];
        return;
    }
    memset(dst, 0, sizeof(float) * L->n_weights);
    if (!L->prow) return;
    for (int r = 0; r < zs_packed_lines(L); r++)
        for (int32_t k = L->prow[r]; k < L->prow[r + 1]; k++) dst[zs_packed_at(L, r, k)] = L->pval[k];
}

zs_status zs_net_unpack(zs_net *net) {
    if (!net || !net->compact) return ZS_OK;
    zs_plan_free(net); /* it reads the packed arrays */
    float *P = zs_alloc_aligned(net->n_params, sizeof(float));
    uint8_t *Mk = zs_alloc_aligned(net->n_masks, 1);
    old_ptrs *o = calloc((size_t)net->n_layers, sizeof *o);
    if (!P || !Mk || !o) {
        zs_free_aligned(P); zs_free_aligned(Mk); free(o);
        return ZS_ERR(ZS_ENOMEM, "out of memory unpacking the sparse layers (%zu parameters)", net->n_params);
    }
    save_ptrs(net, o);
    layout(net, P, NULL, NULL, 1);
    size_t mo = 0;
    for (int i = 0; i < net->n_layers; i++) {
        zs_layer *L = &net->layers[i];
        if (!zs_layer_sparse(L)) continue;
        L->mask = Mk + mo;
        mo += L->n_weights;
        for (int r = 0; r < zs_packed_lines(L); r++)
            for (int32_t k = L->prow[r]; k < L->prow[r + 1]; k++) {
                size_t j = zs_packed_at(L, r, k);
                L->w[j] = L->pval[k];
                L->mask[j] = 1;
            }
        o[i].w = NULL; /* filled above */
        free_packed_layer(L);
    }
    copy_params(net, o);
    free(o);
    zs_free_aligned(net->params);
    net->params = P;
    net->masks = Mk;
    net->compact = 0;
    return ZS_OK;
}

/* The first step to the compact form: the plan goes (it reads the dense
 * weights), S (`small` floats: every parameter but the sparse layers'
 * weights) and room for the old pointers are allocated; 0 when out of
 * memory (*S / *o NULL or to free). */
static int begin_compact(zs_net *net, size_t small, float **S, old_ptrs **o) {
    zs_plan_free(net);
    *S = zs_alloc_aligned(small, sizeof(float));
    *o = calloc((size_t)net->n_layers, sizeof **o);
    return *S && *o;
}

/* A layer's packed arrays for `lines` lines and nnz kept weights, 16-bit
 * indices when idx16; 0 when out of memory (free_packed_layer frees). */
static int alloc_packed(zs_layer *L, size_t lines, size_t nnz, int idx16) {
    L->prow = malloc(sizeof(int32_t) * (lines + 1));
    L->pval = malloc(sizeof(float) * (nnz ? nnz : 1));
    if (idx16) L->pidx16 = malloc(sizeof(uint16_t) * (nnz ? nnz : 1));
    else L->pidx32 = malloc(sizeof(int32_t) * (nnz ? nnz : 1));
    return L->prow && L->pval && (L->pidx16 || L->pidx32);
}

/* The packed layers are in place: the other parameters move into S (the
 * compact layout), copied from network `from` (net itself, or the packed
 * network it copies), and the dense weights, masks, gradients, momenta and
 * the training path's state go. o: room for the old pointers (freed). */
static void go_compact(zs_net *net, float *S, const zs_net *from, old_ptrs *o) {
    zs_ts_free(net);
    save_ptrs(from, o);
    layout(net, S, NULL, NULL, 0);
    copy_params(net, o);
    free(o);
    for (int i = 0; i < net->n_layers; i++) net->layers[i].mask = NULL;
    zs_free_aligned(net->params);
    zs_free_aligned(net->masks);
    zs_free_aligned(net->grads);
    zs_free_aligned(net->moment);
    net->params = S;
    net->masks = NULL;
    net->grads = net->moment = NULL;
    net->compact = 1;
}

/* Out of memory before go_compact: the packed arrays made so far, S and o
 * go; the network keeps the form it had (its plan is gone). */
static void abandon_compact(zs_net *net, float *S, old_ptrs *o) {
    for (int i = 0; i < net->n_layers; i++) free_packed_layer(&net->layers[i]);
    zs_free_aligned(S);
    free(o);
}

zs_status zs_net_pack(zs_net *net) {
    if (!net || net->compact) return ZS_OK;
    size_t small = net->n_params;
    int any = 0;
    for (int i = 0; i < net->n_layers; i++)
        if (zs_layer_sparse(&net->layers[i])) { any = 1; small -= net->layers[i].n_weights; }
    if (!any) return ZS_OK;
    float *S;
    old_ptrs *o;
    if (!begin_compact(net, small, &S, &o)) goto oom;
    for (int i = 0; i < net->n_layers; i++) {
        zs_layer *L = &net->layers[i];
        if (!zs_layer_sparse(L)) continue;
        size_t nnz = 0;
        for (size_t j = 0; j < L->n_weights; j++) nnz += L->mask[j] != 0;
        /* linear: input-major (CSC); conv: unit-major */
        int col = L->type == ZS_LINEAR;
        size_t lines = col ? L->fan_in : (size_t)L->out_c, len = col ? (size_t)L->out_c : L->fan_in;
        if (!alloc_packed(L, lines, nnz, len <= 65536)) goto oom;
        L->pcol = col;
        size_t k = 0;
        L->prow[0] = 0;
        for (size_t r = 0; r < lines; r++) {
            for (size_t f = 0; f < len; f++) {
                size_t j = col ? f * L->fan_in + r : r * L->fan_in + f;
                if (!L->mask[j]) continue;
                if (L->pidx16) L->pidx16[k] = (uint16_t)f;
                else L->pidx32[k] = (int32_t)f;
                L->pval[k++] = L->w[j];
            }
            L->prow[r + 1] = (int32_t)k;
        }
    }
    go_compact(net, S, net, o);
    return ZS_OK;
oom:
    abandon_compact(net, S, o);
    return ZS_ERR(ZS_ENOMEM, "out of memory packing the sparse layers");
}

zs_status zs_net_pack_like(zs_net *net, const zs_net *src) {
    ZS_RETURN_IF(!net || !src || !src->compact || net->compact || net->n_layers != src->n_layers ||
                     net->n_params != src->n_params,
                 ZS_EINVAL, "zs_net_pack_like: needs a dense network and a packed one of the same architecture");
    size_t small = net->n_params;
    for (int i = 0; i < net->n_layers; i++) {
        const zs_layer *L = &net->layers[i], *A = &src->layers[i];
        if (!zs_layer_sparse(L)) continue;
        ZS_RETURN_IF(A->type != L->type || A->n_weights != L->n_weights || !A->prow, ZS_EINVAL,
                     "zs_net_pack_like: layer '%s' differs from the packed network's", L->name);
        small -= L->n_weights;
    }
    float *S;
    old_ptrs *o;
    if (!begin_compact(net, small, &S, &o)) goto oom;
    for (int i = 0; i < net->n_layers; i++) {
        zs_layer *L = &net->layers[i];
        const zs_layer *A = &src->layers[i];
        if (!zs_layer_sparse(L)) continue;
        size_t lines = (size_t)zs_packed_lines(A), nnz = zs_packed_nnz(A);
        if (!alloc_packed(L, lines, nnz, A->pidx16 != NULL)) goto oom;
        L->pcol = A->pcol;
        memcpy(L->prow, A->prow, sizeof(int32_t) * (lines + 1));
        memcpy(L->pval, A->pval, sizeof(float) * nnz);
        if (A->pidx16) memcpy(L->pidx16, A->pidx16, sizeof(uint16_t) * nnz);
        else memcpy(L->pidx32, A->pidx32, sizeof(int32_t) * nnz);
    }
    go_compact(net, S, src, o); /* the other parameters: the packed network's */
    return ZS_OK;
oom:
    abandon_compact(net, S, o);
    return ZS_ERR(ZS_ENOMEM, "out of memory copying the packed sparse layers");
}

zs_status zs_net_train_alloc(zs_net *net) {
    zs_status st = zs_net_unpack(net);
    if (st) return st;
    if (net->grads && net->moment) return ZS_OK;
    float *G = zs_alloc_aligned(net->n_params, sizeof(float));
    float *M = zs_alloc_aligned(net->n_params, sizeof(float));
    if (!G || !M) {
        zs_free_aligned(G); zs_free_aligned(M);
        return ZS_ERR(ZS_ENOMEM, "out of memory for the gradients and momenta of %zu parameters", net->n_params);
    }
    zs_free_aligned(net->grads);
    zs_free_aligned(net->moment);
    net->grads = G;
    net->moment = M;
    layout(net, net->params, G, M, 1);
    return ZS_OK;
}

static size_t ub(const void *p) { return p ? malloc_usable_size((void *)p) : 0; }

size_t zs_net_model_bytes(const zs_net *net) {
    if (!net) return 0;
    size_t b = ub(net) + ub(net->layers) + ub(net->arch_json) + ub(net->class_names);
    for (int i = 0; net->class_names && i < net->num_classes; i++) b += ub(net->class_names[i]);
    b += ub(net->params) + ub(net->grads) + ub(net->moment) + ub(net->state) + ub(net->masks);
    for (int i = 0; i < net->n_layers; i++) {
        const zs_layer *L = &net->layers[i];
        b += ub(L->prow) + ub(L->pval) + ub(L->pidx16) + ub(L->pidx32);
    }
    return b;
}
