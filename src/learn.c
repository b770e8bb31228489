/*
 * learn.c — learning on a served model: one sample (or a small batch) at a
 * time, between inferences (zs_net_learn), growing the output layer by a
 * class (zs_net_add_class), and deep copies for snapshot swaps
 * (zs_net_clone).
 *
 * What zs_net_learn does, per call on n samples x with labels y:
 *   1. forward in evaluation mode (BatchNorm running statistics, k_inference
 *      winners: the very activations serving computes), keeping the outputs
 *      the backward pass reads. On a model (no momenta) with an inference
 *      plan whose top keeps them (zs_plan_forward_keep), the forward is the
 *      plan's: the sparse layers stay packed and their kept weights learn in
 *      place (the col_update kernel), the very values the plan reads; where
 *      the plan's kernel reads a block copy of them (linear_ss) the changed
 *      columns are copied into it (zs_plan_sync_linear); a dense-held
 *      layer's plan copies are rewritten (zs_plan_update_linear: a weight
 *      that was zero when the plan was built has no slot there, so when it
 *      learns the plan is dropped and rebuilt at the next inference); the
 *      k-WTA boost factors follow the duty cycles (zs_plan_update_kwta). The
 *      next inference needs no rebuild and answers as a plan built anew
 *      would (tests/test_learn.c). Otherwise (a trainer with momenta, no
 *      plan, ZS_LEARN_REF set) the reference layers on dense weights;
 *   2. gradient of the mean NLL through the trainable top of the network —
 *      the last opts->layers linear layers and everything above them
 *      (k-WTA, ReLU, dropout, flatten, frozen BatchNorm) — visiting only the
 *      non-zero gradients: a k-WTA passes gradient to its winners only, so a
 *      linear layer below it gets dW only at (winner row) x (non-zero
 *      input) x (kept weight);
 *   3. plain SGD on exactly those weights and the winners' biases (weight
 *      decay, if any, on the rows that learn);
 *   4. k-WTA duty cycles of the trainable top updated with the rule of
 *      zs_kwinners_update_duty, from the served (k_inference) winners.
 * Layers below the trainable top (convolutions, their BatchNorm and k-WTA)
 * and every BatchNorm statistic stay frozen: one sample carries no usable
 * batch statistics, and frozen features are what keeps the old classes.
 *
 * What it is not: a replacement for zs_train (no momentum, no schedule, no
 * batch statistics).
 */
#include "net.h"
#include "layers.h"
#include "kernels/plan.h"
#include "kernels/kernels.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>

zs_learn_opts zs_learn_defaults(void) {
    zs_learn_opts o;
    memset(&o, 0, sizeof o);
    o.lr = 0.01f;
    o.layers = 2;
    o.weight_decay = 0.0f;
    o.update_duty = 1;
    o.only_class = -1;
    return o;
}

/* Index of the lowest layer that learns: the opts->layers-th linear layer
 * counted from the top. Returns -1 when the network cannot learn that way
 * (a conv2d or max-pool in between, or too few linear layers). */
static int lowest_trainable(const zs_net *net, int layers) {
    int seen = 0;
    for (int i = net->n_layers - 1; i >= 0; i--) {
        const zs_layer *L = &net->layers[i];
        if (L->type == ZS_CONV2D || L->type == ZS_MAXPOOL2D || (L->type == ZS_BATCHNORM && L->affine)) return -1;
        if (L->type == ZS_KWINNERS2D && L->local) return -1;
        if (L->type == ZS_LINEAR && ++seen == layers) return i;
    }
    return -1;
}

/* Non-zero positions of v[0..n) into idx (room for n + 16); returns their
 * count. The sparsify kernel (SIMD compress); its values go to scratch
 * (room for n + 16). */
static int nonzeros(const zs_kernels *K, int32_t *idx, float *scratch, const float *v, int n) {
    return K->sparsify(idx, scratch, v, n);
}

