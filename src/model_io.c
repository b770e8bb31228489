/*
 * model_io.c — networks to and from safetensors files.
 *
 * Tensor names (PyTorch state_dict style, so nupic.torch-like models map 1:1):
 *   dense <conv|linear>: .weight (Co,Ci,Kh,Kw)|(O,I) F32, .bias (Co) F32
 *   sparse <conv|linear> (sparsity > 0), packed: only the kept weights,
 *     per output unit o, indices into the unit's fan_in = Ci*Kh*Kw (or I),
 *     strictly ascending; index dtype U16 when fan_in <= 65536, else I32
 *     (the loader takes either):
 *       fixed form, written when every unit keeps the architecture's
 *       nnz_per_unit = round((1 - sparsity) * fan_in) weights:
 *         .weight_values F32 [Co, nnz_per_unit], .weight_index [Co, nnz_per_unit]
 *       CSR form, otherwise: .weight_rowptr I32 [Co + 1] (0, ..., nnz),
 *         .weight_index [nnz], .weight_values F32 [nnz]
 *     Old files (and scripts that prefer it) store the sparse layer densely:
 *     .weight F32 + .mask U8 of the weight's shape (1 = kept). The loader
 *     accepts either form per layer, never both.
 *   <batchnorm>.running_mean/.running_var (C) F32, .num_batches_tracked I64 [],
 *   .weight/.bias (C) F32 when affine
 *   <kwinners>.duty_cycle (C for 2d, units for 1d) F32, .boost_strength F32 [],
 *   .learning_iterations I64 []
 * __metadata__: format "zeroskip", version, arch (JSON), classes (JSON array),
 * steps (optimizer steps taken).
 * Checkpoints (zs_net_save_checkpoint) add "<param tensor>.momentum" F32 for
 * every weight/bias/gamma/beta and metadata "train_state": JSON
 * {"epochs_done", "rng": [4 hex u64], "drop_rng": hex u64}, so that training
 * resumed from them continues bit-identically. A packed layer's weight
 * momentum is "<layer>.weight_values.momentum" (the shape of .weight_values)
 * when it is zero at every masked position, else the dense
 * "<layer>.weight.momentum".
 */
#include "net.h"
#include "safetensors.h"
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#define MAX_MODEL_BYTES ((size_t)4 << 30)
/* Packed tensors expand to dense weights + masks in memory: a file with
 * packed tensors may declare at most this many bytes of parameters, state
 * and masks per byte of packed tensor (plus PACK_SLACK), so that a small
 * file cannot make the loader allocate gigabytes. 1024 covers densities
 * down to about 0.1 %. */
#define PACK_MAX_EXPANSION 1024u
#define PACK_SLACK ((size_t)1 << 20)
#define PACK_U16_FAN_IN 65536u

/* What a tensor of the architecture's list is: plain (copied as stored), or
 * the weight / mask / weight momentum of a masked layer (stored packed or
 * dense + mask, see above). */
typedef enum { R_PLAIN, R_WEIGHT, R_MASK, R_WMOM } ref_role;

typedef struct tensor_ref {
    char name[96];
    zs_st_dtype dtype;
    int ndim;
    int64_t shape[4];
    void *data;
    ref_role role;
    zs_layer *layer;
} tensor_ref;

/* Enumerate the tensors a network is made of (the same list for save and
 * load). Returns the count; fills refs if non-NULL. */
static int net_tensors_opt(zs_net *net, tensor_ref *refs, int with_momentum) {
    int n = 0;
#define ADDR(lname, suffix, dt, nd, s0, s1, s2, s3, ptr, rl) do { \
        if (refs) { tensor_ref *r = &refs[n]; \
            snprintf(r->name, sizeof r->name, "%s.%s", lname, suffix); \
            r->dtype = dt; r->ndim = nd; r->shape[0] = s0; r->shape[1] = s1; \
            r->shape[2] = s2; r->shape[3] = s3; r->data = (void *)(ptr); \
            r->role = rl; r->layer = L; } \
        n++; } while (0)
