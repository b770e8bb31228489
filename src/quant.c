/*
 * quant.c — the integer inference path: a plain scalar reference (see
 * quant.h for the arithmetic). zs_qnet_create folds BatchNorm into the
 * weights, quantises weights per output channel (symmetric int8), and
 * calibrates one activation scale and one k-WTA score scale per block on
 * the caller's features (a float forward of the folded network); after the
 * input is quantised everything is integer and deterministic.
 */
#include "quant.h"
#include "net.h"
#include "layers.h"
#include "kernels/kernels.h"
#include <float.h>
#include <math.h>
#include <string.h>

int32_t zs_q_rq(int32_t x, int32_t m, int sh) {
    int64_t t = (int64_t)x * m + ((int64_t)1 << (sh - 1));
    /* floor division by 2^sh (arithmetic shift, written portably) */
    int64_t r = t >= 0 ? t >> sh : -(int64_t)(((uint64_t)(-t) + (((uint64_t)1 << sh) - 1)) >> sh);
    if (r > INT32_MAX) r = INT32_MAX;
    if (r < INT32_MIN) r = INT32_MIN;
    return (int32_t)r;
}

/* real multiplier M > 0 -> (m, sh): M ~= m / 2^sh, m in [2^14, 2^15). */
static zs_status fixed_point(double M, int32_t *m, int8_t *sh, const char *what) {
    if (!(M > 0) || !isfinite(M)) return ZS_ERR(ZS_ENUMERIC, "quantise: %s: multiplier %g not positive", what, M);
    int e;
    double f = frexp(M, &e);            /* M = f * 2^e, f in [0.5, 1) */
    long mm = lround(f * 32768.0);
    int s = 15 - e;
    if (mm == 32768) { mm = 16384; s--; }
    if (s < 1 || s > 62)
        return ZS_ERR(ZS_ENUMERIC, "quantise: %s: multiplier %g out of the fixed-point range", what, M);
    *m = (int32_t)mm;
    *sh = (int8_t)s;
    return ZS_OK;
}

/* float twin of a block for calibration: folded weights and bias */
typedef struct {
    float *w, *b;       /* (out_c, fan_in), (out_c) folded */
    float *boost;       /* (out_c) k-WTA boost factor per output channel */
} fblock;

static void qblock_free(zs_qblock *b) {
    free(b->w); free(b->bias); free(b->ma); free(b->mb); free(b->sha); free(b->shb);
    free(b->w16); free(b->mk); free(b->shk);
}

void zs_qnet_free(zs_qnet *q) {
    if (!q) return;
    for (int i = 0; i < q->n_blocks; i++) qblock_free(&q->b[i]);
    free(q->b);
    free(q->acc); free(q->buf0); free(q->buf1); free(q->buf2); free(q->score); free(q->hist);
    if (q->c1) zs_conv_taps_free(q->c1);
    free(q->c1); free(q->c1_boost); free(q->c1_scale); free(q->c1_y); free(q->c1_p); free(q->kwork);
    free(q->a16[0]); free(q->a16[1]); free(q->keys); free(q->sel);
    free(q);
}

/* float forward of one block on one sample (kept weights only) */
static void fconv(float *y, const float *x, const zs_qblock *b, const fblock *f) {
    int P = b->out_h * b->out_w, K = b->kh * b->kw, fan = b->in_c * K;
    for (int o = 0; o < b->out_c; o++) {
        float *yo = y + (size_t)o * P;
        for (int p = 0; p < P; p++) yo[p] = f->b[o];
        const float *wo = f->w + (size_t)o * fan;
        for (int c = 0; c < b->in_c; c++)
            for (int ky = 0; ky < b->kh; ky++)
                for (int kx = 0; kx < b->kw; kx++) {
                    float wv = wo[(c * b->kh + ky) * b->kw + kx];
                    if (wv == 0.0f) continue;
                    for (int oy = 0; oy < b->out_h; oy++) {
                        const float *row = x + ((size_t)c * b->in_h + oy + ky) * b->in_w + kx;
                        float *yr = yo + oy * b->out_w;
                        for (int ox = 0; ox < b->out_w; ox++) yr[ox] += wv * row[ox];
                    }
                }
    }
}


/* 2x2 stride-2 max-pool of a (C, H, W) map */
#define POOL_BODY(T)                                                                    \
    for (int c = 0; c < C; c++)                                                         \
        for (int py = 0; py < H / 2; py++)                                              \
            for (int px = 0; px < W / 2; px++) {                                        \
                const T *r0 = in + ((size_t)c * H + 2 * py) * W + 2 * px, *r1 = r0 + W; \
                T m = r0[0];                                                            \
                if (r0[1] > m) m = r0[1];                                               \
                if (r1[0] > m) m = r1[0];                                               \
                if (r1[1] > m) m = r1[1];                                               \
                out[((size_t)c * (H / 2) + py) * (W / 2) + px] = m;                     \
            }
static void pool_f(float *out, const float *in, int C, int H, int W) { POOL_BODY(float) }
static void pool_i8(int8_t *out, const int8_t *in, int C, int H, int W) { POOL_BODY(int8_t) }

/* Parse the network into blocks (shapes, activation, k, pool) and float
 * folded weights. */
