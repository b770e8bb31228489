/*
 * test_quant.c — the integer inference path (src/quant.c) and the hardware
 * model compiler (src/hwcompile.c):
 *  - deterministic, bit-identical int32 logits (same qnet twice, two qnets
 *    built from the same inputs);
 *  - top-1 agreement with the fp32 path on the calibration features (printed;
 *    asserted >= 95 %) and the six real clips' features in tests/data/audio
 *    (at most one differs); the test-split figures are in docs/FPGA.md;
 *  - log-probabilities normalised and ranked like the logits;
 *  - every unsupported or bad input refused with the right status;
 *  - the int16 scheme (ZS_QNET_INT16): bit-identical across qnets, top-1
 *    equal to fp32 on the 40 calibration features and the six real clips,
 *    refused by the hardware compiler;
 *  - the compiled images hold exactly the non-zero int8 weights, each once,
 *    in the lane of its output channel, with row counts as the pointers say.
 */
#include "check.h"
#include "quant.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define NF 1024

static int argmax_f(const float *p, int k) { int b = 0; for (int i = 1; i < k; i++) if (p[i] > p[b]) b = i; return b; }
static int argmax_i(const int32_t *p, int k) { int b = 0; for (int i = 1; i < k; i++) if (p[i] > p[b]) b = i; return b; }

static int read_f32(const char *path, float *dst, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t got = fread(dst, sizeof(float), n, f);
    fclose(f);
    return got == n ? 0 : -1;
}

static void check_image(const zs_qnet *q, int lanes) {
    zs_hw_image *img = NULL;
    zs_status st = zs_hw_compile(&img, q, lanes, 0);
    CHECK(st == ZS_OK, "hw compile %d lanes: %s", lanes, zs_last_error());
    if (st) return;
    zs_hw_mem wr, pt;
    CHECK(zs_hw_image_mem(img, 1, &wr) == ZS_OK && !strcmp(wr.name, "wrow"), "wrow memory");
    CHECK(zs_hw_image_mem(img, 2, &pt) == ZS_OK && !strcmp(pt.name, "ptr"), "ptr memory");
    int64_t off_w = 0;
    const char *nm;
    zs_hw_image_param(img, 8, &nm, &off_w);
    CHECK(!strcmp(nm, "OFF_W"), "param 8 is OFF_W");
    int slot_w = 15 + (int)off_w;
    size_t nz = 0, slots = 0, bad_lane = 0, bad_rows = 0, pi = 0;
    for (int b = 0; b < q->n_blocks; b++) {
        const zs_qblock *B = &q->b[b];
        size_t nw = (size_t)B->out_c * B->in_c * B->kh * B->kw;
        for (size_t i = 0; i < nw; i++) nz += B->w[i] != 0;
        int P = B->out_h * B->out_w;
        for (int c = 0; c < B->in_c; c++, pi++) {
            uint32_t start = pt.data[pi] & 0xfffff, rows = pt.data[pi] >> 20;
            int maxl = 0;
            for (int j = 0; j < lanes; j++) {
                int n = 0;
                for (uint32_t r = start; r < start + rows; r++) {
                    const uint32_t *row = wr.data + (size_t)r * wr.chunks;
                    int lo = j * slot_w;
                    int v = (row[lo / 32] >> (lo % 32)) & 1;
                    if (!v) continue;
                    n++;
                    slots++;
                    /* off = (o / lanes) * P - (ky*Wo + kx): o / lanes within range */
                    int64_t off = 0;
                    for (int t = 0; t < (int)off_w; t++) off |= (int64_t)((row[(lo + 15 + t) / 32] >> ((lo + 15 + t) % 32)) & 1) << t;
                    if (off >> (off_w - 1)) off -= (int64_t)1 << off_w;
                    int ky = 0;
                    for (int t = 0; t < 3; t++) ky |= ((row[(lo + 1 + t) / 32] >> ((lo + 1 + t) % 32)) & 1) << t;
                    int kx = 0;
                    for (int t = 0; t < 3; t++) kx |= ((row[(lo + 4 + t) / 32] >> ((lo + 4 + t) % 32)) & 1) << t;
                    int64_t ol = (off + ky * B->out_w + kx) / P;
                    int o = (int)ol * lanes + j;
                    if (o >= B->out_c || (off + ky * B->out_w + kx) % P) bad_lane++;
                    else {
                        int8_t w = 0;
                        for (int t = 0; t < 8; t++) w |= (int8_t)(((row[(lo + 7 + t) / 32] >> ((lo + 7 + t) % 32)) & 1) << t);
                        if (w != B->w[(((size_t)o * B->in_c + c) * B->kh + ky) * B->kw + kx] || !w) bad_lane++;
                    }
                }
                if (n > maxl) maxl = n;
            }
            if ((uint32_t)maxl != rows) bad_rows++;
        }
    }
    CHECK(slots == nz, "%d lanes: %zu valid slots for %zu non-zero int8 weights", lanes, slots, nz);
    CHECK(bad_lane == 0, "%d lanes: %zu slots decode to a wrong channel/weight", lanes, bad_lane);
    CHECK(bad_rows == 0, "%d lanes: %zu pointers with row counts != the fullest lane", lanes, bad_rows);
    zs_hw_image_free(img);
}

