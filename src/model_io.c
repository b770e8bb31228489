/*
 * model_io.c — networks to and from safetensors files.
 *
 * Tensor names (PyTorch state_dict style, so nupic.torch-like models map 1:1):
 *   <conv|linear>.weight (Co,Ci,Kh,Kw)|(O,I) F32, .bias (Co) F32,
 *   .mask U8 same shape as weight (1 = kept; sparse layers only)
 *   <batchnorm>.running_mean/.running_var (C) F32, .num_batches_tracked I64 [],
 *   .weight/.bias (C) F32 when affine
 *   <kwinners>.duty_cycle (C for 2d, units for 1d) F32, .boost_strength F32 [],
 *   .learning_iterations I64 []
 * __metadata__: format "zeroskip", version, arch (JSON), classes (JSON array),
 * steps (optimizer steps taken).
 * Checkpoints (zs_net_save_checkpoint) add "<param tensor>.momentum" F32 for
 * every weight/bias/gamma/beta and metadata "train_state": JSON
 * {"epochs_done", "rng": [4 hex u64], "drop_rng": hex u64}, so that training
 * resumed from them continues bit-identically.
 */
#include "net.h"
#include "safetensors.h"
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>

#define MAX_MODEL_BYTES ((size_t)4 << 30)

typedef struct tensor_ref {
    char name[96];
    zs_st_dtype dtype;
    int ndim;
    int64_t shape[4];
    void *data;
} tensor_ref;

/* Enumerate the tensors a network is made of (the same list for save and
 * load). Returns the count; fills refs if non-NULL. */
static int net_tensors_opt(zs_net *net, tensor_ref *refs, int with_momentum);