#define ADD(lname, suffix, dt, nd, s0, s1, s2, s3, ptr) ADDR(lname, suffix, dt, nd, s0, s1, s2, s3, ptr, R_PLAIN)
    for (int i = 0; i < net->n_layers; i++) {
        zs_layer *L = &net->layers[i];
        ref_role rw = L->mask ? R_WEIGHT : R_PLAIN, rm = L->mask ? R_WMOM : R_PLAIN;
        switch (L->type) {
        case ZS_CONV2D:
            ADDR(L->name, "weight", ZS_ST_F32, 4, L->out_c, L->in_c, L->kh, L->kw, L->w, rw);
            if (L->b) ADD(L->name, "bias", ZS_ST_F32, 1, L->out_c, 0, 0, 0, L->b);
            if (with_momentum) {
                ADDR(L->name, "weight.momentum", ZS_ST_F32, 4, L->out_c, L->in_c, L->kh, L->kw, L->mw, rm);
                if (L->b) ADD(L->name, "bias.momentum", ZS_ST_F32, 1, L->out_c, 0, 0, 0, L->mb);
            }
            if (L->mask) ADDR(L->name, "mask", ZS_ST_U8, 4, L->out_c, L->in_c, L->kh, L->kw, L->mask, R_MASK);
            break;
        case ZS_LINEAR:
            ADDR(L->name, "weight", ZS_ST_F32, 2, L->out_c, (int64_t)L->fan_in, 0, 0, L->w, rw);
            if (L->b) ADD(L->name, "bias", ZS_ST_F32, 1, L->out_c, 0, 0, 0, L->b);
            if (with_momentum) {
                ADDR(L->name, "weight.momentum", ZS_ST_F32, 2, L->out_c, (int64_t)L->fan_in, 0, 0, L->mw, rm);
                if (L->b) ADD(L->name, "bias.momentum", ZS_ST_F32, 1, L->out_c, 0, 0, 0, L->mb);
            }
            if (L->mask) ADDR(L->name, "mask", ZS_ST_U8, 2, L->out_c, (int64_t)L->fan_in, 0, 0, L->mask, R_MASK);
            break;
        case ZS_BATCHNORM:
            if (L->affine) {
                ADD(L->name, "weight", ZS_ST_F32, 1, L->in_c, 0, 0, 0, L->gamma);
                ADD(L->name, "bias", ZS_ST_F32, 1, L->in_c, 0, 0, 0, L->beta);
                if (with_momentum) {
                    ADD(L->name, "weight.momentum", ZS_ST_F32, 1, L->in_c, 0, 0, 0, L->mgamma);
                    ADD(L->name, "bias.momentum", ZS_ST_F32, 1, L->in_c, 0, 0, 0, L->mbeta);
                }
            }
            ADD(L->name, "running_mean", ZS_ST_F32, 1, L->in_c, 0, 0, 0, L->running_mean);
            ADD(L->name, "running_var", ZS_ST_F32, 1, L->in_c, 0, 0, 0, L->running_var);
            ADD(L->name, "num_batches_tracked", ZS_ST_I64, 0, 0, 0, 0, 0, &L->num_batches_tracked);
            break;
        case ZS_KWINNERS:
        case ZS_KWINNERS2D:
            ADD(L->name, "duty_cycle", ZS_ST_F32, 1, L->type == ZS_KWINNERS2D ? L->in_c : (int64_t)L->in_size, 0, 0, 0, L->duty);
            ADD(L->name, "boost_strength", ZS_ST_F32, 0, 0, 0, 0, 0, &L->boost_strength);
            ADD(L->name, "learning_iterations", ZS_ST_I64, 0, 0, 0, 0, 0, &L->learning_iterations);
            break;
        default: break;
        }
    }
#undef ADD
#undef ADDR
    return n;
}

/* ---- packing (save) ------------------------------------------------------ */

/* The packed tensors of one masked layer, carved from one allocation. */
typedef struct packed_layer {
    int csr;             /* 0: fixed [Co, nnz_per_unit]; 1: CSR            */
    zs_st_dtype idx_dt;  /* U16 or I32                                       */
    int64_t nnz;         /* kept weights in the layer                        */
    int32_t *rowptr;     /* (Co + 1), CSR only                               */
    void *idx;           /* (nnz) U16 or I32                                 */
    float *val;          /* (nnz)                                            */
    float *mom;          /* (nnz) or NULL (dense momentum written instead)   */
} packed_layer;

static size_t layer_kept(const zs_layer *L, int64_t *per_unit_or_minus1) {
    size_t nnz = 0;
    int64_t uniform = -2;
    for (int o = 0; o < L->out_c; o++) {
        const uint8_t *m = L->mask + (size_t)o * L->fan_in;
        int64_t c = 0;
        for (size_t i = 0; i < L->fan_in; i++) c += m[i] != 0;
        nnz += (size_t)c;
        if (uniform == -2) uniform = c;
        else if (uniform != c) uniform = -1;
    }
    *per_unit_or_minus1 = uniform < 0 ? -1 : uniform;
    return nnz;
}

/* Fill p (buffers already carved) from L's weights, mask and momentum. */
static void pack_layer(const zs_layer *L, packed_layer *p, int with_mom) {
    int64_t k = 0;
    if (p->csr) p->rowptr[0] = 0;
    for (int o = 0; o < L->out_c; o++) {
        size_t base = (size_t)o * L->fan_in;
        for (size_t i = 0; i < L->fan_in; i++) {
            if (!L->mask[base + i]) continue;
            if (p->idx_dt == ZS_ST_U16) ((uint16_t *)p->idx)[k] = (uint16_t)i;
            else ((int32_t *)p->idx)[k] = (int32_t)i;
            p->val[k] = L->w[base + i];
            if (with_mom) p->mom[k] = L->mw[base + i];
            k++;
        }
        if (p->csr) p->rowptr[o + 1] = (int32_t)k;
    }
}

