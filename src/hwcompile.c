/*
 * hwcompile.c — model compiler for the hw/ sparse-sparse core: turns a
 * quantised network (src/quant.h) into the core's memory images and the
 * Verilog parameters that size its buffers. docs/FPGA.md documents every
 * field; hw/zs_core.v decodes them.
 *
 *   layers  one 192-bit row per block: P, out_c, groups, Wo, Ho, act, pool,
 *           flatten-next, k, Hp, Wp, row-pointer base, dense flag,
 *           channel-parameter base, Pp
 *   wrow    weight rows of LANES slots {valid, ky, kx, w, off}: for input
 *           channel c, lane j's slots hold the kept weights of output
 *           channels o = j (mod LANES); off = (o / LANES) * P - (ky*Wo + kx)
 *   ptr     per (block, input channel): first row | rows << 20
 *   chanJ   per lane J, per (block, group g): bias, ma, sha, mb, shb of
 *           channel g*LANES + J
 * Input entries: val | x << 8 | y << 13 | chan << 18.
 */
#include "quant.h"
#include "zs_internal.h"
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#define HW_MAX_MEMS (3 + 64)
#define HW_NPARAMS 11

struct zs_hw_image {
    int lanes, flags, n_mems;
    int in_c, in_h, in_w;      /* block 0's input map */
    zs_hw_mem mem[HW_MAX_MEMS];
    uint32_t *data[HW_MAX_MEMS];
    char names[HW_MAX_MEMS][16];
    int64_t params[HW_NPARAMS];
};

static const char *const param_names[HW_NPARAMS] = {
    "LANES", "NLAYERS", "ACC_DEPTH", "LIST_DEPTH", "WROWS", "NPTR", "CH_DEPTH", "MAXCLS", "OFF_W", "CNT_W", "CFG_W"};
enum { P_LANES, P_NLAYERS, P_ACC, P_LIST, P_WROWS, P_NPTR, P_CH, P_MAXCLS, P_OFFW, P_CNTW, P_CFGW };

void zs_hw_image_free(zs_hw_image *img) {
    if (!img) return;
    for (int i = 0; i < img->n_mems; i++) free(img->data[i]);
    free(img);
}

static int bits_for(int64_t v) { /* bits to hold 0..v */
    int b = 1;
    while (b < 62 && ((int64_t)1 << b) <= v) b++;
    return b;
}

/* set bits [lo, lo+n) of a row of 32-bit chunks */
static void put(uint32_t *row, int lo, int n, uint64_t v) {
    for (int i = 0; i < n; i++)
        if ((v >> i) & 1) row[(lo + i) / 32] |= 1u << ((lo + i) % 32);
}

static zs_status add_mem(zs_hw_image *img, const char *name, int sel, int lane, int width, size_t depth) {
    int i = img->n_mems;
    if (i >= HW_MAX_MEMS) return ZS_ERR(ZS_ELIMIT, "hw compile: too many memories");
    snprintf(img->names[i], sizeof img->names[i], "%s", name);
    int chunks = (width + 31) / 32;
    if (depth == 0) depth = 1;
    img->data[i] = zs_calloc(depth * (size_t)chunks, sizeof(uint32_t));
    if (!img->data[i]) return ZS_ERR(ZS_ENOMEM, "hw compile: out of memory");
    img->mem[i] = (zs_hw_mem){img->names[i], sel, lane, width, chunks, depth, img->data[i]};
    img->n_mems++;
    return ZS_OK;
}