zs_status zs_net_learn(zs_net *net, const float *x, const int32_t *y, int n, const zs_learn_opts *opts,
                       float *loss) {
    zs_status st = ZS_OK;
    ZS_RETURN_IF(!net || !x || !y || !opts || n < 1, ZS_EINVAL, "zs_net_learn: bad argument");
    ZS_RETURN_IF(n > 4096, ZS_ELIMIT, "zs_net_learn: %d samples in one call (limit 4096)", n);
    ZS_RETURN_IF(!(opts->lr >= 0) || !(opts->weight_decay >= 0) || !isfinite(opts->lr) || opts->layers < 1,
                 ZS_EINVAL, "zs_net_learn: lr and weight_decay must be finite and >= 0, layers >= 1");
    int nl = net->n_layers, K = net->num_classes;
    zs_layer *last = &net->layers[nl - 1];
    ZS_RETURN_IF(last->type != ZS_LOGSOFTMAX, ZS_EUNSUPPORTED, "learning needs a logsoftmax last layer");
    int lo = lowest_trainable(net, opts->layers);
    ZS_RETURN_IF(lo < 0, ZS_EUNSUPPORTED,
                 "zs_net_learn: the top of this network has fewer than %d linear layers above its "
                 "convolutions (or an affine BatchNorm / local k-WTA among them)", opts->layers);
    for (int i = 0; i < n; i++)
        ZS_RETURN_IF(y[i] < 0 || y[i] >= K, ZS_EINVAL, "label %d of sample %d outside [0, %d)", (int)y[i], i, K);
    ZS_RETURN_IF(opts->only_class >= K || (opts->only_class >= 0 && opts->layers != 1), ZS_EINVAL,
                 "zs_net_learn: only_class must be < %d and needs layers = 1", K);
    size_t insz = (size_t)net->in_c * net->in_h * net->in_w;
    ZS_RETURN_IF(!zs_all_finite(x, insz * (size_t)n), ZS_ENUMERIC, "input contains NaN or Inf");
    /* 1. forward, evaluation mode. On the inference plan when there is one
     * that keeps the top's activations: a model (no momenta) stays packed,
     * its kept weights learn in place and the plan's folded copies with
     * them. Otherwise the reference layers on dense weights. */
    net->training = 0;
    int on_plan = 0;
    const zs_kernels *KS = zs_kernels_active(); /* once: it reads the environment */
    int32_t *gi = NULL, *hi = NULL, *cols = NULL;
    float *nzv = NULL, *glr = NULL;
    uint32_t *gm = NULL; /* col_update's bitmap of the outputs with a gradient */
    if (!net->dense && !getenv("ZS_LEARN_REF")) {
        /* a model stays packed (first: packing drops a plan) */
        if (!net->moment && (st = zs_net_pack(net))) goto out;
        if ((st = zs_net_plan_ensure(net))) goto out;
        if (net->kernels && zs_plan_can_keep(net, lo)) {
            if ((st = zs_net_reserve(net, n))) goto out;
            if ((st = zs_plan_calibrate(net, NULL, x, last->out))) goto out;
            on_plan = 1;
            for (int i = lo; i < nl && on_plan; i++) {
                zs_layer *L = &net->layers[i];
                if (L->type != ZS_LINEAR || L->w) continue;
                if (!zs_plan_linear_shared(net, i)) on_plan = 0; /* e.g. ZS_PLAN_LINEAR=gather: a copy */
            }
        }
    }
    if (!on_plan && (st = zs_net_unpack(net))) goto out;
    if ((st = zs_net_reserve(net, n))) goto out;
    const float *logp;
    if (on_plan) {
        float *lp = last->out;
        for (int s = 0; s < n; s++)
            if ((st = zs_plan_forward_keep(net, x + (size_t)s * insz, s, lp + (size_t)s * K, lo))) goto out;
        logp = lp;
    } else {
        logp = zs_net_forward_ref(net, x, n);
    }
    double l = 0;
    for (int s = 0; s < n; s++) l -= logp[(size_t)s * K + y[s]];
    l /= n;
    /* finite log-probabilities give finite gradients; finite activations
     * (inputs checked above) finite updates */
    if (!isfinite(l) || !zs_all_finite(logp, (size_t)n * K)) {
        st = ZS_ERR(ZS_ENUMERIC, "learning: log-probabilities are not finite (loss %g); the model diverged?", l);
        goto out;
    }

    size_t maxu = 0;
    for (int i = lo; i < nl; i++)
        if (net->layers[i].in_size > maxu) maxu = net->layers[i].in_size;
    gi = malloc(sizeof(int32_t) * (maxu + (size_t)K + 16));
    hi = malloc(sizeof(int32_t) * (maxu + (size_t)K + 16));
    cols = malloc(sizeof(int32_t) * (maxu + (size_t)K + 16));
    nzv = malloc(sizeof(float) * (maxu + (size_t)K + 16));
    glr = malloc(sizeof(float) * (maxu + (size_t)K + 16));
    gm = calloc(ZS_COL_GM_WORDS(maxu + (size_t)K), sizeof(uint32_t));
    if (!gi || !hi || !cols || !nzv || !glr || !gm) { st = ZS_ERR(ZS_ENOMEM, "out of memory"); goto out; }

    /* 2. gradients of each layer's output, top down, into the dout buffers
     * (dense per sample; zeros are skipped below) */
    for (int s = 0; s < n; s++) {
        const float *p = logp + (size_t)s * K;
        float *d = net->layers[nl - 2].dout + (size_t)s * K; /* d(logits) = softmax - onehot, / n */
        for (int k = 0; k < K; k++) d[k] = (expf(p[k]) - (k == y[s])) / (float)n;
        if (opts->only_class >= 0) /* the other rows get no gradient */
            for (int k = 0; k < K; k++) if (k != opts->only_class) d[k] = 0.0f;
    }
    for (int i = nl - 2; i > lo; i--) {
        zs_layer *L = &net->layers[i];
        zs_layer *B = &net->layers[i - 1];
        int U = (int)L->out_size, I = (int)L->in_size;
        for (int s = 0; s < n; s++) {
            const float *g = L->dout + (size_t)s * U;
            float *din = B->dout + (size_t)s * I;
            switch (L->type) {
            case ZS_LINEAR: {
                memset(din, 0, sizeof(float) * (size_t)I);
                if (!L->w) { /* packed, input-major: each input's kept weights to outputs with a gradient */
                    const uint16_t *p16 = L->pidx16;
                    const int32_t *p32 = L->pidx32;
                    for (int t = 0; t < I; t++) {
                        float a = 0.0f;
                        for (int32_t k = L->prow[t]; k < L->prow[t + 1]; k++) {
                            float go = g[p16 ? p16[k] : p32[k]];
                            if (go != 0.0f) a += go * L->pval[k];
                        }
                        din[t] = a;
                    }
                    break;
                }
                int c = nonzeros(KS, gi, nzv, g, U);
                if (B->type == ZS_KWINNERS && !B->ties_nupic) {
                    /* a k-WTA below passes gradient to its winners only: din there */
                    const int32_t *wi = B->win.idx + (size_t)s * B->win.kmax;
                    for (int e = 0; e < B->win.count[s]; e++) {
                        int t = wi[e];
                        float a = 0.0f;
                        for (int j = 0; j < c; j++) a += g[gi[j]] * L->w[(size_t)gi[j] * I + t];
                        din[t] = a;
                    }
                    break;
                }
                for (int j = 0; j < c; j++) {
                    float go = g[gi[j]];
                    const float *w = L->w + (size_t)gi[j] * I;
                    for (int t = 0; t < I; t++) din[t] += go * w[t];
                }
                break;
            }
            case ZS_KWINNERS:
            case ZS_KWINNERS2D: {
                memset(din, 0, sizeof(float) * (size_t)I);
                const int32_t *wi = L->win.idx + (size_t)s * L->win.kmax;
                for (int j = 0; j < L->win.count[s]; j++) din[wi[j]] = g[wi[j]];
                break;
            }
            case ZS_RELU: {
                const float *o = L->out + (size_t)s * U;
                for (int t = 0; t < U; t++) din[t] = o[t] > 0.0f ? g[t] : 0.0f;
                break;
            }
            case ZS_BATCHNORM: { /* eval: y = (x - mean) / sqrt(var + eps) */
                /* a is finite and > 0 (running_var >= 0, eps >= 1e-12), so
                 * g * a keeps a zero's sign: a channel whose
                 * gradient is all zeros (most of them under a k-WTA) passes
                 * it through without the square root and division */
                int S = L->in_h * L->in_w;
                if (S == 1) { /* BatchNorm1d: a copy, then the few non-zero gradients scaled (no branch per unit) */
                    memcpy(din, g, sizeof(float) * (size_t)L->in_c);
                    int c = nonzeros(KS, gi, nzv, g, L->in_c);
                    for (int j = 0; j < c; j++) {
                        int ch = gi[j];
                        float a = 1.0f / sqrtf(L->running_var[ch] + L->bn_eps);
                        din[ch] = g[ch] * a;
                    }
                    break;
                }
                for (int ch = 0; ch < L->in_c; ch++) {
                    const float *gc = g + (size_t)ch * S;
                    float *dc = din + (size_t)ch * S;
                    int t = 0;
                    while (t < S && gc[t] == 0.0f) t++;
                    if (t == S) {
                        for (t = 0; t < S; t++) dc[t] = gc[t];
                        continue;
                    }
                    float a = 1.0f / sqrtf(L->running_var[ch] + L->bn_eps);
                    for (t = 0; t < S; t++) dc[t] = gc[t] * a;
                }
                break;
            }
            default: /* flatten, dropout (identity in eval) */
                memcpy(din, g, sizeof(float) * (size_t)I);
                break;
            }
        }
    }

    /* 3. SGD on the linear layers of the trainable top, only where the
     * gradient is non-zero: (rows with a gradient) x (non-zero inputs) x kept */
    float lr = opts->lr, decay = 1.0f - opts->lr * opts->weight_decay;
    for (int i = nl - 2; i >= lo; i--) {
        zs_layer *L = &net->layers[i];
        if (L->type != ZS_LINEAR) continue;
        int U = L->out_c, I = (int)L->fan_in;
        const float *in = i ? net->layers[i - 1].out : x;
        for (int s = 0; s < n; s++) {
            const float *g = L->dout + (size_t)s * U, *h = in + (size_t)s * I;
            int c = nonzeros(KS, gi, nzv, g, U), ch = nonzeros(KS, hi, nzv, h, I);
            if (!L->w) {
                /* packed, input-major: the very weights the plan reads. The
                 * columns of the non-zero inputs, their kept weights to
                 * outputs with a gradient (col_update kernel); with weight
                 * decay first every kept weight of those rows */
                const int32_t *prow = L->prow;
                const uint16_t *p16 = L->pidx16;
                const int32_t *p32 = L->pidx32;
                float *pval = L->pval;
                memset(glr, 0, sizeof(float) * (size_t)U);
                memset(gm, 0, sizeof(uint32_t) * ZS_COL_GM_WORDS((size_t)U));
                for (int j = 0; j < c; j++) {
                    int o = gi[j];
                    float go = lr * g[o];
                    glr[o] = go;
                    if (go != 0.0f) gm[o / 32] |= 1u << (o % 32);
                    if (L->b) L->b[o] -= go;
                }
                if (opts->weight_decay > 0)
                    for (int t = 0; t < I; t++)
                        for (int32_t k = prow[t]; k < prow[t + 1]; k++)
                            if (g[p16 ? p16[k] : p32[k]] != 0.0f) pval[k] *= decay;
                if (p16) KS->col_update(pval, p16, prow, hi, nzv, ch, glr, gm, U); /* nzv: h at hi */
                else
                    for (int q = 0; q < ch; q++) {
                        int t = hi[q];
                        float hv = h[t];
                        for (int32_t k = prow[t]; k < prow[t + 1]; k++) { /* as col_update, 32-bit indices */
                            float a = glr[p32[k]];
                            if (a == 0.0f) continue;
                            float d = a * hv;
                            pval[k] = pval[k] - d;
                        }
                    }
                /* the plan's block copy, if its kernel reads one: the
                 * columns that changed (all with weight decay) */
                if (on_plan) zs_plan_sync_linear(net, i, opts->weight_decay > 0 ? NULL : hi, opts->weight_decay > 0 ? I : ch);
                continue;
            }
            for (int j = 0; j < c && st == ZS_OK; j++) {
                int o = gi[j];
                float go = lr * g[o];
                float *w = L->w + (size_t)o * I;
                if (opts->weight_decay > 0)
                    for (int t = 0; t < I; t++) w[t] *= decay;
                int nc = 0; /* the columns of row o that changed, for the plan */
                if (L->mask) {
                    const uint8_t *m = L->mask + (size_t)o * I;
                    for (int q = 0; q < ch; q++)
                        if (m[hi[q]]) { w[hi[q]] -= go * h[hi[q]]; cols[nc++] = hi[q]; }
                    if (opts->weight_decay > 0) {
                        nc = 0;
                        for (int t = 0; t < I; t++) if (m[t]) cols[nc++] = t;
                    }
                } else {
                    KS->row_axpy(w, h, I, go); /* the non-zero inputs' weights */
                    if (opts->weight_decay > 0) for (int t = 0; t < I; t++) cols[nc++] = t;
                    else memcpy(cols, hi, sizeof(int32_t) * (size_t)(nc = ch));
                }
                if (L->b) L->b[o] -= go;
                if (on_plan) { /* the plan's folded copies of row o */
                    int32_t row = o, cs[2] = {0, nc};
                    zs_status su = zs_plan_update_linear(net, i, &row, 1, cs, cols);
                    if (su == ZS_EUNSUPPORTED) { on_plan = 0; zs_plan_free(net); }
                    else st = su;
                }
            }
        }
    }
    if (st) goto out;
    /* 4. duty cycles of the k-WTA layers that learn */
    if (opts->update_duty)
        for (int i = lo; i < nl; i++) {
            zs_layer *L = &net->layers[i];
            if (L->type == ZS_KWINNERS)
                zs_kwinners_update_duty(L->duty, &L->learning_iterations, L->out, n, (int)L->in_size, 1,
                                        L->duty_cycle_period);
            else if (L->type == ZS_KWINNERS2D)
                zs_kwinners_update_duty(L->duty, &L->learning_iterations, L->out, n, L->in_c,
                                        L->in_h * L->in_w, L->duty_cycle_period);
        }
    if (on_plan) {
        /* the plan's boost factors of the k-WTA layers whose duty cycles moved */
        for (int i = lo; i < nl && opts->update_duty; i++)
            if (net->layers[i].type == ZS_KWINNERS || net->layers[i].type == ZS_KWINNERS2D)
                if (zs_plan_update_kwta(net, i)) { zs_plan_free(net); break; }
    } else {
        zs_plan_free(net); /* the packed weights are stale */
    }
    net->steps++;
    if (loss) *loss = (float)l;
out:
    free(gi);
    free(hi);
    free(cols);
    free(nzv);
    free(glr);
    free(gm);
    return st;
}