/* 1 if the momentum of every masked weight is +0.0 (so the packed form
 * loses nothing). */
static int mom_zero_off_mask(const zs_layer *L) {
    for (size_t j = 0; j < L->n_weights; j++) {
        uint32_t b;
        memcpy(&b, &L->mw[j], 4);
        if (!L->mask[j] && b != 0) return 0;
    }
    return 1;
}

static size_t align8(size_t n) { return (n + 7) & ~(size_t)7; }

/* The packed_layer of ref i's layer (its R_WEIGHT ref comes first). */
static packed_layer *pk_of(const tensor_ref *refs, packed_layer *pk, int i) {
    for (int j = 0; j < i; j++)
        if (refs[j].role == R_WEIGHT && refs[j].layer == refs[i].layer) return &pk[j];
    return &pk[i];
}

static char *classes_json(const zs_net *net) {
    cJSON *a = cJSON_CreateArray();
    if (!a) return NULL;
    for (int i = 0; i < net->num_classes; i++) cJSON_AddItemToArray(a, cJSON_CreateString(net->class_names[i]));
    char *s = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return s;
}

static zs_status serialise(const zs_net *cnet, zs_st_writer **wout, int ckpt, void **arena_out) {
    zs_net *net = (zs_net *)cnet; /* net_tensors takes non-const pointers; nothing is written */
    zs_status st = ZS_OK;
    zs_st_writer *w = NULL;
    tensor_ref *refs = NULL;
    packed_layer *pk = NULL;
    char *cls = NULL;
    unsigned char *arena = NULL;
    *arena_out = NULL;
    int n = net_tensors_opt(net, NULL, ckpt);
    refs = calloc((size_t)n + 1, sizeof *refs);
    pk = calloc((size_t)n + 1, sizeof *pk);
    if (!refs || !pk) ZS_FAIL(ZS_ENOMEM, "out of memory");
    net_tensors_opt(net, refs, ckpt);
    /* Size the packed tensors of every masked layer, then carve them from
     * one block that lives until the writer has written them. */
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        if (refs[i].role != R_WEIGHT) continue;
        const zs_layer *L = refs[i].layer;
        packed_layer *p = &pk[i];
        int64_t per_unit;
        p->nnz = (int64_t)layer_kept(L, &per_unit);
        p->csr = per_unit != L->nnz_per_unit;
        p->idx_dt = L->fan_in <= PACK_U16_FAN_IN ? ZS_ST_U16 : ZS_ST_I32;
        size_t nz = (size_t)p->nnz;
        int mom = ckpt && mom_zero_off_mask(L);
        total += align8(nz * 4) + align8(nz * zs_st_dtype_size(p->idx_dt)) +
                 (p->csr ? align8(((size_t)L->out_c + 1) * 4) : 0) + (mom ? align8(nz * 4) : 0);
        p->mom = mom ? (float *)1 : NULL; /* marks "packed momentum"; set below */
    }
    /* The loader bounds a file's network by its bytes (plain tensors 1:1,
     * packed ones PACK_MAX_EXPANSION times, plus PACK_SLACK). A network
     * too sparse for that bound (under ~0.1 % kept) is written in the
     * dense + mask form instead, so that every saved file loads again. */
    if (total) {
        size_t plain = 0, packed = 0;
        for (int i = 0; i < n; i++) {
            size_t b = zs_st_dtype_size(refs[i].dtype);
            for (int d = 0; d < refs[i].ndim; d++) b *= (size_t)refs[i].shape[d];
            if (refs[i].role == R_PLAIN || (refs[i].role == R_WMOM && !pk_of(refs, pk, i)->mom)) plain += b;
            else if (refs[i].role == R_WEIGHT) {
                const packed_layer *q = &pk[i];
                packed += (size_t)q->nnz * (4 + zs_st_dtype_size(q->idx_dt)) + (q->mom ? (size_t)q->nnz * 4 : 0) +
                          (q->csr ? ((size_t)refs[i].layer->out_c + 1) * 4 : 0);
            }
        }
        size_t need = (net->n_params + net->n_state) * sizeof(float) + net->n_masks;
        size_t room = packed > (SIZE_MAX / 2) / PACK_MAX_EXPANSION ? SIZE_MAX / 2 : packed * PACK_MAX_EXPANSION;
        if (need > plain + room + PACK_SLACK) {
            for (int i = 0; i < n; i++)
                if (refs[i].role != R_PLAIN) refs[i].role = R_PLAIN;
            total = 0;
        }
    }
    /* never NULL: layers with no kept weight (total 0) still take offsets */
    arena = malloc(total ? total : 8);
    if (!arena) ZS_FAIL(ZS_ENOMEM, "out of memory for %zu bytes of packed weights", total);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        if (refs[i].role != R_WEIGHT) continue;
        const zs_layer *L = refs[i].layer;
        packed_layer *p = &pk[i];
        size_t nz = (size_t)p->nnz;
        p->val = (float *)(arena + off); off += align8(nz * 4);
        p->idx = arena + off; off += align8(nz * zs_st_dtype_size(p->idx_dt));
        if (p->csr) { p->rowptr = (int32_t *)(arena + off); off += align8(((size_t)L->out_c + 1) * 4); }
        if (p->mom) { p->mom = (float *)(arena + off); off += align8(nz * 4); }
        pack_layer(L, p, p->mom != NULL);
    }
    ZS_TRY(zs_st_writer_create(&w));
    for (int i = 0; i < n; i++) {
        const tensor_ref *r = &refs[i];
        const zs_layer *L = r->layer;
        char nm[128];
        if (r->role == R_PLAIN) {
            ZS_TRY(zs_st_writer_add(w, r->name, r->dtype, r->ndim, r->shape, r->data));
        } else if (r->role == R_WEIGHT) {
            const packed_layer *p = &pk[i];
            int64_t s2[2] = {L->out_c, L->nnz_per_unit}, s1[1] = {p->nnz}, sr[1] = {(int64_t)L->out_c + 1};
            int nd = p->csr ? 1 : 2;
            const int64_t *sh = p->csr ? s1 : s2;
            if (p->csr) {
                snprintf(nm, sizeof nm, "%s.weight_rowptr", L->name);
                ZS_TRY(zs_st_writer_add(w, nm, ZS_ST_I32, 1, sr, p->rowptr));
            }
            snprintf(nm, sizeof nm, "%s.weight_values", L->name);
            ZS_TRY(zs_st_writer_add(w, nm, ZS_ST_F32, nd, sh, p->val));
            snprintf(nm, sizeof nm, "%s.weight_index", L->name);
            ZS_TRY(zs_st_writer_add(w, nm, p->idx_dt, nd, sh, p->idx));
        } else if (r->role == R_WMOM) {
            /* the R_WEIGHT ref of the same layer came first */
            const packed_layer *p = NULL;
            for (int j = 0; j < i && !p; j++)
                if (refs[j].role == R_WEIGHT && refs[j].layer == L) p = &pk[j];
            if (p && p->mom) {
                int64_t s2[2] = {L->out_c, L->nnz_per_unit}, s1[1] = {p->nnz};
                snprintf(nm, sizeof nm, "%s.weight_values.momentum", L->name);
                ZS_TRY(zs_st_writer_add(w, nm, ZS_ST_F32, p->csr ? 1 : 2, p->csr ? s1 : s2, p->mom));
            } else {
                ZS_TRY(zs_st_writer_add(w, r->name, r->dtype, r->ndim, r->shape, r->data));
            }
        } /* R_MASK: the packed index is the mask */
    }
    char steps[32];
    snprintf(steps, sizeof steps, "%lld", (long long)net->steps);
    if (!(cls = classes_json(net))) ZS_FAIL(ZS_ENOMEM, "out of memory");
    ZS_TRY(zs_st_writer_meta(w, "format", "zeroskip"));
    ZS_TRY(zs_st_writer_meta(w, "version", ZS_VERSION_STRING));
    ZS_TRY(zs_st_writer_meta(w, "arch", net->arch_json));
    ZS_TRY(zs_st_writer_meta(w, "classes", cls));
    ZS_TRY(zs_st_writer_meta(w, "steps", steps));
    if (ckpt) {
        char ts[256];
        snprintf(ts, sizeof ts,
                 "{\"epochs_done\":%d,\"rng\":[\"%016llx\",\"%016llx\",\"%016llx\",\"%016llx\"],\"drop_rng\":\"%016llx\"}",
                 net->epochs_done, (unsigned long long)net->train_rng.s[0], (unsigned long long)net->train_rng.s[1],
                 (unsigned long long)net->train_rng.s[2], (unsigned long long)net->train_rng.s[3],
                 (unsigned long long)net->drop_rng);
        ZS_TRY(zs_st_writer_meta(w, "train_state", ts));
    }
    free(cls);
    free(refs);
    free(pk);
    *wout = w;
    *arena_out = arena;
    return ZS_OK;
