/*
 * net.c — building a network from its JSON architecture, the memory blocks
 * it owns, PyTorch-style initialisation and masks, the reference forward and
 * backward passes, SGD, and inference dispatch (fast plan or reference).
 */
#include "net.h"
#include "layers.h"
#include "kernels/plan.h"
#include "train_sparse.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>

const char *zs_preset_json(const char *name);

/* ------------------------------------------------------------ JSON parsing */

static const struct { const char *name; zs_layer_type type; } type_names[] = {
    {"conv2d", ZS_CONV2D}, {"linear", ZS_LINEAR}, {"maxpool2d", ZS_MAXPOOL2D},
    {"relu", ZS_RELU}, {"flatten", ZS_FLATTEN}, {"batchnorm", ZS_BATCHNORM},
    {"dropout", ZS_DROPOUT}, {"kwinners", ZS_KWINNERS}, {"kwinners2d", ZS_KWINNERS2D},
    {"logsoftmax", ZS_LOGSOFTMAX},
};

static const char *layer_type_name(zs_layer_type t) {
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (type_names[i].type == t) return type_names[i].name;
    return "?";
}

/* Number field with default; ZS_EFORMAT if present but not a number or out of [lo, hi]. */
static zs_status jnum(const cJSON *o, const char *key, double def, double lo, double hi,
                      const char *lname, double *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) { *out = def; return ZS_OK; }
    if (cJSON_IsBool(v)) { *out = cJSON_IsTrue(v); }
    else if (!cJSON_IsNumber(v)) return ZS_ERR(ZS_EFORMAT, "architecture: layer '%s': '%s' must be a number", lname, key);
    else *out = v->valuedouble;
    if (!(*out >= lo && *out <= hi))
        return ZS_ERR(ZS_EFORMAT, "architecture: layer '%s': '%s' = %g is outside [%g, %g]", lname, key, *out, lo, hi);
    return ZS_OK;
}

static zs_status jint(const cJSON *o, const char *key, int def, int lo, int hi, const char *lname, int *out) {
    double d;
    zs_status st = jnum(o, key, def, lo, hi, lname, &d);
    if (st) return st;
    if (d != floor(d)) return ZS_ERR(ZS_EFORMAT, "architecture: layer '%s': '%s' must be an integer", lname, key);
    *out = (int)d;
    return ZS_OK;
}

/* "kernel": 5 or [5, 3] */
static zs_status jpair(const cJSON *o, const char *key, int def, const char *lname, int *a, int *b) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) { *a = *b = def; return ZS_OK; }
    if (cJSON_IsArray(v)) {
        if (cJSON_GetArraySize(v) != 2) return ZS_ERR(ZS_EFORMAT, "architecture: layer '%s': '%s' needs 2 values", lname, key);
        const cJSON *x = cJSON_GetArrayItem(v, 0), *y = cJSON_GetArrayItem(v, 1);
        if (!cJSON_IsNumber(x) || !cJSON_IsNumber(y) || x->valuedouble < 1 || y->valuedouble < 1 ||
            x->valuedouble > 4096 || y->valuedouble > 4096 || x->valuedouble != floor(x->valuedouble) ||
            y->valuedouble != floor(y->valuedouble))
            return ZS_ERR(ZS_EFORMAT, "architecture: layer '%s': '%s' must be positive integers", lname, key);
        *a = (int)x->valuedouble; *b = (int)y->valuedouble;
        return ZS_OK;
    }
    int k;
    zs_status st = jint(o, key, def, 1, 4096, lname, &k);
    *a = *b = k;
    return st;
}

/* Set a number in the canonical JSON (replace or add). */
static void jset(cJSON *o, const char *key, double v) {
    if (cJSON_GetObjectItemCaseSensitive(o, key)) cJSON_ReplaceItemInObjectCaseSensitive(o, key, cJSON_CreateNumber(v));
    else cJSON_AddNumberToObject(o, key, v);
}

static int64_t prod3(int a, int b, int c) { return (int64_t)a * b * c; }

/* Refuse any key of object o not in the NULL-terminated list `ok` (a
 * misspelt "weight_sparsty" must not silently give a dense layer). */
static zs_status check_keys(const cJSON *o, const char *const *ok, const char *what, const char *lname) {
    for (const cJSON *c = o->child; c; c = c->next) {
        int known = 0;
        for (int i = 0; ok[i] && !known; i++) known = c->string && !strcmp(c->string, ok[i]);
        if (!known) {
            if (lname)
                return ZS_ERR(ZS_EFORMAT, "architecture: layer '%s' (%s): unknown key '%.60s'", lname, what,
                              c->string ? c->string : "");
            return ZS_ERR(ZS_EFORMAT, "architecture: unknown top-level key '%.60s' (known: name, input, classes, layers)",
                          c->string ? c->string : "");
        }
    }
    return ZS_OK;
}

/* "sparsity" (fraction of weights that are zero, as nupic.torch's current
 * `sparsity`), or the older zeroskip key "weight_sparsity" with the same
 * meaning (NOT nupic's deprecated weight_sparsity, the fraction kept). The
 * canonical JSON keeps "sparsity". */
static zs_status jsparsity(cJSON *o, const char *lname, double *out) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "sparsity");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "weight_sparsity");
    ZS_RETURN_IF(a && b, ZS_EFORMAT, "architecture: layer '%s': give 'sparsity' or its old name 'weight_sparsity' "
                 "(both the fraction of zero weights), not both", lname);
    zs_status st = jnum(o, b ? "weight_sparsity" : "sparsity", 0, 0, 1, lname, out);
    if (st) return st;
    cJSON_DeleteItemFromObjectCaseSensitive(o, "weight_sparsity");
    jset(o, "sparsity", *out);
    return ZS_OK;
}

/* Mask structure (docs/ARCHITECTURE.md "Mask structures"): "structure":
 * "random" (default, nupic: each unit keeps a uniform random subset),
 * "block" (kept outputs of each fan-in position come in aligned blocks of
 * "block" = B consecutive units, the last block possibly shorter: every
 * unit of a block has the same mask)
 * or "complementary" (units in consecutive groups of G = 1/(1 - sparsity)
 * blocks of "block" = B units (default 1) whose masks partition the
 * fan-in: each position is kept by exactly one block of every group)
 * or "routed" (conv only: the output channels in G = 1/(1 - sparsity)
 * blocks of "block" = B channels (default 16), the input channels dealt
 * at random to G equal classes; (o, ci, ky, kx) is kept iff o's block is
 * (class(ci) + ky) mod G. Every kernel row of an input channel feeds one
 * block, the same for all kx, and inputs of one class feed one block per
 * kernel row: conv_sparse_routed keeps each block's sums in registers).
 * Checked against the layer's shape here. */