int main(void) {
    zs_net *net = NULL;
    zs_dataset *cd = NULL;
    zs_status st = zs_net_load(&net, "models/gsc-sparse.safetensors");
    CHECK(st == ZS_OK, "load gsc-sparse: %s", zs_last_error());
    st = zs_dataset_load(&cd, "models/calib-gsc.safetensors");
    CHECK(st == ZS_OK, "load calibration features: %s", zs_last_error());
    if (!net || !cd) return check_finish("quant");
    const float *cx = zs_dataset_features_const(cd);
    int n = zs_dataset_size(cd), K = zs_net_num_classes(net);

    zs_qnet *q = NULL, *q2 = NULL;
    CHECK(zs_qnet_create(&q, net, cx, n) == ZS_OK, "qnet: %s", zs_last_error());
    CHECK(zs_qnet_create(&q2, net, cx, n) == ZS_OK, "qnet 2: %s", zs_last_error());
    n = 40; /* enough samples for the comparisons below; keeps the test fast */
    if (!q || !q2) return check_finish("quant");
    CHECK(zs_qnet_num_classes(q) == K && zs_qnet_logit_scale(q) > 0, "classes and logit scale");

    /* ---- determinism and agreement on the calibration features ---- */
    int32_t *l1 = malloc(sizeof(int32_t) * (size_t)n * K), *l2 = malloc(sizeof(int32_t) * (size_t)n * K),
            *l3 = malloc(sizeof(int32_t) * (size_t)n * K);
    float *lp = malloc(sizeof(float) * (size_t)n * K), *fp = malloc(sizeof(float) * (size_t)n * K);
    CHECK(zs_qnet_infer(q, cx, n, l1, lp) == ZS_OK, "infer batch");
    CHECK(zs_qnet_infer(q, cx, n, l2, NULL) == ZS_OK, "infer again");
    CHECK(zs_qnet_infer(q2, cx, n, l3, NULL) == ZS_OK, "infer second qnet");
    CHECK(!memcmp(l1, l2, sizeof(int32_t) * (size_t)n * K), "same qnet twice: bit-identical logits");
    CHECK(!memcmp(l1, l3, sizeof(int32_t) * (size_t)n * K), "two qnets from the same inputs: bit-identical");
    int one_by_one = 1;
    for (int s = 0; s < n; s++) {
        int32_t l[64];
        zs_qnet_infer(q, cx + (size_t)s * NF, 1, l, NULL);
        if (memcmp(l, l1 + (size_t)s * K, sizeof(int32_t) * K)) one_by_one = 0;
    }
    CHECK(one_by_one, "batch of n equals n single calls");
    int norm_ok = 1, rank_ok = 1;
    for (int s = 0; s < n; s++) {
        double sum = 0;
        for (int i = 0; i < K; i++) sum += exp(lp[(size_t)s * K + i]);
        if (fabs(sum - 1) > 1e-4) norm_ok = 0;
        if (argmax_f(lp + (size_t)s * K, K) != argmax_i(l1 + (size_t)s * K, K)) rank_ok = 0;
    }
    CHECK(norm_ok, "log-probabilities sum to 1");
    CHECK(rank_ok, "argmax of log-probabilities = argmax of logits");
    CHECK(zs_net_infer(net, cx, n, fp) == ZS_OK, "fp32 infer");
    int agree = 0;
    for (int s = 0; s < n; s++) agree += argmax_f(fp + (size_t)s * K, K) == argmax_i(l1 + (size_t)s * K, K);
    printf("top-1 agreement int8 vs fp32, calibration features: %d / %d\n", agree, n);
    CHECK(agree * 100 >= 95 * n, "agreement on the calibration features %d / %d >= 95 %%", agree, n);

    /* ---- real clips not in the calibration set ---- */
    const char *clips[] = {"0_george_0", "7_jackson_32", "no_1000ms", "noise_1000ms", "silence_1000ms", "yes_1000ms"};
    int ca = 0, cn = 0;
    for (int c = 0; c < 6; c++) {
        char path[256];
        float x[NF], f[64];
        int32_t l[64];
        snprintf(path, sizeof path, "audio/%s.logmel.f32", clips[c]);
        if (read_f32(check_data(path), x, NF)) { CHECK(0, "read %s", path); continue; }
        zs_net_infer(net, x, 1, f);
        zs_qnet_infer(q, x, 1, l, NULL);
        cn++;
        ca += argmax_f(f, K) == argmax_i(l, K);
    }
    printf("top-1 agreement int8 vs fp32, tests/data/audio clips: %d / %d\n", ca, cn);
    CHECK(cn == 6 && ca >= cn - 1, "agreement on the real test clips %d / %d (one may differ)", ca, cn);

    /* ---- bad inputs ---- */
    float bad[NF];
    memcpy(bad, cx, sizeof bad);
    bad[5] = NAN;
    int32_t l[64], lg_dummy[64];
    int8_t xq[NF];
    CHECK(zs_qnet_infer(q, bad, 1, l, NULL) == ZS_ENUMERIC, "NaN input: ZS_ENUMERIC");
    CHECK(zs_qnet_quantize_input(q, bad, xq) == ZS_ENUMERIC, "NaN input quantised: ZS_ENUMERIC");
    CHECK(zs_qnet_infer(q, cx, 1, NULL, NULL) == ZS_EINVAL, "no output: ZS_EINVAL");
    zs_qnet *qq = NULL;
    CHECK(zs_qnet_create(&qq, net, cx, 0) == ZS_EINVAL && !qq, "no calibration: ZS_EINVAL");
    CHECK(zs_qnet_create(&qq, net, bad, 1) == ZS_ENUMERIC && !qq, "NaN calibration: ZS_ENUMERIC");
    zs_net *fast = NULL;
    CHECK(zs_net_create_preset(&fast, "gsc-sparse-fast", 1) == ZS_OK, "preset gsc-sparse-fast");
    CHECK(zs_qnet_create(&qq, fast, cx, 4) == ZS_EUNSUPPORTED && !qq, "pool before k-WTA: ZS_EUNSUPPORTED (%s)",
          zs_last_error());
    zs_net_free(fast);
    zs_net *mlp = NULL;
    CHECK(zs_net_create_preset(&mlp, "mnist-sparse-mlp", 1) == ZS_OK, "preset mnist-sparse-mlp");
    float *mx = calloc(4 * 784, sizeof(float));
    for (int i = 0; i < 4 * 784; i++) mx[i] = (float)((i * 37) % 101) / 100.0f;
    CHECK(zs_qnet_create(&qq, mlp, mx, 4) == ZS_OK, "mnist-sparse-mlp (linear, BN, k-WTA, linear) quantises: %s",
          zs_last_error());
    zs_qnet_free(qq);
    qq = NULL;
    free(mx);
    zs_net_free(mlp);

    /* ---- the int16 scheme (ZS_QNET_INT16) ---- */
    {
        zs_qnet *h = NULL, *h2 = NULL;
        int m = 40;
        CHECK(zs_qnet_create_mode(&h, net, cx, zs_dataset_size(cd), ZS_QNET_INT16) == ZS_OK, "int16 qnet: %s",
              zs_last_error());
        CHECK(zs_qnet_create_mode(&h2, net, cx, zs_dataset_size(cd), ZS_QNET_INT16) == ZS_OK, "int16 qnet 2");
        if (h && h2) {
            int32_t *a1 = malloc(sizeof(int32_t) * (size_t)m * K), *a2 = malloc(sizeof(int32_t) * (size_t)m * K);
            CHECK(zs_qnet_infer(h, cx, m, a1, NULL) == ZS_OK && zs_qnet_infer(h2, cx, m, a2, NULL) == ZS_OK,
                  "int16 infer");
            CHECK(!memcmp(a1, a2, sizeof(int32_t) * (size_t)m * K), "int16: two qnets, bit-identical logits");
            int ag = 0, diff = 0;
            for (int s = 0; s < m; s++) {
                ag += argmax_f(fp + (size_t)s * K, K) == argmax_i(a1 + (size_t)s * K, K);
                diff += memcmp(a1 + (size_t)s * K, l1 + (size_t)s * K, sizeof(int32_t) * K) != 0;
            }
            printf("top-1 agreement int16 vs fp32, calibration features: %d / %d\n", ag, m);
            CHECK(ag == m, "int16: agreement on the calibration features %d / %d", ag, m);
            CHECK(diff == m, "int16 logits are not the int8 scheme's");
            int c16 = 0;
            for (int c = 0; c < 6; c++) {
                char path[256];
                float x[NF], f[64];
                int32_t lg[64];
                snprintf(path, sizeof path, "audio/%s.logmel.f32", clips[c]);
                if (read_f32(check_data(path), x, NF)) continue;
                zs_net_infer(net, x, 1, f);
                zs_qnet_infer(h, x, 1, lg, NULL);
                c16 += argmax_f(f, K) == argmax_i(lg, K);
            }
            CHECK(c16 == 6, "int16: agreement on the six real clips %d / 6", c16);
            CHECK(zs_qnet_infer(h, bad, 1, lg_dummy, NULL) == ZS_ENUMERIC, "int16: NaN input: ZS_ENUMERIC");
            CHECK(zs_qnet_quantize_input(h, cx, xq) == ZS_EUNSUPPORTED, "int16: no int8 input: ZS_EUNSUPPORTED");
            zs_hw_image *hi = NULL;
            CHECK(zs_hw_compile(&hi, h, 4, 0) == ZS_EUNSUPPORTED && !hi, "int16: hw compile refused");
            free(a1); free(a2);
        }
        zs_qnet_free(h);
        zs_qnet_free(h2);
        CHECK(zs_qnet_create_mode(&qq, net, cx, 4, 7) == ZS_EINVAL && !qq, "unknown mode: ZS_EINVAL");
        zs_net *mlp2 = NULL;
        if (zs_net_create_preset(&mlp2, "mnist-sparse-mlp", 1) == ZS_OK) {
            float *x2 = calloc(4 * 784, sizeof(float));
            CHECK(zs_qnet_create_mode(&qq, mlp2, x2, 4, ZS_QNET_INT16) == ZS_EUNSUPPORTED && !qq,
                  "int16 needs a conv + k-WTA + pool first block: ZS_EUNSUPPORTED (%s)", zs_last_error());
            free(x2);
            zs_net_free(mlp2);
        }
    }

    /* ---- hardware images ---- */
    zs_hw_image *img = NULL;
    CHECK(zs_hw_compile(&img, q, 3, 0) == ZS_EINVAL && !img, "3 lanes: ZS_EINVAL");
    CHECK(zs_hw_compile(&img, q, 128, 0) == ZS_EINVAL && !img, "128 lanes: ZS_EINVAL");
    check_image(q, 1);
    check_image(q, 4);
    check_image(q, 16);
    /* input lists: every non-zero input once, dealt round-robin */
    if (zs_hw_compile(&img, q, 4, 0) == ZS_OK) {
        int64_t depth;
        zs_hw_image_param(img, 3, NULL, &depth);
        uint32_t *ent = malloc(sizeof(uint32_t) * 4 * (size_t)depth);
        int32_t cnt[4];
        zs_qnet_quantize_input(q, cx, xq);
        CHECK(zs_hw_input_lists(img, xq, ent, (size_t)depth, cnt) == ZS_OK, "input lists");
        int nzx = 0, ok = 1, tot = 0;
        for (int i = 0; i < NF; i++) nzx += xq[i] != 0;
        for (int j = 0; j < 4; j++)
            for (int e = 0; e < cnt[j]; e++, tot++) {
                uint32_t v = ent[(size_t)j * depth + e];
                int x = (v >> 8) & 31, y = (v >> 13) & 31, c = (int)(v >> 18);
                if (c != 0 || (int8_t)(v & 255) != xq[y * 32 + x] || !xq[y * 32 + x]) ok = 0;
            }
        CHECK(tot == nzx && ok, "input lists: %d entries for %d non-zero inputs, values match", tot, nzx);
        free(ent);
        zs_hw_image_free(img);
    }
    zs_qnet_free(q);
    zs_qnet_free(q2);
    free(l1); free(l2); free(l3); free(lp); free(fp);
    zs_dataset_free(cd);
    zs_net_free(net);
    return check_finish("quant");
}