static zs_status build_blocks(zs_qnet *q, fblock *fb, const zs_net *net) {
    int nb = 0, i = 0, n = net->n_layers;
    while (i < n && (net->layers[i].type == ZS_FLATTEN || net->layers[i].type == ZS_DROPOUT)) i++;
    while (i < n) {
        const zs_layer *L = &net->layers[i];
        if (L->type != ZS_CONV2D && L->type != ZS_LINEAR)
            return ZS_ERR(ZS_EUNSUPPORTED, "quantise: layer '%s': expected conv2d or linear (the integer "
                          "path takes conv/linear [batchnorm] [kwinners|relu] [maxpool] blocks)", L->name);
        if (nb >= ZS_MAX_LAYERS) return ZS_ERR(ZS_ELIMIT, "quantise: too many layers");
        if (L->type == ZS_CONV2D && (L->stride != 1 || L->pad != 0))
            return ZS_ERR(ZS_EUNSUPPORTED, "quantise: layer '%s': only stride 1, padding 0 convolutions", L->name);
        zs_qblock *b = &q->b[nb];
        fblock *f = &fb[nb];
        memset(b, 0, sizeof *b);
        int lin = L->type == ZS_LINEAR;
        b->in_c = lin ? (int)L->fan_in : L->in_c;
        b->in_h = lin ? 1 : L->in_h;
        b->in_w = lin ? 1 : L->in_w;
        b->out_c = L->out_c;
        b->out_h = lin ? 1 : L->out_h;
        b->out_w = lin ? 1 : L->out_w;
        b->kh = lin ? 1 : L->kh;
        b->kw = lin ? 1 : L->kw;
        size_t fan = L->fan_in, nw = (size_t)L->out_c * fan;
        f->w = malloc(sizeof(float) * nw);
        f->b = calloc((size_t)L->out_c, sizeof(float));
        f->boost = malloc(sizeof(float) * (size_t)L->out_c);
        if (!f->w || !f->b || !f->boost) return ZS_ERR(ZS_ENOMEM, "out of memory");
        zs_layer_weights_dense(L, f->w); /* dense or packed form, masked weights 0 */
        for (int o = 0; o < L->out_c; o++) { f->b[o] = L->b ? L->b[o] : 0.0f; f->boost[o] = 1.0f; }
        i++;
        if (i < n && net->layers[i].type == ZS_BATCHNORM) {
            const zs_layer *B = &net->layers[i];
            if (B->in_c != L->out_c) return ZS_ERR(ZS_ESHAPE, "quantise: batchnorm '%s' shape", B->name);
            for (int o = 0; o < L->out_c; o++) {
                float inv = (float)(1.0 / sqrt((double)B->running_var[o] + B->bn_eps));
                float g = B->gamma ? B->gamma[o] : 1.0f, be = B->beta ? B->beta[o] : 0.0f;
                float s = inv * g;
                for (size_t j = 0; j < fan; j++) f->w[(size_t)o * fan + j] *= s;
                f->b[o] = (f->b[o] - B->running_mean[o]) * s + be;
            }
            i++;
        }
        b->act = ZS_QACT_NONE;
        if (i < n && (net->layers[i].type == ZS_KWINNERS || net->layers[i].type == ZS_KWINNERS2D)) {
            const zs_layer *K = &net->layers[i];
            if (K->local) return ZS_ERR(ZS_EUNSUPPORTED, "quantise: layer '%s': local k-WTA", K->name);
            int U = b->out_c * b->out_h * b->out_w;
            b->act = ZS_QACT_KWTA;
            b->k = K->k_inference < U ? K->k_inference : U;
            float td = (float)((double)b->k / U);
            for (int o = 0; o < b->out_c; o++) {
                /* 2d: duty per channel; 1d: per unit (= channel here) */
                f->boost[o] = expf((td - K->duty[o]) * K->boost_strength);
                if (!(f->boost[o] > 0) || !isfinite(f->boost[o]))
                    return ZS_ERR(ZS_ENUMERIC, "quantise: layer '%s': boost factor not finite", K->name);
            }
            i++;
        } else if (i < n && net->layers[i].type == ZS_RELU) {
            b->act = ZS_QACT_RELU;
            i++;
        }
        b->pool_h = b->out_h;
        b->pool_w = b->out_w;
        if (i < n && net->layers[i].type == ZS_MAXPOOL2D) {
            const zs_layer *P = &net->layers[i];
            if (P->pool_k != 2 || P->pool_stride != 2 || b->act == ZS_QACT_NONE)
                return ZS_ERR(ZS_EUNSUPPORTED, "quantise: layer '%s': only 2x2 stride-2 max-pool after "
                              "k-WTA or ReLU", P->name);
            b->pool = 1;
            b->pool_h = b->out_h / 2;
            b->pool_w = b->out_w / 2;
            i++;
        }
        while (i < n && (net->layers[i].type == ZS_FLATTEN || net->layers[i].type == ZS_DROPOUT)) i++;
        nb++;
        if (b->act == ZS_QACT_NONE) {
            if (i < n && net->layers[i].type == ZS_LOGSOFTMAX) i++;
            if (i != n)
                return ZS_ERR(ZS_EUNSUPPORTED, "quantise: layer '%s': a weight layer without k-WTA or ReLU "
                              "must be the output layer", L->name);
        }
    }
    if (nb == 0 || q->b[nb - 1].act != ZS_QACT_NONE)
        return ZS_ERR(ZS_EUNSUPPORTED, "quantise: the network must end in a linear output layer");
    q->n_blocks = nb;
    /* shapes chain */
    for (int j = 1; j < nb; j++) {
        const zs_qblock *p = &q->b[j - 1], *c = &q->b[j];
        if ((size_t)p->out_c * p->pool_h * p->pool_w != (size_t)c->in_c * c->in_h * c->in_w)
            return ZS_ERR(ZS_ESHAPE, "quantise: block %d input does not match block %d output", j, j - 1);
    }
    return ZS_OK;
}