static zs_status jstructure(cJSON *o, zs_layer *L, const char *n, int units, double sparsity) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "structure");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, "block");
    L->mask_structure = ZS_MASK_RANDOM;
    L->mask_block = L->mask_group = 0;
    if (s) {
        ZS_RETURN_IF(!cJSON_IsString(s) || (strcmp(s->valuestring, "random") && strcmp(s->valuestring, "block") &&
                                            strcmp(s->valuestring, "complementary") && strcmp(s->valuestring, "routed")),
                     ZS_EFORMAT, "architecture: layer '%s': 'structure' must be \"random\", \"block\", "
                     "\"complementary\" or \"routed\"", n);
        L->mask_structure = !strcmp(s->valuestring, "block") ? ZS_MASK_BLOCK
                          : !strcmp(s->valuestring, "complementary") ? ZS_MASK_COMPLEMENTARY
                          : !strcmp(s->valuestring, "routed") ? ZS_MASK_ROUTED : ZS_MASK_RANDOM;
    }
    ZS_RETURN_IF(b && L->mask_structure == ZS_MASK_RANDOM, ZS_EFORMAT,
                 "architecture: layer '%s': 'block' needs \"structure\": \"block\", \"complementary\" or \"routed\"", n);
    if (L->mask_structure == ZS_MASK_RANDOM) return ZS_OK;
    ZS_RETURN_IF(!(sparsity > 0), ZS_EFORMAT, "architecture: layer '%s': a mask structure needs 'sparsity' > 0", n);
    if (L->mask_structure == ZS_MASK_BLOCK) {
        /* units need not be a multiple of the block: the last block is shorter */
        return jint(o, "block", 16, 1, units, n, &L->mask_block);
    }
    const char *sn = L->mask_structure == ZS_MASK_ROUTED ? "routed" : "complementary";
    ZS_RETURN_IF(L->mask_structure == ZS_MASK_ROUTED && L->type != ZS_CONV2D, ZS_EFORMAT,
                 "architecture: layer '%s': \"routed\" is a conv2d structure", n);
    double g = 1.0 / (1.0 - sparsity);
    int G = (int)floor(g + 0.5);
    ZS_RETURN_IF(G < 2 || fabs(g - G) > 1e-6 * g, ZS_EFORMAT,
                 "architecture: layer '%s': \"%s\" needs sparsity 1 - 1/G for an integer G >= 2 "
                 "(0.5, 0.75, 0.8, 0.9 ...), not %g", n, sn, sparsity);
    int B;
    zs_status st = jint(o, "block", L->mask_structure == ZS_MASK_ROUTED ? 16 : 1, 1, units, n, &B);
    if (st) return st;
    if (L->mask_structure == ZS_MASK_ROUTED)
        ZS_RETURN_IF(units != G * B || L->in_c % G, ZS_EFORMAT,
                     "architecture: layer '%s': \"routed\" needs %d x %d = %d output channels (has %d) and input "
                     "channels in %d equal classes (has %d)", n, G, B, G * B, units, G, L->in_c);
    ZS_RETURN_IF(units % (G * B), ZS_EFORMAT,
                 "architecture: layer '%s': \"complementary\" groups of %d x %d units do not divide its %d output units",
                 n, G, B, units);
    ZS_RETURN_IF(L->fan_in < (size_t)G, ZS_EFORMAT,
                 "architecture: layer '%s': fan-in %zu is smaller than the group size %d", n, L->fan_in, G);
    L->mask_group = G;
    L->mask_block = B;
    return ZS_OK;
}

static const char *const keys_conv[] = {"type", "name", "out_channels", "kernel", "stride", "padding", "bias",
                                        "sparsity", "weight_sparsity", "structure", "block", NULL};
static const char *const keys_linear[] = {"type", "name", "out_features", "bias", "sparsity", "weight_sparsity",
                                          "structure", "block", NULL};
static const char *const keys_pool[] = {"type", "name", "kernel", "stride", NULL};
static const char *const keys_plain[] = {"type", "name", NULL};
static const char *const keys_bn[] = {"type", "name", "affine", "momentum", "eps", NULL};
static const char *const keys_drop[] = {"type", "name", "p", NULL};
static const char *const keys_kw[] = {"type", "name", "percent_on", "k", "k_inference_factor", "boost_strength",
                                      "boost_strength_factor", "duty_cycle_period", "ties", NULL};
static const char *const keys_kw2d[] = {"type", "name", "percent_on", "k", "k_inference_factor", "boost_strength",
                                        "boost_strength_factor", "duty_cycle_period", "ties", "local", NULL};
static const char *const keys_top[] = {"name", "input", "classes", "layers", NULL};