/* ------------------------------------------------------------ clone */

/* Copy what a model is made of (weights, masks, BatchNorm statistics, k-WTA
 * duty cycles and boost state, momenta) from layer S to layer D of the same
 * type; rows [0, rows) of a linear layer's weights (all when rows < 0). */
static void copy_layer(zs_layer *D, const zs_layer *S, int rows) {
    switch (S->type) {
    case ZS_CONV2D:
    case ZS_LINEAR: {
        /* D is dense (zero masks); S dense or packed */
        size_t r = rows < 0 ? (size_t)S->out_c : (size_t)rows, nw = r * S->fan_in;
        if (S->w) memcpy(D->w, S->w, sizeof(float) * nw);
        else if (S->prow)
            for (int line = 0; line < zs_packed_lines(S); line++)
                for (int32_t k = S->prow[line]; k < S->prow[line + 1]; k++) {
                    size_t j = zs_packed_at(S, line, k);
                    if (j >= nw) continue; /* a row past `rows` */
                    D->w[j] = S->pval[k];
                    if (D->mask) D->mask[j] = 1;
                }
        if (S->mw && D->mw) memcpy(D->mw, S->mw, sizeof(float) * nw);
        if (S->b && D->b) memcpy(D->b, S->b, sizeof(float) * r);
        if (S->mb && D->mb) memcpy(D->mb, S->mb, sizeof(float) * r);
        if (S->mask && D->mask) memcpy(D->mask, S->mask, nw);
        break;
    }
    case ZS_BATCHNORM:
        if (S->affine) {
            memcpy(D->gamma, S->gamma, sizeof(float) * (size_t)S->in_c);
            memcpy(D->beta, S->beta, sizeof(float) * (size_t)S->in_c);
            if (S->mgamma && D->mgamma) memcpy(D->mgamma, S->mgamma, sizeof(float) * (size_t)S->in_c);
            if (S->mbeta && D->mbeta) memcpy(D->mbeta, S->mbeta, sizeof(float) * (size_t)S->in_c);
        }
        memcpy(D->running_mean, S->running_mean, sizeof(float) * (size_t)S->in_c);
        memcpy(D->running_var, S->running_var, sizeof(float) * (size_t)S->in_c);
        D->num_batches_tracked = S->num_batches_tracked;
        break;
    case ZS_KWINNERS:
    case ZS_KWINNERS2D:
        memcpy(D->duty, S->duty, sizeof(float) * (S->type == ZS_KWINNERS2D ? (size_t)S->in_c : S->in_size));
        D->boost_strength = S->boost_strength;
        D->learning_iterations = S->learning_iterations;
        break;
    default: break;
    }
}