/* key of an int16 score as an unsigned order-preserving value */
static inline int key16(int16_t s) { return (int)(uint16_t)s ^ 0x8000; }

/* integer k-WTA: out = winner ? act : 0 (k largest scores, ties to lower index) */
static void kwta_int(int8_t *out, const int8_t *act, const int16_t *score, int U, int k, int32_t *hist) {
    memset(hist, 0, sizeof(int32_t) * 65536);
    for (int u = 0; u < U; u++) hist[key16(score[u])]++;
    int t = 65535, above = 0;
    for (; t > 0; t--) {
        if (above + hist[t] >= k) break;
        above += hist[t];
    }
    int ties = k - above;
    for (int u = 0; u < U; u++) {
        int kk = key16(score[u]);
        int win = kk > t || (kk == t && ties > 0);
        if (kk == t && ties > 0) ties--;
        out[u] = win ? act[u] : 0;
    }
}

/* acc[o][p] = bias[o] + sum of w * a over the block's kept taps (valid
 * convolution; a linear layer is the 1x1 case), for int8 and int16 operands
 * alike: int32 accumulation, zero weights skipped. */
#define ZS_DEF_QCONV_ACC(NAME, T)                                                               \
    static void NAME(const zs_qblock *b, const T *w, const T *a, int32_t *acc) {                \
        int P = b->out_h * b->out_w, fan = b->in_c * b->kh * b->kw;                             \
        for (int o = 0; o < b->out_c; o++) {                                                    \
            int32_t *ao = acc + (size_t)o * P;                                                  \
            for (int p = 0; p < P; p++) ao[p] = b->bias[o];                                     \
            const T *wo = w + (size_t)o * fan;                                                  \
            for (int c = 0; c < b->in_c; c++)                                                   \
                for (int ky = 0; ky < b->kh; ky++)                                              \
                    for (int kx = 0; kx < b->kw; kx++) {                                        \
                        int32_t wv = wo[(c * b->kh + ky) * b->kw + kx];                         \
                        if (!wv) continue;                                                      \
                        for (int oy = 0; oy < b->out_h; oy++) {                                 \
                            const T *row = a + ((size_t)c * b->in_h + oy + ky) * b->in_w + kx;  \
                            int32_t *arow = ao + oy * b->out_w;                                 \
                            for (int ox = 0; ox < b->out_w; ox++) arow[ox] += wv * row[ox];     \
                        }                                                                       \
                    }                                                                           \
        }                                                                                       \
    }
ZS_DEF_QCONV_ACC(qconv_acc8, int8_t)
ZS_DEF_QCONV_ACC(qconv_acc16, int16_t)

static void forward_int(zs_qnet *q, const int8_t *xq, int32_t *logits) {
    const int8_t *a = xq;
    for (int bi = 0; bi < q->n_blocks; bi++) {
        const zs_qblock *b = &q->b[bi];
        int P = b->out_h * b->out_w;
        int32_t *acc = q->acc;
        qconv_acc8(b, b->w, a, acc);
        if (b->act == ZS_QACT_NONE) {
            memcpy(logits, acc, sizeof(int32_t) * (size_t)b->out_c);
            return;
        }
        int U = b->out_c * P;
        int8_t *act = q->buf0, *out = q->buf1;
        for (int o = 0; o < b->out_c; o++)
            for (int p = 0; p < P; p++) {
                int32_t v = acc[(size_t)o * P + p];
                act[(size_t)o * P + p] = zs_q_sat8(zs_q_rq(v, b->ma[o], b->sha[o]));
                if (b->act == ZS_QACT_KWTA) q->score[(size_t)o * P + p] = zs_q_sat16(zs_q_rq(v, b->mb[o], b->shb[o]));
            }
        if (b->act == ZS_QACT_KWTA) kwta_int(out, act, q->score, U, b->k, q->hist);
        else
            for (int u = 0; u < U; u++) out[u] = act[u] > 0 ? act[u] : 0;
        /* the next block's input goes to buf2 (never aliases act/out) */
        if (b->pool) pool_i8(q->buf2, out, b->out_c, b->out_h, b->out_w);
        else memcpy(q->buf2, out, (size_t)U);
        a = q->buf2;
    }
}

static void quant_input(const zs_qnet *q, const float *x, int8_t *xq) {
    size_t n = (size_t)q->in_c * q->in_h * q->in_w;
    for (size_t i = 0; i < n; i++) {
        double v = zs_round_half_even(((double)x[i] - q->in_offset) / q->in_scale);
        xq[i] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
    }
}


#define TRY_RET(e) do { zs_status s_ = (e); if (s_ != ZS_OK) return s_; } while (0)

/* ======================= ZS_QNET_INT16 (see zeroskip.h) ======================= */