fail:
    free(cls);
    free(refs);
    free(pk);
    free(arena);
    zs_st_writer_free(w);
    return st;
}

static zs_status save(const zs_net *net, const char *path, int ckpt) {
    ZS_RETURN_IF(!net || !path, ZS_EINVAL, "zs_net_save: NULL argument");
    zs_st_writer *w = NULL;
    void *arena = NULL;
    zs_status st;
    if (net->compact || (ckpt && !net->moment)) {
        /* written from a dense copy (packed form, no momenta: zeros), so the
         * caller's network is never touched */
        zs_net *tmp = NULL;
        if ((st = zs_net_clone_bare(net, &tmp))) return st;
        st = ckpt ? zs_net_train_alloc(tmp) : zs_net_unpack(tmp);
        if (!st) st = save(tmp, path, ckpt);
        zs_net_free(tmp);
        return st;
    }
    st = serialise(net, &w, ckpt, &arena);
    if (st) return st;
    st = zs_st_writer_save(w, path);
    zs_st_writer_free(w);
    free(arena);
    return st;
}

zs_status zs_net_save(const zs_net *net, const char *path) { return save(net, path, 0); }
zs_status zs_net_save_checkpoint(const zs_net *net, const char *path) { return save(net, path, 1); }

static zs_status parse_train_state(zs_net *net, const char *json, const char *what) {
    cJSON *o = cJSON_Parse(json);
    zs_status st = ZS_OK;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "epochs_done");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "rng");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "drop_rng");
    if (!cJSON_IsObject(o) || !cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 1e6 ||
        !cJSON_IsArray(r) || cJSON_GetArraySize(r) != 4 || !cJSON_IsString(d))
        ZS_FAIL(ZS_EFORMAT, "%s: malformed train_state metadata", what);
    net->epochs_done = (int)e->valuedouble;
    for (int i = 0; i < 4; i++) {
        const cJSON *v = cJSON_GetArrayItem(r, i);
        if (!cJSON_IsString(v)) ZS_FAIL(ZS_EFORMAT, "%s: malformed train_state rng", what);
        net->train_rng.s[i] = strtoull(v->valuestring, NULL, 16);
    }
    net->drop_rng = strtoull(d->valuestring, NULL, 16);
