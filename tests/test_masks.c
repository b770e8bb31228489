/* test_masks.c — mask structures ("structure": "block" / "complementary" / "routed",
 * docs/ARCHITECTURE.md "Mask structures"): the presets' masks have the
 * structure, the seed decides them, training keeps them, a saved model
 * keeps them, and bad combinations are refused with the key named. */
#include "check.h"
#include "net.h"
#include "zeroskip.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const zs_layer *find(const zs_net *net, const char *name) {
    for (int i = 0; i < net->n_layers; i++)
        if (!strcmp(net->layers[i].name, name)) return &net->layers[i];
    return NULL;
}

/* kept units of each fan-in position come in aligned blocks of B (the last
 * block shorter), every unit keeps exactly nnz, masked weights are 0 */
static int is_block(const zs_layer *L, int B, int nnz) {
    for (int o = 0; o < L->out_c; o++) {
        int c = 0;
        for (size_t j = 0; j < L->fan_in; j++) {
            size_t k = (size_t)o * L->fan_in + j;
            c += L->mask[k];
            if (!L->mask[k] && L->w[k] != 0.0f) return 0;
            if (L->mask[k] != L->mask[(size_t)(o / B * B) * L->fan_in + j]) return 0;
        }
        if (c != nnz) return 0;
    }
    return 1;
}

/* routed (conv, G blocks of B channels): each input channel has a class
 * c < G (G classes of in_c / G channels); (o, ci, ky, kx) kept iff o / B ==
 * (class(ci) + ky) mod G; masked weights are 0 */
static int is_routed(const zs_layer *L, int G, int B) {
    int Ci = L->in_c, KK = L->kh * L->kw, count[64] = {0};
    if (L->out_c != G * B || G > 64) return 0;
    for (int ci = 0; ci < Ci; ci++) {
        /* the class: the block that keeps (ci, ky = 0) */
        int cls = -1;
        for (int o = 0; o < L->out_c && cls < 0; o++)
            if (L->mask[((size_t)o * Ci + ci) * KK]) cls = o / B;
        if (cls < 0) return 0;
        count[cls]++;
        for (int o = 0; o < L->out_c; o++)
            for (int ky = 0; ky < L->kh; ky++)
                for (int kx = 0; kx < L->kw; kx++) {
                    size_t k = ((size_t)o * Ci + ci) * KK + (size_t)ky * L->kw + kx;
                    if (L->mask[k] != (o / B == (cls + ky) % G)) return 0;
                    if (!L->mask[k] && L->w[k] != 0.0f) return 0;
                }
    }
    for (int c = 0; c < G; c++)
        if (count[c] != Ci / G) return 0;
    return 1;
}

/* every fan-in position has exactly one owner block of B units in each
 * group of G blocks; each unit keeps floor or ceil(fan_in / G) */
static int is_complementary(const zs_layer *L, int G, int B) {
    size_t lo = L->fan_in / (size_t)G, hi = (L->fan_in + (size_t)G - 1) / (size_t)G;
    for (int g = 0; g < L->out_c; g += G * B)
        for (size_t j = 0; j < L->fan_in; j++) {
            int owners = 0;
            for (int m = 0; m < G; m++) {
                int k = L->mask[(size_t)(g + m * B) * L->fan_in + j];
                owners += k;
                for (int u = 1; u < B; u++) if (L->mask[(size_t)(g + m * B + u) * L->fan_in + j] != k) return 0;
            }
            if (owners != 1) return 0;
        }
    for (int o = 0; o < L->out_c; o++) {
        size_t c = 0;
        for (size_t j = 0; j < L->fan_in; j++) {
            c += L->mask[(size_t)o * L->fan_in + j];
            if (!L->mask[(size_t)o * L->fan_in + j] && L->w[(size_t)o * L->fan_in + j] != 0.0f) return 0;
        }
        if (c < lo || c > hi) return 0;
    }
    return 1;
}