/* Parse one layer object into L (shapes from the previous layer). */
static zs_status parse_layer(zs_layer *L, cJSON *o, int idx, int c, int h, int w) {
    zs_status st = ZS_OK;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
    ZS_RETURN_IF(!cJSON_IsString(t), ZS_EFORMAT, "architecture: layer %d has no \"type\" string", idx);
    L->type = 0;
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
        if (!strcmp(type_names[i].name, t->valuestring)) L->type = type_names[i].type;
    ZS_RETURN_IF(!L->type, ZS_EFORMAT, "architecture: layer %d: unknown type '%.40s'", idx, t->valuestring);
    if (nm) {
        ZS_RETURN_IF(!cJSON_IsString(nm) || !nm->valuestring[0] || strlen(nm->valuestring) >= sizeof L->name,
                     ZS_EFORMAT, "architecture: layer %d: \"name\" must be a string of 1-63 characters", idx);
        for (const char *p = nm->valuestring; *p; p++)
            ZS_RETURN_IF(!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'),
                         ZS_EFORMAT, "architecture: layer %d: name '%s' may only hold letters, digits, _ and -", idx, nm->valuestring);
        snprintf(L->name, sizeof L->name, "%s", nm->valuestring);
    } else {
        snprintf(L->name, sizeof L->name, "%s%d", t->valuestring, idx);
        cJSON_AddStringToObject(o, "name", L->name);
    }
    const char *n = L->name;
    {
        const char *const *ok = keys_plain;
        switch (L->type) {
        case ZS_CONV2D: ok = keys_conv; break;
        case ZS_LINEAR: ok = keys_linear; break;
        case ZS_MAXPOOL2D: ok = keys_pool; break;
        case ZS_BATCHNORM: ok = keys_bn; break;
        case ZS_DROPOUT: ok = keys_drop; break;
        case ZS_KWINNERS: ok = keys_kw; break;
        case ZS_KWINNERS2D: ok = keys_kw2d; break;
        default: break;
        }
        if ((st = check_keys(o, ok, t->valuestring, n))) return st;
    }
    L->in_c = c; L->in_h = h; L->in_w = w;
    L->out_c = c; L->out_h = h; L->out_w = w;
    double d;
    switch (L->type) {
    case ZS_CONV2D: {
        int co;
        if ((st = jint(o, "out_channels", 0, 1, 1 << 16, n, &co))) return st;
        if ((st = jpair(o, "kernel", 3, n, &L->kh, &L->kw))) return st;
        if ((st = jint(o, "stride", 1, 1, 1024, n, &L->stride))) return st;
        if ((st = jint(o, "padding", 0, 0, 1024, n, &L->pad))) return st;
        if ((st = jnum(o, "bias", 1, 0, 1, n, &d))) return st;
        L->has_bias = d != 0;
        if ((st = jsparsity(o, n, &d))) return st;
        L->weight_sparsity = (float)d;
        ZS_RETURN_IF(h + 2 * L->pad < L->kh || w + 2 * L->pad < L->kw, ZS_ESHAPE,
                     "architecture: layer '%s': kernel %dx%d larger than padded input %dx%d", n, L->kh, L->kw, h, w);
        L->out_c = co;
        L->out_h = (h + 2 * L->pad - L->kh) / L->stride + 1;
        L->out_w = (w + 2 * L->pad - L->kw) / L->stride + 1;
        L->fan_in = (size_t)c * L->kh * L->kw;
        L->n_weights = (size_t)co * L->fan_in;
        L->nnz_per_unit = (int)zs_round_half_even((1.0 - d) * (double)L->fan_in);
        if ((st = jstructure(o, L, n, co, d))) return st;
        break;
    }
    case ZS_LINEAR: {
        int o_;
        if ((st = jint(o, "out_features", 0, 1, 1 << 24, n, &o_))) return st;
        if ((st = jnum(o, "bias", 1, 0, 1, n, &d))) return st;
        L->has_bias = d != 0;
        if ((st = jsparsity(o, n, &d))) return st;
        L->weight_sparsity = (float)d;
        L->kh = L->kw = 1; L->stride = 1;
        L->fan_in = (size_t)prod3(c, h, w);
        L->out_c = o_; L->out_h = L->out_w = 1;
        L->n_weights = (size_t)o_ * L->fan_in;
        L->nnz_per_unit = (int)zs_round_half_even((1.0 - d) * (double)L->fan_in);
        if ((st = jstructure(o, L, n, o_, d))) return st;
        break;
    }
    case ZS_MAXPOOL2D:
        if ((st = jint(o, "kernel", 2, 1, 1024, n, &L->pool_k))) return st;
        if ((st = jint(o, "stride", L->pool_k, 1, 1024, n, &L->pool_stride))) return st;
        ZS_RETURN_IF(h < L->pool_k || w < L->pool_k, ZS_ESHAPE, "architecture: layer '%s': pool %d larger than input %dx%d", n, L->pool_k, h, w);
        L->out_h = (h - L->pool_k) / L->pool_stride + 1;
        L->out_w = (w - L->pool_k) / L->pool_stride + 1;
        break;
    case ZS_RELU: break;
    case ZS_FLATTEN: L->out_c = (int)prod3(c, h, w); L->out_h = L->out_w = 1; break;
    case ZS_BATCHNORM:
        if ((st = jnum(o, "affine", 1, 0, 1, n, &d))) return st;
        L->affine = d != 0;
        if ((st = jnum(o, "momentum", 0.1, 0, 1, n, &d))) return st;
        L->bn_momentum = (float)d;
        if ((st = jnum(o, "eps", 1e-5, 1e-12, 1, n, &d))) return st;
        L->bn_eps = (float)d;
        break;
    case ZS_DROPOUT:
        if ((st = jnum(o, "p", 0.5, 0, 0.99, n, &d))) return st;
        L->drop_p = (float)d;
        break;
    case ZS_KWINNERS:
    case ZS_KWINNERS2D: {
        int64_t units = prod3(c, h, w);
        if (L->type == ZS_KWINNERS2D && (h < 1 || w < 1)) return ZS_ERR(ZS_ESHAPE, "architecture: layer '%s': needs a feature map", n);
        if ((st = jnum(o, "local", 0, 0, 1, n, &d))) return st;
        L->local = L->type == ZS_KWINNERS2D && d != 0;
        int64_t pool = L->local ? c : units;
        double pct = -1;
        const cJSON *kj = cJSON_GetObjectItemCaseSensitive(o, "k");
        if (kj) {
            int k;
            if ((st = jint(o, "k", 0, 1, (int)(pool < 1 << 30 ? pool : 1 << 30), n, &k))) return st;
            pct = (double)k / (double)pool;
            L->k = k;
        } else {
            if ((st = jnum(o, "percent_on", 0.1, 1e-9, 1, n, &pct))) return st;
            L->k = (int)zs_round_half_even((double)pool * pct);
        }
        L->percent_on = (float)pct;
        if ((st = jnum(o, "k_inference_factor", 1.5, 0.01, 100, n, &d))) return st;
        L->k_inference_factor = (float)d;
        /* nupic: percent_on_inference = percent_on * k_inference_factor */
        if (kj) L->k_inference = (int)zs_round_half_even((double)L->k * d);
        else L->k_inference = (int)zs_round_half_even((double)pool * (pct * d));
        if (L->k_inference > pool) L->k_inference = (int)pool;
        if (L->k < 1) L->k = 1;
        if (L->k_inference < 1) L->k_inference = 1;
        if ((st = jnum(o, "boost_strength", 1.0, 0, 100, n, &d))) return st;
        L->boost_strength = (float)d;
        if ((st = jnum(o, "boost_strength_factor", 0.9, 0, 1, n, &d))) return st;
        L->boost_strength_factor = (float)d;
        if ((st = jint(o, "duty_cycle_period", 1000, 1, 1 << 30, n, &L->duty_cycle_period))) return st;
        const cJSON *ties = cJSON_GetObjectItemCaseSensitive(o, "ties");
        if (ties) {
            ZS_RETURN_IF(!cJSON_IsString(ties) || (strcmp(ties->valuestring, "lower_index") && strcmp(ties->valuestring, "nupic")),
                         ZS_EFORMAT, "architecture: layer '%s': 'ties' must be \"lower_index\" (exactly k winners, "
                         "lower index first) or \"nupic\" (every unit >= the k-th value wins)", n);
            L->ties_nupic = !strcmp(ties->valuestring, "nupic");
        }
        break;
    }
    case ZS_LOGSOFTMAX:
        ZS_RETURN_IF(h != 1 || w != 1, ZS_ESHAPE, "architecture: layer '%s': logsoftmax needs a vector input (add a flatten)", n);
        break;
    }
    ZS_RETURN_IF(L->out_c < 1 || L->out_h < 1 || L->out_w < 1, ZS_ESHAPE, "architecture: layer '%s': empty output", n);
    ZS_RETURN_IF(prod3(L->out_c, L->out_h, L->out_w) > (1 << 26), ZS_ELIMIT, "architecture: layer '%s': output too large", n);
    ZS_RETURN_IF(L->n_weights > (size_t)1 << 30, ZS_ELIMIT, "architecture: layer '%s': too many weights", n);
    L->in_size = (size_t)prod3(L->in_c, L->in_h, L->in_w);
    L->out_size = (size_t)prod3(L->out_c, L->out_h, L->out_w);
    return ZS_OK;
}

/* --------------------------------------------------------------- building */

static size_t layer_param_count(const zs_layer *L) {
    if (L->type == ZS_CONV2D || L->type == ZS_LINEAR) return L->n_weights + (L->has_bias ? (size_t)L->out_c : 0);
    if (L->type == ZS_BATCHNORM && L->affine) return 2 * (size_t)L->in_c;
    return 0;
}
static size_t layer_state_count(const zs_layer *L) {
    if (L->type == ZS_BATCHNORM) return 2 * (size_t)L->in_c;
    if (L->type == ZS_KWINNERS) return L->in_size;
    if (L->type == ZS_KWINNERS2D) return (size_t)L->in_c;
    return 0;
}

static void kaiming_uniform(float *w, size_t n, size_t fan_in, zs_rng *r) {
    float bound = (float)(1.0 / sqrt((double)fan_in));
    for (size_t i = 0; i < n; i++) w[i] = (2.0f * zs_rng_uniform(r) - 1.0f) * bound;
}

/* perm[0 .. n) = a uniform random permutation of 0 .. n-1 (Fisher-Yates). */
static void shuffled(int32_t *perm, size_t n, zs_rng *r) {
    for (size_t i = 0; i < n; i++) perm[i] = (int32_t)i;
    for (size_t j = 0; j + 1 < n; j++) {
        size_t pick = j + zs_rng_below(r, (uint32_t)(n - j));
        int32_t t = perm[j]; perm[j] = perm[pick]; perm[pick] = t;
    }
}