/* real multiplier M > 0 -> (m, sh): M ~= m / 2^sh, m in [2^30, 2^31). */
static zs_status fixed_point31(double M, int32_t *m, int8_t *sh, const char *what) {
    if (!(M > 0) || !isfinite(M)) return ZS_ERR(ZS_ENUMERIC, "quantise: %s: multiplier %g not positive", what, M);
    int e;
    double f = frexp(M, &e);
    long long mm = llround(f * 2147483648.0);
    int s = 31 - e;
    if (mm == 2147483648LL) { mm = 1073741824LL; s--; }
    if (s < 1 || s > 62)
        return ZS_ERR(ZS_ENUMERIC, "quantise: %s: multiplier %g out of the fixed-point range", what, M);
    *m = (int32_t)mm;
    *sh = (int8_t)s;
    return ZS_OK;
}

/* floor((x * m + 2^(sh-1)) / 2^sh) for m < 2^31, saturated to int32 */
static inline int32_t rq31(int32_t x, int32_t m, int sh) {
    int64_t t = (int64_t)x * m + ((int64_t)1 << (sh - 1));
    int64_t r = t >= 0 ? t >> sh : -(int64_t)(((uint64_t)(-t) + (((uint64_t)1 << sh) - 1)) >> sh);
    if (r > INT32_MAX) r = INT32_MAX;
    if (r < INT32_MIN) r = INT32_MIN;
    return (int32_t)r;
}

static inline int16_t sat_u12(int32_t v) { return (int16_t)(v > ZS_Q16_AMAX ? ZS_Q16_AMAX : v < 0 ? 0 : v); }


/* Block 0 through the plan's kernels: conv_dense (BatchNorm folded as the
 * plan folds it), kwta_select, kwta_pool. */
static zs_status build_c1(zs_qnet *q, const zs_net *net) {
    int i = 0, n = net->n_layers;
    while (i < n && (net->layers[i].type == ZS_FLATTEN || net->layers[i].type == ZS_DROPOUT)) i++;
    const zs_layer *L = &net->layers[i], *bn = NULL;
    if (i + 1 < n && net->layers[i + 1].type == ZS_BATCHNORM) bn = &net->layers[++i];
    const zs_layer *K = &net->layers[i + 1];
    const zs_qblock *b = &q->b[0];
    if (L->type != ZS_CONV2D || b->act != ZS_QACT_KWTA || K->type != ZS_KWINNERS2D || !b->pool)
        return ZS_ERR(ZS_EUNSUPPORTED, "quantise (int16): the first block must be conv2d [batchnorm] "
                      "kwinners2d maxpool2d");
    size_t nw = (size_t)L->out_c * L->fan_in, U = (size_t)b->out_c * b->out_h * b->out_w;
    float *w = malloc(sizeof(float) * nw), *bias = calloc((size_t)L->out_c, sizeof(float));
    q->c1 = calloc(1, sizeof *q->c1);
    q->c1_boost = malloc(sizeof(float) * (size_t)b->out_c);
    q->c1_scale = malloc(sizeof(float) * (size_t)b->out_c);
    q->c1_y = aligned_alloc(64, (sizeof(float) * U + 63) / 64 * 64);
    q->c1_p = aligned_alloc(64, (sizeof(float) * U + 63) / 64 * 64);
    q->kwork = aligned_alloc(64, (zs_kwta_work_size((int)U) + 63) / 64 * 64);
    if (!w || !bias || !q->c1 || !q->c1_boost || !q->c1_scale || !q->c1_y || !q->c1_p || !q->kwork) {
        free(w); free(bias);
        return ZS_ERR(ZS_ENOMEM, "out of memory");
    }
    zs_layer_weights_dense(L, w); /* dense or packed form, masked weights 0 */
    if (L->has_bias && L->b) memcpy(bias, L->b, sizeof(float) * (size_t)L->out_c);
    if (bn)
        zs_bn_fold(w, bias, L->out_c, L->fan_in, bn->running_mean, bn->running_var,
                   bn->affine ? bn->gamma : NULL, bn->affine ? bn->beta : NULL, bn->bn_eps);
    zs_status st = zs_conv_taps_pack(q->c1, w, bias, L->out_c, L->in_c, L->kh, L->kw, L->in_h, L->in_w, 0);
    free(w); free(bias);
    if (st != ZS_OK) return st;
    float td = (float)((double)K->k_inference / (double)U);
    for (int o = 0; o < b->out_c; o++) q->c1_boost[o] = expf((td - K->duty[o]) * K->boost_strength);
    q->K = zs_kernels_active();
    return ZS_OK;
}

/* Activation scale per channel: calibrated max / 4095; a channel that never
 * won on the calibration set takes the layer's largest scale. */
static void chan_scales(float *s, const float *amc, int C) {
    float m = 0;
    for (int c = 0; c < C; c++) m = fmaxf(m, amc[c]);
    for (int c = 0; c < C; c++) s[c] = (amc[c] > 0 ? amc[c] : m > 0 ? m : ZS_Q16_AMAX) / ZS_Q16_AMAX;
}

/* Quantise blocks 1.. of an int16 qnet. amc: (n_blocks, maxc) calibrated
 * max |winner| per output channel; smax: max |boosted score| per block. */
