/*
 * introspect.c — the public measurement and description calls that
 * `zeroskip info` and `zeroskip bench` use (zeroskip.h, "introspection and
 * measurement"): plan description, per-layer multiply-add counts, per-stage
 * profile, bytes in memory. Thin wrappers over the plan (kernels/plan.c) and
 * the reference path; the counting of useful multiply-adds lives here.
 *
 * What it is not: a benchmark. Nothing here times more than one network.
 */
#include "kernels/kernels.h"
#include "kernels/plan.h"
#include "net.h"
#include <stdio.h>
#include <string.h>

void zs_kernels_describe(FILE *f) {
    if (f) zs_kernels_list(f);
}

/* Build the plan as zs_net_infer would; ZS_EUNSUPPORTED when there is none. */
static zs_status ensure_plan(zs_net *net) {
    if (net->dense) return ZS_ERR(ZS_EUNSUPPORTED, "network forced dense: reference path (im2col + GEMM)");
    if (!net->kernels) {
        zs_status st = zs_plan_build(net);
        if (st == ZS_EUNSUPPORTED) net->plan_unsupported = 1;
        if (st) return st;
    }
    return ZS_OK;
}

zs_status zs_net_plan_describe(zs_net *net, FILE *f) {
    ZS_RETURN_IF(!net || !f, ZS_EINVAL, "zs_net_plan_describe: bad argument");
    zs_status st = ensure_plan(net);
    if (st) return st;
    zs_plan_describe(net, f);
    return ZS_OK;
}

static int kept(const zs_layer *L, size_t j) { return L->mask ? L->mask[j] != 0 : L->w[j] != 0.0f; }

/* Useful MACs of one sample through a conv/linear layer: for every non-zero
 * input, the kept weights that touch it (and land on a valid output).
 * cnt: kept weights per input position (conv: per ci, ky, kx). */
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

static zs_status cost_dense(zs_net *net, const float *x, int n, zs_layer_cost *out, int max, int *count);

zs_status zs_net_cost(zs_net *net, const float *x, int n, zs_layer_cost *out, int max, int *count) {
    ZS_RETURN_IF(!net || !x || n < 1 || max < 0 || (max > 0 && !out) || !count, ZS_EINVAL,
                 "zs_net_cost: bad argument");
    zs_status st = ZS_OK;
    /* counted on the reference path's activations and the dense masks; a
     * packed model is packed again afterwards (same weights) */
    int was_compact = net->compact;
    if ((st = zs_net_unpack(net))) return st;
    st = cost_dense(net, x, n, out, max, count);
    if (was_compact) {
        zs_status s2 = zs_net_pack(net);
        if (!st) st = s2;
    }
    return st;
}

static zs_status cost_dense(zs_net *net, const float *x, int n, zs_layer_cost *out, int max, int *count) {
    zs_status st = ZS_OK;
    if (!net->dense) {
        if ((st = zs_net_reserve(net, n))) return st;
        net->training = 0;
        zs_net_forward_ref(net, x, n);
    }
    size_t insz = (size_t)net->in_c * net->in_h * net->in_w;
    int li = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const zs_layer *L = &net->layers[i];
        if (L->type != ZS_CONV2D && L->type != ZS_LINEAR) continue;
        double dm = (double)L->n_weights * (L->type == ZS_CONV2D ? (double)L->out_h * L->out_w : 1.0);
        double m = dm, nz = 1;
        if (!net->dense && li < max) {
            size_t per = L->type == ZS_CONV2D ? (size_t)L->in_c * L->kh * L->kw : L->in_size;
            int32_t *cnt = calloc(per, sizeof *cnt);
            if (!cnt) return ZS_ERR(ZS_ENOMEM, "zs_net_cost: out of memory");
            for (int o = 0; o < L->out_c; o++)
                for (size_t j = 0; j < per; j++) cnt[j] += kept(L, (size_t)o * per + j);
            const float *in = i == 0 ? x : net->layers[i - 1].out;
            size_t isz = i == 0 ? insz : L->in_size;
            double nzc = 0;
            m = 0;
            for (int s = 0; s < n; s++) m += sample_macs(L, in + (size_t)s * isz, cnt);
            for (size_t j = 0; j < (size_t)n * isz; j++) nzc += in[j] != 0.0f;
            free(cnt);
            m /= n;
            nz = nzc / ((double)n * isz);
        }
        if (li < max) {
            out[li].name = L->name;
            out[li].type = L->type;
            out[li].macs = m;
            out[li].dense_macs = dm;
            out[li].input_nonzero = nz;
        }
        li++;
    }
    *count = li;
    return ZS_OK;
}

zs_status zs_net_profile(zs_net *net, const float *x, int n, int reps, zs_stage_profile *out, int max,
                         int *count) {
    ZS_RETURN_IF(!net || !x || n < 1 || reps < 1 || max < 0 || (max > 0 && !out) || !count, ZS_EINVAL,
                 "zs_net_profile: bad argument");
    zs_status st = ensure_plan(net);
    if (st) return st;
    int ns = zs_plan_profile_stages(net, x, n, reps, out, max);
    if (ns < 0) return ZS_ERR(ZS_ENOMEM, "zs_net_profile: out of memory");
    /* useful MACs of the conv/linear stages, counted on the same inputs */
    zs_layer_cost cost[ZS_MAX_LAYERS];
    int nc = 0;
    if ((st = zs_net_cost(net, x, n, cost, ZS_MAX_LAYERS, &nc))) return st;
    for (int i = 0; i < ns && i < max; i++) {
        if (!strstr(out[i].name, "conv") && strcmp(out[i].name, "linear")) continue;
        for (int c = 0; c < nc && c < ZS_MAX_LAYERS; c++)
            if (!strcmp(cost[c].name, out[i].layer)) out[i].macs_per_word = cost[c].macs;
    }
    *count = ns;
    return ZS_OK;
}

zs_status zs_net_scratch_bytes(zs_net *net, size_t *bytes) {
    ZS_RETURN_IF(!net || !bytes, ZS_EINVAL, "zs_net_scratch_bytes: NULL argument");
    *bytes = 0;
    if (!net->dense && !net->plan_unsupported) {
        zs_status st = ensure_plan(net);
        if (st && st != ZS_EUNSUPPORTED) return st;
    }
    *bytes = net->dense ? 0 : zs_plan_scratch_bytes(net);
    return ZS_OK;
}

zs_status zs_net_memory(zs_net *net, size_t *plan_bytes, size_t *model_bytes) {
    ZS_RETURN_IF(!net, ZS_EINVAL, "zs_net_memory: NULL network");
    if (model_bytes) *model_bytes = zs_net_model_bytes(net);
    if (plan_bytes) {
        *plan_bytes = 0;
        if (!net->dense && !net->plan_unsupported) {
            zs_status st = ensure_plan(net);
            if (st && st != ZS_EUNSUPPORTED) return st;
        }
        *plan_bytes = net->dense ? 0 : zs_plan_bytes(net);
    }
    return ZS_OK;
}