fail:
    cJSON_Delete(o);
    return st;
}

static zs_status parse_classes(zs_net *net, const char *json, const char *what) {
    cJSON *a = cJSON_Parse(json);
    zs_status st = ZS_OK;
    const char **names = NULL;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != net->num_classes)
        ZS_FAIL(ZS_EFORMAT, "%s: metadata 'classes' must be a JSON array of %d strings", what, net->num_classes);
    names = calloc((size_t)net->num_classes, sizeof *names);
    if (!names) ZS_FAIL(ZS_ENOMEM, "out of memory");
    for (int i = 0; i < net->num_classes; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsString(v) || strlen(v->valuestring) > 255)
            ZS_FAIL(ZS_EFORMAT, "%s: metadata 'classes': entry %d is not a string (<= 255 bytes)", what, i);
        if (zs_has_control_chars(v->valuestring))
            ZS_FAIL(ZS_EFORMAT, "%s: metadata 'classes': entry %d holds a control character", what, i);
        names[i] = v->valuestring;
    }
    st = zs_net_set_class_names(net, net->num_classes, names);
fail:
    free(names);
    cJSON_Delete(a);
    return st;
}

/* ---- unpacking (load) ---------------------------------------------------- */

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* Tensors of the packed form (they expand when loaded). */
static int is_packed_name(const char *s) {
    return ends_with(s, ".weight_values") || ends_with(s, ".weight_index") ||
           ends_with(s, ".weight_rowptr") || ends_with(s, ".weight_values.momentum");
}

/* Find "<layer>.<suffix>" and mark it used. */
static const zs_st_tensor *find_used(const zs_st_file *f, uint8_t *used, const zs_layer *L, const char *suffix) {
    char nm[128];
    snprintf(nm, sizeof nm, "%s.%s", L->name, suffix);
    const zs_st_tensor *t = zs_st_find(f, nm);
    if (t) used[t - f->tensors] = 1;
    return t;
}

static int64_t read_index(const zs_st_tensor *t, size_t k) {
    if (t->dtype == ZS_ST_U16) {
        uint16_t v;
        memcpy(&v, (const uint8_t *)t->data + 2 * k, 2);
        return v;
    }
    int32_t v;
    memcpy(&v, (const uint8_t *)t->data + 4 * k, 4);
    return v;
}