static zs_status build16(zs_qnet *q, fblock *fb, const zs_net *net, const float *amc, int maxc, const float *smax) {
    TRY_RET(build_c1(q, net));
    const zs_qblock *b0 = &q->b[0];
    chan_scales(q->c1_scale, amc, b0->out_c);
    size_t mx = q->max_map;
    q->a16[0] = malloc(sizeof(int16_t) * mx);
    q->a16[1] = malloc(sizeof(int16_t) * mx);
    q->keys = malloc(sizeof(int32_t) * mx);
    q->sel = malloc(sizeof(int32_t) * mx);
    if (!q->a16[0] || !q->a16[1] || !q->keys || !q->sel) return ZS_ERR(ZS_ENOMEM, "out of memory");
    for (int j = 1; j < q->n_blocks; j++) {
        zs_qblock *b = &q->b[j], *p = &q->b[j - 1];
        fblock *f = &fb[j];
        int KK = b->kh * b->kw, fan = b->in_c * KK, last = b->act == ZS_QACT_NONE;
        int per_ch = p->pool_h * p->pool_w / (b->in_h * b->in_w); /* inputs per previous channel */
        size_t nw = (size_t)b->out_c * fan;
        b->w16 = calloc(nw, sizeof(int16_t));
        b->bias = calloc((size_t)b->out_c, sizeof(int32_t));
        b->ma = calloc((size_t)b->out_c, sizeof(int32_t));
        b->sha = calloc((size_t)b->out_c, 1);
        b->mk = calloc((size_t)b->out_c, sizeof(int32_t));
        b->shk = calloc((size_t)b->out_c, 1);
        if (!b->w16 || !b->bias || !b->ma || !b->sha || !b->mk || !b->shk) return ZS_ERR(ZS_ENOMEM, "out of memory");
        /* fold the previous block's per-channel activation scales into w */
        const float *sprev = j == 1 ? q->c1_scale : NULL;
        float *sp = NULL;
        if (!sprev) {
            sp = malloc(sizeof(float) * (size_t)p->out_c);
            if (!sp) return ZS_ERR(ZS_ENOMEM, "out of memory");
            chan_scales(sp, amc + (size_t)(j - 1) * maxc, p->out_c);
            sprev = sp;
        }
        for (int o = 0; o < b->out_c; o++)
            for (int i = 0; i < fan; i++) f->w[(size_t)o * fan + i] *= sprev[(i / KK) / per_ch];
        free(sp);
        /* weight scale per output channel: the finest that keeps
         * 4095 * sum|w_q| + |bias_q| inside int32 (checked exactly below) */
        double *swo = malloc(sizeof(double) * (size_t)b->out_c);
        if (!swo) return ZS_ERR(ZS_ENOMEM, "out of memory");
        double swmax = 0;
        for (int o = 0; o < b->out_c; o++) {
            const float *wo = f->w + (size_t)o * fan;
            double l1 = 0, m = 0;
            int kc = 0;
            for (int i = 0; i < fan; i++) { l1 += fabs(wo[i]); m = fmax(m, fabs(wo[i])); kc += wo[i] != 0.0f; }
            double sw = fmax(m / 32767.0, (double)ZS_Q16_AMAX * l1 / (0.9 * 2147483648.0 - (double)ZS_Q16_AMAX * 0.5 * kc));
            swo[o] = sw > 0 ? sw : 1.0;
            swmax = fmax(swmax, swo[o]);
        }
        float *sa_out = malloc(sizeof(float) * (size_t)b->out_c);
        if (!sa_out) { free(swo); return ZS_ERR(ZS_ENOMEM, "out of memory"); }
        chan_scales(sa_out, amc + (size_t)j * maxc, b->out_c);
        double s_key = smax[j] > 0 ? 2.0 * smax[j] / 1073741824.0 : 1.0;
        for (int o = 0; o < b->out_c; o++) {
            const float *wo = f->w + (size_t)o * fan;
            double sw = last ? swmax : swo[o];
            if (!isfinite(sw)) { free(swo); free(sa_out); return ZS_ERR(ZS_ENUMERIC, "quantise: block %d: weights not finite", j); }
            double l1q = 0;
            for (int i = 0; i < fan; i++) {
                double v = zs_round_half_even((double)wo[i] / sw);
                v = v > 32767 ? 32767 : v < -32767 ? -32767 : v;
                b->w16[(size_t)o * fan + i] = (int16_t)v;
                l1q += fabs(v);
            }
            double bv = zs_round_half_even((double)f->b[o] / sw);
            if (!(fabs(bv) + (double)ZS_Q16_AMAX * l1q <= 2147483647.0)) {
                free(swo); free(sa_out);
                return ZS_ERR(ZS_ELIMIT, "quantise (int16): block %d channel %d: the accumulator may overflow int32", j, o);
            }
            b->bias[o] = (int32_t)bv;
            if (last) {
                if (o == 0) q->logit_scale = (float)sw;
                continue;
            }
            char what[48];
            snprintf(what, sizeof what, "block %d channel %d", j, o);
            double sa = sa_out[o];
            zs_status st = fixed_point(sw / sa, &b->ma[o], &b->sha[o], what);
            if (st == ZS_OK && b->act == ZS_QACT_KWTA) st = fixed_point31(sw * f->boost[o] / s_key, &b->mk[o], &b->shk[o], what);
            if (st != ZS_OK) { free(swo); free(sa_out); return st; }
        }
        free(swo);
        free(sa_out);
        b->s_score = (float)s_key;
    }
    return ZS_OK;
}