static void test_presets(void) {
    zs_net *a = NULL, *b = NULL, *c = NULL;
    CHECK(zs_net_create_preset(&a, "gsc-block", 1) == ZS_OK, "gsc-block: %s", zs_last_error());
    CHECK(zs_net_create_preset(&b, "gsc-block", 2) == ZS_OK, "gsc-block seed 2");
    CHECK(zs_net_create_preset(&c, "gsc-complementary", 1) == ZS_OK, "gsc-complementary: %s", zs_last_error());
    if (!a || !b || !c) { zs_net_free(a); zs_net_free(b); zs_net_free(c); return; }
    zs_net *d = NULL;
    CHECK(zs_net_create_preset(&d, "gsc-cblock-fast", 1) == ZS_OK, "gsc-cblock-fast: %s", zs_last_error());
    if (d) {
        const zs_layer *d2 = find(d, "cnn2");
        CHECK(d2->mask_group == 4 && d2->mask_block == 16 && is_complementary(d2, 4, 16) && is_block(d2, 16, 400),
              "gsc-cblock-fast conv2: every (ci, ky, kx) kept by exactly one of the four 16-channel blocks");
        zs_net_free(d);
    }
    d = NULL;
    CHECK(zs_net_create_preset(&d, "gsc-codesigned", 1) == ZS_OK, "gsc-codesigned: %s", zs_last_error());
    if (d) {
        CHECK(is_complementary(find(d, "cnn2"), 4, 16) && is_block(find(d, "linear"), 16, 64),
              "gsc-codesigned: conv2 complementary 16-channel blocks, linear 16-unit blocks of 64 of 1600");
        zs_net_free(d);
    }
    d = NULL;
    zs_net *d2 = NULL;
    CHECK(zs_net_create_preset(&d, "gsc-routed", 1) == ZS_OK && zs_net_create_preset(&d2, "gsc-routed", 2) == ZS_OK,
          "gsc-routed: %s", zs_last_error());
    if (d && d2) {
        const zs_layer *r2 = find(d, "cnn2");
        CHECK(r2->mask_structure == ZS_MASK_ROUTED && is_routed(r2, 4, 16) && r2->nnz_per_unit == 400 &&
              is_block(r2, 16, 400) && is_routed(find(d2, "cnn2"), 4, 16),
              "gsc-routed conv2: 4 classes of 16 input channels, class c feeds block (c + ky) mod 4, 400 of 1600 kept");
        CHECK(memcmp(r2->mask, find(d2, "cnn2")->mask, r2->n_weights), "gsc-routed: another seed, other classes");
    }
    zs_net_free(d);
    zs_net_free(d2);
    const zs_layer *c2 = find(a, "cnn2"), *li = find(a, "linear");
    CHECK(c2->mask_structure == ZS_MASK_BLOCK && c2->mask_block == 16 && is_block(c2, 16, 320),
          "gsc-block conv2: 16-channel blocks per (ci, ky, kx), 320 of 1600 per channel");
    CHECK(li->mask_structure == ZS_MASK_BLOCK && is_block(li, 16, 160),
          "gsc-block linear: 16-unit blocks per input (last block of 1000 is 8), 160 of 1600 per unit");
    CHECK(!is_block(find(a, "cnn1"), 16, 12), "conv1 stays random");
    CHECK(memcmp(find(a, "cnn2")->mask, find(b, "cnn2")->mask, c2->n_weights), "another seed, another mask");
    const zs_layer *q2 = find(c, "cnn2"), *ql = find(c, "linear");
    CHECK(q2->mask_structure == ZS_MASK_COMPLEMENTARY && q2->mask_group == 4 && is_complementary(q2, 4, 1),
          "gsc-complementary conv2: groups of 4 channels partition every position");
    CHECK(ql->mask_group == 10 && is_complementary(ql, 10, 1), "gsc-complementary linear: groups of 10 units");
    CHECK(q2->nnz_per_unit == 400 && ql->nnz_per_unit == 160, "nnz per unit %d %d", q2->nnz_per_unit, ql->nnz_per_unit);

    /* training re-applies the masks: structure intact after SGD steps */
    enum { N = 4 };
    float *x = malloc(sizeof(float) * N * 1024);
    int32_t y[N] = {0, 3, 5, 11};
    zs_rng r;
    zs_rng_seed(&r, 7);
    for (int i = 0; i < N * 1024; i++) x[i] = 4.0f * zs_rng_uniform(&r) - 2.0f;
    zs_sgd sgd = {0.05f, 0.9f, 0.01f};
    for (int s = 0; s < 3; s++) {
        CHECK(zs_net_train_step(a, x, y, N, &sgd, NULL, NULL) == ZS_OK, "train step gsc-block: %s", zs_last_error());
        CHECK(zs_net_train_step(c, x, y, N, &sgd, NULL, NULL) == ZS_OK, "train step gsc-complementary");
    }
    CHECK(is_block(c2, 16, 320) && is_block(li, 16, 160), "block structure holds after SGD with momentum and decay");
    CHECK(is_complementary(q2, 4, 1) && is_complementary(ql, 10, 1), "complementary structure holds after SGD");

    /* saved and loaded: same masks, structure in the architecture */
    char path[64];
    snprintf(path, sizeof path, "/tmp/zs_test_masks_%d.safetensors", (int)getpid());
    zs_net *l = NULL;
    CHECK(zs_net_save(a, path) == ZS_OK && zs_net_load(&l, path) == ZS_OK, "save/load gsc-block: %s", zs_last_error());
    if (l) {
        CHECK(zs_net_unpack(l) == ZS_OK && !memcmp(l->masks, a->masks, a->n_masks) && find(l, "cnn2")->mask_structure == ZS_MASK_BLOCK,
              "masks and structure survive save/load");
        zs_net_free(l);
    }
    unlink(path);
    free(x);
    zs_net_free(a); zs_net_free(b); zs_net_free(c);
}