zs_status zs_hw_compile(zs_hw_image **out, const zs_qnet *q, int lanes, int flags) {
    zs_error_clear();
    ZS_RETURN_IF(!out || !q, ZS_EINVAL, "zs_hw_compile: NULL argument");
    *out = NULL;
    ZS_RETURN_IF(lanes < 1 || lanes > 64 || (lanes & (lanes - 1)), ZS_EINVAL,
                 "hw compile: lanes must be a power of two in [1, 64], not %d", lanes);
    ZS_RETURN_IF(q->mode != ZS_QNET_INT8, ZS_EUNSUPPORTED, "hw compile: only the int8 scheme (ZS_QNET_INT8) runs on the core");
    ZS_RETURN_IF(q->n_blocks > 16, ZS_EUNSUPPORTED, "hw compile: more than 16 blocks");
    ZS_RETURN_IF(q->num_classes > 255, ZS_EUNSUPPORTED, "hw compile: more than 255 classes");
    int L = lanes, dense = (flags & ZS_HW_DENSE) != 0;
    zs_status st = ZS_OK;
    zs_hw_image *img = calloc(1, sizeof *img);
    int32_t *cnt = calloc((size_t)L, sizeof(int32_t));
    if (!img || !cnt) { free(img); free(cnt); return ZS_ERR(ZS_ENOMEM, "hw compile: out of memory"); }
    img->lanes = L;
    img->flags = flags;
    img->in_c = q->in_c; img->in_h = q->in_h; img->in_w = q->in_w;
    /* ---- sizes ---- */
    int64_t acc_depth = 1, list_depth = 1, wrows = 0, nptr = 0, ch_depth = 0, min_off = 0;
    size_t in_n = (size_t)q->in_c * q->in_h * q->in_w;
    list_depth = (int64_t)((in_n + L - 1) / L);
    for (int bi = 0; bi < q->n_blocks; bi++) {
        const zs_qblock *b = &q->b[bi];
        int G = (b->out_c + L - 1) / L, P = b->out_h * b->out_w, K = b->kh * b->kw;
        if (b->in_h > 32 || b->in_w > 32 || b->out_h > 63 || b->out_w > 63 || b->kh > 8 || b->kw > 8 ||
            b->in_c >= (1 << 14) || b->out_c >= (1 << 14) || P >= (1 << 16))
            ZS_FAIL(ZS_EUNSUPPORTED, "hw compile: block %d: shape beyond the core's fields", bi);
        if ((int64_t)G * P > acc_depth) acc_depth = (int64_t)G * P;
        if (b->act != ZS_QACT_NONE && (int64_t)G * b->pool_h * b->pool_w > list_depth)
            list_depth = (int64_t)G * b->pool_h * b->pool_w;
        nptr += b->in_c;
        ch_depth += G;
        int64_t mo = -(int64_t)((b->kh - 1) * b->out_w + (b->kw - 1));
        if (mo < min_off) min_off = mo;
        for (int c = 0; c < b->in_c; c++) {
            memset(cnt, 0, sizeof(int32_t) * (size_t)L);
            for (int o = 0; o < b->out_c; o++)
                for (int t = 0; t < K; t++)
                    if (dense || b->w[((size_t)o * b->in_c + c) * K + t]) cnt[o % L]++;
            int r = 0;
            for (int j = 0; j < L; j++) r = cnt[j] > r ? cnt[j] : r;
            if (r > 4095) ZS_FAIL(ZS_ELIMIT, "hw compile: block %d: %d rows for one input channel (max 4095)", bi, r);
            wrows += r;
        }
    }
    if (wrows >= (1 << 20)) ZS_FAIL(ZS_ELIMIT, "hw compile: %lld weight rows (max 2^20)", (long long)wrows);
    int off_w = bits_for(acc_depth > -min_off ? acc_depth : -min_off) + 1;
    int slot_w = 15 + off_w, row_w = L * slot_w;
    int cfg_w = row_w > 192 ? row_w : 192;
    cfg_w = (cfg_w + 31) / 32 * 32;
    int64_t *pr = img->params;
    pr[P_LANES] = L; pr[P_NLAYERS] = q->n_blocks; pr[P_ACC] = acc_depth; pr[P_LIST] = list_depth;
    pr[P_WROWS] = wrows > 0 ? wrows : 1; pr[P_NPTR] = nptr; pr[P_CH] = ch_depth; pr[P_MAXCLS] = q->num_classes;
    pr[P_OFFW] = off_w; pr[P_CNTW] = bits_for(acc_depth); pr[P_CFGW] = cfg_w;

    ZS_TRY(add_mem(img, "layers", 0, -1, 192, (size_t)q->n_blocks));
    ZS_TRY(add_mem(img, "wrow", 1, -1, row_w, (size_t)pr[P_WROWS]));
    ZS_TRY(add_mem(img, "ptr", 2, -1, 32, (size_t)nptr));
    for (int j = 0; j < L; j++) {
        char nm[16];
        snprintf(nm, sizeof nm, "chan%d", j);
        ZS_TRY(add_mem(img, nm, 3, j, 76, (size_t)ch_depth));
    }
    /* ---- fill ---- */
    int64_t row = 0, ptrb = 0, chb = 0;
    for (int bi = 0; bi < q->n_blocks; bi++) {
        const zs_qblock *b = &q->b[bi];
        int G = (b->out_c + L - 1) / L, P = b->out_h * b->out_w, K = b->kh * b->kw;
        int Pp = b->pool_h * b->pool_w;
        int flat = bi + 1 < q->n_blocks && q->b[bi + 1].in_h == 1 && q->b[bi + 1].in_w == 1;
        uint32_t *lr = img->data[0] + (size_t)bi * 6;
        put(lr, 0, 16, (uint64_t)P);
        put(lr, 16, 16, (uint64_t)b->out_c);
        put(lr, 32, 16, (uint64_t)G);
        put(lr, 48, 6, (uint64_t)b->out_w);
        put(lr, 54, 6, (uint64_t)b->out_h);
        put(lr, 60, 2, (uint64_t)b->act);
        put(lr, 62, 1, (uint64_t)b->pool);
        put(lr, 63, 1, (uint64_t)flat);
        put(lr, 64, 20, (uint64_t)b->k);
        put(lr, 84, 6, (uint64_t)b->pool_h);
        put(lr, 90, 6, (uint64_t)b->pool_w);
        put(lr, 96, 20, (uint64_t)ptrb);
        put(lr, 116, 1, (uint64_t)dense);
        put(lr, 128, 16, (uint64_t)chb);
        put(lr, 144, 16, (uint64_t)Pp);
        for (int g = 0; g < G; g++)
            for (int j = 0; j < L; j++) {
                int o = g * L + j;
                if (o >= b->out_c) continue;
                uint32_t *cr = img->data[3 + j] + (size_t)(chb + g) * 3;
                put(cr, 0, 32, (uint32_t)b->bias[o]);
                int act = b->act != ZS_QACT_NONE;
                put(cr, 32, 16, act ? (uint64_t)b->ma[o] : 0);
                put(cr, 48, 6, act ? (uint64_t)b->sha[o] : 1);
                put(cr, 54, 16, b->act == ZS_QACT_KWTA ? (uint64_t)b->mb[o] : 0);
                put(cr, 70, 6, b->act == ZS_QACT_KWTA ? (uint64_t)b->shb[o] : 1);
            }
        int chunks = img->mem[1].chunks;
        for (int c = 0; c < b->in_c; c++) {
            memset(cnt, 0, sizeof(int32_t) * (size_t)L);
            int r = 0;
            for (int o = 0; o < b->out_c; o++)
                for (int t = 0; t < K; t++) {
                    int8_t w = b->w[((size_t)o * b->in_c + c) * K + t];
                    if (!dense && !w) continue;
                    int j = o % L, ky = t / b->kw, kx = t % b->kw;
                    uint32_t *rw = img->data[1] + (size_t)(row + cnt[j]) * chunks;
                    int64_t off = (int64_t)(o / L) * P - (ky * b->out_w + kx);
                    int lo = j * slot_w;
                    put(rw, lo, 1, 1);
                    put(rw, lo + 1, 3, (uint64_t)ky);
                    put(rw, lo + 4, 3, (uint64_t)kx);
                    put(rw, lo + 7, 8, (uint8_t)w);
                    put(rw, lo + 15, off_w, (uint64_t)off & ((1ull << off_w) - 1));
                    cnt[j]++;
                    if (cnt[j] > r) r = cnt[j];
                }
            img->data[2][ptrb + c] = (uint32_t)row | (uint32_t)r << 20;
            row += r;
        }
        ptrb += b->in_c;
        chb += G;
    }
    free(cnt);
    *out = img;
    return ZS_OK;
fail:
    free(cnt);
    zs_hw_image_free(img);
    return st;
}