static void forward16(zs_qnet *q, const float *x, int32_t *logits) {
    const zs_qblock *b0 = &q->b[0];
    int P0 = b0->out_h * b0->out_w, PP = b0->pool_h * b0->pool_w;
    zs_kwta_cut cut;
    q->K->conv_dense(q->c1_y, x, q->c1);
    q->K->kwta_select(&cut, q->c1_y, q->c1_boost, b0->out_c, P0, b0->k, q->kwork);
    q->K->kwta_pool(q->c1_p, q->c1_y, q->c1_boost, b0->out_c, b0->out_h, b0->out_w, cut);
    int16_t *a = q->a16[0];
    for (int c = 0; c < b0->out_c; c++)
        for (int p = 0; p < PP; p++) {
            double v = zs_round_half_even((double)q->c1_p[(size_t)c * PP + p] / q->c1_scale[c]);
            a[(size_t)c * PP + p] = (int16_t)(v > ZS_Q16_AMAX ? ZS_Q16_AMAX : v < 0 ? 0 : v);
        }
    for (int bi = 1; bi < q->n_blocks; bi++) {
        const zs_qblock *b = &q->b[bi];
        int P = b->out_h * b->out_w, U = b->out_c * P;
        int32_t *acc = q->acc;
        qconv_acc16(b, b->w16, a, acc);
        if (b->act == ZS_QACT_NONE) {
            memcpy(logits, acc, sizeof(int32_t) * (size_t)b->out_c);
            return;
        }
        int16_t *out = a == q->a16[0] ? q->a16[1] : q->a16[0];
        /* the k-WTA output is written in place over acc's int16 view: use keys */
        if (b->act == ZS_QACT_KWTA) {
            for (int o = 0; o < b->out_c; o++)
                for (int p = 0; p < P; p++) q->keys[(size_t)o * P + p] = rq31(acc[(size_t)o * P + p], b->mk[o], b->shk[o]);
            memcpy(q->sel, q->keys, sizeof(int32_t) * (size_t)U);
            int32_t t = zs_kth_largest_i32(q->sel, U, b->k);
            int ties = b->k;
            for (int u = 0; u < U; u++) ties -= q->keys[u] > t;
            for (int u = 0; u < U; u++) {
                int32_t kk = q->keys[u];
                int win = kk > t || (kk == t && ties > 0);
                if (kk == t && ties > 0) ties--;
                acc[u] = win ? sat_u12(zs_q_rq(acc[u], b->ma[u / P], b->sha[u / P])) : 0;
            }
        } else {
            for (int u = 0; u < U; u++) acc[u] = sat_u12(zs_q_rq(acc[u], b->ma[u / P], b->sha[u / P]));
        }
        if (b->pool) {
            int H = b->out_h, W = b->out_w;
            for (int c = 0; c < b->out_c; c++)
                for (int py = 0; py < H / 2; py++)
                    for (int px = 0; px < W / 2; px++) {
                        const int32_t *r0 = acc + ((size_t)c * H + 2 * py) * W + 2 * px, *r1 = r0 + W;
                        int32_t m = r0[0];
                        if (r0[1] > m) m = r0[1];
                        if (r1[0] > m) m = r1[0];
                        if (r1[1] > m) m = r1[1];
                        out[((size_t)c * (H / 2) + py) * (W / 2) + px] = (int16_t)m;
                    }
        } else {
            for (int u = 0; u < U; u++) out[u] = (int16_t)acc[u];
        }
        a = out;
    }
}