static void copy_net_state(zs_net *d, const zs_net *s) {
    d->steps = s->steps;
    d->epochs_done = s->epochs_done;
    d->train_rng = s->train_rng;
    d->drop_rng = s->drop_rng;
    d->dense = s->dense;
    d->int8_weights = s->int8_weights;
}

static zs_status clone(const zs_net *src, zs_net **out, int with_plan) {
    zs_status st;
    ZS_RETURN_IF(!src || !out, ZS_EINVAL, "zs_net_clone: NULL argument");
    *out = NULL;
    zs_net *c = NULL;
    /* a packed model: a shell (no dense weights or masks) that takes its
     * packed arrays as they are, then the state of its other layers; else
     * layer by layer, and without momenta the copy is a model: sparse
     * layers packed */
    const int like = src->compact && !src->moment;
    if ((st = like ? zs_net_build_shell(&c, src->arch_json) : zs_net_build(&c, src->arch_json, 0, 0))) return st;
    snprintf(c->arch_name, sizeof c->arch_name, "%s", src->arch_name);
    /* momenta when the source holds them (a trainer's copy) */
    if (src->moment && (st = zs_net_train_alloc(c))) { zs_net_free(c); return st; }
    if (like && (st = zs_net_pack_like(c, src))) { zs_net_free(c); return st; }
    for (int i = 0; i < src->n_layers; i++)
        if (!like || (src->layers[i].type != ZS_CONV2D && src->layers[i].type != ZS_LINEAR))
            copy_layer(&c->layers[i], &src->layers[i], -1);
    copy_net_state(c, src);
    if (!like && !src->moment && (st = zs_net_pack(c))) { zs_net_free(c); return st; }
    st = zs_net_set_class_names(c, src->num_classes, (const char *const *)src->class_names);
    if (st) { zs_net_free(c); return st; }
    /* the source's inference plan: the copy's, built now with its kernel
     * choices and measurements (a served snapshot answers at once, without
     * measuring its kernels again) */
    if (with_plan && src->kernels && !c->dense) {
        st = zs_plan_build_like(c, src);
        if (st == ZS_EUNSUPPORTED) c->plan_unsupported = 1, st = ZS_OK;
        if (st) { zs_net_free(c); return st; }
    }
    *out = c;
    return ZS_OK;
}