static void refused(const char *layer, const char *want) {
    char json[1024];
    snprintf(json, sizeof json,
             "{\"name\":\"t\",\"input\":[2,6,6],\"layers\":[%s,{\"type\":\"flatten\"},"
             "{\"type\":\"linear\",\"out_features\":3},{\"type\":\"logsoftmax\"}]}", layer);
    zs_net *n = NULL;
    zs_status st = zs_net_create_json(&n, json, 1);
    CHECK(st == ZS_EFORMAT && n == NULL && strstr(zs_last_error(), want), "refused (%s): %s", want, zs_last_error());
    zs_net_free(n);
}

static void test_refused(void) {
    refused("{\"type\":\"conv2d\",\"out_channels\":8,\"kernel\":3,\"sparsity\":0.5,\"structure\":\"blocks\"}", "'structure'");
    refused("{\"type\":\"conv2d\",\"out_channels\":8,\"kernel\":3,\"sparsity\":0.5,\"block\":8}", "'block' needs");
    refused("{\"type\":\"conv2d\",\"out_channels\":8,\"kernel\":3,\"sparsity\":0.5,\"structure\":\"complementary\",\"block\":8}",
            "groups of 2 x 8");
    refused("{\"type\":\"conv2d\",\"out_channels\":8,\"kernel\":3,\"structure\":\"block\"}", "sparsity' > 0");
    refused("{\"type\":\"conv2d\",\"out_channels\":8,\"kernel\":3,\"sparsity\":0.5,\"structure\":\"block\",\"block\":9}",
            "outside");
    refused("{\"type\":\"conv2d\",\"out_channels\":8,\"kernel\":3,\"sparsity\":0.7,\"structure\":\"complementary\"}",
            "1 - 1/G");
    refused("{\"type\":\"conv2d\",\"out_channels\":9,\"kernel\":3,\"sparsity\":0.5,\"structure\":\"complementary\"}",
            "do not divide");
    refused("{\"type\":\"conv2d\",\"out_channels\":8,\"kernel\":3,\"sparsity\":0.5,\"structure\":\"routed\"}",
            "needs 2 x 16 = 32 output channels");
    refused("{\"type\":\"conv2d\",\"out_channels\":12,\"kernel\":3,\"sparsity\":0.75,\"structure\":\"routed\",\"block\":3}",
            "input channels in 4 equal classes");
    refused("{\"type\":\"conv2d\",\"out_channels\":8,\"kernel\":3,\"sparsity\":0.5},{\"type\":\"flatten\"},"
            "{\"type\":\"linear\",\"out_features\":4,\"sparsity\":0.5,\"structure\":\"routed\",\"block\":2}",
            "is a conv2d structure");
    /* accepted: a short last block, complementary at 0.5 */
    zs_net *n = NULL;
    CHECK(zs_net_create_json(&n, "{\"input\":[2,6,6],\"layers\":[{\"type\":\"conv2d\",\"out_channels\":12,\"kernel\":3,"
                                 "\"sparsity\":0.5,\"structure\":\"block\",\"block\":8},{\"type\":\"flatten\"},"
                                 "{\"type\":\"linear\",\"out_features\":6,\"sparsity\":0.5,\"structure\":\"complementary\"},"
                                 "{\"type\":\"logsoftmax\"}]}", 3) == ZS_OK, "block 8 of 12 units, complementary G=2: %s",
          zs_last_error());
    if (n) {
        CHECK(is_block(&n->layers[0], 8, 9), "12 channels in blocks of 8 and 4, 9 of 18 kept");
        CHECK(is_complementary(&n->layers[2], 2, 1), "linear 6 units in groups of 2");
        zs_net_free(n);
    }
    n = NULL;
    CHECK(zs_net_create_json(&n, "{\"input\":[3,5,5],\"layers\":[{\"type\":\"conv2d\",\"out_channels\":32,\"kernel\":3,"
                                 "\"sparsity\":0.5,\"structure\":\"complementary\",\"block\":8},{\"type\":\"flatten\"},"
                                 "{\"type\":\"linear\",\"out_features\":2},{\"type\":\"logsoftmax\"}]}", 5) == ZS_OK,
          "complementary blocks of 8, G=2, 32 channels: %s", zs_last_error());
    if (n) {
        CHECK(is_complementary(&n->layers[0], 2, 8), "two groups of 2 x 8 channels; fan-in 27 -> 13 or 14 per channel");
        char path[64];
        snprintf(path, sizeof path, "/tmp/zs_test_masks_c_%d.safetensors", (int)getpid());
        zs_net *l = NULL;
        CHECK(zs_net_save(n, path) == ZS_OK && zs_net_load(&l, path) == ZS_OK && zs_net_unpack(l) == ZS_OK && !memcmp(l->masks, n->masks, n->n_masks),
              "unequal kept counts per channel save (CSR form) and load: %s", zs_last_error());
        zs_net_free(l);
        unlink(path);
        zs_net_free(n);
    }
}

int main(void) {
    test_presets();
    test_refused();
    return check_finish("test_masks");
}