int zs_hw_image_num_mems(const zs_hw_image *img) { return img ? img->n_mems : 0; }

zs_status zs_hw_image_mem(const zs_hw_image *img, int i, zs_hw_mem *m) {
    ZS_RETURN_IF(!img || !m || i < 0 || i >= img->n_mems, ZS_EINVAL, "zs_hw_image_mem: bad argument");
    *m = img->mem[i];
    return ZS_OK;
}

int zs_hw_image_num_params(const zs_hw_image *img) { return img ? HW_NPARAMS : 0; }

zs_status zs_hw_image_param(const zs_hw_image *img, int i, const char **name, int64_t *value) {
    ZS_RETURN_IF(!img || i < 0 || i >= HW_NPARAMS, ZS_EINVAL, "zs_hw_image_param: bad argument");
    if (name) *name = param_names[i];
    if (value) *value = img->params[i];
    return ZS_OK;
}

zs_status zs_hw_input_lists(const zs_hw_image *img, const int8_t *xq, uint32_t *entries, size_t cap,
                            int32_t *counts) {
    ZS_RETURN_IF(!img || !xq || !entries || !counts, ZS_EINVAL, "zs_hw_input_lists: NULL argument");
    int L = img->lanes;
    ZS_RETURN_IF(cap < (size_t)img->params[P_LIST], ZS_EINVAL, "zs_hw_input_lists: cap below LIST_DEPTH");
    for (int j = 0; j < L; j++) counts[j] = 0;
    int i = 0;
    for (int c = 0; c < img->in_c; c++)
        for (int y = 0; y < img->in_h; y++)
            for (int x = 0; x < img->in_w; x++) {
                int8_t v = xq[((size_t)c * img->in_h + y) * img->in_w + x];
                if (!v && !(img->flags & ZS_HW_DENSE)) continue;
                int j = i++ % L;
                entries[(size_t)j * cap + counts[j]++] =
                    (uint8_t)v | (uint32_t)x << 8 | (uint32_t)y << 13 | (uint32_t)c << 18;
            }
    return ZS_OK;
}