zs_status zs_net_clone(const zs_net *src, zs_net **out) { return clone(src, out, 1); }
zs_status zs_net_clone_bare(const zs_net *src, zs_net **out) { return clone(src, out, 0); }

/* ------------------------------------------------------------ add a class */

zs_status zs_net_add_class(zs_net *net, const char *name, const float *x, int n) {
    zs_status st = ZS_OK;
    ZS_RETURN_IF(!net || !name || n < 0 || (n > 0 && !x), ZS_EINVAL, "zs_net_add_class: bad argument");
    ZS_RETURN_IF(!*name || strlen(name) > 255, ZS_EINVAL, "zs_net_add_class: the name must have 1 to 255 bytes");
    int K = net->num_classes, nl = net->n_layers;
    ZS_RETURN_IF(K + 1 > ZS_MAX_CLASSES, ZS_ELIMIT, "zs_net_add_class: %d classes is the limit", ZS_MAX_CLASSES);
    for (int k = 0; k < K; k++)
        ZS_RETURN_IF(!strcmp(net->class_names[k], name), ZS_EINVAL, "zs_net_add_class: class '%s' exists", name);
    /* the output layer: the last linear, with only parameter-free layers
     * that keep the vector size (logsoftmax) above it */
    int oi = -1;
    for (int i = nl - 1; i >= 0 && oi < 0; i--) {
        zs_layer *L = &net->layers[i];
        if (L->type == ZS_LINEAR) oi = i;
        else ZS_RETURN_IF(L->type != ZS_LOGSOFTMAX && L->type != ZS_DROPOUT && L->type != ZS_RELU, ZS_EUNSUPPORTED,
                          "zs_net_add_class: layer '%s' (above the output layer) does not keep the class count",
                          L->name);
    }
    ZS_RETURN_IF(oi < 0, ZS_EUNSUPPORTED, "zs_net_add_class: the network has no linear output layer");
    if ((st = zs_net_unpack(net))) return st; /* the old rows are read dense */
    if (n > 0) {
        size_t insz = (size_t)net->in_c * net->in_h * net->in_w;
        ZS_RETURN_IF(!zs_all_finite(x, insz * (size_t)n), ZS_ENUMERIC, "input contains NaN or Inf");
    }

    zs_net *g = NULL;
    char **names = NULL;
    float *emb = NULL;
    cJSON *root = cJSON_Parse(net->arch_json);
    cJSON *layers = root ? cJSON_GetObjectItemCaseSensitive(root, "layers") : NULL;
    cJSON *lo = layers ? cJSON_GetArrayItem(layers, oi) : NULL;
    if (!lo) ZS_FAIL(ZS_EFORMAT, "zs_net_add_class: cannot read the architecture");
    cJSON_DeleteItemFromObjectCaseSensitive(lo, "out_features");
    cJSON_AddNumberToObject(lo, "out_features", K + 1);
    char *json = cJSON_PrintUnformatted(root);
    if (!json) ZS_FAIL(ZS_ENOMEM, "out of memory");
    /* a new network: fresh seeded init for the new row (and its mask) */
    st = zs_net_build(&g, json, (uint64_t)net->steps * 2654435761u + (uint64_t)K, 1);
    free(json);
    if (st) goto fail;
    snprintf(g->arch_name, sizeof g->arch_name, "%s", net->arch_name);
    if (net->moment) ZS_TRY(zs_net_train_alloc(g));
    for (int i = 0; i < nl; i++) copy_layer(&g->layers[i], &net->layers[i], i == oi ? K : -1);
    copy_net_state(g, net);
    zs_layer *O = &g->layers[oi];
    const zs_layer *OO = &net->layers[oi];
    int I = (int)O->fan_in;
    float *row = O->w + (size_t)K * I;
    float bsum = 0, nsum = 0;
    for (int k = 0; k < K; k++) {
        double r2 = 0;
        for (int t = 0; t < I; t++) r2 += (double)OO->w[(size_t)k * I + t] * OO->w[(size_t)k * I + t];
        nsum += (float)sqrt(r2);
        if (OO->b) bsum += OO->b[k];
    }
    if (n > 0) {
        /* imprinting: the new row points at the mean of the examples'
         * (unit-normalised) inputs to the output layer, with the mean norm
         * of the old rows; its bias is the mean old bias */
        emb = calloc((size_t)I, sizeof(float));
        if (!emb) ZS_FAIL(ZS_ENOMEM, "out of memory");
        ZS_TRY(zs_net_reserve(net, n));
        net->training = 0;
        zs_net_forward_ref(net, x, n);
        const float *h = oi ? net->layers[oi - 1].out : x;
        for (int s = 0; s < n; s++) {
            double r2 = 0;
            for (int t = 0; t < I; t++) r2 += (double)h[(size_t)s * I + t] * h[(size_t)s * I + t];
            float inv = r2 > 0 ? (float)(1.0 / sqrt(r2)) : 0.0f;
            for (int t = 0; t < I; t++) emb[t] += h[(size_t)s * I + t] * inv;
        }
        double r2 = 0;
        for (int t = 0; t < I; t++) r2 += (double)emb[t] * emb[t];
        float scale = r2 > 0 ? (float)((nsum / K) / sqrt(r2)) : 0.0f;
        for (int t = 0; t < I; t++) row[t] = emb[t] * scale;
        if (O->mask) for (int t = 0; t < I; t++) row[t] *= O->mask[(size_t)K * I + t];
    }
    if (O->b) O->b[K] = bsum / K;
    if (O->mw) memset(O->mw + (size_t)K * I, 0, sizeof(float) * (size_t)I);
    if (O->mb) O->mb[K] = 0;
    names = calloc((size_t)K + 1, sizeof(char *));
    if (!names) ZS_FAIL(ZS_ENOMEM, "out of memory");
    for (int k = 0; k < K; k++) names[k] = net->class_names[k];
    names[K] = (char *)name;
    ZS_TRY(zs_net_set_class_names(g, K + 1, (const char *const *)names));
    /* swap contents: the caller's handle now holds the grown network */
    {
        zs_net tmp = *net;
        *net = *g;
        *g = tmp;
    }
fail:
    free(names);
    free(emb);
    cJSON_Delete(root);
    zs_net_free(g); /* the old contents on success, the unfinished network on failure */
    return st;
}