static int net_tensors_opt(zs_net *net, tensor_ref *refs, int with_momentum) {
    int n = 0;
#define ADD(lname, suffix, dt, nd, s0, s1, s2, s3, ptr) do { \
        if (refs) { tensor_ref *r = &refs[n]; \
            snprintf(r->name, sizeof r->name, "%s.%s", lname, suffix); \
            r->dtype = dt; r->ndim = nd; r->shape[0] = s0; r->shape[1] = s1; \
            r->shape[2] = s2; r->shape[3] = s3; r->data = (void *)(ptr); } \
        n++; } while (0)
    for (int i = 0; i < net->n_layers; i++) {
        zs_layer *L = &net->layers[i];
        switch (L->type) {
        case ZS_CONV2D:
            ADD(L->name, "weight", ZS_ST_F32, 4, L->out_c, L->in_c, L->kh, L->kw, L->w);
            if (L->b) ADD(L->name, "bias", ZS_ST_F32, 1, L->out_c, 0, 0, 0, L->b);
            if (with_momentum) {
                ADD(L->name, "weight.momentum", ZS_ST_F32, 4, L->out_c, L->in_c, L->kh, L->kw, L->mw);
                if (L->b) ADD(L->name, "bias.momentum", ZS_ST_F32, 1, L->out_c, 0, 0, 0, L->mb);
            }
            if (L->mask) ADD(L->name, "mask", ZS_ST_U8, 4, L->out_c, L->in_c, L->kh, L->kw, L->mask);
            break;
        case ZS_LINEAR:
            ADD(L->name, "weight", ZS_ST_F32, 2, L->out_c, (int64_t)L->fan_in, 0, 0, L->w);
            if (L->b) ADD(L->name, "bias", ZS_ST_F32, 1, L->out_c, 0, 0, 0, L->b);
            if (with_momentum) {
                ADD(L->name, "weight.momentum", ZS_ST_F32, 2, L->out_c, (int64_t)L->fan_in, 0, 0, L->mw);
                if (L->b) ADD(L->name, "bias.momentum", ZS_ST_F32, 1, L->out_c, 0, 0, 0, L->mb);
            }
            if (L->mask) ADD(L->name, "mask", ZS_ST_U8, 2, L->out_c, (int64_t)L->fan_in, 0, 0, L->mask);
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
    return n;
}

static char *classes_json(const zs_net *net) {
    cJSON *a = cJSON_CreateArray();
    if (!a) return NULL;
    for (int i = 0; i < net->num_classes; i++) cJSON_AddItemToArray(a, cJSON_CreateString(net->class_names[i]));
    char *s = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return s;
}

static zs_status serialise(const zs_net *cnet, zs_st_writer **wout, int ckpt) {
    zs_net *net = (zs_net *)cnet; /* net_tensors takes non-const pointers; nothing is written */
    zs_status st = ZS_OK;
    zs_st_writer *w = NULL;
    tensor_ref *refs = NULL;
    char *cls = NULL;
    int n = net_tensors_opt(net, NULL, ckpt);
    refs = calloc((size_t)n + 1, sizeof *refs);
    if (!refs) ZS_FAIL(ZS_ENOMEM, "out of memory");
    net_tensors_opt(net, refs, ckpt);
    ZS_TRY(zs_st_writer_create(&w));
    for (int i = 0; i < n; i++) ZS_TRY(zs_st_writer_add(w, refs[i].name, refs[i].dtype, refs[i].ndim, refs[i].shape, refs[i].data));
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
    *wout = w;
    return ZS_OK;
fail:
    free(cls);
    free(refs);
    zs_st_writer_free(w);
    return st;
}

static zs_status save(const zs_net *net, const char *path, int ckpt) {
    ZS_RETURN_IF(!net || !path, ZS_EINVAL, "zs_net_save: NULL argument");
    zs_st_writer *w = NULL;
    zs_status st = serialise(net, &w, ckpt);
    if (st) return st;
    st = zs_st_writer_save(w, path);
    zs_st_writer_free(w);
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

static zs_status from_file(zs_net **out, const zs_st_file *f, const char *what) {
    zs_status st = ZS_OK;
    zs_net *net = NULL;
    tensor_ref *refs = NULL;
    const char *fmt = zs_st_meta(f, "format");
    if (fmt && strcmp(fmt, "zeroskip") != 0) ZS_FAIL(ZS_EFORMAT, "%s: metadata format is '%.40s', not 'zeroskip'", what, fmt);
    const char *arch = zs_st_meta(f, "arch");
    if (!arch) ZS_FAIL(ZS_EFORMAT, "%s: no 'arch' in __metadata__ (not a zeroskip model?)", what);
    size_t held = 0;
    for (int j = 0; j < f->n_tensors; j++) held += f->tensors[j].nbytes;
    st = zs_net_build_limited(&net, arch, 0, 0, held);
    if (st) { char m[512]; snprintf(m, sizeof m, "%s", zs_last_error()); ZS_FAIL(st, "%s: %s", what, m); }
    const char *cls = zs_st_meta(f, "classes");
    if (cls) ZS_TRY(parse_classes(net, cls, what));
    const char *steps = zs_st_meta(f, "steps");
    if (steps) net->steps = strtoll(steps, NULL, 10);
    const char *ts = zs_st_meta(f, "train_state");
    int ckpt = ts != NULL;
    if (ckpt) ZS_TRY(parse_train_state(net, ts, what));
    int n = net_tensors_opt(net, NULL, ckpt);
    refs = calloc((size_t)n + 1, sizeof *refs);
    if (!refs) ZS_FAIL(ZS_ENOMEM, "out of memory");
    net_tensors_opt(net, refs, ckpt);
    for (int i = 0; i < n; i++) {
        if (!zs_st_find(f, refs[i].name)) ZS_FAIL(ZS_EFORMAT, "%s: tensor '%s' missing", what, refs[i].name);
        st = zs_st_copy(f, refs[i].name, refs[i].dtype, refs[i].ndim, refs[i].shape, refs[i].data);
        if (st) { char m[512]; snprintf(m, sizeof m, "%s", zs_last_error()); ZS_FAIL(st, "%s: %s", what, m); }
    }
    for (int j = 0; j < f->n_tensors; j++) {
        int known = 0;
        for (int i = 0; i < n && !known; i++) known = !strcmp(f->tensors[j].name, refs[i].name);
        if (!known) ZS_FAIL(ZS_EFORMAT, "%s: unexpected tensor '%.80s' (not in the architecture)", what, f->tensors[j].name);
    }
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
    free(refs);
    *out = net;
    return ZS_OK;
fail:
    free(refs);
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