/* Exactly nnz_per_unit kept weights per output unit, chosen uniformly
 * (random); per block of mask_block units one such choice shared by the
 * block (block); per group of G = mask_group blocks of mask_block units a
 * random permutation of the fan-in dealt round-robin to its blocks, so each
 * position has exactly one owner block in the group and each unit floor or
 * ceil(fan_in / G) weights (complementary); routed: see jstructure. */
static zs_status make_mask(zs_layer *L, zs_rng *r) {
    int32_t *perm = malloc(sizeof(int32_t) * L->fan_in);
    ZS_RETURN_IF(!perm, ZS_ENOMEM, "out of memory building mask of '%s'", L->name);
    if (L->mask_structure == ZS_MASK_ROUTED) {
        /* input channels dealt to G classes by a random permutation */
        int G = L->mask_group, B = L->mask_block, Ci = L->in_c, KK = L->kh * L->kw;
        shuffled(perm, (size_t)Ci, r);
        memset(L->mask, 0, L->n_weights);
        for (int j = 0; j < Ci; j++) {
            int ci = perm[j], cls = j % G;
            for (int ky = 0; ky < L->kh; ky++) {
                int blk = (cls + ky) % G;
                for (int u = 0; u < B; u++)
                    memset(L->mask + ((size_t)(blk * B + u) * Ci + ci) * KK + (size_t)ky * L->kw, 1, (size_t)L->kw);
            }
        }
        free(perm);
        return ZS_OK;
    }
    if (L->mask_structure == ZS_MASK_COMPLEMENTARY) {
        int G = L->mask_group, B = L->mask_block;
        memset(L->mask, 0, L->n_weights);
        for (int g = 0; g < L->out_c; g += G * B) {
            shuffled(perm, L->fan_in, r);
            for (size_t j = 0; j < L->fan_in; j++)
                for (int u = 0; u < B; u++)
                    L->mask[(size_t)(g + (int)(j % (size_t)G) * B + u) * L->fan_in + (size_t)perm[j]] = 1;
        }
        free(perm);
        return ZS_OK;
    }
    int B = L->mask_structure == ZS_MASK_BLOCK ? L->mask_block : 1;
    for (int o = 0; o < L->out_c; o += B) {
        uint8_t *m = L->mask + (size_t)o * L->fan_in;
        memset(m, 0, L->fan_in);
        for (size_t i = 0; i < L->fan_in; i++) perm[i] = (int32_t)i;
        for (int j = 0; j < L->nnz_per_unit; j++) {
            uint32_t pick = (uint32_t)j + zs_rng_below(r, (uint32_t)(L->fan_in - (size_t)j));
            int32_t t = perm[j]; perm[j] = perm[pick]; perm[pick] = t;
            m[perm[j]] = 1;
        }
        for (int u = 1; u < B && o + u < L->out_c; u++) memcpy(m + (size_t)u * L->fan_in, m, L->fan_in);
    }
    free(perm);
    return ZS_OK;
}

void zs_net_apply_masks(zs_net *net) {
    for (int i = 0; i < net->n_layers; i++) {
        zs_layer *L = &net->layers[i];
        if (!L->mask) continue;
        for (size_t j = 0; j < L->n_weights; j++)
            if (!L->mask[j]) L->w[j] = 0.0f;
    }
}

static zs_status build(zs_net **out, const char *json, uint64_t seed, int init, size_t max_bytes, int weights);

zs_status zs_net_build(zs_net **out, const char *json, uint64_t seed, int init) {
    return build(out, json, seed, init, SIZE_MAX, 1);
}

zs_status zs_net_build_limited(zs_net **out, const char *json, uint64_t seed, int init, size_t max_bytes) {
    return build(out, json, seed, init, max_bytes, 1);
}

zs_status zs_net_build_shell(zs_net **out, const char *json) { return build(out, json, 0, 0, SIZE_MAX, 0); }

/* weights 0: no parameter or mask block (zs_net_build_shell) */
static zs_status build(zs_net **out, const char *json, uint64_t seed, int init, size_t max_bytes, int weights) {
    zs_status st = ZS_OK;
    zs_net *net = NULL;
    *out = NULL;
    ZS_RETURN_IF(!json, ZS_EINVAL, "architecture: NULL JSON");
    cJSON *root = cJSON_Parse(json);
    ZS_RETURN_IF(!root, ZS_EFORMAT, "architecture: not valid JSON (near byte %ld)",
                 cJSON_GetErrorPtr() ? (long)(cJSON_GetErrorPtr() - json) : -1L);
    if (!cJSON_IsObject(root)) ZS_FAIL(ZS_EFORMAT, "architecture: JSON must be an object");
    ZS_TRY(check_keys(root, keys_top, NULL, NULL));
    net = calloc(1, sizeof *net);
    if (!net) ZS_FAIL(ZS_ENOMEM, "out of memory");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(root, "name");
    snprintf(net->arch_name, sizeof net->arch_name, "%s", cJSON_IsString(nm) ? nm->valuestring : "custom");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(root, "input");
    if (!cJSON_IsArray(in) || cJSON_GetArraySize(in) != 3)
        ZS_FAIL(ZS_EFORMAT, "architecture: \"input\" must be [C, H, W]");
    int dims[3];
    for (int i = 0; i < 3; i++) {
        const cJSON *v = cJSON_GetArrayItem(in, i);
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 65536 || v->valuedouble != floor(v->valuedouble))
            ZS_FAIL(ZS_EFORMAT, "architecture: \"input\" entries must be integers in [1, 65536]");
        dims[i] = (int)v->valuedouble;
    }
    if (prod3(dims[0], dims[1], dims[2]) > (1 << 24)) ZS_FAIL(ZS_ELIMIT, "architecture: input too large");
    net->in_c = dims[0]; net->in_h = dims[1]; net->in_w = dims[2];
    cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
    if (!cJSON_IsArray(layers) || cJSON_GetArraySize(layers) < 1)
        ZS_FAIL(ZS_EFORMAT, "architecture: \"layers\" must be a non-empty array");
    int nl = cJSON_GetArraySize(layers);
    if (nl > ZS_MAX_LAYERS) ZS_FAIL(ZS_ELIMIT, "architecture: %d layers (limit %d)", nl, ZS_MAX_LAYERS);
    net->layers = calloc((size_t)nl, sizeof(zs_layer));
    if (!net->layers) ZS_FAIL(ZS_ENOMEM, "out of memory");
    net->n_layers = nl;
    int c = dims[0], h = dims[1], w = dims[2];
    for (int i = 0; i < nl; i++) {
        cJSON *lo = cJSON_GetArrayItem(layers, i);
        if (!cJSON_IsObject(lo)) ZS_FAIL(ZS_EFORMAT, "architecture: layer %d is not an object", i);
        ZS_TRY(parse_layer(&net->layers[i], lo, i, c, h, w));
        for (int j = 0; j < i; j++)
            if (!strcmp(net->layers[j].name, net->layers[i].name))
                ZS_FAIL(ZS_EFORMAT, "architecture: two layers named '%s'", net->layers[i].name);
        c = net->layers[i].out_c; h = net->layers[i].out_h; w = net->layers[i].out_w;
        if (net->layers[i].type == ZS_LOGSOFTMAX && i != nl - 1)
            ZS_FAIL(ZS_EFORMAT, "architecture: logsoftmax must be the last layer");
    }
    if (h != 1 || w != 1) ZS_FAIL(ZS_ESHAPE, "architecture: the last layer must output a vector, not %dx%dx%d", c, h, w);
    if (c > ZS_MAX_CLASSES) ZS_FAIL(ZS_ELIMIT, "architecture: %d outputs (limit %d)", c, ZS_MAX_CLASSES);
    net->num_classes = c;

    /* class names */
    net->class_names = calloc((size_t)c, sizeof(char *));
    if (!net->class_names) ZS_FAIL(ZS_ENOMEM, "out of memory");
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(root, "classes");
    if (cls && (!cJSON_IsArray(cls) || cJSON_GetArraySize(cls) != c))
        ZS_FAIL(ZS_EFORMAT, "architecture: \"classes\" must be an array of %d strings", c);
    for (int i = 0; i < c; i++) {
        char buf[32];
        const char *s = buf;
        if (cls) {
            const cJSON *v = cJSON_GetArrayItem(cls, i);
            if (!cJSON_IsString(v) || strlen(v->valuestring) > 255) ZS_FAIL(ZS_EFORMAT, "architecture: class %d must be a string (<= 255 bytes)", i);
            if (zs_has_control_chars(v->valuestring)) ZS_FAIL(ZS_EFORMAT, "architecture: class %d holds a control character", i);
            s = v->valuestring;
        } else snprintf(buf, sizeof buf, "%d", i);
        if (!(net->class_names[i] = zs_strdup(s))) ZS_FAIL(ZS_ENOMEM, "out of memory");
    }
    cJSON_DeleteItemFromObjectCaseSensitive(root, "classes");
    net->arch_json = cJSON_PrintUnformatted(root);
    if (!net->arch_json) ZS_FAIL(ZS_ENOMEM, "out of memory");

    /* parameter, state and mask blocks */
    size_t np = 0, ns = 0, nm_ = 0;
    for (int i = 0; i < nl; i++) {
        zs_layer *L = &net->layers[i];
        np += layer_param_count(L);
        ns += layer_state_count(L);
        if ((L->type == ZS_CONV2D || L->type == ZS_LINEAR) && L->weight_sparsity > 0) nm_ += L->n_weights;
    }
    if (np > ZS_MAX_PARAMS)
        ZS_FAIL(ZS_ELIMIT, "architecture: %zu parameters (limit %llu)", np, (unsigned long long)ZS_MAX_PARAMS);
    if ((np + ns) * sizeof(float) + nm_ > max_bytes)
        ZS_FAIL(ZS_EFORMAT, "architecture declares %zu parameters, %zu state values and %zu mask bytes, "
                "more than the file's %zu bytes of tensors", np, ns, nm_, max_bytes);
    net->n_params = np; net->n_state = ns; net->n_masks = nm_;
    /* dense form; gradients and momenta come with the first training step
     * (zs_net_train_alloc), a loaded model is packed (zs_net_pack) */
    net->params = weights ? zs_alloc_aligned(np, sizeof(float)) : NULL;
    net->state = zs_alloc_aligned(ns, sizeof(float));
    net->masks = weights ? zs_alloc_aligned(nm_, 1) : NULL;
    if ((weights && (!net->params || !net->masks)) || !net->state)
        ZS_FAIL(ZS_ENOMEM, "out of memory for %zu parameters", np);
    size_t po = 0, so = 0, mo = 0;