zs_status zs_qnet_create_mode(zs_qnet **out, const zs_net *net, const float *calib_x, int n_calib, int mode) {
    zs_error_clear();
    ZS_RETURN_IF(!out || !net, ZS_EINVAL, "zs_qnet_create: NULL argument");
    *out = NULL;
    ZS_RETURN_IF(!calib_x || n_calib < 1, ZS_EINVAL, "zs_qnet_create: need at least one calibration sample");
    ZS_RETURN_IF(mode != ZS_QNET_INT8 && mode != ZS_QNET_INT16, ZS_EINVAL, "zs_qnet_create: unknown mode %d", mode);
    zs_status st = ZS_OK;
    zs_qnet *q = calloc(1, sizeof *q);
    fblock *fb = calloc(ZS_MAX_LAYERS, sizeof *fb);
    float *y = NULL, *xa = NULL, *xb = NULL, *sc = NULL;
    float *amax = NULL, *smax = NULL, *amc = NULL;
    int maxc = 1;
    if (!q || !fb || !(q->b = calloc(ZS_MAX_LAYERS, sizeof *q->b))) ZS_FAIL(ZS_ENOMEM, "out of memory");
    q->mode = mode;
    q->in_c = net->in_c; q->in_h = net->in_h; q->in_w = net->in_w;
    q->num_classes = net->num_classes;
    ZS_TRY(build_blocks(q, fb, net));
    for (int j = 0; j < q->n_blocks; j++) if (q->b[j].out_c > maxc) maxc = q->b[j].out_c;
    size_t in_n = (size_t)q->in_c * q->in_h * q->in_w, mx = in_n;
    for (int j = 0; j < q->n_blocks; j++) {
        size_t u = (size_t)q->b[j].out_c * q->b[j].out_h * q->b[j].out_w;
        if (u > mx) mx = u;
    }
    if ((size_t)q->b[q->n_blocks - 1].out_c != (size_t)q->num_classes)
        ZS_FAIL(ZS_ESHAPE, "quantise: output layer has %d outputs for %d classes", q->b[q->n_blocks - 1].out_c,
                q->num_classes);
    q->max_map = mx;
    y = malloc(sizeof(float) * mx); xa = malloc(sizeof(float) * mx); xb = malloc(sizeof(float) * mx);
    sc = malloc(sizeof(float) * mx);
    amax = calloc((size_t)q->n_blocks + 1, sizeof(float));
    smax = calloc((size_t)q->n_blocks + 1, sizeof(float));
    amc = calloc((size_t)q->n_blocks * maxc, sizeof(float));
    q->acc = malloc(sizeof(int32_t) * mx);
    q->buf0 = malloc(mx); q->buf1 = malloc(mx); q->buf2 = malloc(mx);
    q->score = malloc(sizeof(int16_t) * mx);
    q->hist = malloc(sizeof(int32_t) * 65536);
    if (!y || !xa || !xb || !sc || !amax || !smax || !amc || !q->acc || !q->buf0 || !q->buf1 || !q->buf2 || !q->score || !q->hist)
        ZS_FAIL(ZS_ENOMEM, "out of memory");

    /* ---- calibration: float forward of the folded network ---- */
    float in_max = -FLT_MAX, in_min = FLT_MAX;
    for (int s = 0; s < n_calib; s++) {
        const float *x = calib_x + (size_t)s * in_n;
        if (!zs_all_finite(x, in_n)) ZS_FAIL(ZS_ENUMERIC, "quantise: calibration sample %d is not finite", s);
        for (size_t i = 0; i < in_n; i++) { in_max = fmaxf(in_max, x[i]); in_min = fminf(in_min, x[i]); }
        memcpy(xa, x, sizeof(float) * in_n);
        for (int j = 0; j < q->n_blocks; j++) {
            const zs_qblock *b = &q->b[j];
            int P = b->out_h * b->out_w, U = b->out_c * P;
            fconv(y, xa, b, &fb[j]);
            if (b->act == ZS_QACT_NONE) {
                for (int u = 0; u < U; u++) amax[j] = fmaxf(amax[j], fabsf(y[u]));
                break;
            }
            if (b->act == ZS_QACT_KWTA) {
                for (int u = 0; u < U; u++) sc[u] = y[u] * fb[j].boost[u / P];
                for (int u = 0; u < U; u++) smax[j] = fmaxf(smax[j], fabsf(sc[u]));
                memcpy(xb, sc, sizeof(float) * U);
                float t = zs_kth_largest(xb, U, b->k);
                int ties = b->k;
                for (int u = 0; u < U; u++) ties -= sc[u] > t;
                for (int u = 0; u < U; u++) {
                    int win = sc[u] > t || (sc[u] == t && ties > 0);
                    if (sc[u] == t && ties > 0) ties--;
                    if (!win) y[u] = 0;
                }
            } else {
                for (int u = 0; u < U; u++) y[u] = y[u] > 0 ? y[u] : 0;
            }
            for (int u = 0; u < U; u++) amax[j] = fmaxf(amax[j], fabsf(y[u]));
            for (int u = 0; u < U; u++) amc[(size_t)j * maxc + u / P] = fmaxf(amc[(size_t)j * maxc + u / P], y[u]);
            if (b->pool) pool_f(xa, y, b->out_c, b->out_h, b->out_w);
            else memcpy(xa, y, sizeof(float) * U);
        }
    }
    /* x = in_offset + x_q * in_scale: the calibrated range centred on zero
     * (log-mel dB lie in [-80, 0]); the offset is folded into block 0's bias */
    q->in_offset = 0.0f;
    q->in_scale = fmaxf(fabsf(in_max), fabsf(in_min)) / 127.0f;
    if (!(q->in_scale > 0)) q->in_scale = 1.0f;
    {
        zs_qblock *b = &q->b[0];
        int fan = b->in_c * b->kh * b->kw;
        for (int o = 0; o < b->out_c; o++) {
            double sw = 0;
            for (int i = 0; i < fan; i++) sw += fb[0].w[(size_t)o * fan + i];
            fb[0].b[o] += (float)(q->in_offset * sw);
        }
    }

    if (mode == ZS_QNET_INT16) {
        ZS_TRY(build16(q, fb, net, amc, maxc, smax));
        goto done;
    }
    /* ---- quantise weights, biases, requantisation ---- */
    float s_in = q->in_scale;
    for (int j = 0; j < q->n_blocks; j++) {
        zs_qblock *b = &q->b[j];
        fblock *f = &fb[j];
        int fan = b->in_c * b->kh * b->kw, last = b->act == ZS_QACT_NONE;
        size_t nw = (size_t)b->out_c * fan;
        b->w = calloc(nw, 1);
        b->bias = calloc((size_t)b->out_c, sizeof(int32_t));
        b->ma = calloc((size_t)b->out_c, sizeof(int32_t));
        b->mb = calloc((size_t)b->out_c, sizeof(int32_t));
        b->sha = calloc((size_t)b->out_c, 1);
        b->shb = calloc((size_t)b->out_c, 1);
        if (!b->w || !b->bias || !b->ma || !b->mb || !b->sha || !b->shb) ZS_FAIL(ZS_ENOMEM, "out of memory");
        b->s_in = s_in;
        float tmax = 0;
        if (last)
            for (size_t i = 0; i < nw; i++) tmax = fmaxf(tmax, fabsf(f->w[i]));
        if (!(amax[j] > 0)) amax[j] = 1.0f;
        b->s_out = amax[j] / 127.0f;
        /* headroom x2 for scores: the k-WTA threshold needs resolution, the top may saturate */
        b->s_score = smax[j] > 0 ? 2.0f * smax[j] / 32767.0f : 1.0f;
        for (int o = 0; o < b->out_c; o++) {
            const float *wo = f->w + (size_t)o * fan;
            float m = last ? tmax : 0;
            if (!last)
                for (int i = 0; i < fan; i++) m = fmaxf(m, fabsf(wo[i]));
            float sw = m > 0 ? m / 127.0f : 1.0f;
            if (!isfinite(sw)) ZS_FAIL(ZS_ENUMERIC, "quantise: block %d: weights not finite", j);
            for (int i = 0; i < fan; i++) {
                double v = zs_round_half_even((double)wo[i] / sw);
                b->w[(size_t)o * fan + i] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
            }
            double sacc = (double)sw * s_in;        /* real value of one acc unit */
            double bv = zs_round_half_even((double)f->b[o] / sacc);
            if (!(fabs(bv) < 1e9)) ZS_FAIL(ZS_ENUMERIC, "quantise: block %d: bias out of range", j);
            b->bias[o] = (int32_t)bv;
            /* accumulator bound: |bias| + kept taps * 127 * 127 must fit int32 */
            double bound = fabs(bv) + (double)fan * 127 * 127;
            if (bound > 2.0e9) ZS_FAIL(ZS_ELIMIT, "quantise: block %d: accumulator may overflow int32", j);
            if (last) {
                if (o == 0) q->logit_scale = (float)sacc;
                continue;
            }
            char what[48];
            snprintf(what, sizeof what, "block %d channel %d", j, o);
            ZS_TRY(fixed_point(sacc / b->s_out, &b->ma[o], &b->sha[o], what));
            if (b->act == ZS_QACT_KWTA) ZS_TRY(fixed_point(sacc * f->boost[o] / b->s_score, &b->mb[o], &b->shb[o], what));
        }
        s_in = b->s_out;
    }
done:
    for (int j = 0; j < ZS_MAX_LAYERS; j++) { free(fb[j].w); free(fb[j].b); free(fb[j].boost); }
    free(fb); free(y); free(xa); free(xb); free(sc); free(amax); free(smax); free(amc);
    *out = q;
    return ZS_OK;
fail:
    if (fb)
        for (int j = 0; j < ZS_MAX_LAYERS; j++) { free(fb[j].w); free(fb[j].b); free(fb[j].boost); }
    free(fb); free(y); free(xa); free(xb); free(sc); free(amax); free(smax); free(amc);
    zs_qnet_free(q);
    return st;
}