zs_status zs_hw_image_write(const zs_hw_image *img, const char *dir) {
    ZS_RETURN_IF(!img || !dir, ZS_EINVAL, "zs_hw_image_write: NULL argument");
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) return ZS_ERR(ZS_EIO, "%s: %s", dir, strerror(errno));
    zs_status st = ZS_OK;
    for (int i = 0; i <= img->n_mems && st == ZS_OK; i++) {
        char path[4096];
        size_t cap = 1 << 16, n = 0;
        char *buf = NULL;
        if (i < img->n_mems) {
            const zs_hw_mem *m = &img->mem[i];
            snprintf(path, sizeof path, "%s/%s.hex", dir, m->name);
            cap = m->depth * ((size_t)m->chunks * 8 + 1) + 1;
            buf = malloc(cap);
            if (!buf) return ZS_ERR(ZS_ENOMEM, "out of memory");
            for (size_t r = 0; r < m->depth; r++) {
                for (int c = m->chunks - 1; c >= 0; c--)
                    n += (size_t)snprintf(buf + n, cap - n, "%08x", m->data[r * m->chunks + c]);
                buf[n++] = '\n';
            }
        } else {
            snprintf(path, sizeof path, "%s/params.vh", dir);
            buf = malloc(cap);
            if (!buf) return ZS_ERR(ZS_ENOMEM, "out of memory");
            n += (size_t)snprintf(buf + n, cap - n, "// zs_core parameters from the model compiler (src/hwcompile.c)\n");
            for (int p = 0; p < HW_NPARAMS; p++)
                n += (size_t)snprintf(buf + n, cap - n, "localparam integer ZS_%s = %lld;\n", param_names[p],
                                      (long long)img->params[p]);
        }
        const void *bufs[1] = {buf};
        size_t sizes[1] = {n};
        st = zs_write_file_atomic(path, bufs, sizes, 1);
        free(buf);
    }
    return st;
}