#define AT(base, off) ((base) ? (base) + (off) : NULL)
    for (int i = 0; i < nl; i++) {
        zs_layer *L = &net->layers[i];
        if (L->type == ZS_CONV2D || L->type == ZS_LINEAR) {
            L->w = AT(net->params, po);
            po += L->n_weights;
            if (L->has_bias) {
                L->b = AT(net->params, po);
                po += (size_t)L->out_c;
            }
            if (L->weight_sparsity > 0) { L->mask = AT(net->masks, mo); mo += L->n_weights; }
        } else if (L->type == ZS_BATCHNORM) {
            if (L->affine) {
                L->gamma = AT(net->params, po); po += (size_t)L->in_c;
                L->beta = AT(net->params, po); po += (size_t)L->in_c;
            }
            L->running_mean = net->state + so; so += (size_t)L->in_c;
            L->running_var = net->state + so; so += (size_t)L->in_c;
            for (int j = 0; j < L->in_c; j++) L->running_var[j] = 1.0f;
        } else if (L->type == ZS_KWINNERS || L->type == ZS_KWINNERS2D) {
            L->duty = net->state + so;
            so += layer_state_count(L);
        }
    }
#undef AT
    if (init && weights) {
        zs_rng r;
        zs_rng_seed(&r, seed);
        for (int i = 0; i < nl; i++) {
            zs_layer *L = &net->layers[i];
            if (L->type == ZS_CONV2D || L->type == ZS_LINEAR) {
                kaiming_uniform(L->w, L->n_weights, L->fan_in, &r);
                if (L->b) kaiming_uniform(L->b, (size_t)L->out_c, L->fan_in, &r);
                if (L->mask) ZS_TRY(make_mask(L, &r));
            } else if (L->type == ZS_BATCHNORM && L->affine) {
                for (int j = 0; j < L->in_c; j++) { L->gamma[j] = 1.0f; L->beta[j] = 0.0f; }
            }
        }
        zs_net_apply_masks(net);
    }
    net->drop_rng = seed ^ 0x5deece66dull;
    cJSON_Delete(root);
    *out = net;
    return ZS_OK;
fail:
    cJSON_Delete(root);
    zs_net_free(net);
    return st;
}

zs_status zs_net_create_json(zs_net **out, const char *json, uint64_t seed) {
    ZS_RETURN_IF(!out, ZS_EINVAL, "zs_net_create_json: NULL out");
    return zs_net_build(out, json, seed, 1);
}

zs_status zs_net_create_preset(zs_net **out, const char *preset, uint64_t seed) {
    ZS_RETURN_IF(!out || !preset, ZS_EINVAL, "zs_net_create_preset: NULL argument");
    *out = NULL;
    const char *j = zs_preset_json(preset);
    ZS_RETURN_IF(!j, ZS_EINVAL, "unknown preset '%s' (try gsc-sparse, gsc-dense, gsc-supersparse, gsc-sparse-fast, mnist-mlp, mnist-sparse-mlp)", preset);
    return zs_net_build(out, j, seed, 1);
}

void zs_net_free(zs_net *net) {
    if (!net) return;
    zs_plan_free(net);
    zs_exec_free(net->exec);
    zs_ts_free(net);
    if (net->class_names)
        for (int i = 0; i < net->num_classes; i++) free(net->class_names[i]);
    free(net->class_names);
    zs_net_free_packed(net); /* reads net->layers: before they are freed */
    free(net->layers);
    free(net->arch_json);
    zs_free_aligned(net->params);
    zs_free_aligned(net->grads);
    zs_free_aligned(net->moment);
    zs_free_aligned(net->state);
    zs_free_aligned(net->masks);
    zs_free_aligned(net->act_block);
    free(net);
}

/* ------------------------------------------------------------ activations */

#define ALIGN64(x) (((x) + 63) & ~(size_t)63)