zs_status zs_qnet_create(zs_qnet **out, const zs_net *net, const float *calib_x, int n_calib) {
    return zs_qnet_create_mode(out, net, calib_x, n_calib, ZS_QNET_INT8);
}

zs_status zs_qnet_quantize_input(const zs_qnet *q, const float *x, int8_t *xq) {
    zs_error_clear();
    ZS_RETURN_IF(!q || !x || !xq, ZS_EINVAL, "zs_qnet_quantize_input: NULL argument");
    ZS_RETURN_IF(q->mode != ZS_QNET_INT8, ZS_EUNSUPPORTED, "zs_qnet_quantize_input: the int16 scheme has a float input");
    size_t n = (size_t)q->in_c * q->in_h * q->in_w;
    ZS_RETURN_IF(!zs_all_finite(x, n), ZS_ENUMERIC, "input is NaN or Inf");
    quant_input(q, x, xq);
    return ZS_OK;
}

zs_status zs_qnet_infer(zs_qnet *q, const float *x, int n, int32_t *logits, float *logprob) {
    zs_error_clear();
    ZS_RETURN_IF(!q || !x || n < 0 || (!logits && !logprob), ZS_EINVAL, "zs_qnet_infer: bad argument");
    size_t in_n = (size_t)q->in_c * q->in_h * q->in_w;
    ZS_RETURN_IF(!zs_all_finite(x, in_n * (size_t)n), ZS_ENUMERIC, "input is NaN or Inf");
    int K = q->num_classes;
    int8_t *xq = malloc(in_n);
    int32_t *lg = malloc(sizeof(int32_t) * (size_t)K);
    if (!xq || !lg) { free(xq); free(lg); return ZS_ERR(ZS_ENOMEM, "out of memory"); }
    for (int s = 0; s < n; s++) {
        if (q->mode == ZS_QNET_INT16) forward16(q, x + (size_t)s * in_n, lg);
        else {
            quant_input(q, x + (size_t)s * in_n, xq);
            forward_int(q, xq, lg);
        }
        if (logits) memcpy(logits + (size_t)s * K, lg, sizeof(int32_t) * K);
        if (logprob) {
            float *lp = logprob + (size_t)s * K;
            double m = -DBL_MAX, sum = 0;
            for (int i = 0; i < K; i++) m = fmax(m, (double)lg[i] * q->logit_scale);
            for (int i = 0; i < K; i++) sum += exp((double)lg[i] * q->logit_scale - m);
            double ls = log(sum);
            for (int i = 0; i < K; i++) lp[i] = (float)((double)lg[i] * q->logit_scale - m - ls);
        }
    }
    free(xq); free(lg);
    return ZS_OK;
}

int zs_qnet_num_classes(const zs_qnet *q) { return q ? q->num_classes : 0; }
float zs_qnet_logit_scale(const zs_qnet *q) { return q ? q->logit_scale : 0.0f; }