/* ------------------------------------------------------------ fit a class */

zs_fit_class_opts zs_fit_class_defaults(void) {
    zs_fit_class_opts o;
    memset(&o, 0, sizeof o);
    o.iters = 300;
    o.lr = 0.5f;
    o.l2 = 0.03f;
    o.old_weight = 0.5f;
    o.recall = 0.99f;
    o.folds = 5;
    o.max_old = 0.003f;
    return o;
}

/* The row's inputs of n examples as sparse rows (CSR: off[n + 1], idx, val):
 * they are k-WTA or ReLU outputs in the networks that enroll, mostly zeros. */
typedef struct fit_data {
    int n, I;
    size_t *off;
    int32_t *idx;
    float *val;
    float *m;  /* max_{j != k} of the old logits */
    int *arg;  /* its class */
} fit_data;

static float dot_row(const fit_data *d, int i, const float *w) {
    double s = 0;
    for (size_t t = d->off[i]; t < d->off[i + 1]; t++) s += (double)w[d->idx[t]] * d->val[t];
    return (float)s;
}

/* Weighted logistic regression of the margin w.h + b - m on the examples
 * with sw[i] > 0 (target t[i]), from (w0, b0), with l2/2 |w - w0|^2; keeps
 * w at zero where mask (may be NULL) is zero. */
static void fit_row(const fit_data *d, const uint8_t *t, const float *sw, const float *w0, float b0,
                    const uint8_t *mask, const zs_fit_class_opts *o, float *w, float *b, double *g) {
    int I = d->I;
    memcpy(w, w0, sizeof(float) * (size_t)I);
    *b = b0;
    for (int it = 0; it < o->iters; it++) {
        memset(g, 0, sizeof(double) * (size_t)I);
        double gb = 0;
        for (int i = 0; i < d->n; i++) {
            if (sw[i] <= 0) continue;
            double u = (double)dot_row(d, i, w) + *b - d->m[i];
            double p = 1.0 / (1.0 + exp(-u));
            double e = (p - t[i]) * sw[i];
            gb += e;
            for (size_t q = d->off[i]; q < d->off[i + 1]; q++) g[d->idx[q]] += e * d->val[q];
        }
        for (int j = 0; j < I; j++) {
            w[j] -= (float)(o->lr * (g[j] + o->l2 * ((double)w[j] - w0[j])));
            if (mask && !mask[j]) w[j] = 0.0f;
        }
        *b -= (float)(o->lr * gb);
    }
}

static int cmp_float_asc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