zs_status zs_net_reserve(zs_net *net, int n) {
    ZS_RETURN_IF(n < 1 || n > (1 << 20), ZS_EINVAL, "batch size %d out of range", n);
    if (n <= net->max_batch) return ZS_OK;
    size_t N = (size_t)n, total = 0, col = 0;
    /* two passes: measure, then carve */
    for (int pass = 0; pass < 2; pass++) {
        char *base = pass ? net->act_block : NULL;
        size_t off = 0;
#define CARVE(ptr, type, count) do { \
            size_t _b = ALIGN64(sizeof(type) * (count)); \
            if (pass) { ptr = (type *)(void *)(base + off); } \
            off += _b; \
        } while (0)
        for (int i = 0; i < net->n_layers; i++) {
            zs_layer *L = &net->layers[i];
            CARVE(L->out, float, N * L->out_size);
            CARVE(L->dout, float, N * L->out_size);
            switch (L->type) {
            case ZS_CONV2D: {
                size_t cs = zs_conv2d_col_size(L->in_c, L->in_h, L->in_w, L->kh, L->kw, L->stride, L->pad);
                if (cs > col) col = cs;
                break;
            }
            case ZS_BATCHNORM:
                CARVE(L->save_mean, float, (size_t)L->in_c);
                CARVE(L->save_invstd, float, (size_t)L->in_c);
                break;
            case ZS_MAXPOOL2D: CARVE(L->argmax, int32_t, N * L->out_size); break;
            case ZS_DROPOUT: CARVE(L->drop_mask, uint8_t, N * L->out_size); break;
            case ZS_KWINNERS:
            case ZS_KWINNERS2D: {
                int kk = L->k > L->k_inference ? L->k : L->k_inference;
                size_t kmax = L->local ? (size_t)kk * L->in_h * L->in_w : (size_t)kk;
                if (kmax > L->in_size || L->ties_nupic) kmax = L->in_size; /* nupic ties: up to every unit */
                CARVE(L->win.count, int32_t, N);
                CARVE(L->win.idx, int32_t, N * kmax);
                CARVE(L->win.val, float, N * kmax);
                CARVE(L->score_work, float, L->in_size + (size_t)L->in_c);
                CARVE(L->idx_work, int32_t, L->in_size + (size_t)L->in_c);
                break;
            }
            default: break;
            }
        }
        CARVE(net->col, float, col);
        net->col_size = col;
#undef CARVE
        if (!pass) {
            total = off;
            void *blk = zs_alloc_aligned(total, 1);
            ZS_RETURN_IF(!blk, ZS_ENOMEM, "out of memory for activations of batch %d (%zu bytes)", n, total);
            zs_free_aligned(net->act_block);
            net->act_block = blk;
        }
    }
    net->max_batch = n;
    return ZS_OK;
}

/* ------------------------------------------------------------ forward/backward */

/* Winners stride per sample used by the last forward: the reference
 * k-WTA functions pack sample n's winners at n * min(k, pool) (times H*W
 * for local), with k = k in training and k_inference in eval. */
static int win_stride(const zs_layer *L, int training) {
    if (L->ties_nupic) return (int)L->in_size;
    int k = training ? L->k : L->k_inference;
    if (L->local) {
        if (k > L->in_c) k = L->in_c;
        return k * L->in_h * L->in_w;
    }
    return (size_t)k < L->in_size ? k : (int)L->in_size;
}

static void layer_forward(zs_net *net, zs_layer *L, const float *x, int N) {
    int tr = net->training;
    switch (L->type) {
    case ZS_CONV2D:
        zs_conv2d_forward(L->out, x, L->w, L->b, N, L->in_c, L->in_h, L->in_w, L->out_c, L->kh, L->kw,
                          L->stride, L->pad, net->col);
        break;
    case ZS_LINEAR: zs_linear_forward(L->out, x, L->w, L->b, N, (int)L->fan_in, L->out_c); break;
    case ZS_MAXPOOL2D:
        zs_maxpool2d_forward(L->out, L->argmax, x, N, L->in_c, L->in_h, L->in_w, L->pool_k, L->pool_stride);
        break;
    case ZS_RELU: zs_relu_forward(L->out, x, (size_t)N * L->out_size); break;
    case ZS_FLATTEN: memcpy(L->out, x, sizeof(float) * N * L->out_size); break;
    case ZS_BATCHNORM:
        zs_batchnorm_forward(L->out, L->save_mean, L->save_invstd, x, L->gamma, L->beta, L->running_mean,
                             L->running_var, N, L->in_c, L->in_h * L->in_w, L->bn_momentum, L->bn_eps, tr);
        if (tr) L->num_batches_tracked++;
        break;
    case ZS_DROPOUT:
        zs_dropout_forward(L->out, L->drop_mask, x, (size_t)N * L->out_size, L->drop_p, &net->drop_rng, tr);
        break;
    case ZS_KWINNERS:
        L->win.kmax = win_stride(L, tr);
        zs_kwinners_forward(L->out, L->win.count, L->win.idx, L->win.val, x, L->duty, L->boost_strength, N,
                            (int)L->in_size, tr ? L->k : L->k_inference, L->score_work, L->idx_work, L->ties_nupic);
        if (tr) zs_kwinners_update_duty(L->duty, &L->learning_iterations, L->out, N, (int)L->in_size, 1, L->duty_cycle_period);
        break;
    case ZS_KWINNERS2D:
        L->win.kmax = win_stride(L, tr);
        zs_kwinners2d_forward(L->out, L->win.count, L->win.idx, L->win.val, x, L->duty, L->boost_strength, N,
                              L->in_c, L->in_h, L->in_w, tr ? L->k : L->k_inference, L->local, L->score_work,
                              L->idx_work, L->ties_nupic);
        if (tr) zs_kwinners_update_duty(L->duty, &L->learning_iterations, L->out, N, L->in_c, L->in_h * L->in_w, L->duty_cycle_period);
        break;
    case ZS_LOGSOFTMAX: zs_logsoftmax_forward(L->out, x, N, L->out_c); break;
    }
}

const float *zs_net_forward_ref(zs_net *net, const float *x, int n) {
    const float *cur = x;
    int fast = zs_ts_enabled(net); /* sparse-aware training path (train_sparse.h) */
    if (!fast) zs_ts_invalidate(net);
    for (int i = 0; i < net->n_layers; i++) {
        if (!fast || !zs_ts_forward(net, i, cur, n)) layer_forward(net, &net->layers[i], cur, n);
        cur = net->layers[i].out;
    }
    return cur;
}