/* A tensor's dtype and shape against what the layer's form needs. */
static zs_status check_shape(const char *what, const zs_st_tensor *t, int dt_ok, const char *dt_want,
                             int ndim, int64_t s0, int64_t s1) {
    int ok = dt_ok && t->ndim == ndim && t->shape[0] == s0 && (ndim < 2 || t->shape[1] == s1);
    if (ok) return ZS_OK;
    char want[64];
    if (ndim == 2) snprintf(want, sizeof want, "%s [%lld, %lld]", dt_want, (long long)s0, (long long)s1);
    else snprintf(want, sizeof want, "%s [%lld]", dt_want, (long long)s0);
    char have[160];
    size_t u = (size_t)snprintf(have, sizeof have, "[");
    for (int d = 0; d < t->ndim && u < sizeof have; d++)
        u += (size_t)snprintf(have + u, sizeof have - u, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (u < sizeof have) snprintf(have + u, sizeof have - u, "]");
    return ZS_ERR(ZS_ESHAPE, "%s: tensor '%s': file has %s %s, expected %s", what,
                  t->name, zs_st_dtype_name(t->dtype), have, want);
}

/* Load a masked layer's weights and mask from the packed tensors: validate
 * every size, index and count, then scatter into L->w / L->mask (and the
 * momentum into L->mw when mom_t is given). Nothing is allocated. */
static zs_status unpack_layer(const char *what, zs_layer *L, const zs_st_tensor *val, const zs_st_tensor *idx,
                              const zs_st_tensor *rowptr) {
    char nm[128];
    snprintf(nm, sizeof nm, "%s.%s", L->name, !val ? "weight_values" : "weight_index");
    ZS_RETURN_IF(!val || !idx, ZS_EFORMAT, "%s: tensor '%s' missing (layer '%s' is stored packed)", what, nm, L->name);
    int idx_ok = idx->dtype == ZS_ST_U16 || idx->dtype == ZS_ST_I32;
    int64_t nnz;
    zs_status st;
    if (!rowptr) {
        nnz = (int64_t)L->out_c * L->nnz_per_unit;
        if ((st = check_shape(what, val, val->dtype == ZS_ST_F32, "F32", 2, L->out_c, L->nnz_per_unit))) return st;
        if ((st = check_shape(what, idx, idx_ok, "U16 or I32", 2, L->out_c, L->nnz_per_unit))) return st;
    } else {
        if ((st = check_shape(what, rowptr, rowptr->dtype == ZS_ST_I32, "I32", 1, (int64_t)L->out_c + 1, 0))) return st;
        ZS_RETURN_IF(val->ndim != 1, ZS_ESHAPE, "%s: tensor '%s': CSR values must be 1-D, file has %d dims", what,
                     val->name, val->ndim);
        nnz = val->shape[0];
        ZS_RETURN_IF(nnz > (int64_t)L->n_weights, ZS_EFORMAT, "%s: tensor '%s': %lld kept weights, more than the "
                     "layer's %zu", what, val->name, (long long)nnz, L->n_weights);
        if ((st = check_shape(what, val, val->dtype == ZS_ST_F32, "F32", 1, nnz, 0))) return st;
        if ((st = check_shape(what, idx, idx_ok, "U16 or I32", 1, nnz, 0))) return st;
        int32_t prev = 0;
        for (int o = 0; o <= L->out_c; o++) {
            int32_t r;
            memcpy(&r, (const uint8_t *)rowptr->data + 4 * (size_t)o, 4);
            ZS_RETURN_IF(o == 0 && r != 0, ZS_EFORMAT, "%s: tensor '%s': entry 0 is %d, must be 0", what, rowptr->name, r);
            ZS_RETURN_IF(r < prev || (int64_t)r - prev > (int64_t)L->fan_in, ZS_EFORMAT,
                         "%s: tensor '%s': unit %d keeps %lld weights (must be 0..%zu; entries non-decreasing)", what,
                         rowptr->name, o - 1, (long long)r - prev, L->fan_in);
            prev = r;
        }
        ZS_RETURN_IF(prev != nnz, ZS_EFORMAT, "%s: tensor '%s': last entry %d, but '%s' holds %lld values", what,
                     rowptr->name, prev, val->name, (long long)nnz);
    }
    memset(L->w, 0, sizeof(float) * L->n_weights);
    memset(L->mask, 0, L->n_weights);
    int64_t k = 0;
    for (int o = 0; o < L->out_c; o++) {
        int64_t end = k + L->nnz_per_unit;
        if (rowptr) {
            int32_t r;
            memcpy(&r, (const uint8_t *)rowptr->data + 4 * ((size_t)o + 1), 4);
            end = r;
        }
        int64_t prev = -1;
        for (; k < end; k++) {
            int64_t i = read_index(idx, (size_t)k);
            ZS_RETURN_IF(i < 0 || i >= (int64_t)L->fan_in, ZS_EFORMAT, "%s: tensor '%s': unit %d: index %lld is outside "
                         "the unit's fan-in [0, %zu)", what, idx->name, o, (long long)i, L->fan_in);
            ZS_RETURN_IF(i <= prev, ZS_EFORMAT, "%s: tensor '%s': unit %d: indices not strictly ascending (%lld after %lld)",
                         what, idx->name, o, (long long)i, (long long)prev);
            prev = i;
            size_t at = (size_t)o * L->fan_in + (size_t)i;
            memcpy(&L->w[at], (const uint8_t *)val->data + 4 * (size_t)k, 4);
            L->mask[at] = 1;
        }
    }
    return ZS_OK;
}

/* Packed weight momentum: same shape as the values, scattered to the kept
 * positions (the mask is already loaded). */
static zs_status unpack_momentum(const char *what, zs_layer *L, const zs_st_tensor *val, const zs_st_tensor *mom) {
    int same = mom->dtype == ZS_ST_F32 && mom->ndim == val->ndim;
    for (int d = 0; same && d < val->ndim; d++) same = mom->shape[d] == val->shape[d];
    ZS_RETURN_IF(!same, ZS_ESHAPE, "%s: tensor '%s': must be F32 of the shape of '%s'", what, mom->name, val->name);
    memset(L->mw, 0, sizeof(float) * L->n_weights);
    size_t k = 0;
    for (size_t j = 0; j < L->n_weights; j++)
        if (L->mask[j]) { memcpy(&L->mw[j], (const uint8_t *)mom->data + 4 * k, 4); k++; }
    return ZS_OK;
}

static zs_status from_file(zs_net **out, const zs_st_file *f, const char *what) {
    zs_status st = ZS_OK;
    zs_net *net = NULL;
    tensor_ref *refs = NULL;
    uint8_t *used = NULL, *packed = NULL;
    const char *fmt = zs_st_meta(f, "format");
    if (fmt && strcmp(fmt, "zeroskip") != 0) ZS_FAIL(ZS_EFORMAT, "%s: metadata format is '%.40s', not 'zeroskip'", what, fmt);
    const char *arch = zs_st_meta(f, "arch");
    if (!arch) ZS_FAIL(ZS_EFORMAT, "%s: no 'arch' in __metadata__ (not a zeroskip model?)", what);
    /* Bound what the architecture may allocate by what the file holds:
     * dense tensors 1:1, packed ones up to PACK_MAX_EXPANSION times. */
    size_t held = 0, held_packed = 0;
    for (int j = 0; j < f->n_tensors; j++) {
        if (is_packed_name(f->tensors[j].name)) held_packed += f->tensors[j].nbytes;
        else held += f->tensors[j].nbytes;
    }
    int any_packed = 0;
    for (int j = 0; j < f->n_tensors && !any_packed; j++) any_packed = is_packed_name(f->tensors[j].name);
    if (any_packed) {
        size_t extra = held_packed > (SIZE_MAX - PACK_SLACK) / PACK_MAX_EXPANSION ? SIZE_MAX - PACK_SLACK
                                                                                 : held_packed * PACK_MAX_EXPANSION;
        extra += PACK_SLACK;
        held = held > SIZE_MAX - extra ? SIZE_MAX : held + extra;
    }
    st = zs_net_build_limited(&net, arch, 0, 0, held);
    if (st) { char m[512]; snprintf(m, sizeof m, "%s", zs_last_error()); ZS_FAIL(st, "%s: %s", what, m); }
    const char *cls = zs_st_meta(f, "classes");
    if (cls) ZS_TRY(parse_classes(net, cls, what));
    const char *steps = zs_st_meta(f, "steps");
    if (steps) net->steps = strtoll(steps, NULL, 10);
    const char *ts = zs_st_meta(f, "train_state");
    int ckpt = ts != NULL;
    if (ckpt) ZS_TRY(parse_train_state(net, ts, what));
    if (ckpt) ZS_TRY(zs_net_train_alloc(net)); /* the momenta are loaded */
    int n = net_tensors_opt(net, NULL, ckpt);
    refs = calloc((size_t)n + 1, sizeof *refs);
    used = calloc((size_t)f->n_tensors + 1, 1);
    packed = calloc((size_t)net->n_layers + 1, 1);
    if (!refs || !used || !packed) ZS_FAIL(ZS_ENOMEM, "out of memory");
    net_tensors_opt(net, refs, ckpt);
    for (int i = 0; i < n; i++) {
        tensor_ref *r = &refs[i];
        zs_layer *L = r->layer;
        int li = L ? (int)(L - net->layers) : 0;
        if (r->role == R_WEIGHT) {
            const zs_st_tensor *val = find_used(f, used, L, "weight_values");
            const zs_st_tensor *idx = find_used(f, used, L, "weight_index");
            const zs_st_tensor *rp = find_used(f, used, L, "weight_rowptr");
            if (val || idx || rp) {
                const zs_st_tensor *dw = zs_st_find(f, r->name);
                char mn[128];
                snprintf(mn, sizeof mn, "%s.mask", L->name);
                const zs_st_tensor *dm = zs_st_find(f, mn);
                if (dw || dm)
                    ZS_FAIL(ZS_EFORMAT, "%s: tensor '%s': layer '%s' is stored both packed (.weight_values/.weight_index) "
                            "and dense (.weight/.mask); a file holds one form", what, dw ? dw->name : dm->name, L->name);
                packed[li] = 1;
                ZS_TRY(unpack_layer(what, L, val, idx, rp));
                continue;
            }
        }
        if (r->role == R_MASK && packed[li]) continue;
        if (r->role == R_WMOM && packed[li]) {
            const zs_st_tensor *pm = find_used(f, used, L, "weight_values.momentum");
            if (pm) {
                if (zs_st_find(f, r->name))
                    ZS_FAIL(ZS_EFORMAT, "%s: tensor '%s': momentum stored both packed and dense", what, r->name);
                ZS_TRY(unpack_momentum(what, L, find_used(f, used, L, "weight_values"), pm));
                continue;
            }
        }
        const zs_st_tensor *t = zs_st_find(f, r->name);
        if (!t) ZS_FAIL(ZS_EFORMAT, "%s: tensor '%s' missing", what, r->name);
        used[t - f->tensors] = 1;
        st = zs_st_copy(f, r->name, r->dtype, r->ndim, r->shape, r->data);
        if (st) { char m[512]; snprintf(m, sizeof m, "%s", zs_last_error()); ZS_FAIL(st, "%s: %s", what, m); }
    }
    for (int j = 0; j < f->n_tensors; j++)
        if (!used[j]) ZS_FAIL(ZS_EFORMAT, "%s: unexpected tensor '%.80s' (not in the architecture)", what, f->tensors[j].name);
    /* validate values */
    if (ckpt && !zs_all_finite(net->moment, net->n_params)) ZS_FAIL(ZS_ENUMERIC, "%s: momentum buffers contain NaN or Inf", what);
    if (!zs_all_finite(net->params, net->n_params)) ZS_FAIL(ZS_ENUMERIC, "%s: weights contain NaN or Inf", what);
    if (!zs_all_finite(net->state, net->n_state)) ZS_FAIL(ZS_ENUMERIC, "%s: BN statistics or duty cycles contain NaN or Inf", what);
    for (size_t i = 0; i < net->n_masks; i++)
        if (net->masks[i] > 1) ZS_FAIL(ZS_EFORMAT, "%s: mask values must be 0 or 1", what);
    for (int i = 0; i < net->n_layers; i++) {
        zs_layer *L = &net->layers[i];
        if (L->type == ZS_BATCHNORM)
            for (int c = 0; c < L->in_c; c++)
                if (L->running_var[c] < 0) ZS_FAIL(ZS_EFORMAT, "%s: %s.running_var is negative", what, L->name);
        if (L->type == ZS_BATCHNORM && L->num_batches_tracked < 0)
            ZS_FAIL(ZS_EFORMAT, "%s: %s.num_batches_tracked is negative (%lld)", what, L->name,
                    (long long)L->num_batches_tracked);
        if ((L->type == ZS_KWINNERS || L->type == ZS_KWINNERS2D) && (!isfinite(L->boost_strength) || L->boost_strength < 0 || L->learning_iterations < 0))
            ZS_FAIL(ZS_EFORMAT, "%s: %s has a bad boost_strength or learning_iterations", what, L->name);
    }
    zs_net_apply_masks(net);
    /* a model (not a checkpoint, whose momenta go on training) is held
     * packed: dense weights and masks only when something needs them */
    if (!ckpt) ZS_TRY(zs_net_pack(net));
    free(refs);
    free(used);
    free(packed);
    *out = net;
    return ZS_OK;
fail:
    free(refs);
    free(used);
    free(packed);
    zs_net_free(net);
    return st;
}

zs_status zs_net_load_mem(zs_net **out, const void *data, size_t size) {
    ZS_RETURN_IF(!out || (!data && size), ZS_EINVAL, "zs_net_load_mem: NULL argument");
    *out = NULL;
    zs_st_file f;
    memset(&f, 0, sizeof f);
    zs_status st = zs_st_parse(&f, data, size);
    if (st) return st;
    st = from_file(out, &f, "model");
    zs_st_free(&f);
    return st;
}

zs_status zs_net_load(zs_net **out, const char *path) {
    ZS_RETURN_IF(!out || !path, ZS_EINVAL, "zs_net_load: NULL argument");
    *out = NULL;
    zs_st_file f;
    memset(&f, 0, sizeof f);
    zs_status st = zs_st_read(&f, path, MAX_MODEL_BYTES);
    if (st) {
        char m[600];
        snprintf(m, sizeof m, "%s", zs_last_error());
        if (strncmp(m, path, strlen(path)) != 0) return ZS_ERR(st, "%s: %s", path, m);
        return st;
    }
    st = from_file(out, &f, path);
    zs_st_free(&f);
    return st;
}