zs_status zs_net_fit_class(zs_net *net, int k, const float *x, const int32_t *y, const int32_t *group, int n,
                           const float *xc, const int32_t *yc, int nc, const zs_fit_class_opts *opts,
                           zs_fit_class_report *rep) {
    zs_status st = ZS_OK;
    ZS_RETURN_IF(!net || !x || !y || !opts || n < 2 || nc < 0 || (nc > 0 && (!xc || !yc)), ZS_EINVAL,
                 "zs_net_fit_class: bad argument");
    ZS_RETURN_IF(n > 1000000 || nc > 1000000, ZS_ELIMIT, "zs_net_fit_class: %d + %d examples (limit 1000000 each)",
                 n, nc);
    const zs_fit_class_opts *o = opts;
    ZS_RETURN_IF(o->iters < 0 || o->iters > 100000 || !(o->lr >= 0) || !isfinite(o->lr) || !(o->l2 >= 0) ||
                     !isfinite(o->l2) || !(o->old_weight >= 0 && o->old_weight <= 1) ||
                     !(o->recall > 0 && o->recall <= 1) || !(o->max_old <= 1) || isnan(o->max_old),
                 ZS_EINVAL,
                 "zs_fit_class_opts: iters in [0, 100000], lr and l2 finite >= 0, old_weight in [0, 1], "
                 "recall in (0, 1], max_old <= 1");
    int K = net->num_classes, nl = net->n_layers;
    ZS_RETURN_IF(k < 0 || k >= K || K < 2, ZS_EINVAL, "zs_net_fit_class: class %d outside [0, %d) or < 2 classes",
                 k, K);
    int npos = 0, nneg = 0, nold = 0;
    for (int i = 0; i < n; i++) {
        ZS_RETURN_IF(y[i] < -1 || y[i] >= K, ZS_EINVAL, "zs_net_fit_class: label %d of example %d outside [-1, %d)",
                     (int)y[i], i, K);
        if (y[i] == k) npos++;
        else if (y[i] < 0) nneg++;
        else nold++;
    }
    for (int i = 0; i < nc; i++)
        ZS_RETURN_IF(yc[i] < 0 || yc[i] >= K || yc[i] == k, ZS_EINVAL,
                     "zs_net_fit_class: calibration label %d of example %d outside [0, %d) or the class %d itself",
                     (int)yc[i], i, K, k);
    ZS_RETURN_IF(!npos || !(nneg + nold), ZS_EINVAL,
                 "zs_net_fit_class: needs examples of class %d and examples of other sounds (%d and %d given)", k,
                 npos, nneg + nold);
    int oi = -1;
    for (int i = nl - 1; i >= 0 && oi < 0; i--) {
        zs_layer *L = &net->layers[i];
        if (L->type == ZS_LINEAR) oi = i;
        else ZS_RETURN_IF(L->type != ZS_LOGSOFTMAX && L->type != ZS_DROPOUT, ZS_EUNSUPPORTED,
                          "zs_net_fit_class: layer '%s' lies above the output layer", L->name);
    }
    ZS_RETURN_IF(oi < 0, ZS_EUNSUPPORTED, "zs_net_fit_class: the network has no linear output layer");
    ZS_RETURN_IF(!net->layers[oi].b, ZS_EUNSUPPORTED, "zs_net_fit_class: the output layer has no bias");
    size_t insz = (size_t)net->in_c * net->in_h * net->in_w;
    ZS_RETURN_IF(!zs_all_finite(x, insz * (size_t)n) || (nc && !zs_all_finite(xc, insz * (size_t)nc)), ZS_ENUMERIC,
                 "input contains NaN or Inf");
    if ((st = zs_net_unpack(net))) return st;

    zs_layer *O = &net->layers[oi];
    int I = (int)O->fan_in, nt = n + nc;
    fit_data d = {n, I, NULL, NULL, NULL, NULL, NULL};
    float *w = NULL, *wf = NULL, *sw = NULL, *v = NULL, *w0 = NULL;
    uint8_t *t = NULL;
    int32_t *fold = NULL;
    double *g = NULL;
    size_t cap = (size_t)nt * 16 + 64, used = 0;
    d.off = malloc(sizeof(size_t) * ((size_t)nt + 1));
    d.idx = malloc(sizeof(int32_t) * cap);
    d.val = malloc(sizeof(float) * cap);
    d.m = malloc(sizeof(float) * (size_t)nt);
    d.arg = malloc(sizeof(int) * (size_t)nt);
    w = malloc(sizeof(float) * (size_t)I);
    wf = malloc(sizeof(float) * (size_t)I);
    w0 = malloc(sizeof(float) * (size_t)I);
    g = malloc(sizeof(double) * (size_t)I);
    sw = malloc(sizeof(float) * (size_t)n);
    v = malloc(sizeof(float) * ((size_t)nc + 1));
    t = malloc((size_t)n);
    fold = malloc(sizeof(int32_t) * 2 * (size_t)n);
    if (!d.off || !d.idx || !d.val || !d.m || !d.arg || !w || !wf || !w0 || !g || !sw || !v || !t || !fold)
        ZS_FAIL(ZS_ENOMEM, "out of memory");
    /* 1. the row's inputs and the old logits, once (evaluation mode): the
     * n examples, then the nc calibration examples */
    const int CH = 64;
    ZS_TRY(zs_net_reserve(net, nt < CH ? nt : CH));
    net->training = 0;
    d.off[0] = 0;
    for (int s0 = 0, b; s0 < nt; s0 += b) {
        int end = s0 < n ? n : nt; /* a chunk stays within one of the two sets */
        b = end - s0 < CH ? end - s0 : CH;
        const float *xs = s0 < n ? x + (size_t)s0 * insz : xc + (size_t)(s0 - n) * insz;
        zs_net_forward_ref(net, xs, b);
        const float *h = oi ? net->layers[oi - 1].out : xs;
        for (int s = 0; s < b; s++) {
            const float *hs = h + (size_t)s * I, *z = O->out + (size_t)s * K;
            int i = s0 + s, nz = 0;
            for (int j = 0; j < I; j++) nz += hs[j] != 0.0f;
            if (used + (size_t)nz > cap) {
                while (used + (size_t)nz > cap) cap *= 2;
                int32_t *ni = realloc(d.idx, sizeof(int32_t) * cap);
                if (ni) d.idx = ni;
                float *nv = realloc(d.val, sizeof(float) * cap);
                if (nv) d.val = nv;
                if (!ni || !nv) ZS_FAIL(ZS_ENOMEM, "out of memory");
            }
            for (int j = 0; j < I; j++)
                if (hs[j] != 0.0f) { d.idx[used] = j; d.val[used++] = hs[j]; }
            d.off[i + 1] = used;
            int a = -1;
            for (int j = 0; j < K; j++)
                if (j != k && (a < 0 || z[j] > z[a])) a = j;
            d.arg[i] = a;
            d.m[i] = a >= 0 ? z[a] : 0.0f;
            if (!isfinite(d.m[i])) ZS_FAIL(ZS_ENUMERIC, "zs_net_fit_class: the old logits are not finite");
        }
    }
    /* 2. weights: positives weigh 1 in all, negatives 1 - old_weight and old
     * examples old_weight (all to one kind if the other is missing) */
    float wn = nold ? 1.0f - o->old_weight : 1.0f, wo = nneg ? o->old_weight : 1.0f;
    for (int i = 0; i < n; i++) {
        t[i] = y[i] == k;
        sw[i] = y[i] == k ? 1.0f / (float)npos : y[i] < 0 ? wn / (float)nneg : wo / (float)nold;
    }
    memcpy(w0, O->w + (size_t)k * I, sizeof(float) * (size_t)I);
    const uint8_t *mask = O->mask ? O->mask + (size_t)k * I : NULL;
    float b, b0 = O->b[k];
    fit_row(&d, t, sw, w0, b0, mask, o, w, &b, g);
    /* 3. the recall target, from out-of-fold margins of the positives:
     * folds over the distinct groups (sorted), each fold's positives
     * left out of its fit */
    float bias_recall = b;
    int ngroups = 0;
    if (o->folds >= 2) {
        int32_t *gs = fold + n; /* scratch in the second half of fold: the positives' groups, sorted */
        int np = 0;
        for (int i = 0; i < n; i++)
            if (y[i] == k) gs[np++] = group ? group[i] : i;
        for (int a = 1; a < np; a++) /* insertion sort: a few hundred positives */
            for (int c = a; c > 0 && gs[c - 1] > gs[c]; c--) { int32_t tt = gs[c]; gs[c] = gs[c - 1]; gs[c - 1] = tt; }
        for (int i = 0; i < n; i++) {
            fold[i] = -1;
            if (y[i] != k) continue;
            int gi = group ? group[i] : i, rank = 0;
            for (int a = 0; a < np; a++) /* rank = number of distinct groups below gi */
                if (gs[a] < gi && (a == 0 || gs[a] != gs[a - 1])) rank++;
            fold[i] = rank % o->folds;
        }
        for (int a = 0; a < np; a++) ngroups += a == 0 || gs[a] != gs[a - 1];
    }
    if (o->folds >= 2 && ngroups >= 2) {
        float *swf = malloc(sizeof(float) * (size_t)n);
        float *oof = malloc(sizeof(float) * (size_t)npos);
        if (!swf || !oof) { free(swf); free(oof); ZS_FAIL(ZS_ENOMEM, "out of memory"); }
        int no = 0, folds = o->folds < ngroups ? o->folds : ngroups;
        for (int f = 0; f < folds; f++) {
            int nin = 0;
            for (int i = 0; i < n; i++) nin += y[i] == k && fold[i] != f;
            for (int i = 0; i < n; i++) swf[i] = y[i] != k ? sw[i] : fold[i] != f ? 1.0f / (float)nin : 0.0f;
            float bf;
            fit_row(&d, t, swf, w0, b0, mask, o, wf, &bf, g);
            for (int i = 0; i < n; i++)
                if (y[i] == k && fold[i] == f) oof[no++] = dot_row(&d, i, wf) - d.m[i];
        }
        qsort(oof, (size_t)no, sizeof(float), cmp_float_asc);
        int q = (int)floor((1.0 - o->recall) * no);
        if (q >= no) q = no - 1;
        bias_recall = -oof[q];
        free(swf);
        free(oof);
    }
    /* 4. the cap on the old examples the network classified right */
    float bias_cap = INFINITY;
    int ncal = 0;
    for (int i = 0; i < nc; i++)
        if (d.arg[n + i] == yc[i]) v[ncal++] = -(dot_row(&d, n + i, w) - d.m[n + i]);
    if (o->max_old >= 0 && ncal) {
        qsort(v, (size_t)ncal, sizeof(float), cmp_float_asc); /* ascending -margin: highest margins first */
        int a = (int)floor((double)o->max_old * ncal);
        if (a < ncal) bias_cap = v[a] - 1e-3f;
    }
    b = bias_recall < bias_cap ? bias_recall : bias_cap;
    if (!isfinite(b)) ZS_FAIL(ZS_ENUMERIC, "zs_net_fit_class: the fit diverged (bias %g)", (double)b);
    for (int j = 0; j < I; j++)
        if (!isfinite(w[j])) ZS_FAIL(ZS_ENUMERIC, "zs_net_fit_class: the fit diverged (lower lr)");
    /* 5. write the row and its bias; report */
    memcpy(O->w + (size_t)k * I, w, sizeof(float) * (size_t)I);
    O->b[k] = b;
    zs_plan_free(net);
    if (rep) {
        memset(rep, 0, sizeof *rep);
        rep->bias = b;
        rep->bias_recall = bias_recall;
        rep->bias_cap = bias_cap;
        rep->n_cal = ncal;
        for (int i = 0; i < n; i++) {
            int called = dot_row(&d, i, w) + b > d.m[i];
            if (y[i] == k) rep->pos_called += called;
            else if (y[i] < 0) rep->neg_called += called;
        }
        for (int i = 0; i < nc; i++)
            rep->cal_called += d.arg[n + i] == yc[i] && dot_row(&d, n + i, w) + b > d.m[n + i];
    }
fail:
    free(d.off); free(d.idx); free(d.val); free(d.m); free(d.arg);
    free(w); free(wf); free(w0); free(g); free(sw); free(v); free(t); free(fold);
    return st;
}