void zs_net_backward_ref(zs_net *net, const float *x, int N, const float *dlast) {
    int fast = zs_ts_enabled(net);
    unsigned char done[ZS_MAX_LAYERS] = {0};
    if (fast) zs_ts_zero_grads(net);
    else memset(net->grads, 0, sizeof(float) * net->n_params);
    int nl = net->n_layers;
    memcpy(net->layers[nl - 1].dout, dlast, sizeof(float) * N * net->layers[nl - 1].out_size);
    for (int i = nl - 1; i >= 0; i--) {
        zs_layer *L = &net->layers[i];
        const float *in = i ? net->layers[i - 1].out : x;
        float *din = i ? net->layers[i - 1].dout : NULL;
        /* stop early: no parameters below and no input gradient needed */
        int need_din = 0;
        for (int j = 0; j < i; j++) if (layer_param_count(&net->layers[j])) need_din = 1;
        if (!need_din) din = NULL;
        /* the fast path defines din itself (zs_ts_backward) */
        if (fast && zs_ts_backward(net, i, in, din, N)) {
            done[i] = 1; /* masked weights got no gradient */
            if (!din) break;
            continue;
        }
        if (din) memset(din, 0, sizeof(float) * N * L->in_size);
        switch (L->type) {
        case ZS_CONV2D:
            zs_conv2d_backward(din, L->dw, L->db, L->dout, in, L->w, N, L->in_c, L->in_h, L->in_w, L->out_c,
                               L->kh, L->kw, L->stride, L->pad, net->col);
            break;
        case ZS_LINEAR: zs_linear_backward(din, L->dw, L->db, L->dout, in, L->w, N, (int)L->fan_in, L->out_c); break;
        case ZS_MAXPOOL2D:
            if (din) zs_maxpool2d_backward(din, L->dout, L->argmax, N, L->in_c, L->in_h, L->in_w, L->out_h, L->out_w);
            break;
        case ZS_RELU: if (din) zs_relu_backward(din, L->dout, L->out, (size_t)N * L->out_size); break;
        case ZS_FLATTEN:
            if (din) for (size_t j = 0; j < (size_t)N * L->out_size; j++) din[j] += L->dout[j];
            break;
        case ZS_BATCHNORM:
            zs_batchnorm_backward(din, L->dgamma, L->dbeta, L->dout, in, L->save_mean, L->save_invstd, L->gamma,
                                  N, L->in_c, L->in_h * L->in_w);
            break;
        case ZS_DROPOUT: if (din) zs_dropout_backward(din, L->dout, L->drop_mask, (size_t)N * L->out_size, L->drop_p); break;
        case ZS_KWINNERS:
        case ZS_KWINNERS2D:
            if (din) zs_kwinners_backward(din, L->dout, L->win.count, L->win.idx, N, (int)L->in_size, L->win.kmax);
            break;
        case ZS_LOGSOFTMAX: if (din) zs_logsoftmax_backward(din, L->dout, L->out, N, L->out_c); break;
        }
        if (!din) break;
    }
    /* masked weights receive no gradient */
    for (int i = 0; i < nl; i++) {
        zs_layer *L = &net->layers[i];
        if (!L->mask || done[i]) continue;
        for (size_t j = 0; j < L->n_weights; j++)
            if (!L->mask[j]) L->dw[j] = 0.0f;
    }
}

zs_status zs_net_train_step(zs_net *net, const float *x, const int32_t *y, int n,
                            const zs_sgd *opt, float *loss, int *correct) {
    zs_status st;
    ZS_RETURN_IF(!net || !x || !y || !opt || n < 1, ZS_EINVAL, "zs_net_train_step: bad argument");
    zs_layer *last = &net->layers[net->n_layers - 1];
    ZS_RETURN_IF(last->type != ZS_LOGSOFTMAX, ZS_EUNSUPPORTED, "training needs a logsoftmax last layer");
    ZS_RETURN_IF(!(opt->lr >= 0) || !(opt->momentum >= 0) || !(opt->weight_decay >= 0), ZS_EINVAL, "SGD: lr, momentum and weight_decay must be >= 0");
    int K = net->num_classes;
    for (int i = 0; i < n; i++)
        ZS_RETURN_IF(y[i] < 0 || y[i] >= K, ZS_EINVAL, "label %d of sample %d outside [0, %d)", (int)y[i], i, K);
    if ((st = zs_net_train_alloc(net))) return st;
    if ((st = zs_net_reserve(net, n))) return st;
    zs_plan_free(net);
    net->training = 1;
    const float *logp = zs_net_forward_ref(net, x, n);
    /* dlogp in the last layer's dout buffer, copied by backward */
    float *dl = last->dout;
    float l = zs_nll_loss(dl, logp, y, n, K);
    if (!isfinite(l)) { net->training = 0; return ZS_ERR(ZS_ENUMERIC, "training loss is %g (diverged?)", (double)l); }
    if (correct) {
        int c = 0;
        for (int i = 0; i < n; i++) {
            int best = 0;
            for (int k = 1; k < K; k++) if (logp[(size_t)i * K + k] > logp[(size_t)i * K + best]) best = k;
            c += best == y[i];
        }
        *correct = c;
    }
    zs_net_backward_ref(net, x, n, dl);
    /* PyTorch SGD: d = g + wd*p; buf = d (first step) or m*buf + d; p -= lr*buf */
    float lr = opt->lr, wd = opt->weight_decay, m = opt->momentum;
    if (!zs_ts_enabled(net) || !zs_ts_sgd(net, lr, wd, m)) { /* vectorised, same float operations */
        for (size_t i = 0; i < net->n_params; i++) {
            float d = net->grads[i] + wd * net->params[i];
            if (m > 0) {
                d = net->steps ? m * net->moment[i] + d : d;
                net->moment[i] = d;
            }
            net->params[i] -= lr * d;
        }
        zs_net_apply_masks(net);
    }
    net->steps++;
    net->training = 0;
    if (loss) *loss = l;
    return ZS_OK;
}

void zs_net_epoch_end(zs_net *net) {
    for (int i = 0; i < net->n_layers; i++) {
        zs_layer *L = &net->layers[i];
        if (L->type == ZS_KWINNERS || L->type == ZS_KWINNERS2D) L->boost_strength *= L->boost_strength_factor;
    }
    zs_plan_free(net);
}

/* ------------------------------------------------------------ inference */

void zs_net_set_dense(zs_net *net, int dense) {
    if (!net) return;
    net->dense = dense;
}

void zs_net_set_int8_weights(zs_net *net, int on) {
    if (!net || net->int8_weights == !!on) return;
    net->int8_weights = !!on;
    zs_plan_free(net); /* rebuilt with the other rows on next use */
    net->plan_unsupported = 0;
}

zs_status zs_net_plan_ensure(zs_net *net) {
    if (net->dense || net->kernels || net->plan_unsupported) return ZS_OK;
    zs_status st = zs_plan_build(net);
    if (st == ZS_EUNSUPPORTED) net->plan_unsupported = 1;
    return st == ZS_EUNSUPPORTED ? ZS_OK : st;
}

zs_status zs_net_prepare(zs_net *net, zs_exec *e, const float *x) {
    ZS_RETURN_IF(!net || !x, ZS_EINVAL, "zs_net_prepare: bad argument");
    size_t insz = (size_t)net->in_c * net->in_h * net->in_w;
    ZS_RETURN_IF(!zs_all_finite(x, insz), ZS_ENUMERIC, "input contains NaN or Inf");
    zs_status st = zs_net_plan_ensure(net);
    if (st || net->dense || !net->kernels) return st;
    float *lp = malloc(sizeof(float) * (size_t)(net->num_classes > 0 ? net->num_classes : 1));
    ZS_RETURN_IF(!lp, ZS_ENOMEM, "out of memory");
    st = zs_plan_calibrate(net, e, x, lp);
    free(lp);
    return st;
}

zs_status zs_net_infer(zs_net *net, const float *x, int n, float *logprob) {
    return zs_net_infer_with(net, NULL, x, n, logprob);
}

zs_status zs_net_infer_with(zs_net *net, zs_exec *exec, const float *x, int n, float *logprob) {
    zs_status st;
    ZS_RETURN_IF(!net || !x || !logprob || n < 0, ZS_EINVAL, "zs_net_infer: bad argument");
    if (n == 0) return ZS_OK;
    size_t insz = (size_t)net->in_c * net->in_h * net->in_w;
    ZS_RETURN_IF(!zs_all_finite(x, insz * (size_t)n), ZS_ENUMERIC, "input contains NaN or Inf");
    int K = net->num_classes;
    if (!net->dense) {
        if ((st = zs_net_plan_ensure(net))) return st;
        if (net->kernels) {
            if ((st = zs_plan_infer(net, exec, x, n, logprob))) return st;
            ZS_RETURN_IF(!zs_all_finite(logprob, (size_t)n * K), ZS_ENUMERIC, "output contains NaN or Inf");
            return ZS_OK;
        }
    }
    /* the reference path: dense weights */
    if ((st = zs_net_unpack(net))) return st;
    /* whole batches of what the activations already hold, at least min(n, 64) */
    int chunk = n < 64 ? n : 64;
    if (net->max_batch > chunk) chunk = net->max_batch;
    if ((st = zs_net_reserve(net, chunk))) return st;
    net->training = 0;
    zs_layer *last = &net->layers[net->n_layers - 1];
    for (int s = 0; s < n; s += chunk) {
        int b = n - s < chunk ? n - s : chunk;
        const float *o = zs_net_forward_ref(net, x + (size_t)s * insz, b);
        if (last->type == ZS_LOGSOFTMAX) memcpy(logprob + (size_t)s * K, o, sizeof(float) * b * K);
        else zs_logsoftmax_forward(logprob + (size_t)s * K, o, b, K);
    }
    ZS_RETURN_IF(!zs_all_finite(logprob, (size_t)n * K), ZS_ENUMERIC, "output contains NaN or Inf (check the model's weights)");
    return ZS_OK;
}

/* ------------------------------------------------------------ queries */

void zs_net_input_shape(const zs_net *net, int *c, int *h, int *w) {
    if (c) *c = net->in_c;
    if (h) *h = net->in_h;
    if (w) *w = net->in_w;
}
int zs_net_num_classes(const zs_net *net) { return net->num_classes; }
const char *zs_net_class_name(const zs_net *net, int i) {
    return (i >= 0 && i < net->num_classes) ? net->class_names[i] : NULL;
}
const char *zs_net_arch_name(const zs_net *net) { return net->arch_name; }
int zs_net_num_layers(const zs_net *net) { return net->n_layers; }
int zs_net_epochs_done(const zs_net *net) { return net ? net->epochs_done : 0; }

zs_status zs_net_set_class_names(zs_net *net, int n, const char *const *names) {
    ZS_RETURN_IF(!net || !names || n != net->num_classes, ZS_EINVAL,
                 "class names: got %d, the network has %d outputs", n, net ? net->num_classes : -1);
    char **nn = calloc((size_t)n, sizeof(char *));
    ZS_RETURN_IF(!nn, ZS_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        int bad = !names[i] || zs_has_control_chars(names[i]) || strlen(names[i]) > 255;
        if (bad || !(nn[i] = zs_strdup(names[i]))) {
            for (int j = 0; j < i; j++) free(nn[j]);
            free(nn);
            return ZS_ERR(bad ? ZS_EINVAL : ZS_ENOMEM, "class name %d: %s", i,
                          !names[i] ? "missing" : bad ? "longer than 255 bytes or holds a control character" : "out of memory");
        }
    }
    for (int i = 0; i < n; i++) free(net->class_names[i]);
    free(net->class_names);
    net->class_names = nn;
    return ZS_OK;
}

zs_status zs_net_layer_info(const zs_net *net, int i, zs_layer_info *info) {
    ZS_RETURN_IF(!net || !info || i < 0 || i >= net->n_layers, ZS_EINVAL, "layer index %d out of range", i);
    const zs_layer *L = &net->layers[i];
    memset(info, 0, sizeof *info);
    info->type = L->type;
    info->name = L->name;
    info->in_c = L->in_c; info->in_h = L->in_h; info->in_w = L->in_w;
    info->out_c = L->out_c; info->out_h = L->out_h; info->out_w = L->out_w;
    info->params = (int64_t)layer_param_count(L);
    info->nonzeros = info->params;
    if (L->type == ZS_CONV2D || L->type == ZS_LINEAR) info->weights = info->weight_nonzeros = (int64_t)L->n_weights;
    if (zs_layer_sparse(L)) {
        info->weight_nonzeros = 0;
        if (L->mask)
            for (size_t j = 0; j < L->n_weights; j++) info->weight_nonzeros += L->mask[j];
        else if (L->prow) info->weight_nonzeros = (int64_t)zs_packed_nnz(L);
        int64_t z = (int64_t)L->n_weights - info->weight_nonzeros;
        info->nonzeros -= z;
        info->weight_sparsity = (float)((double)z / (double)L->n_weights);
    }
    if (L->type == ZS_KWINNERS || L->type == ZS_KWINNERS2D) {
        info->k = L->k; info->k_inference = L->k_inference; info->local = L->local;
        info->boost_strength = L->boost_strength;
    }
    return ZS_OK;
}

zs_status zs_net_describe(const zs_net *net, FILE *f) {
    ZS_RETURN_IF(!net || !f, ZS_EINVAL, "zs_net_describe: NULL argument");
    int64_t tp = 0, tnz = 0;
    fprintf(f, "architecture: %s   input: %dx%dx%d   classes: %d\n", net->arch_name, net->in_c, net->in_h, net->in_w,
            net->num_classes);
    fprintf(f, "%-3s %-16s %-11s %-12s %-12s %9s %9s %9s %8s %s\n", "#", "name", "type", "in (CxHxW)", "out (CxHxW)",
            "params", "weights", "w.nonzero", "w.sparse", "k (train/infer)");
    for (int i = 0; i < net->n_layers; i++) {
        zs_layer_info in;
        zs_net_layer_info(net, i, &in);
        char a[32], b[32], k[64] = "";
        snprintf(a, sizeof a, "%dx%dx%d", in.in_c, in.in_h, in.in_w);
        snprintf(b, sizeof b, "%dx%dx%d", in.out_c, in.out_h, in.out_w);
        if (in.type == ZS_KWINNERS || in.type == ZS_KWINNERS2D)
            snprintf(k, sizeof k, "k=%d/%d%s boost=%.4g", in.k, in.k_inference,
                     in.type == ZS_KWINNERS2D ? (in.local ? " local" : " global") : "", (double)in.boost_strength);
        fprintf(f, "%-3d %-16s %-11s %-12s %-12s %9lld %9lld %9lld %7.1f%% %s\n", i, in.name,
                layer_type_name(in.type), a, b, (long long)in.params, (long long)in.weights,
                (long long)in.weight_nonzeros, 100.0 * in.weight_sparsity, k);
        tp += in.params; tnz += in.nonzeros;
    }
    /* What a model file holds for the parameters (src/model_io.c): dense
     * layers fp32, sparse layers packed (kept F32 value + U16 index, or I32
     * when fan_in > 65536; 4 more bytes per unit in the CSR form). */
    int64_t disk = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const zs_layer *L = &net->layers[i];
        zs_layer_info in;
        zs_net_layer_info(net, i, &in);
        if (zs_layer_sparse(L)) disk += in.weight_nonzeros * (L->fan_in <= 65536 ? 6 : 8) + (in.params - in.weights) * 4;
        else disk += in.params * 4;
    }
    fprintf(f, "total: %lld parameters, %lld non-zero (%.1f%%); as dense float32 %lld bytes, "
               "as stored in a model file (sparse layers packed) %lld bytes\n",
            (long long)tp, (long long)tnz, tp ? 100.0 * (double)tnz / (double)tp : 0.0, (long long)tp * 4,
            (long long)disk);
    return ZS_OK;
}
